// Asymmetric keys (RSA, EC on P-256/P-384/P-521, Ed25519) over EVP_PKEY: generation, import and
// export of the components PKCS#11 stores as attributes, signing and verification.
#pragma once

#include <memory>
#include <optional>

#include "common/bytes.h"
#include "crypto/digest.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

enum class Curve { p256, p384, p521, ed25519 };

// curve_from_der_oid maps the DER encoding of a curve's OBJECT IDENTIFIER (as PKCS#11 holds it in
// CKA_EC_PARAMS) or of a PrintableString curve name ("edwards25519") to a Curve; nullopt if unknown.
std::optional<Curve> curve_from_params(ByteView ec_params);
// curve_params returns the DER OBJECT IDENTIFIER of the curve (Ed25519: 1.3.101.112).
Bytes curve_params(Curve curve);
// curve_bits returns the size of the field in bits (256, 384, 521, 255).
unsigned curve_bits(Curve curve);

struct RsaPublic {
  Bytes modulus;          // big-endian, no leading zeros
  Bytes public_exponent;  // big-endian, no leading zeros
};
struct RsaPrivate {
  RsaPublic pub;
  SecureBytes private_exponent, prime1, prime2, exponent1, exponent2, coefficient;
};

// PKey is a shared handle on an EVP_PKEY (copying it takes a reference). Instances are immutable
// after construction and may be used from several threads at once.
class PKey {
 public:
  enum class Type { rsa, ec, ed25519 };

  // Generation. Throws CryptoError on failure (e.g. bits out of OpenSSL's range).
  static PKey generate_rsa(unsigned bits, ByteView public_exponent);
  static PKey generate_ec(Curve curve);  // any Curve, Ed25519 included

  // Import. Throws CryptoError if the components do not form a valid key.
  static PKey rsa_public(const RsaPublic& pub);
  static PKey rsa_private(const RsaPrivate& priv);
  // ec_point is the uncompressed point (0x04 || X || Y) or, for Ed25519, the 32-byte public key.
  static PKey ec_public(Curve curve, ByteView ec_point);
  // value is the private scalar (big-endian) or, for Ed25519, the 32-byte seed.
  static PKey ec_private(Curve curve, std::span<const uint8_t> value);
  // from_public_der parses a SubjectPublicKeyInfo.
  static PKey from_public_der(ByteView spki);
  // from_private_der parses a PKCS#8 PrivateKeyInfo (RFC 5208, unencrypted) of an RSA, EC
  // (P-256/384/521) or Ed25519 key and checks that its parts form a valid key. Throws CryptoError
  // for malformed input, trailing bytes, another algorithm or curve, or an inconsistent key.
  static PKey from_private_der(std::span<const uint8_t> pkcs8);

  Type type() const;
  bool has_private() const;
  unsigned bits() const;            // modulus bits / field bits
  std::optional<Curve> curve() const;

  // Export. Throws CryptoError if the key is of another type or lacks the private part.
  RsaPublic rsa_public_components() const;
  RsaPrivate rsa_private_components() const;
  Bytes ec_point() const;          // uncompressed point, or Ed25519's 32-byte public key
  SecureBytes ec_private_value() const;  // fixed length: the field size in bytes (Ed25519: 32)
  Bytes public_der() const;        // SubjectPublicKeyInfo
  // private_der is the unencrypted PKCS#8 PrivateKeyInfo (DER) of a private key. Throws
  // CryptoError if the key has no private part.
  SecureBytes private_der() const;

  // ecdh derives the shared secret (the X coordinate) with peer_point on this key's curve.
  SecureBytes ecdh(ByteView peer_point) const;

  struct Impl;
  explicit PKey(std::shared_ptr<Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

// SignatureScheme names an algorithm as PKCS#11 mechanisms do.
struct SignatureScheme {
  enum class Kind { rsa_pkcs1, rsa_pss, ecdsa, eddsa };
  Kind kind;
  // digest: the hash applied to the data first; nullopt means the input is already the value to
  // sign (CKM_RSA_PKCS: a DigestInfo or any data up to k-11 bytes; CKM_ECDSA: a hash;
  // CKM_RSA_PKCS_PSS: a hash of pss_hash's size).
  std::optional<DigestAlg> digest;
  DigestAlg pss_hash = DigestAlg::sha256;  // rsa_pss only: the hash the input was made with
  DigestAlg mgf1 = DigestAlg::sha256;      // rsa_pss only
  size_t salt_len = 32;                    // rsa_pss only
  bool operator==(const SignatureScheme&) const = default;
};

// signature_size returns the length of every signature the key makes under the scheme
// (RSA: modulus bytes; ECDSA: 2 * field bytes, r || s; Ed25519: 64).
size_t signature_size(const PKey& key, const SignatureScheme& scheme);

// Signer signs data given in one or more parts. ECDSA signatures come out as r || s, each
// left-padded to the field size, as PKCS#11 defines them. Not thread safe; one per operation.
// Throws UsageError if the key does not fit the scheme, CryptoError on other failures (e.g. raw
// RSA input too long).
// SignContext is a private key made ready to sign under one scheme (OpenSSL's algorithm lookup
// and EVP_PKEY_sign_init done once): a PKCS#11 session keeps the last one, so that a stream of
// signatures with one key skips that work. Used by one Signer at a time (not thread safe).
class SignContext {
 public:
  SignContext(const PKey& key, const SignatureScheme& scheme);
  ~SignContext();
  SignContext(const SignContext&) = delete;
  SignContext& operator=(const SignContext&) = delete;
  const PKey& key() const;
  const SignatureScheme& scheme() const;
  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

class Signer {
 public:
  Signer(const PKey& key, const SignatureScheme& scheme);
  // Signs with a prepared context (the caller keeps it for the next Signer, never two at once).
  explicit Signer(std::shared_ptr<const SignContext> context);
  ~Signer();
  Signer(Signer&&) noexcept;
  Signer& operator=(Signer&&) noexcept;
  void update(ByteView data);
  Bytes finish();
 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Verifier checks a signature over data given in parts; finish returns false when the signature
// does not verify (wrong length included). Throws only for unusable keys or schemes.
class Verifier {
 public:
  Verifier(const PKey& key, const SignatureScheme& scheme);
  ~Verifier();
  Verifier(Verifier&&) noexcept;
  Verifier& operator=(Verifier&&) noexcept;
  void update(ByteView data);
  bool finish(ByteView signature);
 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace twinhsm::crypto
