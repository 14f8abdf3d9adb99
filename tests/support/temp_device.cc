#include "temp_device.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

#include "process.h"

namespace twinhsm::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/twinhsm-test-XXXXXX";
  if (!mkdtemp(pattern.data())) {
    throw std::runtime_error("mkdtemp failed for " + pattern);
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {

void check(const CommandResult& r, const std::string& what) {
  if (!r.ok()) {
    throw std::runtime_error("twinhsm " + what + " failed: " + r.describe());
  }
}

}  // namespace

TempDevice::TempDevice(DeviceOptions options) : options_(std::move(options)) {
  master_key_ = root() / "master.key";
  if (options_.master_key.empty()) {
    check(run_cli({"factory", "new-master-key", "-o", master_key_.string()}),
          "factory new-master-key");
  } else {
    fs::copy_file(options_.master_key, master_key_);
  }
  personalize();
}

TempDevice::TempDevice(const TempDevice& sibling_of, DeviceOptions options)
    : options_(std::move(options)) {
  master_key_ = root() / "master.key";
  fs::copy_file(sibling_of.master_key(), master_key_);
  personalize();
}

void TempDevice::personalize() {
  std::vector<std::string> args = {"factory",
                                   "personalize",
                                   "--device",
                                   dir().string(),
                                   "--master-key",
                                   master_key_.string(),
                                   "--diversifier",
                                   options_.diversifier,
                                   "--pbkdf2-iterations",
                                   std::to_string(options_.pbkdf2_iterations),
                                   "--max-login-failures",
                                   std::to_string(options_.max_login_failures)};
  if (!options_.button.empty()) {
    args.insert(args.end(), {"--button", options_.button});
  }
  if (!options_.serial.empty()) {
    args.insert(args.end(), {"--serial", options_.serial});
  }
  if (!options_.algorithms.empty()) {
    args.insert(args.end(), {"--algorithms", options_.algorithms});
  }
  if (!options_.secure_element.empty()) {
    args.insert(args.end(), {"--secure-element", options_.secure_element});
  }
  if (!options_.key_policy.empty()) {
    args.insert(args.end(), {"--key-policy", options_.key_policy});
  }
  check(run_cli(args), "factory personalize");
  if (options_.init_token) {
    std::vector<std::string> init = {"token",   "init",         "--device", dir().string(),
                                     "--label", options_.label, "--so-pin", options_.so_pin};
    if (options_.user_pin) {
      init.insert(init.end(), {"--pin", *options_.user_pin});
    }
    check(run_cli(init), "token init");
  }
}

fs::path TempDevice::use_config() const {
  fs::path file = root() / "twinhsm.toml";
  write_config(file, {dir()});
  set_config(file);
  return file;
}

void write_config(const fs::path& file, const std::vector<fs::path>& devices) {
  std::ofstream out(file, std::ios::trunc);
  for (const auto& d : devices) {
    // TOML basic strings: the test paths hold no quotes or backslashes.
    out << "[[slot]]\ndevice = \"" << d.string() << "\"\n\n";
  }
  if (!out) {
    throw std::runtime_error("cannot write " + file.string());
  }
}

void set_config(const fs::path& file) {
  if (file.empty()) {
    unsetenv("TWINHSM_CONF");
  } else {
    setenv("TWINHSM_CONF", file.c_str(), 1);
  }
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return "";
  }
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace twinhsm::test
