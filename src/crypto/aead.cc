// AES-GCM, AES-CCM and ChaCha20-Poly1305 over EVP_CIPHER (aead.h). CCM differs from the two others
// in OpenSSL's API: its tag length is set before the key, the message length before the
// associated data, and a decryption checks the tag in its one update (there is no final step).
#include "crypto/aead.h"

#include <string>

#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

namespace {

const char* cipher_name(AeadAlg alg, size_t key_len) {
  static const char* const kAes[2][3] = {{"AES-128-GCM", "AES-192-GCM", "AES-256-GCM"},
                                         {"AES-128-CCM", "AES-192-CCM", "AES-256-CCM"}};
  if (alg == AeadAlg::chacha20_poly1305) {
    return "ChaCha20-Poly1305";
  }
  return kAes[alg == AeadAlg::aes_ccm ? 1 : 0][(key_len - 16) / 8];
}

const char* what_of(AeadAlg alg) {
  switch (alg) {
    case AeadAlg::aes_gcm:
      return "AES-GCM";
    case AeadAlg::aes_ccm:
      return "AES-CCM";
    case AeadAlg::chacha20_poly1305:
      return "ChaCha20-Poly1305";
  }
  return "AEAD";
}

// update runs EVP_CipherUpdate (out NULL: associated data, or CCM's message length).
int update(EVP_CIPHER_CTX* ctx, uint8_t* out, ByteView in, size_t n, const char* what) {
  int outl = 0;
  detail::check(EVP_CipherUpdate(ctx, out, &outl, in.empty() ? nullptr : in.data(),
                                 detail::checked_int(n, what)),
                what);
  return outl;
}

// context returns a context keyed for encryption or decryption, with the associated data (and,
// for CCM, the message length) already given. expected_tag: CCM decryption's tag.
detail::CipherCtxPtr context(AeadAlg alg, std::span<const uint8_t> key, ByteView nonce,
                             ByteView aad, size_t tag_len, size_t data_len, bool encrypt,
                             ByteView expected_tag) {
  aead_check(alg, key.size(), nonce.size(), tag_len, data_len);
  const char* what = what_of(alg);
  detail::CipherCtxPtr ctx(detail::not_null(EVP_CIPHER_CTX_new(), what));
  int enc = encrypt ? 1 : 0;
  detail::check(EVP_CipherInit_ex2(ctx.get(), detail::fetched_cipher(cipher_name(alg, key.size())),
                                   nullptr, nullptr, enc, nullptr),
                what);
  size_t iv_len = nonce.size();
  OSSL_PARAM lengths[3] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &iv_len),
                           OSSL_PARAM_construct_end(), OSSL_PARAM_construct_end()};
  if (alg == AeadAlg::aes_ccm) {
    // Encrypting: the tag's length (no value); decrypting: the tag to check.
    lengths[1] = OSSL_PARAM_construct_octet_string(
        OSSL_CIPHER_PARAM_AEAD_TAG, encrypt ? nullptr : const_cast<uint8_t*>(expected_tag.data()),
        tag_len);
  }
  detail::check(EVP_CIPHER_CTX_set_params(ctx.get(), lengths), what);
  detail::check(EVP_CipherInit_ex2(ctx.get(), nullptr, key.data(), nonce.data(), enc, nullptr),
                what);
  if (alg == AeadAlg::aes_ccm) {
    update(ctx.get(), nullptr, {}, data_len, what);
  }
  if (!aad.empty()) {
    update(ctx.get(), nullptr, aad, aad.size(), what);
  }
  return ctx;
}

}  // namespace

void aead_check(AeadAlg alg, size_t key_len, size_t nonce_len, size_t tag_len, size_t data_len) {
  std::string what = what_of(alg);
  bool aes_key = key_len == 16 || key_len == 24 || key_len == 32;
  switch (alg) {
    case AeadAlg::aes_gcm:
      if (!aes_key || nonce_len == 0 || tag_len < 4 || tag_len > 16) {
        throw CryptoError(what +
                          ": the key must be 16, 24 or 32 bytes, the IV not empty, the tag "
                          "4 to 16 bytes");
      }
      return;
    case AeadAlg::aes_ccm: {
      bool ok = aes_key && nonce_len >= 7 && nonce_len <= 13 && tag_len >= 4 && tag_len <= 16 &&
                tag_len % 2 == 0;
      size_t length_bytes = 15 - nonce_len;  // L: the message length is below 2^(8 L)
      if (!ok || (length_bytes < 8 && data_len >> (8 * length_bytes) != 0)) {
        throw CryptoError(what +
                          ": the key must be 16, 24 or 32 bytes, the nonce 7 to 13, the tag "
                          "4 to 16 (even), the data shorter than the nonce allows");
      }
      return;
    }
    case AeadAlg::chacha20_poly1305:
      if (key_len != 32 || nonce_len != 12 || tag_len != 16) {
        throw CryptoError(what + ": the key must be 32 bytes, the nonce 12, the tag 16");
      }
      return;
  }
}

