// The token objects' index tags in memory (tag_index.h).
#include "token/tag_index.h"

#include <algorithm>
#include <cstring>

namespace twinhsm::token {

uint64_t TagIndex::key(const Tag& tag) {
  uint64_t k = 0;
  std::memcpy(&k, tag.bytes.data(), sizeof k);
  return k;
}

TagIndex::Tag TagIndex::tag_of(const std::optional<Bytes>& tag, bool* fits) {
  Tag t;
  if (!tag) {
    return t;
  }
  if (tag->size() != kTagLen) {
    *fits = false;
    return t;
  }
  t.present = true;
  std::copy(tag->begin(), tag->end(), t.bytes.begin());
  return t;
}

void TagIndex::remove(ByTag& map, const Tag& tag, const Entry* e) {
  if (!tag.present) {
    return;
  }
  auto [first, last] = map.equal_range(key(tag));
  for (auto it = first; it != last; ++it) {
    if (it->second == e) {
      map.erase(it);
      return;
    }
  }
}

void TagIndex::put(const store::ObjectRow& row, bool authentic) {
  erase(row.id);
  bool fits = true;
  Tag c = tag_of(row.class_tag, &fits);
  Tag i = tag_of(row.id_tag, &fits);
  Tag l = tag_of(row.label_tag, &fits);
  if (!fits) {
    odd_.emplace(row.id, Odd{row.is_private, row.class_tag, row.id_tag, row.label_tag});
    return;
  }
  auto it = rows_.emplace(row.id, Entry{row.id, row.is_private, authentic, c, i, l}).first;
  const Entry* e = &it->second;
  if (i.present) {
    by_id_.emplace(key(i), e);
  }
  if (l.present) {
    by_label_.emplace(key(l), e);
  }
}

void TagIndex::erase(int64_t id) {
  odd_.erase(id);
  auto it = rows_.find(id);
  if (it == rows_.end()) {
    return;
  }
  remove(by_id_, it->second.id_tag, &it->second);
  remove(by_label_, it->second.label_tag, &it->second);
  rows_.erase(it);
}

void TagIndex::clear() {
  rows_.clear();
  by_id_.clear();
  by_label_.clear();
  odd_.clear();
}

bool TagIndex::matches(const Entry& e, bool is_private, const Tag& class_tag, const Tag& id_tag,
                       const Tag& label_tag) {
  // As SQL compares the columns: a given tag matches only an equal one, never an absent one.
  auto same = [](const Tag& want, const Tag& have) {
    return !want.present || (have.present && want.bytes == have.bytes);
  };
  return e.is_private == is_private && same(class_tag, e.class_tag) && same(id_tag, e.id_tag) &&
         same(label_tag, e.label_tag);
}

void TagIndex::find_side(bool is_private, const store::ObjectQuery::Tags& t,
                         std::vector<Match>& out) const {
  bool fits = true;
  Tag c = tag_of(t.class_tag, &fits);
  Tag i = tag_of(t.id_tag, &fits);
  Tag l = tag_of(t.label_tag, &fits);
  if (fits) {  // a query tag of another length matches no tag as twinhsm writes them
    auto visit = [&](const Entry& e) {
      if (matches(e, is_private, c, i, l)) {
        out.push_back({e.id, e.authentic});
      }
    };
    if (l.present || i.present) {  // a label or an id is usually one object's
      const ByTag& map = l.present ? by_label_ : by_id_;
      auto [first, last] = map.equal_range(key(l.present ? l : i));
      for (auto it = first; it != last; ++it) {
        visit(*it->second);
      }
    } else {  // a class alone, or nothing: a listing
      for (const auto& [id, e] : rows_) {
        visit(e);
      }
    }
  }
  auto same = [](const std::optional<Bytes>& want, const std::optional<Bytes>& have) {
    return !want || (have && *want == *have);
  };
  for (const auto& [id, o] : odd_) {
    if (o.is_private == is_private && same(t.class_tag, o.class_tag) && same(t.id_tag, o.id_tag) &&
        same(t.label_tag, o.label_tag)) {
      out.push_back({id, false});
    }
  }
}

std::vector<TagIndex::Match> TagIndex::find(const store::ObjectQuery& q) const {
  std::vector<Match> out;
  find_side(false, q.public_tags, out);
  if (q.include_private) {
    find_side(true, q.private_tags, out);
  }
  std::sort(out.begin(), out.end(), [](const Match& a, const Match& b) { return a.id < b.id; });
  return out;
}

}  // namespace twinhsm::token
