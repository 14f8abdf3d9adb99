// SP 800-108 counter-mode KDF (HMAC-SHA256) against NIST CAVP, and PBKDF2-HMAC-SHA256 against
// RFC 7914 section 11 and Wycheproof.
#include "crypto/kdf.h"

#include <gtest/gtest.h>

#include "crypto/kdf_internal.h"
#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::bytes_of;
using test::hex;

// NIST's file covers counter widths of 8/16/24/32 bits placed before, after or in the middle of
// the fixed input. OpenSSL 3.0's KBKDF (so twinhsm) has one layout: a 32-bit counter before the
// fixed input. Those 40 records are checked; the other 440 are counted and skipped.
TEST(Kbkdf, NistCounterBeforeFixed32Bit) {
  auto records = test::parse_cavp("kbkdf/nist-800-108-KBKDF-CTR-HMAC_SHA256.rsp");
  ASSERT_EQ(records.size(), 480u);
  size_t checked = 0;
  size_t skipped = 0;
  for (const auto& r : records) {
    ASSERT_EQ(r.section.at("PRF"), "HMAC_SHA256");
    if (r.section.at("CTRLOCATION") != "BEFORE_FIXED" || r.section.at("RLEN") != "32_BITS") {
      ++skipped;
      continue;
    }
    size_t l_bits = std::stoul(r.at("L"));
    ASSERT_EQ(l_bits % 8, 0u);
    Bytes fixed = hex(r.at("FixedInputData"));
    ASSERT_EQ(fixed.size(), std::stoul(r.at("FixedInputDataByteLen")));
    SecureBytes ko = detail::kbkdf_counter_hmac_sha256_fixed(hex(r.at("KI")), fixed, l_bits / 8);
    EXPECT_EQ(to_hex(ko), r.at("KO")) << "line " << r.line;
    ++checked;
  }
  EXPECT_EQ(checked, 40u);
  EXPECT_EQ(skipped, 440u);
}

// kbkdf_counter_hmac_sha256 must be the NIST construction with fixed input
// label || 0x00 || context || [8 * out_len]_32.
TEST(Kbkdf, LabelContextLayout) {
  struct Case {
    Bytes key;
    Bytes label;
    Bytes context;
    size_t out_len;
  };
  const Case cases[] = {
      {Bytes(64, 0x11), bytes_of("twinhsm backup kek v1"), hex("00112233445566778899aabbccddeeff"),
       32},
      {Bytes(32, 0x22), bytes_of("twinhsm diversified backup key"), bytes_of("pair-0001"), 32},
      {Bytes(16, 0x33), Bytes{}, bytes_of("context only"), 1},
      {Bytes(32, 0x44), bytes_of("label only"), Bytes{}, 33},
      {Bytes(32, 0x55), Bytes{}, Bytes{}, 64},
      {Bytes(100, 0x66), bytes_of("long output"), Bytes(40, 0x77), 100},
  };
  for (const auto& c : cases) {
    Bytes fixed = c.label;
    fixed.push_back(0x00);
    append(fixed, c.context);
    append_be(fixed, 8 * c.out_len, 4);
    SecureBytes a = kbkdf_counter_hmac_sha256(c.key, c.label, c.context, c.out_len);
    SecureBytes b = detail::kbkdf_counter_hmac_sha256_fixed(c.key, fixed, c.out_len);
    ASSERT_EQ(a.size(), c.out_len);
    EXPECT_EQ(to_hex(a), to_hex(b)) << "out_len " << c.out_len;
  }
}

// Computed independently with the OpenSSL 3.0.19 command line (one line):
//   openssl kdf -keylen 32 -kdfopt mode:counter -kdfopt mac:HMAC -kdfopt digest:SHA256
//     -kdfopt hexkey:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
//     -kdfopt salt:"twinhsm backup kek v1" -kdfopt hexinfo:00112233445566778899aabbccddeeff KBKDF
// (and the same with -keylen 48), and checked against
// HMAC-SHA256(key, 00000001 || "twinhsm backup kek v1" || 00 || context || 00000100) in Python.
TEST(Kbkdf, OpenSslCommandLine) {
  Bytes key = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  Bytes context = hex("00112233445566778899aabbccddeeff");
  EXPECT_EQ(to_hex(kbkdf_counter_hmac_sha256(key, "twinhsm backup kek v1", context, 32)),
            "dbce557ac2f91d6e3b3d5e66939cdc9eb4dbd3997a660eec718272d2f44d3841");
  EXPECT_EQ(to_hex(kbkdf_counter_hmac_sha256(key, "twinhsm backup kek v1", context, 48)),
            "aaefd55b316e3fc44f32fa72df928e363465e6a85b5c6965deae86774e6f8b73e14a9b683596210f6fb3d7"
            "49d04e9668");
}

TEST(Kbkdf, ZeroLengthIsAnError) {
  EXPECT_THROW(kbkdf_counter_hmac_sha256(Bytes(32, 1), "l", Bytes{}, 0), CryptoError);
}

TEST(Pbkdf2, Rfc7914Section11) {
  auto doc = test::read_json("pbkdf2/rfc7914_section11_pbkdf2_sha256.json");
  size_t n = 0;
  for (const auto& t : doc.at("tests")) {
    SecureBytes dk = pbkdf2_hmac_sha256(
        bytes_of(t.at("password").get<std::string>()), bytes_of(t.at("salt").get<std::string>()),
        t.at("iterations").get<uint32_t>(), t.at("dkLen").get<size_t>());
    EXPECT_EQ(to_hex(dk), t.at("dk").get<std::string>()) << "c=" << t.at("iterations");
    ++n;
  }
  EXPECT_EQ(n, 2u);
}

// Every Wycheproof case is valid and none has more than 80,000 iterations, so none is skipped
// (the limit below keeps the run fast should the file grow).
TEST(Pbkdf2, Wycheproof) {
  constexpr uint32_t kMaxIterations = 100000;
  auto doc = test::read_json("pbkdf2/wycheproof_pbkdf2_hmacsha256_test.json");
  size_t checked = 0;
  size_t skipped = 0;
  for (const auto& group : doc.at("testGroups")) {
    for (const auto& t : group.at("tests")) {
      int id = t.at("tcId").get<int>();
      ASSERT_EQ(t.at("result").get<std::string>(), "valid") << "tcId " << id;
      auto iterations = t.at("iterationCount").get<uint32_t>();
      if (iterations > kMaxIterations) {
        ++skipped;
        continue;
      }
      SecureBytes dk = pbkdf2_hmac_sha256(hex(t.at("password").get<std::string>()),
                                          hex(t.at("salt").get<std::string>()), iterations,
                                          t.at("dkLen").get<size_t>());
      EXPECT_EQ(to_hex(dk), t.at("dk").get<std::string>()) << "tcId " << id;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 60u);
  EXPECT_EQ(skipped, 0u);
}

TEST(Pbkdf2, Errors) {
  EXPECT_THROW(pbkdf2_hmac_sha256(bytes_of("pw"), bytes_of("salt"), 0, 32), CryptoError);
  EXPECT_THROW(pbkdf2_hmac_sha256(bytes_of("pw"), bytes_of("salt"), 1, 0), CryptoError);
}

}  // namespace
}  // namespace twinhsm::crypto
