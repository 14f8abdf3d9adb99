// SoftHSMv2's PIN key derivation against a token that softhsm2-util 2.6.1 made
// (tests/data/vectors/softhsm2): for the user and the SO PIN, the derived key equals the one
// Python's hashlib computes, and it opens SoftHSMv2's PIN blob (AES-256-CBC, PKCS#7 padding) to
// "RJR" followed by the token key, which then opens a private attribute of the token.
#include "crypto/softhsm2_pbe.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "crypto/cipher.h"
#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::bytes_of;
using test::hex;
using test::plain;

Bytes cbc_decrypt(ByteView key, ByteView iv_and_ciphertext) {
  SymmetricCipher c(CipherMode::cbc, key, iv_and_ciphertext.first(kAesBlock), false, true);
  Bytes out = plain(c.update(iv_and_ciphertext.subspan(kAesBlock)));
  Bytes rest = plain(c.finish());
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

TEST(SoftHsm2PinKey, KnownAnswersFromARealToken) {
  auto v = test::read_json("softhsm2/pin_key.json");
  Bytes label_ct = hex(v["private_attribute"]["ciphertext"].get<std::string>());
  ASSERT_EQ(v["cases"].size(), 2u);
  for (const auto& c : v["cases"]) {
    SCOPED_TRACE(c["role"].get<std::string>());
    Bytes blob = hex(c["pin_blob"].get<std::string>());
    ByteView salt = ByteView(blob).first(8);
    EXPECT_EQ(softhsm2_pin_key_iterations(salt), c["iterations"].get<unsigned>());
    SecureBytes key = softhsm2_pin_key(bytes_of(c["pin"].get<std::string>()), salt);
    EXPECT_EQ(to_hex(key), c["pin_key"].get<std::string>());
    Bytes opened = cbc_decrypt(key, ByteView(blob).subspan(8));
    ASSERT_EQ(opened.size(), 3u + 32u);
    EXPECT_EQ(Bytes(opened.begin(), opened.begin() + 3), bytes_of("RJR"));
    Bytes token_key(opened.begin() + 3, opened.end());
    EXPECT_EQ(to_hex(token_key), c["token_key"].get<std::string>());
    EXPECT_EQ(cbc_decrypt(token_key, label_ct),
              bytes_of(v["private_attribute"]["plaintext_ascii"].get<std::string>()));
  }
}

TEST(SoftHsm2PinKey, AnotherPinGivesAnotherKeyThatFailsTheBlob) {
  auto v = test::read_json("softhsm2/pin_key.json");
  Bytes blob = hex(v["cases"][0]["pin_blob"].get<std::string>());
  SecureBytes key = softhsm2_pin_key(bytes_of("user-pin-1235"), ByteView(blob).first(8));
  EXPECT_NE(to_hex(key), v["cases"][0]["pin_key"].get<std::string>());
  // Wrong key: the padding check fails, or (rarely) the magic differs.
  bool refused = false;
  try {
    Bytes opened = cbc_decrypt(key, ByteView(blob).subspan(8));
    refused = opened.size() < 3 || Bytes(opened.begin(), opened.begin() + 3) != bytes_of("RJR");
  } catch (const IntegrityError&) {
    refused = true;
  }
  EXPECT_TRUE(refused);
}

TEST(SoftHsm2PinKey, IterationsComeFromTheSaltsLastByte) {
  EXPECT_EQ(softhsm2_pin_key_iterations(hex("0000000000000000")), 1500u);
  EXPECT_EQ(softhsm2_pin_key_iterations(hex("00000000000000ff")), 1755u);
  // Only the last byte counts, whatever the salt's length.
  EXPECT_EQ(softhsm2_pin_key_iterations(hex("ff000000000000000001")), 1501u);
}

TEST(SoftHsm2PinKey, RefusesAShortSaltAndAnEmptyPin) {
  EXPECT_THROW(softhsm2_pin_key(bytes_of("1234"), hex("00000000000000")), UsageError);
  EXPECT_THROW(softhsm2_pin_key(ByteView(), hex("0000000000000000")), UsageError);
}

}  // namespace
}  // namespace twinhsm::crypto
