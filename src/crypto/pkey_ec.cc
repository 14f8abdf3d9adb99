// Keys on curves (pkey.h): EC (short-Weierstrass: P-192/256/384/521), EdDSA (Ed25519, Ed448),
// X25519 and X448: generation, import and export of the components PKCS#11 stores.
#include <openssl/obj_mac.h>

#include <string>

#include "crypto/curve_table.h"
#include "crypto/pkey.h"
#include "crypto/pkey_impl.h"

namespace twinhsm::crypto {

using namespace detail;

namespace {

bool raw_curve(Curve curve) {
  return curve_family(curve) != CurveFamily::weierstrass;
}

}  // namespace

PKey PKey::generate_ec(Curve curve) {
  const char* what = "EC key generation failed";
  const CurveInfo& c = curve_info(curve);
  PkeyCtxPtr ctx = provider_ctx(c.key_type, what);
  check(EVP_PKEY_keygen_init(ctx.get()), what);
  if (!raw_curve(curve)) {
    OSSL_PARAM params[] = {utf8_param(OSSL_PKEY_PARAM_GROUP_NAME, c.group),
                           utf8_param(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                      OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED),
                           OSSL_PARAM_construct_end()};
    check(EVP_PKEY_CTX_set_params(ctx.get(), params), what);
  }
  EVP_PKEY* raw = nullptr;
  check(EVP_PKEY_generate(ctx.get(), &raw), what);
  return PKey(make_impl(PkeyPtr(raw), true));
}

PKey PKey::ec_public(Curve curve, ByteView ec_point) {
  const char* what = "invalid EC public key";
  const CurveInfo& c = curve_info(curve);
  size_t fb = field_bytes(curve);
  if (raw_curve(curve)) {
    if (ec_point.size() != fb) {
      throw CryptoError(std::string(what) + ": a " + c.key_type + " public key is " +
                        std::to_string(fb) + " bytes long");
    }
    PkeyPtr pkey(not_null(
        EVP_PKEY_new_raw_public_key_ex(libctx(), c.key_type, nullptr, ec_point.data(), fb), what));
    return PKey(make_impl(std::move(pkey), false));
  }
  if (ec_point.size() != 1 + 2 * fb || ec_point[0] != 0x04) {
    throw CryptoError(std::string(what) + ": the point must be uncompressed (04 || X || Y)");
  }
  OSSL_PARAM params[] = {utf8_param(OSSL_PKEY_PARAM_GROUP_NAME, c.group),
                         octet_param(OSSL_PKEY_PARAM_PUB_KEY, ec_point),
                         utf8_param(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                    OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED),
                         OSSL_PARAM_construct_end()};
  auto pkey = from_data("EC", EVP_PKEY_PUBLIC_KEY, params, what);
  validate(pkey.get(), false, what);
  return PKey(make_impl(std::move(pkey), false));
}

PKey PKey::ec_private(Curve curve, std::span<const uint8_t> value) {
  const char* what = "invalid EC private key";
  const CurveInfo& c = curve_info(curve);
  size_t fb = field_bytes(curve);
  if (raw_curve(curve)) {
    if (value.size() != fb) {
      throw CryptoError(std::string(what) + ": a " + c.key_type + " private key is " +
                        std::to_string(fb) + " bytes long");
    }
    PkeyPtr pkey(not_null(
        EVP_PKEY_new_raw_private_key_ex(libctx(), c.key_type, nullptr, value.data(), fb), what));
    return PKey(make_impl(std::move(pkey), true));
  }
  if (value.empty() || value.size() > fb) {
    throw CryptoError(std::string(what) + ": the scalar is longer than the field");
  }
  auto d = secret_bn_from(value, what);
  // The public point d*G, which PKCS#11 does not store with the private key, is computed by
  // OpenSSL's EC_POINT_mul (OpenSSL 3.0's EC import does not derive it).
  EcGroupPtr group(not_null(EC_GROUP_new_by_curve_name_ex(libctx(), nullptr, c.nid), what));
  BnCtxPtr bn_ctx(not_null(BN_CTX_secure_new_ex(libctx()), what));
  EcPointPtr point(not_null(EC_POINT_new(group.get()), what));
  if (BN_is_zero(d.get()) || BN_cmp(d.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    throw CryptoError(std::string(what) + ": the scalar is out of range");
  }
  check(EC_POINT_mul(group.get(), point.get(), d.get(), nullptr, nullptr, bn_ctx.get()), what);
  Bytes pub(1 + 2 * fb);
  if (EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, pub.data(),
                         pub.size(), bn_ctx.get()) != pub.size()) {
    throw_openssl(what);
  }
  ParamBldPtr bld(not_null(OSSL_PARAM_BLD_new(), what));
  check(OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, c.group, 0), what);
  check(OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                        OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED, 0),
        what);
  check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()), what);
  check(
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size()),
      what);
  auto params = to_params(bld.get(), what);
  auto pkey = from_data("EC", EVP_PKEY_KEYPAIR, params.get(), what);
  validate(pkey.get(), true, what);
  return PKey(make_impl(std::move(pkey), true));
}

Bytes PKey::ec_point() const {
  const char* what = "cannot export EC public point";
  EVP_PKEY* pk = impl_->pkey.get();
  if (!impl_->curve) {
    throw CryptoError(std::string(what) + ": the key is not on a curve");
  }
  size_t fb = field_bytes(*impl_->curve);
  if (raw_curve(*impl_->curve)) {
    Bytes out(fb);
    size_t len = out.size();
    check(EVP_PKEY_get_raw_public_key(pk, out.data(), &len), what);
    out.resize(len);
    return out;
  }
  Bytes out(1 + 2 * fb);
  size_t len = 0;
  check(EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, out.data(), out.size(), &len),
        what);
  if (len != out.size() || out[0] != 0x04) {
    throw CryptoError(std::string(what) + ": the point is not in uncompressed form");
  }
  return out;
}

SecureBytes PKey::ec_private_value() const {
  const char* what = "cannot export EC private value";
  require_private(*impl_, what);
  EVP_PKEY* pk = impl_->pkey.get();
  if (!impl_->curve) {
    throw CryptoError(std::string(what) + ": the key is not on a curve");
  }
  size_t fb = field_bytes(*impl_->curve);
  if (raw_curve(*impl_->curve)) {
    SecureBytes out(fb);
    size_t len = out.size();
    check(EVP_PKEY_get_raw_private_key(pk, out.data(), &len), what);
    out.resize(len);
    return out;
  }
  BIGNUM* raw = nullptr;
  check(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &raw), what);
  SecretBnPtr d(raw);
  SecureBytes out(fb);
  if (BN_bn2binpad(d.get(), out.data(), static_cast<int>(out.size())) < 0) {
    throw_openssl(what);
  }
  return out;
}

}  // namespace twinhsm::crypto
