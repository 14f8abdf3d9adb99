// Internal to src/crypto: what a PKey holds, and the helpers the key files share (pkey.cc: the
// common part; pkey_rsa.cc, pkey_ec.cc, pkey_ffc.cc: each family; signer.cc).
#pragma once

#include <mutex>
#include <optional>

#include "crypto/openssl_util.h"
#include "crypto/pkey.h"

namespace twinhsm::crypto {

// PKey::Impl owns the EVP_PKEY. It is never changed after construction (but for a value computed
// once under std::call_once), so PKey copies on several threads may read it at once (OpenSSL
// allows concurrent use of one EVP_PKEY for operations).
struct PKey::Impl {
  detail::PkeyPtr pkey;
  PKey::Type type = PKey::Type::rsa;
  std::optional<Curve> curve;  // ec, eddsa and xdh keys
  bool has_private = false;
  // A DH group's prime-order subgroup order q, found once (ffc_in_subgroup): empty when the group
  // is not a safe prime and carries none. The only state filled after construction.
  mutable std::once_flag subgroup_once;
  mutable Bytes subgroup_order;
};

namespace detail {

// field_bytes is the length of a field element (and of an ECDSA r or s) on the curve; for the
// Edwards and Montgomery curves, the length of a raw key.
inline size_t field_bytes(Curve curve) {
  switch (curve) {
    case Curve::ed448:
      return 57;
    case Curve::x448:
      return 56;
    default:
      return (curve_bits(curve) + 7) / 8;
  }
}

// make_impl wraps a new EVP_PKEY after finding its type and curve; throws CryptoError for types
// and curves twinhsm does not support. EC keys are set to export uncompressed points.
std::shared_ptr<PKey::Impl> make_impl(PkeyPtr pkey, bool has_private);
// provider_ctx makes a context for a key type ("RSA", "EC", "ED448", "DSA", "DH", ...) in
// twinhsm's library context (by OID where an ENGINE could otherwise catch the name).
PkeyCtxPtr provider_ctx(const char* type, const char* what);
// from_data builds an EVP_PKEY of the named type from params; selection is EVP_PKEY_PUBLIC_KEY,
// EVP_PKEY_KEYPAIR or EVP_PKEY_KEY_PARAMETERS.
PkeyPtr from_data(const char* type, int selection, const OSSL_PARAM* params, const char* what);
// validate runs OpenSSL's checks of a public key or of a whole key pair.
void validate(EVP_PKEY* pkey, bool with_private, const char* what);
ParamsPtr to_params(OSSL_PARAM_BLD* bld, const char* what);
BnPtr bn_from(ByteView b, const char* what);
// secret_bn_from puts a private component in a BIGNUM flagged secure (wiped when freed).
SecretBnPtr secret_bn_from(std::span<const uint8_t> b, const char* what);
BnPtr get_bn(EVP_PKEY* pkey, const char* name, const char* what);
Bytes bn_bytes(const BIGNUM* bn);
SecureBytes secret_bn_bytes(EVP_PKEY* pkey, const char* name, const char* what);
void require_type(const PKey::Impl& impl, PKey::Type type, const char* what);
void require_private(const PKey::Impl& impl, const char* what);

}  // namespace detail

}  // namespace twinhsm::crypto
