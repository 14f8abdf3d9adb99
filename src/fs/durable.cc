#include "fs/durable.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace twinhsm::fs {

namespace {
std::string errno_text() {
  return std::strerror(errno);
}
}  // namespace

void fsync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

void write_new_file(const std::filesystem::path& path, ByteView data, unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == EEXIST) {
      throw UsageError(path.string() + " already exists; refusing to overwrite it");
    }
    throw UsageError("cannot create " + path.string() + ": " + errno_text());
  }
  size_t done = 0;
  bool ok = true;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ok = false;
      break;
    }
    done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  std::string why = ok ? "" : errno_text();
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    throw UsageError("cannot write " + path.string() + ": " + why);
  }
  fsync_dir(path.parent_path());
}

void make_private_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw UsageError("cannot create the directory " + dir.string() + ": " + ec.message());
  }
  // On the descriptor, without following a link: the name could point elsewhere.
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  bool ok = fd >= 0 && ::fchmod(fd, 0700) == 0;
  std::string why = ok ? "" : errno_text();
  if (fd >= 0) {
    ::close(fd);
  }
  if (!ok) {
    throw UsageError("cannot make " + dir.string() + " private (mode 0700): " + why);
  }
}

}  // namespace twinhsm::fs
