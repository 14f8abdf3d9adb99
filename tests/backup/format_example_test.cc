// The worked example of docs/backup-format.md: every value it shows is recomputed here from the
// two keys alone (through the KAT-tested primitives, not the backup code) and compared with both
// the backup twinhsm writes and the document, so the document cannot drift from the code.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>

#include "backup_fixture.h"
#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "crypto/keywrap.h"
#include "device/device_keys.h"
#include "device/firmware_key.h"

namespace twinhsm::testing {
namespace {

Bytes seq(uint8_t from, size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) {
    b[i] = static_cast<uint8_t>(from + i);
  }
  return b;
}

Bytes cat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) {
    append(out, p);
  }
  return out;
}

Bytes be(uint64_t v, int width) {
  Bytes out;
  append_be(out, v, width);
  return out;
}

// The "name = hex" lines of the document's worked example (a hex value may go on over the next
// lines that hold only hex digits).
std::map<std::string, std::string> document_values() {
  std::ifstream in(TWINHSM_BACKUP_FORMAT_DOC);
  std::map<std::string, std::string> values;
  std::regex named(R"(^\s*([a-z][-a-z0-9 _()]*?)\s*=\s*([0-9a-f]+)\s*$)");
  std::regex more(R"(^\s*([0-9a-f]+)\s*$)");
  std::string line, last;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, named)) {
      last = m[1];
      values[last] = m[2];
    } else if (!last.empty() && std::regex_match(line, m, more)) {
      values[last] += m[1];
    } else {
      last.clear();
    }
  }
  return values;
}

TEST(BackupFormat, WorkedExampleMatchesCodeAndDocument) {
  if (!device::firmware_key_is_development()) {
    GTEST_SKIP() << "the worked example uses the public development firmware key";
  }
  TempDir tmp;
  device::PersonalizeOptions options;
  options.diversifier = "example-pair";
  options.serial = "EXAMPLE-0001";
  auto dev = make_device(tmp.path() / "device", options);

  backup::CreateParams params;
  Bytes backup_id = seq(0x10, 16);
  std::copy(backup_id.begin(), backup_id.end(), params.backup_id.begin());
  params.otk = crypto::secure_copy(seq(0x20, 32));
  params.created = 1767225600;  // 2026-01-01T00:00:00Z
  Bytes file = backup_bytes(*dev, params, tmp.path() / "example.twb");

  // Recompute from the keys, as another implementation would.
  std::map<std::string, Bytes> v;
  v["factory master key"] = seq(0x00, 32);
  crypto::SecureBytes fk = device::firmware_key();
  v["firmware key (fk)"] = Bytes(fk.begin(), fk.end());
  crypto::SecureBytes dbk = crypto::kbkdf_counter_hmac_sha256(
      v["factory master key"], "twinhsm diversified backup key", as_bytes("example-pair"), 32);
  v["dbk"] = Bytes(dbk.begin(), dbk.end());
  v["backup id"] = backup_id;
  v["kek"] = [&] {
    auto k = crypto::kbkdf_counter_hmac_sha256(cat({v["firmware key (fk)"], v["dbk"]}),
                                               "twinhsm backup kek v1",
                                               cat({backup_id, as_bytes("example-pair")}), 32);
    return Bytes(k.begin(), k.end());
  }();
  v["otk"] = seq(0x20, 32);
  v["wrapped otk"] = crypto::aes_key_wrap(v["kek"], v["otk"]);

  size_t header_len = size_t{file[10]} << 8 | file[11];
  ASSERT_LT(header_len, file.size());
  v["header"] = Bytes(file.begin(), file.begin() + static_cast<long>(header_len));
  v["header sha-256"] = crypto::digest(crypto::DigestAlg::sha256, v["header"]);
  // The header ends with the wrapped OTK: what the code wrote is what the keys give.
  EXPECT_EQ(to_hex(ByteView(v["header"]).last(40)), to_hex(v["wrapped otk"]));

  size_t pos = header_len;
  size_t chunk_len = size_t{file[pos]} << 24 | size_t{file[pos + 1]} << 16 |
                     size_t{file[pos + 2]} << 8 | file[pos + 3];
  ASSERT_EQ(pos + 4 + chunk_len, file.size()) << "the example backup is one chunk";
  v["chunk 0 length"] = be(chunk_len, 4);
  v["chunk 0 ciphertext and tag"] = Bytes(file.begin() + static_cast<long>(pos + 4), file.end());
  v["chunk 0 nonce"] = cat({be(0, 8), be(1, 4)});
  v["chunk 0 aad"] = cat(
      {as_bytes("twinhsm backup chunk v1"), v["header sha-256"], backup_id, be(0, 8), be(1, 1)});
  crypto::SecureBytes plain = crypto::aes_gcm_decrypt(
      v["otk"], v["chunk 0 nonce"], v["chunk 0 aad"], v["chunk 0 ciphertext and tag"]);
  v["chunk 0 plaintext"] = Bytes(plain.begin(), plain.end());

  if (std::getenv("TWINHSM_PRINT_EXAMPLE")) {
    for (const auto& [name, value] : v) {
      std::cout << name << " = " << to_hex(value) << "\n";
    }
  }
  auto doc = document_values();
  for (const auto& [name, value] : v) {
    ASSERT_TRUE(doc.count(name)) << "docs/backup-format.md lacks \"" << name << " = ...\"";
    EXPECT_EQ(doc[name], to_hex(value)) << name;
  }
}

}  // namespace
}  // namespace twinhsm::testing
