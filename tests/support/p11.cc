#include "p11.h"

#include <cstring>
#include <iomanip>
#include <sstream>

namespace twinhsm::test {

void PrintTo(const Rv& rv, std::ostream* os) {
  *os << rv_name(rv.value);
}

Template& Template::raw(CK_ATTRIBUTE_TYPE type, const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  items_.emplace_back(type, Bytes(p, p + len));
  return *this;
}

Template& Template::boolean(CK_ATTRIBUTE_TYPE type, bool v) {
  CK_BBOOL b = v ? CK_TRUE : CK_FALSE;
  return raw(type, &b, sizeof b);
}

Template& Template::ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG v) {
  return raw(type, &v, sizeof v);
}

CK_ATTRIBUTE* Template::data() {
  attrs_.clear();
  for (auto& [type, value] : items_) {
    attrs_.push_back(
        {type, value.empty() ? nullptr : value.data(), static_cast<CK_ULONG>(value.size())});
  }
  return attrs_.empty() ? nullptr : attrs_.data();
}

Bytes to_bytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

std::string to_hex(const Bytes& b) {
  std::ostringstream s;
  for (uint8_t c : b) {
    s << std::hex << std::setw(2) << std::setfill('0') << int{c};
  }
  return s.str();
}

bool contains(std::string_view haystack, const Bytes& needle) {
  return contains(haystack,
                  std::string_view(reinterpret_cast<const char*>(needle.data()), needle.size()));
}

bool contains(std::string_view haystack, std::string_view needle) {
  return !needle.empty() && haystack.find(needle) != std::string_view::npos;
}

std::string padded_string(const CK_UTF8CHAR* field, size_t n) {
  std::string s(reinterpret_cast<const char*>(field), n);
  while (!s.empty() && s.back() == ' ') {
    s.pop_back();
  }
  return s;
}

Bytes ec_params_p256() {
  return {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
}
Bytes ec_params_p384() {
  return {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
}
Bytes ec_params_p521() {
  return {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
}
Bytes ec_params_ed25519() {
  return {0x06, 0x03, 0x2b, 0x65, 0x70};
}

CK_RV find_objects(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, Template tmpl,
                   std::vector<CK_OBJECT_HANDLE>* out) {
  out->clear();
  CK_RV rv = f->C_FindObjectsInit(s, tmpl.data(), tmpl.size());
  if (rv != CKR_OK) {
    return rv;
  }
  for (;;) {
    CK_OBJECT_HANDLE batch[7];
    CK_ULONG n = 0;
    rv = f->C_FindObjects(s, batch, 7, &n);
    if (rv != CKR_OK) {
      f->C_FindObjectsFinal(s);
      return rv;
    }
    out->insert(out->end(), batch, batch + n);
    if (n == 0) {
      break;
    }
  }
  return f->C_FindObjectsFinal(s);
}

std::vector<CK_OBJECT_HANDLE> find_all(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s,
                                       Template tmpl) {
  std::vector<CK_OBJECT_HANDLE> out;
  CK_RV rv = find_objects(f, s, std::move(tmpl), &out);
  if (rv != CKR_OK) {
    ADD_FAILURE() << "find failed: " << rv_name(rv);
    out.clear();
  }
  return out;
}

CK_RV get_attribute(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                    CK_ATTRIBUTE_TYPE type, Bytes* out) {
  out->clear();
  CK_ATTRIBUTE a{type, nullptr, 0};
  CK_RV rv = f->C_GetAttributeValue(s, o, &a, 1);
  if (rv != CKR_OK) {
    return rv;
  }
  out->resize(a.ulValueLen);
  a.pValue = out->data();
  rv = f->C_GetAttributeValue(s, o, &a, 1);
  if (rv == CKR_OK) {
    out->resize(a.ulValueLen);
  }
  return rv;
}

Bytes attr_bytes(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                 CK_ATTRIBUTE_TYPE type) {
  Bytes out;
  CK_RV rv = get_attribute(f, s, o, type, &out);
  if (rv != CKR_OK) {
    ADD_FAILURE() << "C_GetAttributeValue(0x" << std::hex << type << ") failed: " << rv_name(rv);
    out.clear();
  }
  return out;
}

std::optional<CK_ULONG> attr_ulong(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                                   CK_ATTRIBUTE_TYPE type) {
  Bytes b = attr_bytes(f, s, o, type);
  if (b.size() != sizeof(CK_ULONG)) {
    return std::nullopt;
  }
  CK_ULONG v;
  std::memcpy(&v, b.data(), sizeof v);
  return v;
}

std::optional<bool> attr_bool(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                              CK_ATTRIBUTE_TYPE type) {
  Bytes b = attr_bytes(f, s, o, type);
  if (b.size() != 1) {
    return std::nullopt;
  }
  return b[0] != CK_FALSE;
}

CK_OBJECT_HANDLE create(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, Template tmpl) {
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  CK_RV rv = f->C_CreateObject(s, tmpl.data(), tmpl.size(), &h);
  if (rv != CKR_OK) {
    ADD_FAILURE() << "C_CreateObject failed: " << rv_name(rv);
    return CK_INVALID_HANDLE;
  }
  return h;
}

Template data_object(std::string_view label, std::string_view value, bool token, bool priv) {
  Template t;
  t.ulong(CKA_CLASS, CKO_DATA).boolean(CKA_TOKEN, token).boolean(CKA_PRIVATE, priv);
  t.str(CKA_LABEL, label).str(CKA_VALUE, value);
  return t;
}

Template aes_key(const Bytes& value, bool token, bool priv, bool sensitive) {
  Template t;
  t.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES);
  t.boolean(CKA_TOKEN, token).boolean(CKA_PRIVATE, priv).boolean(CKA_SENSITIVE, sensitive);
  t.bytes(CKA_VALUE, value);
  return t;
}

}  // namespace twinhsm::test
