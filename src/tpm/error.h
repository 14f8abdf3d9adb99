// TpmError: a tpm2-tss call failed. The message names the step and carries tpm2-tss's decoding of
// the response code (Tss2_RC_Decode); rc() keeps the code for callers that act on it (a wrong
// authorization, a TPM in dictionary-attack lockout).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace twinhsm::tpm {

class TpmError : public Error {
 public:
  TpmError(std::string_view what, uint32_t rc);
  uint32_t rc() const { return rc_; }
  // auth_failed: the TPM refused an authorization value (TPM_RC_AUTH_FAIL, counted by its
  // dictionary-attack logic, or TPM_RC_BAD_AUTH, not counted).
  bool auth_failed() const;
  // locked_out: the TPM is in dictionary-attack lockout (TPM_RC_LOCKOUT).
  bool locked_out() const;
  // nv_rate: the TPM is rate-limiting NV writes to prevent wear (TPM_RC_NV_RATE).
  bool nv_rate() const;

 private:
  uint32_t rc_;
};

// check throws TpmError("<what> failed: <decoded rc>") unless rc is TSS2_RC_SUCCESS.
void check(uint32_t rc, std::string_view what);

}  // namespace twinhsm::tpm
