// WriteLock: the store's writers take turns. SQLite's own write lock is a try-lock: a connection
// that finds it taken sleeps in its busy handler (1, 2, 5, 10 ... 100 ms) and tries again, while
// the process holding it lets it go and takes it back within microseconds; a process that writes
// in a loop kept it nearly always, and another one writing at the same time got 0.5-5 commits a
// second against its ~235 (issue 16). So before BEGIN IMMEDIATE every write transaction takes a
// lock of twinhsm's own on the file store.db.write-lock: an open-file-description lock
// (F_OFD_SETLKW), for which a waiter sleeps in the kernel and is woken the moment it is let go,
// and which the kernel lets go when its process dies. SQLite's lock is then free whenever it is
// asked for. Other programs on the store (the sqlite3 shell, an older twinhsm) still meet SQLite's
// lock and its busy handler.
//
// Where the file cannot be made (a read-only device: no write can happen there anyway) there is
// no lock and SQLite's lock alone serializes, as before. The file is opened as
// fs::open_or_create_owned does: a link or special file planted at its name is refused
// (StoreError), never followed.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <thread>

#include "fs/unique_fd.h"

namespace twinhsm::store {

class WriteLock {
 public:
  // Opens (or makes, empty and 0600, for the directory's owner) store + ".write-lock".
  explicit WriteLock(const std::filesystem::path& store);
  ~WriteLock();
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

  // lock blocks until this connection holds the lock. Throws StoreError when the calling thread
  // already holds it through another connection to the same store (it would wait for itself).
  void lock();
  // try_lock takes the lock if no other connection holds it (false: one does, or this thread
  // holds it through another connection, which lock() would refuse).
  bool try_lock();
  void unlock() noexcept;
  // The lock file, for the commit queue that lives in it (store/commit_queue.h); -1 without one.
  int fd() const { return fd_.valid() ? fd_.get() : -1; }

 private:
  bool take(bool wait);

  fs::UniqueFd fd_;
  bool held_ = false;
  // The file's identity, and the thread that holds the lock (while held_).
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::thread::id holder_;
};

}  // namespace twinhsm::store
