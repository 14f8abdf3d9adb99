// Files of a device directory that another user may control (owned_file.h).
#include "fs/owned_file.h"

#include <fcntl.h>
#include <sys/fsuid.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/error.h"

namespace twinhsm::fs {

namespace {

std::string errno_text(int err) {
  char buf[256];
  return strerror_r(err, buf, sizeof buf);
}

const char* kind_of(mode_t mode) {
  if (S_ISLNK(mode)) {
    return "a symbolic link";
  }
  if (S_ISDIR(mode)) {
    return "a directory";
  }
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  if (S_ISCHR(mode) || S_ISBLK(mode)) {
    return "a device file";
  }
  return "not a regular file";
}

// refuse explains why path, as found, is not opened.
[[noreturn]] void refuse(const std::filesystem::path& path, const std::string& why) {
  throw UsageError(path.string() + " is " + why +
                   ": refusing it (a device directory holds only its own regular files; remove "
                   "it if it is not twinhsm's)");
}

void check(const std::filesystem::path& path, int fd, const Owner& owner) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    throw UsageError("cannot examine " + path.string() + ": " + errno_text(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    refuse(path, kind_of(st.st_mode));
  }
  if (st.st_nlink > 1) {  // (0: removed since it was opened, e.g. SQLite's -wal at a close)
    refuse(path, "a file with " + std::to_string(st.st_nlink) + " links");
  }
  if (st.st_uid != owner.uid && st.st_uid != ::geteuid()) {
    refuse(path, "owned by uid " + std::to_string(st.st_uid) + ", not by the device's owner");
  }
}

}  // namespace

Owner owner_of(const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    throw UsageError("cannot examine " + path.string() + ": " + errno_text(errno));
  }
  return Owner{st.st_uid, st.st_gid};
}

UniqueFd open_owned(const std::filesystem::path& path, int flags, const Owner& owner) {
  // O_NONBLOCK: a FIFO planted there must not hang the open.
  UniqueFd fd(::open(path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT) {
      return fd;
    }
    if (err == ELOOP) {
      refuse(path, "a symbolic link");
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      refuse(path, kind_of(st.st_mode));
    }
    throw UsageError("cannot open " + path.string() + ": " + errno_text(err));
  }
  check(path, fd.get(), owner);
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  return fd;
}

UniqueFd open_or_create_owned(const std::filesystem::path& path, mode_t mode, const Owner& owner) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    UniqueFd fd = open_owned(path, O_RDWR, owner);
    if (fd.valid()) {
      return fd;
    }
    fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd.valid()) {
      if (errno == EEXIST) {
        continue;  // made by someone else meanwhile: examine it
      }
      return fd;  // it cannot be made here (a read-only device, say)
    }
    // On the descriptor, never the path: the name may already point elsewhere.
    if (::geteuid() == 0 && owner.uid != 0 && ::fchown(fd.get(), owner.uid, owner.gid) != 0) {
      throw UsageError("cannot give " + path.string() +
                       " to the device's owner: " + errno_text(errno));
    }
    (void)::fchmod(fd.get(), mode);
    return fd;
  }
  throw UsageError(path.string() + " keeps changing: refusing it");
}

ActingAsOwner::ActingAsOwner(const Owner& owner) {
  if (::geteuid() != 0 || owner.uid == 0) {
    return;
  }
  // The group first, while the thread is still root; setfs*id return the previous value.
  gid_ = static_cast<gid_t>(::setfsgid(owner.gid));
  uid_ = static_cast<uid_t>(::setfsuid(owner.uid));
  switched_ = true;
}

ActingAsOwner::~ActingAsOwner() {
  if (switched_) {
    ::setfsuid(uid_);
    ::setfsgid(gid_);
  }
}

UniqueFd open_lock_file_beside(const std::filesystem::path& file, const char* suffix) {
  std::filesystem::path lock = file;
  lock += suffix;
  try {
    return open_or_create_owned(lock, 0600,
                                owner_of(file.has_parent_path() ? file.parent_path() : "."));
  } catch (const UsageError& e) {
    throw StoreError(e.what());
  }
}

}  // namespace twinhsm::fs
