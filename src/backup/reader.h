// Reading a backup: the clear header at once (inspect needs no key), then, once unlocked with a
// device's root key, every chunk decrypted and authenticated in order.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>

#include "backup/format.h"
#include "backup/records.h"

namespace twinhsm::backup {

class BackupReader {
 public:
  // Opens file and parses its header. Throws UsageError if it cannot be read or is not a
  // backup, IntegrityError if the header is malformed.
  explicit BackupReader(const std::filesystem::path& file);

  const Header& header() const { return header_; }
  uint64_t file_size() const { return file_size_; }

  // unlock unwraps the OTK with the device root (FK || DBK); unlock_with_kek with the KEK a
  // secure element derived (derive_kek). Throw IntegrityError when this device's keys do not
  // open it (another diversifier, master key or firmware key).
  void unlock(std::span<const uint8_t> device_root);
  void unlock_with_kek(const crypto::SecureBytes& kek);

  // for_each_record decrypts and authenticates every chunk, in order, and hands each record to
  // visit; the end record must come last and repeat the header's counts, which must match the
  // records. Throws IntegrityError on any truncation, reordering, splice or edit. May be called
  // again (it rereads the file).
  void for_each_record(const std::function<void(const Record&)>& visit);

 private:
  std::filesystem::path path_;
  Header header_;
  Bytes header_bytes_;
  uint64_t file_size_ = 0;
  crypto::SecureBytes otk_;
};

}  // namespace twinhsm::backup
