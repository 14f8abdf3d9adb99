// Block ciphers in ECB, CBC and CTR modes as a streaming cipher over OpenSSL's EVP_CIPHER: AES
// ("AES-256-CBC", ...; the key length picks AES-128/192/256) and, for legacy devices, DES and
// Triple DES ("DES-CBC", "DES-EDE-CBC" for two-key, "DES-EDE3-CBC" for three-key keys), with
// optional PKCS#7 padding for ECB and CBC.
#pragma once

#include <cstdint>
#include <memory>

#include "common/bytes.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

enum class CipherMode { ecb, cbc, ctr };
// BlockCipher: AES (16-byte blocks; keys of 16, 24, 32 bytes), DES (8-byte blocks, 8-byte keys),
// Triple DES (8-byte blocks; keys of 16 bytes, two-key, or 24 bytes, three-key). CTR is AES only.
enum class BlockCipher { aes, des, des3 };

constexpr size_t kAesBlock = 16;
constexpr size_t kDesBlock = 8;

// block_size is the cipher's block length in bytes.
size_t block_size(BlockCipher cipher) noexcept;

// SymmetricCipher encrypts or decrypts data given in parts. update() returns every byte that is
// ready: ECB and CBC hold back a partial block (and, decrypting with padding, the last whole
// block, which may hold the padding); CTR holds back nothing. Not thread safe; one per operation.
// Output is SecureBytes because decryption gives plaintext (possibly key material).
class SymmetricCipher {
 public:
  // key: 16, 24 or 32 bytes. iv: 16 bytes for CBC, the initial counter block for CTR, empty for
  // ECB. padding: PKCS#7 (ECB and CBC only). Throws CryptoError on a bad length or combination.
  SymmetricCipher(CipherMode mode, std::span<const uint8_t> key, ByteView iv, bool encrypt,
                  bool padding)
      : SymmetricCipher(BlockCipher::aes, mode, key, iv, encrypt, padding) {}
  // The same for any block cipher: iv is one block (CBC), empty (ECB). Throws CryptoError for a
  // key or IV of the wrong length.
  SymmetricCipher(BlockCipher cipher, CipherMode mode, std::span<const uint8_t> key, ByteView iv,
                  bool encrypt, bool padding);
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
  // run_into is update(in) then finish() on a cipher not yet updated, writing straight into out,
  // which must be exactly their total length: no copy, no buffer of the output's size. Not for
  // decryption with padding (its length is known after it). Throws UsageError (as finish: the
  // input is not a whole number of blocks; or out's length is wrong, or the cipher was updated).
  void run_into(ByteView in, std::span<uint8_t> out);
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
