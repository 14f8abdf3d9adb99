// The mechanisms twinhsm implements: their parameters (parsed and copied by the PKCS#11 layer),
// and the operations they make: key generation (key_generation.cc), sign/verify with key pairs
// (mechanisms.cc) and secret keys (macs.cc), encrypt/decrypt (ciphers.cc, aead_ciphers.cc).
// Wrapping and derivation are in wrapping.h and derivation.h; the table of mechanisms and the
// policies that offer them in mechanism_table.h.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <variant>
#include <vector>

#include "crypto/cipher.h"
#include "crypto/digest.h"
#include "crypto/pkey.h"
#include "crypto/rsa_encryption.h"
#include "token/attributes.h"
#include "token/mechanism_table.h"

namespace twinhsm::token {

struct Object;

struct GcmParams {
  Bytes iv;
  Bytes aad;
  CK_ULONG tag_bits = 128;
};
// CcmParams: CK_CCM_PARAMS (the message length is given in advance).
struct CcmParams {
  CK_ULONG data_len = 0;
  Bytes nonce;
  Bytes aad;
  CK_ULONG mac_len = 16;
};
// ChaChaPolyParams: CK_SALSA20_CHACHA20_POLY1305_PARAMS.
struct ChaChaPolyParams {
  Bytes nonce;
  Bytes aad;
};
struct PssParams {
  CK_MECHANISM_TYPE hash = CKM_SHA256;
  CK_RSA_PKCS_MGF_TYPE mgf = CKG_MGF1_SHA256;
  CK_ULONG salt_len = 32;
};
// IvParams: the IV of CKM_AES_CBC(_PAD), CKM_AES_CTS (16 bytes), CKM_DES(3)_CBC(_PAD) (8 bytes),
// the tweak of CKM_AES_XTS (16 bytes), or the optional alternative initial value of
// CKM_AES_KEY_WRAP (8 bytes) and CKM_AES_KEY_WRAP_PAD/KWP (4 bytes).
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
// DataParams: a parameter that is a byte string: CKM_DH_PKCS_DERIVE's peer public value,
// CKM_*_ECB_ENCRYPT_DATA's CK_KEY_DERIVATION_STRING_DATA.
struct DataParams {
  Bytes data;
};
// EncryptDataParams: CK_AES_CBC_ENCRYPT_DATA_PARAMS / CK_DES_CBC_ENCRYPT_DATA_PARAMS.
struct EncryptDataParams {
  Bytes iv;
  Bytes data;
};
// MacGeneralParams: CK_MAC_GENERAL_PARAMS, the length of a *_HMAC_GENERAL / *_CMAC_GENERAL MAC.
struct MacGeneralParams {
  CK_ULONG length = 0;
};
// HkdfParams: CK_HKDF_PARAMS.
struct HkdfParams {
  bool extract = false;
  bool expand = false;
  CK_MECHANISM_TYPE prf = CKM_SHA256;
  CK_ULONG salt_type = CKF_HKDF_SALT_NULL;
  Bytes salt;
  CK_OBJECT_HANDLE salt_key = CK_INVALID_HANDLE;
  Bytes info;
};
// Sp800Params: CK_SP800_108_KDF_PARAMS / CK_SP800_108_FEEDBACK_KDF_PARAMS, each data parameter
// copied with its format.
struct Sp800DataParam {
  CK_ULONG type = 0;           // CK_SP800_108_ITERATION_VARIABLE, _COUNTER, ...
  bool little_endian = false;  // counter and DKM length formats
  CK_ULONG width_bits = 0;
  CK_ULONG dkm_method = 0;  // CK_SP800_108_DKM_LENGTH_SUM_OF_*
  bool has_format = false;
  Bytes bytes;  // CK_SP800_108_BYTE_ARRAY
};
struct Sp800Params {
  bool feedback = false;
  CK_MECHANISM_TYPE prf = CKM_SHA256_HMAC;
  std::vector<Sp800DataParam> data;
  Bytes iv;  // feedback mode
  CK_ULONG additional_keys = 0;
};

// Mechanism is a CK_MECHANISM with its parameter copied out of the caller's memory.
struct Mechanism {
  CK_MECHANISM_TYPE type = 0;
  std::variant<std::monostate, GcmParams, CcmParams, ChaChaPolyParams, PssParams, IvParams,
               CtrParams, OaepParams, Ecdh1Params, DataParams, EncryptDataParams, MacGeneralParams,
               HkdfParams, Sp800Params>
      params;
};

// check_allowed throws CKR_MECHANISM_INVALID when the key's CKA_ALLOWED_MECHANISMS is set and
// does not name the mechanism.
void check_allowed(const AttributeMap& key, CK_MECHANISM_TYPE mechanism);
// is_encrypt_data_mechanism: CKM_AES/DES/DES3 _ECB/_CBC _ENCRYPT_DATA.
bool is_encrypt_data_mechanism(CK_MECHANISM_TYPE type);
// is_rsa_pss_mechanism: CKM_RSA_PKCS_PSS and the CKM_<hash>_RSA_PKCS_PSS with SHA-1, SHA-2, SHA-3.
bool is_rsa_pss_mechanism(CK_MECHANISM_TYPE type);
// names_mechanism: the key's CKA_ALLOWED_MECHANISMS is set and names the mechanism (set without
// naming it: CKR_MECHANISM_INVALID, as check_allowed).
bool names_mechanism(const AttributeMap& key, CK_MECHANISM_TYPE mechanism);

// digest_of_mechanism maps CKM_SHA_1 ... CKM_SHA512, CKM_SHA3_224 ... CKM_SHA3_512 and CKM_MD5
// to the hash; nullopt for other mechanisms.
std::optional<crypto::DigestAlg> digest_of_mechanism(CK_MECHANISM_TYPE hash);
// digest_of_mgf maps CKG_MGF1_SHA1 ... CKG_MGF1_SHA3_512 to the hash; nullopt for others.
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
  // take_hmac: after finish, an HMAC made by hmac_from gives back its context, still keyed, with
  // the keyed_hmac it came from (for the caller to keep for the next MAC with that key).
  struct Keyed {
    std::shared_ptr<const crypto::Hmac> origin;
    crypto::Hmac hmac;
  };
  virtual std::optional<Keyed> take_hmac() { return std::nullopt; }
};

