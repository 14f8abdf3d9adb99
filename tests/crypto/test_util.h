// Helpers for the crypto tests: finding and parsing the vector files under tests/data/vectors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"

namespace twinhsm::crypto::test {

// vector_path is TWINHSM_TEST_DATA/vectors/<relative>.
std::filesystem::path vector_path(std::string_view relative);

// read_text returns the whole file; throws std::runtime_error if it cannot be read.
std::string read_text(const std::filesystem::path& path);

nlohmann::json read_json(std::string_view relative);

// hex decodes a hex string (either case); "" gives empty bytes.
inline Bytes hex(std::string_view s) {
  return from_hex(s);
}

inline Bytes bytes_of(std::string_view s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s.data()),
               reinterpret_cast<const uint8_t*>(s.data()) + s.size());
}

// cavp_value is a vector field: hex, or a "quoted string" of text (BoringSSL's files).
inline Bytes cavp_value(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"') {
    return bytes_of(v.substr(1, v.size() - 2));
  }
  return hex(v);
}

template <class Container>
Bytes plain(const Container& c) {
  return Bytes(c.begin(), c.end());
}

// A record of a NIST CAVP response file (.rsp / .txt): the "[NAME = VALUE]" section headers in
// force where it appears (the last bare "[NAME]" header also under the name ""), its "NAME = VALUE"
// fields, and whether it carries a FAIL line.
struct CavpRecord {
  std::map<std::string, std::string> section;
  std::map<std::string, std::string> fields;
  bool fail = false;
  int line = 0;  // where the record starts, for failure messages

  const std::string& at(const std::string& name) const;
};

// parse_cavp reads every record (each starts at a `start` line: "COUNT", or "Len" in hash files,
// "Count" in CCM's). Fields between a section header and its first record belong to the section
// (CCM's Key). Lines starting with whitespace (NIST's intermediate values) and '#' comments are
// skipped.
std::vector<CavpRecord> parse_cavp(std::string_view relative, std::string_view start = "COUNT");

}  // namespace twinhsm::crypto::test
