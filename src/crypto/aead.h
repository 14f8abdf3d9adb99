// AES-GCM (128/192/256-bit keys by key length) over OpenSSL EVP.
#pragma once

#include "common/bytes.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

// aes_gcm_encrypt returns ciphertext || tag (tag_len bytes, 4..16). iv may be any non-empty
// length. Throws CryptoError on a bad key/iv/tag length.
Bytes aes_gcm_encrypt(std::span<const uint8_t> key, ByteView iv, ByteView aad, std::span<const uint8_t> plaintext,
                      size_t tag_len = 16);

// aes_gcm_encrypt_into is aes_gcm_encrypt writing into out, which must be exactly
// plaintext.size() + tag_len bytes (no allocation: bulk data goes straight to the caller).
void aes_gcm_encrypt_into(std::span<const uint8_t> key, ByteView iv, ByteView aad,
                          std::span<const uint8_t> plaintext, std::span<uint8_t> out,
                          size_t tag_len = 16);

// aes_gcm_decrypt takes ciphertext || tag and returns the plaintext. Throws IntegrityError if the
// tag does not verify (nothing of the plaintext is returned then), CryptoError on bad lengths.
SecureBytes aes_gcm_decrypt(std::span<const uint8_t> key, ByteView iv, ByteView aad,
                            ByteView ciphertext_and_tag, size_t tag_len = 16);

}  // namespace twinhsm::crypto
