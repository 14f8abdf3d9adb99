// AES-GCM over EVP_CIPHER ("AES-128-GCM" / "AES-192-GCM" / "AES-256-GCM").
#include "crypto/aead.h"

#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

namespace {

constexpr size_t kMinTag = 4;
constexpr size_t kMaxTag = 16;

const char* gcm_name(size_t key_len) {
  switch (key_len) {
    case 16:
      return "AES-128-GCM";
    case 24:
      return "AES-192-GCM";
    case 32:
      return "AES-256-GCM";
    default:
      throw CryptoError("AES-GCM key must be 16, 24 or 32 bytes long");
  }
}

// gcm_context returns a context keyed for encryption (enc = 1) or decryption (enc = 0), after
// checking every length the caller chose.
detail::CipherCtxPtr gcm_context(std::span<const uint8_t> key, ByteView iv, size_t tag_len,
                                 int enc) {
  const char* name = gcm_name(key.size());
  if (iv.empty()) {
    throw CryptoError("AES-GCM IV must not be empty");
  }
  if (tag_len < kMinTag || tag_len > kMaxTag) {
    throw CryptoError("AES-GCM tag must be 4 to 16 bytes long");
  }
  const EVP_CIPHER* cipher = detail::fetched_cipher(name);
  detail::CipherCtxPtr ctx(detail::not_null(EVP_CIPHER_CTX_new(), "AES-GCM context"));
  size_t iv_len = iv.size();
  OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &iv_len),
                         OSSL_PARAM_construct_end()};
  detail::check(EVP_CipherInit_ex2(ctx.get(), cipher, nullptr, nullptr, enc, params),
                "AES-GCM IV length rejected");
  detail::check(EVP_CipherInit_ex2(ctx.get(), nullptr, key.data(), iv.data(), enc, nullptr),
                "AES-GCM key setup failed");
  return ctx;
}

void add_aad(EVP_CIPHER_CTX* ctx, ByteView aad) {
  if (aad.empty()) {
    return;
  }
  int outl = 0;
  detail::check(EVP_CipherUpdate(ctx, nullptr, &outl, aad.data(),
                                 detail::checked_int(aad.size(), "AES-GCM associated data")),
                "AES-GCM associated data failed");
}

}  // namespace

Bytes aes_gcm_encrypt(std::span<const uint8_t> key, ByteView iv, ByteView aad,
                      std::span<const uint8_t> plaintext, size_t tag_len) {
  Bytes out(plaintext.size() + tag_len);
  aes_gcm_encrypt_into(key, iv, aad, plaintext, out, tag_len);
  return out;
}

void aes_gcm_encrypt_into(std::span<const uint8_t> key, ByteView iv, ByteView aad,
                          std::span<const uint8_t> plaintext, std::span<uint8_t> out,
                          size_t tag_len) {
  auto ctx = gcm_context(key, iv, tag_len, 1);
  if (out.size() != plaintext.size() + tag_len) {
    throw CryptoError("AES-GCM encrypt failed: the output must be the plaintext's size + the tag");
  }
  add_aad(ctx.get(), aad);
  int len = 0;
  if (!plaintext.empty()) {
    detail::check(EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                                    detail::checked_int(plaintext.size(), "AES-GCM plaintext")),
                  "AES-GCM encrypt failed");
  }
  size_t done = static_cast<size_t>(len);
  int final_len = 0;
  detail::check(EVP_EncryptFinal_ex(ctx.get(), out.data() + done, &final_len),
                "AES-GCM encrypt failed");
  done += static_cast<size_t>(final_len);
  if (done != plaintext.size()) {
    throw CryptoError("AES-GCM encrypt failed: unexpected output length");
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out.data() + done, tag_len),
      OSSL_PARAM_construct_end()};
  detail::check(EVP_CIPHER_CTX_get_params(ctx.get(), params), "AES-GCM tag failed");
}

SecureBytes aes_gcm_decrypt(std::span<const uint8_t> key, ByteView iv, ByteView aad,
                            ByteView ciphertext_and_tag, size_t tag_len) {
  auto ctx = gcm_context(key, iv, tag_len, 0);
  // Input shorter than the tag is truncated data: it cannot authenticate.
  if (ciphertext_and_tag.size() < tag_len) {
    throw IntegrityError("AES-GCM ciphertext is shorter than its tag");
  }
  size_t ct_len = ciphertext_and_tag.size() - tag_len;
  ByteView ciphertext = ciphertext_and_tag.first(ct_len);
  ByteView tag = ciphertext_and_tag.subspan(ct_len);
  add_aad(ctx.get(), aad);
  SecureBytes out(ct_len);
  int len = 0;
  if (ct_len != 0) {
    detail::check(EVP_DecryptUpdate(ctx.get(), out.data(), &len, ciphertext.data(),
                                    detail::checked_int(ct_len, "AES-GCM ciphertext")),
                  "AES-GCM decrypt failed");
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                        const_cast<uint8_t*>(tag.data()), tag.size()),
      OSSL_PARAM_construct_end()};
  detail::check(EVP_CIPHER_CTX_set_params(ctx.get(), params), "AES-GCM tag rejected");
  size_t done = static_cast<size_t>(len);
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + done, &final_len) != 1) {
    ERR_clear_error();
    // out is wiped by its allocator when this unwinds: no plaintext leaves.
    throw IntegrityError("AES-GCM authentication failed: wrong key or altered data");
  }
  done += static_cast<size_t>(final_len);
  if (done != ct_len) {
    throw CryptoError("AES-GCM decrypt failed: unexpected output length");
  }
  return out;
}

}  // namespace twinhsm::crypto
