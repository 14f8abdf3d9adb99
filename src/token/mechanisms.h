// The mechanisms twinhsm implements: their CK_MECHANISM_INFO, their parameters (parsed and copied
// by the PKCS#11 layer), and the operations they make: key generation (mechanisms.cc), sign/verify
// with key pairs (mechanisms.cc) and secret keys (macs.cc), encrypt/decrypt (ciphers.cc). Wrapping
// and derivation are in wrapping.h and derivation.h.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "crypto/digest.h"
#include "crypto/pkey.h"
#include "crypto/rsa_encryption.h"
#include "token/attributes.h"

namespace twinhsm::token {

struct Object;

struct MechanismInfo {
  CK_MECHANISM_TYPE type;
  CK_ULONG min_key_size;
  CK_ULONG max_key_size;
  CK_FLAGS flags;
};

// mechanisms lists every supported mechanism in C_GetMechanismList order.
std::span<const MechanismInfo> mechanisms();
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
// IvParams: the IV of CKM_AES_CBC and CKM_AES_CBC_PAD (16 bytes), or the optional alternative
// initial value of CKM_AES_KEY_WRAP (8 bytes) and CKM_AES_KEY_WRAP_PAD (4 bytes).
struct IvParams {
  Bytes iv;
};
// CtrParams: CK_AES_CTR_PARAMS (the counter is the low `bits` bits of the 16-byte block).
struct CtrParams {
  CK_ULONG bits = 0;
  Bytes block;
};
// OaepParams: CK_RSA_PKCS_OAEP_PARAMS, the label (source data) copied.
struct OaepParams {
  CK_MECHANISM_TYPE hash = CKM_SHA_1;
  CK_RSA_PKCS_MGF_TYPE mgf = CKG_MGF1_SHA1;
  CK_RSA_PKCS_OAEP_SOURCE_TYPE source = CKZ_DATA_SPECIFIED;
  Bytes label;
};
// Ecdh1Params: CK_ECDH1_DERIVE_PARAMS, the shared data and the peer's public data copied.
struct Ecdh1Params {
  CK_ULONG kdf = CKD_NULL;  // CK_EC_KDF_TYPE (p11-kit names it ck_ec_kdf_t)
  Bytes shared;
  Bytes peer;
};

// Mechanism is a CK_MECHANISM with its parameter copied out of the caller's memory.
struct Mechanism {
  CK_MECHANISM_TYPE type = 0;
  std::variant<std::monostate, GcmParams, PssParams, IvParams, CtrParams, OaepParams, Ecdh1Params>
      params;
};

// check_allowed throws CKR_MECHANISM_INVALID when the key's CKA_ALLOWED_MECHANISMS is set and
// does not name the mechanism.
void check_allowed(const AttributeMap& key, CK_MECHANISM_TYPE mechanism);

// digest_of_mechanism maps CKM_SHA_1 ... CKM_SHA512 to the hash; nullopt for other mechanisms.
std::optional<crypto::DigestAlg> digest_of_mechanism(CK_MECHANISM_TYPE hash);
// digest_of_mgf maps CKG_MGF1_SHA1 ... CKG_MGF1_SHA512 to the hash; nullopt for others.
std::optional<crypto::DigestAlg> digest_of_mgf(CK_RSA_PKCS_MGF_TYPE mgf);

// secret_value is a secret key's CKA_VALUE. Throws CKR_KEY_TYPE_INCONSISTENT for another class,
// CKR_KEY_HANDLE_INVALID when the value is missing.
const SecureBytes& secret_value(const AttributeMap& key);

// signature_scheme maps a sign/verify mechanism to the crypto scheme, checking that the key fits.
// Throws CkError: CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID, CKR_KEY_TYPE_INCONSISTENT.
crypto::SignatureScheme signature_scheme(const Mechanism& mechanism, const AttributeMap& key);

// MacOperation computes a MAC (HMAC, AES-CMAC) with a secret key over data given in parts: one
// sign or verify operation. Not thread safe.
class MacOperation {
 public:
  virtual ~MacOperation() = default;
  virtual size_t size() const = 0;  // the MAC's length in bytes
  virtual void update(ByteView data) = 0;
  virtual SecureBytes finish() = 0;
};

// is_mac_mechanism: the mechanism signs and verifies with secret keys (CKM_SHA*_HMAC, CKM_AES_CMAC).
bool is_mac_mechanism(CK_MECHANISM_TYPE type);
// make_mac checks the key (a secret key: CKK_GENERIC_SECRET or the mechanism's CKK_SHA*_HMAC key
// of 1 to 512 bytes for HMAC, an AES key for CMAC) and returns the operation. Throws CkError:
// CKR_MECHANISM_INVALID, CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_SIZE_RANGE.
std::unique_ptr<MacOperation> make_mac(const Mechanism& mechanism, const AttributeMap& key);

// generated_secret_attributes makes the attributes of a new secret key for mechanism from the caller's
// template, CKA_VALUE_LEN giving the size: CKM_AES_KEY_GEN (16, 24 or 32 bytes, CKK_AES) and
// CKM_GENERIC_SECRET_KEY_GEN (1 to 512 bytes, CKK_GENERIC_SECRET).
AttributeMap generated_secret_attributes(const Mechanism& mechanism, const AttributeMap& tmpl);
// generated_pair_attributes makes a public and a private key object (CKM_RSA_PKCS_KEY_PAIR_GEN with
// CKA_MODULUS_BITS and optional CKA_PUBLIC_EXPONENT; CKM_EC_KEY_PAIR_GEN and
// CKM_EC_EDWARDS_KEY_PAIR_GEN with CKA_EC_PARAMS).
std::pair<AttributeMap, AttributeMap> generated_pair_attributes(const Mechanism& mechanism,
                                                        const AttributeMap& public_tmpl,
                                                        const AttributeMap& private_tmpl);

// CipherOperation is one encryption or decryption. Single-part: run(in). Multi-part: update()
// returns what is ready, finish() the rest. The *_size functions give the exact length the next
// call returns, or nullopt when it depends on the data (decryption with padding, RSA decryption):
// the caller then runs the step and keeps its output until it is collected. Output is SecureBytes:
// decryption gives plaintext. Errors are CkError with the code PKCS#11 names. Not thread safe.
class CipherOperation {
 public:
  virtual ~CipherOperation() = default;
  virtual std::optional<size_t> output_size(size_t n) const = 0;
  virtual SecureBytes run(ByteView in) = 0;
  // run_into is run() writing straight into out (exactly output_size(in.size()) bytes), for
  // bulk data; false when the operation has no such path (the caller then uses run()).
  virtual bool run_into(ByteView in, std::span<uint8_t> out) {
    (void)in;
    (void)out;
    return false;
  }
  virtual std::optional<size_t> update_size(size_t n) const = 0;
  virtual SecureBytes update(ByteView in) = 0;
  virtual std::optional<size_t> finish_size() const = 0;
  virtual SecureBytes finish() = 0;
};

// make_cipher checks mechanism and key (CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID,
// CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_SIZE_RANGE) and returns the operation: CKM_AES_ECB,
// CKM_AES_CBC, CKM_AES_CBC_PAD, CKM_AES_CTR, CKM_AES_GCM with an AES key; CKM_RSA_PKCS and
// CKM_RSA_PKCS_OAEP with an RSA public key (encrypt) or private key (decrypt).
std::unique_ptr<CipherOperation> make_cipher(const Mechanism& mechanism, const Object& key,
                                             bool encrypt);

// rsa_padding maps CKM_RSA_PKCS and CKM_RSA_PKCS_OAEP (SHA-1 or SHA-256, MGF1 with the same hash,
// source CKZ_DATA_SPECIFIED with an optional label) to the crypto padding. Throws CkError:
// CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID.
crypto::RsaPadding rsa_padding(const Mechanism& mechanism);

}  // namespace twinhsm::token
