// fuzz_backup_records: the plaintext record stream of a backup, through the real reader. The
// input is
//   byte 0      chunk size: 1 + byte for 0x00..0x7f (small chunks cut records apart), else the
//               default 64 KiB
//   bytes 1-24  the header's counts: settings (4), roles (4), public (8), private objects (8), BE
//   the rest    the plaintext: records as backup/records.h encodes them
// The harness seals that plaintext into a valid backup file exactly as backup::write_backup
// does (header, OTK wrapped for the fixed test device, AES-GCM chunks with the real nonces and
// AAD), then reads it back with BackupReader::for_each_record, so the chunking, the record
// parser, the end record and the count checks all see fuzzed data that authenticates.
// Succeed or throw twinhsm::Error, nothing else.
//
// With TWINHSM_FUZZ_STRICT=1 an accepted stream must also be canonical: re-encoding the
// records it gave must reproduce the plaintext byte for byte.
#include <cstdint>
#include <cstdio>

#include "backup/reader.h"
#include "backup/records.h"
#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/keywrap.h"
#include "fuzz_util.h"

using namespace twinhsm;

namespace {

const crypto::SecureBytes& otk() {
  static const crypto::SecureBytes key = [] {
    crypto::SecureBytes k(32);
    for (size_t i = 0; i < k.size(); ++i) {
      k[i] = static_cast<uint8_t>(0xa0 + i);
    }
    return k;
  }();
  return key;
}

backup::Header base_header() {
  backup::Header h;
  for (size_t i = 0; i < h.backup_id.size(); ++i) {
    h.backup_id[i] = static_cast<uint8_t>(0x10 + i);
  }
  h.diversifier = fuzz::kDiversifier;
  h.serial = "FUZZ0001";
  h.created = 1700000000;
  // The KEK depends on the backup id and the diversifier only: wrap the OTK once.
  crypto::SecureBytes kek = backup::derive_kek(fuzz::device_root(), h);
  Bytes wrapped = crypto::aes_key_wrap(kek, otk());
  std::copy(wrapped.begin(), wrapped.end(), h.wrapped_otk.begin());
  return h;
}

// seal writes what write_backup would write for this header and plaintext.
Bytes seal(const backup::Header& h, ByteView plain) {
  Bytes file = h.encode();
  Bytes header_hash = crypto::digest(crypto::DigestAlg::sha256, file);
  uint64_t index = 0;
  auto chunk = [&](ByteView piece, bool last) {
    Bytes ct = crypto::aes_gcm_encrypt(otk(), backup::chunk_nonce(index, last),
                                       backup::chunk_aad(header_hash, h, index, last), piece,
                                       backup::kTagLen);
    append_be(file, ct.size(), 4);
    append(file, ct);
    ++index;
  };
  while (plain.size() > h.chunk_size) {
    chunk(plain.first(h.chunk_size), false);
    plain = plain.subspan(h.chunk_size);
  }
  chunk(plain, true);
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const backup::Header base = base_header();
  static const std::filesystem::path file = fuzz::scratch_dir() / "records.twb";

  fuzz::Input in(data, size);
  backup::Header h = base;
  uint8_t sel = in.byte();
  h.chunk_size = sel < 0x80 ? 1u + sel : backup::kDefaultChunkSize;
  h.counts.settings = static_cast<uint32_t>(in.be(4));
  h.counts.roles = static_cast<uint32_t>(in.be(4));
  h.counts.public_objects = in.be(8);
  h.counts.private_objects = in.be(8);
  ByteView plain = in.rest();

  Bytes sealed = seal(h, plain);
  fuzz::write_file(file, sealed.data(), sealed.size());
  Bytes reencoded;
  try {
    backup::BackupReader reader(file);
    reader.unlock(fuzz::device_root());
    reader.for_each_record([&](const backup::Record& r) { backup::append_record(reencoded, r); });
  } catch (const twinhsm::Error&) {
    return 0;
  }
  if (fuzz::strict() &&
      !std::equal(reencoded.begin(), reencoded.end(), plain.begin(), plain.end())) {
    std::fprintf(stderr, "fuzz_backup_records: an accepted record stream is not canonical\n");
    std::abort();
  }
  return 0;
}
