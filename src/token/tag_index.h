// TagIndex holds the index tags (store/store.h: ObjectRow) of every token object in memory, so
// that a find by CKA_CLASS, CKA_ID and CKA_LABEL is a hash lookup rather than an SQL query: the
// tags are keyed hashes, public to whoever reads the store file, so keeping them costs no secret.
// It answers the store's ObjectQuery the way Store::find_objects does. Not synchronized: the
// token guards it with its own lock, and decides when it is current (token/object_sync.cc).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/bytes.h"
#include "store/store.h"
#include "token/flat_map.h"

namespace twinhsm::token {

class TagIndex {
 public:
  struct Match {
    int64_t id;
    // authentic: the row's MAC checked when it was indexed, and its tags are as twinhsm writes
    // them; a row that is not is a candidate by its tags as stored, for the caller to read (and
    // fail on, or match) as the SQL query would.
    bool authentic;
  };
  // put adds the row's tags, or replaces those of the row with its id.
  void put(const store::ObjectRow& row, bool authentic);
  void erase(int64_t id);
  void clear();
  size_t size() const { return rows_.size(); }
  // find returns the rows that match q, in id order.
  std::vector<Match> find(const store::ObjectQuery& q) const;
  // prefetch asks the CPU for the probe slot that a find with these tags (one side of a query)
  // reads first: among a million objects it is a cache miss, which then arrives while the caller
  // computes the other side's tags. A hint: nothing else changes.
  void prefetch(const store::ObjectQuery::Tags& t) const;

 private:
  static constexpr size_t kTagLen = 16;  // object_codec.cc: kIndexTagLen
  // Tags inline, not on the heap: among many objects a find is a few cache misses, and each
  // pointer followed was one more.
  struct Tag {
    bool present = false;
    std::array<uint8_t, kTagLen> bytes{};
  };
  struct Entry {
    int64_t id = 0;
    bool is_private = false;
    bool authentic = false;  // and every tag kTagLen bytes long
    Tag class_tag, id_tag, label_tag;
  };
  static_assert(sizeof(Entry) == 64, "an entry is one cache line");
  static uint64_t key(const Tag& tag);
  static Tag tag_of(const std::optional<Bytes>& tag, bool* fits);
  static bool matches(const Entry& e, bool is_private, const Tag& class_tag, const Tag& id_tag,
                      const Tag& label_tag);
  // One side of a query (the public objects' or the private ones'), its tags made ready, and the
  // map that answers it (by_label_ or by_id_ under key; none: a listing).
  struct Side {
    bool is_private = false;
    bool fits = true;  // false: a query tag of another length, which matches no entry
    Tag c, i, l;
    const FlatMultimap* map = nullptr;
    uint64_t key = 0;
  };
  Side side(bool is_private, const store::ObjectQuery::Tags& t) const;
  void find_side(const Side& side, const store::ObjectQuery::Tags& t,
                 std::vector<Match>& out) const;

  // The entries, dense: an erase moves the last one into its place (a listing reads no holes).
  FlatVector<Entry> entries_;
  FlatMap rows_;  // row id -> index in entries_
  // Entries by the first 8 bytes of their CKA_ID tag and of their CKA_LABEL tag (keyed hashes:
  // evenly spread). CKA_CLASS has no such map: a class is many objects' (a find by class alone
  // lists them, and one with an id or a label is answered from those).
  FlatMultimap by_id_, by_label_;
  // Rows whose tags are not kTagLen bytes (not written by twinhsm: damaged), with their tags as
  // stored: compared as SQL would, and when they match, the caller reads (and fails on) the row.
  struct Odd {
    bool is_private = false;
    std::optional<Bytes> class_tag, id_tag, label_tag;
  };
  std::unordered_map<int64_t, Odd> odd_;
};

}  // namespace twinhsm::token
