#include "device/secure_element_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "common/bytes.h"
#include "crypto/digest.h"
#include "crypto/secure_bytes.h"
#include "fs/durable.h"
#include "fs/owned_file.h"

namespace twinhsm::device {

namespace {

std::string checksum(std::string_view body) {
  return to_hex(crypto::digest(crypto::DigestAlg::sha256, as_bytes(body)));
}

void wipe(std::string& s) {
  crypto::cleanse(s.data(), s.size());
}

// read_text reads the secure element file as fs::open_owned opens it: a link or special file
// planted in its place is refused (UsageError), never followed. "" when there is none.
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

SecureElementFile::~SecureElementFile() {
  for (auto& [key, value] : fields_) {
    wipe(value);
  }
}

void SecureElementFile::add(std::string key, std::string value) {
  fields_.emplace_back(std::move(key), std::move(value));
}

std::string SecureElementFile::get(const std::string& key) const {
  for (const auto& [k, v] : fields_) {
    if (k == key) {
      return v;
    }
  }
  return "";
}

std::string SecureElementFile::require(const std::string& key) const {
  for (const auto& [k, v] : fields_) {
    if (k == key && !v.empty()) {
      return v;
    }
  }
  throw IntegrityError("the secure element file is incomplete (no " + key + ")");
}

SecureElementFile SecureElementFile::read(const std::filesystem::path& dir) {
  auto path = dir / kFileName;
  std::string text = read_text(dir, path);
  if (text.empty()) {
    throw UsageError("no device in " + dir.string() +
                     " (no secure element; personalize one with 'twinhsm factory personalize')");
  }
  auto check_pos = text.rfind("check=");
  auto first_line = text.find('\n');
  std::string body = check_pos == std::string::npos ? std::string() : text.substr(0, check_pos);
  std::string check = check_pos == std::string::npos ? std::string() : text.substr(check_pos + 6);
  while (!check.empty() && (check.back() == '\n' || check.back() == '\r')) {
    check.pop_back();
  }
  if (first_line == std::string::npos || body.empty() || checksum(body) != check) {
    wipe(text);
    wipe(body);
    throw IntegrityError("the secure element file " + path.string() + " is damaged");
  }
  SecureElementFile file(text.substr(0, first_line));
  std::istringstream lines(body.substr(first_line + 1));
  std::string line;
  while (std::getline(lines, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) {
      file.add(line.substr(0, eq), line.substr(eq + 1));
    }
    wipe(line);
  }
  wipe(text);
  wipe(body);
  return file;
}

void SecureElementFile::write(const std::filesystem::path& dir) const {
  std::string body = header_ + "\n";
  for (const auto& [key, value] : fields_) {
    body.append(key).append("=").append(value).append("\n");
  }
  std::string text = body + "check=" + checksum(body) + "\n";
  wipe(body);
  try {
    fs::write_new_file(dir / kFileName, as_bytes(text), 0600);
  } catch (...) {
    wipe(text);
    throw;
  }
  wipe(text);
}

}  // namespace twinhsm::device
