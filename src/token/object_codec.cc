// Objects to rows and back (object_codec.h).
#include "token/object_codec.h"

#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"

namespace twinhsm::token {

namespace {

constexpr size_t kKeyLen = 32;
constexpr size_t kNonceLen = 12;
constexpr size_t kTagLen = 16;
constexpr size_t kIndexTagLen = 16;

Bytes object_aad(int64_t id, bool is_private) {
  Bytes aad(as_bytes("twinhsm object v1").begin(), as_bytes("twinhsm object v1").end());
  append_be(aad, static_cast<uint64_t>(id), 8);
  aad.push_back(is_private ? 1 : 0);
  return aad;
}

Bytes seal(const SecureBytes& key, ByteView aad, const SecureBytes& plaintext) {
  Bytes out = crypto::random_bytes(kNonceLen);
  Bytes ct = crypto::aes_gcm_encrypt(key, out, aad, plaintext, kTagLen);
  append(out, ct);
  return out;
}

SecureBytes open(const SecureBytes& key, ByteView aad, ByteView sealed) {
  if (sealed.size() < kNonceLen + kTagLen) {
    throw IntegrityError("a stored object is truncated");
  }
  return crypto::aes_gcm_decrypt(key, sealed.first(kNonceLen), aad, sealed.subspan(kNonceLen),
                                 kTagLen);
}

}  // namespace

SecureBytes private_index_key(const SecureBytes& sk) {
  return crypto::kbkdf_counter_hmac_sha256(sk, "twinhsm private index v1", ByteView(), kKeyLen);
}

std::optional<Bytes> ObjectCodec::tag(const AttributeMap& attrs, CK_ATTRIBUTE_TYPE type,
                                      const SecureBytes& key) {
  const SecureBytes* value = attrs.find(type);
  if (!value) {
    return std::nullopt;
  }
  Bytes input;
  append_be(input, type, 8);
  append(input, AttributeMap::portable_value(type, *value));  // the same tag on every host
  SecureBytes mac = crypto::hmac_sha256(key, input);
  return Bytes(mac.begin(), mac.begin() + kIndexTagLen);
}

std::optional<Bytes> ObjectCodec::tag(const AttributeMap& attrs, CK_ATTRIBUTE_TYPE type,
                                      const crypto::Hmac& tagger) {
  const SecureBytes* value = attrs.find(type);
  if (!value) {
    return std::nullopt;
  }
  Bytes input;
  append_be(input, type, 8);
  append(input, AttributeMap::portable_value(type, *value));  // as tag(attrs, type, key) does
  crypto::Hmac h = tagger.clone();
  h.update(input);
  SecureBytes mac = h.finish();
  return Bytes(mac.begin(), mac.begin() + kIndexTagLen);
}

store::ObjectRow ObjectCodec::encode(int64_t id, const AttributeMap& attrs,
                                     const LoginKeys* keys) const {
  store::ObjectRow row;
  row.id = id;
  row.is_private = attrs.get_bool(CKA_PRIVATE, true);
  require(!row.is_private || keys, CKR_USER_NOT_LOGGED_IN,
          "a private object needs the user logged in");
  const SecureBytes& index_key = row.is_private ? keys->index_key : index_key_;
  row.class_tag = tag(attrs, CKA_CLASS, index_key);
  row.id_tag = tag(attrs, CKA_ID, index_key);
  row.label_tag = tag(attrs, CKA_LABEL, index_key);
  Bytes aad = object_aad(id, row.is_private);
  if (row.is_private) {
    row.body = seal(keys->sk, aad, attrs.encode());
    return row;
  }
  AttributeMap clear, material;
  for (const auto& [type, value] : attrs) {
    (is_key_material(attrs, type) ? material : clear).set(type, value);
  }
  SecureBytes body = clear.encode();
  row.body.assign(body.begin(), body.end());
  if (material.size() > 0) {
    row.secret = seal(object_key_, aad, material.encode());
  }
  return row;
}

AttributeMap ObjectCodec::decode(const store::ObjectRow& row, const SecureBytes* sk,
                                 bool* portable) const {
  Bytes aad = object_aad(row.id, row.is_private);
  if (row.is_private) {
    if (!sk) {
      throw IntegrityError("a private object cannot be opened without the storage key");
    }
    SecureBytes plain = open(*sk, aad, row.body);
    if (portable) {
      *portable = AttributeMap::is_portable(plain);
    }
    return AttributeMap::decode(plain);
  }
  if (portable) {
    *portable = AttributeMap::is_portable(row.body);
  }
  AttributeMap attrs = AttributeMap::decode(row.body);
  if (!row.secret.empty()) {
    AttributeMap material = AttributeMap::decode(open(object_key_, aad, row.secret));
    for (const auto& [type, value] : material) {
      attrs.set(type, value);
    }
  }
  return attrs;
}

}  // namespace twinhsm::token
