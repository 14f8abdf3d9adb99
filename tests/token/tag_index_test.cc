// TagIndex answers an ObjectQuery as Store::find_objects' SQL does: every given tag equal, the
// public side and (when asked) the private side, in id order; rows with tags of another length
// (damaged) are compared as stored and come back not authentic.
#include "token/tag_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

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

// The index against a model kept with std containers, through many random puts (new rows and
// replacements), erases (of present and absent ids) and finds: tags drawn from small pools, so
// that labels and ids are shared by many rows, pairs of tags share their first 8 bytes (the
// index's hash key) and differ after, some tags are absent and some of another length; the
// tables grow from empty across many doublings, and are cleared and used again.
class TagIndexModel {
 public:
  void put(const store::ObjectRow& r, bool authentic) {
    erase(r.id);
    rows_[r.id] = {r, authentic};
    if (r.id_tag) {
      by_id_.emplace(*r.id_tag, r.id);
    }
    if (r.label_tag) {
      by_label_.emplace(*r.label_tag, r.id);
    }
  }
  void erase(int64_t id) {
    auto it = rows_.find(id);
    if (it == rows_.end()) {
      return;
    }
    unindex(by_id_, it->second.row.id_tag, id);
    unindex(by_label_, it->second.row.label_tag, id);
    rows_.erase(it);
  }
  void clear() { *this = TagIndexModel(); }
  size_t size() const {  // rows with every tag of 16 bytes
    return std::count_if(rows_.begin(), rows_.end(),
                         [](const auto& kv) { return fits(kv.second.row); });
  }
  // As the SQL query: every given tag equal, the public side and perhaps the private one.
  std::vector<TagIndex::Match> find(const store::ObjectQuery& q) const {
    std::vector<TagIndex::Match> out;
    auto visit = [&](const store::ObjectRow& r, bool authentic) {
      const store::ObjectQuery::Tags& t = r.is_private ? q.private_tags : q.public_tags;
      if ((!r.is_private || q.include_private) && same(t.class_tag, r.class_tag) &&
          same(t.id_tag, r.id_tag) && same(t.label_tag, r.label_tag)) {
        out.push_back({r.id, authentic && fits(r)});
      }
    };
    auto listing = [](const store::ObjectQuery::Tags& t) { return !t.label_tag && !t.id_tag; };
    if (listing(q.public_tags) || listing(q.private_tags)) {
      for (const auto& [id, m] : rows_) {
        visit(m.row, m.authentic);
      }
    } else {  // each side names a label or an id: its candidates
      for (const auto* t : {&q.public_tags, &q.private_tags}) {
        const auto& map = t->label_tag ? by_label_ : by_id_;
        auto [first, last] = map.equal_range(t->label_tag ? *t->label_tag : *t->id_tag);
        for (auto it = first; it != last; ++it) {
          const Model& m = rows_.at(it->second);
          if (m.row.is_private == (t == &q.private_tags)) {
            visit(m.row, m.authentic);
          }
        }
      }
    }
    std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.id < y.id; });
    return out;
  }

 private:
  using ByTag = std::multimap<Bytes, int64_t>;
  static void unindex(ByTag& map, const std::optional<Bytes>& tag, int64_t id) {
    if (!tag) {
      return;
    }
    auto [first, last] = map.equal_range(*tag);
    for (auto it = first; it != last; ++it) {
      if (it->second == id) {
        map.erase(it);
        return;
      }
    }
  }
  static bool fits(const store::ObjectRow& r) {
    auto ok = [](const std::optional<Bytes>& t) { return !t || t->size() == 16; };
    return ok(r.class_tag) && ok(r.id_tag) && ok(r.label_tag);
  }
  static bool same(const std::optional<Bytes>& want, const std::optional<Bytes>& have) {
    return !want || (have && *want == *have);
  }
  struct Model {
    store::ObjectRow row;
    bool authentic;
  };
  std::map<int64_t, Model> rows_;
  ByTag by_id_, by_label_;
};

// Tag n of a pool: tags 2k and 2k+1 share their first 8 bytes.
Bytes pooled(uint8_t kind, uint32_t n) {
  Bytes t(16, kind);
  for (int b = 0; b < 4; ++b) {
    t[b] = static_cast<uint8_t>((n / 2) >> (8 * b));
    t[8 + b] = static_cast<uint8_t>(n >> (8 * b));
  }
  return t;
}

