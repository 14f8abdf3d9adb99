// AES-CMAC (NIST SP 800-38B, RFC 4493) over OpenSSL's EVP_MAC "CMAC".
#pragma once

#include <memory>

#include "common/bytes.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

constexpr size_t kCmacSize = 16;

// Cmac computes an AES-CMAC (the key length picks AES-128/192/256) over data given in parts; the
// result is the full 16-byte tag. Not thread safe; one per operation. Throws CryptoError for a key
// that is not 16, 24 or 32 bytes.
class Cmac {
 public:
  explicit Cmac(std::span<const uint8_t> key);
  ~Cmac();
  Cmac(Cmac&&) noexcept;
  Cmac& operator=(Cmac&&) noexcept;
  void update(ByteView data);
  SecureBytes finish();  // the object may not be used after finish

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

SecureBytes aes_cmac(std::span<const uint8_t> key, ByteView data);

}  // namespace twinhsm::crypto
