#include "backup/atomic_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "crypto/random.h"

namespace twinhsm::backup {

namespace {
std::string errno_text() {
  return std::strerror(errno);
}

constexpr size_t kTempSuffixHex = 12;  // the random part of a temporary file's name
constexpr time_t kStaleSeconds = 60;

bool is_hex(const std::string& s) {
  return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// remove_stale_temps removes the temporary files that writers of the same name left when they
// were killed or the power went (prefix: ".NAME.tmp-"). Each writer holds an flock on its own file
// until it closes it, so a file that no process holds and nobody wrote to for a minute (a writer
// between its open and its flock has just made it) is nobody's. Best effort: whatever cannot be
// checked stays.
void remove_stale_temps(const std::filesystem::path& dir, const std::string& prefix) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() != prefix.size() + kTempSuffixHex ||
        name.compare(0, prefix.size(), prefix) != 0 || !is_hex(name.substr(prefix.size()))) {
      continue;
    }
    int fd = ::open(it->path().c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      continue;
    }
    struct stat held {};
    struct stat named {};
    if (::fstat(fd, &held) == 0 && S_ISREG(held.st_mode) && held.st_uid == ::geteuid() &&
        held.st_mtime + kStaleSeconds < std::time(nullptr) && ::flock(fd, LOCK_EX | LOCK_NB) == 0 &&
        ::lstat(it->path().c_str(), &named) == 0 && named.st_dev == held.st_dev &&
        named.st_ino == held.st_ino) {
      ::unlink(it->path().c_str());
    }
    ::close(fd);
  }
}
}  // namespace

AtomicFile::AtomicFile(std::filesystem::path path, bool overwrite)
    : path_(std::move(path)), overwrite_(overwrite) {
  if (!overwrite_ && std::filesystem::exists(path_)) {
    throw UsageError(path_.string() + " exists; give --force to replace it");
  }
  auto dir = path_.parent_path().empty() ? std::filesystem::path(".") : path_.parent_path();
  std::string prefix = "." + path_.filename().string() + ".tmp-";
  temp_ = dir / (prefix + to_hex(crypto::random_bytes(kTempSuffixHex / 2)));
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw UsageError("cannot create a file in " + dir.string() + ": " + errno_text());
  }
  // Held until the file is closed: the sign that a writer is at work on it. A new file nobody else
  // has open: it does not wait.
  (void)::flock(fd_, LOCK_EX | LOCK_NB);
  remove_stale_temps(dir, prefix);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_.c_str());
  }
}

void AtomicFile::write(ByteView data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      throw UsageError("cannot write " + path_.string() + ": " + errno_text());
    }
    done += static_cast<size_t>(n);
  }
  size_ += data.size();
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) {
    throw UsageError("cannot write " + path_.string() + ": " + errno_text());
  }
  ::close(fd_);
  fd_ = -1;
  int rc = overwrite_
               ? ::rename(temp_.c_str(), path_.c_str())
               : ::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE);
  if (rc != 0) {
    std::string why = errno == EEXIST ? "it exists; give --force to replace it" : errno_text();
    ::unlink(temp_.c_str());
    throw UsageError("cannot create " + path_.string() + ": " + why);
  }
  auto dir = path_.parent_path().empty() ? std::filesystem::path(".") : path_.parent_path();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace twinhsm::backup
