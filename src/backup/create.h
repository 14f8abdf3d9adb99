// Making a backup: one consistent snapshot of the store, streamed into chunks under a one-time
// key (OTK) that is wrapped under the backup KEK. Memory does not grow with the store.
#pragma once

#include <array>
#include <ostream>

#include "backup/atomic_file.h"
#include "backup/format.h"
#include "device/device.h"

namespace twinhsm::backup {

// The values a backup draws at random; tests fix them to reproduce the worked example.
struct CreateParams {
  std::array<uint8_t, kBackupIdLen> backup_id{};
  crypto::SecureBytes otk;  // 32 bytes
  uint64_t created = 0;
  uint32_t chunk_size = kDefaultChunkSize;
  static CreateParams random();
};

// write_backup writes the backup of device's store to out and returns its header; press is the
// button press that authorized it (device::Device::wait_for_press). Throws IntegrityError if a
// stored row fails authentication (a tampered store is not backed up).
Header write_backup(device::Device& device, const CreateParams& params, AtomicFile& out,
                    button::Press press);

}  // namespace twinhsm::backup
