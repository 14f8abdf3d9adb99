// Key derivation (C_DeriveKey). The base key's CKA_DERIVE, CKA_ALLOWED_MECHANISMS and the policies
// are checked by the caller (key_management.cc).
//
//   CKM_ECDH1_DERIVE      EC (P-192 ... P-521), X25519, X448; KDF CKD_NULL or an ANSI X9.63 KDF
//                         (CKD_SHA1_KDF ... CKD_SHA512_KDF, CKD_SHA3_*_KDF) with shared data
//   CKM_DH_PKCS_DERIVE    PKCS#3 Diffie-Hellman, the peer's public value as parameter
//   CKM_*_ECB_ENCRYPT_DATA, CKM_*_CBC_ENCRYPT_DATA (AES, DES, Triple DES): the new key's value is
//                         the base key's encryption of the data
//   CKM_HKDF_DERIVE       RFC 5869 extract and/or expand; CKM_HKDF_DATA: from a data object
//   CKM_SP800_108_COUNTER_KDF, CKM_SP800_108_FEEDBACK_KDF: the layouts OpenSSL's KBKDF computes
#pragma once

#include "token/attributes.h"
#include "token/mechanisms.h"

namespace twinhsm::token {

// derived_attributes computes the new key's value from base_key (for CKM_HKDF_DATA a data object,
// whose CKA_VALUE is the input) and the mechanism's parameter, and returns the attributes of a new
// secret key: the template's CKA_CLASS (CKO_SECRET_KEY), CKA_KEY_TYPE (default
// CKK_GENERIC_SECRET) and CKA_VALUE_LEN (default: the key type's length; for a key agreement with
// CKD_NULL or an encryption, the whole output, or for CKK_AES the longest AES key it holds). The
// key is made as an unwrapped one (CKA_LOCAL false, CKA_KEY_GEN_MECHANISM unavailable);
// CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE follow the base key by the key-sensitivity rules
// PKCS#11 gives derivation mechanisms. salt_key: CKM_HKDF_DERIVE's CKF_HKDF_SALT_KEY key, looked up
// by the caller. Throws CkError: CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID,
// CKR_KEY_TYPE_INCONSISTENT, CKR_TEMPLATE_INCOMPLETE, CKR_TEMPLATE_INCONSISTENT, and what
// complete_template throws.
AttributeMap derived_attributes(const Mechanism& mechanism, const Object& base_key,
                                const AttributeMap& tmpl, const Object* salt_key = nullptr);

}  // namespace twinhsm::token
