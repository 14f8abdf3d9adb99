// Helpers shared by the entry points that make or use objects.
#pragma once

#include "pkcs11/library.h"
#include "token/token.h"

namespace twinhsm::pkcs11 {

// check_trusted throws CKR_ATTRIBUTE_READ_ONLY when changes set CKA_TRUSTED true and the SO is
// not logged in.
void check_trusted(const SessionRef& ref, const token::AttributeMap& changes);
// check_can_write throws CKR_SESSION_READ_ONLY for a token object in a read-only session and
// CKR_USER_NOT_LOGGED_IN for a private object without the user logged in.
void check_can_write(const SessionRef& ref, const token::AttributeMap& attrs);
// store_new_object checks and stores a complete object as a token or session object.
token::ObjectPtr store_new_object(const SessionRef& ref, token::AttributeMap attrs);
// find_key returns the key object or throws CKR_KEY_HANDLE_INVALID.
token::ObjectPtr find_key(const SessionRef& ref, CK_OBJECT_HANDLE handle);

}  // namespace twinhsm::pkcs11
