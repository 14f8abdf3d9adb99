// The text format of DIR/secure-element, for both backends: a header line naming the format,
// then key=value lines, then "check=" and the SHA-256 (hex) of every byte before it, so that a
// file damaged on disk is detected rather than read as other keys. The check is not a MAC.
// Written once with O_EXCL and fsynced with its directory; values are wiped from memory when the
// object goes (a file device's holds the DBK).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace twinhsm::device {

class SecureElementFile {
 public:
  static constexpr const char* kFileName = "secure-element";

  SecureElementFile() = default;
  explicit SecureElementFile(std::string header) : header_(std::move(header)) {}
  ~SecureElementFile();
  SecureElementFile(SecureElementFile&&) = default;
  SecureElementFile& operator=(SecureElementFile&&) = default;

  // read loads DIR/secure-element. Throws UsageError when there is none (no device),
  // IntegrityError when it is damaged.
  static SecureElementFile read(const std::filesystem::path& dir);
  // write creates it, failing with UsageError if it exists; fsyncs file and directory.
  void write(const std::filesystem::path& dir) const;

  const std::string& header() const { return header_; }
  void add(std::string key, std::string value);
  // get returns the value of key, or "" when absent; require throws IntegrityError when absent.
  std::string get(const std::string& key) const;
  std::string require(const std::string& key) const;

 private:
  std::string header_;
  std::vector<std::pair<std::string, std::string>> fields_;
};

}  // namespace twinhsm::device
