// AES-CMAC: RFC 4493 section 4 (AES-128, examples 1-4) and the AES-256 examples of NIST SP 800-38B
// appendix D.3 (the same messages), whole and in parts.
#include "crypto/cmac.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::hex;
using test::plain;

// The 64-byte message of RFC 4493 / SP 800-38B; the examples use its first 0, 16, 40 and 64 bytes.
const Bytes kMessage =
    hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");

struct CmacCase {
  size_t len;
  const char* tag;
};

// RFC 4493 section 4, K = 2b7e1516 28aed2a6 abf71588 09cf4f3c.
const Bytes kKey128 = hex("2b7e151628aed2a6abf7158809cf4f3c");
const CmacCase kRfc4493[] = {
    {0, "bb1d6929e95937287fa37d129b756746"},
    {16, "070a16b46b4d4144f79bdd9dd04a287c"},
    {40, "dfa66747de9ae63030ca32611497c827"},
    {64, "51f0bebf7e3b9d92fc49741779363cfe"},
};

// NIST SP 800-38B, D.3 (AES-256): Examples 9-12.
const Bytes kKey256 = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
const CmacCase kSp80038bAes256[] = {
    {0, "028962f61b7bf89efc6b551f4667d983"},
    {16, "28a7023f452e8f82bd4bf28d8c37c35c"},
    {40, "aaf3d8f1de5640c232f5b169b9c911e6"},
    {64, "e1992190549f6ed5696a2c056c315410"},
};

void check(const Bytes& key, const CmacCase& c) {
  ByteView msg = ByteView(kMessage).first(c.len);
  EXPECT_EQ(to_hex(aes_cmac(key, msg)), c.tag) << "Mlen " << c.len;
  // The same in parts of 7 bytes.
  Cmac m(key);
  for (size_t off = 0; off < msg.size(); off += 7) {
    m.update(msg.subspan(off, std::min<size_t>(7, msg.size() - off)));
  }
  EXPECT_EQ(to_hex(m.finish()), c.tag) << "Mlen " << c.len << " in parts";
}

TEST(AesCmac, Rfc4493Aes128) {
  for (const auto& c : kRfc4493) {
    check(kKey128, c);
  }
}

TEST(AesCmac, Sp80038bAes256) {
  for (const auto& c : kSp80038bAes256) {
    check(kKey256, c);
  }
}

TEST(AesCmac, BadKeyAndReuse) {
  EXPECT_THROW(Cmac{Bytes(20, 1)}, CryptoError);
  EXPECT_THROW(Cmac{Bytes{}}, CryptoError);
  Cmac m(kKey128);
  m.finish();
  EXPECT_THROW(m.update(kMessage), UsageError);
  EXPECT_THROW(m.finish(), UsageError);
}

}  // namespace
}  // namespace twinhsm::crypto
