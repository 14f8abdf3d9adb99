// twinhsm: the management command of a twinhsm device.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "common/error.h"
#include "crypto/dump_protection.h"

#ifndef TWINHSM_VERSION
#define TWINHSM_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  // PINs, the storage key and backup keys pass through this process: no core file of it, and
  // no other process of the user reads its memory.
  twinhsm::crypto::DumpProtection no_dumps;
  CLI::App app{
      "twinhsm: a hardware security module in software. Manage devices, tokens, PINs and "
      "backups, import SoftHSMv2 tokens; applications use the keys through the PKCS#11 "
      "module libtwinhsm.so."};
  app.set_version_flag("--version", "twinhsm " TWINHSM_VERSION);
  app.require_subcommand(1);
  twinhsm::cli::add_factory_commands(app);
  twinhsm::cli::add_device_commands(app);
  twinhsm::cli::add_token_commands(app);
  twinhsm::cli::add_objects_commands(app);
  twinhsm::cli::add_backup_commands(app);
  twinhsm::cli::add_import_commands(app);
  twinhsm::cli::add_button_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      return app.exit(e);
    }
    std::string what = e.what();
    std::fprintf(stderr, "twinhsm: %s (see twinhsm --help)\n", what.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "twinhsm: %s\n", twinhsm::cli::explain(e).c_str());
    return 1;
  }
  return 0;
}
