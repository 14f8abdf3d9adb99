// The attribute rules of PKCS#11 3.0 for the object classes twinhsm stores: which attributes a
// class has, their defaults, which are key material (sensitive), which the token computes, and
// which may change after creation. Every check throws CkError with the code the spec names.
#pragma once

#include "token/attributes.h"

namespace twinhsm::token {

// How an object came to be; decides CKA_LOCAL, CKA_ALWAYS_SENSITIVE, ... (PKCS#11 3.0, 4.7-4.10).
enum class Origin { created, generated, unwrapped };

// complete_template validates a caller's template for a new object of the origin given, fills in
// the defaults, and sets the attributes the token computes. For generated and unwrapped keys,
// the caller passes the class and key type it produces and adds the key material afterwards;
// a template naming another class or key type is CKR_TEMPLATE_INCONSISTENT.
// Throws CkError: CKR_TEMPLATE_INCOMPLETE (missing CKA_CLASS, CKA_KEY_TYPE or a required value),
// CKR_ATTRIBUTE_TYPE_INVALID (an attribute the class does not have), CKR_ATTRIBUTE_VALUE_INVALID
// (wrong size or unknown class/key type), CKR_ATTRIBUTE_READ_ONLY (an attribute only the token
// sets), CKR_TEMPLATE_INCONSISTENT.
AttributeMap complete_template(const AttributeMap& tmpl, Origin origin,
                               CK_OBJECT_CLASS produced_class = CK_UNAVAILABLE_INFORMATION,
                               CK_KEY_TYPE produced_key_type = CK_UNAVAILABLE_INFORMATION,
                               CK_MECHANISM_TYPE mechanism = CK_UNAVAILABLE_INFORMATION);

// set_new_unique_id gives the object a fresh CKA_UNIQUE_ID (a new object, a copy).
void set_new_unique_id(AttributeMap& attrs);

// finish_key sets CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE of a new key from its
// CKA_SENSITIVE and CKA_EXTRACTABLE (generated and unwrapped-by-token keys).
void finish_key(AttributeMap& attrs, Origin origin);

// check_required throws CKR_TEMPLATE_INCOMPLETE if a created object lacks a value its class needs
// (e.g. an RSA private key without CKA_PRIVATE_EXPONENT).
void check_required(const AttributeMap& attrs);

// check_change validates C_SetAttributeValue (copy = false) or the template of C_CopyObject
// (copy = true) against the object. Throws CKR_ACTION_PROHIBITED (object not modifiable or not
// copyable), CKR_ATTRIBUTE_READ_ONLY, CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_VALUE_INVALID.
void check_change(const AttributeMap& object, const AttributeMap& changes, bool copy);

// is_key_material: the attribute is a secret part of a private or secret key.
bool is_key_material(const AttributeMap& object, CK_ATTRIBUTE_TYPE type);
// is_hidden: C_GetAttributeValue must answer CKR_ATTRIBUTE_SENSITIVE (key material of a key that
// is sensitive or not extractable).
bool is_hidden(const AttributeMap& object, CK_ATTRIBUTE_TYPE type);

// is_secret_key_type: the key types of secret keys twinhsm holds (CKK_AES, CKK_AES_XTS, CKK_DES,
// CKK_DES2, CKK_DES3, CKK_CHACHA20, CKK_GENERIC_SECRET, CKK_HKDF, the CKK_*_HMAC types).
bool is_secret_key_type(CK_KEY_TYPE type);

// object_class returns CKA_CLASS (CK_UNAVAILABLE_INFORMATION when absent).
CK_OBJECT_CLASS object_class(const AttributeMap& attrs);
CK_KEY_TYPE key_type(const AttributeMap& attrs);

}  // namespace twinhsm::token
