// CMAC over EVP_MAC ("CMAC" with cipher "AES-<n>-CBC" or "DES-EDE3-CBC").
#include "crypto/cmac.h"

#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

struct Cmac::Impl {
  detail::MacCtxPtr ctx;
  size_t size = kCmacSize;
};

Cmac::Cmac(BlockCipher cipher, std::span<const uint8_t> key) : impl_(std::make_unique<Impl>()) {
  const char* cipher_name = nullptr;
  SecureBytes three_key;  // a two-key Triple DES key K1 || K2 as K1 || K2 || K1
  if (cipher == BlockCipher::des3) {
    if (key.size() != 16 && key.size() != 24) {
      throw CryptoError("Triple DES CMAC key must be 16 or 24 bytes long");
    }
    three_key.assign(key.begin(), key.end());
    if (key.size() == 16) {
      three_key.insert(three_key.end(), key.begin(), key.begin() + 8);
    }
    key = three_key;
    cipher_name = "DES-EDE3-CBC";
    impl_->size = kDesBlock;
  } else if (cipher != BlockCipher::aes) {
    throw CryptoError("CMAC is computed with AES or Triple DES");
  }
  if (cipher_name == nullptr) {
    cipher_name = key.size() == 16   ? "AES-128-CBC"
                  : key.size() == 24 ? "AES-192-CBC"
                  : key.size() == 32 ? "AES-256-CBC"
                                     : nullptr;
  }
  if (cipher_name == nullptr) {
    throw CryptoError("AES-CMAC key must be 16, 24 or 32 bytes long");
  }
  impl_->ctx.reset(detail::not_null(EVP_MAC_CTX_new(detail::fetched_mac("CMAC")), "CMAC context"));
  OSSL_PARAM params[] = {detail::utf8_param(OSSL_MAC_PARAM_CIPHER, cipher_name),
                         OSSL_PARAM_construct_end()};
  detail::check(EVP_MAC_init(impl_->ctx.get(), key.data(), key.size(), params), "CMAC init failed");
}

Cmac::~Cmac() = default;
Cmac::Cmac(Cmac&&) noexcept = default;
Cmac& Cmac::operator=(Cmac&&) noexcept = default;

void Cmac::update(ByteView data) {
  if (!impl_ || !impl_->ctx) {
    throw UsageError("CMAC already finished");
  }
  if (!data.empty()) {
    detail::check(EVP_MAC_update(impl_->ctx.get(), data.data(), data.size()), "CMAC update failed");
  }
}

size_t Cmac::size() const {
  return impl_->size;
}

SecureBytes Cmac::finish() {
  if (!impl_ || !impl_->ctx) {
    throw UsageError("CMAC already finished");
  }
  SecureBytes out(impl_->size);
  size_t len = 0;
  detail::check(EVP_MAC_final(impl_->ctx.get(), out.data(), &len, out.size()), "CMAC final failed");
  impl_->ctx.reset();
  if (len != out.size()) {
    throw CryptoError("CMAC final failed: unexpected output length");
  }
  return out;
}

SecureBytes aes_cmac(std::span<const uint8_t> key, ByteView data) {
  Cmac c(key);
  c.update(data);
  return c.finish();
}

}  // namespace twinhsm::crypto
