// Internal to key derivation (derivation.cc and the families: agreement_derivation.cc,
// kdf_derivation.cc, encrypt_data_derivation.cc): how each family computes its bytes, and how a
// key is cut from them.
#pragma once

#include <optional>

#include "token/attributes.h"
#include "token/mechanisms.h"
#include "token/token.h"

namespace twinhsm::token {

// DerivedRequest: what the template asks of the new key.
struct DerivedRequest {
  CK_KEY_TYPE key_type = CKK_GENERIC_SECRET;
  std::optional<size_t> value_len;  // CKA_VALUE_LEN, or the key type's one length
};
DerivedRequest derived_request(const AttributeMap& tmpl);

// length_from: the key's length when the output has `available` bytes (a whole secret or
// ciphertext): the request's, at most available (else CKR_TEMPLATE_INCONSISTENT); else all of it,
// or for an AES key the longest AES length it holds.
size_t length_from(const DerivedRequest& request, size_t available);
// length_needed: the key's length for a KDF, which makes as many bytes as asked: the request's,
// else CKR_TEMPLATE_INCOMPLETE (an AES key: 32 bytes).
size_t length_needed(const DerivedRequest& request);

// The families. Each returns the new key's value, of the length the request gives (cut by the
// family's rule: key agreement with CKD_NULL keeps the rightmost bytes, as SoftHSMv2 and kryoptic
// do; encryption keeps the leftmost).
SecureBytes agreement_value(const Mechanism& m, const Object& base, const DerivedRequest& request);
SecureBytes kdf_value(const Mechanism& m, const Object& base, const DerivedRequest& request,
                      const Object* salt_key);
SecureBytes encrypt_data_value(const Mechanism& m, const Object& base,
                               const DerivedRequest& request);

}  // namespace twinhsm::token
