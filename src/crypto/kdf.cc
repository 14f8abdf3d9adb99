// SP 800-108, PBKDF2, HKDF and the X9.63 KDF over EVP_KDF ("KBKDF", "PBKDF2", "HKDF", "X963KDF").
#include "crypto/kdf.h"

#include <limits>
#include <string>

#include "crypto/kdf_internal.h"
#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

namespace {

// derive runs the named EVP_KDF with params and returns out_len bytes.
SecureBytes derive(const char* kdf_name, const OSSL_PARAM* params, size_t out_len,
                   const char* what) {
  if (out_len == 0) {
    throw CryptoError(std::string(what) + ": output length must not be zero");
  }
  detail::KdfCtxPtr ctx(detail::not_null(EVP_KDF_CTX_new(detail::fetched_kdf(kdf_name)), what));
  SecureBytes out(out_len);
  detail::check(EVP_KDF_derive(ctx.get(), out.data(), out.size(), params), what);
  return out;
}

// kbkdf runs OpenSSL's KBKDF in counter mode with HMAC-SHA256 (32-bit counter before the fixed
// input, the only counter width OpenSSL 3.0 offers). The fixed input is
// salt || [0x00 if use_separator] || info || [[8 * out_len]_32 if use_l].
SecureBytes kbkdf_hmac_sha256(std::span<const uint8_t> key, ByteView salt, ByteView info,
                              bool use_l, bool use_separator, size_t out_len) {
  const char* what = "KBKDF (counter, HMAC-SHA256) failed";
  // L is encoded in 32 bits, and the counter must not wrap.
  if (out_len > std::numeric_limits<uint32_t>::max() / 8) {
    throw CryptoError(std::string(what) + ": output length too large");
  }
  int l = use_l ? 1 : 0;
  int sep = use_separator ? 1 : 0;
  OSSL_PARAM params[] = {detail::utf8_param(OSSL_KDF_PARAM_MODE, "counter"),
                         detail::utf8_param(OSSL_KDF_PARAM_MAC, "HMAC"),
                         detail::utf8_param(OSSL_KDF_PARAM_DIGEST, "SHA256"),
                         detail::octet_param(OSSL_KDF_PARAM_KEY, key),
                         detail::octet_param(OSSL_KDF_PARAM_SALT, salt),
                         detail::octet_param(OSSL_KDF_PARAM_INFO, info),
                         OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_L, &l),
                         OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_SEPARATOR, &sep),
                         OSSL_PARAM_construct_end()};
  return derive(OSSL_KDF_NAME_KBKDF, params, out_len, what);
}

}  // namespace

SecureBytes kbkdf_counter_hmac_sha256(std::span<const uint8_t> key, ByteView label,
                                      ByteView context, size_t out_len) {
  return kbkdf_hmac_sha256(key, label, context, true, true, out_len);
}

SecureBytes pbkdf2_hmac_sha256(std::span<const uint8_t> password, ByteView salt,
                               uint32_t iterations, size_t out_len) {
  if (iterations == 0) {
    throw CryptoError("PBKDF2 failed: the iteration count must be at least 1");
  }
  unsigned int iter = iterations;
  // pkcs5 = 1 lifts SP 800-132's lower bounds (1000 iterations, 16-byte salt, 14-byte key), so
  // that the RFC and Wycheproof vectors run; callers choose their own counts.
  int pkcs5 = 1;
  OSSL_PARAM params[] = {detail::octet_param(OSSL_KDF_PARAM_PASSWORD, password),
                         detail::octet_param(OSSL_KDF_PARAM_SALT, salt),
                         OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_ITER, &iter),
                         detail::utf8_param(OSSL_KDF_PARAM_DIGEST, "SHA256"),
                         OSSL_PARAM_construct_int(OSSL_KDF_PARAM_PKCS5, &pkcs5),
                         OSSL_PARAM_construct_end()};
  return derive(OSSL_KDF_NAME_PBKDF2, params, out_len, "PBKDF2 (HMAC-SHA256) failed");
}

