// Key derivation (C_DeriveKey): CKM_ECDH1_DERIVE with CKD_NULL. The base key's CKA_DERIVE and
// CKA_ALLOWED_MECHANISMS are checked by the caller.
#pragma once

#include "token/attributes.h"
#include "token/mechanisms.h"

namespace twinhsm::token {

// derived_attributes computes the ECDH shared secret (the X coordinate, the field's size) of base_key (an
// EC private key) and the peer's public point (CK_ECDH1_DERIVE_PARAMS.pPublicData: the
// uncompressed point, raw or as a DER OCTET STRING) and returns the attributes of a new secret
// key holding its rightmost CKA_VALUE_LEN bytes. The template may give CKA_CLASS (CKO_SECRET_KEY),
// CKA_KEY_TYPE (default CKK_GENERIC_SECRET; CKK_AES needs 16, 24 or 32 bytes) and CKA_VALUE_LEN
// (default: the whole secret; for AES the longest AES key it holds). The key is made as an
// unwrapped one (CKA_LOCAL false, CKA_KEY_GEN_MECHANISM unavailable); CKA_ALWAYS_SENSITIVE and
// CKA_NEVER_EXTRACTABLE follow the base key by the key-sensitivity rules PKCS#11 gives derivation
// mechanisms (CKA_ALWAYS_SENSITIVE: the base key's and the new key's CKA_SENSITIVE; likewise
// CKA_NEVER_EXTRACTABLE with not CKA_EXTRACTABLE).
// Throws CkError: CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID (a KDF other than CKD_NULL,
// shared data, a peer point not on the curve), CKR_KEY_TYPE_INCONSISTENT,
// CKR_TEMPLATE_INCONSISTENT, and what complete_template throws.
AttributeMap derived_attributes(const Mechanism& mechanism, const Object& base_key,
                        const AttributeMap& tmpl);

}  // namespace twinhsm::token
