// The token objects' index tags in memory (tag_index.h).
#include "token/tag_index.h"

#include <algorithm>
#include <cstring>

namespace twinhsm::token {

uint64_t TagIndex::key(const Bytes& tag) {
  uint64_t k = 0;
  std::memcpy(&k, tag.data(), std::min(tag.size(), sizeof k));
  return k;
}

void TagIndex::add(Buckets& b, const std::optional<Bytes>& tag, int64_t id) {
  if (tag) {
    b[key(*tag)].push_back(id);
  }
}

void TagIndex::remove(Buckets& b, const std::optional<Bytes>& tag, int64_t id) {
  if (!tag) {
    return;
  }
  auto it = b.find(key(*tag));
  if (it == b.end()) {
    return;
  }
  std::erase(it->second, id);
  if (it->second.empty()) {
    b.erase(it);
  }
}

void TagIndex::put(const store::ObjectRow& row, bool authentic) {
  erase(row.id);
  Entry e{row.is_private, authentic, row.class_tag, row.id_tag, row.label_tag};
  add(by_class_, e.class_tag, row.id);
  add(by_id_, e.id_tag, row.id);
  add(by_label_, e.label_tag, row.id);
  rows_.emplace(row.id, std::move(e));
}

void TagIndex::erase(int64_t id) {
  auto it = rows_.find(id);
  if (it == rows_.end()) {
    return;
  }
  remove(by_class_, it->second.class_tag, id);
  remove(by_id_, it->second.id_tag, id);
  remove(by_label_, it->second.label_tag, id);
  rows_.erase(it);
}

void TagIndex::clear() {
  rows_.clear();
  by_class_.clear();
  by_id_.clear();
  by_label_.clear();
}

bool TagIndex::matches(const Entry& e, bool is_private, const store::ObjectQuery::Tags& t) {
  // As SQL compares the columns: a given tag matches only an equal one, never an absent one.
  auto same = [](const std::optional<Bytes>& want, const std::optional<Bytes>& have) {
    return !want || (have && *want == *have);
  };
  return e.is_private == is_private && same(t.class_tag, e.class_tag) && same(t.id_tag, e.id_tag) &&
         same(t.label_tag, e.label_tag);
}

void TagIndex::find_side(bool is_private, const store::ObjectQuery::Tags& t,
                         std::vector<Match>& out) const {
  // The narrowest bucket of the given tags: a label or an id is usually one object's, a class
  // many objects'.
  const std::vector<int64_t>* candidates = nullptr;
  bool any = false;
  for (auto [buckets, tag] : {std::pair{&by_label_, &t.label_tag}, std::pair{&by_id_, &t.id_tag},
                              std::pair{&by_class_, &t.class_tag}}) {
    if (!*tag) {
      continue;
    }
    any = true;
    auto it = buckets->find(key(**tag));
    if (it == buckets->end()) {
      return;  // no row has this tag
    }
    if (!candidates || it->second.size() < candidates->size()) {
      candidates = &it->second;
    }
  }
  if (!any) {  // no tag: every row of this side
    for (const auto& [id, e] : rows_) {
      if (e.is_private == is_private) {
        out.push_back({id, e.authentic});
      }
    }
    return;
  }
  for (int64_t id : *candidates) {
    const Entry& e = rows_.at(id);
    if (matches(e, is_private, t)) {
      out.push_back({id, e.authentic});
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