SecureBytes kbkdf(const KbkdfParams& p, std::span<const uint8_t> key, size_t out_len) {
  const char* what = "KBKDF failed";
  if (out_len > std::numeric_limits<uint32_t>::max() / 8) {
    throw CryptoError(std::string(what) + ": output length too large");
  }
  int l = p.with_length ? 1 : 0;
  int sep = p.separator ? 1 : 0;
  const char* cipher = nullptr;
  if (!p.hmac) {
    if (p.cmac_cipher == BlockCipher::des3) {
      if (key.size() != 24) {
        throw CryptoError(std::string(what) + ": CMAC with Triple DES needs a 24-byte key");
      }
      cipher = "DES-EDE3-CBC";
    } else {
      cipher = key.size() == 16   ? "AES-128-CBC"
               : key.size() == 24 ? "AES-192-CBC"
               : key.size() == 32 ? "AES-256-CBC"
                                  : nullptr;
      if (cipher == nullptr || p.cmac_cipher != BlockCipher::aes) {
        throw CryptoError(std::string(what) + ": CMAC needs an AES key of 16, 24 or 32 bytes");
      }
    }
  }
  OSSL_PARAM params[] = {
      detail::utf8_param(OSSL_KDF_PARAM_MODE, p.feedback ? "feedback" : "counter"),
      detail::utf8_param(OSSL_KDF_PARAM_MAC, p.hmac ? "HMAC" : "CMAC"),
      p.hmac ? detail::utf8_param(OSSL_KDF_PARAM_DIGEST, digest_name(*p.hmac))
             : detail::utf8_param(OSSL_KDF_PARAM_CIPHER, cipher),
      detail::octet_param(OSSL_KDF_PARAM_KEY, key),
      detail::octet_param(OSSL_KDF_PARAM_SALT, p.label),
      detail::octet_param(OSSL_KDF_PARAM_INFO, p.context),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_L, &l),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_SEPARATOR, &sep),
      p.feedback ? detail::octet_param(OSSL_KDF_PARAM_SEED, p.iv) : OSSL_PARAM_construct_end(),
      OSSL_PARAM_construct_end()};
  return derive(OSSL_KDF_NAME_KBKDF, params, out_len, what);
}

SecureBytes hkdf(DigestAlg digest, HkdfMode mode, std::span<const uint8_t> key,
                 const std::optional<Bytes>& salt, ByteView info, size_t out_len) {
  const char* what = "HKDF failed";
  int m = mode == HkdfMode::extract_and_expand ? EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND
          : mode == HkdfMode::extract_only     ? EVP_KDF_HKDF_MODE_EXTRACT_ONLY
                                               : EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  if (mode == HkdfMode::extract_only) {
    out_len = digest_size(digest);
  } else if (out_len > 255 * digest_size(digest)) {
    throw CryptoError(std::string(what) + ": at most 255 times the hash's length");
  }
  OSSL_PARAM params[] = {
      detail::utf8_param(OSSL_KDF_PARAM_DIGEST, digest_name(digest)),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &m),
      detail::octet_param(OSSL_KDF_PARAM_KEY, key),
      detail::octet_param(OSSL_KDF_PARAM_INFO, info),
      salt ? detail::octet_param(OSSL_KDF_PARAM_SALT, *salt) : OSSL_PARAM_construct_end(),
      OSSL_PARAM_construct_end()};
  return derive(OSSL_KDF_NAME_HKDF, params, out_len, what);
}

SecureBytes x963_kdf(DigestAlg digest, std::span<const uint8_t> secret, ByteView shared_info,
                     size_t out_len) {
  OSSL_PARAM params[] = {detail::utf8_param(OSSL_KDF_PARAM_DIGEST, digest_name(digest)),
                         detail::octet_param(OSSL_KDF_PARAM_KEY, secret),
                         detail::octet_param(OSSL_KDF_PARAM_INFO, shared_info),
                         OSSL_PARAM_construct_end()};
  return derive(OSSL_KDF_NAME_X963KDF, params, out_len, "X9.63 KDF failed");
}

namespace detail {

SecureBytes kbkdf_counter_hmac_sha256_fixed(std::span<const uint8_t> key, ByteView fixed_input,
                                            size_t out_len) {
  return kbkdf_hmac_sha256(key, fixed_input, {}, false, false, out_len);
}

}  // namespace detail

}  // namespace twinhsm::crypto
