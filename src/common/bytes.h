// Byte strings and their hex form. Secret bytes use crypto::SecureBytes instead
// (crypto/secure_bytes.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace twinhsm {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline std::string to_hex(ByteView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

// from_hex decodes hex digits (either case, no separators). Throws UsageError on odd length or a
// non-hex character.
inline Bytes from_hex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  if (hex.size() % 2 != 0) {
    throw UsageError("hex string has an odd number of digits");
  }
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      throw UsageError("hex string holds a character that is not a hex digit");
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

// Big-endian integer encoding, used by every on-disk and in-MAC format.
inline void append_be(Bytes& out, uint64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out.push_back(static_cast<uint8_t>(value >> (8 * i)));
  }
}

inline void append(Bytes& out, ByteView data) {
  out.insert(out.end(), data.begin(), data.end());
}

}  // namespace twinhsm
