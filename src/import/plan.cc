#include "import/plan.h"

#include <array>
#include <utility>

#include "crypto/pkey.h"
#include "token/attribute_policy.h"

namespace twinhsm::import {

namespace {

constexpr CK_KEY_TYPE kEcMontgomery = 0x41;  // CKK_EC_MONTGOMERY (PKCS#11 3.0), not in p11-kit's

std::string hex_number(CK_ULONG v) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), digits[v & 0xf]);
    v >>= 4;
  } while (v != 0);
  return "0x" + s;
}

// The key types twinhsm holds, then others SoftHSMv2 may hold, by the names they are shown by.
constexpr std::array<std::pair<CK_KEY_TYPE, const char*>, 20> kKeyTypeNames = {{
    {CKK_RSA, "rsa"},
    {CKK_EC, "ec"},
    {CKK_EC_EDWARDS, "ec-edwards"},
    {CKK_AES, "aes"},
    {CKK_GENERIC_SECRET, "generic-secret"},
    {CKK_SHA_1_HMAC, "sha1-hmac"},
    {CKK_SHA224_HMAC, "sha224-hmac"},
    {CKK_SHA256_HMAC, "sha256-hmac"},
    {CKK_SHA384_HMAC, "sha384-hmac"},
    {CKK_SHA512_HMAC, "sha512-hmac"},
    {CKK_DSA, "dsa"},
    {CKK_DH, "dh"},
    {CKK_DES, "des"},
    {CKK_DES2, "des2"},
    {CKK_DES3, "des3"},
    {CKK_MD5_HMAC, "md5-hmac"},
    {CKK_GOSTR3410, "gostr3410"},
    {CKK_GOSTR3411, "gostr3411"},
    {CKK_GOST28147, "gost28147"},
    {kEcMontgomery, "ec-montgomery"},
}};
constexpr size_t kSupportedKeyTypes = 10;  // the first ten above

std::string key_type_name(CK_KEY_TYPE k) {
  for (const auto& [type, name] : kKeyTypeNames) {
    if (type == k) {
      return name;
    }
  }
  return "key-type-" + hex_number(k);
}

bool key_type_supported(CK_KEY_TYPE k) {
  for (size_t i = 0; i < kSupportedKeyTypes; ++i) {
    if (kKeyTypeNames[i].first == k) {
      return true;
    }
  }
  return false;
}

bool is_key(CK_OBJECT_CLASS c) {
  return c == CKO_PUBLIC_KEY || c == CKO_PRIVATE_KEY || c == CKO_SECRET_KEY;
}

// unsupported_reason says why twinhsm cannot hold the object, or "" when it can.
std::string unsupported_reason(const SourceObject& s, CK_OBJECT_CLASS c, CK_KEY_TYPE k) {
  if (c != CKO_DATA && c != CKO_CERTIFICATE && !is_key(c)) {
    return "twinhsm stores no objects of this class";
  }
  if (is_key(c) && !key_type_supported(k)) {
    return "twinhsm has no " + key_type_name(k) + " keys";
  }
  if (k == CKK_EC || k == CKK_EC_EDWARDS) {
    auto curve = crypto::curve_from_params(s.attrs.get_bytes(CKA_EC_PARAMS));
    bool edwards = curve == crypto::Curve::ed25519;
    if (!curve || edwards != (k == CKK_EC_EDWARDS)) {
      return "twinhsm has no curve with CKA_EC_PARAMS " + to_hex(s.attrs.get_bytes(CKA_EC_PARAMS)) +
             (k == CKK_EC ? " (its EC curves: P-256, P-384, P-521)"
                          : " (its Edwards curve: Ed25519)");
    }
  }
  if (s.attrs.get_bool(CKA_TRUSTED, false)) {
    return "its CKA_TRUSTED is true, which in twinhsm only the SO sets: set it again after the "
           "import";
  }
  return "";
}

// What twinhsm computes for itself, and so never takes from a template.
constexpr std::array kComputed = {
    CKA_LOCAL,        CKA_KEY_GEN_MECHANISM, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE,
    CKA_MODULUS_BITS, CKA_VALUE_LEN,         CKA_VALUE_BITS,       CKA_UNIQUE_ID};

}  // namespace

std::string Candidate::describe() const {
  std::string out = class_name;
  if (!key_type.empty()) {
    out += " " + key_type;
  }
  out += " \"" + label + "\"";
  if (!id_hex.empty()) {
    out += " id " + id_hex;
  }
  return out + " (" + file + ")";
}

Candidate plan_object(const SourceObject& s) {
  Candidate c;
  c.file = s.file;
  CK_OBJECT_CLASS cls = token::object_class(s.attrs);
  CK_KEY_TYPE kt = is_key(cls) ? token::key_type(s.attrs) : CK_UNAVAILABLE_INFORMATION;
  c.class_name = token::object_class_name(cls);
  c.key_type = is_key(cls) ? key_type_name(kt) : "";
  Bytes label = s.attrs.get_bytes(CKA_LABEL);
  c.label.assign(label.begin(), label.end());
  c.id_hex = to_hex(s.attrs.get_bytes(CKA_ID));
  c.is_private = s.attrs.get_bool(CKA_PRIVATE, true);
  c.unsupported = unsupported_reason(s, cls, kt);

  c.tmpl = s.attrs;
  for (CK_ATTRIBUTE_TYPE t : kComputed) {
    c.tmpl.erase(t);
  }
  c.tmpl.set_bool(CKA_TOKEN, true);
  if (cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY) {
    bool generated_there = s.attrs.get_bool(CKA_LOCAL, false);
    c.always_sensitive = generated_there && s.attrs.get_bool(CKA_ALWAYS_SENSITIVE, false) &&
                         s.attrs.get_bool(CKA_SENSITIVE, false);
    c.never_extractable = generated_there && s.attrs.get_bool(CKA_NEVER_EXTRACTABLE, false) &&
                          !s.attrs.get_bool(CKA_EXTRACTABLE, true);
  }
  return c;
}

}  // namespace twinhsm::import
