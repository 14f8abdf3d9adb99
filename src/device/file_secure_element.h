// FileSecureElement simulates the secure element with a file: DIR/secure-element (mode 0600)
// holds the serial, the diversifier and the DBK itself, and every derivation runs in this process
// (OpenSSL). For development and tests: whoever reads the device directory has the DBK, and
// `twinhsm device info` says the backend is a file.
#pragma once

#include "device/secure_element.h"
#include "device/secure_element_file.h"

namespace twinhsm::device {

class FileSecureElement : public SecureElement {
 public:
  static constexpr const char* kHeader = "twinhsm-secure-element v1";

  // pair is the diversifier that twins share.
  FileSecureElement(std::string serial_number, std::string pair, bool insecure_auto_button,
                    crypto::SecureBytes dbk);
  static FileSecureElement from_file(const SecureElementFile& file);

  std::string backend() const override { return "file"; }
  std::string fingerprint() const override { return dbk_fingerprint(dbk_); }
  std::vector<crypto::SecureBytes> derive(const std::vector<Derivation>& requests) const override;
  void write(const std::filesystem::path& dir) const override;

 private:
  crypto::SecureBytes dbk_;
};

}  // namespace twinhsm::device
