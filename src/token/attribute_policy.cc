#include "token/attribute_policy.h"

#include <array>
#include <cstdio>

#include "crypto/random.h"
#include "token/attribute_rules.h"
#include "token/ck_error.h"
#include "token/key_policy.h"

namespace twinhsm::token {

namespace {

using namespace rules;

// asks: the template sets one of the attributes true.
bool asks(const AttributeMap& tmpl, CK_ATTRIBUTE_TYPE a, CK_ATTRIBUTE_TYPE b) {
  return tmpl.get_bool(a, false) || tmpl.get_bool(b, false);
}

void set_default(AttributeMap& a, CK_ATTRIBUTE_TYPE type, bool value) {
  if (!a.has(type)) {
    a.set_bool(type, value);
  }
}

}  // namespace

bool is_secret_key_type(CK_KEY_TYPE type) {
  return rules::key_type_bit(type) == rules::kSym;
}

std::string object_class_name(CK_OBJECT_CLASS c) {
  switch (c) {
    case CKO_DATA:
      return "data";
    case CKO_CERTIFICATE:
      return "certificate";
    case CKO_PUBLIC_KEY:
      return "public-key";
    case CKO_PRIVATE_KEY:
      return "private-key";
    case CKO_SECRET_KEY:
      return "secret-key";
    case CKO_HW_FEATURE:
      return "hardware-feature";
    case CKO_DOMAIN_PARAMETERS:
      return "domain-parameters";
    case CKO_MECHANISM:
      return "mechanism";
    case CKO_OTP_KEY:
      return "otp-key";
    default:
      char hex[32];
      std::snprintf(hex, sizeof hex, "class-0x%lx", static_cast<unsigned long>(c));
      return hex;
  }
}

CK_OBJECT_CLASS object_class(const AttributeMap& attrs) {
  return attrs.get_ulong(CKA_CLASS).value_or(CK_UNAVAILABLE_INFORMATION);
}

CK_KEY_TYPE key_type(const AttributeMap& attrs) {
  return attrs.get_ulong(CKA_KEY_TYPE).value_or(CK_UNAVAILABLE_INFORMATION);
}

AttributeMap complete_template(const AttributeMap& tmpl, Origin origin,
                               CK_OBJECT_CLASS produced_class, CK_KEY_TYPE produced_key_type,
                               CK_MECHANISM_TYPE mechanism) {
  AttributeMap a = tmpl;
  if (origin != Origin::created) {
    auto c = tmpl.get_ulong(CKA_CLASS);
    require(!c || *c == produced_class, CKR_TEMPLATE_INCONSISTENT,
            "the template's CKA_CLASS does not match what the mechanism makes");
    a.set_ulong(CKA_CLASS, produced_class);
    if (produced_key_type != CK_UNAVAILABLE_INFORMATION) {
      auto k = tmpl.get_ulong(CKA_KEY_TYPE);
      require(!k || *k == produced_key_type, CKR_TEMPLATE_INCONSISTENT,
              "the template's CKA_KEY_TYPE does not match what the mechanism makes");
      a.set_ulong(CKA_KEY_TYPE, produced_key_type);
    }
  }
  auto cls_value = a.get_ulong(CKA_CLASS);
  require(cls_value.has_value(), CKR_TEMPLATE_INCOMPLETE, "the template has no CKA_CLASS");
  unsigned cls = class_bit(*cls_value);
  require(cls != 0, CKR_ATTRIBUTE_VALUE_INVALID, "CKA_CLASS names a class twinhsm does not store");
  unsigned kt = 0;
  if (cls & (kKeys | kDomain)) {
    auto k = a.get_ulong(CKA_KEY_TYPE);
    require(k.has_value(), CKR_TEMPLATE_INCOMPLETE, "a key template needs CKA_KEY_TYPE");
    require(key_type_fits(*cls_value, *k), CKR_ATTRIBUTE_VALUE_INVALID,
            "CKA_KEY_TYPE names a key type twinhsm does not support for this class");
    kt = key_type_bit(*k);
  }
  if (cls == kCert) {
    auto ct = a.get_ulong(CKA_CERTIFICATE_TYPE);
    require(ct.has_value(), CKR_TEMPLATE_INCOMPLETE, "a certificate needs CKA_CERTIFICATE_TYPE");
  }

  for (const auto& [type, value] : tmpl) {
    const Rule* rule = rule_for(type, cls, kt);
    if (!rule) {
      if (type & CKA_VENDOR_DEFINED || cls == kCert) {
        continue;  // kept as given: vendor attributes, other certificate types' attributes
      }
      throw CkError(CKR_ATTRIBUTE_TYPE_INVALID,
                    "the template names an attribute this class does not have");
    }
    check_value_size(*rule, value);
    if (rule->traits & kComputed) {
      throw CkError(CKR_ATTRIBUTE_READ_ONLY, "the template sets an attribute only the token sets");
    }
    if (origin == Origin::generated && (rule->traits & kMaterial)) {
      throw CkError(CKR_TEMPLATE_INCONSISTENT, "a generated key's value cannot be given");
    }
    // PKCS#11 3.0's tables: the public value is made with the key, never given for it.
    bool public_value =
        type == CKA_MODULUS || type == CKA_EC_POINT || (type == CKA_VALUE && cls == kPub);
    if (origin == Origin::generated && public_value) {
      throw CkError(CKR_TEMPLATE_INCONSISTENT,
                    "a generated key's public value (CKA_MODULUS, CKA_EC_POINT, CKA_VALUE) cannot "
                    "be given");
    }
  }

  // Defaults (PKCS#11 3.0 leaves these to the token; twinhsm's are documented in docs/pkcs11.md).
  bool secret_or_private = cls & (kPriv | kSecret);
  set_default(a, CKA_TOKEN, false);
  set_default(a, CKA_PRIVATE, secret_or_private);
  set_default(a, CKA_MODIFIABLE, true);
  set_default(a, CKA_COPYABLE, true);
  set_default(a, CKA_DESTROYABLE, true);
  if (!a.has(CKA_LABEL)) {
    a.set(CKA_LABEL, ByteView());
  }
  set_new_unique_id(a);
  if (cls & kKeys) {
    if (!a.has(CKA_ID)) {
      a.set(CKA_ID, ByteView());
    }
    set_default(a, CKA_DERIVE, false);
    a.set_bool(CKA_LOCAL, origin == Origin::generated);
    a.set_ulong(CKA_KEY_GEN_MECHANISM,
                origin == Origin::generated ? mechanism : CK_UNAVAILABLE_INFORMATION);
  }
  if (cls == kDomain) {
    a.set_bool(CKA_LOCAL, origin == Origin::generated);
  }
  // Usage defaults. A key whose value is hidden (sensitive or unextractable, the default) keeps
  // wrapping apart from data (key_policy.h): it wraps and unwraps keys only when its template
  // asks, and then does not encrypt or decrypt unless asked. A key whose value can be read gets
  // every usage its type has, as PKCS#11 tokens commonly do.
  bool hidden = (cls & (kPriv | kSecret)) &&
                (tmpl.get_bool(CKA_SENSITIVE, true) || !tmpl.get_bool(CKA_EXTRACTABLE, false));
  bool wraps = asks(tmpl, CKA_WRAP, CKA_UNWRAP);
  bool data = !hidden || !wraps;
  bool keys = !hidden || wraps;
  if (cls == kPub) {
    set_default(a, CKA_ENCRYPT, kt == kRsa);
    set_default(a, CKA_VERIFY, true);
    set_default(a, CKA_VERIFY_RECOVER, false);
    set_default(a, CKA_WRAP, kt == kRsa);
    set_default(a, CKA_TRUSTED, false);
  }
  if (cls == kPriv) {
    set_default(a, CKA_DECRYPT, kt == kRsa && data);
    set_default(a, CKA_SIGN, true);
    set_default(a, CKA_SIGN_RECOVER, false);
    set_default(a, CKA_UNWRAP, kt == kRsa && keys);
    set_default(a, CKA_ALWAYS_AUTHENTICATE, false);
  }
  if (cls == kSecret) {
    set_default(a, CKA_ENCRYPT, data);
    set_default(a, CKA_DECRYPT, data);
    set_default(a, CKA_SIGN, true);
    set_default(a, CKA_VERIFY, true);
    set_default(a, CKA_WRAP, keys);
    set_default(a, CKA_UNWRAP, keys);
    set_default(a, CKA_TRUSTED, false);
  }
  if (cls & (kPriv | kSecret)) {
    set_default(a, CKA_SENSITIVE, true);
    set_default(a, CKA_EXTRACTABLE, false);
    set_default(a, CKA_WRAP_WITH_TRUSTED, false);
    a.set_bool(CKA_ALWAYS_SENSITIVE, false);
    a.set_bool(CKA_NEVER_EXTRACTABLE, false);
  }
  if (cls == kCert) {
    set_default(a, CKA_TRUSTED, false);
    if (!a.has(CKA_CERTIFICATE_CATEGORY)) {
      a.set_ulong(CKA_CERTIFICATE_CATEGORY, 0);
    }
  }
  return a;
}

void set_new_unique_id(AttributeMap& attrs) {
  attrs.set(CKA_UNIQUE_ID, as_bytes(to_hex(crypto::random_bytes(16))));
}

void finish_key(AttributeMap& a, Origin origin) {
  CK_OBJECT_CLASS c = object_class(a);
  if (c == CKO_SECRET_KEY) {
    if (auto* v = a.find(CKA_VALUE)) {
      a.set_ulong(CKA_VALUE_LEN, v->size());
    }
  }
  if (c != CKO_PRIVATE_KEY && c != CKO_SECRET_KEY) {
    return;
  }
  bool local = origin == Origin::generated;
  a.set_bool(CKA_ALWAYS_SENSITIVE, local && a.get_bool(CKA_SENSITIVE, true));
  a.set_bool(CKA_NEVER_EXTRACTABLE, local && !a.get_bool(CKA_EXTRACTABLE, false));
}

void check_required(const AttributeMap& a) {
  auto need = [&](CK_ATTRIBUTE_TYPE t) {
    require(a.has(t), CKR_TEMPLATE_INCOMPLETE, "the template lacks a value the key type requires");
  };
  CK_OBJECT_CLASS c = object_class(a);
  CK_KEY_TYPE k = key_type(a);
  if (c == CKO_PUBLIC_KEY && k == CKK_RSA) {
    need(CKA_MODULUS);
    need(CKA_PUBLIC_EXPONENT);
  } else if (c == CKO_PRIVATE_KEY && k == CKK_RSA) {
    need(CKA_MODULUS);
    need(CKA_PRIVATE_EXPONENT);
  } else if (c == CKO_PUBLIC_KEY &&
             (k == CKK_EC || k == CKK_EC_EDWARDS || k == CKK_EC_MONTGOMERY)) {
    need(CKA_EC_PARAMS);
    need(CKA_EC_POINT);
  } else if ((c == CKO_PRIVATE_KEY &&
              (k == CKK_EC || k == CKK_EC_EDWARDS || k == CKK_EC_MONTGOMERY)) ||
             c == CKO_SECRET_KEY) {
    if (c == CKO_PRIVATE_KEY) {
      need(CKA_EC_PARAMS);
    }
    need(CKA_VALUE);
  } else if (k == CKK_DSA || k == CKK_DH) {
    need(CKA_PRIME);
    need(CKA_BASE);
    if (k == CKK_DSA) {
      need(CKA_SUBPRIME);
    }
    if (c != CKO_DOMAIN_PARAMETERS) {
      need(CKA_VALUE);
    }
  } else if (c == CKO_CERTIFICATE && a.get_ulong(CKA_CERTIFICATE_TYPE) == CKC_X_509) {
    need(CKA_SUBJECT);
    need(CKA_VALUE);
  }
}

void check_change(const AttributeMap& object, const AttributeMap& changes, bool copy) {
  if (copy) {
    require(object.get_bool(CKA_COPYABLE, true), CKR_ACTION_PROHIBITED,
            "the object has CKA_COPYABLE false");
  } else {
    require(object.get_bool(CKA_MODIFIABLE, true), CKR_ACTION_PROHIBITED,
            "the object has CKA_MODIFIABLE false");
  }
  CK_OBJECT_CLASS c = object_class(object);
  unsigned cls = class_bit(c);
  unsigned kt = (cls & (kKeys | kDomain)) ? key_type_bit(key_type(object)) : 0;
  for (const auto& [type, value] : changes) {
    const Rule* rule = rule_for(type, cls, kt);
    if (!rule) {
      if (type & CKA_VENDOR_DEFINED || cls == kCert) {
        continue;
      }
      throw CkError(CKR_ATTRIBUTE_TYPE_INVALID, "the object has no such attribute");
    }
    check_value_size(*rule, value);
    // Key material is never compared with what the template gives: "the same value is allowed"
    // would answer guesses of a hidden key one by one.
    require(!(rule->traits & kMaterial), CKR_ATTRIBUTE_READ_ONLY, "key material cannot be changed");
    const SecureBytes* current = object.find(type);
    bool same = current && current->size() == value.size() && crypto::ct_equal(*current, value);
    if (same) {
      continue;  // setting an attribute to its value is always allowed
    }
    if ((rule->traits & (kComputed | kFixed)) || ((rule->traits & kCopyOnly) && !copy)) {
      throw CkError(CKR_ATTRIBUTE_READ_ONLY, "the attribute cannot be changed");
    }
    if (rule->traits & (kToTrue | kToFalse)) {
      bool now = object.get_bool(type, false);
      bool next = value[0] != CK_FALSE;  // a one-byte boolean: check_value_size
      if ((rule->traits & kToTrue) && now && !next) {
        throw CkError(CKR_ATTRIBUTE_READ_ONLY, "the attribute can only change from false to true");
      }
      if ((rule->traits & kToFalse) && !now && next) {
        throw CkError(CKR_ATTRIBUTE_READ_ONLY, "the attribute can only change from true to false");
      }
    }
  }
}

bool is_key_material(const AttributeMap& object, CK_ATTRIBUTE_TYPE type) {
  CK_OBJECT_CLASS c = object_class(object);
  if (c != CKO_PRIVATE_KEY && c != CKO_SECRET_KEY) {
    return false;
  }
  const Rule* rule = rule_for(type, class_bit(c), key_type_bit(key_type(object)));
  return rule && (rule->traits & kMaterial);
}

bool is_hidden(const AttributeMap& object, CK_ATTRIBUTE_TYPE type) {
  return is_key_material(object, type) &&
         (object.get_bool(CKA_SENSITIVE, true) || !object.get_bool(CKA_EXTRACTABLE, false));
}

}  // namespace twinhsm::token
