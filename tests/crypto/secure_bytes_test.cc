#include "crypto/secure_bytes.h"

#include <gtest/gtest.h>

#include <cstring>

#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::hex;

TEST(CtEqual, EqualContents) {
  Bytes a = hex("00112233445566778899aabbccddeeff");
  Bytes b = a;
  EXPECT_TRUE(ct_equal(a, b));
}

TEST(CtEqual, DifferentContentsSameLength) {
  Bytes a = hex("00112233445566778899aabbccddeeff");
  for (size_t i = 0; i < a.size(); ++i) {
    Bytes b = a;
    b[i] ^= 0x01;
    EXPECT_FALSE(ct_equal(a, b)) << "byte " << i;
  }
}

TEST(CtEqual, DifferentLengths) {
  Bytes a = hex("0011223344");
  Bytes prefix = hex("00112233");
  EXPECT_FALSE(ct_equal(a, prefix));
  EXPECT_FALSE(ct_equal(prefix, a));
  EXPECT_FALSE(ct_equal(a, Bytes{}));
}

TEST(CtEqual, EmptyEqualsEmpty) {
  EXPECT_TRUE(ct_equal(Bytes{}, SecureBytes{}));
}

TEST(CtEqual, SecureAndPlainBytes) {
  SecureBytes s = secure_copy(std::string_view("secret"));
  EXPECT_TRUE(ct_equal(s, test::bytes_of("secret")));
  EXPECT_FALSE(ct_equal(s, test::bytes_of("Secret")));
}

TEST(Cleanse, ZeroesTheBuffer) {
  uint8_t buf[32];
  std::memset(buf, 0xa5, sizeof buf);
  cleanse(buf, sizeof buf);
  for (uint8_t b : buf) {
    EXPECT_EQ(b, 0);
  }
  cleanse(nullptr, 0);  // no-op, no crash
}

TEST(LockMemory, BestEffortNeverFails) {
  // Unaligned, odd-sized and empty ranges are all accepted; unlock is a no-op by design.
  std::vector<uint8_t> v(10000, 1);
  lock_memory(v.data() + 3, 5000);
  unlock_memory(v.data() + 3, 5000);
  lock_memory(v.data(), 0);
  lock_memory(nullptr, 0);
  EXPECT_EQ(v[4], 1);
}

TEST(SecureBytes, AllocatorRoundTrip) {
  SecureBytes s = secure_copy(std::string_view("correct horse battery staple"));
  s.resize(4096);  // reallocates: the old block is wiped and freed
  s.shrink_to_fit();
  EXPECT_EQ(s.size(), 4096u);
  EXPECT_EQ(s[0], 'c');
  SecureBytes copy = s;
  EXPECT_TRUE(ct_equal(copy, s));
}

}  // namespace
}  // namespace twinhsm::crypto
