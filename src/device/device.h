// Device is one twinhsm device: a directory (mode 0700) holding the secure element (a file, or a
// TPM's blobs: device/secure_element.h) and the store, with the token built on them. Devices are
// made by the factory (personalize) and opened by everything else.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "button/button.h"
#include "device/secure_element.h"
#include "device/settings.h"
#include "store/store.h"
#include "token/token.h"

namespace twinhsm::device {

struct PersonalizeOptions {
  std::string diversifier;
  std::string serial;  // empty: 16 random hex digits
  uint32_t pbkdf2_iterations = settings::kDefaultPbkdf2Iterations;
  uint32_t max_login_failures = settings::kDefaultMaxLoginFailures;
  std::string button = settings::kDefaultButton;  // socket | tty | gpio:CHIP:LINE | insecure-auto
  uint32_t button_timeout_seconds = settings::kDefaultButtonTimeout;
  std::string secure_element = "file";                   // file | tpm:TCTI (a tpm2-tss TCTI string)
  std::string key_policy = settings::kDefaultKeyPolicy;  // strict | compatible (token/key_policy.h)
  std::string algorithms =
      settings::kDefaultAlgorithms;  // modern | legacy (token/algorithm_policy.h)
};

class Device {
 public:
  static constexpr const char* kStoreFile = "store.db";

  // What the device is opened for: use (the store must match its TPM anchor), or restore (a
  // backup about to replace the store, which may be the refused one).
  enum class OpenFor { use, restore };
  // open opens the device in dir. Throws UsageError if dir holds no device, IntegrityError if
  // its secure element is damaged or (TPM device, OpenFor::use) the store is not the one its TPM
  // anchored, StoreError if the store cannot be opened, TpmError if its TPM cannot be reached.
  static std::unique_ptr<Device> open(const std::filesystem::path& dir,
                                      OpenFor purpose = OpenFor::use);

  // personalize makes a new device in dir (created if missing) from the factory master key:
  // DBK = derive_dbk(master_key, diversifier). Fails with UsageError, changing nothing, if dir
  // already holds a device or the options are invalid.
  static void personalize(const std::filesystem::path& dir, std::span<const uint8_t> master_key,
                          const PersonalizeOptions& options);

  const std::filesystem::path& dir() const { return dir_; }
  // wait_for_press waits for the device's button (its backend and timeout are settings; the
  // insecure-auto button only on a device personalized with it) to authorize action, telling the
  // person at the device on out. Throws as button::Button::wait_for_press.
  button::Press wait_for_press(const std::string& action, std::ostream& out);
  const SecureElement& secure_element() const { return *se_; }
  store::Store& store() { return *store_; }
  token::Token& token() { return *token_; }

 private:
  Device() = default;
  std::filesystem::path dir_;
  std::unique_ptr<SecureElement> se_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<token::Token> token_;
};

// default_device_dir is $XDG_DATA_HOME/twinhsm, else ~/.local/share/twinhsm.
std::filesystem::path default_device_dir();

}  // namespace twinhsm::device
