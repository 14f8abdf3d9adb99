// SecureElement simulates the device's secure element: the serial number, the diversifier (the
// pair id) and the 32-byte diversified backup key (DBK). It is written once, at personalization,
// to DIR/secure-element (mode 0600) and never rewritten; nothing prints or exports the DBK.
#pragma once

#include <filesystem>
#include <string>

#include "crypto/secure_bytes.h"

namespace twinhsm::device {

struct SecureElement {
  std::string serial;
  std::string diversifier;
  crypto::SecureBytes dbk;
  bool insecure_auto_button_allowed = false;

  // fingerprint identifies the DBK without revealing it: the first 8 bytes of
  // SHA-256("twinhsm dbk fingerprint v1" || DBK), as hex.
  std::string fingerprint() const;

  static constexpr const char* kFileName = "secure-element";
  // read loads DIR/secure-element. Throws UsageError if the directory holds no device,
  // IntegrityError if the file is malformed.
  static SecureElement read(const std::filesystem::path& dir);
  // write creates DIR/secure-element, failing if it exists (UsageError); fsyncs file and dir.
  void write(const std::filesystem::path& dir) const;
};

// derive_dbk is the factory's diversification: SP 800-108 counter-mode KDF (HMAC-SHA256) of the
// factory master key, label "twinhsm diversified backup key", context = the diversifier.
crypto::SecureBytes derive_dbk(std::span<const uint8_t> master_key, const std::string& diversifier);

}  // namespace twinhsm::device