struct RandomTags {
  std::mt19937_64 rng{20261127};
  uint32_t below(uint32_t n) { return static_cast<uint32_t>(rng() % n); }
  std::optional<Bytes> draw(uint8_t kind, uint32_t pool, bool maybe_absent = true) {
    uint32_t r = maybe_absent ? below(1000) : 100 + below(900);
    if (r < 100) {
      return std::nullopt;
    }
    if (r < 102) {
      return Bytes(5, kind);  // odd: another length
    }
    if (r < 112) {
      return pooled(kind, 7);  // a tag many rows share
    }
    return pooled(kind, below(pool));
  }
};

void expect_same(const std::vector<TagIndex::Match>& got,
                 const std::vector<TagIndex::Match>& want) {
  ASSERT_EQ(ids(got), ids(want));
  for (size_t k = 0; k < got.size(); ++k) {
    ASSERT_EQ(got[k].authentic, want[k].authentic) << "row " << got[k].id;
  }
}

TEST(TagIndexTest, AgreesWithAModelThroughRandomChanges) {
  TagIndex index;
  TagIndexModel model;
  RandomTags r;
  constexpr uint32_t kIds = 100000;
  auto random_query = [&] {
    store::ObjectQuery q;
    for (auto* t : {&q.public_tags, &q.private_tags}) {
      uint32_t shape = r.below(5);  // label; id; class + id; class + label; label + id
      t->class_tag = shape == 2 || shape == 3 ? r.draw(1, 3) : std::nullopt;
      // Not a listing (those are below, fewer: each reads every row of the model).
      t->id_tag =
          shape == 1 || shape == 2 || shape == 4 ? r.draw(2, kIds / 2, false) : std::nullopt;
      t->label_tag = shape == 0 || shape == 3 || shape == 4 ? r.draw(3, kIds, false) : std::nullopt;
    }
    q.include_private = r.below(2) == 0;
    return q;
  };
  for (int round = 0; round < 2; ++round) {
    for (int op = 0; op < 250000; ++op) {
      uint32_t what = r.below(100);
      if (what < 60) {
        auto id = static_cast<int64_t>(r.below(kIds)) - 50;  // some negative
        store::ObjectRow x =
            row(id, r.below(2) == 0, r.draw(1, 3), r.draw(2, kIds / 2), r.draw(3, kIds));
        bool authentic = r.below(50) != 0;
        index.put(x, authentic);
        model.put(x, authentic);
      } else if (what < 85) {
        auto id = static_cast<int64_t>(r.below(kIds + kIds / 5)) - 50;  // some never put
        index.erase(id);
        model.erase(id);
      } else {
        store::ObjectQuery q = random_query();
        ASSERT_NO_FATAL_FAILURE(expect_same(index.find(q), model.find(q))) << "op " << op;
      }
      if (op % 50000 == 0) {  // listings: of a class, and of everything
        ASSERT_EQ(index.size(), model.size());
        for (bool with_private : {false, true}) {
          store::ObjectQuery q = query(pooled(1, 1), std::nullopt, std::nullopt, with_private);
          ASSERT_NO_FATAL_FAILURE(expect_same(index.find(q), model.find(q)));
          q = query(std::nullopt, std::nullopt, std::nullopt, with_private);
          ASSERT_NO_FATAL_FAILURE(expect_same(index.find(q), model.find(q)));
        }
      }
    }
    ASSERT_EQ(index.size(), model.size());
    EXPECT_GT(index.size(), kIds / 2);
    for (uint32_t n = 0; n < kIds / 2; n += 7) {  // ids of the pool, shared prefixes and all
      store::ObjectQuery q = query(std::nullopt, pooled(2, n), std::nullopt, true);
      ASSERT_NO_FATAL_FAILURE(expect_same(index.find(q), model.find(q)));
    }
    index.clear();
    model.clear();
    EXPECT_EQ(index.size(), 0u);
    EXPECT_TRUE(index.find(query(std::nullopt, std::nullopt, std::nullopt, true)).empty());
    EXPECT_TRUE(index.find(query(std::nullopt, pooled(2, 7), std::nullopt, true)).empty());
  }
}

}  // namespace
}  // namespace twinhsm::token
