// Key derivation over OpenSSL's EVP_KDF: SP 800-108 counter mode and PBKDF2.
#pragma once

#include <string_view>

#include "common/bytes.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

// kbkdf_counter_hmac_sha256 is SP 800-108 section 5.1 (KDF in counter mode) with PRF
// HMAC-SHA256, a 32-bit big-endian counter before the fixed input, and fixed input
// label || 0x00 || context || [L]_32 where L = 8 * out_len: OpenSSL's KBKDF with mode=counter,
// mac=HMAC, digest=SHA256, salt=label, info=context. Throws CryptoError on failure.
SecureBytes kbkdf_counter_hmac_sha256(std::span<const uint8_t> key, ByteView label, ByteView context,
                                      size_t out_len);
inline SecureBytes kbkdf_counter_hmac_sha256(std::span<const uint8_t> key, std::string_view label,
                                             ByteView context, size_t out_len) {
  return kbkdf_counter_hmac_sha256(key, as_bytes(label), context, out_len);
}

// pbkdf2_hmac_sha256 is RFC 8018 PBKDF2 with HMAC-SHA256. Throws CryptoError on failure.
SecureBytes pbkdf2_hmac_sha256(std::span<const uint8_t> password, ByteView salt, uint32_t iterations,
                               size_t out_len);

}  // namespace twinhsm::crypto
