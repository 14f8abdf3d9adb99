// fuzz_config: the module's configuration file (TWINHSM_CONF, TOML) through
// pkcs11::parse_config, which C_Initialize runs on whatever file the environment names. It must
// return a configuration or throw twinhsm::Error (UsageError with the file and line).
//
// Debian 12's toml++ 3.3.0 reaches undefined behaviour on some invalid TOML (assumed
// preconditions, __builtin_unreachable(): upstream PR #301, #190/#295/PR #305). config.cc runs
// precheck_toml first, which refuses the inputs known to do that, and compiles toml++ with its
// assertions on and turned into a UsageError. The inputs that found them are in the corpus
// (known-toml-*); UBSan's unreachable check is on.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "pkcs11/config.h"

using namespace twinhsm;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    pkcs11::Config config = pkcs11::parse_config(text, "fuzz");
    for (const auto& dir : config.devices) {
      if (dir.empty()) {
        std::abort();  // parse_config promised to refuse an empty device
      }
    }
  } catch (const twinhsm::Error&) {
  }
  return 0;
}
