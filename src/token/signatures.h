// Signing and verification operations (C_Sign*, C_Verify*), made for a mechanism and a key the
// way make_cipher makes encryption operations: signatures with key pairs (RSA PKCS#1 v1.5, PSS
// and raw, ECDSA, DSA, EdDSA) and MACs with secret keys (HMAC, CMAC), with each mechanism's rules
// on its input (raw PKCS#1's k−11 bytes, raw PSS's exact hash size, the PSS salt's bound).
#pragma once

#include <cstdint>
#include <memory>

#include "crypto/pkey.h"
#include "token/mechanisms.h"
#include "token/token.h"

namespace twinhsm::token {

// SignatureOperation is one sign or verify operation over data given in parts. Not thread safe.
class SignatureOperation {
 public:
  virtual ~SignatureOperation() = default;
  // size is the length of every signature (or MAC) the operation makes or checks.
  virtual size_t size() const = 0;
  // update adds data; throws CkError(CKR_DATA_LEN_RANGE) past the mechanism's limit.
  virtual void update(ByteView data) = 0;
  // sign ends a signing operation and returns the signature. Throws CkError(CKR_DATA_LEN_RANGE)
  // when the input is not what the mechanism takes (raw PSS: exactly a hash).
  virtual Bytes sign() = 0;
  // verify ends a verifying operation. Throws CkError: CKR_DATA_LEN_RANGE (as sign),
  // CKR_SIGNATURE_LEN_RANGE (a signature of the wrong length), CKR_SIGNATURE_INVALID. A MAC is
  // compared in constant time.
  virtual void verify(ByteView signature) = 0;
  // take_hmac: MacOperation::take_hmac of a MAC's operation (nullopt for any other).
  virtual std::optional<MacOperation::Keyed> take_hmac() { return std::nullopt; }
};

// SigningKeyCache keeps the private key a session last made ready to sign (crypto::SignContext)
// with the object it came from and the login it belongs to: a stream of signatures with one key
// and mechanism skips OpenSSL's preparation. For an HMAC it keeps instead the HMAC keyed with the
// secret key (keyed_hmac) and the mechanism: each MAC clones it rather than keying again. A logout
// drops it (the key leaves memory). An object is never changed in place (a change makes a new
// one), so the same object is the same key and attributes.
struct SigningKeyCache {
  ObjectPtr object;
  uint64_t login_epoch = 0;
  std::shared_ptr<const crypto::SignContext> context;  // a key pair's; else null
  CK_MECHANISM_TYPE hmac_mechanism = 0;
  std::shared_ptr<const crypto::Hmac> hmac;  // an HMAC's; else null
  // The context of the last MAC made with hmac, given back (MacOperation::take_hmac) for the next
  // one to restart rather than copy hmac.
  std::optional<crypto::Hmac> spare;
};

// make_signer makes a signing operation with key (a private key, or a secret key for a MAC
// mechanism), reusing cache when it holds the same key object, scheme and login (epoch: the
// token's login epoch read before the key was looked up), refilling it otherwise. make_verifier
// makes a verifying one (a public key, the private key of a pair, or a secret key for a MAC:
// one that may not also sign with the mechanism checks no short MAC, key_policy.h's
// check_tag_length).
// The caller has checked the key's usage attribute and CKA_ALLOWED_MECHANISMS (key_for). Throw
// CkError: CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID (PSS parameters, a salt too long
// for the key), CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_SIZE_RANGE.
std::unique_ptr<SignatureOperation> make_signer(const Mechanism& mechanism, const ObjectPtr& key,
                                                uint64_t login_epoch,
                                                std::optional<SigningKeyCache>& cache);
std::unique_ptr<SignatureOperation> make_verifier(Token& token, const Mechanism& mechanism,
                                                  const Object& key);
// keep_hmac gives op's HMAC context, once it has signed, back to cache when it came from the
// cache's keyed HMAC (another key's would make wrong MACs): the next MAC restarts it.
void keep_hmac(SignatureOperation& op, std::optional<SigningKeyCache>& cache);

}  // namespace twinhsm::token
