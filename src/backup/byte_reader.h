// ByteReader reads the big-endian fields of a backup's header and records. Reading past the end
// throws IntegrityError with the message the owner gives (what was being read).
#pragma once

#include <string>

#include "common/bytes.h"

namespace twinhsm::backup {

class ByteReader {
 public:
  ByteReader(ByteView data, std::string truncated_message)
      : data_(data), truncated_(std::move(truncated_message)) {}

  ByteView take(size_t n) {
    if (data_.size() - pos_ < n) {
      throw IntegrityError(truncated_);
    }
    ByteView out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  uint64_t be(int width) {
    uint64_t v = 0;
    for (uint8_t b : take(static_cast<size_t>(width))) {
      v = v << 8 | b;
    }
    return v;
  }
  // blob reads a length of width bytes, then that many bytes.
  Bytes blob(int width) {
    ByteView v = take(be(width));
    return Bytes(v.begin(), v.end());
  }
  size_t pos() const { return pos_; }
  bool at_end() const { return pos_ == data_.size(); }

 private:
  ByteView data_;
  std::string truncated_;
  size_t pos_ = 0;
};

}  // namespace twinhsm::backup
