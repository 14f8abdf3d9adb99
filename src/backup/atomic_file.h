// AtomicFile writes a file that appears only when complete: the data goes to a temporary file in
// the same directory, which commit() fsyncs and renames into place (refusing to replace an
// existing file unless overwrite). Destroyed uncommitted, it removes the temporary file; one left
// by a writer that was killed is removed by the next writer of the same name (atomic_file.cc).
#pragma once

#include <filesystem>

#include "common/bytes.h"

namespace twinhsm::backup {

class AtomicFile {
 public:
  // Throws UsageError if path exists and !overwrite, or the directory is not writable.
  AtomicFile(std::filesystem::path path, bool overwrite);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(ByteView data);
  void commit();
  uint64_t size() const { return size_; }

 private:
  std::filesystem::path path_, temp_;
  bool overwrite_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace twinhsm::backup
