// Asymmetric keys over EVP_PKEY: RSA; EC on P-192/256/384/521; EdDSA (Ed25519, Ed448); X25519
// and X448; and, for legacy devices, DSA and PKCS#3 Diffie-Hellman. Generation, import and export
// of the components PKCS#11 stores as attributes, key agreement, and (signer.cc) signatures.
#pragma once

#include <memory>
#include <optional>

#include "common/bytes.h"
#include "crypto/digest.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {

enum class Curve { p256, p384, p521, ed25519, p192, ed448, x25519, x448 };
enum class CurveFamily { weierstrass, edwards, montgomery };

// curve_from_params maps CKA_EC_PARAMS to a Curve: the DER encoding of the curve's OBJECT
// IDENTIFIER, a PrintableString naming it ("edwards25519", "prime256v1", ...), or the explicit
// ECParameters of a named Weierstrass curve; nullopt if unknown or malformed.
std::optional<Curve> curve_from_params(ByteView ec_params);
// params_are_explicit: CKA_EC_PARAMS spells the curve out (an ECParameters SEQUENCE).
bool params_are_explicit(ByteView ec_params);
// curve_params returns the DER OBJECT IDENTIFIER of the curve (Ed25519: 1.3.101.112).
Bytes curve_params(Curve curve);
// curve_bits returns the size of the field in bits (192, 256, 384, 521; 255; 448).
unsigned curve_bits(Curve curve);
CurveFamily curve_family(Curve curve);

struct RsaPublic {
  Bytes modulus;          // big-endian, no leading zeros
  Bytes public_exponent;  // big-endian, no leading zeros
};
struct RsaPrivate {
  RsaPublic pub;
  SecureBytes private_exponent, prime1, prime2, exponent1, exponent2, coefficient;
};
// FfcParams: finite-field domain parameters, big-endian: DSA's p, q, g (FIPS 186); PKCS#3
// Diffie-Hellman's p and g (q empty).
struct FfcParams {
  Bytes p, q, g;
};

// PKey is a shared handle on an EVP_PKEY (copying it takes a reference). Instances are immutable
// after construction and may be used from several threads at once.
class PKey {
 public:
  enum class Type { rsa, ec, eddsa, xdh, dsa, dh };

  // Generation. Throws CryptoError on failure (e.g. bits out of OpenSSL's range).
  static PKey generate_rsa(unsigned bits, ByteView public_exponent);
  static PKey generate_ec(Curve curve);  // any Curve: EC, EdDSA and X25519/X448 keys
  // generate_dsa / generate_dh make a key on given domain parameters (DH: private_bits of the
  // private value, 0 for OpenSSL's default).
  static PKey generate_dsa(const FfcParams& params);
  static PKey generate_dh(const FfcParams& params, unsigned private_bits);
  // Domain parameters: DSA with a p of p_bits and a q of q_bits (FIPS 186-4), DH with a safe prime
  // p of p_bits and g = 2.
  static FfcParams generate_dsa_params(unsigned p_bits, unsigned q_bits);
  static FfcParams generate_dh_params(unsigned p_bits);

  // Import. Throws CryptoError if the components do not form a valid key.
  static PKey rsa_public(const RsaPublic& pub);
  static PKey rsa_private(const RsaPrivate& priv);
  // ec_point is the uncompressed point (0x04 || X || Y) or, for Ed25519/Ed448/X25519/X448, the
  // raw public key (32, 57, 32, 56 bytes).
  static PKey ec_public(Curve curve, ByteView ec_point);
  // value is the private scalar (big-endian) or the raw private key of the other curves.
  static PKey ec_private(Curve curve, std::span<const uint8_t> value);
  // DSA and DH keys: y = g^x mod p (public), x (private; the public value is computed).
  static PKey ffc_public(Type type, const FfcParams& params, ByteView y);
  static PKey ffc_private(Type type, const FfcParams& params, std::span<const uint8_t> x);
  // from_public_der parses a SubjectPublicKeyInfo.
  static PKey from_public_der(ByteView spki);
  // from_private_der parses a PKCS#8 PrivateKeyInfo (RFC 5208, unencrypted) of a key of a type
  // and curve above and checks that its parts form a valid key. Throws CryptoError for malformed
  // input, trailing bytes, another algorithm or curve, or an inconsistent key.
  static PKey from_private_der(std::span<const uint8_t> pkcs8);

