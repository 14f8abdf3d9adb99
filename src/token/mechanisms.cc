// What the mechanisms share (mechanisms.h): the hashes they name, the keys they take, the
// signature schemes of the sign/verify mechanisms with key pairs.
#include "token/mechanisms.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "token/attribute_policy.h"
#include "token/ck_error.h"

namespace twinhsm::token {

namespace {

struct SignMechanism {
  CK_MECHANISM_TYPE type;
  crypto::SignatureScheme::Kind kind;
  std::optional<crypto::DigestAlg> digest;
};

using Kind = crypto::SignatureScheme::Kind;
using crypto::DigestAlg;

constexpr SignMechanism kSignMechanisms[] = {
    {CKM_RSA_PKCS, Kind::rsa_pkcs1, std::nullopt},
    {CKM_RSA_X_509, Kind::rsa_raw, std::nullopt},
    {CKM_MD5_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::md5},
    {CKM_SHA1_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::sha1},
    {CKM_SHA224_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::sha224},
    {CKM_SHA256_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::sha256},
    {CKM_SHA384_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::sha384},
    {CKM_SHA512_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::sha512},
    {CKM_SHA3_224_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::sha3_224},
    {CKM_SHA3_256_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::sha3_256},
    {CKM_SHA3_384_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::sha3_384},
    {CKM_SHA3_512_RSA_PKCS, Kind::rsa_pkcs1, DigestAlg::sha3_512},
    {CKM_RSA_PKCS_PSS, Kind::rsa_pss, std::nullopt},
    {CKM_SHA1_RSA_PKCS_PSS, Kind::rsa_pss, DigestAlg::sha1},
    {CKM_SHA224_RSA_PKCS_PSS, Kind::rsa_pss, DigestAlg::sha224},
    {CKM_SHA256_RSA_PKCS_PSS, Kind::rsa_pss, DigestAlg::sha256},
    {CKM_SHA384_RSA_PKCS_PSS, Kind::rsa_pss, DigestAlg::sha384},
    {CKM_SHA512_RSA_PKCS_PSS, Kind::rsa_pss, DigestAlg::sha512},
    {CKM_SHA3_224_RSA_PKCS_PSS, Kind::rsa_pss, DigestAlg::sha3_224},
    {CKM_SHA3_256_RSA_PKCS_PSS, Kind::rsa_pss, DigestAlg::sha3_256},
    {CKM_SHA3_384_RSA_PKCS_PSS, Kind::rsa_pss, DigestAlg::sha3_384},
    {CKM_SHA3_512_RSA_PKCS_PSS, Kind::rsa_pss, DigestAlg::sha3_512},
    {CKM_ECDSA, Kind::ecdsa, std::nullopt},
    {CKM_ECDSA_SHA1, Kind::ecdsa, DigestAlg::sha1},
    {CKM_ECDSA_SHA224, Kind::ecdsa, DigestAlg::sha224},
    {CKM_ECDSA_SHA256, Kind::ecdsa, DigestAlg::sha256},
    {CKM_ECDSA_SHA384, Kind::ecdsa, DigestAlg::sha384},
    {CKM_ECDSA_SHA512, Kind::ecdsa, DigestAlg::sha512},
    {CKM_ECDSA_SHA3_224, Kind::ecdsa, DigestAlg::sha3_224},
    {CKM_ECDSA_SHA3_256, Kind::ecdsa, DigestAlg::sha3_256},
    {CKM_ECDSA_SHA3_384, Kind::ecdsa, DigestAlg::sha3_384},
    {CKM_ECDSA_SHA3_512, Kind::ecdsa, DigestAlg::sha3_512},
    {CKM_DSA, Kind::dsa, std::nullopt},
    {CKM_DSA_SHA1, Kind::dsa, DigestAlg::sha1},
    {CKM_DSA_SHA224, Kind::dsa, DigestAlg::sha224},
    {CKM_DSA_SHA256, Kind::dsa, DigestAlg::sha256},
    {CKM_DSA_SHA384, Kind::dsa, DigestAlg::sha384},
    {CKM_DSA_SHA512, Kind::dsa, DigestAlg::sha512},
    {CKM_EDDSA, Kind::eddsa, std::nullopt},
};

void require_key_type(const AttributeMap& key, CK_KEY_TYPE wanted) {
  require(key_type(key) == wanted, CKR_KEY_TYPE_INCONSISTENT,
          "the key's type does not fit the mechanism");
}

}  // namespace

std::optional<DigestAlg> digest_of_mechanism(CK_MECHANISM_TYPE hash) {
  switch (hash) {
    case CKM_SHA_1:
      return DigestAlg::sha1;
    case CKM_SHA224:
      return DigestAlg::sha224;
    case CKM_SHA256:
      return DigestAlg::sha256;
    case CKM_SHA384:
      return DigestAlg::sha384;
    case CKM_SHA512:
      return DigestAlg::sha512;
    case CKM_SHA3_224:
      return DigestAlg::sha3_224;
    case CKM_SHA3_256:
      return DigestAlg::sha3_256;
    case CKM_SHA3_384:
      return DigestAlg::sha3_384;
    case CKM_SHA3_512:
      return DigestAlg::sha3_512;
    case CKM_MD5:
      return DigestAlg::md5;
    default:
      return std::nullopt;
  }
}

std::optional<DigestAlg> digest_of_mgf(CK_RSA_PKCS_MGF_TYPE mgf) {
  switch (mgf) {
    case CKG_MGF1_SHA1:
      return DigestAlg::sha1;
    case CKG_MGF1_SHA224:
      return DigestAlg::sha224;
    case CKG_MGF1_SHA256:
      return DigestAlg::sha256;
    case CKG_MGF1_SHA384:
      return DigestAlg::sha384;
    case CKG_MGF1_SHA512:
      return DigestAlg::sha512;
    case CKG_MGF1_SHA3_224:
      return DigestAlg::sha3_224;
    case CKG_MGF1_SHA3_256:
      return DigestAlg::sha3_256;
    case CKG_MGF1_SHA3_384:
      return DigestAlg::sha3_384;
    case CKG_MGF1_SHA3_512:
      return DigestAlg::sha3_512;
    default:
      return std::nullopt;
  }
}

const SecureBytes& secret_value(const AttributeMap& key) {
  require(object_class(key) == CKO_SECRET_KEY, CKR_KEY_TYPE_INCONSISTENT,
          "the mechanism needs a secret key");
  const SecureBytes* value = key.find(CKA_VALUE);
  require(value != nullptr, CKR_KEY_HANDLE_INVALID, "the key has no value");
  return *value;
}

const SecureBytes& secret_key_value(const AttributeMap& key, CK_KEY_TYPE type,
                                    std::initializer_list<size_t> lengths, CK_RV type_rv,
                                    CK_RV size_rv) {
  require(object_class(key) == CKO_SECRET_KEY && key_type(key) == type, type_rv,
          "the key's type does not fit the mechanism");
  const SecureBytes& value = secret_value(key);
  bool fits = false;
  for (size_t n : lengths) {
    fits = fits || value.size() == n;
  }
  require(fits, size_rv, "the key's length does not fit the mechanism");
  return value;
}

void check_allowed(const AttributeMap& key, CK_MECHANISM_TYPE mechanism) {
  const SecureBytes* allowed = key.find(CKA_ALLOWED_MECHANISMS);
  bool named = false;
  if (allowed && !allowed->empty()) {
    require(allowed->size() % sizeof(CK_MECHANISM_TYPE) == 0, CKR_MECHANISM_INVALID,
            "the key's CKA_ALLOWED_MECHANISMS is malformed");
    for (size_t i = 0; i < allowed->size(); i += sizeof(CK_MECHANISM_TYPE)) {
      CK_MECHANISM_TYPE m;
      std::memcpy(&m, allowed->data() + i, sizeof m);
      named = named || m == mechanism;
    }
    require(named, CKR_MECHANISM_INVALID,
            "the key's CKA_ALLOWED_MECHANISMS does not name the mechanism");
  }
}

bool is_encrypt_data_mechanism(CK_MECHANISM_TYPE type) {
  switch (type) {
    case CKM_AES_ECB_ENCRYPT_DATA:
    case CKM_AES_CBC_ENCRYPT_DATA:
    case CKM_DES_ECB_ENCRYPT_DATA:
    case CKM_DES_CBC_ENCRYPT_DATA:
    case CKM_DES3_ECB_ENCRYPT_DATA:
    case CKM_DES3_CBC_ENCRYPT_DATA:
      return true;
    default:
      return false;
  }
}

bool is_rsa_pss_mechanism(CK_MECHANISM_TYPE type) {
  return std::any_of(
      std::begin(kSignMechanisms), std::end(kSignMechanisms),
      [&](const SignMechanism& m) { return m.type == type && m.kind == Kind::rsa_pss; });
}

bool names_mechanism(const AttributeMap& key, CK_MECHANISM_TYPE mechanism) {
  const SecureBytes* allowed = key.find(CKA_ALLOWED_MECHANISMS);
  if (!allowed || allowed->empty()) {
    return false;
  }
  check_allowed(key, mechanism);
  return true;
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
    case Kind::rsa_raw:
      require_key_type(key, CKK_RSA);
      break;
    case Kind::rsa_pss: {
      require_key_type(key, CKK_RSA);
      const auto* p = std::get_if<PssParams>(&mechanism.params);
      require(p != nullptr, CKR_MECHANISM_PARAM_INVALID, "PSS needs CK_RSA_PKCS_PSS_PARAMS");
      auto hash = digest_of_mechanism(p->hash);
      auto mgf = digest_of_mgf(p->mgf);
      require(hash && mgf && *hash != DigestAlg::md5, CKR_MECHANISM_PARAM_INVALID,
              "PSS parameters name an unknown hash");
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
    case Kind::dsa:
      require_key_type(key, CKK_DSA);
      break;
    case Kind::eddsa:
      require_key_type(key, CKK_EC_EDWARDS);
      break;
  }
  return scheme;
}

}  // namespace twinhsm::token
