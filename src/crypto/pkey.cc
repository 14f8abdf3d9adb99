// Asymmetric keys over EVP_PKEY: curves, generation, import and export of components, SPKI, ECDH.
#include "crypto/pkey.h"

#include <openssl/obj_mac.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "crypto/pkey_impl.h"

namespace twinhsm::crypto {

namespace {

// ---- Curves ----

struct CurveInfo {
  Curve curve;
  const char* group;         // OpenSSL's group name (EVP_PKEY "EC" keys); unused for Ed25519
  int nid;                   // for EC_GROUP
  std::string_view oid_der;  // DER OBJECT IDENTIFIER, as CKA_EC_PARAMS holds it
  std::array<std::string_view, 3> names;  // accepted PrintableString / OpenSSL group names
};

using namespace std::string_view_literals;

const std::array<CurveInfo, 4> kCurves = {{
    {Curve::p256,
     "P-256",
     NID_X9_62_prime256v1,
     "\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07"sv,
     {"P-256"sv, "prime256v1"sv, "secp256r1"sv}},
    {Curve::p384,
     "P-384",
     NID_secp384r1,
     "\x06\x05\x2b\x81\x04\x00\x22"sv,
     {"P-384"sv, "secp384r1"sv, "secp384r1"sv}},
    {Curve::p521,
     "P-521",
     NID_secp521r1,
     "\x06\x05\x2b\x81\x04\x00\x23"sv,
     {"P-521"sv, "secp521r1"sv, "secp521r1"sv}},
    {Curve::ed25519,
     "ED25519",
     NID_ED25519,
     "\x06\x03\x2b\x65\x70"sv,
     {"edwards25519"sv, "Ed25519"sv, "ED25519"sv}},
}};

const CurveInfo& info(Curve curve) {
  for (const auto& c : kCurves) {
    if (c.curve == curve) {
      return c;
    }
  }
  throw UsageError("unknown curve");
}

std::string_view as_chars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

Bytes to_bytes(std::string_view s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()),
               reinterpret_cast<const uint8_t*>(s.data()) + s.size());
}

// ---- Building EVP_PKEYs ----

// make_impl wraps a new EVP_PKEY after finding its type and curve; throws CryptoError for types
// and curves twinhsm does not support. EC keys are set to export uncompressed points.
std::shared_ptr<PKey::Impl> make_impl(detail::PkeyPtr pkey, bool has_private) {
  auto impl = std::make_shared<PKey::Impl>();
  EVP_PKEY* pk = pkey.get();
  if (EVP_PKEY_is_a(pk, "RSA")) {
    impl->type = PKey::Type::rsa;
  } else if (EVP_PKEY_is_a(pk, "ED25519")) {
    impl->type = PKey::Type::ed25519;
    impl->curve = Curve::ed25519;
  } else if (EVP_PKEY_is_a(pk, "EC")) {
    impl->type = PKey::Type::ec;
    char name[64] = {};
    size_t len = 0;
    detail::check(
        EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len),
        "EC key has no named curve");
    std::string_view group(name, len);
    for (const auto& c : kCurves) {
      if (c.curve != Curve::ed25519 &&
          std::find(c.names.begin(), c.names.end(), group) != c.names.end()) {
        impl->curve = c.curve;
      }
    }
    if (!impl->curve) {
      throw CryptoError("unsupported EC curve: " + std::string(group));
    }
    detail::check(EVP_PKEY_set_utf8_string_param(pk, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                                 OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED),
                  "EC point format");
  } else {
    throw CryptoError("unsupported key type (twinhsm handles RSA, EC P-256/384/521, Ed25519)");
  }
  impl->pkey = std::move(pkey);
  impl->has_private = has_private;
  return impl;
}

// provider_ctx makes a context for a key type in twinhsm's library context. The type is named by
// its OID, not "EC"/"RSA": for a name OpenSSL knows the NID of, EVP_PKEY_CTX_new_from_name first
// looks for an ENGINE's key method registered for that NID (the libp11 engine registers some in
// `openssl -engine pkcs11`, and a configuration file can make an engine the default for all), and
// an engine's legacy method cannot import or generate keys from parameters.
detail::PkeyCtxPtr provider_ctx(const char* type, const char* what) {
  std::string_view t(type);
  const char* name = t == "EC" ? "1.2.840.10045.2.1" : t == "RSA" ? "1.2.840.113549.1.1.1"
                     : t == "ED25519" ? "1.3.101.112" : type;
  return detail::PkeyCtxPtr(
      detail::not_null(EVP_PKEY_CTX_new_from_name(detail::libctx(), name, nullptr), what));
}

