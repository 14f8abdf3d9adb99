// The mechanisms twinhsm implements: their CK_MECHANISM_INFO, their parameters (parsed and copied
// by the PKCS#11 layer), and the operations they make: key generation, sign/verify, encrypt/decrypt.
#pragma once

#include <memory>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include "crypto/pkey.h"
#include "token/attributes.h"

namespace twinhsm::token {

struct MechanismInfo {
  CK_MECHANISM_TYPE type;
  CK_ULONG min_key_size;
  CK_ULONG max_key_size;
  CK_FLAGS flags;
};

// mechanisms lists every supported mechanism in C_GetMechanismList order.
const std::vector<MechanismInfo>& mechanisms();
// mechanism_info returns the entry for type, or nullptr if unsupported.
const MechanismInfo* mechanism_info(CK_MECHANISM_TYPE type);

struct GcmParams {
  Bytes iv;
  Bytes aad;
  CK_ULONG tag_bits = 128;
};
struct PssParams {
  CK_MECHANISM_TYPE hash = CKM_SHA256;
  CK_RSA_PKCS_MGF_TYPE mgf = CKG_MGF1_SHA256;
  CK_ULONG salt_len = 32;
};

// Mechanism is a CK_MECHANISM with its parameter copied out of the caller's memory.
struct Mechanism {
  CK_MECHANISM_TYPE type = 0;
  std::variant<std::monostate, GcmParams, PssParams> params;
};

// check_allowed throws CKR_MECHANISM_INVALID when the key's CKA_ALLOWED_MECHANISMS is set and
// does not name the mechanism.
void check_allowed(const AttributeMap& key, CK_MECHANISM_TYPE mechanism);

// signature_scheme maps a sign/verify mechanism to the crypto scheme, checking that the key fits.
// Throws CkError: CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID, CKR_KEY_TYPE_INCONSISTENT.
crypto::SignatureScheme signature_scheme(const Mechanism& mechanism, const AttributeMap& key);

// generate_secret_key makes the attributes of a new secret key for mechanism (CKM_AES_KEY_GEN)
// from the caller's template (CKA_VALUE_LEN picks the size).
AttributeMap generate_secret_key(const Mechanism& mechanism, const AttributeMap& tmpl);
// generate_key_pair makes a public and a private key object (CKM_RSA_PKCS_KEY_PAIR_GEN with
// CKA_MODULUS_BITS and optional CKA_PUBLIC_EXPONENT; CKM_EC_KEY_PAIR_GEN and
// CKM_EC_EDWARDS_KEY_PAIR_GEN with CKA_EC_PARAMS).
std::pair<AttributeMap, AttributeMap> generate_key_pair(const Mechanism& mechanism,
                                                        const AttributeMap& public_tmpl,
                                                        const AttributeMap& private_tmpl);

// CipherOperation is one encryption or decryption. Single-part: output_size(n) then run(in).
// Multi-part: update() returns what is ready, finish() the rest. Not thread safe.
class CipherOperation {
 public:
  virtual ~CipherOperation() = default;
  // output_size bounds the output of run() for an input of n bytes (exact where possible).
  virtual size_t output_size(size_t n) const = 0;
  virtual Bytes run(ByteView in) = 0;
  // update_size bounds the output of update() for n more bytes; finish_size that of finish().
  virtual size_t update_size(size_t n) const = 0;
  virtual Bytes update(ByteView in) = 0;
  virtual size_t finish_size() const = 0;
  virtual Bytes finish() = 0;
};

// make_cipher checks mechanism and key (CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID,
// CKR_KEY_TYPE_INCONSISTENT) and returns the operation.
std::unique_ptr<CipherOperation> make_cipher(const Mechanism& mechanism, const AttributeMap& key,
                                             bool encrypt);

}  // namespace twinhsm::token
