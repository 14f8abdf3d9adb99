#include "backup/atomic_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "crypto/random.h"

namespace twinhsm::backup {

namespace {
std::string errno_text() {
  return std::strerror(errno);
}
}  // namespace

AtomicFile::AtomicFile(std::filesystem::path path, bool overwrite)
    : path_(std::move(path)), overwrite_(overwrite) {
  if (!overwrite_ && std::filesystem::exists(path_)) {
    throw UsageError(path_.string() + " exists; give --force to replace it");
  }
  auto dir = path_.parent_path().empty() ? std::filesystem::path(".") : path_.parent_path();
  temp_ = dir / ("." + path_.filename().string() + ".tmp-" + to_hex(crypto::random_bytes(6)));
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd_ < 0) {
    throw UsageError("cannot create a file in " + dir.string() + ": " + errno_text());
  }
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
