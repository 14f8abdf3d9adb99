// The curves twinhsm knows (pkey.h): names, OIDs, sizes, and CKA_EC_PARAMS in its three forms.
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

#include <algorithm>

#include "crypto/curve_table.h"
#include "crypto/openssl_util.h"

namespace twinhsm::crypto {

namespace {

using namespace std::string_view_literals;
using detail::CurveInfo;

const std::array<CurveInfo, 8> kCurves = {{
    {Curve::p256,
     256,
     "P-256",
     "EC",
     NID_X9_62_prime256v1,
     "\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07"sv,
     {"P-256"sv, "prime256v1"sv, "secp256r1"sv}},
    {Curve::p384,
     384,
     "P-384",
     "EC",
     NID_secp384r1,
     "\x06\x05\x2b\x81\x04\x00\x22"sv,
     {"P-384"sv, "secp384r1"sv, "secp384r1"sv}},
    {Curve::p521,
     521,
     "P-521",
     "EC",
     NID_secp521r1,
     "\x06\x05\x2b\x81\x04\x00\x23"sv,
     {"P-521"sv, "secp521r1"sv, "secp521r1"sv}},
    {Curve::p192,
     192,
     "P-192",
     "EC",
     NID_X9_62_prime192v1,
     "\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x01"sv,
     {"P-192"sv, "prime192v1"sv, "secp192r1"sv}},
    {Curve::ed25519,
     255,
     nullptr,
     "ED25519",
     NID_ED25519,
     "\x06\x03\x2b\x65\x70"sv,
     {"edwards25519"sv, "Ed25519"sv, "ED25519"sv}},
    {Curve::ed448,
     448,
     nullptr,
     "ED448",
     NID_ED448,
     "\x06\x03\x2b\x65\x71"sv,
     {"edwards448"sv, "Ed448"sv, "ED448"sv}},
    {Curve::x25519,
     255,
     nullptr,
     "X25519",
     NID_X25519,
     "\x06\x03\x2b\x65\x6e"sv,
     {"curve25519"sv, "X25519"sv, "x25519"sv}},
    {Curve::x448,
     448,
     nullptr,
     "X448",
     NID_X448,
     "\x06\x03\x2b\x65\x6f"sv,
     {"curve448"sv, "X448"sv, "x448"sv}},
}};

std::string_view as_chars(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// explicit_curve maps an ECParameters SEQUENCE (RFC 3279 specifiedCurve) to the named curve whose
// parameters it spells out; nullopt for curves twinhsm does not know, or malformed input.
std::optional<Curve> explicit_curve(ByteView der) {
  const unsigned char* p = der.data();
  std::unique_ptr<EC_GROUP, detail::Deleter<&EC_GROUP_free>> group(
      d2i_ECPKParameters(nullptr, &p, static_cast<long>(der.size())));
  ERR_clear_error();
  if (!group || p != der.data() + der.size()) {
    return std::nullopt;
  }
  int nid = EC_GROUP_check_named_curve(group.get(), 0, nullptr);
  ERR_clear_error();
  for (const auto& c : kCurves) {
    if (c.group != nullptr && c.nid == nid) {
      return c.curve;
    }
  }
  return std::nullopt;
}

}  // namespace

namespace detail {

const CurveInfo& curve_info(Curve curve) {
  for (const auto& c : kCurves) {
    if (c.curve == curve) {
      return c;
    }
  }
  throw UsageError("unknown curve");
}

const CurveInfo* curve_of_group(std::string_view group) {
  for (const auto& c : kCurves) {
    if (c.group != nullptr && std::find(c.names.begin(), c.names.end(), group) != c.names.end()) {
      return &c;
    }
  }
  return nullptr;
}

const CurveInfo* curve_of_key_type(const EVP_PKEY* pkey) {
  for (const auto& c : kCurves) {
    if (c.group == nullptr && EVP_PKEY_is_a(pkey, c.key_type)) {
      return &c;
    }
  }
  return nullptr;
}

}  // namespace detail

std::optional<Curve> curve_from_params(ByteView ec_params) {
  std::string_view der = as_chars(ec_params);
  for (const auto& c : kCurves) {
    if (der == c.oid_der) {
      return c.curve;
    }
  }
  // PrintableString (tag 0x13, short-form length) holding a curve name.
  if (ec_params.size() >= 2 && ec_params[0] == 0x13 && ec_params[1] < 0x80 &&
      ec_params.size() == 2u + ec_params[1]) {
    std::string_view name = der.substr(2);
    for (const auto& c : kCurves) {
      if (std::find(c.names.begin(), c.names.end(), name) != c.names.end()) {
        return c.curve;
      }
    }
  }
  if (params_are_explicit(ec_params)) {
    return explicit_curve(ec_params);
  }
  return std::nullopt;
}

bool params_are_explicit(ByteView ec_params) {
  return !ec_params.empty() && ec_params[0] == 0x30;
}

Bytes curve_params(Curve curve) {
  std::string_view oid = detail::curve_info(curve).oid_der;
  return Bytes(oid.begin(), oid.end());
}

unsigned curve_bits(Curve curve) {
  return detail::curve_info(curve).bits;
}

CurveFamily curve_family(Curve curve) {
  switch (curve) {
    case Curve::ed25519:
    case Curve::ed448:
      return CurveFamily::edwards;
    case Curve::x25519:
    case Curve::x448:
      return CurveFamily::montgomery;
    default:
      return CurveFamily::weierstrass;
  }
}

}  // namespace twinhsm::crypto
