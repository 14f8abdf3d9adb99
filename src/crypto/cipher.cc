// AES-ECB/CBC/CTR over EVP_CIPHER. The lengths update() returns are predicted from how OpenSSL's
// block-cipher provider buffers (a partial block; decrypting with padding, also a last whole block)
// and checked against what it actually returns, so that callers may size buffers exactly.
#include "crypto/cipher.h"

#include <algorithm>
#include <limits>
#include <string>

#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

namespace {

const char* cipher_name(BlockCipher alg, CipherMode mode, size_t key_len) {
  if (alg == BlockCipher::des || alg == BlockCipher::des3) {
    bool single = alg == BlockCipher::des;
    if (mode == CipherMode::ctr || (single ? key_len != 8 : key_len != 16 && key_len != 24)) {
      throw CryptoError(single ? "DES: the key must be 8 bytes long (ECB or CBC)"
                               : "Triple DES: the key must be 16 or 24 bytes long (ECB or CBC)");
    }
    bool ecb = mode == CipherMode::ecb;
    if (single) {
      return ecb ? "DES-ECB" : "DES-CBC";
    }
    if (key_len == 16) {
      return ecb ? "DES-EDE-ECB" : "DES-EDE-CBC";
    }
    return ecb ? "DES-EDE3-ECB" : "DES-EDE3-CBC";
  }
  if (key_len != 16 && key_len != 24 && key_len != 32) {
    throw CryptoError("AES key must be 16, 24 or 32 bytes long");
  }
  static const char* const kNames[3][3] = {
      {"AES-128-ECB", "AES-192-ECB", "AES-256-ECB"},
      {"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"},
      {"AES-128-CTR", "AES-192-CTR", "AES-256-CTR"},
  };
  return kNames[static_cast<int>(mode)][(key_len - 16) / 8];
}

}  // namespace

size_t block_size(BlockCipher cipher) noexcept {
  return cipher == BlockCipher::aes ? kAesBlock : kDesBlock;
}

struct SymmetricCipher::Impl {
  detail::CipherCtxPtr ctx;
  size_t block = kAesBlock;
  CipherMode mode = CipherMode::ecb;
  bool encrypt = true;
  bool padding = false;
  size_t held = 0;  // input bytes OpenSSL holds back (0..block)

  bool streaming() const { return mode == CipherMode::ctr; }
  bool holds_last_block() const { return !encrypt && padding; }
};

SymmetricCipher::SymmetricCipher(BlockCipher cipher, CipherMode mode, std::span<const uint8_t> key,
                                 ByteView iv, bool encrypt, bool padding)
    : impl_(std::make_unique<Impl>()) {
  const char* name = cipher_name(cipher, mode, key.size());
  impl_->block = block_size(cipher);
  if (mode == CipherMode::ecb ? !iv.empty() : iv.size() != impl_->block) {
    throw CryptoError(std::string(name) + ": the IV must be " +
                      (mode == CipherMode::ecb ? "empty" : "one block long"));
  }
  if (padding && mode == CipherMode::ctr) {
    throw CryptoError("AES-CTR has no padding");
  }
  impl_->mode = mode;
  impl_->encrypt = encrypt;
  impl_->padding = padding;
  const EVP_CIPHER* evp_cipher = detail::fetched_cipher(name);
  impl_->ctx.reset(detail::not_null(EVP_CIPHER_CTX_new(), "AES context"));
  unsigned int pad = padding ? 1 : 0;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_uint(OSSL_CIPHER_PARAM_PADDING, &pad),
                         OSSL_PARAM_construct_end()};
  detail::check(
      EVP_CipherInit_ex2(impl_->ctx.get(), evp_cipher, key.data(), iv.empty() ? nullptr : iv.data(),
                         encrypt ? 1 : 0, mode == CipherMode::ctr ? nullptr : params),
      "AES key setup failed");
}

SymmetricCipher::~SymmetricCipher() = default;
SymmetricCipher::SymmetricCipher(SymmetricCipher&&) noexcept = default;
SymmetricCipher& SymmetricCipher::operator=(SymmetricCipher&&) noexcept = default;

size_t SymmetricCipher::update_size(size_t n) const {
  if (impl_->streaming()) {
    return n;
  }
  size_t total = impl_->held + n;
  if (impl_->holds_last_block()) {
    return total == 0 ? 0 : (total - 1) / impl_->block * impl_->block;
  }
  return total / impl_->block * impl_->block;
}

SecureBytes SymmetricCipher::update(ByteView in) {
  if (!impl_->ctx) {
    throw UsageError("cipher already finished");
  }
  size_t expected = update_size(in.size());
  // OpenSSL may write up to one block more than it reports, whatever the mode.
  SecureBytes out(in.size() + impl_->block);
  int len = 0;
  if (!in.empty()) {
    detail::check(EVP_CipherUpdate(impl_->ctx.get(), out.data(), &len, in.data(),
                                   detail::checked_int(in.size(), "AES input")),
                  "AES update failed");
  }
  if (static_cast<size_t>(len) != expected) {
    throw CryptoError("AES update: unexpected output length");
  }
  impl_->held = impl_->held + in.size() - expected;
  out.resize(expected);
  return out;
}

