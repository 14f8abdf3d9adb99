// The device's algorithm policy (algorithm_policy.h).
#include "token/algorithm_policy.h"

#include "crypto/pkey.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/key_material.h"
#include "token/mechanisms.h"
#include "token/settings.h"
#include "token/token.h"

namespace twinhsm::token {

std::optional<AlgorithmPolicy> algorithm_policy_from_name(std::string_view name) {
  if (name == "modern") {
    return AlgorithmPolicy::modern;
  }
  if (name == "legacy") {
    return AlgorithmPolicy::legacy;
  }
  return std::nullopt;
}

const char* algorithm_policy_name(AlgorithmPolicy policy) {
  return policy == AlgorithmPolicy::modern ? "modern" : "legacy";
}

AlgorithmPolicy algorithm_policy(Token& token) {
  auto text = token.store().setting_text(settings::kAlgorithms);
  if (!text) {
    return AlgorithmPolicy::modern;
  }
  auto policy = algorithm_policy_from_name(*text);
  if (!policy) {
    throw IntegrityError("the device's algorithm policy setting '" + *text + "' is unknown");
  }
  return *policy;
}

std::optional<CK_FLAGS> legacy_key_uses(const AttributeMap& key) {
  CK_OBJECT_CLASS cls = object_class(key);
  switch (key_type(key)) {
    case CKK_DES:
    case CKK_DH:
    case CKK_MD5_HMAC:
      return 0;
    case CKK_DES2:
    case CKK_DES3:
      return CKF_DECRYPT | CKF_VERIFY | CKF_MESSAGE_VERIFY;
    case CKK_DSA:
      return cls == CKO_DOMAIN_PARAMETERS ? 0 : CKF_VERIFY | CKF_MESSAGE_VERIFY;
    case CKK_RSA:
      if (bit_length(key.get_bytes(CKA_MODULUS)) < 2048) {
        return CKF_VERIFY | CKF_MESSAGE_VERIFY;
      }
      return std::nullopt;
    case CKK_EC: {
      Bytes params = key.get_bytes(CKA_EC_PARAMS);
      if (crypto::params_are_explicit(params) ||
          crypto::curve_from_params(params) == crypto::Curve::p192) {
        return CKF_VERIFY | CKF_MESSAGE_VERIFY;
      }
      return std::nullopt;
    }
    default:
      return std::nullopt;
  }
}

void check_use(Token& token, CK_MECHANISM_TYPE mechanism, CK_FLAGS operation,
               const AttributeMap* key) {
  const MechanismInfo* m = mechanism_info(mechanism);
  std::optional<CK_FLAGS> key_uses = key ? legacy_key_uses(*key) : std::nullopt;
  bool legacy_mechanism = m == nullptr || m->tier == Tier::legacy;
  // Raw RSA with a private key signs and decrypts any value given (a signing oracle for any
  // padding, a decryption oracle for any ciphertext): on a modern device only with private keys
  // whose CKA_ALLOWED_MECHANISMS names it, as the TLS stacks that need it set up their keys; on a
  // legacy one with any RSA key, as SoftHSMv2 does. The public operations reveal nothing.
  bool raw_rsa = mechanism == CKM_RSA_X_509 && key && object_class(*key) == CKO_PRIVATE_KEY &&
                 !names_mechanism(*key, mechanism);
  if (!legacy_mechanism && !key_uses && !raw_rsa) {
    return;  // modern mechanism, modern key: every policy offers it
  }
  if (algorithm_policy(token) == AlgorithmPolicy::legacy) {
    return;
  }
  require(!raw_rsa, CKR_MECHANISM_INVALID,
          "CKM_RSA_X_509 needs a key whose CKA_ALLOWED_MECHANISMS names it (the device's "
          "algorithm policy is modern)");
  require(m != nullptr && (!legacy_mechanism || (m->legacy_use & operation)), CKR_MECHANISM_INVALID,
          "the mechanism is legacy and the device's algorithm policy is modern (twinhsm device "
          "set-algorithms legacy offers it)");
  require(!key_uses || (*key_uses & operation), CKR_KEY_FUNCTION_NOT_PERMITTED,
          "the key is of a legacy kind, which a device whose algorithm policy is modern keeps "
          "only to verify (RSA under 2048 bits, P-192, DSA) or decrypt (Triple DES)");
}

void check_new_key_kind(Token& token, const AttributeMap& key, CK_RV rv) {
  if (!legacy_key_uses(key) || object_class(key) == CKO_PUBLIC_KEY) {
    return;
  }
  require(algorithm_policy(token) == AlgorithmPolicy::legacy, rv,
          "the device's algorithm policy is modern: it makes no DES, Triple DES, DSA, DH or MD5 "
          "key, no RSA key under 2048 bits and no EC key on P-192 or explicit parameters");
}

}  // namespace twinhsm::token
