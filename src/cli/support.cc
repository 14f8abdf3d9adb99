// What every command shares: the --device option and turning errors into advice.
#include "cli/commands.h"
#include "device/device.h"
#include "token/ck_error.h"

namespace twinhsm::cli {

void add_device_option(CLI::App* cmd, std::string& dir) {
  dir = device::default_device_dir().string();
  cmd->add_option("--device", dir, "Device directory")->capture_default_str();
}

std::string explain(const std::exception& e) {
  const auto* ck = dynamic_cast<const token::CkError*>(&e);
  if (!ck) {
    return e.what();
  }
  switch (ck->rv()) {
    case CKR_PIN_INCORRECT:
      return std::string(e.what()) + " (the failure is counted; device info shows the count)";
    case CKR_PIN_LOCKED:
      return std::string(e.what());
    case CKR_PIN_LEN_RANGE:
      return "the PIN must be " + std::to_string(token::kMinPinLength) + " to " +
             std::to_string(token::kMaxPinLength) + " characters";
    case CKR_USER_PIN_NOT_INITIALIZED:
      return "the user PIN is not set: run 'twinhsm token init-pin'";
    case CKR_USER_TYPE_INVALID:
      return "the token is not initialized: run 'twinhsm token init'";
    default:
      return e.what();
  }
}

}  // namespace twinhsm::cli
