// ObjectCodec turns an object's attributes into the row the store keeps, and back. A private
// object is AES-256-GCM under the storage key SK; the key material of a public object is
// AES-256-GCM under the device's object key, its other attributes in the clear; both bind the
// object's id as associated data (a row moved to another id does not open). Index tags are keyed
// hashes of CKA_CLASS, CKA_ID and CKA_LABEL: under the device's public index key for public
// objects, under a key derived from SK for private ones (no private label is seen in the clear).
#pragma once

#include <optional>
#include <string>

#include "crypto/digest.h"
#include "store/store.h"
#include "token/attributes.h"
#include "token/role.h"

namespace twinhsm::token {

// LoginKeys are the keys of one login, taken together: an object is sealed with SK and indexed
// with the private index key of the same login.
struct LoginKeys {
  Role role;
  SecureBytes sk;
  SecureBytes index_key;   // private_index_key(sk)
  std::string generation;  // the token generation the login opened SK of
};

// private_index_key derives the index key of private objects from SK.
SecureBytes private_index_key(const SecureBytes& sk);

class ObjectCodec {
 public:
  // object_key seals public objects' key material; index_key tags public objects.
  ObjectCodec(SecureBytes object_key, SecureBytes index_key)
      : object_key_(std::move(object_key)),
        index_key_(std::move(index_key)),
        public_tagger_(tagger(index_key_)) {}

  // encode makes the row of object id. A private object needs keys (CKR_USER_NOT_LOGGED_IN).
  store::ObjectRow encode(int64_t id, const AttributeMap& attrs, const LoginKeys* keys) const;
  // decode opens a row; a private row needs sk. Throws IntegrityError when it does not open.
  // portable, when given, tells whether the row is in the portable attribute encoding (rather
  // than the first one, which only x86-64 builds wrote).
  AttributeMap decode(const store::ObjectRow& row, const SecureBytes* sk,
                      bool* portable = nullptr) const;

  // tag is the index tag of attrs' value of type under key, or nullopt when attrs lacks it.
  static std::optional<Bytes> tag(const AttributeMap& attrs, CK_ATTRIBUTE_TYPE type,
                                  const SecureBytes& key);
  // The same tag from a tagger, an HMAC keyed with the index key once (crypto::Hmac::clone):
  // a find computes up to six tags, and keying HMAC each time was most of its cost.
  static crypto::Hmac tagger(const SecureBytes& key) {
    return crypto::Hmac(crypto::DigestAlg::sha256, key);
  }
  static std::optional<Bytes> tag(const AttributeMap& attrs, CK_ATTRIBUTE_TYPE type,
                                  const crypto::Hmac& tagger);
  const crypto::Hmac& public_tagger() const { return public_tagger_; }
  // public_tags are the three tags a query (or public row) has under the public index key.
  const SecureBytes& public_index_key() const { return index_key_; }

 private:
  SecureBytes object_key_;
  SecureBytes index_key_;
  crypto::Hmac public_tagger_;  // keyed with index_key_
};

}  // namespace twinhsm::token
