// Where a command takes a PIN from: --NAME VALUE (as softhsm2-util takes them), --NAME-file FILE
// (first line), --NAME-env VAR, or else a no-echo prompt on /dev/tty (never stdin).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "crypto/secure_bytes.h"

namespace twinhsm::cli {

struct PinSource {
  explicit PinSource(std::string option) : name(std::move(option)) {}
  std::string name;  // the option's name: "pin", "so-pin", "new-pin"
  std::string value, file, env;
  bool given() const { return !value.empty() || !file.empty() || !env.empty(); }
};

// add_pin_options adds --NAME, --NAME-file and --NAME-env to cmd, described as `what`.
void add_pin_options(CLI::App* cmd, PinSource& source, const std::string& what);

// read_pin returns the PIN from the first source given, else prompts on /dev/tty with prompt.
// Throws UsageError when no source is given and there is no terminal, or a source is empty.
crypto::SecureBytes read_pin(PinSource& source, const std::string& prompt);

}  // namespace twinhsm::cli
