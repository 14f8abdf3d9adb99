// What a TPM says about itself (TPM2_GetCapability), and its dictionary-attack settings.
#pragma once

#include <cstdint>
#include <string>

#include "tpm/context.h"

namespace twinhsm::tpm {

struct Identity {
  std::string manufacturer;  // the TCG vendor id, e.g. "IFX", "STM", "IBM" (swtpm), "MSFT"
  std::string vendor;        // the vendor string, e.g. "SLB9670" or "SW   TPM"
  std::string firmware;      // TPM2_PT_FIRMWARE_VERSION_1 and _2 as four 16-bit numbers, a.b.c.d
};

// LockoutState is the TPM's dictionary-attack state: after max_tries failed authorizations of
// objects not marked noDA it refuses them all (in_lockout) until one failure is forgiven, every
// recovery_seconds.
struct LockoutState {
  uint32_t failures = 0;
  uint32_t max_tries = 0;
  uint32_t recovery_seconds = 0;
  uint32_t lockout_recovery_seconds = 0;
  bool in_lockout = false;
  // remaining is how many more failures the TPM takes before it locks out.
  uint32_t remaining() const {
    return in_lockout || failures >= max_tries ? 0 : max_tries - failures;
  }
};

Identity identity(Context& ctx);
LockoutState lockout_state(Context& ctx);

// set_lockout_parameters is TPM2_DictionaryAttackParameters, authorized by the lockout
// hierarchy's (empty) password: for tests on a simulator, and for an administrator setting up a
// TPM whose lockout authorization is still empty.
void set_lockout_parameters(Context& ctx, uint32_t max_tries, uint32_t recovery_seconds,
                            uint32_t lockout_recovery_seconds);

}  // namespace twinhsm::tpm
