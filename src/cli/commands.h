// The command groups of `twinhsm`. Each adds its subcommands to the app; a subcommand's callback
// does the work and throws twinhsm::Error on failure (main prints it as one line).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace twinhsm::cli {

void add_factory_commands(CLI::App& app);
void add_device_commands(CLI::App& app);
void add_token_commands(CLI::App& app);
void add_objects_commands(CLI::App& app);
void add_backup_commands(CLI::App& app);
void add_import_commands(CLI::App& app);
void add_button_commands(CLI::App& app);

// add_device_option adds --device DIR (default: the default device directory).
void add_device_option(CLI::App* cmd, std::string& dir);

// explain turns an error from the token into a sentence with what to do (wrong PIN: tries left).
std::string explain(const std::exception& e);

}  // namespace twinhsm::cli
