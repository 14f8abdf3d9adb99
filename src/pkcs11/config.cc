// toml++ is compiled into this file (header-only), with its internal assertions on even in a
// release build and turned into an exception: toml++ 3.3.0 (Debian 12) otherwise assumes its
// preconditions hold (undefined behaviour) where some invalid TOML breaks them. precheck_toml
// refuses the inputs known to do so before the parser runs; this catches any other.
#undef NDEBUG
#define TOML_HEADER_ONLY 1
#define TOML_ASSERT(expr) \
  ((expr) ? static_cast<void>(0) : ::twinhsm::pkcs11::toml_precondition_broken(#expr))
#include "pkcs11/config.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "pkcs11/toml_precheck.h"
// clang-format off: toml++ after TOML_ASSERT's target is declared
#include <toml++/toml.h>

#include "common/error.h"
#include "device/device.h"

namespace twinhsm::pkcs11 {

Config parse_config(const std::string& text, const std::string& source) {
  Config config;
  toml::table table;
  precheck_toml(text, source);
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << source << ":" << e.source().begin.line << ": " << e.description();
    throw UsageError(msg.str());
  } catch (const TomlPreconditionBroken& e) {
    throw UsageError(source + ": not valid TOML (the parser stopped at: " + e.what() + ")");
  }
  if (auto* slots = table["slot"].as_array()) {
    for (auto& node : *slots) {
      auto* slot = node.as_table();
      auto dir = slot ? (*slot)["device"].value<std::string>() : std::nullopt;
      if (!dir || dir->empty()) {
        throw UsageError(source + ": every [[slot]] needs device = \"DIR\"");
      }
      config.devices.emplace_back(*dir);
    }
  } else if (table.contains("slot")) {
    throw UsageError(source + ": 'slot' must be an array of tables ([[slot]])");
  }
  if (auto log = table["log"].value<std::string>()) {
    config.debug_log = *log == "debug";
  }
  config.log_file = table["log_file"].value<std::string>().value_or("");
  return config;
}

Config load_config() {
  Config config;
  if (const char* path = std::getenv("TWINHSM_CONF"); path && *path) {
    std::ifstream in(path);
    if (!in) {
      throw UsageError(std::string("cannot read TWINHSM_CONF file ") + path);
    }
    std::stringstream text;
    text << in.rdbuf();
    config = parse_config(text.str(), path);
  } else {
    config.devices.push_back(device::default_device_dir());
  }
  if (const char* log = std::getenv("TWINHSM_LOG"); log && *log) {
    config.debug_log = std::string(log) == "debug";
  }
  if (const char* file = std::getenv("TWINHSM_LOG_FILE"); file && *file) {
    config.log_file = file;
  }
  return config;
}

}  // namespace twinhsm::pkcs11