  Type type() const;
  bool has_private() const;
  unsigned bits() const;  // modulus bits / field bits / bits of p
  std::optional<Curve> curve() const;

  // Export. Throws CryptoError if the key is of another type or lacks the private part.
  RsaPublic rsa_public_components() const;
  RsaPrivate rsa_private_components() const;
  Bytes ec_point() const;                 // uncompressed point, or the raw public key
  SecureBytes ec_private_value() const;   // fixed length: the field size in bytes (or raw length)
  FfcParams ffc_params() const;           // DSA, DH
  Bytes ffc_public_value() const;         // y
  SecureBytes ffc_private_value() const;  // x
  // ffc_in_subgroup: y is a public value of the group's prime-order subgroup: 1 < y < p-1 and
  // y^q = 1 mod p, with q the parameters' (DSA; a DH group OpenSSL knows by name) or, for a DH
  // group without one, (p-1)/2 when that is prime (a safe prime). False for a group whose
  // prime-order subgroup is unknown: a peer value there could lie in a small subgroup and read
  // the private key a residue at a time.
  bool ffc_in_subgroup(ByteView y) const;
  Bytes public_der() const;  // SubjectPublicKeyInfo
  // rsa_pss_public_der is the SubjectPublicKeyInfo of an RSA key as an RSASSA-PSS key (RFC 4055
  // 1.2 and 3.1: algorithm id-RSASSA-PSS, 1.2.840.113549.1.1.10, parameters absent: no hash, MGF
  // or salt length imposed). Throws CryptoError for keys of other types.
  Bytes rsa_pss_public_der() const;
  // private_der is the unencrypted PKCS#8 PrivateKeyInfo (DER) of a private key. Throws
  // CryptoError if the key has no private part.
  SecureBytes private_der() const;

  // agree derives the shared secret with the peer's public value: ECDH (peer_public an
  // uncompressed point on this key's curve; the secret is the X coordinate), X25519/X448 (the raw
  // public key), DH (y, big-endian; the secret is padded to the length of p). Throws UsageError
  // for keys of other types, CryptoError for a peer value that is not a valid public key.
  SecureBytes agree(ByteView peer_public) const;

  struct Impl;
  explicit PKey(std::shared_ptr<Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<Impl> impl_;
};

// SignatureScheme names an algorithm as PKCS#11 mechanisms do.
struct SignatureScheme {
  enum class Kind { rsa_pkcs1, rsa_pss, ecdsa, eddsa, dsa, rsa_raw };
  Kind kind;
  // digest: the hash applied to the data first; nullopt means the input is already the value to
  // sign (CKM_RSA_PKCS: a DigestInfo or any data up to k-11 bytes; CKM_ECDSA, CKM_DSA: a hash;
  // CKM_RSA_PKCS_PSS: a hash of pss_hash's size; CKM_RSA_X_509 (rsa_raw): up to k bytes, signed
  // as the number they make, with no padding).
  std::optional<DigestAlg> digest;
  DigestAlg pss_hash = DigestAlg::sha256;  // rsa_pss only: the hash the input was made with
  DigestAlg mgf1 = DigestAlg::sha256;      // rsa_pss only
  size_t salt_len = 32;                    // rsa_pss only
  bool operator==(const SignatureScheme&) const = default;
};

// signature_size returns the length of every signature the key makes under the scheme
// (RSA: modulus bytes; ECDSA: 2 * field bytes, r || s; DSA: 2 * bytes of q; Ed25519: 64;
// Ed448: 114).
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
  explicit Signer(const std::shared_ptr<const SignContext>& context);
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
