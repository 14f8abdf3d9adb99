// The module's debug log: every PKCS#11 call with its handles and return code, to stderr or a
// file. Off by default (the module prints nothing). Never given a key value, PIN or data.
#pragma once

#include <string>

#include "common/pkcs11.h"

namespace twinhsm::pkcs11::log {

void configure(bool debug, const std::string& file);
bool enabled();
// call logs "twinhsm: NAME(details) -> CKR_..." when enabled.
void call(const char* name, const std::string& details, CK_RV rv);
// message logs a free line when enabled (e.g. why a call failed).
void message(const std::string& text);

}  // namespace twinhsm::pkcs11::log
