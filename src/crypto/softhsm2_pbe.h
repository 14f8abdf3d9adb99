// SoftHSMv2's PIN-to-key derivation, read here only to open SoftHSMv2 tokens (twinhsm import
// softhsm2). It is SoftHSMv2's own scheme (src/lib/data_mgr/RFC4880.cpp, "iterated and salted",
// though not RFC 4880's S2K): with n = 1500 + the last byte of the salt,
//   K_1 = SHA-256(salt || PIN),  K_i = SHA-256(K_(i-1)),  key = K_n   (n SHA-256 calls in all).
// docs/import.md gives the whole token format this key opens.
#pragma once

#include "common/bytes.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

// softhsm2_pin_key returns the 32-byte AES-256 key SoftHSMv2 derives from pin and salt (its
// salts are 8 bytes). Throws UsageError for an empty PIN or a salt shorter than 8 bytes,
// CryptoError if OpenSSL fails.
SecureBytes softhsm2_pin_key(ByteView pin, ByteView salt);

// softhsm2_pin_key_iterations is n above: 1500 + salt's last byte (1500..1755).
unsigned softhsm2_pin_key_iterations(ByteView salt);

}  // namespace twinhsm::crypto
