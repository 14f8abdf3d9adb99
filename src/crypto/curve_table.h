// Internal to src/crypto: what twinhsm knows of each curve (curves.cc), for the key code.
#pragma once

#include <array>
#include <string_view>

#include "crypto/openssl_util.h"
#include "crypto/pkey.h"

namespace twinhsm::crypto::detail {

// CurveInfo: a curve's OpenSSL names, its OID as CKA_EC_PARAMS holds it, the names a
// PrintableString may give it.
struct CurveInfo {
  Curve curve;
  unsigned bits;
  const char* group;         // OpenSSL's group name of a short-Weierstrass curve; nullptr otherwise
  const char* key_type;      // OpenSSL's key type ("EC", "ED25519", "X448", ...)
  int nid;                   // for EC_GROUP
  std::string_view oid_der;  // DER OBJECT IDENTIFIER, as CKA_EC_PARAMS holds it
  std::array<std::string_view, 3> names;
};

const CurveInfo& curve_info(Curve curve);
// curve_of_group is the curve of an OpenSSL group name ("prime256v1", "P-256", ...), or nullptr.
const CurveInfo* curve_of_group(std::string_view group);
// curve_of_key_type is the curve of an OpenSSL key type ("ED448", "X25519", ...), or nullptr.
const CurveInfo* curve_of_key_type(const EVP_PKEY* pkey);

}  // namespace twinhsm::crypto::detail
