// The curves PKCS#11 3.0 and legacy devices add: X25519 and X448 (RFC 7748 section 5.2), Ed448
// (RFC 8032 section 7.4), ECDSA on P-192 (NIST CAVP FIPS 186-2 SigVer), and CKA_EC_PARAMS given
// as explicit ECParameters.
#include <gtest/gtest.h>

#include "crypto/pkey.h"
#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::hex;
using Kind = SignatureScheme::Kind;

TEST(Curves, NewOidsAndNames) {
  EXPECT_EQ(to_hex(curve_params(Curve::ed448)), "06032b6571");
  EXPECT_EQ(to_hex(curve_params(Curve::x25519)), "06032b656e");
  EXPECT_EQ(to_hex(curve_params(Curve::x448)), "06032b656f");
  EXPECT_EQ(to_hex(curve_params(Curve::p192)), "06082a8648ce3d030101");
  for (Curve c : {Curve::ed448, Curve::x25519, Curve::x448, Curve::p192}) {
    EXPECT_EQ(curve_from_params(curve_params(c)), c);
  }
  EXPECT_EQ(curve_from_params(hex("130a63757276653235353139")), Curve::x25519);  // "curve25519"
  EXPECT_EQ(curve_from_params(hex("130a65647761726473343438")), Curve::ed448);   // "edwards448"
  EXPECT_EQ(curve_bits(Curve::x448), 448u);
  EXPECT_EQ(curve_family(Curve::x25519), CurveFamily::montgomery);
  EXPECT_EQ(curve_family(Curve::ed448), CurveFamily::edwards);
  EXPECT_EQ(curve_family(Curve::p192), CurveFamily::weierstrass);
}

// P-256's parameters spelled out (openssl ecparam -name prime256v1 -param_enc explicit): the
// curve they name; a changed byte names none.
TEST(Curves, ExplicitParameters) {
  const Bytes p256 = hex(
      "3081f7020101302c06072a8648ce3d0101022100ffffffff00000001000000000000000000000000ffffffffffff"
      "ffffffffffff305b0420ffffffff00000001000000000000000000000000fffffffffffffffffffffffc04205ac6"
      "35d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b031500c49d360886e704936a6678e113"
      "9d26b7819f7e900441046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2"
      "fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5022100ffffffff00000000ffffffffffffff"
      "ffbce6faada7179e84f3b9cac2fc632551020101");
  EXPECT_TRUE(params_are_explicit(p256));
  EXPECT_EQ(curve_from_params(p256), Curve::p256);
  Bytes changed = p256;
  changed[100] ^= 1;
  EXPECT_EQ(curve_from_params(changed), std::nullopt);
  EXPECT_EQ(curve_from_params(Bytes(p256.begin(), p256.end() - 1)), std::nullopt);
  EXPECT_FALSE(params_are_explicit(curve_params(Curve::p256)));
}

TEST(Xdh, Rfc7748) {
  for (const auto& [file, curve] : {std::pair{"curves/x25519-rfc7748.txt", Curve::x25519},
                                    std::pair{"curves/x448-rfc7748.txt", Curve::x448}}) {
    auto records = test::parse_cavp(file);
    ASSERT_EQ(records.size(), 3u);
    for (const auto& r : records) {
      PKey key = PKey::ec_private(curve, hex(r.at("INPUT_SCALAR")));
      EXPECT_EQ(key.type(), PKey::Type::xdh);
      EXPECT_EQ(to_hex(key.agree(hex(r.at("INPUT_U")))), r.at("OUTPUT_U")) << file << r.line;
    }
  }
  // Generated pairs agree both ways; a peer key of the wrong size is refused.
  PKey a = PKey::generate_ec(Curve::x448), b = PKey::generate_ec(Curve::x448);
  EXPECT_EQ(a.agree(b.ec_point()), b.agree(a.ec_point()));
  EXPECT_EQ(a.ec_point().size(), 56u);
  EXPECT_THROW(a.agree(Bytes(32, 9)), CryptoError);
  EXPECT_EQ(PKey::from_private_der(a.private_der()).ec_point(), a.ec_point());
}

TEST(Ed448, Rfc8032) {
  size_t checked = 0;
  for (const auto& r : test::parse_cavp("curves/ed448-rfc8032.txt")) {
    if (r.fields.count("CONTEXT")) {
      continue;  // Ed448 with a context: PKCS#11's CK_EDDSA_PARAMS, which twinhsm refuses
    }
    PKey key = PKey::ec_private(Curve::ed448, hex(r.at("SECRET")));
    EXPECT_EQ(to_hex(key.ec_point()), r.at("PUBLIC"));
    Bytes msg = hex(r.at("MESSAGE"));
    Signer s(key, {Kind::eddsa, std::nullopt});
    s.update(msg);
    EXPECT_EQ(to_hex(s.finish()), r.at("SIGNATURE")) << "line " << r.line;
    Verifier v(PKey::ec_public(Curve::ed448, key.ec_point()), {Kind::eddsa, std::nullopt});
    v.update(msg);
    EXPECT_TRUE(v.finish(hex(r.at("SIGNATURE"))));
    ++checked;
  }
  EXPECT_EQ(checked, 8u);
  EXPECT_EQ(signature_size(PKey::generate_ec(Curve::ed448), {Kind::eddsa, std::nullopt}), 114u);
}

TEST(EcdsaP192, NistSigVer) {
  size_t good = 0, bad = 0;
  for (const auto& r : test::parse_cavp("ecdsa/FIPS_186-2-SigVer-P192.rsp", "Msg")) {
    Bytes point = hex("04" + r.at("Qx") + r.at("Qy"));
    Bytes sig = hex(r.at("R") + r.at("S"));
    bool expect = r.at("Result").rfind("P", 0) == 0;
    bool ok = false;
    try {
      Verifier v(PKey::ec_public(Curve::p192, point), {Kind::ecdsa, DigestAlg::sha1});
      v.update(hex(r.at("Msg")));
      ok = v.finish(sig);
    } catch (const CryptoError&) {
      ok = false;  // a public key off the curve
    }
    EXPECT_EQ(ok, expect) << "line " << r.line;
    (expect ? good : bad)++;
  }
  EXPECT_EQ(good + bad, 15u);
  EXPECT_GT(good, 0u);
  PKey key = PKey::generate_ec(Curve::p192);
  Signer s(key, {Kind::ecdsa, DigestAlg::sha256});
  s.update(hex("616263"));
  Bytes sig = s.finish();
  EXPECT_EQ(sig.size(), 48u);
  Verifier v(key, {Kind::ecdsa, DigestAlg::sha256});
  v.update(hex("616263"));
  EXPECT_TRUE(v.finish(sig));
}

}  // namespace
}  // namespace twinhsm::crypto
