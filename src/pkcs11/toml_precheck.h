// A pass over a configuration file before toml++ parses it. Debian 12's toml++ 3.3.0 reaches
// undefined behaviour (an assumed-true precondition, __builtin_unreachable) on some invalid TOML:
//  - a table header whose '[' or '[[' is followed by a character that cannot start a key
//    ("[=", "[[[1]]]"): parse_key()'s precondition (upstream tomlplusplus PR #301);
//  - a non-ASCII character wherever the parser asks whether a character is whitespace (after a
//    bare key, a boolean, in multi-line strings): is_non_ascii_horizontal_whitespace() reaches
//    __builtin_unreachable() for most code points from U+00A1 (upstream #190, #295, PR #305).
// precheck_toml refuses both before the parser sees them. It refuses only text that is not valid
// TOML anyway (TOML allows non-ASCII only in strings and comments), so a valid file passes
// unchanged; everything else is left to toml++'s own errors. fuzz/fuzz_config.cc checks it.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace twinhsm::pkcs11 {

// Throws UsageError "SOURCE:LINE: what is wrong" on the inputs above.
void precheck_toml(std::string_view text, const std::string& source);

// What config.cc's toml++ throws where one of its internal assertions fails.
struct TomlPreconditionBroken : std::runtime_error {
  using std::runtime_error::runtime_error;
};
[[noreturn]] void toml_precondition_broken(const char* expression);

}  // namespace twinhsm::pkcs11
