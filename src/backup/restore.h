// Restoring a backup onto a device: everything authenticated first, then the store replaced in
// one SQLite transaction (an interrupted restore leaves the store exactly as it was).
#pragma once

#include "backup/reader.h"
#include "device/device.h"

namespace twinhsm::backup {

// check_restorable throws UsageError, naming both diversifiers, if the backup was made by a
// device of another pair; then unlocks the reader (IntegrityError if the keys still differ).
void check_restorable(device::Device& device, BackupReader& reader);

// restore replaces the device's store with the backup's contents, except the device's own button
// settings, which stay. The reader must be unlocked.
// Authenticates the whole file (a first pass) before writing anything, then writes all rows in
// one transaction that commits only after the last chunk authenticated again.
void restore(device::Device& device, BackupReader& reader);

}  // namespace twinhsm::backup
