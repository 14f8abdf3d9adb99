// Asymmetric keys over EVP_PKEY, the part every key type shares: what a key is (make_impl), the
// helpers of pkey_impl.h, SubjectPublicKeyInfo and PKCS#8 encodings, and key agreement. Each
// family's generation, import and export: pkey_rsa.cc, pkey_ec.cc, pkey_ffc.cc.
#include "crypto/pkey.h"

#include <openssl/x509.h>

#include <string>
#include <string_view>

#include "crypto/curve_table.h"
#include "crypto/pkey_impl.h"

namespace twinhsm::crypto {

namespace detail {

std::shared_ptr<PKey::Impl> make_impl(PkeyPtr pkey, bool has_private) {
  auto impl = std::make_shared<PKey::Impl>();
  EVP_PKEY* pk = pkey.get();
  if (EVP_PKEY_is_a(pk, "RSA")) {
    impl->type = PKey::Type::rsa;
  } else if (EVP_PKEY_is_a(pk, "DSA")) {
    impl->type = PKey::Type::dsa;
  } else if (EVP_PKEY_is_a(pk, "DH")) {
    impl->type = PKey::Type::dh;
  } else if (const CurveInfo* raw = curve_of_key_type(pk)) {
    impl->type =
        curve_family(raw->curve) == CurveFamily::edwards ? PKey::Type::eddsa : PKey::Type::xdh;
    impl->curve = raw->curve;
  } else if (EVP_PKEY_is_a(pk, "EC")) {
    impl->type = PKey::Type::ec;
    char name[64] = {};
    size_t len = 0;
    check(EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len),
          "EC key has no named curve");
    const CurveInfo* c = curve_of_group(std::string_view(name, len));
    if (c == nullptr) {
      throw CryptoError("unsupported EC curve: " + std::string(name, len));
    }
    impl->curve = c->curve;
    check(EVP_PKEY_set_utf8_string_param(pk, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                         OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED),
          "EC point format");
  } else {
    throw CryptoError(
        "unsupported key type (twinhsm handles RSA, EC, EdDSA, X25519/X448, DSA, DH)");
  }
  impl->pkey = std::move(pkey);
  impl->has_private = has_private;
  return impl;
}

// The type is named by its OID, not "EC"/"RSA": for a name OpenSSL knows the NID of,
// EVP_PKEY_CTX_new_from_name first looks for an ENGINE's key method registered for that NID (the
// libp11 engine registers some in `openssl -engine pkcs11`, and a configuration file can make an
// engine the default for all), and an engine's legacy method cannot import or generate keys from
// parameters.
PkeyCtxPtr provider_ctx(const char* type, const char* what) {
  static constexpr std::pair<std::string_view, const char*> kOids[] = {
      {"EC", "1.2.840.10045.2.1"},   {"RSA", "1.2.840.113549.1.1.1"},
      {"ED25519", "1.3.101.112"},    {"RSA-PSS", "1.2.840.113549.1.1.10"},
      {"ED448", "1.3.101.113"},      {"X25519", "1.3.101.110"},
      {"X448", "1.3.101.111"},       {"DSA", "1.2.840.10040.4.1"},
      {"DH", "1.2.840.113549.1.3.1"}};
  const char* name = type;
  for (const auto& [t, oid] : kOids) {
    if (t == type) {
      name = oid;
    }
  }
  return PkeyCtxPtr(not_null(EVP_PKEY_CTX_new_from_name(libctx(), name, nullptr), what));
}

PkeyPtr from_data(const char* type, int selection, const OSSL_PARAM* params, const char* what) {
  PkeyCtxPtr ctx = provider_ctx(type, what);
  check(EVP_PKEY_fromdata_init(ctx.get()), what);
  EVP_PKEY* raw = nullptr;
  check(EVP_PKEY_fromdata(ctx.get(), &raw, selection, const_cast<OSSL_PARAM*>(params)), what);
  return PkeyPtr(raw);
}

// OpenSSL 3.0 gives a context made from a key to an application's default ENGINE when it has a
// key method for the key's type, whatever the library context: that legacy check answers -2 (not
// supported), and the key is then used unchecked, as the engine would use it.
void validate(EVP_PKEY* pkey, bool with_private, const char* what) {
  PkeyCtxPtr ctx(not_null(EVP_PKEY_CTX_new_from_pkey(libctx(), pkey, nullptr), what));
  int rc = with_private ? EVP_PKEY_check(ctx.get()) : EVP_PKEY_public_check(ctx.get());
  if (rc == -2) {
    ERR_clear_error();
    return;
  }
  check(rc, what);
}

ParamsPtr to_params(OSSL_PARAM_BLD* bld, const char* what) {
  return ParamsPtr(not_null(OSSL_PARAM_BLD_to_param(bld), what));
}

BnPtr bn_from(ByteView b, const char* what) {
  return BnPtr(not_null(BN_bin2bn(b.data(), checked_int(b.size(), what), nullptr), what));
}

SecretBnPtr secret_bn_from(std::span<const uint8_t> b, const char* what) {
  SecretBnPtr bn(not_null(BN_secure_new(), what));
  not_null(BN_bin2bn(b.data(), checked_int(b.size(), what), bn.get()), what);
  return bn;
}

BnPtr get_bn(EVP_PKEY* pkey, const char* name, const char* what) {
  BIGNUM* bn = nullptr;
  check(EVP_PKEY_get_bn_param(pkey, name, &bn), what);
  return BnPtr(bn);
}

Bytes bn_bytes(const BIGNUM* bn) {
  Bytes out(static_cast<size_t>(BN_num_bytes(bn)));
  BN_bn2bin(bn, out.data());
  return out;
}

SecureBytes secret_bn_bytes(EVP_PKEY* pkey, const char* name, const char* what) {
  BIGNUM* raw = nullptr;
  check(EVP_PKEY_get_bn_param(pkey, name, &raw), what);
  SecretBnPtr bn(raw);
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

}  // namespace detail

// ---- PKey: properties ----

PKey::PKey(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {
  if (!impl_ || !impl_->pkey) {
    throw UsageError("PKey made from an empty key");
  }
}

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

// ---- Encodings ----

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
  detail::require_private(*impl_, what);
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
  auto impl = detail::make_impl(std::move(pkey), false);
  detail::validate(impl->pkey.get(), false, "invalid public key in SubjectPublicKeyInfo");
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
  auto impl = detail::make_impl(std::move(pkey), true);
  detail::validate(impl->pkey.get(), true, what);
  return PKey(std::move(impl));
}

// ---- Key agreement ----

SecureBytes PKey::agree(ByteView peer_public) const {
  const char* what = "key agreement failed";
  std::optional<PKey> peer;
  switch (impl_->type) {
    case Type::ec:
    case Type::xdh:
      peer = ec_public(*impl_->curve, peer_public);
      break;
    case Type::dh:
      peer = ffc_public(Type::dh, ffc_params(), peer_public);
      break;
    default:
      throw UsageError("key agreement needs an EC, X25519/X448 or DH key");
  }
  detail::require_private(*impl_, what);
  detail::PkeyCtxPtr ctx(detail::not_null(
      EVP_PKEY_CTX_new_from_pkey(detail::libctx(), impl_->pkey.get(), nullptr), what));
  detail::check(EVP_PKEY_derive_init(ctx.get()), what);
  if (impl_->type == Type::dh) {
    int pad = 1;  // PKCS#3: the secret is as long as p
    OSSL_PARAM params[] = {OSSL_PARAM_construct_int(OSSL_EXCHANGE_PARAM_PAD, &pad),
                           OSSL_PARAM_construct_end()};
    detail::check(EVP_PKEY_CTX_set_params(ctx.get(), params), what);
  }
  detail::check(EVP_PKEY_derive_set_peer_ex(ctx.get(), peer->impl().pkey.get(), 1), what);
  size_t len = 0;
  detail::check(EVP_PKEY_derive(ctx.get(), nullptr, &len), what);
  SecureBytes out(len);
  detail::check(EVP_PKEY_derive(ctx.get(), out.data(), &len), what);
  out.resize(len);
  return out;
}

}  // namespace twinhsm::crypto
