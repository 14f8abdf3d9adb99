// RSA encryption: PKCS#1 v1.5 (RSAES-PKCS1-v1_5), OAEP (RSAES-OAEP, RFC 8017) and raw RSA (no
// padding: CKM_RSA_X_509) over EVP_PKEY_encrypt / EVP_PKEY_decrypt.
#pragma once

#include "common/bytes.h"
#include "crypto/digest.h"
#include "crypto/pkey.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

// RsaPadding names the encryption scheme as PKCS#11 mechanisms do (CKM_RSA_PKCS,
// CKM_RSA_PKCS_OAEP with CK_RSA_PKCS_OAEP_PARAMS, CKM_RSA_X_509: raw, the input a number below
// the modulus given in at most k bytes, the output of decryption always k bytes).
struct RsaPadding {
  enum class Kind { pkcs1, oaep, raw };
  Kind kind = Kind::oaep;
  DigestAlg oaep_hash = DigestAlg::sha1;  // oaep only
  DigestAlg mgf1 = DigestAlg::sha1;       // oaep only
  Bytes label;                            // oaep only; empty: no label
};

// rsa_max_plaintext is the longest message the key can encrypt under the padding
// (k - 11 for PKCS#1 v1.5, k - 2 hLen - 2 for OAEP, k raw; 0 when the key is too small).
size_t rsa_max_plaintext(const PKey& key, const RsaPadding& padding);

// rsa_encrypt encrypts plaintext with the public part of an RSA key; the result is as long as the
// modulus. Throws UsageError for a key that is not RSA or a plaintext longer than
// rsa_max_plaintext, CryptoError on other failures.
Bytes rsa_encrypt(const PKey& key, const RsaPadding& padding, std::span<const uint8_t> plaintext);

// rsa_decrypt decrypts with the private key. Throws UsageError for a key that is not a private RSA
// key or a ciphertext that is not as long as the modulus, IntegrityError when the ciphertext does
// not decrypt (padding or label check failed, value out of range): one error for every such case,
// with OpenSSL's reason dropped, so that callers cannot tell them apart. PKCS#1 v1.5 decryption
// remains a padding oracle to whoever sees that error (Bleichenbacher); prefer OAEP.
SecureBytes rsa_decrypt(const PKey& key, const RsaPadding& padding, ByteView ciphertext);

}  // namespace twinhsm::crypto