size_t SymmetricCipher::finish_size() const {
  if (impl_->streaming()) {
    return 0;
  }
  if (impl_->padding) {
    // Encrypting: the held bytes and 1..16 bytes of padding. Decrypting: at most the last block
    // minus one byte of padding.
    return impl_->encrypt ? impl_->block : (impl_->held == impl_->block ? impl_->block - 1 : 0);
  }
  return 0;
}

SecureBytes SymmetricCipher::finish() {
  if (!impl_->ctx) {
    throw UsageError("cipher already finished");
  }
  if (!impl_->streaming()) {
    bool whole = impl_->holds_last_block() ? impl_->held == impl_->block : impl_->held == 0;
    if (!whole && !(impl_->encrypt && impl_->padding)) {
      impl_->ctx.reset();
      throw UsageError("the input is not a whole number of blocks");
    }
  }
  SecureBytes out(2 * impl_->block);
  int len = 0;
  int rc = EVP_CipherFinal_ex(impl_->ctx.get(), out.data(), &len);
  impl_->ctx.reset();
  if (rc != 1) {
    if (impl_->holds_last_block()) {
      ERR_clear_error();
      throw IntegrityError("CBC: the padding is malformed (wrong key or altered data)");
    }
    detail::throw_openssl("AES final failed");
  }
  out.resize(static_cast<size_t>(len));
  return out;
}

void SymmetricCipher::run_into(ByteView in, std::span<uint8_t> out) {
  if (!impl_->ctx || impl_->held != 0 || impl_->holds_last_block()) {
    throw UsageError("run_into: a fresh cipher, not decrypting with padding");
  }
  size_t block = impl_->block;
  size_t whole = impl_->streaming() ? in.size() : in.size() / block * block;
  size_t tail = in.size() - whole;
  if (tail != 0 && !impl_->padding) {
    impl_->ctx.reset();
    throw UsageError("the input is not a whole number of blocks");
  }
  size_t total = whole + (impl_->padding ? block : 0);
  if (out.size() != total) {
    throw UsageError("run_into: the output must be exactly the result's length");
  }
  int len = 0;
  if (whole != 0) {
    // Whole blocks in, the same number of bytes out, written where the caller wants them.
    detail::check(EVP_CipherUpdate(impl_->ctx.get(), out.data(), &len, in.data(),
                                   detail::checked_int(whole, "AES input")),
                  "AES update failed");
    if (static_cast<size_t>(len) != whole) {
      throw CryptoError("AES update: unexpected output length");
    }
  }
  // The partial block and the padding go through a buffer of two blocks.
  uint8_t last[2 * kAesBlock];
  int tail_len = 0, final_len = 0;
  if (tail != 0) {
    detail::check(EVP_CipherUpdate(impl_->ctx.get(), last, &tail_len, in.data() + whole,
                                   static_cast<int>(tail)),
                  "AES update failed");
  }
  int rc = EVP_CipherFinal_ex(impl_->ctx.get(), last + tail_len, &final_len);
  impl_->ctx.reset();
  if (rc != 1) {
    cleanse(last, sizeof last);
    detail::throw_openssl("AES final failed");
  }
  size_t rest = static_cast<size_t>(tail_len) + static_cast<size_t>(final_len);
  if (rest != total - whole) {
    cleanse(last, sizeof last);
    throw CryptoError("AES final: unexpected output length");
  }
  std::copy(last, last + rest, out.data() + whole);
  cleanse(last, sizeof last);
}

size_t SymmetricCipher::buffered() const {
  return impl_->held;
}

uint64_t ctr_blocks_left(ByteView counter_block, unsigned counter_bits) {
  if (counter_block.size() != kAesBlock || counter_bits == 0 || counter_bits > 128) {
    throw UsageError("CTR: the counter block must be 16 bytes and the counter 1 to 128 bits");
  }
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  // bit i of the block counts from the last byte's least significant bit.
  auto bit = [&](unsigned i) { return (counter_block[kAesBlock - 1 - i / 8] >> (i % 8)) & 1; };
  uint64_t low = 0;
  for (size_t i = kAesBlock - 8; i < kAesBlock; ++i) {
    low = low << 8 | counter_block[i];
  }
  if (counter_bits < 64) {
    uint64_t modulus = uint64_t{1} << counter_bits;
    return modulus - (low & (modulus - 1));
  }
  // 2^bits - counter is below 2^64 only when the counter's bits 64..bits-1 are all ones; then it
  // is 2^64 - low.
  for (unsigned i = 64; i < counter_bits; ++i) {
    if (!bit(i)) {
      return kMax;
    }
  }
  return low == 0 ? kMax : ~low + 1;
}

}  // namespace twinhsm::crypto
