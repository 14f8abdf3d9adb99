#include "token/key_material.h"

#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/token.h"

namespace twinhsm::token {

namespace {

crypto::SecureBytes material(const AttributeMap& a, CK_ATTRIBUTE_TYPE type) {
  const SecureBytes* v = a.find(type);
  return v ? *v : SecureBytes();
}

crypto::Curve curve_of(const AttributeMap& a) {
  auto curve = crypto::curve_from_params(a.get_bytes(CKA_EC_PARAMS));
  require(curve.has_value(), CKR_CURVE_NOT_SUPPORTED,
          "CKA_EC_PARAMS names a curve twinhsm does not support");
  return *curve;
}

// CKA_EC_POINT holds the point as a DER OCTET STRING (PKCS#11 3.0 2.3.3); accept the raw point
// too, as some applications write it.
Bytes unwrap_octet_string(const Bytes& v) {
  if (v.size() >= 2 && v[0] == 0x04) {
    size_t len = v[1], header = 2;
    if (len == 0x81 && v.size() >= 3) {
      len = v[2];
      header = 3;
    } else if (len == 0x82 && v.size() >= 4) {
      len = size_t{v[2]} << 8 | v[3];
      header = 4;
    }
    if (header + len == v.size() && len > 0 && len < 0x80 + 0x100 * 0x100) {
      return Bytes(v.begin() + static_cast<long>(header), v.end());
    }
  }
  return v;
}

Bytes octet_string(const Bytes& point) {
  Bytes out{0x04};
  if (point.size() < 0x80) {
    out.push_back(static_cast<uint8_t>(point.size()));
  } else {
    out.push_back(0x81);
    out.push_back(static_cast<uint8_t>(point.size()));
  }
  append(out, point);
  return out;
}

}  // namespace

crypto::PKey to_pkey(const AttributeMap& a) {
  CK_OBJECT_CLASS c = object_class(a);
  CK_KEY_TYPE k = key_type(a);
  require(c == CKO_PUBLIC_KEY || c == CKO_PRIVATE_KEY, CKR_KEY_TYPE_INCONSISTENT,
          "the key is not an asymmetric key");
  try {
    if (k == CKK_RSA) {
      crypto::RsaPublic pub{a.get_bytes(CKA_MODULUS), a.get_bytes(CKA_PUBLIC_EXPONENT)};
      if (c == CKO_PUBLIC_KEY) {
        return crypto::PKey::rsa_public(pub);
      }
      crypto::RsaPrivate priv{pub,
                              material(a, CKA_PRIVATE_EXPONENT),
                              material(a, CKA_PRIME_1),
                              material(a, CKA_PRIME_2),
                              material(a, CKA_EXPONENT_1),
                              material(a, CKA_EXPONENT_2),
                              material(a, CKA_COEFFICIENT)};
      return crypto::PKey::rsa_private(priv);
    }
    if (k == CKK_EC || k == CKK_EC_EDWARDS) {
      crypto::Curve curve = curve_of(a);
      if (c == CKO_PUBLIC_KEY) {
        return crypto::PKey::ec_public(curve, unwrap_octet_string(a.get_bytes(CKA_EC_POINT)));
      }
      return crypto::PKey::ec_private(curve, material(a, CKA_VALUE));
    }
  } catch (const CryptoError& e) {
    throw CkError(CKR_ATTRIBUTE_VALUE_INVALID,
                  std::string("the key's components do not form a valid key: ") + e.what());
  }
  throw CkError(CKR_KEY_TYPE_INCONSISTENT, "the key type is not supported");
}

const crypto::PKey& object_pkey(const Object& object) {
  std::call_once(object.key_once, [&] { object.key.emplace(to_pkey(object.attrs)); });
  return *object.key;
}

void set_public_attributes(AttributeMap& a, const crypto::PKey& key) {
  switch (key.type()) {
    case crypto::PKey::Type::rsa: {
      auto pub = key.rsa_public_components();
      a.set(CKA_MODULUS, ByteView(pub.modulus));
      a.set(CKA_PUBLIC_EXPONENT, ByteView(pub.public_exponent));
      if (object_class(a) == CKO_PUBLIC_KEY) {
        a.set_ulong(CKA_MODULUS_BITS, key.bits());
      }
      break;
    }
    case crypto::PKey::Type::ec:
    case crypto::PKey::Type::ed25519:
      a.set(CKA_EC_PARAMS, ByteView(crypto::curve_params(*key.curve())));
      if (object_class(a) == CKO_PUBLIC_KEY) {
        a.set(CKA_EC_POINT, ByteView(octet_string(key.ec_point())));
      }
      break;
  }
  a.set(CKA_PUBLIC_KEY_INFO, ByteView(key.public_der()));
}

void set_private_attributes(AttributeMap& a, const crypto::PKey& key) {
  set_public_attributes(a, key);
  if (key.type() == crypto::PKey::Type::rsa) {
    auto priv = key.rsa_private_components();
    a.set(CKA_PRIVATE_EXPONENT, std::move(priv.private_exponent));
    a.set(CKA_PRIME_1, std::move(priv.prime1));
    a.set(CKA_PRIME_2, std::move(priv.prime2));
    a.set(CKA_EXPONENT_1, std::move(priv.exponent1));
    a.set(CKA_EXPONENT_2, std::move(priv.exponent2));
    a.set(CKA_COEFFICIENT, std::move(priv.coefficient));
  } else {
    a.set(CKA_VALUE, key.ec_private_value());
  }
}

void validate_key_object(AttributeMap& a) {
  CK_OBJECT_CLASS c = object_class(a);
  if (c == CKO_SECRET_KEY) {
    const SecureBytes* v = a.find(CKA_VALUE);
    if (key_type(a) == CKK_AES) {
      require(v && (v->size() == 16 || v->size() == 24 || v->size() == 32),
              CKR_ATTRIBUTE_VALUE_INVALID, "an AES key must be 16, 24 or 32 bytes");
    }
    return;
  }
  if (c != CKO_PUBLIC_KEY && c != CKO_PRIVATE_KEY) {
    return;
  }
  crypto::PKey key = to_pkey(a);
  if (c == CKO_PUBLIC_KEY && key.type() == crypto::PKey::Type::rsa) {
    a.set_ulong(CKA_MODULUS_BITS, key.bits());
  }
  a.set(CKA_PUBLIC_KEY_INFO, ByteView(key.public_der()));
}

}  // namespace twinhsm::token
