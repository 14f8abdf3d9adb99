// The key-management policy (key_policy.h).
#include "token/key_policy.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "crypto/pkey.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/key_material.h"
#include "token/mechanisms.h"

namespace twinhsm::token {

namespace {

constexpr std::array kUsageAttributes = {CKA_ENCRYPT,      CKA_DECRYPT,        CKA_WRAP,
                                         CKA_UNWRAP,       CKA_SIGN,           CKA_VERIFY,
                                         CKA_SIGN_RECOVER, CKA_VERIFY_RECOVER, CKA_DERIVE};

constexpr std::array kTemplateAttributes = {CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE,
                                            CKA_DERIVE_TEMPLATE};

bool is_key(const AttributeMap& a) {
  CK_OBJECT_CLASS c = object_class(a);
  return c == CKO_PUBLIC_KEY || c == CKO_PRIVATE_KEY || c == CKO_SECRET_KEY;
}

// allowed_mechanisms is CKA_ALLOWED_MECHANISMS as a list; empty when absent or empty (every
// mechanism allowed).
std::vector<CK_MECHANISM_TYPE> allowed_mechanisms(const AttributeMap& key) {
  std::vector<CK_MECHANISM_TYPE> out;
  if (const SecureBytes* v = key.find(CKA_ALLOWED_MECHANISMS)) {
    out.resize(v->size() / sizeof(CK_MECHANISM_TYPE));
    if (!out.empty()) {  // an empty list has no data pointer to copy from
      std::memcpy(out.data(), v->data(), out.size() * sizeof(CK_MECHANISM_TYPE));
    }
  }
  return out;
}

// can tells whether the key may do the operation: its usage attribute is true and, when
// CKA_ALLOWED_MECHANISMS restricts it, one of the allowed mechanisms does the operation.
bool can(const AttributeMap& key, CK_ATTRIBUTE_TYPE usage, CK_FLAGS operation) {
  if (!key.get_bool(usage, false)) {
    return false;
  }
  auto allowed = allowed_mechanisms(key);
  return allowed.empty() || std::any_of(allowed.begin(), allowed.end(), [&](CK_MECHANISM_TYPE m) {
           const MechanismInfo* info = mechanism_info(m);
           return info && (info->flags & operation);
         });
}

bool handles_keys(const AttributeMap& key) {
  return can(key, CKA_WRAP, CKF_WRAP) || can(key, CKA_UNWRAP, CKF_UNWRAP);
}

// signs_raw_rsa: an RSA private key that may sign (or sign with recovery) with CKM_RSA_X_509,
// which computes the same as raw RSA decryption: its CKA_ALLOWED_MECHANISMS names it, or, when
// unlisted_too (a legacy device), the list is empty.
bool signs_raw_rsa(const AttributeMap& key, bool unlisted_too) {
  if (object_class(key) != CKO_PRIVATE_KEY || key_type(key) != CKK_RSA ||
      (!key.get_bool(CKA_SIGN, false) && !key.get_bool(CKA_SIGN_RECOVER, false))) {
    return false;
  }
  auto allowed = allowed_mechanisms(key);
  return allowed.empty()
             ? unlisted_too
             : std::find(allowed.begin(), allowed.end(), CKM_RSA_X_509) != allowed.end();
}

bool handles_data(const AttributeMap& key) {
  return can(key, CKA_ENCRYPT, CKF_ENCRYPT) || can(key, CKA_DECRYPT, CKF_DECRYPT) ||
         signs_raw_rsa(key, false);
}

// never_known: generated here, always sensitive and never extractable: nobody outside the token
// had its value, and nobody will (a key that left, even wrapped, could come back unwrapped with
// other uses).
bool never_known(const AttributeMap& a) {
  return a.get_bool(CKA_LOCAL, false) && a.get_bool(CKA_ALWAYS_SENSITIVE, false) &&
         a.get_bool(CKA_NEVER_EXTRACTABLE, false);
}

// mixes_uses: the key, seen as all its halves, can both wrap or unwrap keys and encrypt or
// decrypt data: what it wraps it could also decrypt (Clulow's wrap/decrypt attack), what it
// encrypts it could unwrap as a key of known value (encrypt/unwrap).
bool mixes_uses(const std::vector<const AttributeMap*>& halves) {
  bool keys = false, data = false;
  for (const AttributeMap* h : halves) {
    keys = keys || handles_keys(*h);
    data = data || handles_data(*h);
  }
  return keys && data;
}

// value_hidden: the key is a private or secret key whose value cannot be read (sensitive or
// unextractable). Only such keys need the rules: what a readable key does, anyone who reads it
// can do outside the token.
bool value_hidden(const AttributeMap& key) {
  CK_OBJECT_CLASS c = object_class(key);
  return (c == CKO_PRIVATE_KEY || c == CKO_SECRET_KEY) &&
         (key.get_bool(CKA_SENSITIVE, true) || !key.get_bool(CKA_EXTRACTABLE, false));
}

// keep_uses_apart applies the separation rule to a new or changed key (all its halves) whose
// value is hidden.
void keep_uses_apart(const std::vector<AttributeMap*>& halves, KeyPolicy policy) {
  bool hidden = std::any_of(halves.begin(), halves.end(),
                            [](const AttributeMap* h) { return value_hidden(*h); });
  if (!hidden || !mixes_uses(std::vector<const AttributeMap*>(halves.begin(), halves.end()))) {
    return;
  }
  require(policy == KeyPolicy::compatible, CKR_TEMPLATE_INCONSISTENT,
          "a key may not both wrap or unwrap keys and encrypt or decrypt data (the device's key "
          "policy is strict): give it CKA_WRAP/CKA_UNWRAP or CKA_ENCRYPT/CKA_DECRYPT, not both");
  for (AttributeMap* h : halves) {
    h->set_bool(CKA_TWINHSM_WRAPS_AND_PROCESSES_DATA, true);
  }
}

// trusted_anywhere: the attributes, or one of the templates they carry, set CKA_TRUSTED true.
bool trusted_anywhere(const AttributeMap& a) {
  if (a.get_bool(CKA_TRUSTED, false)) {
    return true;
  }
  for (CK_ATTRIBUTE_TYPE t : kTemplateAttributes) {
    if (const SecureBytes* nested = a.find(t); nested && !nested->empty()) {
      if (AttributeMap::decode(*nested).get_bool(CKA_TRUSTED, false)) {
        return true;
      }
    }
  }
  return false;
}

void check_trusted(const AttributeMap& given, LoggedIn who) {
  require(!trusted_anywhere(given) || who == Role::so, CKR_ATTRIBUTE_READ_ONLY,
          "only the SO may make a key trusted (CKA_TRUSTED)");
}

void check_narrowing(const AttributeMap& object, const AttributeMap& changes) {
  for (CK_ATTRIBUTE_TYPE t : {CKA_ALWAYS_AUTHENTICATE, CKA_WRAP_WITH_TRUSTED}) {
    if (changes.has(t)) {
      require(changes.get_bool(t, false) || !object.get_bool(t, false), CKR_ATTRIBUTE_READ_ONLY,
              "CKA_ALWAYS_AUTHENTICATE and CKA_WRAP_WITH_TRUSTED can only become true");
    }
  }
  if (!value_hidden(object)) {
    return;
  }
  for (CK_ATTRIBUTE_TYPE t : kUsageAttributes) {
    if (changes.has(t)) {
      require(!changes.get_bool(t, false) || object.get_bool(t, false), CKR_ATTRIBUTE_READ_ONLY,
              "a usage attribute of a sensitive or unextractable key can only become false");
    }
  }
  if (changes.has(CKA_ALLOWED_MECHANISMS)) {
    auto before = allowed_mechanisms(object);
    auto after = allowed_mechanisms(changes);
    // An empty list allows every mechanism but one: raw RSA with a private key needs its name
    // (algorithm_policy.cc, on a modern device), so naming it widens.
    bool names_raw_rsa = std::find(after.begin(), after.end(), CKM_RSA_X_509) != after.end();
    bool narrower = before.empty()
                        ? !(names_raw_rsa && object_class(object) == CKO_PRIVATE_KEY &&
                            key_type(object) == CKK_RSA)
                        : (!after.empty() && std::all_of(after.begin(), after.end(), [&](auto m) {
                            return std::find(before.begin(), before.end(), m) != before.end();
                          }));
    require(narrower, CKR_ATTRIBUTE_READ_ONLY,
            "CKA_ALLOWED_MECHANISMS of a sensitive or unextractable key can only shrink");
  }
}

// rsa_strength: SP 800-57 part 1, table 2.
unsigned rsa_strength(size_t modulus_bits) {
  if (modulus_bits >= 15360) {
    return 256;
  }
  if (modulus_bits >= 7680) {
    return 192;
  }
  if (modulus_bits >= 3072) {
    return 128;
  }
  if (modulus_bits >= 2048) {
    return 112;
  }
  if (modulus_bits >= 1024) {
    return 80;
  }
  return 0;
}

// modulus_bits counts the bits of CKA_MODULUS.
size_t modulus_bits(const AttributeMap& key) {
  return bit_length(key.get_bytes(CKA_MODULUS));
}

void merge_into(AttributeMap& request, const AttributeMap& key, CK_ATTRIBUTE_TYPE which,
                const char* what) {
  const SecureBytes* nested = key.find(which);
  if (!nested || nested->empty()) {
    return;
  }
  for (const auto& [type, value] : AttributeMap::decode(*nested)) {
    if (const SecureBytes* given = request.find(type)) {
      require(given->size() == value.size() && crypto::ct_equal(*given, value),
              CKR_TEMPLATE_INCONSISTENT, what);
    } else {
      request.set(type, value);
    }
  }
}

}  // namespace

std::optional<KeyPolicy> key_policy_from_name(std::string_view name) {
  if (name == "strict") {
    return KeyPolicy::strict;
  }
  if (name == "compatible") {
    return KeyPolicy::compatible;
  }
  return std::nullopt;
}

const char* key_policy_name(KeyPolicy policy) {
  return policy == KeyPolicy::strict ? "strict" : "compatible";
}

bool mixes_wrapping_and_data(const AttributeMap& key) {
  return value_hidden(key) && mixes_uses({&key});
}

void check_new_key(AttributeMap& key, LoggedIn who, KeyPolicy policy) {
  check_trusted(key, who);
  if (is_key(key)) {
    keep_uses_apart({&key}, policy);
  }
}

void check_new_key_pair(AttributeMap& pub, AttributeMap& priv, LoggedIn who, KeyPolicy policy) {
  check_trusted(pub, who);
  check_trusted(priv, who);
  keep_uses_apart({&pub, &priv}, policy);
}

AttributeMap changed_object(const AttributeMap& object, const AttributeMap& changes, bool copy,
                            LoggedIn who, KeyPolicy policy) {
  check_change(object, changes, copy);
  check_trusted(changes, who);
  if (is_key(object)) {
    check_narrowing(object, changes);
  }
  AttributeMap result = object;
  for (const auto& [type, value] : changes) {
    result.set(type, value);
  }
  if (is_key(result)) {
    keep_uses_apart({&result}, policy);
    // A secret key (or its copy) that stops wrapping and unwrapping but keeps CKA_DERIVE could
    // derive by encrypting data (check_derivation_base, secret keys only) under a value that
    // another object still unwraps with: blobs forged under it.
    require(object_class(object) != CKO_SECRET_KEY || !value_hidden(object) ||
                !handles_keys(object) || handles_keys(result) ||
                !result.get_bool(CKA_DERIVE, false),
            CKR_ATTRIBUTE_READ_ONLY,
            "a sensitive key that wraps or unwraps keeps CKA_DERIVE only while it still does "
            "(set CKA_DERIVE false too)");
  }
  return result;
}

void check_wrap(const WrappingKey& wrapping, const AttributeMap& key) {
  const AttributeMap& w = wrapping.key;
  if (const SecureBytes* tmpl = w.find(CKA_WRAP_TEMPLATE); tmpl && !tmpl->empty()) {
    for (const auto& [type, value] : AttributeMap::decode(*tmpl)) {
      const SecureBytes* have = key.find(type);
      require(have && !is_hidden(key, type) && have->size() == value.size() &&
                  crypto::ct_equal(*have, value),
              CKR_KEY_NOT_WRAPPABLE, "the key does not match the wrapping key's CKA_WRAP_TEMPLATE");
    }
  }
  require(!key.get_bool(CKA_WRAP_WITH_TRUSTED, false) || w.get_bool(CKA_TRUSTED, false),
          CKR_KEY_NOT_WRAPPABLE, "the key may be wrapped only with a CKA_TRUSTED key");
  if (!key.get_bool(CKA_SENSITIVE, true)) {
    return;  // its value can be read anyway: wrapping gives nothing away
  }
  bool is_public = object_class(w) == CKO_PUBLIC_KEY;
  require(!is_public || wrapping.halves_known, CKR_USER_NOT_LOGGED_IN,
          "log in as the user to wrap a sensitive key under a public key (its private half must "
          "be checked)");
  bool known_only_here = is_public ? std::any_of(wrapping.private_halves.begin(),
                                                 wrapping.private_halves.end(), never_known)
                                   : never_known(w);
  require(known_only_here || w.get_bool(CKA_TRUSTED, false), CKR_KEY_NOT_WRAPPABLE,
          "a sensitive key is wrapped only under a key generated here, always sensitive and never "
          "extractable, or one the SO made trusted: the value of this wrapping key may be known "
          "outside, or leave and come back with other uses");
  require(authenticated_wrapping(wrapping.mechanism) || w.get_bool(CKA_TRUSTED, false),
          CKR_KEY_NOT_WRAPPABLE,
          "under a key generated here a sensitive key is wrapped only with a mechanism whose "
          "format detects tampering (CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD/KWP/PKCS7, "
          "CKM_RSA_PKCS_OAEP): such a key unwraps no other, so the blob could never come back");
  require(is_public || value_hidden(w), CKR_KEY_NOT_WRAPPABLE,
          "a sensitive key is not wrapped under a key whose value can be read");
  bool can_leave = !is_public && w.get_bool(CKA_EXTRACTABLE, false);
  bool mixed = mixes_uses({&w}) || w.get_bool(CKA_TWINHSM_WRAPS_AND_PROCESSES_DATA, false);
  for (const AttributeMap& half : wrapping.private_halves) {
    can_leave = can_leave || half.get_bool(CKA_EXTRACTABLE, false);
    mixed = mixed || mixes_uses({&w, &half}) || signs_raw_rsa(half, wrapping.raw_rsa_unlisted) ||
            half.get_bool(CKA_TWINHSM_WRAPS_AND_PROCESSES_DATA, false);
  }
  require(!can_leave, CKR_KEY_NOT_WRAPPABLE,
          "a sensitive key is not wrapped under an extractable key (or a public key whose private "
          "half is): wrapped and unwrapped again, it could come back as a key that decrypts what "
          "it wrapped");
  require(!mixed, CKR_KEY_NOT_WRAPPABLE,
          "the wrapping key (or its private half) also encrypts or decrypts data, or signs with "
          "raw RSA (CKM_RSA_X_509, the same computation): it could decrypt what it wraps");
  require(security_strength(w) >= security_strength(key), CKR_KEY_NOT_WRAPPABLE,
          "the wrapping key is weaker than the key it would wrap (NIST SP 800-57 strengths)");
}

bool authenticated_wrapping(CK_MECHANISM_TYPE mechanism) {
  switch (mechanism) {
    case CKM_AES_KEY_WRAP:
    case CKM_AES_KEY_WRAP_PAD:
    case CKM_AES_KEY_WRAP_KWP:
    case CKM_AES_KEY_WRAP_PKCS7:
    case CKM_RSA_PKCS_OAEP:
      return true;
    default:
      return false;
  }
}

void check_unwrap(const AttributeMap& unwrapping_key, CK_MECHANISM_TYPE mechanism) {
  // (A key marked under the compatible policy, or mixing uses, wraps no sensitive key and may
  // decrypt anyway: nothing to guard.)
  bool guards_sensitive_keys =
      value_hidden(unwrapping_key) &&
      (never_known(unwrapping_key) || unwrapping_key.get_bool(CKA_TRUSTED, false)) &&
      !mixes_uses({&unwrapping_key}) &&
      !unwrapping_key.get_bool(CKA_TWINHSM_WRAPS_AND_PROCESSES_DATA, false);
  require(!guards_sensitive_keys || authenticated_wrapping(mechanism), CKR_MECHANISM_INVALID,
          "a key that may wrap sensitive keys unwraps only with a mechanism whose format detects "
          "tampering (CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_PAD/KWP/PKCS7, CKM_RSA_PKCS_OAEP): an "
          "unwrap that tells whether padding came out right decrypts under the key");
}

AttributeMap unwrap_template(const AttributeMap& unwrapping_key, const AttributeMap& request) {
  AttributeMap out = request;
  merge_into(out, unwrapping_key, CKA_UNWRAP_TEMPLATE,
             "the template contradicts the unwrapping key's CKA_UNWRAP_TEMPLATE");
  if (value_hidden(unwrapping_key)) {
    require(out.get_bool(CKA_SENSITIVE, true), CKR_TEMPLATE_INCONSISTENT,
            "a key unwrapped under a key whose value is hidden is always sensitive: it could be "
            "a sensitive key that was wrapped under it");
    out.set_bool(CKA_SENSITIVE, true);
  }
  return out;
}

AttributeMap derive_template(const AttributeMap& base_key, const AttributeMap& request) {
  AttributeMap out = request;
  merge_into(out, base_key, CKA_DERIVE_TEMPLATE,
             "the template contradicts the base key's CKA_DERIVE_TEMPLATE");
  return out;
}

void check_tag_length(size_t tag_bytes, bool may_make) {
  constexpr size_t kMinTag = 8;  // 2^64 guesses for the first bytes
  require(tag_bytes >= kMinTag || may_make, CKR_MECHANISM_PARAM_INVALID,
          "a key that may not make this mechanism's tags (MACs: sign; GCM: encrypt) checks none "
          "shorter than 8 bytes: shorter ones would let them be found a byte at a time");
}

const SecureBytes& digestible_value(const AttributeMap& key) {
  require(object_class(key) == CKO_SECRET_KEY, CKR_KEY_INDIGESTIBLE,
          "only secret keys can be digested");
  require(!value_hidden(key), CKR_KEY_INDIGESTIBLE,
          "a sensitive or unextractable key cannot be digested");
  const SecureBytes* value = key.find(CKA_VALUE);
  require(value != nullptr, CKR_KEY_INDIGESTIBLE, "the key has no value");
  return *value;
}

unsigned security_strength(const AttributeMap& key) {
  CK_OBJECT_CLASS c = object_class(key);
  CK_KEY_TYPE kt = key_type(key);
  if (c == CKO_SECRET_KEY) {
    const SecureBytes* v = key.find(CKA_VALUE);
    size_t bits = v ? v->size() * 8 : 0;
    switch (kt) {
      case CKK_DES:
        return 56;  // not approved at all (NIST SP 800-131A)
      case CKK_DES2:
        return 80;  // two-key Triple DES
      case CKK_DES3:
        return 112;  // three-key Triple DES
      case CKK_AES_XTS:
        bits /= 2;  // two AES keys, one of them the tweak key
        break;
      default:
        break;
    }
    return static_cast<unsigned>(std::min<size_t>(bits, 256));
  }
  if (kt == CKK_RSA) {
    return rsa_strength(modulus_bits(key));
  }
  if (kt == CKK_DSA || kt == CKK_DH) {
    return rsa_strength(bit_length(key.get_bytes(CKA_PRIME)));  // the same table for L
  }
  if (kt == CKK_EC || kt == CKK_EC_EDWARDS || kt == CKK_EC_MONTGOMERY) {
    auto curve = crypto::curve_from_params(key.get_bytes(CKA_EC_PARAMS));
    return curve ? std::min((crypto::curve_bits(*curve) + 1) / 2, 256u) : 0;
  }
  return 0;
}

void check_derivation_base(const AttributeMap& base, CK_MECHANISM_TYPE mechanism) {
  require(!is_encrypt_data_mechanism(mechanism) || !handles_keys(base),
          CKR_KEY_FUNCTION_NOT_PERMITTED,
          "a key that can wrap or unwrap keys does not derive by encrypting data: the new key's "
          "value would be that key's encryption of the caller's data");
}

}  // namespace twinhsm::token
