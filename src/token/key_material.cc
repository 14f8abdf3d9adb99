#include "token/key_material.h"

#include <algorithm>
#include <cstring>

#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/mechanisms.h"
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
  CK_KEY_TYPE k = key_type(a);
  auto family = crypto::curve_family(*curve);
  require(family == (k == CKK_EC           ? crypto::CurveFamily::weierstrass
                     : k == CKK_EC_EDWARDS ? crypto::CurveFamily::edwards
                                           : crypto::CurveFamily::montgomery),
          CKR_ATTRIBUTE_VALUE_INVALID, "CKA_EC_PARAMS names a curve of another key type");
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

// ec_public_of is the public key of CKA_EC_POINT: a DER OCTET STRING (PKCS#11), or the raw
// point some clients give. A raw point can read as an OCTET STRING too (an uncompressed P-256
// point whose X begins with 0x3f is 04 3f and 63 bytes, as an OCTET STRING of 63 bytes would be;
// one in 256 keys): the OCTET STRING's content is tried first, the value as it is when that is
// no point of the curve. Never both: the content is two bytes shorter than a valid encoding.
crypto::PKey ec_public_of(crypto::Curve curve, const Bytes& value) {
  Bytes inner = unwrap_octet_string(value);
  if (inner.size() != value.size()) {
    try {
      return crypto::PKey::ec_public(curve, inner);
    } catch (const CryptoError&) {  // a raw point that reads as an OCTET STRING: below
    }
  }
  return crypto::PKey::ec_public(curve, value);
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

// rsa_public_half is the public key of an RSA key object, from CKA_MODULUS and
// CKA_PUBLIC_EXPONENT.
crypto::PKey rsa_public_half(const AttributeMap& a) {
  try {
    return crypto::PKey::rsa_public(
        crypto::RsaPublic{a.get_bytes(CKA_MODULUS), a.get_bytes(CKA_PUBLIC_EXPONENT)});
  } catch (const CryptoError& e) {
    throw CkError(CKR_ATTRIBUTE_VALUE_INVALID,
                  std::string("the key's components do not form a valid key: ") + e.what());
  }
}

bool is_rsa_key_object(const AttributeMap& a) {
  CK_OBJECT_CLASS c = object_class(a);
  return (c == CKO_PUBLIC_KEY || c == CKO_PRIVATE_KEY) && key_type(a) == CKK_RSA;
}

}  // namespace

bool allowed_only_rsa_pss(const AttributeMap& a) {
  const SecureBytes* v = a.find(CKA_ALLOWED_MECHANISMS);
  if (!v || v->empty() || v->size() % sizeof(CK_MECHANISM_TYPE) != 0) {
    return false;
  }
  for (size_t i = 0; i < v->size(); i += sizeof(CK_MECHANISM_TYPE)) {
    CK_MECHANISM_TYPE m;
    std::memcpy(&m, v->data() + i, sizeof m);
    if (!is_rsa_pss_mechanism(m)) {
      return false;
    }
  }
  return true;
}

Bytes public_key_info(const AttributeMap& a, const crypto::PKey& key) {
  if (key.type() == crypto::PKey::Type::rsa && allowed_only_rsa_pss(a)) {
    return key.rsa_pss_public_der();
  }
  return key.public_der();
}

void refresh_public_key_info(AttributeMap& a) {
  if (is_rsa_key_object(a)) {
    a.set(CKA_PUBLIC_KEY_INFO, ByteView(public_key_info(a, rsa_public_half(a))));
  }
}

std::vector<Bytes> public_key_info_forms(const AttributeMap& key) {
  if (is_rsa_key_object(key)) {
    crypto::PKey pub = rsa_public_half(key);
    return {pub.public_der(), pub.rsa_pss_public_der()};
  }
  return {to_pkey(key).public_der()};
}

bool holds_public_key(const AttributeMap& key, ByteView spki) {
  std::vector<Bytes> forms;
  try {
    forms = public_key_info_forms(key);
  } catch (const CkError&) {
    return false;  // components that form no key hold none
  } catch (const CryptoError&) {
    return false;
  }
  return std::any_of(forms.begin(), forms.end(), [&](const Bytes& form) {
    return form.size() == spki.size() && std::equal(form.begin(), form.end(), spki.begin());
  });
}

