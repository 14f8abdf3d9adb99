// TpmPinGuard has the TPM judge every PIN (token::PinGuard). For each role it keeps a sealed TPM
// object whose authorization value is KBKDF(P, "twinhsm tpm pin auth v1", role), P being the PIN's
// PBKDF2 output that the login computes anyway: TPM2_Unseal succeeds only with the right PIN, and
// a wrong one is counted by the TPM's dictionary-attack logic as the TPM answers — before this
// process could die or a store could be put back. After the TPM's limit it refuses every PIN (of
// both roles, and of every DA-protected object of that TPM) until it forgives one failure per
// recovery interval.
//
// The record (the object's blob) lives in the store's device_state, next to and bound to the
// roles row it belongs to (a hash of its salt, iterations and wrapped SK), under the store's TPM
// anchor: deleting it or putting back an older one is refused like any other row. A roles row it
// has no record of (one restored from a backup) is judged by the unwrap alone, once, then
// enrolled.
#pragma once

#include <string>

#include "store/store.h"
#include "token/pin_guard.h"

namespace twinhsm::device {

class TpmPinGuard : public token::PinGuard {
 public:
  TpmPinGuard(std::string tcti, Bytes srk_name, store::Store& store)
      : tcti_(std::move(tcti)), srk_name_(std::move(srk_name)), store_(store) {}

  Verdict check(token::Role role, const store::RoleRow& row,
                const crypto::SecureBytes& stretched) override;
  void enroll(token::Role role, const store::RoleRow& row,
              const crypto::SecureBytes& stretched) override;
  uint32_t remaining() override;
  std::string lockout_advice() override;

 private:
  std::string tcti_;
  Bytes srk_name_;
  store::Store& store_;
};

}  // namespace twinhsm::device
