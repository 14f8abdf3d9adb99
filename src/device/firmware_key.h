// The firmware key (FK): 32 bytes built into the binary. A vendor build names its key with the
// CMake option TWINHSM_FIRMWARE_KEY_FILE; without it the build carries the development key, which
// is public (it is in this repository): such a device protects nothing against whoever holds a
// copy of its directory, and `twinhsm device info` says so.
#pragma once

#include "crypto/secure_bytes.h"

namespace twinhsm::device {

crypto::SecureBytes firmware_key();
bool firmware_key_is_development();

}  // namespace twinhsm::device
