#include "token/attributes.h"

#include <cstring>

#include "token/ck_error.h"

namespace twinhsm::token {

const SecureBytes* AttributeMap::find(CK_ATTRIBUTE_TYPE type) const {
  auto it = values_.find(type);
  return it == values_.end() ? nullptr : &it->second;
}

void AttributeMap::set_bool(CK_ATTRIBUTE_TYPE type, bool value) {
  values_[type] = SecureBytes{static_cast<uint8_t>(value ? CK_TRUE : CK_FALSE)};
}

void AttributeMap::set_ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG value) {
  SecureBytes v(sizeof(CK_ULONG));
  std::memcpy(v.data(), &value, sizeof value);
  values_[type] = std::move(v);
}

bool AttributeMap::get_bool(CK_ATTRIBUTE_TYPE type, bool fallback) const {
  const SecureBytes* v = find(type);
  if (!v) {
    return fallback;
  }
  require(v->size() == sizeof(CK_BBOOL), CKR_ATTRIBUTE_VALUE_INVALID,
          "a boolean attribute must be one byte");
  return (*v)[0] != CK_FALSE;
}

std::optional<CK_ULONG> AttributeMap::get_ulong(CK_ATTRIBUTE_TYPE type) const {
  const SecureBytes* v = find(type);
  if (!v) {
    return std::nullopt;
  }
  require(v->size() == sizeof(CK_ULONG), CKR_ATTRIBUTE_VALUE_INVALID,
          "a CK_ULONG attribute must be sizeof(CK_ULONG) bytes");
  CK_ULONG out;
  std::memcpy(&out, v->data(), sizeof out);
  return out;
}

Bytes AttributeMap::get_bytes(CK_ATTRIBUTE_TYPE type) const {
  const SecureBytes* v = find(type);
  return v ? Bytes(v->begin(), v->end()) : Bytes();
}

namespace {

void put_be(SecureBytes& out, uint64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out.push_back(static_cast<uint8_t>(value >> (8 * i)));
  }
}

uint64_t get_be(ByteView data, size_t& pos, int width) {
  if (data.size() - pos < static_cast<size_t>(width)) {
    throw IntegrityError("a stored object is truncated");
  }
  uint64_t v = 0;
  for (int i = 0; i < width; ++i) {
    v = v << 8 | data[pos++];
  }
  return v;
}

// The portable encoding starts with these bytes; the first encoding (a 4-byte count, never this
// large) does not.
constexpr uint8_t kPortableMagic[4] = {0xff, 't', 'a', 2};

// How a value is written in the portable encoding.
enum class Form : uint8_t {
  bytes = 0,   // as it is (byte strings, CK_BBOOL)
  ulong = 1,   // one CK_ULONG, as 8 bytes big-endian
  ulongs = 2,  // an array of CK_ULONG (CKA_ALLOWED_MECHANISMS), each 8 bytes big-endian
};

// ulong_attribute: PKCS#11 3.0 gives the attribute a CK_ULONG value.
bool ulong_attribute(CK_ATTRIBUTE_TYPE type) {
  switch (type) {
    case CKA_CLASS:
    case CKA_CERTIFICATE_TYPE:
    case CKA_CERTIFICATE_CATEGORY:
    case CKA_JAVA_MIDP_SECURITY_DOMAIN:
    case CKA_NAME_HASH_ALGORITHM:
    case CKA_KEY_TYPE:
    case CKA_KEY_GEN_MECHANISM:
    case CKA_MODULUS_BITS:
    case CKA_PRIME_BITS:
    case CKA_SUB_PRIME_BITS:
    case CKA_VALUE_BITS:
    case CKA_VALUE_LEN:
    case CKA_HW_FEATURE_TYPE:
    case CKA_MECHANISM_TYPE:
      return true;
    default:
      return false;
  }
}

Form form_of(CK_ATTRIBUTE_TYPE type, size_t size) {
  if (ulong_attribute(type) && size == sizeof(CK_ULONG)) {
    return Form::ulong;
  }
  if (type == CKA_ALLOWED_MECHANISMS && size % sizeof(CK_ULONG) == 0) {
    return Form::ulongs;
  }
  return Form::bytes;
}

