// AES modes that OpenSSL computes over a whole message at once only: CBC with ciphertext stealing
// (NIST SP 800-38A addendum, variant CS1: the PKCS#11 CKM_AES_CTS of kryoptic and OpenSSL's
// "AES-256-CBC-CTS") and XTS (IEEE 1619, NIST SP 800-38E: one data unit of any length from 16
// bytes, keyed by two AES keys).
#pragma once

#include "common/bytes.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

// aes_cts encrypts or decrypts a message of at least 16 bytes (the output is as long) under a
// 16, 24 or 32-byte key and a 16-byte IV. Throws CryptoError on bad lengths.
SecureBytes aes_cts(std::span<const uint8_t> key, ByteView iv, bool encrypt,
                    std::span<const uint8_t> in);

// aes_xts encrypts or decrypts one data unit of at least 16 bytes under a 32-byte (AES-128) or
// 64-byte (AES-256) key, two halves that must differ, and a 16-byte tweak. Throws CryptoError on
// bad lengths or equal halves.
SecureBytes aes_xts(std::span<const uint8_t> key, ByteView tweak, bool encrypt,
                    std::span<const uint8_t> in);

}  // namespace twinhsm::crypto
