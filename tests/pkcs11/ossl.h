// OpenSSL helpers for checking the module's results independently: keys from DER or generated,
// their components, digests, signature verification (every scheme the module signs with) and
// AES-GCM.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>

#include "p11.h"

namespace twinhsm::test::ossl {

// hostile_openssl names the hostile OpenSSL configuration the process runs with ("providers" or
// "engine": OPENSSL_CONF is .../twinhsm-hostile-NAME.cnf, tests/pkcs11/CMakeLists.txt), or is
// empty.
std::string hostile_openssl();
// library_context is the OpenSSL library context of the tests' own checks: OpenSSL's default one
// (nullptr), or, under a hostile configuration, a context of their own with the default provider,
// made after the process's configuration is loaded (as an application loads it).
OSSL_LIB_CTX* library_context();

struct PKeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, PKeyFree>;

// pkey_from_spki parses a DER SubjectPublicKeyInfo (CKA_PUBLIC_KEY_INFO); nullptr on error.
PKey pkey_from_spki(const Bytes& der);
// spki is the DER SubjectPublicKeyInfo of a key.
Bytes spki(EVP_PKEY* key);
PKey generate_rsa(unsigned bits);
PKey generate_ec(const char* group);  // "P-256", "P-384", "P-521"
PKey generate_ed25519();

struct RsaComponents {
  Bytes n, e, d, p, q, dp, dq, qinv;
};
RsaComponents rsa_components(EVP_PKEY* key);
// ec_point is the encoded public point (uncompressed for EC, 32 raw bytes for Ed25519).
Bytes ec_point(EVP_PKEY* key);
// ec_private_value is the private scalar, big-endian, padded to the curve's byte size (EC), or the
// 32-byte seed (Ed25519).
Bytes ec_private_value(EVP_PKEY* key);

// digest computes a hash by name ("SHA256"...).
Bytes digest(const char* name, const Bytes& data);
// digest_info is the DER DigestInfo of SHA-256(data) (the input of raw CKM_RSA_PKCS signatures).
Bytes sha256_digest_info(const Bytes& data);

// ECDSA signature encodings: PKCS#11 r||s (each half of size n) and DER.
Bytes ecdsa_raw_to_der(const Bytes& raw);
Bytes ecdsa_der_to_raw(const Bytes& der, size_t half);

enum class Scheme { rsa_pkcs1, rsa_pss, ecdsa, eddsa };
struct VerifySpec {
  Scheme scheme;
  const char* md = nullptr;        // hashed mechanisms: the hash; raw ones: nullptr
  const char* pss_hash = nullptr;  // raw PSS: the hash the input is (the mechanism has none)
  const char* mgf1 = nullptr;      // PSS
  int salt_len = 0;                // PSS
};
// verify checks a PKCS#11-format signature (ECDSA r||s) of data (for raw mechanisms: of the
// pre-hashed input) with OpenSSL.
bool verify(EVP_PKEY* key, const VerifySpec& spec, const Bytes& data, const Bytes& sig);
// sign makes a PKCS#11-format signature with OpenSSL (hashed mechanisms and EdDSA only).
Bytes sign(EVP_PKEY* key, const VerifySpec& spec, const Bytes& data);

// aes_gcm_encrypt returns ciphertext || tag.
Bytes aes_gcm_encrypt(const Bytes& key, const Bytes& iv, const Bytes& aad, const Bytes& plaintext,
                      size_t tag_len);

}  // namespace twinhsm::test::ossl
