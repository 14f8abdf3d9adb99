#include "backup/restore.h"

#include "device/settings.h"
#include "token/settings.h"

namespace twinhsm::backup {

void check_restorable(device::Device& device, BackupReader& reader) {
  const auto& se = device.secure_element();
  if (reader.header().diversifier != se.diversifier) {
    throw UsageError("this backup comes from a device of pair \"" + reader.header().diversifier +
                     "\"; this device belongs to pair \"" + se.diversifier +
                     "\": only the same device or its twin can restore it");
  }
  reader.unlock_with_kek(se.derive(kKekLabel, kek_context(reader.header()), 32));
}

void restore(device::Device& device, BackupReader& reader, button::Press press,
             const RestoreObserver& observer, bool replace_initialized) {
  (void)press;                                   // the proof of a press is all it takes
  reader.for_each_record([](const Record&) {});  // authenticate everything before any write

  store::Store& store = device.store();
  uint64_t written = 0;
  // Everything is replaced: a TPM device anchors the new store afresh (store/anchor.h).
  store::Store::WriteTransaction tx(store, store::Anchoring::rebuild);
  if (!replace_initialized && device.token().initialized()) {
    throw UsageError(
        "the token was initialized while the restore waited; give --force to "
        "replace it and all its objects");
  }
  // The button is this device's hardware (a GPIO wiring, a socket, insecure-auto only where the
  // secure element allows it): it stays as it is; every other setting comes from the backup.
  std::map<std::string, Bytes> own_button;
  for (const char* key : {device::settings::kButtonBackend, device::settings::kButtonTimeout}) {
    if (auto v = store.setting(key)) {
      own_button[key] = *v;
    }
  }
  // The tag indexes go first (begin_object_load): the old rows are deleted without them, the new
  // ones appended to the table alone, and the indexes made again in one sort each, all inside
  // this transaction: a restore that fails leaves the old rows and indexes.
  store.begin_object_load();
  store.delete_everything();
  reader.for_each_record([&](const Record& r) {
    switch (r.type) {
      case RecordType::setting:
        store.put_setting(r.key, r.value);
        break;
      case RecordType::role:
        store.put_role(r.role);
        break;
      case RecordType::object:
        store.put_object(r.object);
        break;
      case RecordType::end:
        break;
    }
    ++written;
    if (observer) {
      observer(written);
    }
  });
  store.end_object_load();
  for (const auto& [key, value] : own_button) {
    store.put_setting(key, value);
  }
  store.put_setting(token::settings::kTokenGeneration, to_hex(reader.header().backup_id));
  // A backup of version 1 holds rows of the first attribute encoding: the public ones are
  // rewritten now, the private ones at the user's next login.
  device.token().migrate_rows();
  tx.commit();
}

}  // namespace twinhsm::backup
