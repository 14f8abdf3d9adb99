// AES-KW and AES-KWP: NIST CAVP SP 800-38F vectors (AES-256, all records), RFC 3394 section 4,
// and Wycheproof's edge cases.
#include "crypto/keywrap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::hex;
using test::plain;

using WrapFn = std::function<Bytes(std::span<const uint8_t>, std::span<const uint8_t>)>;
using UnwrapFn = std::function<SecureBytes(std::span<const uint8_t>, ByteView)>;

const WrapFn kKw = [](auto k, auto d) { return aes_key_wrap(k, d); };
const UnwrapFn kKwUn = [](auto k, auto w) { return aes_key_unwrap(k, w); };
const WrapFn kKwp = [](auto k, auto d) { return aes_key_wrap_pad(k, d); };
const UnwrapFn kKwpUn = [](auto k, auto w) { return aes_key_unwrap_pad(k, w); };

// check_nist_ae: every record wraps P to C (and C unwraps back to P).
void check_nist_ae(std::string_view file, const WrapFn& wrap, const UnwrapFn& unwrap) {
  auto records = test::parse_cavp(file);
  ASSERT_EQ(records.size(), 500u) << file;
  for (const auto& r : records) {
    Bytes k = hex(r.at("K"));
    Bytes p = hex(r.at("P"));
    Bytes c = hex(r.at("C"));
    EXPECT_EQ(to_hex(wrap(k, p)), to_hex(c)) << file << " line " << r.line;
    EXPECT_EQ(plain(unwrap(k, c)), p) << file << " line " << r.line;
  }
}

// check_nist_ad: every record unwraps C to P, or, when marked FAIL, throws IntegrityError.
void check_nist_ad(std::string_view file, const UnwrapFn& unwrap) {
  auto records = test::parse_cavp(file);
  ASSERT_EQ(records.size(), 500u) << file;
  size_t fails = 0;
  for (const auto& r : records) {
    Bytes k = hex(r.at("K"));
    Bytes c = hex(r.at("C"));
    if (r.fail) {
      ++fails;
      EXPECT_THROW(unwrap(k, c), IntegrityError) << file << " line " << r.line;
    } else {
      EXPECT_EQ(plain(unwrap(k, c)), hex(r.at("P"))) << file << " line " << r.line;
    }
  }
  EXPECT_EQ(fails, 100u) << file;  // NIST: 20 FAIL records per 100
}

TEST(AesKeyWrap, NistKwAe256) {
  check_nist_ae("keywrap/KW_AE_256.txt", kKw, kKwUn);
}
TEST(AesKeyWrap, NistKwAd256) {
  check_nist_ad("keywrap/KW_AD_256.txt", kKwUn);
}
TEST(AesKeyWrapPad, NistKwpAe256) {
  check_nist_ae("keywrap/KWP_AE_256.txt", kKwp, kKwpUn);
}
TEST(AesKeyWrapPad, NistKwpAd256) {
  check_nist_ad("keywrap/KWP_AD_256.txt", kKwpUn);
}

TEST(AesKeyWrap, Rfc3394Section4) {
  auto doc = test::read_json("keywrap/rfc3394_section4.json");
  size_t n = 0;
  for (const auto& t : doc.at("tests")) {
    Bytes kek = hex(t.at("kek").get<std::string>());
    Bytes data = hex(t.at("key_data").get<std::string>());
    Bytes ct = hex(t.at("ciphertext").get<std::string>());
    std::string section = t.at("section").get<std::string>();
    EXPECT_EQ(aes_key_wrap(kek, data), ct) << "RFC 3394 " << section;
    EXPECT_EQ(plain(aes_key_unwrap(kek, ct)), data) << "RFC 3394 " << section;
    ++n;
  }
  EXPECT_EQ(n, 6u);
}

bool has_flag(const nlohmann::json& t, std::string_view flag) {
  const auto& flags = t.at("flags");
  return std::any_of(flags.begin(), flags.end(),
                     [&](const nlohmann::json& f) { return f.get<std::string>() == flag; });
}

struct WycheproofCounts {
  size_t valid = 0, invalid = 0, acceptable = 0;
};

