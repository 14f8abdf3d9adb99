// Internal to src/crypto: what a PKey holds, shared by pkey.cc and signer.cc.
#pragma once

#include <optional>

#include "crypto/openssl_util.h"
#include "crypto/pkey.h"

namespace twinhsm::crypto {

// PKey::Impl owns the EVP_PKEY. It is never changed after construction, so PKey copies on several
// threads may read it at once (OpenSSL allows concurrent use of one EVP_PKEY for operations).
struct PKey::Impl {
  detail::PkeyPtr pkey;
  PKey::Type type = PKey::Type::rsa;
  std::optional<Curve> curve;  // ec and ed25519 keys
  bool has_private = false;
};

namespace detail {

// field_bytes is the length of a field element (and of an ECDSA r or s) on the curve.
inline size_t field_bytes(Curve curve) {
  return (curve_bits(curve) + 7) / 8;
}

}  // namespace detail

}  // namespace twinhsm::crypto
