// Authenticated encryption with associated data over OpenSSL EVP: AES-GCM (NIST SP 800-38D),
// AES-CCM (SP 800-38C) and ChaCha20-Poly1305 (RFC 8439). The key length picks AES-128/192/256.
#pragma once

#include "common/bytes.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

enum class AeadAlg { aes_gcm, aes_ccm, chacha20_poly1305 };

// aead_check throws CryptoError unless the lengths fit the algorithm: AES-GCM a 16/24/32-byte key,
// a nonce of 1 byte or more, a tag of 4 to 16 bytes; AES-CCM a 16/24/32-byte key, a nonce of 7 to
// 13 bytes, a tag of 4, 6, ..., 16 bytes, a message shorter than 2^(8 (15 - nonce)) bytes;
// ChaCha20-Poly1305 a 32-byte key, a 12-byte nonce, a 16-byte tag.
void aead_check(AeadAlg alg, size_t key_len, size_t nonce_len, size_t tag_len, size_t data_len);

// aead_encrypt_into writes ciphertext || tag (exactly plaintext.size() + tag_len bytes) into out,
// straight into the caller's memory for bulk data. Throws CryptoError on bad lengths.
void aead_encrypt_into(AeadAlg alg, std::span<const uint8_t> key, ByteView nonce, ByteView aad,
                       std::span<const uint8_t> plaintext, std::span<uint8_t> out, size_t tag_len);
Bytes aead_encrypt(AeadAlg alg, std::span<const uint8_t> key, ByteView nonce, ByteView aad,
                   std::span<const uint8_t> plaintext, size_t tag_len);
// aead_decrypt takes ciphertext || tag and returns the plaintext. Throws IntegrityError when the
// tag does not verify (nothing of the plaintext is returned then), CryptoError on bad lengths.
SecureBytes aead_decrypt(AeadAlg alg, std::span<const uint8_t> key, ByteView nonce, ByteView aad,
                         ByteView ciphertext_and_tag, size_t tag_len);

// The AES-GCM forms the rest of twinhsm uses (storage, backups): tag 16 bytes by default.
inline Bytes aes_gcm_encrypt(std::span<const uint8_t> key, ByteView iv, ByteView aad,
                             std::span<const uint8_t> plaintext, size_t tag_len = 16) {
  return aead_encrypt(AeadAlg::aes_gcm, key, iv, aad, plaintext, tag_len);
}
inline void aes_gcm_encrypt_into(std::span<const uint8_t> key, ByteView iv, ByteView aad,
                                 std::span<const uint8_t> plaintext, std::span<uint8_t> out,
                                 size_t tag_len = 16) {
  aead_encrypt_into(AeadAlg::aes_gcm, key, iv, aad, plaintext, out, tag_len);
}
inline SecureBytes aes_gcm_decrypt(std::span<const uint8_t> key, ByteView iv, ByteView aad,
                                   ByteView ciphertext_and_tag, size_t tag_len = 16) {
  return aead_decrypt(AeadAlg::aes_gcm, key, iv, aad, ciphertext_and_tag, tag_len);
}

}  // namespace twinhsm::crypto
