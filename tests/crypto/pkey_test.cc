// PKey: curves, generation, import/export of components, SubjectPublicKeyInfo, ECDH.
#include "crypto/pkey.h"

#include <gtest/gtest.h>

#include "test_keys.h"
#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::hex;
using test::plain;

const Curve kEcCurves[] = {Curve::p256, Curve::p384, Curve::p521};
const Curve kAllCurves[] = {Curve::p256, Curve::p384, Curve::p521, Curve::ed25519};

TEST(Curves, DerOids) {
  EXPECT_EQ(to_hex(curve_params(Curve::p256)), "06082a8648ce3d030107");
  EXPECT_EQ(to_hex(curve_params(Curve::p384)), "06052b81040022");
  EXPECT_EQ(to_hex(curve_params(Curve::p521)), "06052b81040023");
  EXPECT_EQ(to_hex(curve_params(Curve::ed25519)), "06032b6570");
  for (Curve c : kAllCurves) {
    EXPECT_EQ(curve_from_params(curve_params(c)), c);
  }
}

TEST(Curves, PrintableStringNames) {
  EXPECT_EQ(curve_from_params(hex("130c656477617264733235353139")), Curve::ed25519);
  Bytes p256 = {0x13, 5, 'P', '-', '2', '5', '6'};
  EXPECT_EQ(curve_from_params(p256), Curve::p256);
  Bytes prime = {0x13, 10, 'p', 'r', 'i', 'm', 'e', '2', '5', '6', 'v', '1'};
  EXPECT_EQ(curve_from_params(prime), Curve::p256);
}

TEST(Curves, UnknownOrMalformed) {
  EXPECT_EQ(curve_from_params(Bytes{}), std::nullopt);
  EXPECT_EQ(curve_from_params(hex("06082a8648ce3d0301")), std::nullopt);            // truncated
  EXPECT_EQ(curve_from_params(hex("06082a8648ce3d03010700")), std::nullopt);        // trailing byte
  EXPECT_EQ(curve_from_params(hex("06052b8104000a")), std::nullopt);                // secp256k1
  EXPECT_EQ(curve_from_params(hex("06032b6572")), std::nullopt);                    // X25519 + 4
  EXPECT_EQ(curve_from_params(hex("130c6564776172647332353531")), std::nullopt);    // bad length
  EXPECT_EQ(curve_from_params(hex("0c0c656477617264733235353139")), std::nullopt);  // UTF8String
}

TEST(Curves, Bits) {
  EXPECT_EQ(curve_bits(Curve::p256), 256u);
  EXPECT_EQ(curve_bits(Curve::p384), 384u);
  EXPECT_EQ(curve_bits(Curve::p521), 521u);
  EXPECT_EQ(curve_bits(Curve::ed25519), 255u);
}

TEST(RsaKey, GeneratedProperties) {
  const PKey& key = test::rsa2048();
  EXPECT_EQ(key.type(), PKey::Type::rsa);
  EXPECT_TRUE(key.has_private());
  EXPECT_EQ(key.bits(), 2048u);
  EXPECT_EQ(key.curve(), std::nullopt);
  RsaPublic pub = key.rsa_public_components();
  EXPECT_EQ(pub.modulus.size(), 256u);
  EXPECT_NE(pub.modulus[0], 0);
  EXPECT_EQ(to_hex(pub.public_exponent), "010001");
}

TEST(RsaKey, ExportImportRoundTrip) {
  const PKey& key = test::rsa2048();
  RsaPrivate priv = key.rsa_private_components();
  for (const SecureBytes* part : {&priv.private_exponent, &priv.prime1, &priv.prime2,
                                  &priv.exponent1, &priv.exponent2, &priv.coefficient}) {
    ASSERT_FALSE(part->empty());
    EXPECT_NE((*part)[0], 0) << "components have no leading zero";
  }
  EXPECT_EQ(priv.prime1.size(), 128u);
  PKey again = PKey::rsa_private(priv);
  EXPECT_TRUE(again.has_private());
  EXPECT_EQ(again.public_der(), key.public_der());
  RsaPrivate priv2 = again.rsa_private_components();
  EXPECT_TRUE(ct_equal(priv2.private_exponent, priv.private_exponent));
  EXPECT_TRUE(ct_equal(priv2.coefficient, priv.coefficient));

  PKey pub = PKey::rsa_public(priv.pub);
  EXPECT_FALSE(pub.has_private());
  EXPECT_EQ(pub.bits(), 2048u);
  EXPECT_EQ(pub.public_der(), key.public_der());
  EXPECT_THROW(pub.rsa_private_components(), CryptoError);
}

