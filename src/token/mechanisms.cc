#include "token/mechanisms.h"

#include <array>
#include <cstring>
#include <tuple>

#include "crypto/random.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/key_material.h"

namespace twinhsm::token {

namespace {

// CKF_HW: the device performs every mechanism; keys never leave it. Key sizes as PKCS#11 defines
// them per mechanism: RSA, EC and generic secret key generation in bits; AES and HMAC in bytes.
constexpr CK_FLAGS kEcFlags = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
constexpr CK_FLAGS kSignVerify = CKF_HW | CKF_SIGN | CKF_VERIFY;
constexpr CK_FLAGS kEncryptDecrypt = CKF_HW | CKF_ENCRYPT | CKF_DECRYPT;
constexpr CK_FLAGS kWrapUnwrap = CKF_HW | CKF_WRAP | CKF_UNWRAP;
constexpr CK_ULONG kMaxHmacKey = 512;  // bytes; also the limit of CKM_GENERIC_SECRET_KEY_GEN

// A constant array, not a std::vector: no destructor runs at exit (docs/architecture.md, Teardown).
constexpr auto kMechanisms = std::to_array<MechanismInfo>({
    // Key generation.
    {CKM_RSA_PKCS_KEY_PAIR_GEN, 2048, 4096, CKF_HW | CKF_GENERATE_KEY_PAIR},
    {CKM_EC_KEY_PAIR_GEN, 256, 521, CKF_HW | CKF_GENERATE_KEY_PAIR | kEcFlags},
    {CKM_EC_EDWARDS_KEY_PAIR_GEN, 255, 255, CKF_HW | CKF_GENERATE_KEY_PAIR},
    {CKM_AES_KEY_GEN, 16, 32, CKF_HW | CKF_GENERATE},
    {CKM_GENERIC_SECRET_KEY_GEN, 8, 8 * kMaxHmacKey, CKF_HW | CKF_GENERATE},
    // RSA.
    {CKM_RSA_PKCS, 1024, 16384, kSignVerify | kEncryptDecrypt},
    {CKM_SHA1_RSA_PKCS, 1024, 16384, kSignVerify},
    {CKM_SHA224_RSA_PKCS, 1024, 16384, kSignVerify},
    {CKM_SHA256_RSA_PKCS, 1024, 16384, kSignVerify},
    {CKM_SHA384_RSA_PKCS, 1024, 16384, kSignVerify},
    {CKM_SHA512_RSA_PKCS, 1024, 16384, kSignVerify},
    {CKM_RSA_PKCS_PSS, 1024, 16384, kSignVerify},
    {CKM_SHA1_RSA_PKCS_PSS, 1024, 16384, kSignVerify},
    {CKM_SHA224_RSA_PKCS_PSS, 1024, 16384, kSignVerify},
    {CKM_SHA256_RSA_PKCS_PSS, 1024, 16384, kSignVerify},
    {CKM_SHA384_RSA_PKCS_PSS, 1024, 16384, kSignVerify},
    {CKM_SHA512_RSA_PKCS_PSS, 1024, 16384, kSignVerify},
    {CKM_RSA_PKCS_OAEP, 1024, 16384, kEncryptDecrypt | kWrapUnwrap},
    // EC and Edwards curves.
    {CKM_ECDSA, 256, 521, kSignVerify | kEcFlags},
    {CKM_ECDSA_SHA1, 256, 521, kSignVerify | kEcFlags},
    {CKM_ECDSA_SHA224, 256, 521, kSignVerify | kEcFlags},
    {CKM_ECDSA_SHA256, 256, 521, kSignVerify | kEcFlags},
    {CKM_ECDSA_SHA384, 256, 521, kSignVerify | kEcFlags},
    {CKM_ECDSA_SHA512, 256, 521, kSignVerify | kEcFlags},
    {CKM_EDDSA, 255, 255, kSignVerify},
    {CKM_ECDH1_DERIVE, 256, 521, CKF_HW | CKF_DERIVE | kEcFlags},
    // MACs with secret keys.
    {CKM_SHA_1_HMAC, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA224_HMAC, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA256_HMAC, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA384_HMAC, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA512_HMAC, 1, kMaxHmacKey, kSignVerify},
    {CKM_AES_CMAC, 16, 32, kSignVerify},
    // AES.
    {CKM_AES_ECB, 16, 32, kEncryptDecrypt},
    {CKM_AES_CBC, 16, 32, kEncryptDecrypt},
    {CKM_AES_CBC_PAD, 16, 32, kEncryptDecrypt | kWrapUnwrap},
    {CKM_AES_CTR, 16, 32, kEncryptDecrypt},
    {CKM_AES_GCM, 16, 32, kEncryptDecrypt},
    {CKM_AES_KEY_WRAP, 16, 32, kWrapUnwrap},
    {CKM_AES_KEY_WRAP_PAD, 16, 32, kWrapUnwrap},
    // Digests.
    {CKM_SHA_1, 0, 0, CKF_HW | CKF_DIGEST},
    {CKM_SHA224, 0, 0, CKF_HW | CKF_DIGEST},
    {CKM_SHA256, 0, 0, CKF_HW | CKF_DIGEST},
    {CKM_SHA384, 0, 0, CKF_HW | CKF_DIGEST},
    {CKM_SHA512, 0, 0, CKF_HW | CKF_DIGEST},
});

struct SignMechanism {
  CK_MECHANISM_TYPE type;
  crypto::SignatureScheme::Kind kind;
  std::optional<crypto::DigestAlg> digest;
};

using Kind = crypto::SignatureScheme::Kind;
using crypto::DigestAlg;

constexpr SignMechanism kSignMechanisms[] = {
    {CKM_RSA_PKCS, Kind::rsa_pkcs1, std::nullopt},
    {CKM_SHA1_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::sha1},
    {CKM_SHA224_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::sha224},
    {CKM_SHA256_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::sha256},
    {CKM_SHA384_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::sha384},
    {CKM_SHA512_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::sha512},
    {CKM_RSA_PKCS_PSS, Kind::rsa_pss, std::nullopt},
    {CKM_SHA1_RSA_PKCS_PSS, Kind::rsa_pss, DigestAlg::sha1},
    {CKM_SHA224_RSA_PKCS_PSS, Kind::rsa_pss, DigestAlg::sha224},
    {CKM_SHA256_RSA_PKCS_PSS, Kind::rsa_pss, DigestAlg::sha256},
    {CKM_SHA384_RSA_PKCS_PSS, Kind::rsa_pss, DigestAlg::sha384},
    {CKM_SHA512_RSA_PKCS_PSS, Kind::rsa_pss, DigestAlg::sha512},
    {CKM_ECDSA, Kind::ecdsa, std::nullopt},
    {CKM_ECDSA_SHA1, Kind::ecdsa, DigestAlg::sha1},
    {CKM_ECDSA_SHA224, Kind::ecdsa, DigestAlg::sha224},
    {CKM_ECDSA_SHA256, Kind::ecdsa, DigestAlg::sha256},
    {CKM_ECDSA_SHA384, Kind::ecdsa, DigestAlg::sha384},
    {CKM_ECDSA_SHA512, Kind::ecdsa, DigestAlg::sha512},
    {CKM_EDDSA, Kind::eddsa, std::nullopt},
};

void require_key_type(const AttributeMap& key, CK_KEY_TYPE wanted) {
  require(key_type(key) == wanted, CKR_KEY_TYPE_INCONSISTENT,
          "the key's type does not fit the mechanism");
}

}  // namespace

std::optional<DigestAlg> digest_of_mechanism(CK_MECHANISM_TYPE hash) {
  switch (hash) {
    case CKM_SHA_1: return DigestAlg::sha1;
    case CKM_SHA224: return DigestAlg::sha224;
    case CKM_SHA256: return DigestAlg::sha256;
    case CKM_SHA384: return DigestAlg::sha384;
    case CKM_SHA512: return DigestAlg::sha512;
    default: return std::nullopt;
  }
}

std::optional<DigestAlg> digest_of_mgf(CK_RSA_PKCS_MGF_TYPE mgf) {
  switch (mgf) {
    case CKG_MGF1_SHA1: return DigestAlg::sha1;
    case CKG_MGF1_SHA224: return DigestAlg::sha224;
    case CKG_MGF1_SHA256: return DigestAlg::sha256;
    case CKG_MGF1_SHA384: return DigestAlg::sha384;
    case CKG_MGF1_SHA512: return DigestAlg::sha512;
    default: return std::nullopt;
  }
}

const SecureBytes& secret_value(const AttributeMap& key) {
  require(object_class(key) == CKO_SECRET_KEY, CKR_KEY_TYPE_INCONSISTENT,
          "the mechanism needs a secret key");
  const SecureBytes* value = key.find(CKA_VALUE);
  require(value != nullptr, CKR_KEY_HANDLE_INVALID, "the key has no value");
  return *value;
}

std::span<const MechanismInfo> mechanisms() { return kMechanisms; }

const MechanismInfo* mechanism_info(CK_MECHANISM_TYPE type) {
  for (const auto& m : kMechanisms) {
    if (m.type == type) {
      return &m;
    }
  }
  return nullptr;
}

void check_allowed(const AttributeMap& key, CK_MECHANISM_TYPE mechanism) {
  const SecureBytes* allowed = key.find(CKA_ALLOWED_MECHANISMS);
  if (!allowed || allowed->empty()) {
    return;
  }
  require(allowed->size() % sizeof(CK_MECHANISM_TYPE) == 0, CKR_MECHANISM_INVALID,
          "the key's CKA_ALLOWED_MECHANISMS is malformed");
  for (size_t i = 0; i < allowed->size(); i += sizeof(CK_MECHANISM_TYPE)) {
    CK_MECHANISM_TYPE m;
    std::memcpy(&m, allowed->data() + i, sizeof m);
    if (m == mechanism) {
      return;
    }
  }
  throw CkError(CKR_MECHANISM_INVALID, "the key's CKA_ALLOWED_MECHANISMS does not name the mechanism");
}

crypto::SignatureScheme signature_scheme(const Mechanism& mechanism, const AttributeMap& key) {
  const SignMechanism* found = nullptr;
  for (const auto& m : kSignMechanisms) {
    if (m.type == mechanism.type) {
      found = &m;
    }
  }
  require(found != nullptr, CKR_MECHANISM_INVALID, "the mechanism cannot sign or verify");
  crypto::SignatureScheme scheme{found->kind, found->digest};
  switch (found->kind) {
    case Kind::rsa_pkcs1:
      require_key_type(key, CKK_RSA);
      break;
    case Kind::rsa_pss: {
      require_key_type(key, CKK_RSA);
      const auto* p = std::get_if<PssParams>(&mechanism.params);
      require(p != nullptr, CKR_MECHANISM_PARAM_INVALID, "PSS needs CK_RSA_PKCS_PSS_PARAMS");
      auto hash = digest_of_mechanism(p->hash);
      auto mgf = digest_of_mgf(p->mgf);
      require(hash && mgf, CKR_MECHANISM_PARAM_INVALID, "PSS parameters name an unknown hash");
      require(!found->digest || *found->digest == *hash, CKR_MECHANISM_PARAM_INVALID,
              "the PSS parameters' hash differs from the mechanism's");
      scheme.pss_hash = *hash;
      scheme.mgf1 = *mgf;
      scheme.salt_len = p->salt_len;
      break;
    }
    case Kind::ecdsa:
      require_key_type(key, CKK_EC);
      break;
    case Kind::eddsa:
      require_key_type(key, CKK_EC_EDWARDS);
      break;
  }
  return scheme;
}

AttributeMap generated_secret_attributes(const Mechanism& mechanism, const AttributeMap& tmpl) {
  bool aes = mechanism.type == CKM_AES_KEY_GEN;
  require(aes || mechanism.type == CKM_GENERIC_SECRET_KEY_GEN, CKR_MECHANISM_INVALID,
          "the mechanism does not generate secret keys");
  auto len = tmpl.get_ulong(CKA_VALUE_LEN);
  require(len.has_value(), CKR_TEMPLATE_INCOMPLETE, "secret key generation needs CKA_VALUE_LEN");
  if (aes) {
    require(*len == 16 || *len == 24 || *len == 32, CKR_ATTRIBUTE_VALUE_INVALID,
            "CKA_VALUE_LEN of an AES key must be 16, 24 or 32");
  } else {
    require(*len >= 1 && *len <= kMaxHmacKey, CKR_ATTRIBUTE_VALUE_INVALID,
            "CKA_VALUE_LEN of a generic secret key must be 1 to 512");
  }
  AttributeMap request = tmpl;
  request.erase(CKA_VALUE_LEN);
  AttributeMap a = complete_template(request, Origin::generated, CKO_SECRET_KEY,
                                     aes ? CKK_AES : CKK_GENERIC_SECRET, mechanism.type);
  a.set(CKA_VALUE, crypto::random_secret(*len));
  finish_key(a, Origin::generated);
  return a;
}

std::pair<AttributeMap, AttributeMap> generated_pair_attributes(const Mechanism& mechanism,
                                                        const AttributeMap& public_tmpl,
                                                        const AttributeMap& private_tmpl) {
  AttributeMap pub_request = public_tmpl;
  std::optional<crypto::PKey> key;
  CK_KEY_TYPE kt;
  if (mechanism.type == CKM_RSA_PKCS_KEY_PAIR_GEN) {
    kt = CKK_RSA;
    auto bits = public_tmpl.get_ulong(CKA_MODULUS_BITS);
    require(bits.has_value(), CKR_TEMPLATE_INCOMPLETE, "RSA key generation needs CKA_MODULUS_BITS");
    require(*bits >= 2048 && *bits <= 4096, CKR_KEY_SIZE_RANGE,
            "RSA keys are generated with 2048 to 4096 bits");
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
  } else if (mechanism.type == CKM_EC_KEY_PAIR_GEN ||
             mechanism.type == CKM_EC_EDWARDS_KEY_PAIR_GEN) {
    kt = mechanism.type == CKM_EC_KEY_PAIR_GEN ? CKK_EC : CKK_EC_EDWARDS;
    Bytes params = public_tmpl.get_bytes(CKA_EC_PARAMS);
    if (params.empty()) {
      params = private_tmpl.get_bytes(CKA_EC_PARAMS);
    }
    require(!params.empty(), CKR_TEMPLATE_INCOMPLETE, "EC key generation needs CKA_EC_PARAMS");
    auto curve = crypto::curve_from_params(params);
    require(curve.has_value(), CKR_CURVE_NOT_SUPPORTED, "CKA_EC_PARAMS names an unsupported curve");
    require((*curve == crypto::Curve::ed25519) == (kt == CKK_EC_EDWARDS), CKR_TEMPLATE_INCONSISTENT,
            "the curve does not fit the mechanism");
    key = crypto::PKey::generate_ec(*curve);
  } else {
    throw CkError(CKR_MECHANISM_INVALID, "the mechanism does not generate key pairs");
  }
  // The halves' usage defaults follow the pair: when the private key is hidden (sensitive or
  // unextractable), the pair wraps and unwraps keys only when one half asks, and then neither
  // half encrypts or decrypts unless asked (key_policy.h: wrapping apart from data).
  AttributeMap priv_request = private_tmpl;
  bool hidden = private_tmpl.get_bool(CKA_SENSITIVE, true) ||
                !private_tmpl.get_bool(CKA_EXTRACTABLE, false);
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
  AttributeMap pub = complete_template(pub_request, Origin::generated, CKO_PUBLIC_KEY, kt,
                                       mechanism.type);
  AttributeMap priv = complete_template(priv_request, Origin::generated, CKO_PRIVATE_KEY, kt,
                                        mechanism.type);
  set_public_attributes(pub, *key);
  set_private_attributes(priv, *key);
  finish_key(priv, Origin::generated);
  return {std::move(pub), std::move(priv)};
}

}  // namespace twinhsm::token
