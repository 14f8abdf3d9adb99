// Message digests over EVP_MD and HMAC over EVP_MAC.
#include "crypto/digest.h"

#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

size_t digest_size(DigestAlg alg) noexcept {
  switch (alg) {
    case DigestAlg::sha1:
      return 20;
    case DigestAlg::sha224:
      return 28;
    case DigestAlg::sha256:
      return 32;
    case DigestAlg::sha384:
      return 48;
    case DigestAlg::sha512:
    case DigestAlg::sha3_512:
      return 64;
    case DigestAlg::sha3_224:
      return 28;
    case DigestAlg::sha3_256:
      return 32;
    case DigestAlg::sha3_384:
      return 48;
    case DigestAlg::md5:
      return 16;
  }
  return 0;
}

const char* digest_name(DigestAlg alg) noexcept {
  switch (alg) {
    case DigestAlg::sha1:
      return "SHA1";
    case DigestAlg::sha224:
      return "SHA224";
    case DigestAlg::sha256:
      return "SHA256";
    case DigestAlg::sha384:
      return "SHA384";
    case DigestAlg::sha512:
      return "SHA512";
    case DigestAlg::sha3_224:
      return "SHA3-224";
    case DigestAlg::sha3_256:
      return "SHA3-256";
    case DigestAlg::sha3_384:
      return "SHA3-384";
    case DigestAlg::sha3_512:
      return "SHA3-512";
    case DigestAlg::md5:
      return "MD5";
  }
  return "";
}

// ---- Digester ----

struct Digester::Impl {
  detail::MdCtxPtr ctx;
  size_t size = 0;
  DigestAlg alg = DigestAlg::sha256;
  bool finished = false;  // by finish_into: ctx is fresh, restart makes it usable
};

void Digester::ImplDeleter::operator()(Impl* impl) const noexcept {
  delete impl;
}

Digester::Digester(DigestAlg alg) : impl_(new Impl) {
  impl_->ctx.reset(detail::not_null(EVP_MD_CTX_new(), "digest context"));
  impl_->size = digest_size(alg);
  impl_->alg = alg;
  detail::check(EVP_DigestInit_ex2(impl_->ctx.get(), detail::fetched_md(alg), nullptr),
                "digest init failed");
}

void Digester::update(ByteView data) {
  if (!impl_ || !impl_->ctx || impl_->finished) {
    throw UsageError("digest already finished");
  }
  if (!data.empty()) {
    detail::check(EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()),
                  "digest update failed");
  }
}

Bytes Digester::finish() {
  if (!impl_ || !impl_->ctx || impl_->finished) {
    throw UsageError("digest already finished");
  }
  Bytes out(impl_->size);
  unsigned int len = 0;
  detail::check(EVP_DigestFinal_ex(impl_->ctx.get(), out.data(), &len), "digest final failed");
  impl_->ctx.reset();
  if (len != out.size()) {
    throw CryptoError("digest final failed: unexpected output length");
  }
  return out;
}

void Digester::finish_into(std::span<uint8_t> out) {
  if (!impl_ || !impl_->ctx || impl_->finished) {
    throw UsageError("digest already finished");
  }
  if (out.size() != impl_->size) {
    throw UsageError("digest: the output must be the digest's length");
  }
  unsigned int len = 0;
  detail::check(EVP_DigestFinal_ex(impl_->ctx.get(), out.data(), &len), "digest final failed");
  if (len != out.size()) {
    throw CryptoError("digest final failed: unexpected output length");
  }
  impl_->finished = true;
  // Afresh now: the context keeps no state of the data (a digested key's, with C_DigestKey).
  if (EVP_DigestInit_ex2(impl_->ctx.get(), EVP_MD_CTX_get0_md(impl_->ctx.get()), nullptr) != 1) {
    impl_->ctx.reset();
  }
}

bool Digester::restart() noexcept {
  if (!impl_ || !impl_->ctx || !impl_->finished) {
    return false;
  }
  impl_->finished = false;
  return true;
}

DigestAlg Digester::alg() const noexcept {
  return impl_ ? impl_->alg : DigestAlg::sha256;
}

Bytes digest(DigestAlg alg, ByteView data) {
  Digester d(alg);
  d.update(data);
  return d.finish();
}

// ---- Hmac ----

struct Hmac::Impl {
  detail::MacCtxPtr ctx;
  size_t size = 0;
};

Hmac::Hmac(DigestAlg alg, std::span<const uint8_t> key) : impl_(std::make_unique<Impl>()) {
  impl_->ctx.reset(detail::not_null(EVP_MAC_CTX_new(detail::fetched_mac("HMAC")), "HMAC context"));
  impl_->size = digest_size(alg);
  OSSL_PARAM params[] = {detail::utf8_param(OSSL_MAC_PARAM_DIGEST, digest_name(alg)),
                         OSSL_PARAM_construct_end()};
  // An empty key must still be passed as a (non-NULL) key: NULL means "keep the previous key".
  detail::check(EVP_MAC_init(impl_->ctx.get(), detail::data_or_empty(key), key.size(), params),
                "HMAC init failed");
}

Hmac::~Hmac() = default;
Hmac::Hmac(Hmac&&) noexcept = default;
Hmac& Hmac::operator=(Hmac&&) noexcept = default;

void Hmac::update(ByteView data) {
  if (!impl_ || !impl_->ctx) {
    throw UsageError("HMAC already finished");
  }
  if (!data.empty()) {
    detail::check(EVP_MAC_update(impl_->ctx.get(), data.data(), data.size()), "HMAC update failed");
  }
}

SecureBytes Hmac::finish() {
  if (!impl_ || !impl_->ctx) {
    throw UsageError("HMAC already finished");
  }
  SecureBytes out(impl_->size);
  size_t len = 0;
  detail::check(EVP_MAC_final(impl_->ctx.get(), out.data(), &len, out.size()), "HMAC final failed");
  impl_->ctx.reset();
  if (len != out.size()) {
    throw CryptoError("HMAC final failed: unexpected output length");
  }
  return out;
}

SecureBytes Hmac::finish_keeping_key() {
  if (!impl_ || !impl_->ctx) {
    throw UsageError("HMAC already finished");
  }
  SecureBytes out(impl_->size);
  size_t len = 0;
  if (EVP_MAC_final(impl_->ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size()) {
    impl_->ctx.reset();
    detail::throw_openssl("HMAC final failed");
  }
  return out;
}

bool Hmac::restart() noexcept {
  return impl_ && impl_->ctx && EVP_MAC_init(impl_->ctx.get(), nullptr, 0, nullptr) == 1;
}

Hmac Hmac::clone() const {
  if (!impl_ || !impl_->ctx) {
    throw UsageError("HMAC already finished");
  }
  Hmac out;
  out.impl_ = std::make_unique<Impl>();
  out.impl_->ctx.reset(detail::not_null(EVP_MAC_CTX_dup(impl_->ctx.get()), "HMAC context copy"));
  out.impl_->size = impl_->size;
  return out;
}

size_t Hmac::size() const noexcept {
  return impl_ ? impl_->size : 0;
}

SecureBytes hmac(DigestAlg alg, std::span<const uint8_t> key, ByteView data) {
  Hmac h(alg, key);
  h.update(data);
  return h.finish();
}

}  // namespace twinhsm::crypto
