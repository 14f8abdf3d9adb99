// RSA-OAEP, RSA PKCS#1 v1.5 and raw RSA (no padding) encryption over EVP_PKEY_encrypt /
// EVP_PKEY_decrypt, with the padding, hashes and label given as the provider's OSSL_PARAMs.
#include "crypto/rsa_encryption.h"

#include <openssl/rsa.h>

#include "crypto/pkey_impl.h"

namespace twinhsm::crypto {

namespace {

size_t modulus_bytes(const PKey& key) {
  return (key.bits() + 7) / 8;
}

void require_rsa(const PKey& key, bool need_private) {
  if (key.type() != PKey::Type::rsa) {
    throw UsageError("RSA encryption needs an RSA key");
  }
  if (need_private && !key.has_private()) {
    throw UsageError("RSA decryption needs the private key");
  }
}

// context returns an encryption (encrypt = true) or decryption context with the padding set.
detail::PkeyCtxPtr context(const PKey& key, const RsaPadding& padding, bool encrypt) {
  const char* what = encrypt ? "RSA encryption setup failed" : "RSA decryption setup failed";
  detail::PkeyCtxPtr ctx(detail::not_null(
      EVP_PKEY_CTX_new_from_pkey(detail::libctx(), key.impl().pkey.get(), nullptr), what));
  detail::check(encrypt ? EVP_PKEY_encrypt_init(ctx.get()) : EVP_PKEY_decrypt_init(ctx.get()),
                what);
  if (padding.kind != RsaPadding::Kind::oaep) {
    OSSL_PARAM params[] = {
        detail::utf8_param(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, padding.kind == RsaPadding::Kind::pkcs1
                                                                ? OSSL_PKEY_RSA_PAD_MODE_PKCSV15
                                                                : OSSL_PKEY_RSA_PAD_MODE_NONE),
        OSSL_PARAM_construct_end()};
    detail::check(EVP_PKEY_CTX_set_params(ctx.get(), params), what);
    return ctx;
  }
  OSSL_PARAM params[] = {
      detail::utf8_param(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, OSSL_PKEY_RSA_PAD_MODE_OAEP),
      detail::utf8_param(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, digest_name(padding.oaep_hash)),
      detail::utf8_param(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, digest_name(padding.mgf1)),
      // The provider copies the label.
      detail::octet_param(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, padding.label),
      OSSL_PARAM_construct_end()};
  if (padding.label.empty()) {
    params[3] = OSSL_PARAM_construct_end();
  }
  detail::check(EVP_PKEY_CTX_set_params(ctx.get(), params), what);
  return ctx;
}

}  // namespace

size_t rsa_max_plaintext(const PKey& key, const RsaPadding& padding) {
  require_rsa(key, false);
  size_t k = modulus_bytes(key);
  size_t overhead = padding.kind == RsaPadding::Kind::raw ? 0
                    : padding.kind == RsaPadding::Kind::pkcs1
                        ? 11
                        : 2 * digest_size(padding.oaep_hash) + 2;
  return k > overhead ? k - overhead : 0;
}

Bytes rsa_encrypt(const PKey& key, const RsaPadding& padding, std::span<const uint8_t> plaintext) {
  if (plaintext.size() > rsa_max_plaintext(key, padding)) {
    throw UsageError("RSA encryption: the message is too long for the key and padding");
  }
  auto ctx = context(key, padding, true);
  size_t len = modulus_bytes(key);
  Bytes out(len);
  // Raw RSA encrypts the number the input stands for: left-padded with zeros to k bytes.
  SecureBytes raw;
  if (padding.kind == RsaPadding::Kind::raw) {
    raw.assign(len - plaintext.size(), 0);
    raw.insert(raw.end(), plaintext.begin(), plaintext.end());
    plaintext = raw;
  }
  detail::check(EVP_PKEY_encrypt(ctx.get(), out.data(), &len, detail::data_or_empty(plaintext),
                                 plaintext.size()),
                "RSA encryption failed (raw RSA: is the input below the modulus?)");
  if (len != out.size()) {
    throw CryptoError("RSA encryption failed: unexpected output length");
  }
  return out;
}

SecureBytes rsa_decrypt(const PKey& key, const RsaPadding& padding, ByteView ciphertext) {
  require_rsa(key, true);
  size_t k = modulus_bytes(key);
  if (ciphertext.size() != k) {
    throw UsageError("RSA decryption: the ciphertext must be as long as the modulus");
  }
  auto ctx = context(key, padding, false);
  SecureBytes out(k);
  size_t len = out.size();
  if (EVP_PKEY_decrypt(ctx.get(), out.data(), &len, ciphertext.data(), ciphertext.size()) != 1) {
    ERR_clear_error();
    throw IntegrityError("RSA decryption failed");
  }
  out.resize(len);
  return out;
}

}  // namespace twinhsm::crypto
