#include "pkcs11/marshal.h"

#include "token/ck_error.h"

namespace twinhsm::pkcs11 {

using token::require;

void check_template_count(const CK_ATTRIBUTE* attrs, CK_ULONG count) {
  require(attrs != nullptr || count == 0, CKR_ARGUMENTS_BAD, "the template is NULL");
  require(count <= kMaxTemplateCount, CKR_ARGUMENTS_BAD,
          "the template has more attributes than twinhsm accepts");
}

bool is_template_attribute(CK_ATTRIBUTE_TYPE type) {
  return type == CKA_WRAP_TEMPLATE || type == CKA_UNWRAP_TEMPLATE || type == CKA_DERIVE_TEMPLATE;
}

namespace {

// kMaxNested: attributes in a template attribute's value (a template inside a key).
constexpr CK_ULONG kMaxNested = 256;

// parse_attributes copies count attributes into a map; nested (inside a template attribute)
// they may not be templates themselves.
token::AttributeMap parse_attributes(const CK_ATTRIBUTE* attrs, CK_ULONG count, bool nested) {
  token::AttributeMap map;
  for (CK_ULONG i = 0; i < count; ++i) {
    const CK_ATTRIBUTE& a = attrs[i];
    require(a.ulValueLen <= kMaxAttributeLen && (a.pValue != nullptr || a.ulValueLen == 0),
            CKR_ATTRIBUTE_VALUE_INVALID, "an attribute's value pointer or length is invalid");
    crypto::SecureBytes value;
    if (is_template_attribute(a.type)) {
      require(!nested && a.ulValueLen % sizeof(CK_ATTRIBUTE) == 0 &&
                  a.ulValueLen / sizeof(CK_ATTRIBUTE) <= kMaxNested,
              CKR_ATTRIBUTE_VALUE_INVALID,
              "a template attribute's value must be an array of CK_ATTRIBUTE (not nested)");
      value = parse_attributes(static_cast<const CK_ATTRIBUTE*>(a.pValue),
                               a.ulValueLen / sizeof(CK_ATTRIBUTE), true)
                  .encode();
    } else {
      value = crypto::secure_copy(ByteView(static_cast<const uint8_t*>(a.pValue), a.ulValueLen));
    }
    if (const auto* existing = map.find(a.type)) {
      require(existing->size() == value.size() && crypto::ct_equal(*existing, value),
              CKR_TEMPLATE_INCONSISTENT, "the template gives one attribute two values");
      continue;
    }
    map.set(a.type, std::move(value));
  }
  return map;
}

// give_bytes is give_attribute for a plain value.
CK_RV give_bytes(CK_ATTRIBUTE& out, ByteView value) {
  if (out.pValue == nullptr) {
    out.ulValueLen = value.size();
    return CKR_OK;
  }
  if (out.ulValueLen < value.size()) {
    out.ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return CKR_BUFFER_TOO_SMALL;
  }
  if (!value.empty()) {  // an empty value has no data pointer to copy from
    std::memcpy(out.pValue, value.data(), value.size());
  }
  out.ulValueLen = value.size();
  return CKR_OK;
}

}  // namespace

token::AttributeMap parse_template(const CK_ATTRIBUTE* attrs, CK_ULONG count) {
  check_template_count(attrs, count);
  return parse_attributes(attrs, count, false);
}

CK_RV give_attribute(CK_ATTRIBUTE& out, ByteView value) {
  if (!is_template_attribute(out.type)) {
    return give_bytes(out, value);
  }
  // PKCS#11 3.0 5.7.5: the array's length is the number of attributes times
  // sizeof(CK_ATTRIBUTE); given room for them, each element gets its type and, by the same
  // two-call rule, its length or its value.
  token::AttributeMap nested = token::AttributeMap::decode(value);
  CK_ULONG size = nested.size() * sizeof(CK_ATTRIBUTE);
  if (out.pValue == nullptr) {
    out.ulValueLen = size;
    return CKR_OK;
  }
  if (out.ulValueLen < size) {
    out.ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return CKR_BUFFER_TOO_SMALL;
  }
  auto* elements = static_cast<CK_ATTRIBUTE*>(out.pValue);
  CK_RV rv = CKR_OK;
  size_t i = 0;
  for (const auto& [type, v] : nested) {
    elements[i].type = type;
    if (give_bytes(elements[i], v) != CKR_OK) {
      rv = CKR_BUFFER_TOO_SMALL;
    }
    ++i;
  }
  out.ulValueLen = size;
  return rv;
}

bool give_output(CK_BYTE_PTR out, CK_ULONG_PTR out_len, size_t size) {
  require(out_len != nullptr, CKR_ARGUMENTS_BAD, "the output length pointer is NULL");
  CK_ULONG available = *out_len;
  *out_len = size;
  if (out == nullptr) {
    return false;
  }
  require(available >= size, CKR_BUFFER_TOO_SMALL, "the output buffer is too small");
  return true;
}

bool copy_output(CK_BYTE_PTR out, CK_ULONG_PTR out_len, ByteView data) {
  if (!give_output(out, out_len, data.size())) {
    return false;
  }
  if (!data.empty()) {
    std::memcpy(out, data.data(), data.size());
  }
  return true;
}

ByteView input(const CK_BYTE* data, CK_ULONG len) {
  require(data != nullptr || len == 0, CKR_ARGUMENTS_BAD, "the input pointer is NULL");
  require(len <= kMaxDataLen, CKR_ARGUMENTS_BAD, "the input is longer than twinhsm accepts");
  return ByteView(data, len);
}

void check_output_length(const CK_BYTE* out, CK_ULONG len) {
  require(out != nullptr || len == 0, CKR_ARGUMENTS_BAD, "the output pointer is NULL");
  require(len <= kMaxDataLen, CKR_ARGUMENTS_BAD, "the output is longer than twinhsm accepts");
}

std::string unpad(const CK_UTF8CHAR* field, size_t n) {
  std::string s(reinterpret_cast<const char*>(field), n);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) {
    s.pop_back();
  }
  return s;
}

}  // namespace twinhsm::pkcs11
