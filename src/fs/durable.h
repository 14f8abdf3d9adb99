// Small file-system steps the device needs to be crash safe: create a file that must not exist
// yet and make it durable, make a private directory.
#pragma once

#include <filesystem>

#include "common/bytes.h"

namespace twinhsm::fs {

// write_new_file creates path with mode, failing with UsageError if it exists, writes data,
// fsyncs the file and its directory. On failure nothing is left behind.
void write_new_file(const std::filesystem::path& path, ByteView data, unsigned mode);
// make_private_dir creates dir (and parents) if needed and sets mode 0700 on it.
void make_private_dir(const std::filesystem::path& dir);
// fsync_dir makes a directory's entries durable.
void fsync_dir(const std::filesystem::path& dir);

}  // namespace twinhsm::fs
