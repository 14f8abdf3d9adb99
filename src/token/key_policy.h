// The key-management policy: the rules that keep a sensitive key from leaving the token in the
// clear through any sequence of PKCS#11 calls, against the published API attacks (Clulow 2003;
// Delaune, Kremer, Steel 2008; Bortolozzo, Centenaro, Focardi, Steel, CCS 2010: the Tookan tool
// and its fixed configuration CryptokiX). Every path that makes a key, changes one or wraps one
// comes through here (token/key_management.cc); docs/threat-model.md lists each attack, the rule
// below that stops it and the test that shows it.
//
// The device's key policy (a setting: `strict`, the default, or `compatible`) changes one rule:
// under strict no key is made able both to wrap or unwrap keys and to encrypt or decrypt data;
// under compatible such a key may be made (some legacy applications ask for every usage) but is
// marked, and it and its copies never wrap a sensitive key. Every other rule holds under both.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "token/attributes.h"
#include "token/role.h"

namespace twinhsm::token {

enum class KeyPolicy { strict, compatible };

// key_policy_from_name maps "strict" and "compatible"; nullopt for anything else.
std::optional<KeyPolicy> key_policy_from_name(std::string_view name);
const char* key_policy_name(KeyPolicy policy);

// The mark of a key made, under the compatible policy, able both to wrap and to process data:
// set by the token (read-only to applications), kept by copies; such a key never wraps a
// sensitive key.
inline constexpr CK_ATTRIBUTE_TYPE CKA_TWINHSM_WRAPS_AND_PROCESSES_DATA =
    CKA_VENDOR_DEFINED | 0x54480001UL;

// check_new_key checks a key (or any object) about to be made by C_CreateObject,
// C_GenerateKey, C_UnwrapKey or C_DeriveKey, complete with its defaults: only the SO may make it
// trusted (CKR_ATTRIBUTE_READ_ONLY), and if its value is hidden (sensitive or unextractable) its
// usage must keep wrapping apart from data (CKR_TEMPLATE_INCONSISTENT under strict; marked under
// compatible). A key whose value can be read may do anything its type does: whoever reads it can
// do the same outside, and it never wraps a sensitive key (check_wrap).
void check_new_key(AttributeMap& key, LoggedIn who, KeyPolicy policy);
// check_new_key_pair is check_new_key for the two halves of a generated pair, seen together: a
// public key that wraps and a private key that decrypts conflict as one key would.
void check_new_key_pair(AttributeMap& pub, AttributeMap& priv, LoggedIn who, KeyPolicy policy);

// mixes_wrapping_and_data: the key's value is hidden (sensitive or unextractable) and it can both
// wrap or unwrap keys and encrypt or decrypt data: what the strict policy refuses.
bool mixes_wrapping_and_data(const AttributeMap& key);

// changed_object returns the attributes of object after C_SetAttributeValue (copy false) or of
// the new object of C_CopyObject (copy true) with changes. Beyond the attribute rules
// (attribute_policy.h: check_change), on a sensitive or unextractable key the usage attributes
// and CKA_ALLOWED_MECHANISMS only narrow, CKA_ALWAYS_AUTHENTICATE and CKA_WRAP_WITH_TRUSTED only
// become true (CKR_ATTRIBUTE_READ_ONLY); only the SO makes an object trusted; the result keeps
// wrapping apart from data as check_new_key does.
AttributeMap changed_object(const AttributeMap& object, const AttributeMap& changes, bool copy,
                            LoggedIn who, KeyPolicy policy);

// WrappingKey is a wrapping key and the mechanism C_WrapKey uses, with, for a public key, the
// private keys of the token that hold its other half (halves_known: every private object could
// be searched, i.e. the user is in); raw_rsa_unlisted: the device lets any RSA private key sign
// with CKM_RSA_X_509, not only one whose CKA_ALLOWED_MECHANISMS names it (legacy algorithms).
struct WrappingKey {
  const AttributeMap& key;
  CK_MECHANISM_TYPE mechanism;
  std::vector<AttributeMap> private_halves{};
  bool halves_known = true;
  bool raw_rsa_unlisted = false;
};

// check_wrap decides whether C_WrapKey may wrap key under wrapping (the mechanism's own rules,
// CKA_EXTRACTABLE among them, are wrapping.h's). Always: key must match the wrapping key's
// CKA_WRAP_TEMPLATE, and a key with CKA_WRAP_WITH_TRUSTED needs a trusted wrapping key. For a
// sensitive key: the wrapping key must be one whose value nobody outside the token has or ever
// will have (generated here, always sensitive and never extractable, for a public key its
// private half so, or trusted by the SO): a wrapping key that can leave could come back,
// unwrapped, as a key that decrypts what it wrapped (Clulow). It must not encrypt or decrypt
// data, nor may its other half (raw RSA signing, CKM_RSA_X_509, is decryption), must not be
// marked, and must be at least as strong (security_strength); unless it is trusted, the
// mechanism must be one whose format detects a forged blob (authenticated_wrapping), the only
// ones such a key unwraps (check_unwrap). Throws CKR_KEY_NOT_WRAPPABLE with the
// reason, or CKR_USER_NOT_LOGGED_IN when a public wrapping key's private half could not be
// looked for.
void check_wrap(const WrappingKey& wrapping, const AttributeMap& key);

// authenticated_wrapping: the mechanism's wrapped form detects a forged or altered blob (AES key
// wrap in its forms, RSA-OAEP); CKM_AES_CBC_PAD does not: its unwrap tells only whether the
// padding came out right, a padding oracle (Vaudenay) that decrypts under the key.
bool authenticated_wrapping(CK_MECHANISM_TYPE mechanism);

// check_unwrap refuses (CKR_MECHANISM_INVALID) an unwrap with a mechanism whose format is not
// authenticated under a key that may wrap sensitive keys (as check_wrap lets it): each such
// unwrap of chosen bytes would be a decryption oracle under the key, and with it every blob the
// key made, whatever its format, could be opened outside.
void check_unwrap(const AttributeMap& unwrapping_key, CK_MECHANISM_TYPE mechanism);

// unwrap_template returns the template of a key C_UnwrapKey makes: the caller's, with the
// unwrapping key's CKA_UNWRAP_TEMPLATE (a conflicting value is CKR_TEMPLATE_INCONSISTENT). Under
// an unwrapping key whose value is hidden the key is sensitive whatever the caller asks
// (CKR_TEMPLATE_INCONSISTENT for CKA_SENSITIVE false): otherwise a sensitive key wrapped under a
// key that also unwraps would come back readable. (Under a readable key it may be readable: its
// value could be computed outside from the wrapped bytes anyway.)
AttributeMap unwrap_template(const AttributeMap& unwrapping_key, const AttributeMap& request);
// derive_template is the caller's template with the base key's CKA_DERIVE_TEMPLATE (and that of
// any other key the derivation takes in, such as CKM_HKDF_DERIVE's salt key: apply it to each).
AttributeMap derive_template(const AttributeMap& base_key, const AttributeMap& request);

// check_tag_length: a key that checks tags (a MAC's, a GCM tag) but may not make them with the
// mechanism (may_make: it may sign, or encrypt with it; key_management.h's may_use) checks none
// shorter than 8 bytes: checked 1, 2, 3 ... bytes long, its tags would be found a byte at a time
// (256 tries each), and with them MACs it may not make or GCM's keystream.
// CKR_MECHANISM_PARAM_INVALID.
void check_tag_length(size_t tag_bytes, bool may_make);

// digestible_value is what C_DigestKey feeds the digest: a secret key's CKA_VALUE, only when the
// token would reveal it (neither sensitive nor unextractable): the digest of a hidden value would
// test guesses of it, which CKA_SENSITIVE exists to prevent. Private keys are indigestible too
// (PKCS#11 defines C_DigestKey for secret keys). Throws CkError(CKR_KEY_INDIGESTIBLE).
const SecureBytes& digestible_value(const AttributeMap& key);

// security_strength is the key's strength in bits as NIST SP 800-57 part 1 table 2 gives it
// (AES and other secret keys: their length, at most 256, XTS keys half; DES 56, two-key Triple
// DES 80, three-key 112; RSA, DSA and DH: 80/112/128/192/256 by modulus or prime; EC, Edwards and
// Montgomery curves: half the field), 0 when unknown.
unsigned security_strength(const AttributeMap& key);

// check_derivation_base refuses the *_ECB_ENCRYPT_DATA and *_CBC_ENCRYPT_DATA derivations with a
// base key that can wrap or unwrap keys (CKR_KEY_FUNCTION_NOT_PERMITTED): the derived key's value
// is the base key's encryption of the caller's data, which would make a key-encryption key an
// encryption oracle (encrypt under it, then export or use the "derived key").
void check_derivation_base(const AttributeMap& base, CK_MECHANISM_TYPE mechanism);

}  // namespace twinhsm::token
