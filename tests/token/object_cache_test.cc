// ObjectCache: an entry is found only for the row it came from, and the cache stays bounded.
#include "token/object_cache.h"

#include <gtest/gtest.h>

namespace twinhsm::token {
namespace {

ObjectPtr object(CK_OBJECT_HANDLE h) {
  auto o = std::make_shared<Object>();
  o->handle = h;
  return o;
}

TEST(ObjectCacheTest, AChangedRowIsAMiss) {
  ObjectCache cache;
  ObjectPtr o = object(5);
  cache.put(5, Bytes{1, 2, 3}, o);
  EXPECT_EQ(cache.find(5), o);
  EXPECT_EQ(cache.find(5, Bytes{1, 2, 3}), o);
  EXPECT_EQ(cache.find(5, Bytes{1, 2, 4}), nullptr);
  EXPECT_EQ(cache.find(6), nullptr);
  cache.erase(5);
  EXPECT_EQ(cache.find(5), nullptr);
}

TEST(ObjectCacheTest, StaysBounded) {
  ObjectCache cache;
  for (CK_OBJECT_HANDLE h = 1; h <= ObjectCache::kLimit + 10; ++h) {
    cache.put(h, Bytes{static_cast<uint8_t>(h)}, object(h));
    ASSERT_LE(cache.size(), ObjectCache::kLimit);
  }
  EXPECT_NE(cache.find(ObjectCache::kLimit + 10), nullptr);
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace twinhsm::token
