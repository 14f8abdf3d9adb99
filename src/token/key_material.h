// Conversions between a key object's attributes and a crypto::PKey, and key generation for the
// mechanisms twinhsm supports. The only place that knows which attributes hold which component.
#pragma once

#include <optional>
#include <vector>

#include "crypto/pkey.h"
#include "token/attributes.h"

namespace twinhsm::token {

// to_pkey builds the key an object holds (RSA, EC, Edwards, Montgomery, DSA, DH; public or
// private key object).
// Throws CkError: CKR_KEY_TYPE_INCONSISTENT for other objects, CKR_CURVE_NOT_SUPPORTED for an
// unknown curve, CKR_ATTRIBUTE_VALUE_INVALID if the components do not form a valid key.
crypto::PKey to_pkey(const AttributeMap& a);
// object_pkey is to_pkey for an object, parsed once and kept with it.
const crypto::PKey& object_pkey(const struct Object& object);

// set_public_attributes / set_private_attributes set the key-type attributes of a public or private
// key object from a key (CKA_MODULUS..., CKA_EC_PARAMS and CKA_EC_POINT, CKA_PRIME/SUBPRIME/BASE,
// CKA_VALUE, CKA_VALUE_BITS of DH private keys, and CKA_PUBLIC_KEY_INFO).
void set_public_attributes(AttributeMap& attrs, const crypto::PKey& key);
void set_private_attributes(AttributeMap& attrs, const crypto::PKey& key);
// set_domain_attributes sets CKA_PRIME, CKA_SUBPRIME (DSA), CKA_BASE, and on domain-parameter
// objects CKA_PRIME_BITS and CKA_SUB_PRIME_BITS.
void set_domain_attributes(AttributeMap& attrs, const crypto::FfcParams& params);

// validate_key_object: a created key object's components must form a valid key (a secret key of
// a length its type has: AES 16, 24 or 32 bytes, DES 8, ...); throws
// CkError(CKR_ATTRIBUTE_VALUE_INVALID) otherwise. Fills the derived attributes (CKA_MODULUS_BITS,
// CKA_PUBLIC_KEY_INFO, CKA_VALUE_BITS, CKA_PRIME_BITS).
void validate_key_object(AttributeMap& attrs);

// CKA_PUBLIC_KEY_INFO of RSA keys (docs/pkcs11.md): an RSA key object whose CKA_ALLOWED_MECHANISMS
// is set, not empty, and names only RSA-PSS mechanisms (allowed_only_rsa_pss) gets the
// SubjectPublicKeyInfo of an RSASSA-PSS key (RFC 4055: id-RSASSA-PSS, parameters absent); every
// other key the usual one (rsaEncryption for RSA). public_key_info is that value for an object's
// attributes and its key.
bool allowed_only_rsa_pss(const AttributeMap& attrs);
Bytes public_key_info(const AttributeMap& attrs, const crypto::PKey& key);
// refresh_public_key_info sets CKA_PUBLIC_KEY_INFO of an RSA public or private key object again
// from CKA_MODULUS, CKA_PUBLIC_EXPONENT and CKA_ALLOWED_MECHANISMS (after a change of the latter);
// other objects are left as they are.
void refresh_public_key_info(AttributeMap& attrs);
// public_key_info_forms are the SubjectPublicKeyInfo values of the key an object holds, computed
// from its components (never from its CKA_PUBLIC_KEY_INFO): for an RSA key both the rsaEncryption
// and the RSASSA-PSS form (each half of a pair follows its own CKA_ALLOWED_MECHANISMS, so the
// halves' values may differ). Throws CkError as to_pkey does, and CryptoError when OpenSSL
// cannot encode the key. holds_public_key: spki is one of them (false for components that form
// no key, or that OpenSSL cannot encode).
std::vector<Bytes> public_key_info_forms(const AttributeMap& key);
bool holds_public_key(const AttributeMap& key, ByteView spki);

// bit_length counts the bits of a big-endian value (leading zero bytes ignored): a modulus's or
// a prime's size.
CK_ULONG bit_length(std::span<const uint8_t> value);

// secret_length_fits: a secret key of the type may be n bytes long (AES 16, 24, 32; AES-XTS 32,
// 64; DES 8; DES2 16; DES3 24; ChaCha20 32; the others 1 or more).
bool secret_length_fits(CK_KEY_TYPE type, size_t n);
// fixed_secret_length is the one length a secret key type has (DES, DES2, DES3, ChaCha20), or
// nullopt (AES has three).
std::optional<size_t> fixed_secret_length(CK_KEY_TYPE type);

}  // namespace twinhsm::token