// from_data builds an EVP_PKEY of the named type from params; selection is EVP_PKEY_PUBLIC_KEY or
// EVP_PKEY_KEYPAIR.
detail::PkeyPtr from_data(const char* type, int selection, OSSL_PARAM* params, const char* what) {
  detail::PkeyCtxPtr ctx = provider_ctx(type, what);
  detail::check(EVP_PKEY_fromdata_init(ctx.get()), what);
  EVP_PKEY* raw = nullptr;
  detail::check(EVP_PKEY_fromdata(ctx.get(), &raw, selection, params), what);
  return detail::PkeyPtr(raw);
}

// validate runs OpenSSL's checks of a public key or of a whole key pair (including that the
// private and public parts match).
// OpenSSL 3.0 gives a context made from a key to an application's default ENGINE when it has a
// key method for the key's type, whatever the library context: that legacy check answers -2 (not
// supported), and the key is then used unchecked, as the engine would use it.
void validate(EVP_PKEY* pkey, bool with_private, const char* what) {
  detail::PkeyCtxPtr ctx(
      detail::not_null(EVP_PKEY_CTX_new_from_pkey(detail::libctx(), pkey, nullptr), what));
  int rc = with_private ? EVP_PKEY_check(ctx.get()) : EVP_PKEY_public_check(ctx.get());
  if (rc == -2) {
    ERR_clear_error();
    return;
  }
  detail::check(rc, what);
}

detail::ParamsPtr to_params(OSSL_PARAM_BLD* bld, const char* what) {
  return detail::ParamsPtr(detail::not_null(OSSL_PARAM_BLD_to_param(bld), what));
}

detail::BnPtr bn_from(ByteView b, const char* what) {
  return detail::BnPtr(
      detail::not_null(BN_bin2bn(b.data(), detail::checked_int(b.size(), what), nullptr), what));
}

// secret_bn_from puts a private component in a BIGNUM flagged secure, so that OSSL_PARAM_BLD
// places it in memory that is wiped when freed.
detail::SecretBnPtr secret_bn_from(std::span<const uint8_t> b, const char* what) {
  detail::SecretBnPtr bn(detail::not_null(BN_secure_new(), what));
  detail::not_null(BN_bin2bn(b.data(), detail::checked_int(b.size(), what), bn.get()), what);
  return bn;
}

// ---- Reading components ----

detail::BnPtr get_bn(EVP_PKEY* pkey, const char* name, const char* what) {
  BIGNUM* bn = nullptr;
  detail::check(EVP_PKEY_get_bn_param(pkey, name, &bn), what);
  return detail::BnPtr(bn);
}

Bytes bn_bytes(const BIGNUM* bn) {
  Bytes out(static_cast<size_t>(BN_num_bytes(bn)));
  BN_bn2bin(bn, out.data());
  return out;
}

SecureBytes secret_bn_bytes(EVP_PKEY* pkey, const char* name, const char* what) {
  BIGNUM* raw = nullptr;
  detail::check(EVP_PKEY_get_bn_param(pkey, name, &raw), what);
  detail::SecretBnPtr bn(raw);
  SecureBytes out(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), out.data());
  return out;
}

void require_type(const PKey::Impl& impl, PKey::Type type, const char* what) {
  if (impl.type != type) {
    throw CryptoError(std::string(what) + ": the key is of another type");
  }
}

void require_private(const PKey::Impl& impl, const char* what) {
  if (!impl.has_private) {
    throw CryptoError(std::string(what) + ": the key has no private part");
  }
}

}  // namespace

// ---- Curves ----

std::optional<Curve> curve_from_params(ByteView ec_params) {
  std::string_view der = as_chars(ec_params);
  for (const auto& c : kCurves) {
    if (der == c.oid_der) {
      return c.curve;
    }
  }
  // PrintableString (tag 0x13, short-form length) holding a curve name.
  if (ec_params.size() >= 2 && ec_params[0] == 0x13 && ec_params[1] < 0x80 &&
      ec_params.size() == 2u + ec_params[1]) {
    std::string_view name = der.substr(2);
    for (const auto& c : kCurves) {
      if (std::find(c.names.begin(), c.names.end(), name) != c.names.end()) {
        return c.curve;
      }
    }
  }
  return std::nullopt;
}

Bytes curve_params(Curve curve) {
  return to_bytes(info(curve).oid_der);
}

