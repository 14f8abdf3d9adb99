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

}  // namespace

SecureBytes AttributeMap::encode() const {
  size_t total = 4;
  for (const auto& [type, value] : values_) {
    total += 12 + value.size();
  }
  SecureBytes out;
  out.reserve(total);
  put_be(out, values_.size(), 4);
  for (const auto& [type, value] : values_) {
    put_be(out, type, 8);
    put_be(out, value.size(), 4);
    out.insert(out.end(), value.begin(), value.end());
  }
  return out;
}

AttributeMap AttributeMap::decode(ByteView data) {
  AttributeMap map;
  size_t pos = 0;
  uint64_t count = get_be(data, pos, 4);
  for (uint64_t i = 0; i < count; ++i) {
    auto type = static_cast<CK_ATTRIBUTE_TYPE>(get_be(data, pos, 8));
    auto len = static_cast<size_t>(get_be(data, pos, 4));
    if (data.size() - pos < len) {
      throw IntegrityError("a stored object is truncated");
    }
    map.values_[type] = crypto::secure_copy(data.subspan(pos, len));
    pos += len;
  }
  if (pos != data.size()) {
    throw IntegrityError("a stored object has trailing bytes");
  }
  return map;
}

}  // namespace twinhsm::token
