// fuzz_backup: a backup file, whole. The input is written to a file and read as `twinhsm backup
// verify` reads it: BackupReader parses the clear header, unlock unwraps the one-time key with the
// fixed test device's root (fuzz_util.h), for_each_record decrypts, authenticates and parses every
// chunk. Each step must succeed or throw twinhsm::Error; anything else (another exception, a
// crash, a sanitizer report, a leak, a hang) is a finding.
//
// Past the header, mutated inputs rarely authenticate: fuzz_backup_records feeds the record
// parser with plaintext through the same reader.
#include <cstdint>

#include "backup/reader.h"
#include "fuzz_util.h"

using namespace twinhsm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path file = fuzz::scratch_dir() / "input.twb";
  fuzz::write_file(file, data, size);
  try {
    backup::BackupReader reader(file);
    const backup::Header& h = reader.header();
    if (h.diversifier.empty() || h.chunk_size == 0) {
      std::abort();  // parse promised to refuse these
    }
    reader.unlock(fuzz::device_root());
    size_t records = 0;
    reader.for_each_record([&](const backup::Record& r) {
      ++records;
      (void)r;
    });
  } catch (const twinhsm::Error&) {
    // A refused input: expected.
  }
  return 0;
}
