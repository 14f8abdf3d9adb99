// Internal to src/crypto: RAII owners for OpenSSL objects and the one way an OpenSSL failure
// becomes a CryptoError. Nothing outside src/crypto includes this header (it pulls in OpenSSL).
#pragma once

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>

#include <climits>
#include <memory>
#include <span>
#include <string>

#include "common/error.h"
#include "crypto/digest.h"

namespace twinhsm::crypto::detail {

// libctx is twinhsm's own library context (library_context.h, .cc): every OpenSSL call that takes
// an OSSL_LIB_CTX gets this one, never NULL (OpenSSL's default context, which the application
// configures). Throws CryptoError once OpenSSL is no longer available (process exit).
OSSL_LIB_CTX* libctx();

// Algorithms fetched from libctx() once, when it is made, and kept with it: a fetch per operation
// takes OpenSSL's global store locks, which two threads then queue on. fetched_cipher,
// fetched_mac and fetched_kdf take the names this library uses (library_context.cc lists them);
// another name throws CryptoError.
const EVP_MD* fetched_md(DigestAlg alg);
const EVP_CIPHER* fetched_cipher(const char* name);
EVP_MAC* fetched_mac(const char* name);
EVP_KDF* fetched_kdf(const char* name);

// Deleter calls OpenSSL's free function Fn; every OpenSSL object lives in a unique_ptr with one.
template <auto Fn>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    Fn(p);
  }
};

using CipherPtr = std::unique_ptr<EVP_CIPHER, Deleter<&EVP_CIPHER_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, Deleter<&EVP_CIPHER_CTX_free>>;
using MdPtr = std::unique_ptr<EVP_MD, Deleter<&EVP_MD_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<&EVP_MD_CTX_free>>;
using MacPtr = std::unique_ptr<EVP_MAC, Deleter<&EVP_MAC_free>>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, Deleter<&EVP_MAC_CTX_free>>;
using KdfPtr = std::unique_ptr<EVP_KDF, Deleter<&EVP_KDF_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, Deleter<&EVP_KDF_CTX_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<&EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<&EVP_PKEY_CTX_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<&BN_free>>;
// SecretBnPtr wipes the number before freeing it: private key components.
using SecretBnPtr = std::unique_ptr<BIGNUM, Deleter<&BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Deleter<&BN_CTX_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<&OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Deleter<&OSSL_PARAM_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<&ECDSA_SIG_free>>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, Deleter<&EC_GROUP_free>>;
using EcPointPtr = std::unique_ptr<EC_POINT, Deleter<&EC_POINT_free>>;

// OpenSslFree releases a buffer OpenSSL allocated (i2d_* output); OPENSSL_free is a macro.
struct OpenSslFree {
  void operator()(unsigned char* p) const noexcept { OPENSSL_free(p); }
};
using OpenSslBufPtr = std::unique_ptr<unsigned char, OpenSslFree>;

// openssl_reason returns the text of the most recent error on this thread's OpenSSL error queue
// and empties the queue.
inline std::string openssl_reason() {
  unsigned long code = ERR_peek_last_error();
  std::string reason;
  if (code == 0) {
    reason = "no reason given by OpenSSL";
  } else {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    reason = buf;
  }
  ERR_clear_error();
  return reason;
}

// throw_openssl throws CryptoError("<what>: <OpenSSL's reason>").
[[noreturn]] inline void throw_openssl(const std::string& what) {
  throw CryptoError(what + ": " + openssl_reason());
}

// check throws CryptoError unless an OpenSSL call returned 1 (the success value of most of them).
inline void check(int rc, const char* what) {
  if (rc != 1) {
    throw_openssl(what);
  }
}

// not_null throws CryptoError if an OpenSSL constructor or fetch returned NULL, else returns p.
template <class T>
T* not_null(T* p, const char* what) {
  if (p == nullptr) {
    throw_openssl(what);
  }
  return p;
}

// data_or_empty returns a pointer that is never NULL, even for an empty span: some OpenSSL calls
// (HMAC keys, KDF inputs) treat NULL as "not given" rather than "empty".
inline const unsigned char* data_or_empty(std::span<const uint8_t> s) noexcept {
  static const unsigned char kEmpty = 0;
  return s.empty() ? &kEmpty : s.data();
}

// checked_int converts a length for an API taking int, or throws CryptoError when it is too big.
inline int checked_int(size_t n, const char* what) {
  if (n > static_cast<size_t>(INT_MAX)) {
    throw CryptoError(std::string(what) + ": input too long");
  }
  return static_cast<int>(n);
}

// octet_param builds an OSSL_PARAM octet string over a caller-owned buffer.
inline OSSL_PARAM octet_param(const char* key, std::span<const uint8_t> s) {
  return OSSL_PARAM_construct_octet_string(key, const_cast<unsigned char*>(data_or_empty(s)),
                                           s.size());
}

// utf8_param builds an OSSL_PARAM UTF-8 string over a string literal.
inline OSSL_PARAM utf8_param(const char* key, const char* value) {
  return OSSL_PARAM_construct_utf8_string(key, const_cast<char*>(value), 0);
}

}  // namespace twinhsm::crypto::detail
