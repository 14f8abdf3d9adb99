// RSA keys (pkey.h): generation, import and export of the components PKCS#11 stores.
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/pkey.h"
#include "crypto/pkey_impl.h"

namespace twinhsm::crypto {

using namespace detail;

PKey PKey::generate_rsa(unsigned bits, ByteView public_exponent) {
  const char* what = "RSA key generation failed";
  BnPtr e;
  if (public_exponent.empty()) {
    e.reset(not_null(BN_new(), what));
    check(BN_set_word(e.get(), RSA_F4), what);
  } else {
    e = bn_from(public_exponent, what);
  }
  ParamBldPtr bld(not_null(OSSL_PARAM_BLD_new(), what));
  check(OSSL_PARAM_BLD_push_size_t(bld.get(), OSSL_PKEY_PARAM_RSA_BITS, bits), what);
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()), what);
  auto params = to_params(bld.get(), what);
  PkeyCtxPtr ctx = provider_ctx("RSA", what);
  check(EVP_PKEY_keygen_init(ctx.get()), what);
  check(EVP_PKEY_CTX_set_params(ctx.get(), params.get()), what);
  EVP_PKEY* raw = nullptr;
  check(EVP_PKEY_generate(ctx.get(), &raw), what);
  return PKey(make_impl(PkeyPtr(raw), true));
}

PKey PKey::rsa_public(const RsaPublic& pub) {
  const char* what = "invalid RSA public key";
  auto n = bn_from(pub.modulus, what);
  auto e = bn_from(pub.public_exponent, what);
  ParamBldPtr bld(not_null(OSSL_PARAM_BLD_new(), what));
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()), what);
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()), what);
  auto params = to_params(bld.get(), what);
  auto pkey = from_data("RSA", EVP_PKEY_PUBLIC_KEY, params.get(), what);
  validate(pkey.get(), false, what);
  return PKey(make_impl(std::move(pkey), false));
}

PKey PKey::rsa_private(const RsaPrivate& priv) {
  const char* what = "invalid RSA private key";
  auto n = bn_from(priv.pub.modulus, what);
  auto e = bn_from(priv.pub.public_exponent, what);
  auto d = secret_bn_from(priv.private_exponent, what);
  auto p = secret_bn_from(priv.prime1, what);
  auto q = secret_bn_from(priv.prime2, what);
  auto dp = secret_bn_from(priv.exponent1, what);
  auto dq = secret_bn_from(priv.exponent2, what);
  auto qinv = secret_bn_from(priv.coefficient, what);
  ParamBldPtr bld(not_null(OSSL_PARAM_BLD_new(), what));
  const std::pair<const char*, const BIGNUM*> parts[] = {
      {OSSL_PKEY_PARAM_RSA_N, n.get()},          {OSSL_PKEY_PARAM_RSA_E, e.get()},
      {OSSL_PKEY_PARAM_RSA_D, d.get()},          {OSSL_PKEY_PARAM_RSA_FACTOR1, p.get()},
      {OSSL_PKEY_PARAM_RSA_FACTOR2, q.get()},    {OSSL_PKEY_PARAM_RSA_EXPONENT1, dp.get()},
      {OSSL_PKEY_PARAM_RSA_EXPONENT2, dq.get()}, {OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv.get()},
  };
  for (const auto& [name, bn] : parts) {
    check(OSSL_PARAM_BLD_push_BN(bld.get(), name, bn), what);
  }
  auto params = to_params(bld.get(), what);
  auto pkey = from_data("RSA", EVP_PKEY_KEYPAIR, params.get(), what);
  validate(pkey.get(), true, what);
  return PKey(make_impl(std::move(pkey), true));
}

RsaPublic PKey::rsa_public_components() const {
  const char* what = "cannot export RSA public key";
  require_type(*impl_, Type::rsa, what);
  EVP_PKEY* pk = impl_->pkey.get();
  return RsaPublic{bn_bytes(get_bn(pk, OSSL_PKEY_PARAM_RSA_N, what).get()),
                   bn_bytes(get_bn(pk, OSSL_PKEY_PARAM_RSA_E, what).get())};
}

RsaPrivate PKey::rsa_private_components() const {
  const char* what = "cannot export RSA private key";
  require_type(*impl_, Type::rsa, what);
  require_private(*impl_, what);
  EVP_PKEY* pk = impl_->pkey.get();
  RsaPrivate out;
  out.pub = rsa_public_components();
  out.private_exponent = secret_bn_bytes(pk, OSSL_PKEY_PARAM_RSA_D, what);
  out.prime1 = secret_bn_bytes(pk, OSSL_PKEY_PARAM_RSA_FACTOR1, what);
  out.prime2 = secret_bn_bytes(pk, OSSL_PKEY_PARAM_RSA_FACTOR2, what);
  out.exponent1 = secret_bn_bytes(pk, OSSL_PKEY_PARAM_RSA_EXPONENT1, what);
  out.exponent2 = secret_bn_bytes(pk, OSSL_PKEY_PARAM_RSA_EXPONENT2, what);
  out.coefficient = secret_bn_bytes(pk, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, what);
  return out;
}

Bytes PKey::rsa_pss_public_der() const {
  const char* what = "cannot encode the RSASSA-PSS SubjectPublicKeyInfo";
  require_type(*impl_, Type::rsa, what);
  // The same n and e as an OpenSSL key of type RSA-PSS without PSS parameters (no restriction):
  // its encoder writes id-RSASSA-PSS with the parameters absent.
  EVP_PKEY* pk = impl_->pkey.get();
  auto n = get_bn(pk, OSSL_PKEY_PARAM_RSA_N, what);
  auto e = get_bn(pk, OSSL_PKEY_PARAM_RSA_E, what);
  ParamBldPtr bld(not_null(OSSL_PARAM_BLD_new(), what));
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()), what);
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()), what);
  auto params = to_params(bld.get(), what);
  auto pss = from_data("RSA-PSS", EVP_PKEY_PUBLIC_KEY, params.get(), what);
  unsigned char* raw = nullptr;
  int len = i2d_PUBKEY(pss.get(), &raw);
  if (len <= 0) {
    throw_openssl(what);
  }
  OpenSslBufPtr buf(raw);
  return Bytes(raw, raw + len);
}

}  // namespace twinhsm::crypto
