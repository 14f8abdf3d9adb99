#include "ossl.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <stdexcept>

namespace twinhsm::test::ossl {

namespace {

struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
  void operator()(BIGNUM* b) const { BN_free(b); }
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

Bytes bn_param(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
    throw std::runtime_error(std::string("EVP_PKEY_get_bn_param ") + name);
  }
  Bytes out(BN_num_bytes(bn));
  BN_bn2bin(bn, out.data());
  BN_free(bn);
  return out;
}

struct MdFree {
  void operator()(EVP_MD* m) const { EVP_MD_free(m); }
};
using Md = std::unique_ptr<EVP_MD, MdFree>;
Md md(const char* name) {
  return Md(name ? EVP_MD_fetch(library_context(), name, nullptr) : nullptr);
}

bool set_pss(EVP_PKEY_CTX* pctx, const VerifySpec& spec) {
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, spec.salt_len) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, spec.mgf1, nullptr) == 1;
}

}  // namespace

std::string hostile_openssl() {
  const char* conf = std::getenv("OPENSSL_CONF");
  std::string_view name = conf ? std::string_view(conf) : std::string_view();
  name = name.substr(name.find_last_of('/') + 1);
  constexpr std::string_view kPrefix = "twinhsm-hostile-", kSuffix = ".cnf";
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) {
    return "";
  }
  return std::string(name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size()));
}

OSSL_LIB_CTX* library_context() {
  static OSSL_LIB_CTX* const ctx = []() -> OSSL_LIB_CTX* {
    if (hostile_openssl().empty()) {
      return nullptr;
    }
    // The process's configuration (OPENSSL_CONF) is loaded first, as an application loads it.
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
    OSSL_LIB_CTX* own = OSSL_LIB_CTX_new();
    if (own == nullptr || OSSL_PROVIDER_load(own, "default") == nullptr) {
      throw std::runtime_error("cannot make the tests' own OpenSSL library context");
    }
    return own;  // kept for the whole run
  }();
  return ctx;
}

PKey pkey_from_spki(const Bytes& der) {
  const unsigned char* p = der.data();
  return PKey(
      d2i_PUBKEY_ex(nullptr, &p, static_cast<long>(der.size()), library_context(), nullptr));
}

Bytes spki(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key, &der);
  if (n <= 0) {
    throw std::runtime_error("i2d_PUBKEY");
  }
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

PKey generate_rsa(unsigned bits) {
  return PKey(EVP_PKEY_Q_keygen(library_context(), nullptr, "RSA", size_t{bits}));
}
PKey generate_ec(const char* group) {
  return PKey(EVP_PKEY_Q_keygen(library_context(), nullptr, "EC", group));
}
PKey generate_ed25519() {
  return PKey(EVP_PKEY_Q_keygen(library_context(), nullptr, "ED25519"));
}

RsaComponents rsa_components(EVP_PKEY* key) {
  return {bn_param(key, OSSL_PKEY_PARAM_RSA_N),
          bn_param(key, OSSL_PKEY_PARAM_RSA_E),
          bn_param(key, OSSL_PKEY_PARAM_RSA_D),
          bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR1),
          bn_param(key, OSSL_PKEY_PARAM_RSA_FACTOR2),
          bn_param(key, OSSL_PKEY_PARAM_RSA_EXPONENT1),
          bn_param(key, OSSL_PKEY_PARAM_RSA_EXPONENT2),
          bn_param(key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1)};
}

Bytes ec_point(EVP_PKEY* key) {
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0, &len) != 1) {
    throw std::runtime_error("EVP_PKEY_get_octet_string_param pub");
  }
  Bytes out(len);
  EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, out.data(), out.size(), &len);
  out.resize(len);
  return out;
}

Bytes ec_private_value(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519")) {
    size_t len = 32;
    Bytes out(len);
    EVP_PKEY_get_raw_private_key(key, out.data(), &len);
    return out;
  }
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &bn);
  int size = (EVP_PKEY_get_bits(key) + 7) / 8;
  Bytes out(static_cast<size_t>(size));
  BN_bn2binpad(bn, out.data(), size);
  BN_clear_free(bn);
  return out;
}

Bytes digest(const char* name, const Bytes& data) {
  Bytes out(EVP_MAX_MD_SIZE);
  size_t len = 0;
  EVP_Q_digest(library_context(), name, nullptr, data.data(), data.size(), out.data(), &len);
  out.resize(len);
  return out;
}

