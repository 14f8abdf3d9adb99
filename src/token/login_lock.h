// LoginAttemptLock serializes PIN checks on one device, across the threads and processes that use
// it (flock on a file next to the store): the failure counter is raised before each check and
// reset after a right PIN, so attempts that overlapped would count against each other and lock
// a right PIN out. Best effort: where the file cannot be made (a read-only device, on which no
// login can count anyway) there is no lock. The file is opened as fs::open_or_create_owned does
// (root may run this on a device another user controls): a link or special file planted there
// is refused, never followed (StoreError: the device is unusable until it is removed).
#pragma once

#include <filesystem>

#include "fs/unique_fd.h"

namespace twinhsm::token {

class LoginAttemptLock {
 public:
  // Takes the lock of the store at store (its file is store + ".login-lock"); blocks until free.
  explicit LoginAttemptLock(const std::filesystem::path& store);
  // locked tells whether a lock is held (false on a device where the file cannot be made).
  bool locked() const { return fd_.valid(); }

 private:
  fs::UniqueFd fd_;  // closing it releases the lock
};

}  // namespace twinhsm::token
