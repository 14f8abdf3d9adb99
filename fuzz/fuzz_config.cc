// fuzz_config: the module's configuration file (TWINHSM_CONF, TOML) through
// pkcs11::parse_config, which C_Initialize runs on whatever file the environment names. It must
// return a configuration or throw twinhsm::Error (UsageError with the file and line).
#include <cstdint>
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
