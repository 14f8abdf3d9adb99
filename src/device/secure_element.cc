#include "device/secure_element.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "fs/durable.h"
#include "fs/owned_file.h"

namespace twinhsm::device {

namespace {

constexpr std::string_view kHeader = "twinhsm-secure-element v1";

// The file's lines, then "check=" and the SHA-256 of everything before it: a file damaged on
// disk is detected rather than read as another key.
std::string checksum(std::string_view body) { return to_hex(crypto::digest(crypto::DigestAlg::sha256, as_bytes(body))); }

}  // namespace

std::string SecureElement::fingerprint() const {
  crypto::SecureBytes input = crypto::secure_copy(std::string_view("twinhsm dbk fingerprint v1"));
  input.insert(input.end(), dbk.begin(), dbk.end());
  Bytes d = crypto::digest(crypto::DigestAlg::sha256, input);
  return to_hex(ByteView(d).first(8));
}

namespace {

// read_text reads the secure element file as fs::open_owned opens it: a link or special file
// planted in its place is refused (UsageError), never followed.
std::string read_text(const std::filesystem::path& dir, const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return {};
  }
  fs::UniqueFd fd = fs::open_owned(path, O_RDONLY, fs::owner_of(dir));
  std::string text;
  if (!fd.valid()) {
    return text;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      throw UsageError("cannot read " + path.string() + ": " + std::strerror(errno));
    }
    if (n == 0 || text.size() > 65536) {
      break;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  crypto::cleanse(buf, sizeof buf);
  return text;
}

}  // namespace

SecureElement SecureElement::read(const std::filesystem::path& dir) {
  auto path = dir / kFileName;
  std::string text = read_text(dir, path);
  if (text.empty()) {
    throw UsageError("no device in " + dir.string() +
                     " (no secure element; personalize one with 'twinhsm factory personalize')");
  }
  auto wipe = [&] { crypto::cleanse(text.data(), text.size()); };
  auto check_pos = text.rfind("check=");
  if (check_pos == std::string::npos || text.compare(0, kHeader.size(), kHeader) != 0) {
    wipe();
    throw IntegrityError("the secure element file " + path.string() + " is damaged");
  }
  std::string body = text.substr(0, check_pos);
  std::string check = text.substr(check_pos + 6);
  while (!check.empty() && (check.back() == '\n' || check.back() == '\r')) {
    check.pop_back();
  }
  if (checksum(body) != check) {
    wipe();
    crypto::cleanse(body.data(), body.size());
    throw IntegrityError("the secure element file " + path.string() + " is damaged");
  }
  SecureElement se;
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "serial") {
      se.serial = value;
    } else if (key == "diversifier") {
      se.diversifier = value;
    } else if (key == "dbk") {
      Bytes dbk = from_hex(value);
      se.dbk = crypto::secure_copy(dbk);
      crypto::cleanse(dbk.data(), dbk.size());
    } else if (key == "insecure_auto_button") {
      se.insecure_auto_button_allowed = value == "1";
    }
    crypto::cleanse(line.data(), line.size());
    crypto::cleanse(value.data(), value.size());
  }
  wipe();
  crypto::cleanse(body.data(), body.size());
  if (se.dbk.size() != 32 || se.serial.empty() || se.diversifier.empty()) {
    throw IntegrityError("the secure element file " + path.string() + " is incomplete");
  }
  return se;
}

void SecureElement::write(const std::filesystem::path& dir) const {
  std::string body = std::string(kHeader) + "\nserial=" + serial + "\ndiversifier=" + diversifier +
                     "\ndbk=" + to_hex(dbk) + "\ninsecure_auto_button=" +
                     (insecure_auto_button_allowed ? "1" : "0") + "\n";
  std::string text = body + "check=" + checksum(body) + "\n";
  crypto::cleanse(body.data(), body.size());
  try {
    fs::write_new_file(dir / kFileName, as_bytes(text), 0600);
  } catch (...) {
    crypto::cleanse(text.data(), text.size());
    throw;
  }
  crypto::cleanse(text.data(), text.size());
}

crypto::SecureBytes derive_dbk(std::span<const uint8_t> master_key, const std::string& diversifier) {
  return crypto::kbkdf_counter_hmac_sha256(master_key, "twinhsm diversified backup key",
                                           as_bytes(diversifier), 32);
}

}  // namespace twinhsm::device
