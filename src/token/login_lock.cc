// The PIN checks' lock file (login_lock.h).
#include "token/login_lock.h"

#include <sys/file.h>

#include <cerrno>

#include "common/error.h"
#include "fs/owned_file.h"

namespace twinhsm::token {

LoginAttemptLock::LoginAttemptLock(const std::filesystem::path& store) {
  std::filesystem::path file = store;
  file += ".login-lock";
  try {
    fd_ = fs::open_or_create_owned(
        file, 0600, fs::owner_of(store.has_parent_path() ? store.parent_path() : "."));
  } catch (const UsageError& e) {
    throw StoreError(e.what());
  }
  while (fd_.valid() && ::flock(fd_.get(), LOCK_EX) != 0 && errno == EINTR) {
  }
}

}  // namespace twinhsm::token
