// TagIndex answers an ObjectQuery as Store::find_objects' SQL does: every given tag equal, the
// public side and (when asked) the private side, in id order; rows with tags of another length
// (damaged) are compared as stored and come back not authentic.
#include "token/tag_index.h"

#include <gtest/gtest.h>

namespace twinhsm::token {
namespace {

Bytes tag(uint8_t b, size_t len = 16) {
  return Bytes(len, b);
}

store::ObjectRow row(int64_t id, bool priv, std::optional<Bytes> cls, std::optional<Bytes> idt,
                     std::optional<Bytes> label) {
  store::ObjectRow r;
  r.id = id;
  r.is_private = priv;
  r.class_tag = std::move(cls);
  r.id_tag = std::move(idt);
  r.label_tag = std::move(label);
  return r;
}

std::vector<int64_t> ids(const std::vector<TagIndex::Match>& m) {
  std::vector<int64_t> out;
  for (const auto& x : m)
    out.push_back(x.id);
  return out;
}

store::ObjectQuery query(std::optional<Bytes> cls, std::optional<Bytes> idt,
                         std::optional<Bytes> label, bool with_private = false) {
  store::ObjectQuery q;
  q.public_tags = {cls, idt, label};
  q.private_tags = {cls, idt, label};
  q.include_private = with_private;
  return q;
}

TEST(TagIndexTest, AnswersAsTheQueryWould) {
  TagIndex index;
  index.put(row(3, false, tag(1), tag(2), tag(3)), true);
  index.put(row(1, false, tag(1), tag(2), tag(4)), true);  // the same id tag as 3
  index.put(row(2, true, tag(1), tag(2), tag(3)), true);
  index.put(row(4, false, tag(1), std::nullopt, tag(5)), true);
  EXPECT_EQ(ids(index.find(query(std::nullopt, tag(2), std::nullopt))),
            (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(ids(index.find(query(std::nullopt, tag(2), std::nullopt, true))),
            (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(ids(index.find(query(tag(1), tag(2), tag(3)))), (std::vector<int64_t>{3}));
  EXPECT_EQ(ids(index.find(query(tag(9), tag(2), tag(3)))), (std::vector<int64_t>{}));
  EXPECT_EQ(ids(index.find(query(tag(1), std::nullopt, std::nullopt))),
            (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(ids(index.find(query(std::nullopt, std::nullopt, std::nullopt, true))),
            (std::vector<int64_t>{1, 2, 3, 4}));
  // A given tag never matches an absent one.
  EXPECT_EQ(ids(index.find(query(std::nullopt, tag(7), tag(5)))), (std::vector<int64_t>{}));
}

TEST(TagIndexTest, PutReplacesAndEraseRemoves) {
  TagIndex index;
  index.put(row(1, false, tag(1), tag(2), tag(3)), true);
  index.put(row(1, false, tag(1), tag(2), tag(6)), true);  // relabelled
  EXPECT_TRUE(index.find(query(std::nullopt, std::nullopt, tag(3))).empty());
  EXPECT_EQ(ids(index.find(query(std::nullopt, std::nullopt, tag(6)))), (std::vector<int64_t>{1}));
  index.erase(1);
  EXPECT_TRUE(index.find(query(std::nullopt, tag(2), std::nullopt)).empty());
  EXPECT_EQ(index.size(), 0u);
}

TEST(TagIndexTest, RowsNotAuthenticOrOddComeBackNotAuthentic) {
  TagIndex index;
  index.put(row(1, false, tag(1), tag(2), tag(3)), false);
  index.put(row(2, false, tag(1), tag(2), tag(3, 5)), true);  // a label tag of 5 bytes
  auto m = index.find(query(std::nullopt, tag(2), std::nullopt));
  ASSERT_EQ(ids(m), (std::vector<int64_t>{1, 2}));
  EXPECT_FALSE(m[0].authentic);
  EXPECT_FALSE(m[1].authentic);
  EXPECT_EQ(ids(index.find(query(std::nullopt, std::nullopt, tag(3, 5)))),
            (std::vector<int64_t>{2}));
  EXPECT_EQ(ids(index.find(query(std::nullopt, std::nullopt, tag(3)))), (std::vector<int64_t>{1}));
  index.erase(2);
  EXPECT_EQ(ids(index.find(query(std::nullopt, tag(2), std::nullopt))), (std::vector<int64_t>{1}));
}

}  // namespace
}  // namespace twinhsm::token
