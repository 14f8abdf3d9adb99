// Random bytes from OpenSSL's DRBG (RAND_priv_bytes for secrets, RAND_bytes for the rest).
#pragma once

#include "common/bytes.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

// random_secret returns n bytes for use as key material. Throws CryptoError if the DRBG fails.
SecureBytes random_secret(size_t n);
// random_bytes returns n bytes for nonces, salts and identifiers. Throws CryptoError on failure.
Bytes random_bytes(size_t n);
// random_fill fills out. Throws CryptoError on failure.
void random_fill(std::span<uint8_t> out);
// seed_random mixes caller entropy into the DRBG (RAND_add).
void seed_random(ByteView seed);

}  // namespace twinhsm::crypto
