// AES-GCM: the test cases of McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)"
// (the GCM submission to NIST), cases 1-2 (AES-128) and 13-18 (AES-256, 96-bit, 64-bit and
// 480-bit IVs), plus truncated tags and tampering.
#include "crypto/aead.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::hex;
using test::plain;

struct GcmCase {
  int number;
  const char* key;
  const char* iv;
  const char* aad;
  const char* plaintext;
  const char* ciphertext;
  const char* tag;
};

constexpr const char* kK = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr const char* kP64 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
    "b525b16aedf5aa0de657ba637b391aafd255";
constexpr const char* kP60 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
    "b525b16aedf5aa0de657ba637b39";
constexpr const char* kA = "feedfacedeadbeeffeedfacedeadbeefabaddad2";

const GcmCase kCases[] = {
    {1, "00000000000000000000000000000000", "000000000000000000000000", "", "", "",
     "58e2fccefa7e3061367f1d57a4e7455a"},
    {2, "00000000000000000000000000000000", "000000000000000000000000", "",
     "00000000000000000000000000000000", "0388dace60b6a392f328c2b971b2fe78",
     "ab6e47d42cec13bdf53a67b21257bddf"},
    {13, "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {14, "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {15, kK, "cafebabefacedbaddecaf888", "", kP64,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056"
     "828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {16, kK, "cafebabefacedbaddecaf888", kA, kP60,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056"
     "828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    {17, kK, "cafebabefacedbad", kA, kP60,
     "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0feb582d33934a4f0954cc2363b"
     "c73f7862ac430e64abe499f47c9b1f",
     "3a337dbf46a792c45e454913fe2ea8f2"},
    {18, kK,
     "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728c3c0c95156809539fcf0e2429a"
     "6b525416aedbf5a0de6a57a637b39b",
     kA, kP60,
     "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf40fc0c3b780f244452da3ebf1c5"
     "d82cdea2418997200ef82e44ae7e3f",
     "a44a8266ee1c8eb0c8b5d4cf5ae9f19a"},
};

TEST(AesGcm, McGrewViegaEncrypt) {
  for (const auto& c : kCases) {
    Bytes out = aes_gcm_encrypt(hex(c.key), hex(c.iv), hex(c.aad), hex(c.plaintext));
    EXPECT_EQ(to_hex(out), std::string(c.ciphertext) + c.tag) << "test case " << c.number;
  }
}

TEST(AesGcm, McGrewViegaDecrypt) {
  for (const auto& c : kCases) {
    Bytes in = hex(std::string(c.ciphertext) + c.tag);
    SecureBytes pt = aes_gcm_decrypt(hex(c.key), hex(c.iv), hex(c.aad), in);
    EXPECT_EQ(to_hex(pt), c.plaintext) << "test case " << c.number;
  }
}

TEST(AesGcm, TruncatedTag) {
  const GcmCase& c = kCases[5];  // test case 16
  for (size_t tag_len : {4u, 8u, 12u, 13u, 16u}) {
    Bytes out = aes_gcm_encrypt(hex(c.key), hex(c.iv), hex(c.aad), hex(c.plaintext), tag_len);
    // A shorter tag is the prefix of the full one (SP 800-38D MSB_t).
    EXPECT_EQ(to_hex(out), std::string(c.ciphertext) + std::string(c.tag).substr(0, 2 * tag_len));
    EXPECT_EQ(to_hex(aes_gcm_decrypt(hex(c.key), hex(c.iv), hex(c.aad), out, tag_len)),
              c.plaintext);
  }
}

class AesGcmTamper : public ::testing::Test {
 protected:
  Bytes key = hex(kK);
  Bytes iv = hex("cafebabefacedbaddecaf888");
  Bytes aad = hex(kA);
  Bytes ct = aes_gcm_encrypt(key, iv, aad, hex(kP60));
};

TEST_F(AesGcmTamper, EveryFlippedBitIsDetected) {
  for (size_t i = 0; i < ct.size(); ++i) {
    Bytes bad = ct;
    bad[i] ^= static_cast<uint8_t>(1u << (i % 8));
    EXPECT_THROW(aes_gcm_decrypt(key, iv, aad, bad), IntegrityError) << "byte " << i;
  }
}

TEST_F(AesGcmTamper, WrongAadKeyOrIv) {
  Bytes other_aad = aad;
  other_aad.back() ^= 1;
  EXPECT_THROW(aes_gcm_decrypt(key, iv, other_aad, ct), IntegrityError);
  EXPECT_THROW(aes_gcm_decrypt(key, iv, Bytes{}, ct), IntegrityError);
  Bytes other_key = key;
  other_key[0] ^= 1;
  EXPECT_THROW(aes_gcm_decrypt(other_key, iv, aad, ct), IntegrityError);
  Bytes other_iv = iv;
  other_iv[11] ^= 1;
  EXPECT_THROW(aes_gcm_decrypt(key, other_iv, aad, ct), IntegrityError);
}

TEST_F(AesGcmTamper, TruncationIsDetected) {
  Bytes shorter(ct.begin(), ct.end() - 1);
  EXPECT_THROW(aes_gcm_decrypt(key, iv, aad, shorter), IntegrityError);
  Bytes dropped_block(ct.begin() + 16, ct.end());
  EXPECT_THROW(aes_gcm_decrypt(key, iv, aad, dropped_block), IntegrityError);
  EXPECT_THROW(aes_gcm_decrypt(key, iv, aad, Bytes(15, 0)), IntegrityError);
  EXPECT_THROW(aes_gcm_decrypt(key, iv, aad, Bytes{}), IntegrityError);
  Bytes longer = ct;
  longer.push_back(0);
  EXPECT_THROW(aes_gcm_decrypt(key, iv, aad, longer), IntegrityError);
}

TEST(AesGcm, BadParametersAreCryptoErrors) {
  Bytes key(32, 1);
  Bytes iv(12, 2);
  EXPECT_THROW(aes_gcm_encrypt(Bytes(31, 1), iv, {}, Bytes(4, 0)), CryptoError);
  EXPECT_THROW(aes_gcm_encrypt(Bytes{}, iv, {}, Bytes(4, 0)), CryptoError);
  EXPECT_THROW(aes_gcm_encrypt(key, Bytes{}, {}, Bytes(4, 0)), CryptoError);
  EXPECT_THROW(aes_gcm_encrypt(key, iv, {}, Bytes(4, 0), 3), CryptoError);
  EXPECT_THROW(aes_gcm_encrypt(key, iv, {}, Bytes(4, 0), 17), CryptoError);
  Bytes ct = aes_gcm_encrypt(key, iv, {}, Bytes(4, 0));
  EXPECT_THROW(aes_gcm_decrypt(Bytes(20, 1), iv, {}, ct), CryptoError);
  EXPECT_THROW(aes_gcm_decrypt(key, iv, {}, ct, 0), CryptoError);
}

TEST(AesGcm, RoundTripSizes) {
  Bytes key(24, 7);  // AES-192 too
  for (size_t n : {0u, 1u, 15u, 16u, 17u, 1000u, 65537u}) {
    Bytes pt(n);
    for (size_t i = 0; i < n; ++i) {
      pt[i] = static_cast<uint8_t>(i * 31);
    }
    Bytes iv(12, static_cast<uint8_t>(n));
    Bytes ct = aes_gcm_encrypt(key, iv, test::bytes_of("row 17"), pt);
    ASSERT_EQ(ct.size(), n + 16);
    EXPECT_EQ(plain(aes_gcm_decrypt(key, iv, test::bytes_of("row 17"), ct)), pt);
  }
}

}  // namespace
}  // namespace twinhsm::crypto
