// SecureElement is the device's secure element: the serial number, the diversifier (the pair id)
// and the 32-byte diversified backup key (DBK), written once at personalization. Nothing reads the
// DBK out of it: callers ask it to derive keys from FK || DBK (the device root) with the
// SP 800-108 KDF, and it does so where it keeps the DBK. Two backends, chosen at personalization:
//
//   file  FileSecureElement: DIR/secure-element holds the DBK (development and tests; the
//         device's directory is then all an attacker needs)
//   tpm   TpmSecureElement: a TPM 2.0 holds FK || DBK as an HMAC key and computes every
//         derivation; DIR/secure-element holds its TCTI and the TPM's encrypted blob. It also
//         counts wrong PINs (token::PinGuard) and anchors the store (store::RollbackCounter).
//
// docs/key-hierarchy.md says what each protects against.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "crypto/secure_bytes.h"
#include "store/store.h"
#include "token/pin_guard.h"

namespace twinhsm::device {

// What device info shows of a TPM.
struct TpmDescription {
  std::string tcti;
  std::string manufacturer, vendor, firmware;
  std::string nv_index;  // the rollback counter, e.g. 0x01300a2c
  uint32_t lockout_failures = 0, lockout_max_tries = 0, lockout_recovery_seconds = 0;
  bool in_lockout = false;
};

class SecureElement {
 public:
  virtual ~SecureElement() = default;

  static constexpr const char* kFileName = "secure-element";
  // open reads DIR/secure-element, of either backend. Throws UsageError if the directory holds no
  // device, IntegrityError if the file is damaged.
  static std::unique_ptr<SecureElement> open(const std::filesystem::path& dir);

  std::string serial;
  std::string diversifier;
  bool insecure_auto_button_allowed = false;

  // backend is "file" or "tpm".
  virtual std::string backend() const = 0;
  // fingerprint identifies the DBK without revealing it: the first 8 bytes of
  // SHA-256("twinhsm dbk fingerprint v1" || DBK), as hex.
  virtual std::string fingerprint() const = 0;

  // A key to derive from the device root: KBKDF(FK || DBK, label, context), length bytes.
  struct Derivation {
    std::string_view label;
    Bytes context;
    size_t length = 32;
  };
  // derive derives each of requests, in order (a TPM does them in one connection).
  virtual std::vector<crypto::SecureBytes> derive(
      const std::vector<Derivation>& requests) const = 0;
  crypto::SecureBytes derive(std::string_view label, ByteView context, size_t length) const;

  // What the TPM backend adds to the store and the token; nothing on a file device.
  virtual std::unique_ptr<store::RollbackCounter> rollback_counter() const { return nullptr; }
  virtual std::unique_ptr<token::PinGuard> pin_guard(store::Store&) const { return nullptr; }
  virtual std::optional<TpmDescription> describe_tpm() const { return std::nullopt; }

  // write creates DIR/secure-element (personalization, last step); discard undoes what creating
  // the element did outside the directory (a TPM's NV counter) when personalization fails.
  virtual void write(const std::filesystem::path& dir) const = 0;
  virtual void discard() const {}
};

// derive_dbk is the factory's diversification: SP 800-108 counter-mode KDF (HMAC-SHA256) of the
// factory master key, label "twinhsm diversified backup key", context = the diversifier.
crypto::SecureBytes derive_dbk(std::span<const uint8_t> master_key, const std::string& diversifier);

// dbk_fingerprint is SecureElement::fingerprint of dbk.
std::string dbk_fingerprint(std::span<const uint8_t> dbk);

}  // namespace twinhsm::device
