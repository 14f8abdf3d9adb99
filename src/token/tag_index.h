// TagIndex holds the index tags (store/store.h: ObjectRow) of every token object in memory, so
// that a find by CKA_CLASS, CKA_ID and CKA_LABEL is a hash lookup rather than an SQL query: the
// tags are keyed hashes, public to whoever reads the store file, so keeping them costs no secret.
// It answers the store's ObjectQuery the way Store::find_objects does. Not synchronized: the
// token guards it with its own lock, and decides when it is current (token/object_sync.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/bytes.h"
#include "store/store.h"

namespace twinhsm::token {

class TagIndex {
 public:
  struct Match {
    int64_t id;
    // authentic: the row's MAC checked when it was indexed; a row that did not is a candidate by
    // its unauthenticated tags, for the caller to read (and fail on) as the SQL query would.
    bool authentic;
  };
  // put adds the row's tags, or replaces those of the row with its id.
  void put(const store::ObjectRow& row, bool authentic);
  void erase(int64_t id);
  void clear();
  size_t size() const { return rows_.size(); }
  // find returns the rows that match q, in id order.
  std::vector<Match> find(const store::ObjectQuery& q) const;

 private:
  struct Entry {
    bool is_private = false;
    bool authentic = false;
    std::optional<Bytes> class_tag, id_tag, label_tag;
  };
  // Ids by the first 8 bytes of a tag (keyed hashes: evenly spread); the entry decides.
  using Buckets = std::unordered_map<uint64_t, std::vector<int64_t>>;
  static uint64_t key(const Bytes& tag);
  static void add(Buckets& b, const std::optional<Bytes>& tag, int64_t id);
  static void remove(Buckets& b, const std::optional<Bytes>& tag, int64_t id);
  static bool matches(const Entry& e, bool is_private, const store::ObjectQuery::Tags& t);
  void find_side(bool is_private, const store::ObjectQuery::Tags& t,
                 std::vector<Match>& out) const;

  std::unordered_map<int64_t, Entry> rows_;
  Buckets by_class_, by_id_, by_label_;
};

}  // namespace twinhsm::token
