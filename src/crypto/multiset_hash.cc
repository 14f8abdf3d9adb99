#include "crypto/multiset_hash.h"

#include "crypto/digest.h"
#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

using detail::BnCtxPtr;
using detail::check;
using detail::not_null;
using detail::SecretBnPtr;

struct MultisetHash::Impl {
  SecureBytes key;
  SecretBnPtr sum{not_null(BN_new(), "BN_new")};
  SecretBnPtr modulus{not_null(BN_new(), "BN_new")};  // 2^256
  BnCtxPtr ctx{not_null(BN_CTX_new(), "BN_CTX_new")};

  SecretBnPtr term(ByteView element) const {
    SecureBytes h = hmac_sha256(key, element);
    return SecretBnPtr(
        not_null(BN_bin2bn(h.data(), static_cast<int>(h.size()), nullptr), "BN_bin2bn"));
  }
};

MultisetHash::MultisetHash(SecureBytes key) : impl_(std::make_unique<Impl>()) {
  impl_->key = std::move(key);
  BN_zero(impl_->sum.get());
  check(BN_set_bit(impl_->modulus.get(), 8 * kSize), "BN_set_bit");
}

MultisetHash::~MultisetHash() = default;
MultisetHash::MultisetHash(MultisetHash&&) noexcept = default;
MultisetHash& MultisetHash::operator=(MultisetHash&&) noexcept = default;

void MultisetHash::add(ByteView element) {
  SecretBnPtr t = impl_->term(element);
  check(BN_mod_add(impl_->sum.get(), impl_->sum.get(), t.get(), impl_->modulus.get(),
                   impl_->ctx.get()),
        "BN_mod_add");
}

void MultisetHash::remove(ByteView element) {
  SecretBnPtr t = impl_->term(element);
  check(BN_mod_sub(impl_->sum.get(), impl_->sum.get(), t.get(), impl_->modulus.get(),
                   impl_->ctx.get()),
        "BN_mod_sub");
}

SecureBytes MultisetHash::value() const {
  SecureBytes out(kSize);
  if (BN_bn2binpad(impl_->sum.get(), out.data(), static_cast<int>(out.size())) !=
      static_cast<int>(kSize)) {
    detail::throw_openssl("BN_bn2binpad");
  }
  return out;
}

void MultisetHash::set_value(ByteView v) {
  if (v.size() != kSize) {
    throw CryptoError("a multiset hash value must be 32 bytes");
  }
  not_null(BN_bin2bn(v.data(), static_cast<int>(v.size()), impl_->sum.get()), "BN_bin2bn");
}

}  // namespace twinhsm::crypto
