// Signing and verification operations (signatures.h).
#include "token/signatures.h"

#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/key_management.h"
#include "token/key_material.h"
#include "token/key_policy.h"

namespace twinhsm::token {

namespace {

// Limits holds what a mechanism takes as input beyond "any data".
struct Limits {
  size_t max_input = 0;    // raw RSA PKCS#1: modulus bytes - 11; raw RSA: modulus bytes; 0: none
  bool raw_rsa = false;    // CKM_RSA_X_509: an input not below the modulus is CKR_DATA_INVALID
  size_t exact_input = 0;  // raw RSA-PSS: the hash's size; 0: any
  size_t seen = 0;

  void add(size_t n) {
    seen += n;
    require(max_input == 0 || seen <= max_input, CKR_DATA_LEN_RANGE,
            "the data is too long for the mechanism");
  }
  void check_complete() const {
    require(exact_input == 0 || seen == exact_input, CKR_DATA_LEN_RANGE,
            "the input must be a hash of the mechanism's size");
  }
};

// MacSignature: HMAC or CMAC with a secret key.
class MacSignature : public SignatureOperation {
 public:
  explicit MacSignature(std::unique_ptr<MacOperation> mac) : mac_(std::move(mac)) {}
  size_t size() const override { return mac_->size(); }
  void update(ByteView data) override { mac_->update(data); }
  Bytes sign() override {
    SecureBytes mac = mac_->finish();
    return Bytes(mac.begin(), mac.end());
  }
  std::optional<MacOperation::Keyed> take_hmac() override { return mac_->take_hmac(); }
  void verify(ByteView signature) override {
    // Constant time: the comparison does not tell how much of a forged MAC was right.
    SecureBytes mac = mac_->finish();
    bool length_ok = signature.size() == mac.size();
    bool ok = length_ok && crypto::ct_equal(mac, signature);
    require(length_ok, CKR_SIGNATURE_LEN_RANGE, "the signature has the wrong length");
    require(ok, CKR_SIGNATURE_INVALID, "the signature does not verify");
  }

 private:
  std::unique_ptr<MacOperation> mac_;
};

// KeySignature: a signature with a key pair.
class KeySignature : public SignatureOperation {
 public:
  KeySignature(size_t size, Limits limits, std::optional<crypto::Signer> signer,
               std::optional<crypto::Verifier> verifier)
      : size_(size), limits_(limits), signer_(std::move(signer)), verifier_(std::move(verifier)) {}
  size_t size() const override { return size_; }
  void update(ByteView data) override {
    limits_.add(data.size());
    if (signer_) {
      signer_->update(data);
    } else {
      verifier_->update(data);
    }
  }
  Bytes sign() override {
    limits_.check_complete();
    try {
      return signer_->finish();
    } catch (const CryptoError&) {
      if (limits_.raw_rsa) {
        throw CkError(CKR_DATA_INVALID, "the data is not below the modulus (raw RSA)");
      }
      throw;
    }
  }
  void verify(ByteView signature) override {
    limits_.check_complete();
    bool ok = verifier_->finish(signature);
    require(signature.size() == size_, CKR_SIGNATURE_LEN_RANGE,
            "the signature has the wrong length");
    require(ok, CKR_SIGNATURE_INVALID, "the signature does not verify");
  }

