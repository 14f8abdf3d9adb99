// Files of a device directory opened by a process that may be root while the directory belongs
// to another user: the isolated mode's service user owns the device, and whoever takes over its
// p11-kit server could plant a symbolic link, a hard link, a FIFO or a socket at any name in it,
// hoping that root's next `twinhsm` command writes through it. So in a device directory no
// symbolic link is ever followed, and only a regular file with one link, owned by the
// directory's owner or by this process, is opened; new files are made with O_EXCL and given to
// the directory's owner on the descriptor (fchown, fchmod), never by path.
#pragma once

#include <sys/types.h>

#include <filesystem>

#include "fs/unique_fd.h"

namespace twinhsm::fs {

struct Owner {
  uid_t uid = 0;
  gid_t gid = 0;
};

// owner_of is the owner of path itself (lstat: a link is not followed). Throws UsageError when it
// cannot be examined.
Owner owner_of(const std::filesystem::path& path);

// open_owned opens an existing regular file of a device directory (flags: O_RDONLY or O_RDWR).
// Returns an invalid UniqueFd when the file does not exist; throws UsageError, saying what was
// found, for a link, a special file, a file with more than one link or one owned by someone other
// than owner or this process.
UniqueFd open_owned(const std::filesystem::path& path, int flags, const Owner& owner);

// open_or_create_owned is open_owned, creating the file (O_CREAT | O_EXCL, mode) when it does not
// exist, given to owner when this process is root. Returns an invalid UniqueFd when the file
// neither exists nor can be made (a read-only device, say: the caller decides whether that
// matters); throws UsageError as open_owned does.
UniqueFd open_or_create_owned(const std::filesystem::path& path, mode_t mode, const Owner& owner);

// open_lock_file_beside opens (or makes, empty and 0600, for the owner of file's directory)
// file + suffix, as open_or_create_owned does: the lock files beside the store. Throws
// StoreError where open_or_create_owned throws UsageError.
UniqueFd open_lock_file_beside(const std::filesystem::path& file, const char* suffix);

// ActingAsOwner makes the calling thread act on the file system as owner (setfsuid/setfsgid)
// while it lives, when the process is root and owner is another user: the files a library makes
// meanwhile (SQLite's -wal and -shm) are the owner's from the start, and a link the owner planted
// leads nowhere the owner could not go. Otherwise it does nothing.
class ActingAsOwner {
 public:
  explicit ActingAsOwner(const Owner& owner);
  ~ActingAsOwner();
  ActingAsOwner(const ActingAsOwner&) = delete;
  ActingAsOwner& operator=(const ActingAsOwner&) = delete;

 private:
  bool switched_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

}  // namespace twinhsm::fs
