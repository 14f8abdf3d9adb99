// The module's configuration: TWINHSM_CONF names a TOML file with one [[slot]] table per device
// (device = "DIR"); slot ids are 0, 1, ... in file order. Without it: one slot on the default
// device. Logging: log = "debug" and log_file = "PATH" in the file, or TWINHSM_LOG=debug and
// TWINHSM_LOG_FILE=PATH in the environment (the environment wins).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace twinhsm::pkcs11 {

struct Config {
  std::vector<std::filesystem::path> devices;
  bool debug_log = false;
  std::string log_file;  // empty: stderr
};

// load_config reads the configuration. Throws UsageError (with the file's name and the problem)
// when TWINHSM_CONF names a file that cannot be read or is not valid.
Config load_config();
// parse_config parses TOML text (exposed for tests and the fuzzer). Throws UsageError.
Config parse_config(const std::string& text, const std::string& source_name);

}  // namespace twinhsm::pkcs11
