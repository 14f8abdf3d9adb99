// Conversions between a key object's attributes and a crypto::PKey, and key generation for the
// mechanisms twinhsm supports. The only place that knows which attributes hold which component.
#pragma once

#include "crypto/pkey.h"
#include "token/attributes.h"

namespace twinhsm::token {

// to_pkey builds the key an object holds (RSA, EC or Edwards; public or private key object).
// Throws CkError: CKR_KEY_TYPE_INCONSISTENT for other objects, CKR_CURVE_NOT_SUPPORTED for an
// unknown curve, CKR_ATTRIBUTE_VALUE_INVALID if the components do not form a valid key.
crypto::PKey to_pkey(const AttributeMap& key);
// object_pkey is to_pkey for an object, parsed once and kept with it.
const crypto::PKey& object_pkey(const struct Object& object);

// set_public_attributes / set_private_attributes set the key-type attributes of a public or private key
// object from a key (CKA_MODULUS..., CKA_EC_PARAMS and CKA_EC_POINT, CKA_VALUE, and
// CKA_PUBLIC_KEY_INFO).
void set_public_attributes(AttributeMap& attrs, const crypto::PKey& key);
void set_private_attributes(AttributeMap& attrs, const crypto::PKey& key);

// validate_key_object: a created key object's components must form a valid key (an AES key 16,
// 24 or 32 bytes); throws CkError(CKR_ATTRIBUTE_VALUE_INVALID) otherwise. Fills the derived
// public attributes (CKA_MODULUS_BITS, CKA_PUBLIC_KEY_INFO).
void validate_key_object(AttributeMap& attrs);

}  // namespace twinhsm::token
