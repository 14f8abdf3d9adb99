// Shared by the fuzz targets and the seed generator: the fixed test keys, a per-process scratch
// directory, and a bounds-safe reader over the fuzzer's input.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/bytes.h"
#include "crypto/secure_bytes.h"
#include "device/device_keys.h"
#include "device/secure_element.h"

namespace twinhsm::fuzz {

// The factory master key of the fuzzers (and of the test suite): bytes 00 01 ... 1f, and the
// pair id their devices and backups use. fuzz/make_corpus.sh personalizes the device that
// makes the seed backup with the same two, so that the seed unlocks.
inline crypto::SecureBytes master_key() {
  crypto::SecureBytes key(32);
  for (size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<uint8_t>(i);
  }
  return key;
}
inline constexpr const char* kDiversifier = "fuzz-pair";

// device_root is FK || DBK of every device personalized with master_key() and kDiversifier.
inline const crypto::SecureBytes& device_root() {
  static const crypto::SecureBytes root =
      device::device_root(device::derive_dbk(master_key(), kDiversifier));
  return root;
}

// scratch_dir is a directory of this process, on tmpfs when /dev/shm is writable (the store
// fsyncs every write), removed at exit. TWINHSM_FUZZ_TMP names another parent.
inline const std::filesystem::path& scratch_dir() {
  // Never destroyed: the exit handler below still needs it.
  static const std::filesystem::path* const dir = [] {
    std::filesystem::path parent;
    if (const char* t = std::getenv("TWINHSM_FUZZ_TMP"); t && *t) {
      parent = t;
    } else if (::access("/dev/shm", W_OK) == 0) {
      parent = "/dev/shm";
    } else {
      parent = std::filesystem::temp_directory_path();
    }
    std::string tmpl = (parent / "twinhsm-fuzz-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("twinhsm fuzz: mkdtemp");
      std::abort();
    }
    auto* made = new std::filesystem::path(tmpl);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return made;
  }();
  return *dir;
}

inline void write_file(const std::filesystem::path& file, const uint8_t* data, size_t size) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::perror("twinhsm fuzz: write");
    std::abort();
  }
}

// strict() is TWINHSM_FUZZ_STRICT=1: the targets then also abort on findings that are not
// memory errors (non-canonical encodings accepted, unexpected CKR_GENERAL_ERROR, ...).
inline bool strict() {
  static const bool on = [] {
    const char* v = std::getenv("TWINHSM_FUZZ_STRICT");
    return v && *v && *v != '0';
  }();
  return on;
}

// Input reads the fuzzer's bytes front to back; past the end it gives zeros and empty spans, so
// every input, however short, is a valid program.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t remaining() const { return size_ - pos_; }
  uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint64_t be(int width) {
    uint64_t v = 0;
    for (int i = 0; i < width; ++i) {
      v = v << 8 | byte();
    }
    return v;
  }
  // take returns the next n bytes, or fewer at the end of the input.
  ByteView take(size_t n) {
    n = std::min(n, remaining());
    ByteView out(data_ + pos_, n);
    pos_ += n;
    return out;
  }
  ByteView rest() { return take(remaining()); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace twinhsm::fuzz
