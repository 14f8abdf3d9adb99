// AES-CMAC over EVP_MAC ("CMAC" with cipher "AES-<n>-CBC").
#include "crypto/cmac.h"

#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

struct Cmac::Impl {
  detail::MacCtxPtr ctx;
};

Cmac::Cmac(std::span<const uint8_t> key) : impl_(std::make_unique<Impl>()) {
  const char* cipher = nullptr;
  switch (key.size()) {
    case 16:
      cipher = "AES-128-CBC";
      break;
    case 24:
      cipher = "AES-192-CBC";
      break;
    case 32:
      cipher = "AES-256-CBC";
      break;
    default:
      throw CryptoError("AES-CMAC key must be 16, 24 or 32 bytes long");
  }
  impl_->ctx.reset(detail::not_null(EVP_MAC_CTX_new(detail::fetched_mac("CMAC")), "CMAC context"));
  OSSL_PARAM params[] = {detail::utf8_param(OSSL_MAC_PARAM_CIPHER, cipher),
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

SecureBytes Cmac::finish() {
  if (!impl_ || !impl_->ctx) {
    throw UsageError("CMAC already finished");
  }
  SecureBytes out(kCmacSize);
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
