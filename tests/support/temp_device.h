// Throw-away devices for tests. TempDir is a private temporary directory removed (recursively) on
// destruction. TempDevice makes a master key and personalizes a device with the `twinhsm` CLI, and
// optionally initializes its token; use_config() points TWINHSM_CONF at a file naming it.
//
//   TempDevice dev;                        // PBKDF2 1000 iterations, 3 login failures, token
//   dev.use_config();                      // TWINHSM_CONF=<root>/twinhsm.toml, one slot
//   Module m;  m->C_Initialize(nullptr);   // slot 0 is dev
//
// Failures of the CLI throw std::runtime_error with its stderr (gtest reports it).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace twinhsm::test {

class TempDir {
 public:
  // Makes $TMPDIR (or /tmp)/twinhsm-test-XXXXXX, mode 0700.
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct DeviceOptions {
  std::string diversifier = "test-pair";
  std::string serial;  // empty: the CLI picks one
  unsigned pbkdf2_iterations = 1000;
  unsigned max_login_failures = 3;
  std::string button;                // empty: the CLI's default (socket)
  std::string key_policy;            // empty: the CLI's default (strict)
  std::string algorithms;            // empty: the CLI's default (modern)
  std::filesystem::path master_key;  // a factory master key file to use; empty: a new one
  // empty: the CLI's default (file); "tpm:TCTI" (a swtpm: tests/support/swtpm.h)
  std::string secure_element;
  // Token initialization with `twinhsm token init` (skipped when init_token is false).
  bool init_token = true;
  std::string label = "test token";
  std::string so_pin = "so-pin-1234";
  std::optional<std::string> user_pin = std::string("user-pin-1234");
};

class TempDevice {
 public:
  explicit TempDevice(DeviceOptions options = {});
  // Another device personalized from the same master key (a clone when the diversifier is equal).
  TempDevice(const TempDevice& sibling_of, DeviceOptions options);

  const DeviceOptions& options() const { return options_; }
  const std::filesystem::path& root() const { return root_.path(); }  // the temporary directory
  std::filesystem::path dir() const { return root() / "device"; }     // the device directory
  std::filesystem::path store_path() const { return dir() / "store.db"; }
  std::filesystem::path master_key() const { return master_key_; }
  const std::string& so_pin() const { return options_.so_pin; }
  const std::string& user_pin() const { return *options_.user_pin; }

  // use_config writes <root>/twinhsm.toml with this device as slot 0 and sets TWINHSM_CONF to it.
  // Returns the file.
  std::filesystem::path use_config() const;

 private:
  void personalize();
  TempDir root_;
  DeviceOptions options_;
  std::filesystem::path master_key_;
};

// write_config writes a TWINHSM_CONF file with one [[slot]] per directory, in order.
void write_config(const std::filesystem::path& file,
                  const std::vector<std::filesystem::path>& devices);
// set_config sets TWINHSM_CONF (an empty path unsets it).
void set_config(const std::filesystem::path& file);

// read_file returns a file's bytes ("" if it does not exist).
std::string read_file(const std::filesystem::path& file);

}  // namespace twinhsm::test
