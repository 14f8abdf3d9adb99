// Sign/verify with secret keys (make_mac, mechanisms.h): HMAC with SHA-1, SHA-2, SHA-3 and MD5,
// CMAC with AES and Triple DES; each full length, or truncated by its *_GENERAL variant.
#include "crypto/cmac.h"
#include "crypto/digest.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/mechanisms.h"

namespace twinhsm::token {

namespace {

struct HmacMechanism {
  CK_MECHANISM_TYPE type;
  CK_MECHANISM_TYPE general;  // the *_HMAC_GENERAL variant
  crypto::DigestAlg alg;
  CK_KEY_TYPE key_type;  // the HMAC key type of the hash; CKK_GENERIC_SECRET fits every HMAC
};

constexpr HmacMechanism kHmacs[] = {
    {CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL, crypto::DigestAlg::sha1, CKK_SHA_1_HMAC},
    {CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL, crypto::DigestAlg::sha224, CKK_SHA224_HMAC},
    {CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL, crypto::DigestAlg::sha256, CKK_SHA256_HMAC},
    {CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL, crypto::DigestAlg::sha384, CKK_SHA384_HMAC},
    {CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL, crypto::DigestAlg::sha512, CKK_SHA512_HMAC},
    {CKM_SHA3_224_HMAC, CKM_SHA3_224_HMAC_GENERAL, crypto::DigestAlg::sha3_224, CKK_SHA3_224_HMAC},
    {CKM_SHA3_256_HMAC, CKM_SHA3_256_HMAC_GENERAL, crypto::DigestAlg::sha3_256, CKK_SHA3_256_HMAC},
    {CKM_SHA3_384_HMAC, CKM_SHA3_384_HMAC_GENERAL, crypto::DigestAlg::sha3_384, CKK_SHA3_384_HMAC},
    {CKM_SHA3_512_HMAC, CKM_SHA3_512_HMAC_GENERAL, crypto::DigestAlg::sha3_512, CKK_SHA3_512_HMAC},
    {CKM_MD5_HMAC, CKM_MD5_HMAC_GENERAL, crypto::DigestAlg::md5, CKK_MD5_HMAC},
};

const HmacMechanism* hmac_mechanism(CK_MECHANISM_TYPE type) {
  for (const auto& m : kHmacs) {
    if (m.type == type || m.general == type) {
      return &m;
    }
  }
  return nullptr;
}

bool is_general(CK_MECHANISM_TYPE type) {
  if (type == CKM_AES_CMAC_GENERAL || type == CKM_DES3_CMAC_GENERAL) {
    return true;
  }
  const HmacMechanism* m = hmac_mechanism(type);
  return m != nullptr && m->general == type;
}

// MacOf adapts crypto::Hmac and crypto::Cmac; a *_GENERAL MAC keeps the first `size` bytes.
template <class Mac>
class MacOf : public MacOperation {
 public:
  MacOf(Mac mac, size_t size) : mac_(std::move(mac)), size_(size) {}
  size_t size() const override { return size_; }
  void update(ByteView data) override { mac_.update(data); }
  SecureBytes finish() override {
    SecureBytes mac = mac_.finish();
    mac.resize(size_);
    return mac;
  }

 private:
  Mac mac_;
  size_t size_;
};

// KeptHmac: an HMAC from a keyed_hmac, whose context take_hmac gives back after finish.
class KeptHmac : public MacOperation {
 public:
  KeptHmac(std::shared_ptr<const crypto::Hmac> origin, crypto::Hmac mac, size_t size)
      : origin_(std::move(origin)), mac_(std::move(mac)), size_(size) {}
  size_t size() const override { return size_; }
  void update(ByteView data) override { mac_->update(data); }
  SecureBytes finish() override {
    SecureBytes mac = mac_->finish_keeping_key();
    finished_ = true;
    mac.resize(size_);
    return mac;
  }
  std::optional<Keyed> take_hmac() override {
    if (!finished_ || !mac_) {
      return std::nullopt;
    }
    Keyed out{origin_, std::move(*mac_)};
    mac_.reset();
    return out;
  }

