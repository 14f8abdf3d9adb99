// The token objects' index tags in memory (tag_index.h).
#include "token/tag_index.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

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
  if (entries_.size() >= FlatMap::kNone) {
    throw std::length_error("TagIndex: too many rows");
  }
  auto at = static_cast<uint32_t>(entries_.size());
  entries_.push_back(Entry{row.id, row.is_private, authentic, c, i, l});
  rows_.insert(static_cast<uint64_t>(row.id)).value = at;
  if (i.present) {
    by_id_.add(key(i), at);
  }
  if (l.present) {
    by_label_.add(key(l), at);
  }
}

void TagIndex::erase(int64_t id) {
  odd_.erase(id);
  FlatMap::Slot* slot = rows_.find(static_cast<uint64_t>(id));
  if (slot == nullptr) {
    return;
  }
  uint32_t at = slot->value;
  rows_.erase(slot);
  const Entry& gone = entries_[at];
  if (gone.id_tag.present) {
    by_id_.remove(key(gone.id_tag), at);
  }
  if (gone.label_tag.present) {
    by_label_.remove(key(gone.label_tag), at);
  }
  // The last entry moves into the hole, and whatever names it follows.
  auto last = static_cast<uint32_t>(entries_.size() - 1);
  if (at != last) {
    const Entry& moved = entries_[last];
    rows_.find(static_cast<uint64_t>(moved.id))->value = at;
    if (moved.id_tag.present) {
      by_id_.move(key(moved.id_tag), last, at);
    }
    if (moved.label_tag.present) {
      by_label_.move(key(moved.label_tag), last, at);
    }
    entries_[at] = moved;
  }
  entries_.pop_back();
}

void TagIndex::clear() {
  entries_ = FlatVector<Entry>();
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

TagIndex::Side TagIndex::side(bool is_private, const store::ObjectQuery::Tags& t) const {
  Side s;
  s.is_private = is_private;
  s.c = tag_of(t.class_tag, &s.fits);
  s.i = tag_of(t.id_tag, &s.fits);
  s.l = tag_of(t.label_tag, &s.fits);
  if (s.fits && (s.l.present || s.i.present)) {  // a label or an id is usually one object's
    s.map = s.l.present ? &by_label_ : &by_id_;
    s.key = key(s.l.present ? s.l : s.i);
  }
  return s;
}

void TagIndex::find_side(const Side& s, const store::ObjectQuery::Tags& t,
                         std::vector<Match>& out) const {
  if (s.fits) {
    auto visit = [&](const Entry& e) {
      if (matches(e, s.is_private, s.c, s.i, s.l)) {
        out.push_back({e.id, e.authentic});
      }
    };
    if (s.map != nullptr) {
      s.map->for_each(s.key, [&](uint32_t at) { visit(entries_[at]); });
    } else {  // a class alone, or nothing: a listing
      for (const Entry& e : entries_) {
        visit(e);
      }
    }
  }
  auto same = [](const std::optional<Bytes>& want, const std::optional<Bytes>& have) {
    return !want || (have && *want == *have);
  };
  for (const auto& [id, o] : odd_) {
    if (o.is_private == s.is_private && same(t.class_tag, o.class_tag) &&
        same(t.id_tag, o.id_tag) && same(t.label_tag, o.label_tag)) {
      out.push_back({id, false});
    }
  }
}

void TagIndex::prefetch(const store::ObjectQuery::Tags& t) const {
  // The map and key side() picks.
  const std::optional<Bytes>& tag = t.label_tag ? t.label_tag : t.id_tag;
  if (tag && tag->size() == kTagLen) {
    uint64_t k = 0;
    std::memcpy(&k, tag->data(), sizeof k);
    (t.label_tag ? by_label_ : by_id_).prefetch(k);
  }
}

std::vector<TagIndex::Match> TagIndex::find(const store::ObjectQuery& q) const {
  const Side sides[2] = {side(false, q.public_tags), side(true, q.private_tags)};
  const store::ObjectQuery::Tags* tags[2] = {&q.public_tags, &q.private_tags};
  size_t n = q.include_private ? 2 : 1;
  // Among a million objects each side's probe slot, and then its entry, is a cache miss: both
  // sides' slots are asked for, then both entries, before either is read, so that the misses
  // overlap in pairs instead of following one another. The private side's slot goes first: the
  // token asked for it before it computed the public tags (prefetch), so it is likely here, and
  // its entry's miss then overlaps the public slot's.
  for (size_t k = 0; k < n; ++k) {
    if (sides[k].map != nullptr) {
      sides[k].map->prefetch(sides[k].key);
    }
  }
  for (size_t k = n; k-- > 0;) {
    if (sides[k].map != nullptr) {
      if (uint32_t at = sides[k].map->first(sides[k].key); at != FlatMap::kNone) {
        __builtin_prefetch(&entries_[at]);
      }
    }
  }
  std::vector<Match> out;
  for (size_t k = 0; k < n; ++k) {
    find_side(sides[k], *tags[k], out);
  }
  std::sort(out.begin(), out.end(), [](const Match& a, const Match& b) { return a.id < b.id; });
  return out;
}

}  // namespace twinhsm::token
