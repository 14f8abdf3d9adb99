// The two roles of a PKCS#11 token: the Security Officer (twinhsm's admin) and the normal user.
#pragma once

#include <optional>

namespace twinhsm::token {

enum class Role { so = 0, user = 1 };

// LoggedIn is who is logged in to the token in this process: a role, or nobody (nullopt).
using LoggedIn = std::optional<Role>;

}  // namespace twinhsm::token
