// Key derivation over OpenSSL's EVP_KDF: SP 800-108 (counter and feedback modes), PBKDF2, HKDF
// (RFC 5869) and the ANSI X9.63 KDF (SEC 1 3.6.1).
#pragma once

#include <optional>
#include <string_view>

#include "common/bytes.h"
#include "crypto/cipher.h"
#include "crypto/digest.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

// kbkdf_counter_hmac_sha256 is SP 800-108 section 5.1 (KDF in counter mode) with PRF
// HMAC-SHA256, a 32-bit big-endian counter before the fixed input, and fixed input
// label || 0x00 || context || [L]_32 where L = 8 * out_len: OpenSSL's KBKDF with mode=counter,
// mac=HMAC, digest=SHA256, salt=label, info=context. Throws CryptoError on failure.
SecureBytes kbkdf_counter_hmac_sha256(std::span<const uint8_t> key, ByteView label,
                                      ByteView context, size_t out_len);
inline SecureBytes kbkdf_counter_hmac_sha256(std::span<const uint8_t> key, std::string_view label,
                                             ByteView context, size_t out_len) {
  return kbkdf_counter_hmac_sha256(key, as_bytes(label), context, out_len);
}

// pbkdf2_hmac_sha256 is RFC 8018 PBKDF2 with HMAC-SHA256. Throws CryptoError on failure.
SecureBytes pbkdf2_hmac_sha256(std::span<const uint8_t> password, ByteView salt,
                               uint32_t iterations, size_t out_len);

// KbkdfParams names one SP 800-108 computation as OpenSSL's KBKDF makes it: the PRF is HMAC with
// a digest or CMAC with a block cipher (AES by key length, or Triple DES); the counter is 32 bits,
// big-endian. Counter mode: K(i) = PRF(key, [i]_32 || fixed); feedback mode: K(i) = PRF(key,
// K(i-1) || [i]_32 || fixed) with K(0) = iv. fixed = label || [0x00 if separator] || context ||
// [[8 * out_len]_32 if with_length].
struct KbkdfParams {
  bool feedback = false;
  std::optional<DigestAlg> hmac;  // set: HMAC with this digest; else CMAC with cmac_cipher
  BlockCipher cmac_cipher = BlockCipher::aes;
  Bytes label;
  Bytes context;
  Bytes iv;  // feedback mode only
  bool separator = false;
  bool with_length = false;
};

// kbkdf derives out_len bytes. Throws CryptoError on failure (a key the PRF refuses, a length
// whose counter or L would overflow).
SecureBytes kbkdf(const KbkdfParams& params, std::span<const uint8_t> key, size_t out_len);

// HkdfMode: RFC 5869's extract-then-expand, or one of its halves.
enum class HkdfMode { extract_and_expand, extract_only, expand_only };

// hkdf runs HKDF with HMAC-digest. extract_only returns the PRK (the digest's length, out_len
// ignored); otherwise out_len bytes (at most 255 times the digest's length). salt: nullopt is
// RFC 5869's "not provided" (a string of zeros). Throws CryptoError on failure.
SecureBytes hkdf(DigestAlg digest, HkdfMode mode, std::span<const uint8_t> key,
                 const std::optional<Bytes>& salt, ByteView info, size_t out_len);

// x963_kdf is the ANSI X9.63 KDF (SEC 1 section 3.6.1): Hash(Z || [i]_32 || SharedInfo) for
// i = 1, 2, ..., truncated to out_len bytes. Throws CryptoError on failure.
SecureBytes x963_kdf(DigestAlg digest, std::span<const uint8_t> secret, ByteView shared_info,
                     size_t out_len);

}  // namespace twinhsm::crypto