// put_ulongs writes native CK_ULONGs as 8-byte big-endian; CK_UNAVAILABLE_INFORMATION (all ones)
// stays all ones whatever the host's width.
void put_ulongs(SecureBytes& out, ByteView native) {
  for (size_t i = 0; i + sizeof(CK_ULONG) <= native.size(); i += sizeof(CK_ULONG)) {
    CK_ULONG v;
    std::memcpy(&v, native.data() + i, sizeof v);
    put_be(out, v == CK_UNAVAILABLE_INFORMATION ? ~uint64_t{0} : uint64_t{v}, 8);
  }
}

SecureBytes get_ulongs(ByteView portable) {
  if (portable.size() % 8 != 0) {
    throw IntegrityError("a stored CK_ULONG value has the wrong length");
  }
  SecureBytes out;
  size_t pos = 0;
  while (pos < portable.size()) {
    uint64_t v = get_be(portable, pos, 8);
    CK_ULONG native = v == ~uint64_t{0} ? CK_UNAVAILABLE_INFORMATION : static_cast<CK_ULONG>(v);
    if (uint64_t{native} != v && v != ~uint64_t{0}) {
      throw IntegrityError("a stored CK_ULONG value does not fit this host's CK_ULONG");
    }
    uint8_t bytes[sizeof(CK_ULONG)];
    std::memcpy(bytes, &native, sizeof native);
    out.insert(out.end(), bytes, bytes + sizeof native);
  }
  return out;
}

// decode_native reads the first encoding: count (4), then type (8), length (4), value (native).
AttributeMap decode_native(ByteView data) {
  AttributeMap map;
  size_t pos = 0;
  uint64_t count = get_be(data, pos, 4);
  for (uint64_t i = 0; i < count; ++i) {
    auto type = static_cast<CK_ATTRIBUTE_TYPE>(get_be(data, pos, 8));
    auto len = static_cast<size_t>(get_be(data, pos, 4));
    if (data.size() - pos < len) {
      throw IntegrityError("a stored object is truncated");
    }
    map.set(type, data.subspan(pos, len));
    pos += len;
  }
  if (pos != data.size()) {
    throw IntegrityError("a stored object has trailing bytes");
  }
  return map;
}

}  // namespace

SecureBytes AttributeMap::portable_value(CK_ATTRIBUTE_TYPE type, const SecureBytes& value) {
  if (form_of(type, value.size()) == Form::bytes) {
    return value;
  }
  SecureBytes out;
  put_ulongs(out, value);
  return out;
}

bool AttributeMap::is_portable(ByteView encoded) {
  return encoded.size() >= sizeof kPortableMagic &&
         std::memcmp(encoded.data(), kPortableMagic, sizeof kPortableMagic) == 0;
}

SecureBytes AttributeMap::encode() const {
  size_t total = sizeof kPortableMagic + 4;
  for (const auto& [type, value] : values_) {
    total += 13 + 2 * value.size();
  }
  SecureBytes out;
  out.reserve(total);
  out.insert(out.end(), kPortableMagic, kPortableMagic + sizeof kPortableMagic);
  put_be(out, values_.size(), 4);
  for (const auto& [type, value] : values_) {
    Form form = form_of(type, value.size());
    SecureBytes portable = portable_value(type, value);
    put_be(out, type, 8);
    out.push_back(static_cast<uint8_t>(form));
    put_be(out, portable.size(), 4);
    out.insert(out.end(), portable.begin(), portable.end());
  }
  return out;
}

AttributeMap AttributeMap::decode(ByteView data) {
  if (!is_portable(data)) {
    return decode_native(data);
  }
  AttributeMap map;
  size_t pos = sizeof kPortableMagic;
  uint64_t count = get_be(data, pos, 4);
  for (uint64_t i = 0; i < count; ++i) {
    auto type = static_cast<CK_ATTRIBUTE_TYPE>(get_be(data, pos, 8));
    if (data.size() - pos < 1) {
      throw IntegrityError("a stored object is truncated");
    }
    auto form = static_cast<Form>(data[pos++]);
    auto len = static_cast<size_t>(get_be(data, pos, 4));
    if (data.size() - pos < len) {
      throw IntegrityError("a stored object is truncated");
    }
    ByteView value = data.subspan(pos, len);
    pos += len;
    switch (form) {
      case Form::bytes:
        map.set(type, value);
        break;
      case Form::ulong:
      case Form::ulongs:
        map.set(type, get_ulongs(value));
        break;
      default:
        throw IntegrityError("a stored attribute has an unknown encoding");
    }
  }
  if (pos != data.size()) {
    throw IntegrityError("a stored object has trailing bytes");
  }
  return map;
}

}  // namespace twinhsm::token
