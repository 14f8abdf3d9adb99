// AES in ECB, CBC and CTR modes as a streaming cipher over OpenSSL's EVP_CIPHER ("AES-256-CBC",
// ...; the key length picks AES-128/192/256), with optional PKCS#7 padding for ECB and CBC.
#pragma once

#include <cstdint>
#include <memory>

#include "common/bytes.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

enum class CipherMode { ecb, cbc, ctr };

constexpr size_t kAesBlock = 16;

// SymmetricCipher encrypts or decrypts data given in parts. update() returns every byte that is
// ready: ECB and CBC hold back a partial block (and, decrypting with padding, the last whole
// block, which may hold the padding); CTR holds back nothing. Not thread safe; one per operation.
// Output is SecureBytes because decryption gives plaintext (possibly key material).
class SymmetricCipher {
 public:
  // key: 16, 24 or 32 bytes. iv: 16 bytes for CBC, the initial counter block for CTR, empty for
  // ECB. padding: PKCS#7 (ECB and CBC only). Throws CryptoError on a bad length or combination.
  SymmetricCipher(CipherMode mode, std::span<const uint8_t> key, ByteView iv, bool encrypt,
                  bool padding);
  ~SymmetricCipher();
  SymmetricCipher(SymmetricCipher&&) noexcept;
  SymmetricCipher& operator=(SymmetricCipher&&) noexcept;

  // update_size is the exact length update() returns for n more bytes.
  size_t update_size(size_t n) const;
  SecureBytes update(ByteView in);
  // finish_size is the exact length finish() returns, except when decrypting with padding, where it
  // is an upper bound (the padding is not known before it is checked).
  size_t finish_size() const;
  // finish ends the operation. Throws UsageError when the input was not a whole number of blocks
  // (ECB/CBC without padding, or decrypting with padding), IntegrityError when the padding of a
  // decryption is malformed (nothing is returned then).
  SecureBytes finish();
  // buffered is the number of input bytes held back so far.
  size_t buffered() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ctr_blocks_left is the number of 16-byte blocks CTR mode can process from counter_block before
// the counter, its low counter_bits bits (1..128), wraps around (PKCS#11 CK_AES_CTR_PARAMS);
// saturated at UINT64_MAX.
uint64_t ctr_blocks_left(ByteView counter_block, unsigned counter_bits);

}  // namespace twinhsm::crypto
