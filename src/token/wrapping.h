// Key wrapping and unwrapping (C_WrapKey, C_UnwrapKey): which keys each mechanism wraps, in which
// form, and how an unwrapped key's attributes are made. Usage attributes of the wrapping key
// (CKA_WRAP, CKA_UNWRAP), CKA_ALLOWED_MECHANISMS and the key policy are checked by the caller
// (key_management.h). Secret keys are wrapped as their value, private keys as their unencrypted
// PKCS#8 PrivateKeyInfo (DER):
//
//   CKM_AES_KEY_WRAP        RFC 3394 (default IV), the key zero-padded to a multiple of 8 bytes
//                           (at least 16) as PKCS#11 3.0 2.14.3 says; unwrapping finds the real
//                           length in CKA_VALUE_LEN, the key type, or the DER
//   CKM_AES_KEY_WRAP_KWP    RFC 5649 (default IV)
//   CKM_AES_KEY_WRAP_PAD    RFC 5649 too, as SoftHSMv2 does (docs/pkcs11.md says why)
//   CKM_AES_KEY_WRAP_PKCS7  PKCS#7 padding to a multiple of 8 bytes, then RFC 3394
//   CKM_AES_CBC_PAD         PKCS#7 padding, AES-CBC (IV parameter)
//   CKM_RSA_PKCS_OAEP       secret keys only (RSA public key wraps)
#pragma once

#include "token/attributes.h"
#include "token/mechanisms.h"

namespace twinhsm::token {

// check_wrappable throws CKR_KEY_NOT_WRAPPABLE for a key of a class that is never wrapped (public
// keys, other objects) and CKR_KEY_UNEXTRACTABLE when CKA_EXTRACTABLE is false.
void check_wrappable(const AttributeMap& key);

// wrapped_form returns key wrapped under wrapping_key; the key policy (key_policy.h: check_wrap)
// has allowed it. Throws CkError: CKR_KEY_NOT_WRAPPABLE (a public key, or a private key under a
// mechanism that wraps secret keys only), CKR_KEY_UNEXTRACTABLE (CKA_EXTRACTABLE false),
// CKR_KEY_SIZE_RANGE (a length the mechanism cannot wrap), CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
// CKR_WRAPPING_KEY_SIZE_RANGE, CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID.
Bytes wrapped_form(const Mechanism& mechanism, const Object& wrapping_key, const Object& key);

// unwrapped_attributes decrypts wrapped with unwrapping_key and returns the attributes of the new
// key: the template completed as for an unwrapped key (CKA_LOCAL false, CKA_ALWAYS_SENSITIVE and
// CKA_NEVER_EXTRACTABLE false), the key material, and for private keys the attributes PKCS#8
// defines (the key type among them). The template needs CKA_CLASS, and CKA_KEY_TYPE for a secret
// key; CKA_VALUE_LEN, if given, must be the unwrapped length. Throws CkError:
// CKR_WRAPPED_KEY_LEN_RANGE, CKR_WRAPPED_KEY_INVALID (integrity or padding check failed, not a
// PKCS#8 key of a supported type, a value that does not fit the key type),
// CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, CKR_UNWRAPPING_KEY_SIZE_RANGE, CKR_TEMPLATE_INCOMPLETE,
// CKR_TEMPLATE_INCONSISTENT, and what complete_template throws.
AttributeMap unwrapped_attributes(const Mechanism& mechanism, const Object& unwrapping_key,
                                  ByteView wrapped, const AttributeMap& tmpl);

// Helpers for keys the token makes from values it computed (unwrapped and derived keys).
// check_template_fits throws CKR_TEMPLATE_INCONSISTENT if tmpl gives key material, or gives an
// attribute a value other than the one the finished key attrs holds.
void check_template_fits(const AttributeMap& tmpl, const AttributeMap& attrs);

}  // namespace twinhsm::token