unsigned curve_bits(Curve curve) {
  switch (curve) {
    case Curve::p256:
      return 256;
    case Curve::p384:
      return 384;
    case Curve::p521:
      return 521;
    case Curve::ed25519:
      return 255;
  }
  return 0;
}

// ---- PKey: generation ----

PKey::PKey(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {
  if (!impl_ || !impl_->pkey) {
    throw UsageError("PKey made from an empty key");
  }
}

PKey PKey::generate_rsa(unsigned bits, ByteView public_exponent) {
  const char* what = "RSA key generation failed";
  detail::BnPtr e;
  if (public_exponent.empty()) {
    e.reset(detail::not_null(BN_new(), what));
    detail::check(BN_set_word(e.get(), RSA_F4), what);
  } else {
    e = bn_from(public_exponent, what);
  }
  detail::ParamBldPtr bld(detail::not_null(OSSL_PARAM_BLD_new(), what));
  detail::check(OSSL_PARAM_BLD_push_size_t(bld.get(), OSSL_PKEY_PARAM_RSA_BITS, bits), what);
  detail::check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()), what);
  auto params = to_params(bld.get(), what);
  detail::PkeyCtxPtr ctx = provider_ctx("RSA", what);
  detail::check(EVP_PKEY_keygen_init(ctx.get()), what);
  detail::check(EVP_PKEY_CTX_set_params(ctx.get(), params.get()), what);
  EVP_PKEY* raw = nullptr;
  detail::check(EVP_PKEY_generate(ctx.get(), &raw), what);
  return PKey(make_impl(detail::PkeyPtr(raw), true));
}

PKey PKey::generate_ec(Curve curve) {
  const char* what = "EC key generation failed";
  const CurveInfo& c = info(curve);
  detail::PkeyCtxPtr ctx = provider_ctx(curve == Curve::ed25519 ? "ED25519" : "EC", what);
  detail::check(EVP_PKEY_keygen_init(ctx.get()), what);
  if (curve != Curve::ed25519) {
    OSSL_PARAM params[] = {detail::utf8_param(OSSL_PKEY_PARAM_GROUP_NAME, c.group),
                           detail::utf8_param(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                              OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED),
                           OSSL_PARAM_construct_end()};
    detail::check(EVP_PKEY_CTX_set_params(ctx.get(), params), what);
  }
  EVP_PKEY* raw = nullptr;
  detail::check(EVP_PKEY_generate(ctx.get(), &raw), what);
  return PKey(make_impl(detail::PkeyPtr(raw), true));
}

// ---- PKey: import ----

PKey PKey::rsa_public(const RsaPublic& pub) {
  const char* what = "invalid RSA public key";
  auto n = bn_from(pub.modulus, what);
  auto e = bn_from(pub.public_exponent, what);
  detail::ParamBldPtr bld(detail::not_null(OSSL_PARAM_BLD_new(), what));
  detail::check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()), what);
  detail::check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()), what);
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
  detail::ParamBldPtr bld(detail::not_null(OSSL_PARAM_BLD_new(), what));
  const std::pair<const char*, const BIGNUM*> parts[] = {
      {OSSL_PKEY_PARAM_RSA_N, n.get()},          {OSSL_PKEY_PARAM_RSA_E, e.get()},
      {OSSL_PKEY_PARAM_RSA_D, d.get()},          {OSSL_PKEY_PARAM_RSA_FACTOR1, p.get()},
      {OSSL_PKEY_PARAM_RSA_FACTOR2, q.get()},    {OSSL_PKEY_PARAM_RSA_EXPONENT1, dp.get()},
      {OSSL_PKEY_PARAM_RSA_EXPONENT2, dq.get()}, {OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv.get()},
  };
  for (const auto& [name, bn] : parts) {
    detail::check(OSSL_PARAM_BLD_push_BN(bld.get(), name, bn), what);
  }
  auto params = to_params(bld.get(), what);
  auto pkey = from_data("RSA", EVP_PKEY_KEYPAIR, params.get(), what);
  validate(pkey.get(), true, what);
  return PKey(make_impl(std::move(pkey), true));
}

