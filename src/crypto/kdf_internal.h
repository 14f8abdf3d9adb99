// Internal to src/crypto and its tests: the SP 800-108 counter-mode KDF with the fixed input given
// whole, as NIST's CAVP vectors give it. twinhsm itself uses kbkdf_counter_hmac_sha256 (kdf.h).
#pragma once

#include "common/bytes.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto::detail {

// kbkdf_counter_hmac_sha256_fixed is SP 800-108 section 5.1 with PRF HMAC-SHA256 and a 32-bit
// big-endian counter before fixed_input: K(i) = HMAC(key, [i]_32 || fixed_input), output the first
// out_len bytes of K(1) || K(2) || ... (OpenSSL's KBKDF with use-l = 0, use-separator = 0,
// salt = fixed_input, no info). Throws CryptoError on failure.
SecureBytes kbkdf_counter_hmac_sha256_fixed(std::span<const uint8_t> key, ByteView fixed_input,
                                            size_t out_len);

}  // namespace twinhsm::crypto::detail
