// Key derivation (derivation.h): the dispatch to each family, and the new key's attributes.
#include "token/derivation.h"

#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/derivation_parts.h"
#include "token/key_material.h"
#include "token/wrapping.h"

namespace twinhsm::token {

DerivedRequest derived_request(const AttributeMap& tmpl) {
  auto cls = tmpl.get_ulong(CKA_CLASS);
  require(!cls || *cls == CKO_SECRET_KEY, CKR_TEMPLATE_INCONSISTENT,
          "derivation makes secret keys");
  DerivedRequest r;
  r.key_type = tmpl.get_ulong(CKA_KEY_TYPE).value_or(CKK_GENERIC_SECRET);
  require(is_secret_key_type(r.key_type), CKR_TEMPLATE_INCONSISTENT,
          "CKA_KEY_TYPE is not a secret key type");
  if (auto len = tmpl.get_ulong(CKA_VALUE_LEN)) {
    require(*len >= 1 && secret_length_fits(r.key_type, *len), CKR_TEMPLATE_INCONSISTENT,
            "CKA_VALUE_LEN is not a length of the key type");
    r.value_len = *len;
  } else {
    r.value_len = fixed_secret_length(r.key_type);
  }
  return r;
}

size_t length_from(const DerivedRequest& request, size_t available) {
  size_t len = available;
  if (request.value_len) {
    len = *request.value_len;
  } else if (request.key_type == CKK_AES) {
    len = available >= 32 ? 32 : available >= 24 ? 24 : 16;
  }
  require(len >= 1 && len <= available && secret_length_fits(request.key_type, len),
          CKR_TEMPLATE_INCONSISTENT, "the derived value is too short for the key asked for");
  return len;
}

size_t length_needed(const DerivedRequest& request) {
  if (request.value_len) {
    return *request.value_len;
  }
  require(request.key_type == CKK_AES, CKR_TEMPLATE_INCOMPLETE,
          "a key derived with a KDF needs CKA_VALUE_LEN");
  return 32;
}

AttributeMap derived_attributes(const Mechanism& m, const Object& base_key,
                                const AttributeMap& tmpl, const Object* salt_key) {
  DerivedRequest request = derived_request(tmpl);
  SecureBytes value;
  switch (m.type) {
    case CKM_ECDH1_DERIVE:
    case CKM_DH_PKCS_DERIVE:
      value = agreement_value(m, base_key, request);
      break;
    case CKM_HKDF_DERIVE:
    case CKM_HKDF_DATA:
    case CKM_SP800_108_COUNTER_KDF:
    case CKM_SP800_108_FEEDBACK_KDF:
      value = kdf_value(m, base_key, request, salt_key);
      break;
    default:
      require(is_encrypt_data_mechanism(m.type), CKR_MECHANISM_INVALID,
              "the mechanism cannot derive keys");
      value = encrypt_data_value(m, base_key, request);
      break;
  }
  const AttributeMap& base = base_key.attrs;
  AttributeMap req = tmpl;
  req.erase(CKA_VALUE_LEN);
  AttributeMap a =
      complete_template(req, Origin::unwrapped, CKO_SECRET_KEY, request.key_type, m.type);
  a.set(CKA_VALUE, std::move(value));
  finish_key(a, Origin::unwrapped);
  // A key derived from a data object's value was never a key's secret: nothing to carry.
  bool from_key = object_class(base) != CKO_DATA;
  a.set_bool(CKA_ALWAYS_SENSITIVE, from_key && base.get_bool(CKA_ALWAYS_SENSITIVE, false) &&
                                       a.get_bool(CKA_SENSITIVE, true));
  a.set_bool(CKA_NEVER_EXTRACTABLE, from_key && base.get_bool(CKA_NEVER_EXTRACTABLE, false) &&
                                        !a.get_bool(CKA_EXTRACTABLE, false));
  check_template_fits(req, a);
  return a;
}

}  // namespace twinhsm::token