PKey PKey::ec_public(Curve curve, ByteView ec_point) {
  const char* what = "invalid EC public key";
  if (curve == Curve::ed25519) {
    if (ec_point.size() != 32) {
      throw CryptoError("invalid Ed25519 public key: it must be 32 bytes long");
    }
    detail::PkeyPtr pkey(detail::not_null(
        EVP_PKEY_new_raw_public_key_ex(detail::libctx(), "ED25519", nullptr, ec_point.data(), 32), what));
    return PKey(make_impl(std::move(pkey), false));
  }
  size_t fb = detail::field_bytes(curve);
  if (ec_point.size() != 1 + 2 * fb || ec_point[0] != 0x04) {
    throw CryptoError(std::string(what) + ": the point must be uncompressed (04 || X || Y)");
  }
  OSSL_PARAM params[] = {detail::utf8_param(OSSL_PKEY_PARAM_GROUP_NAME, info(curve).group),
                         detail::octet_param(OSSL_PKEY_PARAM_PUB_KEY, ec_point),
                         detail::utf8_param(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                            OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED),
                         OSSL_PARAM_construct_end()};
  auto pkey = from_data("EC", EVP_PKEY_PUBLIC_KEY, params, what);
  validate(pkey.get(), false, what);
  return PKey(make_impl(std::move(pkey), false));
}

PKey PKey::ec_private(Curve curve, std::span<const uint8_t> value) {
  const char* what = "invalid EC private key";
  if (curve == Curve::ed25519) {
    if (value.size() != 32) {
      throw CryptoError("invalid Ed25519 private key: it must be 32 bytes long");
    }
    detail::PkeyPtr pkey(detail::not_null(
        EVP_PKEY_new_raw_private_key_ex(detail::libctx(), "ED25519", nullptr, value.data(), 32), what));
    return PKey(make_impl(std::move(pkey), true));
  }
  const CurveInfo& c = info(curve);
  size_t fb = detail::field_bytes(curve);
  if (value.empty() || value.size() > fb) {
    throw CryptoError(std::string(what) + ": the scalar is longer than the field");
  }
  auto d = secret_bn_from(value, what);
  // The public point d*G, which PKCS#11 does not store with the private key, is computed by
  // OpenSSL's EC_POINT_mul (OpenSSL 3.0's EC import does not derive it).
  detail::EcGroupPtr group(
      detail::not_null(EC_GROUP_new_by_curve_name_ex(detail::libctx(), nullptr, c.nid), what));
  detail::BnCtxPtr bn_ctx(detail::not_null(BN_CTX_secure_new_ex(detail::libctx()), what));
  detail::EcPointPtr point(detail::not_null(EC_POINT_new(group.get()), what));
  if (BN_is_zero(d.get()) || BN_cmp(d.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    throw CryptoError(std::string(what) + ": the scalar is out of range");
  }
  detail::check(EC_POINT_mul(group.get(), point.get(), d.get(), nullptr, nullptr, bn_ctx.get()),
                what);
  Bytes pub(1 + 2 * fb);
  if (EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED, pub.data(),
                         pub.size(), bn_ctx.get()) != pub.size()) {
    detail::throw_openssl(what);
  }
  detail::ParamBldPtr bld(detail::not_null(OSSL_PARAM_BLD_new(), what));
  detail::check(OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, c.group, 0),
                what);
  detail::check(
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                      OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED, 0),
      what);
  detail::check(OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()), what);
  detail::check(
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size()),
      what);
  auto params = to_params(bld.get(), what);
  auto pkey = from_data("EC", EVP_PKEY_KEYPAIR, params.get(), what);
  validate(pkey.get(), true, what);
  return PKey(make_impl(std::move(pkey), true));
}

PKey PKey::from_public_der(ByteView spki) {
  const unsigned char* p = spki.data();
  long len = static_cast<long>(detail::checked_int(spki.size(), "SubjectPublicKeyInfo"));
  detail::PkeyPtr pkey(d2i_PUBKEY_ex(nullptr, &p, len, detail::libctx(), nullptr));
  if (!pkey) {
    detail::throw_openssl("invalid SubjectPublicKeyInfo");
  }
  ERR_clear_error();  // the decoders may leave notes from the formats they tried first
  if (p != spki.data() + spki.size()) {
    throw CryptoError("invalid SubjectPublicKeyInfo: trailing bytes");
  }
  auto impl = make_impl(std::move(pkey), false);
  validate(impl->pkey.get(), false, "invalid public key in SubjectPublicKeyInfo");
  return PKey(std::move(impl));
}

