#include "tpm/error.h"

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tpm2_types.h>

namespace twinhsm::tpm {

namespace {

// The TPM's own response code without the TSS layer and, for format-one codes, without the
// handle, session or parameter number it names.
uint32_t base_code(uint32_t rc) {
  uint32_t tpm = rc & 0xffff;
  return (tpm & TPM2_RC_FMT1) ? (tpm & (TPM2_RC_FMT1 | 0x3f)) : tpm;
}

}  // namespace

TpmError::TpmError(std::string_view what, uint32_t rc)
    : Error(std::string(what) + " failed: " + Tss2_RC_Decode(rc)), rc_(rc) {}

bool TpmError::auth_failed() const {
  uint32_t c = base_code(rc_);
  return (rc_ & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER &&
         (c == TPM2_RC_AUTH_FAIL || c == TPM2_RC_BAD_AUTH);
}

bool TpmError::locked_out() const {
  return (rc_ & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER && base_code(rc_) == TPM2_RC_LOCKOUT;
}

bool TpmError::nv_rate() const {
  return (rc_ & TSS2_RC_LAYER_MASK) == TSS2_TPM_RC_LAYER && base_code(rc_) == TPM2_RC_NV_RATE;
}

void check(uint32_t rc, std::string_view what) {
  if (rc != TSS2_RC_SUCCESS) {
    throw TpmError(what, rc);
  }
}

}  // namespace twinhsm::tpm
