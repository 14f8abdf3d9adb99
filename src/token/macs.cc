// Sign/verify with secret keys (make_mac, mechanisms.h): HMAC with SHA-1/SHA-2 and AES-CMAC.
#include "crypto/cmac.h"
#include "crypto/digest.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/mechanisms.h"

namespace twinhsm::token {

namespace {

struct HmacMechanism {
  CK_MECHANISM_TYPE type;
  crypto::DigestAlg alg;
  CK_KEY_TYPE key_type;  // the HMAC key type of the hash; CKK_GENERIC_SECRET fits every HMAC
};

constexpr HmacMechanism kHmacs[] = {
    {CKM_SHA_1_HMAC, crypto::DigestAlg::sha1, CKK_SHA_1_HMAC},
    {CKM_SHA224_HMAC, crypto::DigestAlg::sha224, CKK_SHA224_HMAC},
    {CKM_SHA256_HMAC, crypto::DigestAlg::sha256, CKK_SHA256_HMAC},
    {CKM_SHA384_HMAC, crypto::DigestAlg::sha384, CKK_SHA384_HMAC},
    {CKM_SHA512_HMAC, crypto::DigestAlg::sha512, CKK_SHA512_HMAC},
};

const HmacMechanism* hmac_mechanism(CK_MECHANISM_TYPE type) {
  for (const auto& m : kHmacs) {
    if (m.type == type) {
      return &m;
    }
  }
  return nullptr;
}

// MacOf adapts crypto::Hmac and crypto::Cmac.
template <class Mac>
class MacOf : public MacOperation {
 public:
  MacOf(Mac mac, size_t size) : mac_(std::move(mac)), size_(size) {}
  size_t size() const override { return size_; }
  void update(ByteView data) override { mac_.update(data); }
  SecureBytes finish() override { return mac_.finish(); }

 private:
  Mac mac_;
  size_t size_;
};

}  // namespace

bool is_mac_mechanism(CK_MECHANISM_TYPE type) {
  return type == CKM_AES_CMAC || hmac_mechanism(type) != nullptr;
}

std::unique_ptr<MacOperation> make_mac(const Mechanism& mechanism, const AttributeMap& key) {
  const SecureBytes& value = secret_value(key);
  CK_KEY_TYPE kt = key_type(key);
  if (mechanism.type == CKM_AES_CMAC) {
    require(kt == CKK_AES, CKR_KEY_TYPE_INCONSISTENT, "AES-CMAC needs an AES key");
    require(value.size() == 16 || value.size() == 24 || value.size() == 32, CKR_KEY_SIZE_RANGE,
            "an AES key must be 16, 24 or 32 bytes");
    return std::make_unique<MacOf<crypto::Cmac>>(crypto::Cmac(value), crypto::kCmacSize);
  }
  const HmacMechanism* m = hmac_mechanism(mechanism.type);
  require(m != nullptr, CKR_MECHANISM_INVALID, "the mechanism is not a MAC");
  require(kt == CKK_GENERIC_SECRET || kt == m->key_type, CKR_KEY_TYPE_INCONSISTENT,
          "HMAC needs a generic secret key or an HMAC key of the mechanism's hash");
  require(!value.empty() && value.size() <= 512, CKR_KEY_SIZE_RANGE,
          "an HMAC key must be 1 to 512 bytes");
  return std::make_unique<MacOf<crypto::Hmac>>(crypto::Hmac(m->alg, value),
                                               crypto::digest_size(m->alg));
}

}  // namespace twinhsm::token