// is_mac_mechanism: the mechanism signs and verifies with secret keys (HMAC, CMAC).
bool is_mac_mechanism(CK_MECHANISM_TYPE type);
// make_mac checks the key (a secret key: CKK_GENERIC_SECRET or the mechanism's HMAC key type of
// 1 to 512 bytes for HMAC, an AES or Triple DES key for CMAC) and the length of a *_GENERAL MAC,
// and returns the operation. Throws CkError: CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID,
// CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_SIZE_RANGE.
std::unique_ptr<MacOperation> make_mac(const Mechanism& mechanism, const AttributeMap& key);
// keyed_hmac makes the checks of make_mac for an HMAC mechanism and returns the HMAC keyed with the
// key and never updated, to be cloned for each message (hmac_from): a stream of MACs with one key
// does not set the key up again. nullptr when the mechanism is not an HMAC (CMAC).
std::shared_ptr<const crypto::Hmac> keyed_hmac(const Mechanism& mechanism, const AttributeMap& key);
// hmac_from returns the operation of make_mac on keyed (keyed_hmac of the same mechanism type and
// key): on `ready` when given (an HMAC of the same key that take_hmac gave back, restarted), else
// on a copy of it; checking the length of a *_GENERAL MAC.
std::unique_ptr<MacOperation> hmac_from(const Mechanism& mechanism,
                                        const std::shared_ptr<const crypto::Hmac>& keyed,
                                        std::optional<crypto::Hmac> ready = std::nullopt);

