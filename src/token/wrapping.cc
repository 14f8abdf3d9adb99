// Key wrapping and unwrapping (wrapping.h): the mechanism-specific formats over crypto's AES-KW,
// AES-KWP, AES-CBC with padding and RSA-OAEP, and the attributes of unwrapped keys.
#include "token/wrapping.h"

#include <algorithm>

#include "crypto/cipher.h"
#include "crypto/keywrap.h"
#include "crypto/rsa_encryption.h"
#include "token/attribute_policy.h"
#include "token/attribute_rules.h"
#include "token/ck_error.h"
#include "token/key_material.h"
#include "token/token.h"

namespace twinhsm::token {

namespace {

// The default initial values of RFC 3394 and RFC 5649: the only ones twinhsm supports.
const Bytes kKwIv = {0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6};
const Bytes kKwpIv = {0xa6, 0x59, 0x59, 0xa6};
constexpr size_t kSemiblock = 8;

bool is_kwp(CK_MECHANISM_TYPE type) {
  return type == CKM_AES_KEY_WRAP_PAD || type == CKM_AES_KEY_WRAP_KWP;
}

// check_kw_iv: the AES key wraps take an optional initial value; only the default is supported.
void check_kw_iv(const Mechanism& m) {
  if (const auto* p = std::get_if<IvParams>(&m.params)) {
    require(p->iv == (is_kwp(m.type) ? kKwpIv : kKwIv), CKR_MECHANISM_PARAM_INVALID,
            "only the default initial value of AES key wrap is supported");
  }
}

const Bytes& cbc_iv(const Mechanism& m) {
  const auto* p = std::get_if<IvParams>(&m.params);
  require(p != nullptr && p->iv.size() == crypto::kAesBlock, CKR_MECHANISM_PARAM_INVALID,
          "AES-CBC-PAD needs a 16-byte IV as its parameter");
  return p->iv;
}

// aes_kek returns the value of an AES wrapping or unwrapping key.
const SecureBytes& aes_kek(const AttributeMap& key, CK_RV type_rv, CK_RV size_rv) {
  return secret_key_value(key, CKK_AES, {16, 24, 32}, type_rv, size_rv);
}

SecureBytes cbc_pad(const SecureBytes& key, const Bytes& iv, bool encrypt, ByteView in) {
  crypto::SymmetricCipher cipher(crypto::CipherMode::cbc, key, iv, encrypt, true);
  SecureBytes out = cipher.update(in);
  SecureBytes last = cipher.finish();
  out.insert(out.end(), last.begin(), last.end());
  return out;
}

// ---- The forms of the key before KW: zero padding (PKCS#11 3.0 2.14.3) and PKCS#7 ----

// kw_input is the key's bytes as CKM_AES_KEY_WRAP takes them: zero-padded to a multiple of 8 bytes,
// at least 16 (RFC 3394 wraps two semiblocks or more). CKM_AES_KEY_WRAP_PKCS7: PKCS#7 padding to
// a multiple of 8 (1 to 8 bytes, each the count), then as long as KW needs.
SecureBytes kw_input(CK_MECHANISM_TYPE type, SecureBytes data) {
  if (type == CKM_AES_KEY_WRAP_PKCS7) {
    size_t pad = kSemiblock - data.size() % kSemiblock;
    data.insert(data.end(), pad, static_cast<uint8_t>(pad));
    require(data.size() >= 2 * kSemiblock, CKR_KEY_SIZE_RANGE,
            "AES key wrap with PKCS#7 padding takes keys of 8 bytes or more");
    return data;
  }
  size_t padded = std::max<size_t>(2 * kSemiblock, (data.size() + 7) / 8 * 8);
  data.resize(padded, 0);
  return data;
}

// strip_pkcs7 removes CKM_AES_KEY_WRAP_PKCS7's padding; malformed: CKR_WRAPPED_KEY_INVALID.
SecureBytes strip_pkcs7(SecureBytes data) {
  uint8_t pad = data.empty() ? 0 : data.back();
  bool ok = pad >= 1 && pad <= kSemiblock && pad <= data.size();
  for (size_t i = 0; ok && i < pad; ++i) {
    ok = data[data.size() - 1 - i] == pad;
  }
  require(ok, CKR_WRAPPED_KEY_INVALID, "the unwrapped key's PKCS#7 padding is malformed");
  data.resize(data.size() - pad);
  return data;
}

// zero_padding_fits: the bytes of data from `length` on are zeros and fewer than a semiblock, or
// make up KW's minimum of 16 bytes.
bool zero_padding_fits(const SecureBytes& data, size_t length) {
  if (length > data.size() || (data.size() - length >= kSemiblock && data.size() > 16)) {
    return false;
  }
  return std::all_of(data.begin() + static_cast<long>(length), data.end(),
                     [](uint8_t b) { return b == 0; });
}

// der_length is the length of the DER element data starts with (a PKCS#8 SEQUENCE), or 0.
size_t der_length(const SecureBytes& data) {
  if (data.size() < 2 || data[0] != 0x30) {
    return 0;
  }
  size_t len = data[1];
  size_t header = 2;
  if (len & 0x80) {
    size_t n = len & 0x7f;
    if (n == 0 || n > 4 || data.size() < 2 + n) {
      return 0;
    }
    len = 0;
    for (size_t i = 0; i < n; ++i) {
      len = len << 8 | data[2 + i];
    }
    header += n;
  }
  return header + len;
}

// ---- Unwrapping: the wrapped bytes back to a key's value ----

SecureBytes unwrap_bytes(const Mechanism& m, const Object& unwrapping_key, ByteView wrapped) {
  const AttributeMap& u = unwrapping_key.attrs;
  constexpr CK_RV kType = CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
  constexpr CK_RV kSize = CKR_UNWRAPPING_KEY_SIZE_RANGE;
  try {
    switch (m.type) {
      case CKM_AES_KEY_WRAP:
      case CKM_AES_KEY_WRAP_PKCS7: {
        check_kw_iv(m);
        const SecureBytes& kek = aes_kek(u, kType, kSize);
        require(wrapped.size() >= 24 && wrapped.size() % 8 == 0, CKR_WRAPPED_KEY_LEN_RANGE,
                "AES key wrap output is a multiple of 8 bytes, at least 24");
        SecureBytes data = crypto::aes_key_unwrap(kek, wrapped);
        return m.type == CKM_AES_KEY_WRAP_PKCS7 ? strip_pkcs7(std::move(data)) : data;
      }
      case CKM_AES_KEY_WRAP_PAD:
      case CKM_AES_KEY_WRAP_KWP: {
        check_kw_iv(m);
        const SecureBytes& kek = aes_kek(u, kType, kSize);
        require(wrapped.size() >= 16 && wrapped.size() % 8 == 0, CKR_WRAPPED_KEY_LEN_RANGE,
                "AES key wrap with padding output is a multiple of 8 bytes, at least 16");
        return crypto::aes_key_unwrap_pad(kek, wrapped);
      }
      case CKM_AES_CBC_PAD: {
        const Bytes& iv = cbc_iv(m);
        const SecureBytes& kek = aes_kek(u, kType, kSize);
        require(!wrapped.empty() && wrapped.size() % crypto::kAesBlock == 0,
                CKR_WRAPPED_KEY_LEN_RANGE, "AES-CBC-PAD output is a whole number of blocks");
        return cbc_pad(kek, iv, false, wrapped);
      }
      case CKM_RSA_PKCS_OAEP: {
        crypto::RsaPadding padding = rsa_padding(m);
        require(object_class(u) == CKO_PRIVATE_KEY && key_type(u) == CKK_RSA, kType,
                "RSA-OAEP unwraps with an RSA private key");
        const crypto::PKey& key = object_pkey(unwrapping_key);
        require(wrapped.size() == (key.bits() + 7) / 8, CKR_WRAPPED_KEY_LEN_RANGE,
                "RSA-OAEP output is as long as the modulus");
        return crypto::rsa_decrypt(key, padding, wrapped);
      }
      default:
        throw CkError(CKR_MECHANISM_INVALID, "the mechanism cannot unwrap keys");
    }
  } catch (const IntegrityError&) {
    throw CkError(CKR_WRAPPED_KEY_INVALID, "the wrapped key does not unwrap with this key");
  }
}

AttributeMap unwrapped_secret(const Mechanism& m, SecureBytes value, const AttributeMap& tmpl) {
  auto kt = tmpl.get_ulong(CKA_KEY_TYPE);
  require(kt.has_value(), CKR_TEMPLATE_INCOMPLETE, "an unwrapped secret key needs CKA_KEY_TYPE");
  require(is_secret_key_type(*kt), CKR_TEMPLATE_INCONSISTENT,
          "CKA_KEY_TYPE is not a secret key type");
  AttributeMap request = tmpl;
  auto len = tmpl.get_ulong(CKA_VALUE_LEN);
  request.erase(CKA_VALUE_LEN);
  if (m.type == CKM_AES_KEY_WRAP) {
    // Zero padding (PKCS#11 3.0 2.14.3): the key's length is CKA_VALUE_LEN, or the key type's
    // one length, else all of it.
    size_t real = len.value_or(fixed_secret_length(*kt).value_or(value.size()));
    require(zero_padding_fits(value, real),
            len ? CKR_TEMPLATE_INCONSISTENT : CKR_WRAPPED_KEY_INVALID,
            "the unwrapped value is not the key's length followed by zero padding");
    value.resize(real);
  } else if (len) {
    require(*len == value.size(), CKR_TEMPLATE_INCONSISTENT,
            "CKA_VALUE_LEN differs from the unwrapped key's length");
  }
  require(!value.empty(), CKR_WRAPPED_KEY_INVALID, "the unwrapped key is empty");
  require(secret_length_fits(*kt, value.size()), CKR_WRAPPED_KEY_INVALID,
          "the unwrapped value is not a length of the key type");
  AttributeMap a = complete_template(request, Origin::unwrapped, CKO_SECRET_KEY, *kt, m.type);
  a.set(CKA_VALUE, std::move(value));
  finish_key(a, Origin::unwrapped);
  check_template_fits(request, a);
  return a;
}

AttributeMap unwrapped_private(const Mechanism& m, SecureBytes pkcs8, const AttributeMap& tmpl) {
  if (m.type == CKM_AES_KEY_WRAP) {
    size_t real = der_length(pkcs8);
    require(real != 0 && zero_padding_fits(pkcs8, real), CKR_WRAPPED_KEY_INVALID,
            "the unwrapped data is not a DER PrivateKeyInfo followed by zero padding");
    pkcs8.resize(real);
  }
  std::optional<crypto::PKey> key;
  try {
    key = crypto::PKey::from_private_der(pkcs8);
  } catch (const CryptoError&) {
    throw CkError(CKR_WRAPPED_KEY_INVALID, "the unwrapped data is not a supported PKCS#8 key");
  }
  CK_KEY_TYPE kt = CKK_RSA;
  switch (key->type()) {
    case crypto::PKey::Type::rsa:
      kt = CKK_RSA;
      break;
    case crypto::PKey::Type::ec:
      kt = CKK_EC;
      break;
    case crypto::PKey::Type::eddsa:
      kt = CKK_EC_EDWARDS;
      break;
    case crypto::PKey::Type::xdh:
      kt = CKK_EC_MONTGOMERY;
      break;
    case crypto::PKey::Type::dsa:
      kt = CKK_DSA;
      break;
    case crypto::PKey::Type::dh:
      kt = CKK_DH;
      break;
  }
  AttributeMap a = complete_template(tmpl, Origin::unwrapped, CKO_PRIVATE_KEY, kt, m.type);
  set_private_attributes(a, *key);
  finish_key(a, Origin::unwrapped);
  check_template_fits(tmpl, a);
  return a;
}

}  // namespace

void check_template_fits(const AttributeMap& tmpl, const AttributeMap& attrs) {
  for (const auto& [type, value] : tmpl) {
    require(!is_key_material(attrs, type), CKR_TEMPLATE_INCONSISTENT,
            "the template gives key material the token computes");
    const SecureBytes* made = attrs.find(type);
    require(made != nullptr && made->size() == value.size() && crypto::ct_equal(*made, value),
            CKR_TEMPLATE_INCONSISTENT, "the template contradicts the key it describes");
  }
}

void check_wrappable(const AttributeMap& key) {
  CK_OBJECT_CLASS cls = object_class(key);
  require(cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY, CKR_KEY_NOT_WRAPPABLE,
          "only secret and private keys can be wrapped");
  require(key.get_bool(CKA_EXTRACTABLE, false), CKR_KEY_UNEXTRACTABLE,
          "the key's CKA_EXTRACTABLE is false");
}

Bytes wrapped_form(const Mechanism& m, const Object& wrapping_key, const Object& key) {
  const AttributeMap& w = wrapping_key.attrs;
  const AttributeMap& k = key.attrs;
  check_wrappable(k);
  CK_OBJECT_CLASS cls = object_class(k);
  require(cls == CKO_SECRET_KEY || m.type != CKM_RSA_PKCS_OAEP, CKR_KEY_NOT_WRAPPABLE,
          "RSA-OAEP wraps secret keys only");
  constexpr CK_RV kType = CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
  constexpr CK_RV kSize = CKR_WRAPPING_KEY_SIZE_RANGE;
  // The key's bytes: a secret key's value, a private key's PKCS#8 encoding.
  SecureBytes data = cls == CKO_SECRET_KEY ? secret_value(k) : object_pkey(key).private_der();
  switch (m.type) {
    case CKM_AES_KEY_WRAP:
    case CKM_AES_KEY_WRAP_PKCS7: {
      check_kw_iv(m);
      const SecureBytes& kek = aes_kek(w, kType, kSize);
      require(!data.empty(), CKR_KEY_SIZE_RANGE, "the key is empty");
      return crypto::aes_key_wrap(kek, kw_input(m.type, std::move(data)));
    }
    case CKM_AES_KEY_WRAP_PAD:
    case CKM_AES_KEY_WRAP_KWP: {
      check_kw_iv(m);
      const SecureBytes& kek = aes_kek(w, kType, kSize);
      require(!data.empty(), CKR_KEY_SIZE_RANGE, "the key is empty");
      return crypto::aes_key_wrap_pad(kek, data);
    }
    case CKM_AES_CBC_PAD: {
      const Bytes& iv = cbc_iv(m);
      SecureBytes out = cbc_pad(aes_kek(w, kType, kSize), iv, true, data);
      return Bytes(out.begin(), out.end());
    }
    case CKM_RSA_PKCS_OAEP: {
      crypto::RsaPadding padding = rsa_padding(m);
      require(object_class(w) == CKO_PUBLIC_KEY && key_type(w) == CKK_RSA, kType,
              "RSA-OAEP wraps with an RSA public key");
      const crypto::PKey& rsa = object_pkey(wrapping_key);
      require(data.size() <= crypto::rsa_max_plaintext(rsa, padding), CKR_KEY_SIZE_RANGE,
              "the key is too long for RSA-OAEP with this wrapping key");
      return crypto::rsa_encrypt(rsa, padding, data);
    }
    default:
      throw CkError(CKR_MECHANISM_INVALID, "the mechanism cannot wrap keys");
  }
}

AttributeMap unwrapped_attributes(const Mechanism& m, const Object& unwrapping_key,
                                  ByteView wrapped, const AttributeMap& tmpl) {
  auto cls = tmpl.get_ulong(CKA_CLASS);
  require(cls.has_value(), CKR_TEMPLATE_INCOMPLETE, "the unwrap template needs CKA_CLASS");
  require(*cls == CKO_SECRET_KEY || (*cls == CKO_PRIVATE_KEY && m.type != CKM_RSA_PKCS_OAEP),
          CKR_TEMPLATE_INCONSISTENT, "the mechanism does not unwrap keys of this class");
  if (*cls == CKO_SECRET_KEY) {
    require(tmpl.has(CKA_KEY_TYPE), CKR_TEMPLATE_INCOMPLETE,
            "an unwrapped secret key needs CKA_KEY_TYPE");
  }
  SecureBytes data = unwrap_bytes(m, unwrapping_key, wrapped);
  if (*cls == CKO_SECRET_KEY) {
    return unwrapped_secret(m, std::move(data), tmpl);
  }
  return unwrapped_private(m, std::move(data), tmpl);
}

}  // namespace twinhsm::token
