// TpmSecureElement keeps the device root FK || DBK in a TPM 2.0: an HMAC key object under the
// TPM's primary storage key, programmed at personalization (the factory programs the same DBK
// into a twin's TPM), used only through TPM2_HMAC. Every key derived from the root (the device
// keys, each backup KEK) is the SP 800-108 KDF computed by the TPM (tpm/kdf.h), equal to what a
// file device computes from the same DBK. DIR/secure-element holds:
//
//   tcti                  how to reach the TPM (a tpm2-tss TCTI string)
//   dbk_fingerprint       to identify the DBK (computed at personalization)
//   kdk_public/_private   the HMAC key's blob: encrypted under the primary key, opens nowhere else
//   srk_name              the primary key's name: when the TPM keeps that key persistent at
//                         0x81000001 (tpm/objects.h), it is used instead of being made anew
//   nv_index, nv_name     the NV counter that anchors the store (store/anchor.h)
//
// no DBK, no device secret, nothing that opens a PIN. A copy of the directory without the TPM
// derives nothing; the TPM also judges PINs (tpm_pin_guard.h) and counts the store's writes.
#pragma once

#include <optional>

#include "device/secure_element.h"
#include "device/secure_element_file.h"
#include "tpm/objects.h"

namespace twinhsm::device {

class TpmSecureElement : public SecureElement {
 public:
  static constexpr const char* kHeader = "twinhsm-tpm-secure-element v1";
  // The NV indexes twinhsm picks its counters from (the TPM owner's range).
  static constexpr uint32_t kNvBase = 0x01300000, kNvSpan = 0x10000;

  // program makes the element in the TPM that tcti names: the HMAC key FK || DBK (sent to the
  // TPM only encrypted), checked to derive what OpenSSL derives, and an NV counter. Throws
  // TpmError when the TPM cannot do it (unreachable, an owner password, no free NV index).
  static TpmSecureElement program(std::string serial, std::string diversifier,
                                  bool insecure_auto_button, const std::string& tcti,
                                  std::span<const uint8_t> dbk);
  static TpmSecureElement from_file(const SecureElementFile& file);

  std::string backend() const override { return "tpm"; }
  std::string fingerprint() const override { return fingerprint_; }
  std::vector<crypto::SecureBytes> derive(const std::vector<Derivation>& requests) const override;
  std::unique_ptr<store::RollbackCounter> rollback_counter() const override;
  std::unique_ptr<token::PinGuard> pin_guard(store::Store& store) const override;
  std::optional<TpmDescription> describe_tpm() const override;
  void write(const std::filesystem::path& dir) const override;
  void discard() const override;

  const std::string& tcti() const { return tcti_; }

 private:
  TpmSecureElement() = default;
  std::string nv_index_text() const;
  // counter_auth is the NV counter's authorization, derived by the TPM (once per process).
  crypto::SecureBytes counter_auth() const;

  std::string tcti_;
  Bytes srk_name_;
  std::string fingerprint_;
  tpm::Blob kdk_;
  uint32_t nv_index_ = 0;
  Bytes nv_name_;
  mutable std::optional<crypto::SecureBytes> counter_auth_;
};

}  // namespace twinhsm::device