// check_wycheproof: valid cases must wrap and unwrap exactly; invalid ones must not unwrap
// (IntegrityError when the flag says the content was altered and the length is well formed, i.e.
// a multiple of 8 and at least min_len; CryptoError, as specified, for malformed lengths) and
// must not wrap to ct;
// "acceptable" ones (8-byte KW keys, which RFC 3394 allows and SP 800-38F does not) may be
// refused, but if an operation succeeds its result must match.
WycheproofCounts check_wycheproof(std::string_view file, const WrapFn& wrap, const UnwrapFn& unwrap,
                                  std::string_view integrity_flag, size_t min_len) {
  auto doc = test::read_json(file);
  WycheproofCounts counts;
  for (const auto& group : doc.at("testGroups")) {
    for (const auto& t : group.at("tests")) {
      int id = t.at("tcId").get<int>();
      Bytes key = hex(t.at("key").get<std::string>());
      Bytes msg = hex(t.at("msg").get<std::string>());
      Bytes ct = hex(t.at("ct").get<std::string>());
      std::string result = t.at("result").get<std::string>();
      if (result == "valid") {
        ++counts.valid;
        EXPECT_EQ(to_hex(wrap(key, msg)), to_hex(ct)) << file << " tcId " << id;
        EXPECT_EQ(plain(unwrap(key, ct)), msg) << file << " tcId " << id;
      } else if (result == "invalid") {
        ++counts.invalid;
        bool well_formed = ct.size() % 8 == 0 && ct.size() >= min_len;
        if (!well_formed) {
          EXPECT_THROW(unwrap(key, ct), CryptoError) << file << " tcId " << id;
        } else if (has_flag(t, integrity_flag)) {
          EXPECT_THROW(unwrap(key, ct), IntegrityError) << file << " tcId " << id;
        } else {
          EXPECT_THROW(unwrap(key, ct), Error) << file << " tcId " << id;
        }
        try {
          EXPECT_NE(wrap(key, msg), ct) << file << " tcId " << id;
        } catch (const Error&) {
          // refusing to wrap is right too
        }
      } else {
        EXPECT_EQ(result, "acceptable") << file << " tcId " << id;
        ++counts.acceptable;
        try {
          EXPECT_EQ(wrap(key, msg), ct) << file << " tcId " << id;
        } catch (const CryptoError&) {
        }
        try {
          EXPECT_EQ(plain(unwrap(key, ct)), msg) << file << " tcId " << id;
        } catch (const CryptoError&) {
        }
      }
    }
  }
  return counts;
}

TEST(AesKeyWrap, Wycheproof) {
  auto n = check_wycheproof("keywrap/wycheproof_aes_wrap_test.json", kKw, kKwUn, "ModifiedIv", 24);
  EXPECT_EQ(n.valid, 36u);
  EXPECT_EQ(n.invalid, 126u);
  EXPECT_EQ(n.acceptable, 3u);
}

TEST(AesKeyWrapPad, Wycheproof) {
  auto n =
      check_wycheproof("keywrap/wycheproof_aes_kwp_test.json", kKwp, kKwpUn, "ModifiedPadding", 16);
  EXPECT_EQ(n.valid, 77u);
  EXPECT_EQ(n.invalid, 177u);
  EXPECT_EQ(n.acceptable, 0u);
}

TEST(AesKeyWrap, SpecifiedLengthErrors) {
  Bytes kek(32, 1);
  EXPECT_THROW(aes_key_wrap(kek, Bytes(8, 0)), CryptoError);   // < 16 bytes
  EXPECT_THROW(aes_key_wrap(kek, Bytes(20, 0)), CryptoError);  // not a multiple of 8
  EXPECT_THROW(aes_key_wrap(kek, Bytes{}), CryptoError);
  EXPECT_THROW(aes_key_wrap(Bytes(31, 1), Bytes(16, 0)), CryptoError);  // bad KEK
  EXPECT_THROW(aes_key_unwrap(kek, Bytes(16, 0)), CryptoError);
  EXPECT_THROW(aes_key_unwrap(kek, Bytes(25, 0)), CryptoError);
  EXPECT_THROW(aes_key_unwrap(Bytes(15, 1), Bytes(24, 0)), CryptoError);
  EXPECT_THROW(aes_key_wrap_pad(kek, Bytes{}), CryptoError);
  EXPECT_THROW(aes_key_unwrap_pad(kek, Bytes(8, 0)), CryptoError);
  EXPECT_THROW(aes_key_unwrap_pad(kek, Bytes(17, 0)), CryptoError);
}

TEST(AesKeyWrap, WrongKekIsAnIntegrityError) {
  Bytes kek(32, 1);
  Bytes other(32, 2);
  Bytes sk(32, 9);
  Bytes wrapped = aes_key_wrap(kek, sk);
  ASSERT_EQ(wrapped.size(), 40u);
  EXPECT_EQ(plain(aes_key_unwrap(kek, wrapped)), sk);
  EXPECT_THROW(aes_key_unwrap(other, wrapped), IntegrityError);
  Bytes wrapped_pad = aes_key_wrap_pad(kek, Bytes(33, 9));
  ASSERT_EQ(wrapped_pad.size(), 48u);
  EXPECT_THROW(aes_key_unwrap_pad(other, wrapped_pad), IntegrityError);
}

TEST(AesKeyWrapPad, EveryLengthRoundTrips) {
  for (size_t kek_len : {16u, 24u, 32u}) {
    Bytes kek(kek_len, 0x5a);
    for (size_t n = 1; n <= 80; ++n) {
      Bytes data(n);
      for (size_t i = 0; i < n; ++i) {
        data[i] = static_cast<uint8_t>(n + i);
      }
      Bytes w = aes_key_wrap_pad(kek, data);
      ASSERT_EQ(w.size(), (n + 7) / 8 * 8 + 8) << n;
      EXPECT_EQ(plain(aes_key_unwrap_pad(kek, w)), data) << n;
    }
  }
}

}  // namespace
}  // namespace twinhsm::crypto
