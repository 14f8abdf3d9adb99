// The device's own settings (the button) and the defaults personalization writes for every
// device setting, the token's included (their names: token/settings.h, since the token reads
// them and sits below the device).
#pragma once

#include <cstdint>
#include <string>

#include "store/store.h"

namespace twinhsm::device::settings {

inline constexpr const char* kButtonBackend = "device.button_backend";
inline constexpr const char* kButtonTimeout = "device.button_timeout_seconds";

inline constexpr uint32_t kDefaultPbkdf2Iterations = 600000;
inline constexpr uint32_t kDefaultMaxLoginFailures = 10;
inline constexpr uint32_t kDefaultButtonTimeout = 60;
inline constexpr const char* kDefaultButton = "socket";
inline constexpr const char* kDefaultKeyPolicy = "strict";   // token/key_policy.h
inline constexpr const char* kDefaultAlgorithms = "modern";  // token/algorithm_policy.h

// read_uint returns the setting as a number, or fallback when it is absent or not a number.
inline uint32_t read_uint(store::Store& store, const char* key, uint32_t fallback) {
  auto text = store.setting_text(key);
  if (!text || text->empty()) {
    return fallback;
  }
  try {
    return static_cast<uint32_t>(std::stoul(*text));
  } catch (const std::exception&) {
    return fallback;
  }
}

}  // namespace twinhsm::device::settings
