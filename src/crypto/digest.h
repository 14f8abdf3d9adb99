// Message digests and HMAC, one-shot and streaming, over EVP_MD / EVP_MAC: SHA-1, SHA-2, SHA-3 and
// MD5 (the last only for what legacy applications ask: CKM_MD5, CKM_MD5_HMAC, CKM_MD5_RSA_PKCS).
#pragma once

#include <memory>

#include "common/bytes.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

// The order is the index of the algorithms fetched with the library context (library_context.cc).
enum class DigestAlg {
  sha1,
  sha224,
  sha256,
  sha384,
  sha512,
  sha3_224,
  sha3_256,
  sha3_384,
  sha3_512,
  md5
};

// digest_size returns the output length in bytes.
size_t digest_size(DigestAlg alg) noexcept;
// digest_name returns OpenSSL's name ("SHA256", ...).
const char* digest_name(DigestAlg alg) noexcept;

Bytes digest(DigestAlg alg, ByteView data);
SecureBytes hmac(DigestAlg alg, std::span<const uint8_t> key, ByteView data);
inline SecureBytes hmac_sha256(std::span<const uint8_t> key, ByteView data) {
  return hmac(DigestAlg::sha256, key, data);
}

// Digester computes a digest over data given in parts. Not thread safe; one per operation.
class Digester {
 public:
  explicit Digester(DigestAlg alg);
  // Inline: a session hands its digester between the active digest and the spare on every
  // message, leaving a moved-from one to destroy.
  ~Digester() = default;
  Digester(Digester&&) noexcept = default;
  Digester& operator=(Digester&&) noexcept = default;
  void update(ByteView data);
  Bytes finish();  // the object may not be used after finish (but for restart)
  // finish_into writes the digest into out (exactly digest_size bytes) and starts the context
  // afresh at once (nothing of the data stays in it); then as finish, until restart.
  void finish_into(std::span<uint8_t> out);
  // restart makes a digester that finish_into ended ready for a new message of the same algorithm,
  // on the same OpenSSL context (no new context, no fetch). False when it cannot be (not ended by
  // finish_into, or OpenSSL could not start the context afresh): make a new one.
  bool restart() noexcept;
  DigestAlg alg() const noexcept;

 private:
  struct Impl;
  struct ImplDeleter {
    void operator()(Impl* impl) const noexcept;
  };
  std::unique_ptr<Impl, ImplDeleter> impl_;
};

// Hmac computes an HMAC over data given in parts. Not thread safe; one per operation.
class Hmac {
 public:
  Hmac(DigestAlg alg, std::span<const uint8_t> key);
  ~Hmac();
  Hmac(Hmac&&) noexcept;
  Hmac& operator=(Hmac&&) noexcept;
  void update(ByteView data);
  SecureBytes finish();
  // clone copies this HMAC as it is (EVP_MAC_CTX_dup): an HMAC keyed once and never finished
  // is cloned for each message, and the key is not set up again (two SHA-256 blocks and
  // OpenSSL's fetches by name, most of the cost of a short message's HMAC). Safe to call from
  // several threads at once on an HMAC that none of them updates.
  Hmac clone() const;
  // size is the HMAC's length in bytes.
  size_t size() const noexcept;
  // finish_keeping_key is finish that keeps the keyed context for restart.
  SecureBytes finish_keeping_key();
  // restart makes an HMAC ended by finish_keeping_key (or keyed and never updated) ready for a
  // new message with the same key, from the key's state kept in it (EVP_MAC_init without a key:
  // no new context, no key set-up, no fetch). False when it cannot be: make a new one.
  bool restart() noexcept;

 private:
  Hmac() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace twinhsm::crypto
