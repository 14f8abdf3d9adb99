// The device keys: each derived from FK || DBK (firmware key, diversified backup key) with the
// SP 800-108 counter-mode KDF and its own label, so that twins (same DBK) derive the same keys and
// open each other's stores, and nothing else does. docs/key-hierarchy.md lists them.
#pragma once

#include "crypto/secure_bytes.h"
#include "token/token.h"

namespace twinhsm::device {

struct DeviceKeys {
  crypto::SecureBytes row_key;  // authenticates every row of the store
  token::TokenKeys token;       // login secret, public-object key, public index key
};

// derive_device_keys derives every device key from the firmware key and dbk.
DeviceKeys derive_device_keys(std::span<const uint8_t> dbk);

// device_root returns FK || DBK (64 bytes), the KDF key of the device keys and of backup KEKs.
crypto::SecureBytes device_root(std::span<const uint8_t> dbk);

}  // namespace twinhsm::device