void aead_encrypt_into(AeadAlg alg, std::span<const uint8_t> key, ByteView nonce, ByteView aad,
                       std::span<const uint8_t> plaintext, std::span<uint8_t> out, size_t tag_len) {
  const char* what = what_of(alg);
  auto ctx = context(alg, key, nonce, aad, tag_len, plaintext.size(), true, {});
  if (out.size() != plaintext.size() + tag_len) {
    throw CryptoError(std::string(what) + ": the output must be the plaintext's size + the tag");
  }
  size_t done = 0;
  if (!plaintext.empty() || alg == AeadAlg::aes_ccm) {
    // CCM computes its tag here, so this runs for an empty message too: with a non-NULL input,
    // which OpenSSL would take for the final step.
    int len = 0;
    detail::check(EVP_EncryptUpdate(ctx.get(), out.data(), &len, detail::data_or_empty(plaintext),
                                    detail::checked_int(plaintext.size(), what)),
                  what);
    done = static_cast<size_t>(len);
  }
  int final_len = 0;
  detail::check(EVP_EncryptFinal_ex(ctx.get(), out.data() + done, &final_len), what);
  done += static_cast<size_t>(final_len);
  if (done != plaintext.size()) {
    throw CryptoError(std::string(what) + ": unexpected output length");
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out.data() + done, tag_len),
      OSSL_PARAM_construct_end()};
  detail::check(EVP_CIPHER_CTX_get_params(ctx.get(), params), what);
}

Bytes aead_encrypt(AeadAlg alg, std::span<const uint8_t> key, ByteView nonce, ByteView aad,
                   std::span<const uint8_t> plaintext, size_t tag_len) {
  Bytes out(plaintext.size() + tag_len);
  aead_encrypt_into(alg, key, nonce, aad, plaintext, out, tag_len);
  return out;
}

SecureBytes aead_decrypt(AeadAlg alg, std::span<const uint8_t> key, ByteView nonce, ByteView aad,
                         ByteView ciphertext_and_tag, size_t tag_len) {
  const char* what = what_of(alg);
  // Input shorter than the tag is truncated data: it cannot authenticate.
  if (ciphertext_and_tag.size() < tag_len) {
    throw IntegrityError(std::string(what) + ": the ciphertext is shorter than its tag");
  }
  size_t ct_len = ciphertext_and_tag.size() - tag_len;
  ByteView ciphertext = ciphertext_and_tag.first(ct_len);
  ByteView tag = ciphertext_and_tag.subspan(ct_len);
  auto ctx = context(alg, key, nonce, aad, tag_len, ct_len, false, tag);
  SecureBytes out(ct_len + 16);
  auto fail = [&] {
    ERR_clear_error();
    // out is wiped by its allocator when this unwinds: no plaintext leaves.
    throw IntegrityError(std::string(what) + ": authentication failed (wrong key or altered data)");
  };
  int len = 0;
  if (ct_len != 0 || alg == AeadAlg::aes_ccm) {
    if (EVP_DecryptUpdate(ctx.get(), out.data(), &len, detail::data_or_empty(ciphertext),
                          detail::checked_int(ct_len, what)) != 1) {
      fail();  // CCM checks its tag here
    }
  }
  if (alg != AeadAlg::aes_ccm) {
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                          const_cast<uint8_t*>(tag.data()), tag.size()),
        OSSL_PARAM_construct_end()};
    detail::check(EVP_CIPHER_CTX_set_params(ctx.get(), params), what);
    int final_len = 0;
    if (EVP_DecryptFinal_ex(ctx.get(), out.data() + len, &final_len) != 1) {
      fail();
    }
    len += final_len;
  }
  if (static_cast<size_t>(len) != ct_len) {
    throw CryptoError(std::string(what) + ": unexpected output length");
  }
  out.resize(ct_len);
  return out;
}

}  // namespace twinhsm::crypto