TEST(RsaKey, InconsistentComponentsAreRejected) {
  RsaPrivate priv = test::rsa2048().rsa_private_components();
  RsaPrivate bad = priv;
  bad.private_exponent.back() ^= 0x02;
  EXPECT_THROW(PKey::rsa_private(bad), CryptoError);
  bad = priv;
  bad.prime1.back() ^= 0x02;
  EXPECT_THROW(PKey::rsa_private(bad), CryptoError);
  RsaPublic even = priv.pub;
  even.modulus.back() &= 0xfe;
  EXPECT_THROW(PKey::rsa_public(even), CryptoError);
  EXPECT_THROW(PKey::rsa_public(RsaPublic{{}, hex("010001")}), CryptoError);
}

TEST(RsaKey, GenerationWithOtherExponent) {
  PKey key = PKey::generate_rsa(1024, hex("03"));
  EXPECT_EQ(key.bits(), 1024u);
  EXPECT_EQ(to_hex(key.rsa_public_components().public_exponent), "03");
  EXPECT_THROW(PKey::generate_rsa(256, {}), CryptoError);
}

TEST(EcKey, GeneratedProperties) {
  for (Curve c : kEcCurves) {
    const PKey& key = test::ec_key(c);
    size_t fb = (curve_bits(c) + 7) / 8;
    EXPECT_EQ(key.type(), PKey::Type::ec);
    EXPECT_EQ(key.curve(), c);
    EXPECT_EQ(key.bits(), curve_bits(c));
    EXPECT_TRUE(key.has_private());
    Bytes point = key.ec_point();
    EXPECT_EQ(point.size(), 1 + 2 * fb);
    EXPECT_EQ(point[0], 0x04);
    EXPECT_EQ(key.ec_private_value().size(), fb);
    EXPECT_THROW(key.rsa_public_components(), CryptoError);
  }
}

TEST(EcKey, ExportImportRoundTrip) {
  for (Curve c : kEcCurves) {
    const PKey& key = test::ec_key(c);
    PKey priv = PKey::ec_private(c, key.ec_private_value());
    EXPECT_TRUE(priv.has_private());
    EXPECT_EQ(priv.ec_point(), key.ec_point()) << "public point derived from the scalar";
    EXPECT_EQ(priv.public_der(), key.public_der());
    EXPECT_TRUE(ct_equal(priv.ec_private_value(), key.ec_private_value()));
    PKey pub = PKey::ec_public(c, key.ec_point());
    EXPECT_FALSE(pub.has_private());
    EXPECT_EQ(pub.public_der(), key.public_der());
    EXPECT_THROW(pub.ec_private_value(), CryptoError);
  }
}

TEST(EcKey, Rfc6979KeyPair) {
  // RFC 6979 A.2.5 (P-256): the public point follows from the private scalar.
  PKey key = PKey::ec_private(
      Curve::p256, hex("c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"));
  EXPECT_EQ(to_hex(key.ec_point()),
            "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a4"
            "1ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299");
}

TEST(EcKey, ShortScalarIsPadded) {
  // A scalar given without its leading zero bytes exports at the field size.
  Bytes d = hex("01");
  PKey key = PKey::ec_private(Curve::p521, d);
  SecureBytes value = key.ec_private_value();
  ASSERT_EQ(value.size(), 66u);
  EXPECT_EQ(value.back(), 1);
  EXPECT_EQ(value[0], 0);
}

TEST(EcKey, InvalidImportsAreRejected) {
  Bytes point = test::ec_key(Curve::p256).ec_point();
  Bytes off_curve = point;
  off_curve.back() ^= 0x01;
  EXPECT_THROW(PKey::ec_public(Curve::p256, off_curve), CryptoError);
  EXPECT_THROW(PKey::ec_public(Curve::p384, point), CryptoError);  // wrong length for the curve
  Bytes compressed(point.begin(), point.begin() + 33);
  compressed[0] = 0x02;
  EXPECT_THROW(PKey::ec_public(Curve::p256, compressed), CryptoError);
  EXPECT_THROW(PKey::ec_private(Curve::p256, Bytes(32, 0)), CryptoError);     // zero
  EXPECT_THROW(PKey::ec_private(Curve::p256, Bytes(32, 0xff)), CryptoError);  // >= order
  EXPECT_THROW(PKey::ec_private(Curve::p256, Bytes(33, 0x01)), CryptoError);  // too long
  EXPECT_THROW(PKey::ec_private(Curve::p256, Bytes{}), CryptoError);
}

