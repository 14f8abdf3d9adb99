// The PIN checks' lock file (login_lock.h).
#include "token/login_lock.h"

#include <sys/file.h>

#include <cerrno>

#include "common/error.h"
#include "fs/owned_file.h"

namespace twinhsm::token {

LoginAttemptLock::LoginAttemptLock(const std::filesystem::path& store) {
  fd_ = fs::open_lock_file_beside(store, ".login-lock");
  while (fd_.valid() && ::flock(fd_.get(), LOCK_EX) != 0 && errno == EINTR) {
  }
}

}  // namespace twinhsm::token
