// AES-CBC-CTS and AES-XTS over EVP_CIPHER, one call each (oneshot_cipher.h).
#include "crypto/oneshot_cipher.h"

#include <string>

#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

namespace {

// run encrypts or decrypts in with one EVP_CipherUpdate (these modes take the message whole).
SecureBytes run(const char* name, std::span<const uint8_t> key, ByteView iv, bool encrypt,
                std::span<const uint8_t> in, const OSSL_PARAM* params) {
  std::string what = std::string(name) + " failed";
  detail::CipherCtxPtr ctx(detail::not_null(EVP_CIPHER_CTX_new(), what.c_str()));
  detail::check(EVP_CipherInit_ex2(ctx.get(), detail::fetched_cipher(name), key.data(), iv.data(),
                                   encrypt ? 1 : 0, params),
                what.c_str());
  SecureBytes out(in.size() + 16);
  int len = 0;
  detail::check(EVP_CipherUpdate(ctx.get(), out.data(), &len, in.data(),
                                 detail::checked_int(in.size(), what.c_str())),
                what.c_str());
  int fin = 0;
  detail::check(EVP_CipherFinal_ex(ctx.get(), out.data() + len, &fin), what.c_str());
  if (static_cast<size_t>(len) + static_cast<size_t>(fin) != in.size()) {
    throw CryptoError(what + ": unexpected output length");
  }
  out.resize(in.size());
  return out;
}

}  // namespace

SecureBytes aes_cts(std::span<const uint8_t> key, ByteView iv, bool encrypt,
                    std::span<const uint8_t> in) {
  const char* name = key.size() == 16   ? "AES-128-CBC-CTS"
                     : key.size() == 24 ? "AES-192-CBC-CTS"
                     : key.size() == 32 ? "AES-256-CBC-CTS"
                                        : nullptr;
  if (name == nullptr || iv.size() != 16 || in.size() < 16) {
    throw CryptoError(
        "AES-CTS: the key must be 16, 24 or 32 bytes, the IV 16, the data 16 or more");
  }
  OSSL_PARAM params[] = {detail::utf8_param(OSSL_CIPHER_PARAM_CTS_MODE, "CS1"),
                         OSSL_PARAM_construct_end()};
  return run(name, key, iv, encrypt, in, params);
}

SecureBytes aes_xts(std::span<const uint8_t> key, ByteView tweak, bool encrypt,
                    std::span<const uint8_t> in) {
  const char* name = key.size() == 32 ? "AES-128-XTS" : key.size() == 64 ? "AES-256-XTS" : nullptr;
  if (name == nullptr || tweak.size() != 16 || in.size() < 16) {
    throw CryptoError("AES-XTS: the key must be 32 or 64 bytes, the tweak 16, the data 16 or more");
  }
  size_t half = key.size() / 2;
  if (ct_equal(key.first(half), key.subspan(half))) {
    throw CryptoError("AES-XTS: the two halves of the key must differ");
  }
  return run(name, key, tweak, encrypt, in, nullptr);
}

}  // namespace twinhsm::crypto
