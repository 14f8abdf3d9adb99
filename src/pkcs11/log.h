// The module's debug log: every PKCS#11 call with its handles and return code, to stderr or a
// file. Off by default (the module prints nothing). Never given a key value, PIN or data.
#pragma once

#include <atomic>
#include <string>

#include "common/pkcs11.h"

namespace twinhsm::pkcs11::log {

void configure(bool debug, const std::string& file);

namespace detail {
inline std::atomic<bool> g_enabled{false};  // set by configure
}  // namespace detail
// enabled is asked twice by every call: inline, one relaxed load.
inline bool enabled() {
  return detail::g_enabled.load(std::memory_order_relaxed);
}
// call logs "twinhsm: NAME(details) -> CKR_..." when enabled.
void call(const char* name, const std::string& details, CK_RV rv);
// message logs a free line when enabled (e.g. why a call failed).
void message(const std::string& text);

}  // namespace twinhsm::pkcs11::log
