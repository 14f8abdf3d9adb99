// The token's side of the PKCS#11 functions that make, change, destroy and use keys and objects:
// each applies the attribute rules (attribute_policy.h), the key policy (key_policy.h) and the
// login rules in one place, so that the PKCS#11 layer only checks arguments, marshals and
// dispatches. Errors are CkError with the code PKCS#11 names for the function.
#pragma once

#include <utility>

#include "token/mechanisms.h"
#include "token/token.h"

namespace twinhsm::token {

// Caller is the session a function is called in.
struct Caller {
  CK_SESSION_HANDLE session = 0;
  bool read_write = false;
};

// C_CreateObject, C_CopyObject, C_SetAttributeValue, C_DestroyObject. A token object needs a
// read-write session (CKR_SESSION_READ_ONLY); a private one the user (CKR_USER_NOT_LOGGED_IN).
ObjectPtr create_object(Token& token, const Caller& caller, const AttributeMap& tmpl);
ObjectPtr copy_object(Token& token, const Caller& caller, CK_OBJECT_HANDLE handle,
                      const AttributeMap& changes);
void set_attributes(Token& token, const Caller& caller, CK_OBJECT_HANDLE handle,
                    const AttributeMap& changes);
void destroy_object(Token& token, const Caller& caller, CK_OBJECT_HANDLE handle);

// C_GenerateKey, C_GenerateKeyPair (no half is left behind when the second fails).
ObjectPtr generate_key(Token& token, const Caller& caller, const Mechanism& mechanism,
                       const AttributeMap& tmpl);
std::pair<ObjectPtr, ObjectPtr> generate_key_pair(Token& token, const Caller& caller,
                                                  const Mechanism& mechanism,
                                                  const AttributeMap& public_tmpl,
                                                  const AttributeMap& private_tmpl);

// C_WrapKey, C_UnwrapKey, C_DeriveKey.
Bytes wrap_key(Token& token, const Mechanism& mechanism, CK_OBJECT_HANDLE wrapping_key,
               CK_OBJECT_HANDLE key);
ObjectPtr unwrap_key(Token& token, const Caller& caller, const Mechanism& mechanism,
                     CK_OBJECT_HANDLE unwrapping_key, ByteView wrapped, const AttributeMap& tmpl);
ObjectPtr derive_key(Token& token, const Caller& caller, const Mechanism& mechanism,
                     CK_OBJECT_HANDLE base_key, const AttributeMap& tmpl);

// Use is what an operation does with its key.
enum class Use { encrypt, decrypt, sign, verify, wrap, unwrap, derive };

// key_for finds the key an operation starts with and checks that it may: the mechanism does the
// operation (CKR_MECHANISM_INVALID), the handle is a key (CKR_KEY_HANDLE_INVALID, or
// CKR_WRAPPING_KEY_HANDLE_INVALID / CKR_UNWRAPPING_KEY_HANDLE_INVALID), its usage attribute is
// true (CKR_KEY_FUNCTION_NOT_PERMITTED), and CKA_ALLOWED_MECHANISMS allows the mechanism
// (CKR_MECHANISM_INVALID).
ObjectPtr key_for(Token& token, Use use, CK_OBJECT_HANDLE handle, const Mechanism& mechanism);
// may_use: key_for's checks would let the key do use with the mechanism (e.g. may a MAC key
// that verifies also sign: make_verifier).
bool may_use(Token& token, Use use, const AttributeMap& key, const Mechanism& mechanism);
// find_key is the key object of handle, or CKR_KEY_HANDLE_INVALID (C_DigestKey, C_WrapKey's key).
ObjectPtr find_key(Token& token, CK_OBJECT_HANDLE handle);

}  // namespace twinhsm::token
