#include "crypto/random.h"

#include <gtest/gtest.h>

#include "crypto/secure_bytes.h"

namespace twinhsm::crypto {
namespace {

TEST(Random, BytesHaveTheRequestedLength) {
  for (size_t n : {0u, 1u, 16u, 32u, 1000u, 100000u}) {
    EXPECT_EQ(random_bytes(n).size(), n);
    EXPECT_EQ(random_secret(n).size(), n);
  }
}

TEST(Random, TwoDrawsDiffer) {
  EXPECT_NE(random_bytes(32), random_bytes(32));
  EXPECT_FALSE(ct_equal(random_secret(32), random_secret(32)));
}

TEST(Random, OutputIsNotConstant) {
  Bytes b = random_bytes(1024);
  size_t zeros = 0;
  for (uint8_t x : b) {
    zeros += x == 0 ? 1 : 0;
  }
  EXPECT_LT(zeros, 32u);  // about 4 expected
}

TEST(Random, FillOverwritesEveryByte) {
  std::vector<uint8_t> buf(64, 0);
  random_fill(buf);
  std::vector<uint8_t> again(64, 0);
  random_fill(again);
  EXPECT_NE(buf, again);
  random_fill(std::span<uint8_t>{});  // empty: no-op
}

TEST(Random, SeedIsAccepted) {
  seed_random(Bytes(64, 0x42));
  seed_random(Bytes{});
  EXPECT_EQ(random_bytes(16).size(), 16u);
}

}  // namespace
}  // namespace twinhsm::crypto
