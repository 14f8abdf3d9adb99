// AES key wrap (RFC 3394 / SP 800-38F KW) and with padding (RFC 5649 / KWP) over OpenSSL's
// "AES-<n>-WRAP" and "AES-<n>-WRAP-PAD" ciphers, default IVs (A6A6A6A6A6A6A6A6 and A65959A6).
#include "crypto/keywrap.h"

#include <string>

#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

namespace {

enum class Mode { kw, kwp };

// SP 800-38F caps the input of KW and KWP at 2^32 semiblocks; OpenSSL at 2^31 bytes.
constexpr size_t kMaxInput = size_t{1} << 31;

const char* wrap_name(size_t kek_len, Mode mode) {
  switch (kek_len) {
    case 16:
      return mode == Mode::kw ? "AES-128-WRAP" : "AES-128-WRAP-PAD";
    case 24:
      return mode == Mode::kw ? "AES-192-WRAP" : "AES-192-WRAP-PAD";
    case 32:
      return mode == Mode::kw ? "AES-256-WRAP" : "AES-256-WRAP-PAD";
    default:
      throw CryptoError("AES key wrap: the KEK must be 16, 24 or 32 bytes long");
  }
}

// run wraps (enc = 1) or unwraps (enc = 0) in with one EVP_CipherUpdate, the way OpenSSL's wrap
// ciphers work. out must hold the largest possible result. Returns the output length, or -1 if
// OpenSSL refused the input, which for unwrapping means the integrity check failed (the lengths
// are checked before).
long run(std::span<const uint8_t> kek, Mode mode, int enc, std::span<const uint8_t> in,
         std::span<uint8_t> out) {
  const char* name = wrap_name(kek.size(), mode);
  const EVP_CIPHER* cipher = detail::fetched_cipher(name);
  detail::CipherCtxPtr ctx(detail::not_null(EVP_CIPHER_CTX_new(), "AES key wrap context"));
  // A NULL IV selects the default IV of the mode.
  detail::check(EVP_CipherInit_ex2(ctx.get(), cipher, kek.data(), nullptr, enc, nullptr),
                "AES key wrap setup failed");
  int len = 0;
  if (EVP_CipherUpdate(ctx.get(), out.data(), &len, in.data(),
                       detail::checked_int(in.size(), "AES key wrap")) != 1) {
    return -1;
  }
  int final_len = 0;
  if (EVP_CipherFinal_ex(ctx.get(), out.data() + len, &final_len) != 1) {
    return -1;
  }
  return static_cast<long>(len) + final_len;
}

Bytes wrap(std::span<const uint8_t> kek, std::span<const uint8_t> key_data, Mode mode) {
  if (mode == Mode::kw && (key_data.size() < 16 || key_data.size() % 8 != 0)) {
    throw CryptoError("AES key wrap: key data must be a multiple of 8 bytes, at least 16");
  }
  if (mode == Mode::kwp && key_data.empty()) {
    throw CryptoError("AES key wrap with padding: key data must not be empty");
  }
  if (key_data.size() > kMaxInput) {
    throw CryptoError("AES key wrap: key data too long");
  }
  size_t expected = (key_data.size() + 7) / 8 * 8 + 8;
  // OpenSSL writes the whole result in the update call, whatever output size it assumes.
  Bytes out(expected + 16);
  long len = run(kek, mode, 1, key_data, out);
  if (len < 0) {
    detail::throw_openssl("AES key wrap failed");
  }
  if (static_cast<size_t>(len) != expected) {
    throw CryptoError("AES key wrap failed: unexpected output length");
  }
  out.resize(expected);
  return out;
}

SecureBytes unwrap(std::span<const uint8_t> kek, ByteView wrapped, Mode mode) {
  size_t min_len = mode == Mode::kw ? 24 : 16;
  if (wrapped.size() < min_len || wrapped.size() % 8 != 0) {
    throw CryptoError("AES key unwrap: wrapped data must be a multiple of 8 bytes, at least " +
                      std::to_string(min_len));
  }
  if (wrapped.size() > kMaxInput + 16) {
    throw CryptoError("AES key unwrap: wrapped data too long");
  }
  wrap_name(kek.size(), mode);  // a bad KEK length is a usage problem, not an integrity failure
  SecureBytes out(wrapped.size() + 16);
  long len = run(kek, mode, 0, wrapped, out);
  if (len < 0) {
    ERR_clear_error();
    throw IntegrityError("AES key unwrap: integrity check failed (wrong key or altered data)");
  }
  out.resize(static_cast<size_t>(len));
  return out;
}

}  // namespace

Bytes aes_key_wrap(std::span<const uint8_t> kek, std::span<const uint8_t> key_data) {
  return wrap(kek, key_data, Mode::kw);
}

SecureBytes aes_key_unwrap(std::span<const uint8_t> kek, ByteView wrapped) {
  return unwrap(kek, wrapped, Mode::kw);
}

Bytes aes_key_wrap_pad(std::span<const uint8_t> kek, std::span<const uint8_t> key_data) {
  return wrap(kek, key_data, Mode::kwp);
}

SecureBytes aes_key_unwrap_pad(std::span<const uint8_t> kek, ByteView wrapped) {
  return unwrap(kek, wrapped, Mode::kwp);
}

}  // namespace twinhsm::crypto
