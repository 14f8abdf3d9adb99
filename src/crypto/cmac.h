// CMAC (NIST SP 800-38B; RFC 4493 for AES) over OpenSSL's EVP_MAC "CMAC": AES, and Triple DES for
// legacy devices (CKM_DES3_CMAC).
#pragma once

#include <memory>

#include "common/bytes.h"
#include "crypto/cipher.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

constexpr size_t kCmacSize = 16;

// Cmac computes an AES-CMAC (the key length picks AES-128/192/256) over data given in parts; the
// result is the full 16-byte tag. Not thread safe; one per operation. Throws CryptoError for a key
// that is not 16, 24 or 32 bytes.
class Cmac {
 public:
  explicit Cmac(std::span<const uint8_t> key) : Cmac(BlockCipher::aes, key) {}
  // The same with Triple DES (BlockCipher::des3: a 16-byte two-key or 24-byte three-key key; the
  // tag is 8 bytes). Throws CryptoError for another cipher or key length.
  Cmac(BlockCipher cipher, std::span<const uint8_t> key);
  ~Cmac();
  Cmac(Cmac&&) noexcept;
  Cmac& operator=(Cmac&&) noexcept;
  size_t size() const;  // the tag's length: the cipher's block
  void update(ByteView data);
  SecureBytes finish();  // the object may not be used after finish

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

SecureBytes aes_cmac(std::span<const uint8_t> key, ByteView data);

}  // namespace twinhsm::crypto
