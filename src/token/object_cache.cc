// Decoded token objects by handle (object_cache.h).
#include "token/object_cache.h"

namespace twinhsm::token {

ObjectPtr ObjectCache::find(CK_OBJECT_HANDLE handle) const {
  auto it = entries_.find(handle);
  return it == entries_.end() ? nullptr : it->second.second;
}

ObjectPtr ObjectCache::find(CK_OBJECT_HANDLE handle, const Bytes& row_mac) const {
  auto it = entries_.find(handle);
  return it == entries_.end() || it->second.first != row_mac ? nullptr : it->second.second;
}

void ObjectCache::put(CK_OBJECT_HANDLE handle, Bytes row_mac, ObjectPtr object) {
  if (entries_.size() >= kLimit) {
    entries_.clear();
  }
  entries_[handle] = {std::move(row_mac), std::move(object)};
}

}  // namespace twinhsm::token
