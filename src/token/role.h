// The two roles of a PKCS#11 token: the Security Officer (twinhsm's admin) and the normal user.
#pragma once

#include <cstddef>
#include <optional>

namespace twinhsm::token {

enum class Role { so = 0, user = 1 };

// LoggedIn is who is logged in to the token in this process: a role, or nobody (nullopt).
using LoggedIn = std::optional<Role>;

// A PIN is 4 to 255 bytes (C_GetTokenInfo's ulMinPinLen and ulMaxPinLen say so).
inline constexpr size_t kMinPinLength = 4;
inline constexpr size_t kMaxPinLength = 255;

}  // namespace twinhsm::token
