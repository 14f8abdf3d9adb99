// The raw OpenSSL side of pkcs11_bench (openssl_backend.cc) and what the rest shares of it: error
// checks and the algorithms fetched once.
#pragma once

#include <openssl/evp.h>

#include "bench_support.h"

namespace bench {

[[noreturn]] void openssl_failed(const char* what);
void ossl(int ok, const char* what);
// random_bytes: n bytes from RAND_bytes.
Bytes random_bytes(size_t n);

// Algorithms fetched once, as a program that cares would.
struct Fetched {
  EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_CIPHER* gcm = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  EVP_CIPHER* cbc = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
};
const Fetched& fetched();

}  // namespace bench