 private:
  std::shared_ptr<const crypto::Hmac> origin_;
  std::optional<crypto::Hmac> mac_;
  size_t size_;
  bool finished_ = false;
};

// mac_length is the length the mechanism makes of a full MAC of `full` bytes: all of it, or the
// *_GENERAL parameter's 1 to full bytes.
size_t mac_length(const Mechanism& mechanism, size_t full) {
  if (!is_general(mechanism.type)) {
    return full;
  }
  const auto* p = std::get_if<MacGeneralParams>(&mechanism.params);
  require(p != nullptr && p->length >= 1 && p->length <= full, CKR_MECHANISM_PARAM_INVALID,
          "a *_GENERAL MAC needs a CK_MAC_GENERAL_PARAMS of 1 to the MAC's full length");
  return p->length;
}

// checked_hmac checks that the mechanism is an HMAC and that the key fits it.
const HmacMechanism* checked_hmac(const Mechanism& mechanism, const AttributeMap& key) {
  const SecureBytes& value = secret_value(key);  // make_mac's order of checks
  CK_KEY_TYPE kt = key_type(key);
  const HmacMechanism* m = hmac_mechanism(mechanism.type);
  require(m != nullptr, CKR_MECHANISM_INVALID, "the mechanism is not a MAC");
  require(kt == CKK_GENERIC_SECRET || kt == m->key_type, CKR_KEY_TYPE_INCONSISTENT,
          "HMAC needs a generic secret key or an HMAC key of the mechanism's hash");
  require(!value.empty() && value.size() <= 512, CKR_KEY_SIZE_RANGE,
          "an HMAC key must be 1 to 512 bytes");
  return m;
}

}  // namespace

bool is_mac_mechanism(CK_MECHANISM_TYPE type) {
  return type == CKM_AES_CMAC || type == CKM_AES_CMAC_GENERAL || type == CKM_DES3_CMAC ||
         type == CKM_DES3_CMAC_GENERAL || hmac_mechanism(type) != nullptr;
}

std::unique_ptr<MacOperation> make_mac(const Mechanism& mechanism, const AttributeMap& key) {
  const SecureBytes& value = secret_value(key);
  CK_KEY_TYPE kt = key_type(key);
  if (mechanism.type == CKM_AES_CMAC || mechanism.type == CKM_AES_CMAC_GENERAL) {
    secret_key_value(key, CKK_AES, {16, 24, 32});
    return std::make_unique<MacOf<crypto::Cmac>>(crypto::Cmac(value),
                                                 mac_length(mechanism, crypto::kCmacSize));
  }
  if (mechanism.type == CKM_DES3_CMAC || mechanism.type == CKM_DES3_CMAC_GENERAL) {
    require(kt == CKK_DES2 || kt == CKK_DES3, CKR_KEY_TYPE_INCONSISTENT,
            "Triple DES CMAC needs a DES2 or DES3 key");
    secret_key_value(key, kt, {kt == CKK_DES2 ? size_t{16} : size_t{24}});
    return std::make_unique<MacOf<crypto::Cmac>>(crypto::Cmac(crypto::BlockCipher::des3, value),
                                                 mac_length(mechanism, crypto::kDesBlock));
  }
  const HmacMechanism* m = checked_hmac(mechanism, key);
  return std::make_unique<MacOf<crypto::Hmac>>(crypto::Hmac(m->alg, value),
                                               mac_length(mechanism, crypto::digest_size(m->alg)));
}

std::shared_ptr<const crypto::Hmac> keyed_hmac(const Mechanism& mechanism,
                                               const AttributeMap& key) {
  if (hmac_mechanism(mechanism.type) == nullptr) {
    return nullptr;
  }
  const HmacMechanism* m = checked_hmac(mechanism, key);
  return std::make_shared<const crypto::Hmac>(m->alg, secret_value(key));
}

std::unique_ptr<MacOperation> hmac_from(const Mechanism& mechanism,
                                        const std::shared_ptr<const crypto::Hmac>& keyed,
                                        std::optional<crypto::Hmac> ready) {
  size_t size = mac_length(mechanism, keyed->size());
  return std::make_unique<KeptHmac>(keyed, ready ? std::move(*ready) : keyed->clone(), size);
}

}  // namespace twinhsm::token
