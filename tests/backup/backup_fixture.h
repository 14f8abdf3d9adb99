// A device in a temporary directory with a known master key, for the backup tests, and helpers
// to write a backup of it to memory and read one back from bytes.
#pragma once

#include <filesystem>
#include <memory>

#include "backup/create.h"
#include "backup/reader.h"
#include "device/device.h"

namespace twinhsm::testing {

// The factory master key of the tests: bytes 00 01 ... 1f.
crypto::SecureBytes example_master_key();

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// make_device personalizes DIR/name with the example master key and opens it.
std::unique_ptr<device::Device> make_device(const std::filesystem::path& dir,
                                            const device::PersonalizeOptions& options);

// backup_bytes writes a backup of device with params to a file under dir and returns its bytes.
Bytes backup_bytes(device::Device& device, const backup::CreateParams& params,
                   const std::filesystem::path& file);

void write_file(const std::filesystem::path& file, ByteView data);
Bytes read_file(const std::filesystem::path& file);

}  // namespace twinhsm::testing
