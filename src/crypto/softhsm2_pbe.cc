// SoftHSMv2's iterated salted SHA-256 over EVP_Digest*.
#include "crypto/softhsm2_pbe.h"

#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

unsigned softhsm2_pin_key_iterations(ByteView salt) {
  if (salt.size() < 8) {
    throw UsageError("a SoftHSMv2 PIN salt is at least 8 bytes");
  }
  return 1500u + salt.back();
}

SecureBytes softhsm2_pin_key(ByteView pin, ByteView salt) {
  unsigned n = softhsm2_pin_key_iterations(salt);
  if (pin.empty()) {
    throw UsageError("the PIN is empty");
  }
  const EVP_MD* sha256 = detail::fetched_md(DigestAlg::sha256);
  detail::MdCtxPtr ctx(detail::not_null(EVP_MD_CTX_new(), "EVP_MD_CTX_new"));
  SecureBytes k(32);
  unsigned len = 0;
  detail::check(EVP_DigestInit_ex2(ctx.get(), sha256, nullptr), "EVP_DigestInit_ex2");
  detail::check(EVP_DigestUpdate(ctx.get(), salt.data(), salt.size()), "EVP_DigestUpdate");
  detail::check(EVP_DigestUpdate(ctx.get(), pin.data(), pin.size()), "EVP_DigestUpdate");
  detail::check(EVP_DigestFinal_ex(ctx.get(), k.data(), &len), "EVP_DigestFinal_ex");
  for (unsigned i = 1; i < n; ++i) {
    // Update has taken K_(i-1) into the context before Final overwrites it with K_i.
    detail::check(EVP_DigestInit_ex2(ctx.get(), sha256, nullptr), "EVP_DigestInit_ex2");
    detail::check(EVP_DigestUpdate(ctx.get(), k.data(), k.size()), "EVP_DigestUpdate");
    detail::check(EVP_DigestFinal_ex(ctx.get(), k.data(), &len), "EVP_DigestFinal_ex");
  }
  if (len != k.size()) {
    throw CryptoError("SHA-256 gave an output of the wrong length");
  }
  return k;
}

}  // namespace twinhsm::crypto