PKey PKey::from_private_der(std::span<const uint8_t> pkcs8) {
  const char* what = "invalid PKCS#8 private key";
  const unsigned char* p = pkcs8.data();
  long len = static_cast<long>(detail::checked_int(pkcs8.size(), what));
  // PKCS8_PRIV_KEY_INFO_free wipes the key octets it holds.
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, detail::Deleter<&PKCS8_PRIV_KEY_INFO_free>> info(
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, len));
  if (!info) {
    detail::throw_openssl(what);
  }
  if (p != pkcs8.data() + pkcs8.size()) {
    throw CryptoError(std::string(what) + ": trailing bytes");
  }
  detail::PkeyPtr pkey(EVP_PKCS82PKEY_ex(info.get(), detail::libctx(), nullptr));
  if (!pkey) {
    detail::throw_openssl(what);
  }
  ERR_clear_error();  // the decoders may leave notes from the formats they tried first
  auto impl = make_impl(std::move(pkey), true);
  validate(impl->pkey.get(), true, what);
  return PKey(std::move(impl));
}

// ---- PKey: properties ----

PKey::Type PKey::type() const {
  return impl_->type;
}
bool PKey::has_private() const {
  return impl_->has_private;
}
std::optional<Curve> PKey::curve() const {
  return impl_->curve;
}

unsigned PKey::bits() const {
  if (impl_->curve) {
    return curve_bits(*impl_->curve);
  }
  int bits = EVP_PKEY_get_bits(impl_->pkey.get());
  if (bits <= 0) {
    detail::throw_openssl("key size unknown");
  }
  return static_cast<unsigned>(bits);
}

// ---- PKey: export ----

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

Bytes PKey::ec_point() const {
  const char* what = "cannot export EC public point";
  EVP_PKEY* pk = impl_->pkey.get();
  if (impl_->type == Type::ed25519) {
    Bytes out(32);
    size_t len = out.size();
    detail::check(EVP_PKEY_get_raw_public_key(pk, out.data(), &len), what);
    out.resize(len);
    return out;
  }
  require_type(*impl_, Type::ec, what);
  size_t fb = detail::field_bytes(*impl_->curve);
  Bytes out(1 + 2 * fb);
  size_t len = 0;
  detail::check(
      EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, out.data(), out.size(), &len),
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
  if (impl_->type == Type::ed25519) {
    SecureBytes out(32);
    size_t len = out.size();
    detail::check(EVP_PKEY_get_raw_private_key(pk, out.data(), &len), what);
    out.resize(len);
    return out;
  }
  require_type(*impl_, Type::ec, what);
  BIGNUM* raw = nullptr;
  detail::check(EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY, &raw), what);
  detail::SecretBnPtr d(raw);
  SecureBytes out(detail::field_bytes(*impl_->curve));
  if (BN_bn2binpad(d.get(), out.data(), static_cast<int>(out.size())) < 0) {
    detail::throw_openssl(what);
  }
  return out;
}

Bytes PKey::public_der() const {
  unsigned char* raw = nullptr;
  int len = i2d_PUBKEY(impl_->pkey.get(), &raw);
  if (len <= 0) {
    detail::throw_openssl("cannot encode SubjectPublicKeyInfo");
  }
  detail::OpenSslBufPtr buf(raw);
  return Bytes(raw, raw + len);
}

SecureBytes PKey::private_der() const {
  const char* what = "cannot encode PKCS#8 private key";
  require_private(*impl_, what);
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, detail::Deleter<&PKCS8_PRIV_KEY_INFO_free>> info(
      EVP_PKEY2PKCS8(impl_->pkey.get()));
  if (!info) {
    detail::throw_openssl(what);
  }
  unsigned char* raw = nullptr;
  int len = i2d_PKCS8_PRIV_KEY_INFO(info.get(), &raw);
  if (len <= 0) {
    detail::throw_openssl(what);
  }
  SecureBytes out(raw, raw + len);
  OPENSSL_clear_free(raw, static_cast<size_t>(len));
  return out;
}

SecureBytes PKey::ecdh(ByteView peer_point) const {
  const char* what = "ECDH failed";
  if (impl_->type != Type::ec) {
    throw UsageError("ECDH needs an EC key on P-256, P-384 or P-521");
  }
  require_private(*impl_, what);
  PKey peer = ec_public(*impl_->curve, peer_point);
  detail::PkeyCtxPtr ctx(
      detail::not_null(EVP_PKEY_CTX_new_from_pkey(detail::libctx(), impl_->pkey.get(), nullptr), what));
  detail::check(EVP_PKEY_derive_init(ctx.get()), what);
  detail::check(EVP_PKEY_derive_set_peer_ex(ctx.get(), peer.impl().pkey.get(), 1), what);
  size_t len = 0;
  detail::check(EVP_PKEY_derive(ctx.get(), nullptr, &len), what);
  SecureBytes out(len);
  detail::check(EVP_PKEY_derive(ctx.get(), out.data(), &len), what);
  out.resize(len);
  return out;
}

}  // namespace twinhsm::crypto