TEST(Ed25519Key, GeneratedProperties) {
  const PKey& key = test::ec_key(Curve::ed25519);
  EXPECT_EQ(key.type(), PKey::Type::eddsa);
  EXPECT_EQ(key.curve(), Curve::ed25519);
  EXPECT_EQ(key.bits(), 255u);
  EXPECT_EQ(key.ec_point().size(), 32u);
  EXPECT_EQ(key.ec_private_value().size(), 32u);
  PKey priv = PKey::ec_private(Curve::ed25519, key.ec_private_value());
  EXPECT_EQ(priv.ec_point(), key.ec_point());
  EXPECT_EQ(priv.public_der(), key.public_der());
  PKey pub = PKey::ec_public(Curve::ed25519, key.ec_point());
  EXPECT_FALSE(pub.has_private());
  EXPECT_EQ(pub.public_der(), key.public_der());
  EXPECT_THROW(PKey::ec_public(Curve::ed25519, Bytes(31, 1)), CryptoError);
  EXPECT_THROW(PKey::ec_private(Curve::ed25519, Bytes(33, 1)), CryptoError);
}

TEST(Ed25519Key, Rfc8032PublicKey) {
  // RFC 8032 section 7.1, TEST 1.
  PKey key = PKey::ec_private(
      Curve::ed25519, hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  EXPECT_EQ(to_hex(key.ec_point()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  // RFC 8410 SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { OID 1.3.101.112 } BIT STRING }.
  EXPECT_EQ(to_hex(key.public_der()),
            "302a300506032b6570032100d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707"
            "511a");
}

TEST(PublicDer, RoundTripEveryKeyType) {
  std::vector<const PKey*> keys = {&test::rsa2048()};
  for (Curve c : kAllCurves) {
    keys.push_back(&test::ec_key(c));
  }
  for (const PKey* key : keys) {
    Bytes der = key->public_der();
    PKey parsed = PKey::from_public_der(der);
    EXPECT_EQ(parsed.type(), key->type());
    EXPECT_EQ(parsed.curve(), key->curve());
    EXPECT_EQ(parsed.bits(), key->bits());
    EXPECT_FALSE(parsed.has_private());
    EXPECT_EQ(parsed.public_der(), der);
  }
}

TEST(PublicDer, CompressedPointComesOutUncompressed) {
  Bytes point = test::ec_key(Curve::p256).ec_point();
  // SPKI with the compressed point: 02/03 (parity of Y) || X.
  Bytes spki = hex("3039301306072a8648ce3d020106082a8648ce3d030107032200");
  spki.push_back((point.back() & 1) ? 0x03 : 0x02);
  spki.insert(spki.end(), point.begin() + 1, point.begin() + 33);
  PKey key = PKey::from_public_der(spki);
  EXPECT_EQ(key.curve(), Curve::p256);
  EXPECT_EQ(key.ec_point(), point);
  EXPECT_EQ(key.public_der(), test::ec_key(Curve::p256).public_der());
}

TEST(PublicDer, MalformedIsRejected) {
  Bytes der = test::ec_key(Curve::p256).public_der();
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_THROW(PKey::from_public_der(trailing), CryptoError);
  Bytes truncated(der.begin(), der.end() - 1);
  EXPECT_THROW(PKey::from_public_der(truncated), CryptoError);
  EXPECT_THROW(PKey::from_public_der(Bytes{}), CryptoError);
  EXPECT_THROW(PKey::from_public_der(hex("3000")), CryptoError);
  // A secp256k1 key: a curve twinhsm does not handle.
  EXPECT_THROW(PKey::from_public_der(hex("3036301006072a8648ce3d020106052b8104000a032200"
                                         "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28"
                                         "d959f2815b16f81798")),
               CryptoError);
  // An X25519 key (RFC 8410 example): handled now.
  EXPECT_EQ(PKey::from_public_der(hex("302a300506032b656e032100"
                                      "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f"
                                      "882b4f"))
                .type(),
            PKey::Type::xdh);
}

TEST(Ecdh, BothSidesAgree) {
  for (Curve c : kEcCurves) {
    PKey a = PKey::generate_ec(c);
    PKey b = PKey::generate_ec(c);
    SecureBytes ab = a.agree(b.ec_point());
    SecureBytes ba = b.agree(a.ec_point());
    EXPECT_EQ(ab.size(), (curve_bits(c) + 7) / 8);
    EXPECT_TRUE(ct_equal(ab, ba));
  }
}

TEST(Ecdh, Errors) {
  const PKey& a = test::ec_key(Curve::p256);
  Bytes bad = test::ec_key(Curve::p256).ec_point();
  bad.back() ^= 1;
  EXPECT_THROW(a.agree(bad), CryptoError);
  EXPECT_THROW(a.agree(test::ec_key(Curve::p384).ec_point()), CryptoError);
  PKey pub = PKey::ec_public(Curve::p256, a.ec_point());
  EXPECT_THROW(pub.agree(a.ec_point()), CryptoError);
  EXPECT_THROW(test::ec_key(Curve::ed25519).agree(Bytes(32, 9)), UsageError);
  EXPECT_THROW(test::rsa2048().agree(a.ec_point()), UsageError);
}

}  // namespace
}  // namespace twinhsm::crypto
