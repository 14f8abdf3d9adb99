// Key derivation (derivation.h): ECDH with CKD_NULL over crypto::PKey::ecdh.
#include "token/derivation.h"

#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/key_material.h"
#include "token/token.h"
#include "token/wrapping.h"

namespace twinhsm::token {

namespace {

// peer_point returns the uncompressed point of pPublicData: the point itself (0x04 || X || Y) or
// a DER OCTET STRING holding it, told apart by length.
Bytes peer_point(const Bytes& data, size_t field_bytes) {
  size_t point_len = 1 + 2 * field_bytes;
  if (data.size() == point_len) {
    return data;
  }
  size_t header = point_len < 0x80 ? 2 : 3;
  bool der = data.size() == header + point_len && data[0] == 0x04 &&
             (header == 2 ? data[1] == point_len : data[1] == 0x81 && data[2] == point_len);
  require(der, CKR_MECHANISM_PARAM_INVALID,
          "the peer's public data is not an uncompressed point of the key's curve");
  return Bytes(data.begin() + static_cast<long>(header), data.end());
}

// value_len picks the derived key's length from the template, the key type and the secret's size.
size_t value_len(const AttributeMap& tmpl, CK_KEY_TYPE kt, size_t secret_len) {
  size_t len = secret_len;
  if (auto given = tmpl.get_ulong(CKA_VALUE_LEN)) {
    require(*given >= 1 && *given <= secret_len, CKR_TEMPLATE_INCONSISTENT,
            "CKA_VALUE_LEN is longer than the shared secret");
    len = *given;
  } else if (kt == CKK_AES) {
    len = secret_len >= 32 ? 32 : secret_len >= 24 ? 24 : 16;
  }
  if (kt == CKK_AES) {
    require(len == 16 || len == 24 || len == 32, CKR_TEMPLATE_INCONSISTENT,
            "an AES key must be 16, 24 or 32 bytes");
  }
  return len;
}

}  // namespace

AttributeMap derived_attributes(const Mechanism& m, const Object& base_key, const AttributeMap& tmpl) {
  require(m.type == CKM_ECDH1_DERIVE, CKR_MECHANISM_INVALID, "the mechanism cannot derive keys");
  const auto* p = std::get_if<Ecdh1Params>(&m.params);
  require(p != nullptr, CKR_MECHANISM_PARAM_INVALID, "ECDH needs CK_ECDH1_DERIVE_PARAMS");
  require(p->kdf == CKD_NULL, CKR_MECHANISM_PARAM_INVALID, "only the KDF CKD_NULL is supported");
  require(p->shared.empty(), CKR_MECHANISM_PARAM_INVALID, "CKD_NULL takes no shared data");
  const AttributeMap& base = base_key.attrs;
  require(object_class(base) == CKO_PRIVATE_KEY && key_type(base) == CKK_EC,
          CKR_KEY_TYPE_INCONSISTENT, "ECDH needs an EC private key");

  auto cls = tmpl.get_ulong(CKA_CLASS);
  require(!cls || *cls == CKO_SECRET_KEY, CKR_TEMPLATE_INCONSISTENT, "ECDH derives secret keys");
  CK_KEY_TYPE kt = tmpl.get_ulong(CKA_KEY_TYPE).value_or(CKK_GENERIC_SECRET);
  require(is_secret_key_type(kt), CKR_TEMPLATE_INCONSISTENT,
          "CKA_KEY_TYPE is not a secret key type");

  const crypto::PKey& key = object_pkey(base_key);
  Bytes point = peer_point(p->peer, (key.bits() + 7) / 8);
  SecureBytes secret;
  try {
    secret = key.ecdh(point);
  } catch (const CryptoError&) {
    throw CkError(CKR_MECHANISM_PARAM_INVALID,
                  "the peer's public data is not a valid point of the key's curve");
  }
  size_t len = value_len(tmpl, kt, secret.size());

  AttributeMap request = tmpl;
  request.erase(CKA_VALUE_LEN);
  AttributeMap a = complete_template(request, Origin::unwrapped, CKO_SECRET_KEY, kt, m.type);
  // The rightmost bytes, as SoftHSMv2 and kryoptic take them.
  a.set(CKA_VALUE, SecureBytes(secret.end() - static_cast<long>(len), secret.end()));
  finish_key(a, Origin::unwrapped);
  a.set_bool(CKA_ALWAYS_SENSITIVE,
             base.get_bool(CKA_ALWAYS_SENSITIVE, false) && a.get_bool(CKA_SENSITIVE, true));
  a.set_bool(CKA_NEVER_EXTRACTABLE,
             base.get_bool(CKA_NEVER_EXTRACTABLE, false) && !a.get_bool(CKA_EXTRACTABLE, false));
  check_template_fits(request, a);
  return a;
}

}  // namespace twinhsm::token
