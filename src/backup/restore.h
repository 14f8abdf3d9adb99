// Restoring a backup onto a device: everything authenticated first, then the store replaced in
// one SQLite transaction (an interrupted restore leaves the store exactly as it was).
#pragma once

#include <functional>

#include "backup/reader.h"
#include "device/device.h"

namespace twinhsm::backup {

// check_restorable throws UsageError, naming both diversifiers, if the backup was made by a
// device of another pair; then unlocks the reader (IntegrityError if the keys still differ).
void check_restorable(device::Device& device, BackupReader& reader);

// RestoreObserver is told, inside the transaction, how many records were written so far: a seam
// for the tests that kill a restore half-way (tests/backup/restore_killed_after.cc).
using RestoreObserver = std::function<void(uint64_t records_written)>;

// restore replaces the device's store with the backup's contents, except the device's own button
// settings, which stay; press is the button press that authorized it. The reader must be
// unlocked. Authenticates the whole file (a first pass) before writing anything, then writes all
// rows in one transaction that commits only after the last chunk authenticated again. Without
// replace_initialized, a token initialized when the transaction begins (perhaps by another
// process while the button was awaited) is left as it is: UsageError.
void restore(device::Device& device, BackupReader& reader, button::Press press,
             const RestoreObserver& observer = {}, bool replace_initialized = true);

}  // namespace twinhsm::backup
