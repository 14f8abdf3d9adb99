// Names of the settings the token reads from the store. The device writes them at
// personalization (Device::personalize in device/device.cc) with its defaults
// (device/settings.h, which also names the device's own settings); backups carry them with the
// rest of the store.
#pragma once

#include <cstdint>
#include <string>

#include "store/store.h"

namespace twinhsm::token::settings {

inline constexpr const char* kPbkdf2Iterations = "device.pbkdf2_iterations";
inline constexpr const char* kMaxLoginFailures = "device.max_login_failures";
// The key-management policy, "strict" or "compatible" (token/key_policy.h); absent: strict.
inline constexpr const char* kKeyPolicy = "device.key_policy";
// The algorithm policy, "modern" or "legacy" (token/algorithm_policy.h); absent: modern.
inline constexpr const char* kAlgorithms = "device.algorithms";
inline constexpr const char* kTokenLabel = "token.label";
// Changes at every token initialization and restore, so a process that logged in before notices
// that its storage key is no longer the token's.
inline constexpr const char* kTokenGeneration = "token.generation";
// "2" once every object row is in the portable attribute encoding (token/attributes.h).
inline constexpr const char* kRowEncoding = "store.row_encoding";

// require_uint returns a setting that personalization always writes; its absence means the store
// was edited by hand (a deleted row), which throws IntegrityError rather than falling back to a
// laxer default.
inline uint32_t require_uint(store::Store& store, const char* key) {
  auto text = store.setting_text(key);
  if (!text) {
    throw IntegrityError(std::string("the store failed its integrity check: setting ") + key +
                         " is missing (restore a backup)");
  }
  try {
    return static_cast<uint32_t>(std::stoul(*text));
  } catch (const std::exception&) {
    throw IntegrityError(std::string("the store failed its integrity check: setting ") + key +
                         " is not a number");
  }
}

}  // namespace twinhsm::token::settings
