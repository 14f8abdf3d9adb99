// Internal to the attribute policy (attribute_policy.cc) and what needs its classification: which
// attributes each object class and key type has, and their traits. The rules of PKCS#11 3.0
// sections 4.4-4.10 and 2 (per key type), as one table (attribute_rules.cc).
#pragma once

#include "common/pkcs11.h"
#include "token/attributes.h"

namespace twinhsm::token::rules {

// Classes, as bits.
constexpr unsigned kData = 1, kCert = 2, kPub = 4, kPriv = 8, kSecret = 16, kDomain = 32;
constexpr unsigned kKeys = kPub | kPriv | kSecret, kAll = kData | kCert | kKeys | kDomain;
// Key types, as bits (0: any). kSym: every secret key type.
constexpr unsigned kRsa = 1, kEc = 2, kEdwards = 4, kSym = 8, kMontgomery = 16, kDsa = 32, kDh = 64;

// Attribute traits.
enum Trait : unsigned {
  kBool = 1u << 0,
  kUlong = 1u << 1,
  kMaterial = 1u << 2,    // secret part of a key
  kComputed = 1u << 3,    // set by the token only
  kFixed = 1u << 4,       // given at creation, never changed
  kCopyOnly = 1u << 5,    // changeable in C_CopyObject only
  kToTrue = 1u << 6,      // may change only from false to true
  kToFalse = 1u << 7,     // may change only from true to false
  kMechanisms = 1u << 8,  // an array of CK_MECHANISM_TYPE
};

struct Rule {
  CK_ATTRIBUTE_TYPE type;
  unsigned traits;
  unsigned classes;
  unsigned key_types;  // 0: any
};

unsigned class_bit(CK_OBJECT_CLASS c);
unsigned key_type_bit(CK_KEY_TYPE k);
// key_type_fits: twinhsm holds objects of the class with that key type.
bool key_type_fits(CK_OBJECT_CLASS c, CK_KEY_TYPE k);
// rule_for finds the rule of the attribute for the class and key type bits (vendor attributes
// and attributes of other classes: nullptr).
const Rule* rule_for(CK_ATTRIBUTE_TYPE type, unsigned cls, unsigned kt);
// check_value_size throws CKR_ATTRIBUTE_VALUE_INVALID for a boolean, CK_ULONG or mechanism array
// of the wrong size.
void check_value_size(const Rule& rule, const SecureBytes& value);

}  // namespace twinhsm::token::rules
