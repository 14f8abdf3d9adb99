// Small PKCS#11 helpers for tests: CK_RV assertions that print names (EXPECT_CKR(CKR_OK, ...)),
// a Template builder that owns its values, and helpers that find objects and read attributes
// (they report unexpected failures with ADD_FAILURE and return an empty result).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/ck_rv_name.h"
#include "common/pkcs11.h"

namespace twinhsm::test {

using Bytes = std::vector<uint8_t>;

// Rv wraps a CK_RV so that gtest prints its name.
struct Rv {
  CK_RV value;
  bool operator==(const Rv& o) const { return value == o.value; }
};
void PrintTo(const Rv& rv, std::ostream* os);

#define EXPECT_CKR(expected, expr)                             \
  EXPECT_EQ(::twinhsm::test::Rv{static_cast<CK_RV>(expected)}, \
            ::twinhsm::test::Rv{static_cast<CK_RV>(expr)})
#define ASSERT_CKR(expected, expr)                             \
  ASSERT_EQ(::twinhsm::test::Rv{static_cast<CK_RV>(expected)}, \
            ::twinhsm::test::Rv{static_cast<CK_RV>(expr)})

// Template is a CK_ATTRIBUTE array with owned values; data() stays valid until the next change.
class Template {
 public:
  Template() = default;
  Template& raw(CK_ATTRIBUTE_TYPE type, const void* data, size_t len);
  Template& boolean(CK_ATTRIBUTE_TYPE type, bool v);
  Template& ulong(CK_ATTRIBUTE_TYPE type, CK_ULONG v);
  Template& bytes(CK_ATTRIBUTE_TYPE type, const Bytes& v) { return raw(type, v.data(), v.size()); }
  Template& str(CK_ATTRIBUTE_TYPE type, std::string_view v) {
    return raw(type, v.data(), v.size());
  }
  CK_ATTRIBUTE* data();
  CK_ULONG size() const { return static_cast<CK_ULONG>(items_.size()); }

 private:
  std::vector<std::pair<CK_ATTRIBUTE_TYPE, Bytes>> items_;
  std::vector<CK_ATTRIBUTE> attrs_;
};

Bytes to_bytes(std::string_view s);
std::string to_hex(const Bytes& b);
// contains reports whether needle occurs in haystack (needle non-empty).
bool contains(std::string_view haystack, const Bytes& needle);
bool contains(std::string_view haystack, std::string_view needle);
// padded_string trims the blanks of a fixed-size PKCS#11 field.
std::string padded_string(const CK_UTF8CHAR* field, size_t n);

// DER OIDs for CKA_EC_PARAMS.
Bytes ec_params_p256();
Bytes ec_params_p384();
Bytes ec_params_p521();
Bytes ec_params_ed25519();

// Helpers over a function list. On an unexpected CK_RV they ADD_FAILURE and return empty.
// find_all runs C_FindObjectsInit / C_FindObjects (batches of 7) / C_FindObjectsFinal.
CK_RV find_objects(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, Template tmpl,
                   std::vector<CK_OBJECT_HANDLE>* out);
std::vector<CK_OBJECT_HANDLE> find_all(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s,
                                       Template tmpl = {});
// get_attribute reads one attribute with the two-call convention.
CK_RV get_attribute(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                    CK_ATTRIBUTE_TYPE type, Bytes* out);
Bytes attr_bytes(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                 CK_ATTRIBUTE_TYPE type);
std::optional<CK_ULONG> attr_ulong(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                                   CK_ATTRIBUTE_TYPE type);
std::optional<bool> attr_bool(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                              CK_ATTRIBUTE_TYPE type);
// create makes an object (CK_INVALID_HANDLE and ADD_FAILURE on error).
CK_OBJECT_HANDLE create(CK_FUNCTION_LIST_3_0* f, CK_SESSION_HANDLE s, Template tmpl);
// data_object is a template for a CKO_DATA object with the given label and value.
Template data_object(std::string_view label, std::string_view value, bool token, bool priv);
// aes_key is a template for a CKO_SECRET_KEY/CKK_AES object with the given value.
Template aes_key(const Bytes& value, bool token, bool priv, bool sensitive = true);

}  // namespace twinhsm::test
