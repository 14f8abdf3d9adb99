#include "p11.h"

#include <cstring>
#include <iomanip>
#include <sstream>

namespace twinhsm::test {

std::string rv_name(CK_RV rv) {
  switch (rv) {
#define N(x) \
  case x:    \
    return #x;
    N(CKR_OK) N(CKR_CANCEL) N(CKR_HOST_MEMORY) N(CKR_SLOT_ID_INVALID) N(CKR_GENERAL_ERROR)
    N(CKR_FUNCTION_FAILED) N(CKR_ARGUMENTS_BAD) N(CKR_NO_EVENT) N(CKR_NEED_TO_CREATE_THREADS)
    N(CKR_CANT_LOCK) N(CKR_ATTRIBUTE_READ_ONLY) N(CKR_ATTRIBUTE_SENSITIVE)
    N(CKR_ATTRIBUTE_TYPE_INVALID) N(CKR_ATTRIBUTE_VALUE_INVALID) N(CKR_ACTION_PROHIBITED)
    N(CKR_DATA_INVALID) N(CKR_DATA_LEN_RANGE) N(CKR_DEVICE_ERROR) N(CKR_DEVICE_MEMORY)
    N(CKR_DEVICE_REMOVED) N(CKR_ENCRYPTED_DATA_INVALID) N(CKR_ENCRYPTED_DATA_LEN_RANGE)
    N(CKR_FUNCTION_CANCELED) N(CKR_FUNCTION_NOT_PARALLEL) N(CKR_FUNCTION_NOT_SUPPORTED)
    N(CKR_KEY_HANDLE_INVALID) N(CKR_KEY_SIZE_RANGE) N(CKR_KEY_TYPE_INCONSISTENT)
    N(CKR_KEY_NOT_NEEDED) N(CKR_KEY_CHANGED) N(CKR_KEY_NEEDED) N(CKR_KEY_INDIGESTIBLE)
    N(CKR_KEY_FUNCTION_NOT_PERMITTED) N(CKR_KEY_NOT_WRAPPABLE) N(CKR_KEY_UNEXTRACTABLE)
    N(CKR_MECHANISM_INVALID) N(CKR_MECHANISM_PARAM_INVALID) N(CKR_OBJECT_HANDLE_INVALID)
    N(CKR_OPERATION_ACTIVE) N(CKR_OPERATION_NOT_INITIALIZED) N(CKR_PIN_INCORRECT)
    N(CKR_PIN_INVALID) N(CKR_PIN_LEN_RANGE) N(CKR_PIN_EXPIRED) N(CKR_PIN_LOCKED)
    N(CKR_SESSION_CLOSED) N(CKR_SESSION_COUNT) N(CKR_SESSION_HANDLE_INVALID)
    N(CKR_SESSION_PARALLEL_NOT_SUPPORTED) N(CKR_SESSION_READ_ONLY) N(CKR_SESSION_EXISTS)
    N(CKR_SESSION_READ_ONLY_EXISTS) N(CKR_SESSION_READ_WRITE_SO_EXISTS)
    N(CKR_SIGNATURE_INVALID) N(CKR_SIGNATURE_LEN_RANGE) N(CKR_TEMPLATE_INCOMPLETE)
    N(CKR_TEMPLATE_INCONSISTENT) N(CKR_TOKEN_NOT_PRESENT) N(CKR_TOKEN_NOT_RECOGNIZED)
    N(CKR_TOKEN_WRITE_PROTECTED) N(CKR_UNWRAPPING_KEY_HANDLE_INVALID)
    N(CKR_USER_ALREADY_LOGGED_IN) N(CKR_USER_NOT_LOGGED_IN) N(CKR_USER_PIN_NOT_INITIALIZED)
    N(CKR_USER_TYPE_INVALID) N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN) N(CKR_USER_TOO_MANY_TYPES)
    N(CKR_WRAPPED_KEY_INVALID) N(CKR_WRAPPED_KEY_LEN_RANGE) N(CKR_RANDOM_SEED_NOT_SUPPORTED)
    N(CKR_RANDOM_NO_RNG) N(CKR_DOMAIN_PARAMS_INVALID) N(CKR_CURVE_NOT_SUPPORTED)
    N(CKR_BUFFER_TOO_SMALL) N(CKR_SAVED_STATE_INVALID) N(CKR_INFORMATION_SENSITIVE)
    N(CKR_STATE_UNSAVEABLE) N(CKR_CRYPTOKI_NOT_INITIALIZED) N(CKR_CRYPTOKI_ALREADY_INITIALIZED)
    N(CKR_MUTEX_BAD) N(CKR_MUTEX_NOT_LOCKED) N(CKR_FUNCTION_REJECTED)
#undef N
    default: {
      std::ostringstream s;
      s << "CKR_0x" << std::hex << rv;
      return s.str();
    }
  }
}

void PrintTo(const Rv& rv, std::ostream* os) { *os << rv_name(rv.value); }

Template& Template::raw(CK_ATTRIBUTE_TYPE type, const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  items_.emplace_back(type, Bytes(p, p + len));
  return *this;
}

Template& Template::boolean(CK_ATTRIBUTE_TYPE type, bool v) {
  CK_BBOOL b = v ? CK_TRUE : CK_FALSE;
  return raw(type, &b, sizeof b);
}

Template& Template::ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG v) { return raw(type, &v, sizeof v); }

CK_ATTRIBUTE* Template::data() {
  attrs_.clear();
  for (auto& [type, value] : items_) {
    attrs_.push_back({type, value.empty() ? nullptr : value.data(), static_cast<CK_ULONG>(value.size())});
  }
  return attrs_.empty() ? nullptr : attrs_.data();
}

Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::string to_hex(const Bytes& b) {
  std::ostringstream s;
  for (uint8_t c : b) {
    s << std::hex << std::setw(2) << std::setfill('0') << int{c};
  }
  return s.str();
}

bool contains(std::string_view haystack, const Bytes& needle) {
  return contains(haystack, std::string_view(reinterpret_cast<const char*>(needle.data()), needle.size()));
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

Bytes ec_params_p256() { return {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}; }
Bytes ec_params_p384() { return {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}; }
Bytes ec_params_p521() { return {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}; }
Bytes ec_params_ed25519() { return {0x06, 0x03, 0x2b, 0x65, 0x70}; }

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

std::vector<CK_OBJECT_HANDLE> find_all(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, Template tmpl) {
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

Bytes attr_bytes(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type) {
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