// bit_length counts the bits of a big-endian value (leading zero bytes ignored).
CK_ULONG bit_length(std::span<const uint8_t> v) {
  size_t i = 0;
  while (i < v.size() && v[i] == 0) {
    ++i;
  }
  if (i == v.size()) {
    return 0;
  }
  CK_ULONG bits = (v.size() - i) * 8;
  for (uint8_t top = v[i]; !(top & 0x80); top = static_cast<uint8_t>(top << 1)) {
    --bits;
  }
  return bits;
}

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
    if (k == CKK_EC || k == CKK_EC_EDWARDS || k == CKK_EC_MONTGOMERY) {
      crypto::Curve curve = curve_of(a);
      if (c == CKO_PUBLIC_KEY) {
        return ec_public_of(curve, a.get_bytes(CKA_EC_POINT));
      }
      return crypto::PKey::ec_private(curve, material(a, CKA_VALUE));
    }
    if (k == CKK_DSA || k == CKK_DH) {
      auto type = k == CKK_DSA ? crypto::PKey::Type::dsa : crypto::PKey::Type::dh;
      crypto::FfcParams params{a.get_bytes(CKA_PRIME), a.get_bytes(CKA_SUBPRIME),
                               a.get_bytes(CKA_BASE)};
      if (c == CKO_PUBLIC_KEY) {
        return crypto::PKey::ffc_public(type, params, a.get_bytes(CKA_VALUE));
      }
      return crypto::PKey::ffc_private(type, params, material(a, CKA_VALUE));
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

void set_domain_attributes(AttributeMap& a, const crypto::FfcParams& params) {
  a.set(CKA_PRIME, ByteView(params.p));
  a.set(CKA_BASE, ByteView(params.g));
  if (!params.q.empty()) {
    a.set(CKA_SUBPRIME, ByteView(params.q));
  }
  if (object_class(a) == CKO_DOMAIN_PARAMETERS) {
    a.set_ulong(CKA_PRIME_BITS, bit_length(params.p));
    if (!params.q.empty()) {
      a.set_ulong(CKA_SUB_PRIME_BITS, bit_length(params.q));
    }
  }
}

void set_public_attributes(AttributeMap& a, const crypto::PKey& key) {
  bool is_public = object_class(a) == CKO_PUBLIC_KEY;
  switch (key.type()) {
    case crypto::PKey::Type::rsa: {
      auto pub = key.rsa_public_components();
      a.set(CKA_MODULUS, ByteView(pub.modulus));
      a.set(CKA_PUBLIC_EXPONENT, ByteView(pub.public_exponent));
      if (is_public) {
        a.set_ulong(CKA_MODULUS_BITS, key.bits());
      }
      break;
    }
    case crypto::PKey::Type::ec:
    case crypto::PKey::Type::eddsa:
    case crypto::PKey::Type::xdh:
      a.set(CKA_EC_PARAMS, ByteView(crypto::curve_params(*key.curve())));
      if (is_public) {
        a.set(CKA_EC_POINT, ByteView(octet_string(key.ec_point())));
      }
      break;
    case crypto::PKey::Type::dsa:
    case crypto::PKey::Type::dh:
      set_domain_attributes(a, key.ffc_params());
      if (is_public) {
        a.set(CKA_VALUE, ByteView(key.ffc_public_value()));
      }
      break;
  }
  a.set(CKA_PUBLIC_KEY_INFO, ByteView(public_key_info(a, key)));
}

void set_private_attributes(AttributeMap& a, const crypto::PKey& key) {
  set_public_attributes(a, key);
  switch (key.type()) {
    case crypto::PKey::Type::rsa: {
      auto priv = key.rsa_private_components();
      a.set(CKA_PRIVATE_EXPONENT, std::move(priv.private_exponent));
      a.set(CKA_PRIME_1, std::move(priv.prime1));
      a.set(CKA_PRIME_2, std::move(priv.prime2));
      a.set(CKA_EXPONENT_1, std::move(priv.exponent1));
      a.set(CKA_EXPONENT_2, std::move(priv.exponent2));
      a.set(CKA_COEFFICIENT, std::move(priv.coefficient));
      break;
    }
    case crypto::PKey::Type::dsa:
    case crypto::PKey::Type::dh: {
      SecureBytes x = key.ffc_private_value();
      if (key.type() == crypto::PKey::Type::dh) {
        a.set_ulong(CKA_VALUE_BITS, bit_length(x));
      }
      a.set(CKA_VALUE, std::move(x));
      break;
    }
    default:
      a.set(CKA_VALUE, key.ec_private_value());
      break;
  }
}

bool secret_length_fits(CK_KEY_TYPE type, size_t n) {
  switch (type) {
    case CKK_AES:
      return n == 16 || n == 24 || n == 32;
    case CKK_AES_XTS:
      return n == 32 || n == 64;
    case CKK_DES:
      return n == 8;
    case CKK_DES2:
      return n == 16;
    case CKK_DES3:
      return n == 24;
    case CKK_CHACHA20:
      return n == 32;
    default:
      return n > 0;
  }
}

std::optional<size_t> fixed_secret_length(CK_KEY_TYPE type) {
  switch (type) {
    case CKK_DES:
      return 8;
    case CKK_DES2:
      return 16;
    case CKK_DES3:
      return 24;
    case CKK_CHACHA20:
      return 32;
    default:
      return std::nullopt;
  }
}

void validate_key_object(AttributeMap& a) {
  CK_OBJECT_CLASS c = object_class(a);
  if (c == CKO_SECRET_KEY) {
    const SecureBytes* v = a.find(CKA_VALUE);
    require(secret_length_fits(key_type(a), v ? v->size() : 0), CKR_ATTRIBUTE_VALUE_INVALID,
            "the value's length does not fit the key type");
    return;
  }
  if (c == CKO_DOMAIN_PARAMETERS) {
    set_domain_attributes(a, crypto::FfcParams{a.get_bytes(CKA_PRIME), a.get_bytes(CKA_SUBPRIME),
                                               a.get_bytes(CKA_BASE)});
    return;
  }
  if (c != CKO_PUBLIC_KEY && c != CKO_PRIVATE_KEY) {
    return;
  }
  crypto::PKey key = to_pkey(a);
  if (c == CKO_PUBLIC_KEY && key.type() == crypto::PKey::Type::rsa) {
    a.set_ulong(CKA_MODULUS_BITS, key.bits());
  }
  if (c == CKO_PRIVATE_KEY && key.type() == crypto::PKey::Type::dh && !a.has(CKA_VALUE_BITS)) {
    a.set_ulong(CKA_VALUE_BITS, bit_length(key.ffc_private_value()));
  }
  a.set(CKA_PUBLIC_KEY_INFO, ByteView(public_key_info(a, key)));
}

}  // namespace twinhsm::token