Bytes sha256_digest_info(const Bytes& data) {
  Bytes out = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
               0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
  Bytes h = digest("SHA256", data);
  out.insert(out.end(), h.begin(), h.end());
  return out;
}

Bytes ecdsa_raw_to_der(const Bytes& raw) {
  size_t half = raw.size() / 2;
  std::unique_ptr<ECDSA_SIG, CtxFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(raw.data(), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(raw.data() + half, static_cast<int>(half), nullptr);
  ECDSA_SIG_set0(sig.get(), r, s);
  unsigned char* der = nullptr;
  int n = i2d_ECDSA_SIG(sig.get(), &der);
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

Bytes ecdsa_der_to_raw(const Bytes& der, size_t half) {
  const unsigned char* p = der.data();
  std::unique_ptr<ECDSA_SIG, CtxFree> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  Bytes out(2 * half);
  BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out.data(), static_cast<int>(half));
  BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out.data() + half, static_cast<int>(half));
  return out;
}

bool verify(EVP_PKEY* key, const VerifySpec& spec, const Bytes& data, const Bytes& sig_in) {
  if (!key) {
    return false;
  }
  Bytes sig = spec.scheme == Scheme::ecdsa ? ecdsa_raw_to_der(sig_in) : sig_in;
  if (spec.md || spec.scheme == Scheme::eddsa) {
    std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    if (EVP_DigestVerifyInit_ex(ctx.get(), &pctx, spec.md, library_context(), nullptr, key,
                                nullptr) != 1) {
      return false;
    }
    if (spec.scheme == Scheme::rsa_pss && !set_pss(pctx, spec)) {
      return false;
    }
    return EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data.data(), data.size()) == 1;
  }
  // Raw mechanisms: data is already the hash (or DigestInfo for raw PKCS#1 v1.5).
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> pctx(
      EVP_PKEY_CTX_new_from_pkey(library_context(), key, nullptr));
  if (EVP_PKEY_verify_init(pctx.get()) != 1) {
    return false;
  }
  if (spec.scheme == Scheme::rsa_pkcs1 &&
      EVP_PKEY_CTX_set_rsa_padding(pctx.get(), RSA_PKCS1_PADDING) != 1) {
    return false;
  }
  if (spec.scheme == Scheme::rsa_pss &&
      (EVP_PKEY_CTX_set_signature_md(pctx.get(), md(spec.pss_hash).get()) != 1 ||
       !set_pss(pctx.get(), spec))) {
    return false;
  }
  return EVP_PKEY_verify(pctx.get(), sig.data(), sig.size(), data.data(), data.size()) == 1;
}

Bytes sign(EVP_PKEY* key, const VerifySpec& spec, const Bytes& data) {
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit_ex(ctx.get(), &pctx, spec.md, library_context(), nullptr, key, nullptr) !=
      1) {
    throw std::runtime_error("EVP_DigestSignInit");
  }
  if (spec.scheme == Scheme::rsa_pss && !set_pss(pctx, spec)) {
    throw std::runtime_error("PSS parameters");
  }
  size_t len = 0;
  EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size());
  Bytes out(len);
  if (EVP_DigestSign(ctx.get(), out.data(), &len, data.data(), data.size()) != 1) {
    throw std::runtime_error("EVP_DigestSign");
  }
  out.resize(len);
  if (spec.scheme == Scheme::ecdsa) {
    return ecdsa_der_to_raw(out, static_cast<size_t>((EVP_PKEY_get_bits(key) + 7) / 8));
  }
  return out;
}

Bytes aes_gcm_encrypt(const Bytes& key, const Bytes& iv, const Bytes& aad, const Bytes& plaintext,
                      size_t tag_len) {
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  const char* name = key.size() == 16   ? "AES-128-GCM"
                     : key.size() == 24 ? "AES-192-GCM"
                                        : "AES-256-GCM";
  std::unique_ptr<EVP_CIPHER, decltype(&EVP_CIPHER_free)> cipher(
      EVP_CIPHER_fetch(library_context(), name, nullptr), &EVP_CIPHER_free);
  EVP_EncryptInit_ex2(ctx.get(), cipher.get(), nullptr, nullptr, nullptr);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()), nullptr);
  EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), iv.data());
  int len = 0;
  if (!aad.empty()) {
    EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size()));
  }
  Bytes out(plaintext.size() + tag_len);
  EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                    static_cast<int>(plaintext.size()));
  int fin = 0;
  EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &fin);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_len),
                      out.data() + plaintext.size());
  return out;
}

}  // namespace twinhsm::test::ossl
