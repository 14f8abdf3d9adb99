// The attribute table (attribute_rules.h).
#include "token/attribute_rules.h"

#include <array>

#include "token/ck_error.h"
#include "token/key_policy.h"

namespace twinhsm::token::rules {

namespace {

constexpr unsigned kFfc = kDsa | kDh;
constexpr unsigned kCurves = kEc | kEdwards | kMontgomery;

constexpr std::array kRules = {
    Rule{CKA_CLASS, kUlong | kFixed, kAll, 0},
    Rule{CKA_TOKEN, kBool | kCopyOnly, kAll, 0},
    Rule{CKA_PRIVATE, kBool | kCopyOnly, kAll, 0},
    Rule{CKA_MODIFIABLE, kBool | kCopyOnly, kAll, 0},
    Rule{CKA_COPYABLE, kBool | kToFalse, kAll, 0},
    Rule{CKA_DESTROYABLE, kBool, kAll, 0},
    Rule{CKA_LABEL, 0, kAll, 0},
    Rule{CKA_UNIQUE_ID, kComputed, kAll, 0},
    // Data objects.
    Rule{CKA_APPLICATION, 0, kData, 0},
    Rule{CKA_OBJECT_ID, 0, kData, 0},
    Rule{CKA_VALUE, 0, kData | kCert, 0},
    // Certificates (X.509 attributes; other certificate types keep what they are given).
    Rule{CKA_CERTIFICATE_TYPE, kUlong | kFixed, kCert, 0},
    Rule{CKA_TRUSTED, kBool, kCert | kPub | kSecret, 0},
    Rule{CKA_CERTIFICATE_CATEGORY, kUlong, kCert, 0},
    Rule{CKA_CHECK_VALUE, 0, kCert | kSecret, 0},
    Rule{CKA_SUBJECT, 0, kCert | kPub | kPriv, 0},
    Rule{CKA_ISSUER, 0, kCert, 0},
    Rule{CKA_SERIAL_NUMBER, 0, kCert, 0},
    Rule{CKA_URL, 0, kCert, 0},
    Rule{CKA_HASH_OF_SUBJECT_PUBLIC_KEY, 0, kCert, 0},
    Rule{CKA_HASH_OF_ISSUER_PUBLIC_KEY, 0, kCert, 0},
    Rule{CKA_JAVA_MIDP_SECURITY_DOMAIN, kUlong, kCert, 0},
    Rule{CKA_NAME_HASH_ALGORITHM, kUlong, kCert, 0},
    Rule{CKA_PUBLIC_KEY_INFO, 0, kCert | kPub | kPriv, 0},
    Rule{CKA_ID, 0, kCert | kKeys, 0},
    Rule{CKA_START_DATE, 0, kCert | kKeys, 0},
    Rule{CKA_END_DATE, 0, kCert | kKeys, 0},
    // Keys (and, for their type and origin, domain parameters).
    Rule{CKA_KEY_TYPE, kUlong | kFixed, kKeys | kDomain, 0},
    Rule{CKA_DERIVE, kBool, kKeys, 0},
    Rule{CKA_LOCAL, kBool | kComputed, kKeys | kDomain, 0},
    Rule{CKA_KEY_GEN_MECHANISM, kUlong | kComputed, kKeys, 0},
    Rule{CKA_ALLOWED_MECHANISMS, kMechanisms, kKeys, 0},
    Rule{CKA_TWINHSM_WRAPS_AND_PROCESSES_DATA, kBool | kComputed, kKeys, 0},
    Rule{CKA_ENCRYPT, kBool, kPub | kSecret, 0},
    Rule{CKA_VERIFY, kBool, kPub | kSecret, 0},
    Rule{CKA_VERIFY_RECOVER, kBool, kPub, 0},
    Rule{CKA_WRAP, kBool, kPub | kSecret, 0},
    Rule{CKA_DECRYPT, kBool, kPriv | kSecret, 0},
    Rule{CKA_SIGN, kBool, kPriv | kSecret, 0},
    Rule{CKA_SIGN_RECOVER, kBool, kPriv, 0},
    Rule{CKA_UNWRAP, kBool, kPriv | kSecret, 0},
    Rule{CKA_SENSITIVE, kBool | kToTrue, kPriv | kSecret, 0},
    Rule{CKA_EXTRACTABLE, kBool | kToFalse, kPriv | kSecret, 0},
    Rule{CKA_ALWAYS_SENSITIVE, kBool | kComputed, kPriv | kSecret, 0},
    Rule{CKA_NEVER_EXTRACTABLE, kBool | kComputed, kPriv | kSecret, 0},
    Rule{CKA_WRAP_WITH_TRUSTED, kBool | kToTrue, kPriv | kSecret, 0},
    Rule{CKA_ALWAYS_AUTHENTICATE, kBool, kPriv, 0},
    Rule{CKA_WRAP_TEMPLATE, kFixed, kPub | kSecret, 0},
    Rule{CKA_UNWRAP_TEMPLATE, kFixed, kPriv | kSecret, 0},
    Rule{CKA_DERIVE_TEMPLATE, kFixed, kPriv | kSecret, 0},
    // RSA.
    Rule{CKA_MODULUS, kFixed, kPub | kPriv, kRsa},
    Rule{CKA_MODULUS_BITS, kUlong | kComputed, kPub, kRsa},
    Rule{CKA_PUBLIC_EXPONENT, kFixed, kPub | kPriv, kRsa},
    Rule{CKA_PRIVATE_EXPONENT, kMaterial | kFixed, kPriv, kRsa},
    Rule{CKA_PRIME_1, kMaterial | kFixed, kPriv, kRsa},
    Rule{CKA_PRIME_2, kMaterial | kFixed, kPriv, kRsa},
    Rule{CKA_EXPONENT_1, kMaterial | kFixed, kPriv, kRsa},
    Rule{CKA_EXPONENT_2, kMaterial | kFixed, kPriv, kRsa},
    Rule{CKA_COEFFICIENT, kMaterial | kFixed, kPriv, kRsa},
    // DSA and DH: domain parameters in keys and in domain-parameter objects.
    Rule{CKA_PRIME, kFixed, kPub | kPriv | kDomain, kFfc},
    Rule{CKA_SUBPRIME, kFixed, kPub | kPriv | kDomain, kDsa},
    Rule{CKA_BASE, kFixed, kPub | kPriv | kDomain, kFfc},
    Rule{CKA_PRIME_BITS, kUlong | kComputed, kDomain, kFfc},
    Rule{CKA_SUB_PRIME_BITS, kUlong | kComputed, kDomain, kDsa},
    Rule{CKA_VALUE_BITS, kUlong | kFixed, kPriv, kDh},
    Rule{CKA_VALUE, kFixed, kPub, kFfc},  // y
    // EC, Edwards and Montgomery curves.
    Rule{CKA_EC_PARAMS, kFixed, kPub | kPriv, kCurves},
    Rule{CKA_EC_POINT, kFixed, kPub, kCurves},
    // CKA_VALUE of keys: the EC private scalar, the Edwards and Montgomery private keys, DSA and
    // DH's x, the secret key.
    Rule{CKA_VALUE, kMaterial | kFixed, kPriv | kSecret, kCurves | kFfc | kSym},
    Rule{CKA_VALUE_LEN, kUlong | kComputed, kSecret, kSym},
};

}  // namespace

unsigned class_bit(CK_OBJECT_CLASS c) {
  switch (c) {
    case CKO_DATA:
      return kData;
    case CKO_CERTIFICATE:
      return kCert;
    case CKO_PUBLIC_KEY:
      return kPub;
    case CKO_PRIVATE_KEY:
      return kPriv;
    case CKO_SECRET_KEY:
      return kSecret;
    case CKO_DOMAIN_PARAMETERS:
      return kDomain;
    default:
      return 0;
  }
}

unsigned key_type_bit(CK_KEY_TYPE k) {
  switch (k) {
    case CKK_RSA:
      return kRsa;
    case CKK_EC:
      return kEc;
    case CKK_EC_EDWARDS:
      return kEdwards;
    case CKK_EC_MONTGOMERY:
      return kMontgomery;
    case CKK_DSA:
      return kDsa;
    case CKK_DH:
      return kDh;
    case CKK_AES:
    case CKK_AES_XTS:
    case CKK_DES:
    case CKK_DES2:
    case CKK_DES3:
    case CKK_CHACHA20:
    case CKK_GENERIC_SECRET:
    case CKK_HKDF:
    case CKK_MD5_HMAC:
    case CKK_SHA_1_HMAC:
    case CKK_SHA224_HMAC:
    case CKK_SHA256_HMAC:
    case CKK_SHA384_HMAC:
    case CKK_SHA512_HMAC:
    case CKK_SHA3_224_HMAC:
    case CKK_SHA3_256_HMAC:
    case CKK_SHA3_384_HMAC:
    case CKK_SHA3_512_HMAC:
      return kSym;
    default:
      return 0;
  }
}

bool key_type_fits(CK_OBJECT_CLASS c, CK_KEY_TYPE k) {
  unsigned kb = key_type_bit(k);
  switch (c) {
    case CKO_SECRET_KEY:
      return kb == kSym;
    case CKO_DOMAIN_PARAMETERS:
      return kb == kDsa || kb == kDh;
    default:
      return kb != 0 && kb != kSym;
  }
}

const Rule* rule_for(CK_ATTRIBUTE_TYPE type, unsigned cls, unsigned kt) {
  for (const Rule& r : kRules) {
    if (r.type == type && (r.classes & cls) && (r.key_types == 0 || (r.key_types & kt))) {
      return &r;
    }
  }
  return nullptr;
}

void check_value_size(const Rule& rule, const SecureBytes& value) {
  if ((rule.traits & kBool) && value.size() != sizeof(CK_BBOOL)) {
    throw CkError(CKR_ATTRIBUTE_VALUE_INVALID, "a boolean attribute must be one byte long");
  }
  if ((rule.traits & kUlong) && value.size() != sizeof(CK_ULONG)) {
    throw CkError(CKR_ATTRIBUTE_VALUE_INVALID, "a CK_ULONG attribute has the wrong length");
  }
  if ((rule.traits & kMechanisms) && value.size() % sizeof(CK_MECHANISM_TYPE) != 0) {
    throw CkError(CKR_ATTRIBUTE_VALUE_INVALID,
                  "CKA_ALLOWED_MECHANISMS must be an array of CK_MECHANISM_TYPE");
  }
}

}  // namespace twinhsm::token::rules
