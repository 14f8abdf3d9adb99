// The device keys: each derived from FK || DBK (firmware key, diversified backup key) with the
// SP 800-108 counter-mode KDF and its own label, so that twins (same DBK) derive the same keys and
// open each other's stores, and nothing else does. The secure element derives them where it keeps
// the DBK (a TPM device: inside the TPM). docs/key-hierarchy.md lists them.
#pragma once

#include "crypto/secure_bytes.h"
#include "device/secure_element.h"
#include "token/token.h"

namespace twinhsm::device {

struct DeviceKeys {
  crypto::SecureBytes row_key;  // authenticates every row of the store
  token::TokenKeys token;       // login secret, public-object key, public index key
};

// derive_device_keys has se derive every device key.
DeviceKeys derive_device_keys(const SecureElement& se);

// device_root returns FK || DBK (64 bytes), the KDF key of the device keys and of backup KEKs
// (what a TPM device's HMAC key holds).
crypto::SecureBytes device_root(std::span<const uint8_t> dbk);

}  // namespace twinhsm::device
