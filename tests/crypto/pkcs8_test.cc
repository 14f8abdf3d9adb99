// PKCS#8 PrivateKeyInfo export and import (PKey::private_der, PKey::from_private_der) for RSA, EC
// and Ed25519 keys: round trips keep every component; malformed input is refused.
#include <gtest/gtest.h>

#include "crypto/pkey.h"
#include "test_keys.h"
#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::hex;
using test::plain;

TEST(Pkcs8, RsaRoundTrip) {
  const PKey& key = test::rsa2048();
  SecureBytes der = key.private_der();
  ASSERT_GT(der.size(), 1000u);
  EXPECT_EQ(der[0], 0x30);  // SEQUENCE
  PKey back = PKey::from_private_der(der);
  EXPECT_EQ(back.type(), PKey::Type::rsa);
  EXPECT_TRUE(back.has_private());
  RsaPrivate a = key.rsa_private_components();
  RsaPrivate b = back.rsa_private_components();
  EXPECT_EQ(a.pub.modulus, b.pub.modulus);
  EXPECT_EQ(a.pub.public_exponent, b.pub.public_exponent);
  EXPECT_EQ(plain(a.private_exponent), plain(b.private_exponent));
  EXPECT_EQ(plain(a.prime1), plain(b.prime1));
  EXPECT_EQ(plain(a.coefficient), plain(b.coefficient));
  EXPECT_EQ(plain(back.private_der()), plain(der));
}

TEST(Pkcs8, EcAndEd25519RoundTrips) {
  for (Curve c : {Curve::p256, Curve::p384, Curve::p521, Curve::ed25519}) {
    SCOPED_TRACE(static_cast<int>(c));
    const PKey& key = test::ec_key(c);
    PKey back = PKey::from_private_der(key.private_der());
    EXPECT_EQ(back.curve(), c);
    EXPECT_EQ(plain(back.ec_private_value()), plain(key.ec_private_value()));
    EXPECT_EQ(back.ec_point(), key.ec_point());
    EXPECT_EQ(back.public_der(), key.public_der());
  }
}

// RFC 8410 section 10.3: an Ed25519 private key in PKCS#8, and its public key.
TEST(Pkcs8, Rfc8410Ed25519) {
  PKey key = PKey::from_private_der(hex(
      "302e020100300506032b657004220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f4"
      "4755842"));
  EXPECT_EQ(key.type(), PKey::Type::eddsa);
  EXPECT_EQ(to_hex(key.ec_point()),
            "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1");
}

TEST(Pkcs8, MalformedInputIsRefused) {
  SecureBytes der = test::ec_key(Curve::p256).private_der();
  Bytes good = plain(der);
  EXPECT_THROW(PKey::from_private_der(Bytes{}), CryptoError);
  EXPECT_THROW(PKey::from_private_der(ByteView(good).first(good.size() - 1)), CryptoError);
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_THROW(PKey::from_private_der(trailing), CryptoError);
  EXPECT_THROW(PKey::from_private_der(Bytes(64, 0x30)), CryptoError);
  // A SubjectPublicKeyInfo is not a private key.
  EXPECT_THROW(PKey::from_private_der(test::ec_key(Curve::p256).public_der()), CryptoError);
  // A public key has no PKCS#8 form.
  PKey pub = PKey::ec_public(Curve::p256, test::ec_key(Curve::p256).ec_point());
  EXPECT_THROW(pub.private_der(), CryptoError);
}

}  // namespace
}  // namespace twinhsm::crypto
