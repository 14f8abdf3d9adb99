// SHA-1/SHA-2 known answers (FIPS 180-4 examples) and RFC 4231 HMAC-SHA-256/384/512 test cases.
#include "crypto/digest.h"

#include <gtest/gtest.h>

#include <string>

#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::bytes_of;
using test::hex;
using test::plain;

TEST(Digest, Sizes) {
  EXPECT_EQ(digest_size(DigestAlg::sha1), 20u);
  EXPECT_EQ(digest_size(DigestAlg::sha224), 28u);
  EXPECT_EQ(digest_size(DigestAlg::sha256), 32u);
  EXPECT_EQ(digest_size(DigestAlg::sha384), 48u);
  EXPECT_EQ(digest_size(DigestAlg::sha512), 64u);
  EXPECT_STREQ(digest_name(DigestAlg::sha256), "SHA256");
}

struct DigestCase {
  DigestAlg alg;
  std::string message;
  const char* expected;
};

TEST(Digest, Fips180KnownAnswers) {
  const DigestCase cases[] = {
      {DigestAlg::sha1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
      {DigestAlg::sha224, "abc", "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"},
      {DigestAlg::sha256, "abc",
       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {DigestAlg::sha256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
      {DigestAlg::sha256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {DigestAlg::sha384, "abc",
       "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca13"
       "4c825a7"},
      {DigestAlg::sha512, "abc",
       "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a"
       "3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(to_hex(digest(c.alg, bytes_of(c.message))), c.expected)
        << digest_name(c.alg) << "(\"" << c.message << "\")";
  }
}

TEST(Digest, StreamingMillionA) {
  // FIPS 180-2 appendix B.3: one million 'a', fed in uneven parts.
  Digester d(DigestAlg::sha256);
  std::string chunk(999, 'a');
  size_t fed = 0;
  while (fed + chunk.size() <= 1000000) {
    d.update(bytes_of(chunk));
    fed += chunk.size();
  }
  d.update(bytes_of(std::string(1000000 - fed, 'a')));
  EXPECT_EQ(to_hex(d.finish()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Digest, FinishTwiceIsAUsageError) {
  Digester d(DigestAlg::sha256);
  d.update(bytes_of("abc"));
  d.finish();
  EXPECT_THROW(d.finish(), UsageError);
  EXPECT_THROW(d.update(bytes_of("x")), UsageError);
}

// finish_into + restart: one context digests message after message, each as a fresh digester.
TEST(Digest, FinishIntoThenRestart) {
  for (DigestAlg alg : {DigestAlg::sha256, DigestAlg::sha1, DigestAlg::sha3_512}) {
    Digester d(alg);
    EXPECT_FALSE(d.restart());  // not ended yet
    for (size_t n : {0, 1, 64, 1000}) {
      Bytes msg(n, static_cast<uint8_t>(n));
      d.update(msg);
      Bytes out(digest_size(alg));
      d.finish_into(out);
      EXPECT_EQ(out, digest(alg, msg)) << n;
      EXPECT_THROW(d.update(msg), UsageError);  // ended until restarted
      Bytes again(digest_size(alg));
      EXPECT_THROW(d.finish_into(again), UsageError);
      ASSERT_TRUE(d.restart());
      EXPECT_EQ(d.alg(), alg);
    }
    Bytes wrong(digest_size(alg) + 1);
    EXPECT_THROW(d.finish_into(wrong), UsageError);
  }
}

TEST(Digest, MoveKeepsState) {
  Digester a(DigestAlg::sha256);
  a.update(bytes_of("ab"));
  Digester b = std::move(a);
  b.update(bytes_of("c"));
  EXPECT_EQ(to_hex(b.finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// RFC 4231 section 4: key, data, HMAC-SHA-256, -384, -512 (test case 5: the first 128 bits).
struct HmacCase {
  int number;
  Bytes key;
  Bytes data;
  const char* sha256;
  const char* sha384;
  const char* sha512;
  bool truncated;
};

std::vector<HmacCase> rfc4231_cases() {
  Bytes key25;
  for (int i = 1; i <= 25; ++i) {
    key25.push_back(static_cast<uint8_t>(i));
  }
  return {
      {1, Bytes(20, 0x0b), bytes_of("Hi There"),
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
       "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b"
       "2fa9cb6",
       "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274ea"
       "ea3f4e4be9d914eeb61f1702e696c203a126854",
       false},
      {2, bytes_of("Jefe"), bytes_of("what do ya want for nothing?"),
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
       "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecf"
       "ab21649",
       "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f"
       "8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
       false},
      {3, Bytes(20, 0xaa), Bytes(50, 0xdd),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
       "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e10"
       "1a34f27",
       "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47"
       "e67c807b946a337bee8942674278859e13292fb",
       false},
      {4, key25, Bytes(50, 0xcd),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
       "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c"
       "674cffb",
       "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc"
       "5788063a5f19741120c4f2de2adebeb10a298dd",
       false},
      {5, Bytes(20, 0x0c), bytes_of("Test With Truncation"), "a3b6167473100ee06e0c796c2955552b",
       "3abf34c3503b2a23a46efc619baef897", "415fad6271580a531d4179bc891d87a6", true},
      {6, Bytes(131, 0xaa), bytes_of("Test Using Larger Than Block-Size Key - Hash Key First"),
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
       "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df16"
       "3f44952",
       "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215"
       "d6a1e5295e64f73f63f0aec8b915a985d786598",
       false},
      {7, Bytes(131, 0xaa),
       bytes_of("This is a test using a larger than block-size key and a larger than block-size "
                "data. The key needs to be hashed before being used by the HMAC algorithm."),
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
       "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110"
       "c46523e",
       "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c"
       "3e4de15134676fb6de0446065c97440fa8c6a58",
       false},
  };
}

std::string maybe_truncated(const SecureBytes& mac, bool truncated) {
  std::string h = to_hex(mac);
  return truncated ? h.substr(0, 32) : h;
}

TEST(Hmac, Rfc4231) {
  int checked = 0;
  for (const auto& c : rfc4231_cases()) {
    const std::pair<DigestAlg, const char*> expected[] = {{DigestAlg::sha256, c.sha256},
                                                          {DigestAlg::sha384, c.sha384},
                                                          {DigestAlg::sha512, c.sha512}};
    for (const auto& [alg, want] : expected) {
      EXPECT_EQ(maybe_truncated(hmac(alg, c.key, c.data), c.truncated), want)
          << "RFC 4231 test case " << c.number << " " << digest_name(alg);
      // The same, streamed one byte at a time.
      Hmac h(alg, c.key);
      for (uint8_t b : c.data) {
        h.update(ByteView(&b, 1));
      }
      EXPECT_EQ(maybe_truncated(h.finish(), c.truncated), want)
          << "RFC 4231 test case " << c.number << " " << digest_name(alg) << " (streamed)";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 21);
}

TEST(Hmac, Sha256Shortcut) {
  auto c = rfc4231_cases()[1];
  EXPECT_EQ(to_hex(hmac_sha256(c.key, c.data)), c.sha256);
}

TEST(Hmac, EmptyKeyAndData) {
  // HMAC-SHA256 with an empty key over an empty message (a widely published value, e.g. in the
  // Wikipedia HMAC article).
  EXPECT_EQ(to_hex(hmac_sha256(Bytes{}, Bytes{})),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(Hmac, FinishTwiceIsAUsageError) {
  Hmac h(DigestAlg::sha256, Bytes(32, 1));
  h.finish();
  EXPECT_THROW(h.finish(), UsageError);
}

}  // namespace
}  // namespace twinhsm::crypto
