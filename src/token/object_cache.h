// ObjectCache holds decoded token objects by handle, each with the MAC of the row it came from: a
// row changed since (another MAC) is a miss. Not synchronized: the token guards it with its own
// lock. Cleared at logout (private objects and their parsed keys leave memory with the login),
// when another process commits (token/object_sync.cc), and when it grows past its limit.
#pragma once

#include <unordered_map>
#include <utility>

#include "common/bytes.h"
#include "token/object.h"

namespace twinhsm::token {

class ObjectCache {
 public:
  static constexpr size_t kLimit = 4096;

  // find returns the cached object of handle, or nullptr; with row_mac, only if it came from that
  // row.
  ObjectPtr find(CK_OBJECT_HANDLE handle) const;
  ObjectPtr find(CK_OBJECT_HANDLE handle, const Bytes& row_mac) const;
  void put(CK_OBJECT_HANDLE handle, Bytes row_mac, ObjectPtr object);
  void erase(CK_OBJECT_HANDLE handle) { entries_.erase(handle); }
  void clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }

 private:
  std::unordered_map<CK_OBJECT_HANDLE, std::pair<Bytes, ObjectPtr>> entries_;
};

}  // namespace twinhsm::token
