// Key generation (mechanisms.h): the attributes of generated secret keys, domain parameters and
// key pairs. The policy checks are the caller's (key_management.cc).
#include <tuple>

#include "crypto/random.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/key_material.h"
#include "token/mechanisms.h"

namespace twinhsm::token {

namespace {

constexpr CK_ULONG kMaxSecretKey = 512;

// SecretKind: what a secret key generation mechanism makes.
struct SecretKind {
  CK_MECHANISM_TYPE mechanism;
  CK_KEY_TYPE key_type;
  CK_ULONG min_len, max_len;  // CKA_VALUE_LEN's range
  CK_ULONG fixed_len;  // nonzero: the length when CKA_VALUE_LEN is not given (or the only one)
};

constexpr SecretKind kSecretKinds[] = {
    {CKM_AES_KEY_GEN, CKK_AES, 16, 32, 0},
    {CKM_AES_XTS_KEY_GEN, CKK_AES_XTS, 32, 64, 0},
    {CKM_GENERIC_SECRET_KEY_GEN, CKK_GENERIC_SECRET, 1, kMaxSecretKey, 0},
    {CKM_HKDF_KEY_GEN, CKK_HKDF, 1, kMaxSecretKey, 0},
    {CKM_CHACHA20_KEY_GEN, CKK_CHACHA20, 32, 32, 32},
    {CKM_DES_KEY_GEN, CKK_DES, 8, 8, 8},
    {CKM_DES2_KEY_GEN, CKK_DES2, 16, 16, 16},
    {CKM_DES3_KEY_GEN, CKK_DES3, 24, 24, 24},
};

bool length_fits(const SecretKind& k, CK_ULONG len) {
  if (k.key_type == CKK_AES) {
    return len == 16 || len == 24 || len == 32;
  }
  if (k.key_type == CKK_AES_XTS) {
    return len == 32 || len == 64;
  }
  return len >= k.min_len && len <= k.max_len;
}

// random_value draws a key of the kind: DES keys with odd parity in every byte (FIPS 46-3),
// XTS keys with two different halves.
SecureBytes random_value(const SecretKind& k, size_t len) {
  while (true) {
    SecureBytes v = crypto::random_secret(len);
    if (k.key_type == CKK_DES || k.key_type == CKK_DES2 || k.key_type == CKK_DES3) {
      for (uint8_t& b : v) {
        uint8_t high = b & 0xfe;
        b = static_cast<uint8_t>(high | !(__builtin_popcount(high) & 1));
      }
    }
    if (k.key_type != CKK_AES_XTS ||
        !crypto::ct_equal(std::span(v).first(len / 2), std::span(v).subspan(len / 2))) {
      return v;
    }
  }
}

AttributeMap generated_domain_parameters(const Mechanism& m, const AttributeMap& tmpl) {
  bool dsa = m.type == CKM_DSA_PARAMETER_GEN;
  auto p_bits = tmpl.get_ulong(CKA_PRIME_BITS);
  require(p_bits.has_value(), CKR_TEMPLATE_INCOMPLETE, "parameter generation needs CKA_PRIME_BITS");
  const MechanismInfo* info = mechanism_info(m.type);
  require(*p_bits >= info->min_key_size && *p_bits <= info->max_key_size, CKR_KEY_SIZE_RANGE,
          "CKA_PRIME_BITS is out of the mechanism's range");
  AttributeMap request = tmpl;
  request.erase(CKA_PRIME_BITS);
  request.erase(CKA_SUB_PRIME_BITS);
  AttributeMap a = complete_template(request, Origin::generated, CKO_DOMAIN_PARAMETERS,
                                     dsa ? CKK_DSA : CKK_DH, m.type);
  crypto::FfcParams params;
  try {
    if (dsa) {
      CK_ULONG q_bits = tmpl.get_ulong(CKA_SUB_PRIME_BITS)
                            .value_or(*p_bits >= 3072   ? 256
                                      : *p_bits >= 2048 ? 224
                                                        : 160);
      params = crypto::PKey::generate_dsa_params(static_cast<unsigned>(*p_bits),
                                                 static_cast<unsigned>(q_bits));
    } else {
      params = crypto::PKey::generate_dh_params(static_cast<unsigned>(*p_bits));
    }
  } catch (const CryptoError&) {
    throw CkError(CKR_TEMPLATE_INCONSISTENT, "OpenSSL cannot make parameters of these sizes");
  }
  set_domain_attributes(a, params);
  return a;
}

// ec_key_type is the key type a curve key generation mechanism makes.
CK_KEY_TYPE ec_key_type(CK_MECHANISM_TYPE m) {
  switch (m) {
    case CKM_EC_KEY_PAIR_GEN:
      return CKK_EC;
    case CKM_EC_EDWARDS_KEY_PAIR_GEN:
      return CKK_EC_EDWARDS;
    default:
      return CKK_EC_MONTGOMERY;
  }
}

crypto::CurveFamily family_of(CK_KEY_TYPE kt) {
  return kt == CKK_EC           ? crypto::CurveFamily::weierstrass
         : kt == CKK_EC_EDWARDS ? crypto::CurveFamily::edwards
                                : crypto::CurveFamily::montgomery;
}

Bytes either(const AttributeMap& a, const AttributeMap& b, CK_ATTRIBUTE_TYPE type) {
  Bytes v = a.get_bytes(type);
  return v.empty() ? b.get_bytes(type) : v;
}

}  // namespace

AttributeMap generated_key_attributes(const Mechanism& mechanism, const AttributeMap& tmpl) {
  if (mechanism.type == CKM_DSA_PARAMETER_GEN || mechanism.type == CKM_DH_PKCS_PARAMETER_GEN) {
    return generated_domain_parameters(mechanism, tmpl);
  }
  const SecretKind* kind = nullptr;
  for (const auto& k : kSecretKinds) {
    if (k.mechanism == mechanism.type) {
      kind = &k;
    }
  }
  require(kind != nullptr, CKR_MECHANISM_INVALID, "the mechanism does not generate secret keys");
  auto len = tmpl.get_ulong(CKA_VALUE_LEN);
  require(len.has_value() || kind->fixed_len != 0, CKR_TEMPLATE_INCOMPLETE,
          "secret key generation needs CKA_VALUE_LEN");
  CK_ULONG n = len.value_or(kind->fixed_len);
  require(length_fits(*kind, n), CKR_ATTRIBUTE_VALUE_INVALID,
          "CKA_VALUE_LEN is not a length of the mechanism's keys");
  AttributeMap request = tmpl;
  request.erase(CKA_VALUE_LEN);
  AttributeMap a =
      complete_template(request, Origin::generated, CKO_SECRET_KEY, kind->key_type, mechanism.type);
  a.set(CKA_VALUE, random_value(*kind, n));
  finish_key(a, Origin::generated);
  return a;
}

std::pair<AttributeMap, AttributeMap> generated_pair_attributes(const Mechanism& mechanism,
                                                                const AttributeMap& public_tmpl,
                                                                const AttributeMap& private_tmpl,
                                                                AlgorithmPolicy policy) {
  AttributeMap pub_request = public_tmpl;
  AttributeMap priv_request = private_tmpl;
  std::optional<crypto::PKey> key;
  CK_KEY_TYPE kt;
  bool legacy = policy == AlgorithmPolicy::legacy;
  Bytes explicit_params;
  switch (mechanism.type) {
    case CKM_RSA_PKCS_KEY_PAIR_GEN: {
      kt = CKK_RSA;
      auto bits = public_tmpl.get_ulong(CKA_MODULUS_BITS);
      require(bits.has_value(), CKR_TEMPLATE_INCOMPLETE,
              "RSA key generation needs CKA_MODULUS_BITS");
      require(*bits >= (legacy ? 1024u : 2048u) && *bits <= 4096, CKR_KEY_SIZE_RANGE,
              "RSA keys are generated with 2048 to 4096 bits (1024 on legacy devices)");
      Bytes exponent = public_tmpl.get_bytes(CKA_PUBLIC_EXPONENT);
      if (exponent.empty()) {
        exponent = {0x01, 0x00, 0x01};
      }
      pub_request.erase(CKA_MODULUS_BITS);
      try {
        key = crypto::PKey::generate_rsa(static_cast<unsigned>(*bits), exponent);
      } catch (const CryptoError&) {
        throw CkError(CKR_ATTRIBUTE_VALUE_INVALID, "the RSA public exponent is not usable");
      }
      break;
    }
    case CKM_EC_KEY_PAIR_GEN:
    case CKM_EC_EDWARDS_KEY_PAIR_GEN:
    case CKM_EC_MONTGOMERY_KEY_PAIR_GEN: {
      kt = ec_key_type(mechanism.type);
      Bytes params = either(public_tmpl, private_tmpl, CKA_EC_PARAMS);
      require(!params.empty(), CKR_TEMPLATE_INCOMPLETE, "EC key generation needs CKA_EC_PARAMS");
      auto curve = crypto::curve_from_params(params);
      require(curve.has_value(), CKR_CURVE_NOT_SUPPORTED,
              "CKA_EC_PARAMS names an unsupported curve");
      require(crypto::curve_family(*curve) == family_of(kt), CKR_TEMPLATE_INCONSISTENT,
              "the curve does not fit the mechanism");
      bool is_explicit = crypto::params_are_explicit(params);
      require(legacy || (!is_explicit && *curve != crypto::Curve::p192), CKR_CURVE_NOT_SUPPORTED,
              "P-192 and explicit curve parameters need the legacy algorithm policy");
      if (is_explicit) {
        explicit_params = params;  // kept as given, as SoftHSMv2 keeps them
      }
      key = crypto::PKey::generate_ec(*curve);
      break;
    }
    case CKM_DSA_KEY_PAIR_GEN:
    case CKM_DH_PKCS_KEY_PAIR_GEN: {
      bool dsa = mechanism.type == CKM_DSA_KEY_PAIR_GEN;
      kt = dsa ? CKK_DSA : CKK_DH;
      crypto::FfcParams params{either(public_tmpl, private_tmpl, CKA_PRIME),
                               dsa ? either(public_tmpl, private_tmpl, CKA_SUBPRIME) : Bytes(),
                               either(public_tmpl, private_tmpl, CKA_BASE)};
      require(!params.p.empty() && !params.g.empty() && (!dsa || !params.q.empty()),
              CKR_TEMPLATE_INCOMPLETE,
              "DSA and DH key generation need CKA_PRIME, CKA_BASE (and DSA's CKA_SUBPRIME)");
      auto value_bits = private_tmpl.get_ulong(CKA_VALUE_BITS).value_or(0);
      priv_request.erase(CKA_VALUE_BITS);
      try {
        key = dsa ? crypto::PKey::generate_dsa(params)
                  : crypto::PKey::generate_dh(params, static_cast<unsigned>(value_bits));
      } catch (const CryptoError&) {
        throw CkError(CKR_DOMAIN_PARAMS_INVALID, "the domain parameters do not make keys");
      }
      const MechanismInfo* info = mechanism_info(mechanism.type);
      require(key->bits() >= info->min_key_size && key->bits() <= info->max_key_size,
              CKR_KEY_SIZE_RANGE, "the prime's size is out of the mechanism's range");
      break;
    }
    default:
      throw CkError(CKR_MECHANISM_INVALID, "the mechanism does not generate key pairs");
  }
  // The halves' usage defaults follow the pair: when the private key is hidden (sensitive or
  // unextractable), the pair wraps and unwraps keys only when one half asks, and then neither
  // half encrypts or decrypts unless asked (key_policy.h: wrapping apart from data).
  bool hidden =
      private_tmpl.get_bool(CKA_SENSITIVE, true) || !private_tmpl.get_bool(CKA_EXTRACTABLE, false);
  if (kt == CKK_RSA && hidden) {
    bool wraps = public_tmpl.get_bool(CKA_WRAP, false) || private_tmpl.get_bool(CKA_UNWRAP, false);
    for (auto [request, keys, data] : {std::tuple{&pub_request, CKA_WRAP, CKA_ENCRYPT},
                                       std::tuple{&priv_request, CKA_UNWRAP, CKA_DECRYPT}}) {
      if (!request->has(keys)) {
        request->set_bool(keys, wraps);
      }
      if (!request->has(data)) {
        request->set_bool(data, !wraps);
      }
    }
  }
  AttributeMap pub =
      complete_template(pub_request, Origin::generated, CKO_PUBLIC_KEY, kt, mechanism.type);
  AttributeMap priv =
      complete_template(priv_request, Origin::generated, CKO_PRIVATE_KEY, kt, mechanism.type);
  set_public_attributes(pub, *key);
  set_private_attributes(priv, *key);
  // A pair whose private key may only make RSA-PSS signatures is an RSASSA-PSS key (RFC 4055 1.2:
  // its owner limits the public key to RSASSA-PSS): a public key without a list of its own shows
  // the same SubjectPublicKeyInfo (pkcs11-provider, for one, restricts only the private half).
  const SecureBytes* pub_allowed = pub.find(CKA_ALLOWED_MECHANISMS);
  if (kt == CKK_RSA && (!pub_allowed || pub_allowed->empty()) && allowed_only_rsa_pss(priv)) {
    pub.set(CKA_PUBLIC_KEY_INFO, *priv.find(CKA_PUBLIC_KEY_INFO));
  }
  if (!explicit_params.empty()) {
    pub.set(CKA_EC_PARAMS, ByteView(explicit_params));
    priv.set(CKA_EC_PARAMS, ByteView(explicit_params));
  }
  finish_key(priv, Origin::generated);
  return {std::move(pub), std::move(priv)};
}

}  // namespace twinhsm::token