 private:
  size_t size_;
  Limits limits_;
  std::optional<crypto::Signer> signer_;
  std::optional<crypto::Verifier> verifier_;
};

std::unique_ptr<SignatureOperation> make_mac_operation(const Mechanism& mechanism,
                                                       const Object& key) {
  require(object_class(key.attrs) == CKO_SECRET_KEY, CKR_KEY_TYPE_INCONSISTENT,
          "a MAC mechanism needs a secret key");
  return std::make_unique<MacSignature>(make_mac(mechanism, key.attrs));
}

// limits_of applies the mechanism's rules on input for the key; throws
// CKR_MECHANISM_PARAM_INVALID for a PSS salt too long for the key.
Limits limits_of(const crypto::SignatureScheme& scheme, size_t signature_size) {
  Limits limits;
  if (scheme.kind == crypto::SignatureScheme::Kind::rsa_pkcs1 && !scheme.digest) {
    limits.max_input = signature_size - 11;
  }
  if (scheme.kind == crypto::SignatureScheme::Kind::rsa_raw) {
    limits.max_input = signature_size;
    limits.raw_rsa = true;
  }
  if (scheme.kind == crypto::SignatureScheme::Kind::rsa_pss) {
    size_t hash_len = crypto::digest_size(scheme.pss_hash);
    require(signature_size >= hash_len + 2 && scheme.salt_len <= signature_size - hash_len - 2,
            CKR_MECHANISM_PARAM_INVALID, "the PSS salt is too long for the key");
    limits.exact_input = scheme.digest ? 0 : hash_len;
  }
  return limits;
}

}  // namespace

std::unique_ptr<SignatureOperation> make_signer(const Mechanism& mechanism, const ObjectPtr& key,
                                                uint64_t login_epoch,
                                                std::optional<SigningKeyCache>& cache) {
  if (is_mac_mechanism(mechanism.type)) {
    if (cache && cache->hmac && cache->object == key && cache->login_epoch == login_epoch &&
        cache->hmac_mechanism == mechanism.type) {
      std::optional<crypto::Hmac> ready = std::move(cache->spare);
      cache->spare.reset();
      if (ready && !ready->restart()) {
        ready.reset();
      }
      return std::make_unique<MacSignature>(hmac_from(mechanism, cache->hmac, std::move(ready)));
    }
    require(object_class(key->attrs) == CKO_SECRET_KEY, CKR_KEY_TYPE_INCONSISTENT,
            "a MAC mechanism needs a secret key");
    auto keyed = keyed_hmac(mechanism, key->attrs);
    if (!keyed) {
      return make_mac_operation(mechanism, *key);  // CMAC
    }
    cache.reset();  // the previous key leaves memory first
    cache = SigningKeyCache{key, login_epoch, nullptr, mechanism.type, keyed, std::nullopt};
    return std::make_unique<MacSignature>(hmac_from(mechanism, keyed));
  }
  require(object_class(key->attrs) == CKO_PRIVATE_KEY, CKR_KEY_TYPE_INCONSISTENT,
          "signing needs a private key");
  crypto::SignatureScheme scheme = signature_scheme(mechanism, key->attrs);
  const crypto::PKey& pkey = object_pkey(*key);
  size_t size = crypto::signature_size(pkey, scheme);
  Limits limits = limits_of(scheme, size);
  if (!cache || !cache->context || cache->object != key || cache->login_epoch != login_epoch ||
      !(cache->context->scheme() == scheme)) {
    cache.reset();  // the previous key leaves memory first
    cache.emplace();
    cache->object = key;
    cache->login_epoch = login_epoch;
    cache->context = std::make_shared<const crypto::SignContext>(pkey, scheme);
  }
  return std::make_unique<KeySignature>(size, limits, crypto::Signer(cache->context), std::nullopt);
}

void keep_hmac(SignatureOperation& op, std::optional<SigningKeyCache>& cache) {
  if (!cache || !cache->hmac) {
    return;
  }
  if (auto kept = op.take_hmac(); kept && kept->origin == cache->hmac) {
    cache->spare = std::move(kept->hmac);
  }
}

std::unique_ptr<SignatureOperation> make_verifier(Token& token, const Mechanism& mechanism,
                                                  const Object& key) {
  if (is_mac_mechanism(mechanism.type)) {
    auto op = make_mac_operation(mechanism, key);
    check_tag_length(op->size(), may_use(token, Use::sign, key.attrs, mechanism));
    return op;
  }
  CK_OBJECT_CLASS cls = object_class(key.attrs);
  require(cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY, CKR_KEY_TYPE_INCONSISTENT,
          "verifying needs a public key (or the private key of the pair)");
  crypto::SignatureScheme scheme = signature_scheme(mechanism, key.attrs);
  const crypto::PKey& pkey = object_pkey(key);
  size_t size = crypto::signature_size(pkey, scheme);
  return std::make_unique<KeySignature>(size, limits_of(scheme, size), std::nullopt,
                                        crypto::Verifier(pkey, scheme));
}

}  // namespace twinhsm::token
