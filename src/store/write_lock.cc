// The writers' turn (write_lock.h).
#include "store/write_lock.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "common/error.h"
#include "fs/owned_file.h"

namespace twinhsm::store {

namespace {

// The lock files this process's threads hold a lock on, with the thread: a thread that asks again
// for a file it holds through another connection would wait for itself for ever (the kernel
// does not see deadlocks of open-file-description locks).
struct Held {
  dev_t dev;
  ino_t ino;
  std::thread::id thread;
  auto operator<=>(const Held&) const = default;
};
std::mutex g_held_mutex;
std::set<Held>& held_locks() {
  static std::set<Held> held;
  return held;
}

int set_lock(int fd, short type, bool wait) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 1;
  int rc;
  while ((rc = ::fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl)) != 0 && errno == EINTR) {
  }
  return rc;
}

}  // namespace

WriteLock::WriteLock(const std::filesystem::path& store) {
  fd_ = fs::open_lock_file_beside(store, ".write-lock");
  struct stat st {};
  if (fd_.valid() && ::fstat(fd_.get(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
}

WriteLock::~WriteLock() {
  unlock();
}

void WriteLock::lock() {
  take(true);
}

bool WriteLock::try_lock() {
  return take(false);
}

bool WriteLock::take(bool wait) {
  if (!fd_.valid() || held_) {
    return true;
  }
  Held key{dev_, ino_, std::this_thread::get_id()};
  {
    std::lock_guard guard(g_held_mutex);
    if (held_locks().count(key)) {
      if (!wait) {
        return false;
      }
      throw StoreError(
          "the store is being written through another connection of this thread; "
          "nested write transactions on two connections would wait for each other");
    }
  }
  if (set_lock(fd_.get(), F_WRLCK, wait) != 0) {
    if (!wait && (errno == EAGAIN || errno == EACCES)) {
      return false;
    }
    throw StoreError(std::string("cannot lock the store for writing: ") + std::strerror(errno));
  }
  std::lock_guard guard(g_held_mutex);
  held_locks().insert(key);
  holder_ = key.thread;
  held_ = true;
  return true;
}

void WriteLock::unlock() noexcept {
  if (!held_) {
    return;
  }
  {
    std::lock_guard guard(g_held_mutex);
    held_locks().erase(Held{dev_, ino_, holder_});
  }
  set_lock(fd_.get(), F_UNLCK, false);
  held_ = false;
}

}  // namespace twinhsm::store
