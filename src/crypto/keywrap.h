// AES key wrap: RFC 3394 / SP 800-38F KW with the default IV, and RFC 5649 KWP (with padding),
// through OpenSSL's "AES-256-WRAP" family of ciphers (key length picks AES-128/192/256).
#pragma once

#include "common/bytes.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

// aes_key_wrap wraps key_data (a multiple of 8 bytes, at least 16) under kek; the result is 8
// bytes longer. Throws CryptoError on bad lengths. The wrapped form is not secret: plain Bytes.
Bytes aes_key_wrap(std::span<const uint8_t> kek, std::span<const uint8_t> key_data);
// aes_key_unwrap reverses aes_key_wrap. Throws IntegrityError if the integrity check fails
// (wrong KEK or altered input), CryptoError on bad lengths.
SecureBytes aes_key_unwrap(std::span<const uint8_t> kek, ByteView wrapped);

// RFC 5649: any non-empty key_data length.
Bytes aes_key_wrap_pad(std::span<const uint8_t> kek, std::span<const uint8_t> key_data);
SecureBytes aes_key_unwrap_pad(std::span<const uint8_t> kek, ByteView wrapped);

}  // namespace twinhsm::crypto
