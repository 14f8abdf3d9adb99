// Making, changing and using keys and objects (key_management.h).
#include "token/key_management.h"

#include "token/algorithm_policy.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/derivation.h"
#include "token/key_material.h"
#include "token/key_policy.h"
#include "token/wrapping.h"

namespace twinhsm::token {

namespace {

// store_object stores a finished object as a token or a session object of the caller.
ObjectPtr store_object(Token& token, const Caller& caller, AttributeMap attrs) {
  bool on_token = attrs.get_bool(CKA_TOKEN, false);
  require(!on_token || caller.read_write, CKR_SESSION_READ_ONLY,
          "token objects need a read-write session");
  require(!attrs.get_bool(CKA_PRIVATE, true) || token.logged_in() == Role::user,
          CKR_USER_NOT_LOGGED_IN, "private objects need the user logged in");
  return token.create(std::move(attrs), on_token, caller.session);
}

struct UseRule {
  CK_ATTRIBUTE_TYPE attribute;
  CK_FLAGS operation;
  CK_RV invalid_handle;
  const char* wrong_mechanism;
  const char* not_permitted;
};

const UseRule& rule_of(Use use) {
  static const UseRule kRules[] = {
      {CKA_ENCRYPT, CKF_ENCRYPT, CKR_KEY_HANDLE_INVALID, "the mechanism cannot encrypt",
       "the key's CKA_ENCRYPT is false"},
      {CKA_DECRYPT, CKF_DECRYPT, CKR_KEY_HANDLE_INVALID, "the mechanism cannot decrypt",
       "the key's CKA_DECRYPT is false"},
      {CKA_SIGN, CKF_SIGN, CKR_KEY_HANDLE_INVALID, "the mechanism cannot sign",
       "the key's CKA_SIGN is false"},
      {CKA_VERIFY, CKF_VERIFY, CKR_KEY_HANDLE_INVALID, "the mechanism cannot verify",
       "the key's CKA_VERIFY is false"},
      {CKA_WRAP, CKF_WRAP, CKR_WRAPPING_KEY_HANDLE_INVALID, "the mechanism cannot wrap keys",
       "the wrapping key's CKA_WRAP is false"},
      {CKA_UNWRAP, CKF_UNWRAP, CKR_UNWRAPPING_KEY_HANDLE_INVALID,
       "the mechanism cannot unwrap keys", "the unwrapping key's CKA_UNWRAP is false"},
      {CKA_DERIVE, CKF_DERIVE, CKR_KEY_HANDLE_INVALID, "the mechanism cannot derive keys",
       "the base key's CKA_DERIVE is false"},
  };
  return kRules[static_cast<int>(use)];
}

// lookup_key is the key object of handle; a handle of no object, or of an object that is no key,
// is invalid_rv.
ObjectPtr lookup_key(Token& token, CK_OBJECT_HANDLE handle, CK_RV invalid_rv) {
  ObjectPtr key;
  try {
    key = token.key(handle);
  } catch (const CkError& e) {
    if (e.rv() == CKR_OBJECT_HANDLE_INVALID) {
      throw CkError(invalid_rv, "no such key");
    }
    throw;
  }
  CK_OBJECT_CLASS c = object_class(key->attrs);
  require(c == CKO_SECRET_KEY || c == CKO_PRIVATE_KEY || c == CKO_PUBLIC_KEY, invalid_rv,
          "the object is not a key");
  return key;
}

// private_halves are the private keys of the token that hold the other half of a public key:
// found by CKA_PUBLIC_KEY_INFO, in each form it may take (an RSA half allowed only PSS has the
// RSASSA-PSS one, the other half may not), and kept when their components give that value. The
// forms come from the keys' components on both sides, never from a stored CKA_PUBLIC_KEY_INFO: a
// value forged before it was computed-only (changed_key) vouches for nothing.
std::vector<AttributeMap> private_halves(Token& token, const AttributeMap& public_key) {
  std::vector<AttributeMap> out;
  for (const Bytes& spki : public_key_info_forms(public_key)) {
    AttributeMap query;
    query.set_ulong(CKA_CLASS, CKO_PRIVATE_KEY);
    query.set(CKA_PUBLIC_KEY_INFO, ByteView(spki));
    for (CK_OBJECT_HANDLE h : token.find(query)) {
      const AttributeMap& half = token.object(h)->attrs;
      if (holds_public_key(half, spki)) {
        out.push_back(half);
      }
    }
  }
  return out;
}

// changed_key is changed_object with CKA_PUBLIC_KEY_INFO following a new CKA_ALLOWED_MECHANISMS
// (an RSA key allowed only PSS, or no longer, changes its SubjectPublicKeyInfo: key_material.h).
// A key's CKA_PUBLIC_KEY_INFO is computed from the key, never taken from the caller: a change to
// any other value fails with CKR_ATTRIBUTE_VALUE_INVALID (PKCS#11 3.0: if set, it must be
// consistent with the key), its own value again changes nothing. Another key's value would make
// the key claim that key (the key policy looks up a public key's private half by it).
AttributeMap changed_key(Token& token, const AttributeMap& object, const AttributeMap& changes,
                         bool copy) {
  AttributeMap attrs = changed_object(object, changes, copy, token.logged_in(), token.key_policy());
  CK_OBJECT_CLASS c = object_class(object);
  if (c != CKO_PUBLIC_KEY && c != CKO_PRIVATE_KEY) {
    return attrs;
  }
  if (const SecureBytes* own = object.find(CKA_PUBLIC_KEY_INFO)) {
    attrs.set(CKA_PUBLIC_KEY_INFO, *own);
  } else {
    attrs.erase(CKA_PUBLIC_KEY_INFO);
  }
  if (changes.has(CKA_ALLOWED_MECHANISMS)) {
    refresh_public_key_info(attrs);
  }
  if (const SecureBytes* asked = changes.find(CKA_PUBLIC_KEY_INFO)) {
    const SecureBytes* now = attrs.find(CKA_PUBLIC_KEY_INFO);
    require(now && *now == *asked, CKR_ATTRIBUTE_VALUE_INVALID,
            "CKA_PUBLIC_KEY_INFO is computed from the key: it cannot be set to another value");
  }
  return attrs;
}

}  // namespace

ObjectPtr create_object(Token& token, const Caller& caller, const AttributeMap& tmpl) {
  AttributeMap attrs = complete_template(tmpl, Origin::created);
  check_required(attrs);
  validate_key_object(attrs);
  finish_key(attrs, Origin::created);
  check_new_key_kind(token, attrs, CKR_ATTRIBUTE_VALUE_INVALID);
  check_new_key(attrs, token.logged_in(), token.key_policy());
  return store_object(token, caller, std::move(attrs));
}

ObjectPtr copy_object(Token& token, const Caller& caller, CK_OBJECT_HANDLE handle,
                      const AttributeMap& changes) {
  ObjectPtr source = token.object(handle);
  AttributeMap attrs = changed_key(token, source->attrs, changes, true);
  set_new_unique_id(attrs);
  return store_object(token, caller, std::move(attrs));
}

void set_attributes(Token& token, const Caller& caller, CK_OBJECT_HANDLE handle,
                    const AttributeMap& changes) {
  ObjectPtr obj = token.object(handle);
  require(!obj->is_token() || caller.read_write, CKR_SESSION_READ_ONLY,
          "token objects need a read-write session");
  token.replace(*obj, changed_key(token, obj->attrs, changes, false));
}

void destroy_object(Token& token, const Caller& caller, CK_OBJECT_HANDLE handle) {
  ObjectPtr obj = token.object(handle);
  require(!obj->is_token() || caller.read_write, CKR_SESSION_READ_ONLY,
          "token objects need a read-write session");
  require(obj->attrs.get_bool(CKA_DESTROYABLE, true), CKR_ACTION_PROHIBITED,
          "the object has CKA_DESTROYABLE false");
  token.destroy(*obj);
}

ObjectPtr generate_key(Token& token, const Caller& caller, const Mechanism& mechanism,
                       const AttributeMap& tmpl) {
  require(mechanism_info(mechanism.type)->flags & CKF_GENERATE, CKR_MECHANISM_INVALID,
          "the mechanism does not generate keys");
  check_use(token, mechanism.type, CKF_GENERATE, nullptr);
  AttributeMap attrs = generated_key_attributes(mechanism, tmpl);
  check_new_key(attrs, token.logged_in(), token.key_policy());
  return store_object(token, caller, std::move(attrs));
}

std::pair<ObjectPtr, ObjectPtr> generate_key_pair(Token& token, const Caller& caller,
                                                  const Mechanism& mechanism,
                                                  const AttributeMap& public_tmpl,
                                                  const AttributeMap& private_tmpl) {
  require(mechanism_info(mechanism.type)->flags & CKF_GENERATE_KEY_PAIR, CKR_MECHANISM_INVALID,
          "the mechanism cannot generate key pairs");
  check_use(token, mechanism.type, CKF_GENERATE_KEY_PAIR, nullptr);
  auto [pub, priv] =
      generated_pair_attributes(mechanism, public_tmpl, private_tmpl, algorithm_policy(token));
  check_new_key_pair(pub, priv, token.logged_in(), token.key_policy());
  ObjectPtr pub_obj = store_object(token, caller, std::move(pub));
  try {
    return {pub_obj, store_object(token, caller, std::move(priv))};
  } catch (...) {
    token.destroy(*pub_obj);  // no half pair left behind
    throw;
  }
}

Bytes wrap_key(Token& token, const Mechanism& mechanism, CK_OBJECT_HANDLE wrapping_key,
               CK_OBJECT_HANDLE key) {
  ObjectPtr wrapper = key_for(token, Use::wrap, wrapping_key, mechanism);
  ObjectPtr target = find_key(token, key);
  check_wrappable(target->attrs);
  WrappingKey w{wrapper->attrs, mechanism.type};
  w.raw_rsa_unlisted = algorithm_policy(token) == AlgorithmPolicy::legacy;
  if (object_class(wrapper->attrs) == CKO_PUBLIC_KEY &&
      target->attrs.get_bool(CKA_SENSITIVE, true)) {
    w.halves_known = token.logged_in() == Role::user;
    w.private_halves = private_halves(token, wrapper->attrs);
  }
  check_wrap(w, target->attrs);
  return wrapped_form(mechanism, *wrapper, *target);
}

ObjectPtr unwrap_key(Token& token, const Caller& caller, const Mechanism& mechanism,
                     CK_OBJECT_HANDLE unwrapping_key, ByteView wrapped, const AttributeMap& tmpl) {
  ObjectPtr unwrapper = key_for(token, Use::unwrap, unwrapping_key, mechanism);
  check_unwrap(unwrapper->attrs, mechanism.type);
  AttributeMap request = unwrap_template(unwrapper->attrs, tmpl);
  AttributeMap attrs = unwrapped_attributes(mechanism, *unwrapper, wrapped, request);
  check_new_key_kind(
      token, attrs,
      object_class(attrs) == CKO_PRIVATE_KEY ? CKR_WRAPPED_KEY_INVALID : CKR_TEMPLATE_INCONSISTENT);
  check_new_key(attrs, token.logged_in(), token.key_policy());
  return store_object(token, caller, std::move(attrs));
}

ObjectPtr derive_key(Token& token, const Caller& caller, const Mechanism& mechanism,
                     CK_OBJECT_HANDLE base_key, const AttributeMap& tmpl) {
  ObjectPtr base;
  if (mechanism.type == CKM_HKDF_DATA) {
    // The input is a data object's value (PKCS#11 3.0 2.43.4): no key, no CKA_DERIVE.
    try {
      base = token.object(base_key);
    } catch (const CkError& e) {
      throw CkError(e.rv() == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : e.rv(),
                    e.what());
    }
    require(object_class(base->attrs) == CKO_DATA, CKR_KEY_TYPE_INCONSISTENT,
            "CKM_HKDF_DATA derives from a data object");
  } else {
    base = key_for(token, Use::derive, base_key, mechanism);
  }
  check_derivation_base(base->attrs, mechanism.type);
  // The SP 800-108 KDFs' PRF is a MAC the device computes: a legacy one (Triple DES CMAC) only
  // where the device's policy lets it make MACs with it.
  if (const auto* p = std::get_if<Sp800Params>(&mechanism.params)) {
    try {
      check_use(token, p->prf, CKF_SIGN, nullptr);
    } catch (const CkError& e) {
      throw CkError(CKR_MECHANISM_PARAM_INVALID,
                    "the KDF's PRF is not offered by this device: " + std::string(e.what()));
    }
  }
  // CKM_HKDF_DERIVE's salt may be another key: a secret key that may derive.
  ObjectPtr salt;
  if (const auto* p = std::get_if<HkdfParams>(&mechanism.params);
      p && p->extract && p->salt_type == CKF_HKDF_SALT_KEY) {
    salt = key_for(token, Use::derive, p->salt_key, mechanism);
  }
  AttributeMap request = derive_template(base->attrs, tmpl);
  if (salt) {
    request = derive_template(salt->attrs, request);
  }
  AttributeMap attrs = derived_attributes(mechanism, *base, request, salt.get());
  check_new_key_kind(token, attrs, CKR_TEMPLATE_INCONSISTENT);
  check_new_key(attrs, token.logged_in(), token.key_policy());
  return store_object(token, caller, std::move(attrs));
}

namespace {

// check_key_use is key_for's checks of a key already found.
void check_key_use(Token& token, const UseRule& rule, const AttributeMap& key,
                   const Mechanism& mechanism) {
  require(key.get_bool(rule.attribute, false), CKR_KEY_FUNCTION_NOT_PERMITTED, rule.not_permitted);
  check_allowed(key, mechanism.type);
  check_use(token, mechanism.type, rule.operation, &key);
}

}  // namespace

ObjectPtr key_for(Token& token, Use use, CK_OBJECT_HANDLE handle, const Mechanism& mechanism) {
  const UseRule& rule = rule_of(use);
  const MechanismInfo* info = mechanism_info(mechanism.type);
  require(info && (info->flags & rule.operation), CKR_MECHANISM_INVALID, rule.wrong_mechanism);
  ObjectPtr key = lookup_key(token, handle, rule.invalid_handle);
  check_key_use(token, rule, key->attrs, mechanism);
  return key;
}

bool may_use(Token& token, Use use, const AttributeMap& key, const Mechanism& mechanism) {
  const UseRule& rule = rule_of(use);
  const MechanismInfo* info = mechanism_info(mechanism.type);
  if (!info || !(info->flags & rule.operation)) {
    return false;
  }
  try {
    check_key_use(token, rule, key, mechanism);
  } catch (const CkError&) {
    return false;
  }
  return true;
}

ObjectPtr find_key(Token& token, CK_OBJECT_HANDLE handle) {
  return lookup_key(token, handle, CKR_KEY_HANDLE_INVALID);
}

}  // namespace twinhsm::token
