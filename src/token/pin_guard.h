// PinGuard is a second judge of PINs, outside the process: a TPM that checks each PIN under its
// dictionary-attack protection (device/tpm_pin_guard.h), so that a wrong PIN is counted by the
// chip even if the process dies, and a store put back cannot undo the count. The token asks it
// after raising its own failure counter and before unwrapping SK; a file device has none, and its
// token behaves as before.
//
// Its records follow the roles rows: enroll() is called in the write transaction that stores a
// role's new wrapped SK (token init, init-pin, set-pin) and, for a row it holds no record of (a
// row restored from a backup, whose PIN the device never saw), after the first login that the
// unwrap proved right.
#pragma once

#include <cstdint>
#include <string>

#include "crypto/secure_bytes.h"
#include "store/store.h"
#include "token/role.h"

namespace twinhsm::token {

class PinGuard {
 public:
  virtual ~PinGuard() = default;
  // check judges the PIN whose PBKDF2 output is stretched for row: right, wrong (counted by the
  // guard), or unknown when it holds no record for this row (the unwrap then decides). Throws
  // CkError(CKR_PIN_LOCKED) while the guard refuses every PIN.
  enum class Verdict { right, wrong, unknown };
  virtual Verdict check(Role role, const store::RoleRow& row,
                        const crypto::SecureBytes& stretched) = 0;
  // enroll records row's PIN (stretched); called inside the write transaction that stores row.
  virtual void enroll(Role role, const store::RoleRow& row,
                      const crypto::SecureBytes& stretched) = 0;
  // remaining is how many wrong PINs the guard takes before it refuses all (for every role).
  virtual uint32_t remaining() = 0;
  // lockout_advice is what a user locked out by the guard should be told.
  virtual std::string lockout_advice() = 0;
};

}  // namespace twinhsm::token