// generated_key_attributes makes the attributes of a new secret key (or domain parameters) for
// the mechanism from the caller's template: CKM_AES_KEY_GEN (CKA_VALUE_LEN 16, 24 or 32),
// CKM_AES_XTS_KEY_GEN (32 or 64), CKM_GENERIC_SECRET_KEY_GEN and CKM_HKDF_KEY_GEN (1 to 512),
// CKM_CHACHA20_KEY_GEN (32), CKM_DES_KEY_GEN, CKM_DES2_KEY_GEN, CKM_DES3_KEY_GEN (8, 16, 24
// bytes, odd parity), CKM_DSA_PARAMETER_GEN and CKM_DH_PKCS_PARAMETER_GEN (CKA_PRIME_BITS, and
// CKA_SUB_PRIME_BITS for DSA).
AttributeMap generated_key_attributes(const Mechanism& mechanism, const AttributeMap& tmpl);
// generated_pair_attributes makes a public and a private key object: CKM_RSA_PKCS_KEY_PAIR_GEN
// (CKA_MODULUS_BITS 2048 to 4096, from 1024 under the legacy policy; optional
// CKA_PUBLIC_EXPONENT), CKM_EC_KEY_PAIR_GEN, CKM_EC_EDWARDS_KEY_PAIR_GEN and
// CKM_EC_MONTGOMERY_KEY_PAIR_GEN (CKA_EC_PARAMS; P-192 and explicit parameters under the legacy
// policy), CKM_DSA_KEY_PAIR_GEN and CKM_DH_PKCS_KEY_PAIR_GEN (the domain parameters in the public
// template).
std::pair<AttributeMap, AttributeMap> generated_pair_attributes(const Mechanism& mechanism,
                                                                const AttributeMap& public_tmpl,
                                                                const AttributeMap& private_tmpl,
                                                                AlgorithmPolicy policy);

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
// CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_SIZE_RANGE) and returns the operation: CKM_AES_ECB, _CBC,
// _CBC_PAD, _CTR, _CTS, _GCM, _CCM with an AES key, CKM_AES_XTS with an AES-XTS key,
// CKM_CHACHA20_POLY1305 with a ChaCha20 key, CKM_DES(3)_ECB, _CBC, _CBC_PAD with a DES (Triple
// DES) key; CKM_RSA_PKCS, CKM_RSA_PKCS_OAEP and CKM_RSA_X_509 with an RSA public key (encrypt) or
// private key (decrypt).
std::unique_ptr<CipherOperation> make_cipher(const Mechanism& mechanism, const Object& key,
                                             bool encrypt);

// rsa_padding maps CKM_RSA_PKCS, CKM_RSA_X_509 and CKM_RSA_PKCS_OAEP (SHA-1 or SHA-256, MGF1
// with the same hash, source CKZ_DATA_SPECIFIED with an optional label) to the crypto padding.
// Throws CkError: CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID.
crypto::RsaPadding rsa_padding(const Mechanism& mechanism);

// block_cipher_key is the key's value for a block cipher: AES (16, 24, 32 bytes), DES (8), Triple
// DES (a DES2 key of 16 bytes or a DES3 key of 24). Throws as secret_key_value.
const SecureBytes& block_cipher_key(const AttributeMap& key, crypto::BlockCipher alg);

// secret_key_value is the value of a secret key of the given type, of one of the allowed
// lengths. Throws CKR_KEY_TYPE_INCONSISTENT (type_rv) for another key, CKR_KEY_SIZE_RANGE
// (size_rv) for another length.
const SecureBytes& secret_key_value(const AttributeMap& key, CK_KEY_TYPE type,
                                    std::initializer_list<size_t> lengths,
                                    CK_RV type_rv = CKR_KEY_TYPE_INCONSISTENT,
                                    CK_RV size_rv = CKR_KEY_SIZE_RANGE);

}  // namespace twinhsm::token
