// Key agreement (derivation_parts.h): CKM_ECDH1_DERIVE on EC, X25519 and X448 keys, with CKD_NULL
// or an ANSI X9.63 KDF, and CKM_DH_PKCS_DERIVE.
#include "crypto/kdf.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/derivation_parts.h"
#include "token/key_material.h"

namespace twinhsm::token {

namespace {

// peer_public returns the peer's public value as crypto takes it: pPublicData holds it raw
// (EC: 04 || X || Y; X25519/X448: the u-coordinate) or as a DER OCTET STRING, told apart by
// length.
Bytes peer_public(const Bytes& data, size_t raw_len) {
  if (data.size() == raw_len) {
    return data;
  }
  size_t header = raw_len < 0x80 ? 2 : 3;
  bool der = data.size() == header + raw_len && data[0] == 0x04 &&
             (header == 2 ? data[1] == raw_len : data[1] == 0x81 && data[2] == raw_len);
  require(der, CKR_MECHANISM_PARAM_INVALID,
          "the peer's public data is not a public key of the base key's curve");
  return Bytes(data.begin() + static_cast<long>(header), data.end());
}

std::optional<crypto::DigestAlg> x963_digest(CK_ULONG kdf) {
  switch (kdf) {
    case CKD_SHA1_KDF:
      return crypto::DigestAlg::sha1;
    case CKD_SHA224_KDF:
      return crypto::DigestAlg::sha224;
    case CKD_SHA256_KDF:
      return crypto::DigestAlg::sha256;
    case CKD_SHA384_KDF:
      return crypto::DigestAlg::sha384;
    case CKD_SHA512_KDF:
      return crypto::DigestAlg::sha512;
    case CKD_SHA3_224_KDF:
      return crypto::DigestAlg::sha3_224;
    case CKD_SHA3_256_KDF:
      return crypto::DigestAlg::sha3_256;
    case CKD_SHA3_384_KDF:
      return crypto::DigestAlg::sha3_384;
    case CKD_SHA3_512_KDF:
      return crypto::DigestAlg::sha3_512;
    default:
      return std::nullopt;
  }
}

SecureBytes shared_secret(const crypto::PKey& key, const Bytes& peer) {
  try {
    return key.agree(peer);
  } catch (const CryptoError&) {
    throw CkError(CKR_MECHANISM_PARAM_INVALID,
                  "the peer's public data is not a valid public key for the base key");
  }
}

// rightmost is the secret's last len bytes.
SecureBytes rightmost(const SecureBytes& secret, size_t len) {
  return SecureBytes(secret.end() - static_cast<long>(len), secret.end());
}

}  // namespace

SecureBytes agreement_value(const Mechanism& m, const Object& base, const DerivedRequest& request) {
  const AttributeMap& a = base.attrs;
  if (m.type == CKM_DH_PKCS_DERIVE) {
    require(object_class(a) == CKO_PRIVATE_KEY && key_type(a) == CKK_DH, CKR_KEY_TYPE_INCONSISTENT,
            "DH derivation needs a DH private key");
    const auto* p = std::get_if<DataParams>(&m.params);
    require(p != nullptr && !p->data.empty(), CKR_MECHANISM_PARAM_INVALID,
            "DH derivation needs the peer's public value as its parameter");
    const crypto::PKey& key = object_pkey(base);
    bool in_subgroup = false;
    try {
      in_subgroup = key.ffc_in_subgroup(p->data);
    } catch (const CryptoError&) {
    }
    require(in_subgroup, CKR_MECHANISM_PARAM_INVALID,
            "the peer's public value is not in the group's prime-order subgroup (or the group is "
            "not a safe prime, so none can be checked): a small-subgroup value would reveal the "
            "private key");
    SecureBytes secret = shared_secret(key, p->data);
    return rightmost(secret, length_from(request, secret.size()));
  }
  const auto* p = std::get_if<Ecdh1Params>(&m.params);
  require(p != nullptr, CKR_MECHANISM_PARAM_INVALID, "ECDH needs CK_ECDH1_DERIVE_PARAMS");
  CK_KEY_TYPE kt = key_type(a);
  require(object_class(a) == CKO_PRIVATE_KEY && (kt == CKK_EC || kt == CKK_EC_MONTGOMERY),
          CKR_KEY_TYPE_INCONSISTENT, "ECDH needs an EC or Montgomery (X25519, X448) private key");
  const crypto::PKey& key = object_pkey(base);
  size_t fb = key.type() == crypto::PKey::Type::ec ? (key.bits() + 7) / 8 : key.ec_point().size();
  size_t raw_len = key.type() == crypto::PKey::Type::ec ? 1 + 2 * fb : fb;
  SecureBytes secret = shared_secret(key, peer_public(p->peer, raw_len));
  if (p->kdf == CKD_NULL) {
    require(p->shared.empty(), CKR_MECHANISM_PARAM_INVALID, "CKD_NULL takes no shared data");
    return rightmost(secret, length_from(request, secret.size()));
  }
  auto digest = x963_digest(p->kdf);
  require(digest.has_value(), CKR_MECHANISM_PARAM_INVALID,
          "the KDF is not CKD_NULL or an ANSI X9.63 KDF (CKD_SHA*_KDF)");
  return crypto::x963_kdf(*digest, secret, p->shared, length_needed(request));
}

}  // namespace twinhsm::token
