// twinhsm backup and twinhsm button: backups made and restored only after a button press.
#include <ctime>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "backup/create.h"
#include "backup/reader.h"
#include "backup/restore.h"
#include "button/button.h"
#include "cli/commands.h"
#include "device/device.h"

namespace twinhsm::cli {

namespace {

std::string iso_time(uint64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&tt));
  return buf;
}

nlohmann::ordered_json header_json(const backup::BackupReader& r) {
  const backup::Header& h = r.header();
  return {{"format_version", h.version},
          {"backup_id", to_hex(h.backup_id)},
          {"diversifier", h.diversifier},
          {"source_serial", h.serial},
          {"created", iso_time(h.created)},
          {"settings", h.counts.settings},
          {"roles", h.counts.roles},
          {"public_objects", h.counts.public_objects},
          {"private_objects", h.counts.private_objects},
          {"chunk_size", h.chunk_size},
          {"size", r.file_size()}};
}

}  // namespace

void add_backup_commands(CLI::App& app) {
  auto* backup = app.add_subcommand("backup", "Make, inspect, verify and restore backups");
  backup->require_subcommand(1);
  struct Options {
    std::string dir, file;
    bool force = false, json = false;
  };

  auto c = std::make_shared<Options>();
  auto* create = backup->add_subcommand("create",
                                        "After a button press, write an encrypted backup that only "
                                        "this device or its twin can restore");
  add_device_option(create, c->dir);
  create->add_option("-o,--output", c->file, "Backup file to write")->required();
  create->add_flag("--force", c->force, "Replace FILE if it exists");
  create->callback([c] {
    auto d = device::Device::open(c->dir);
    if (!c->force && std::filesystem::exists(c->file)) {
      throw UsageError(c->file + " exists; give --force to replace it");
    }
    button::Press press = d->wait_for_press(
        "backup of device " + d->secure_element().serial + " to " + c->file, std::cerr);
    backup::AtomicFile out(c->file, c->force);
    backup::Header h =
        backup::write_backup(*d, backup::CreateParams::random(), out, std::move(press));
    out.commit();
    std::cout << "backup written to " << c->file << " (" << out.size()
              << " bytes): " << h.counts.public_objects << " public and "
              << h.counts.private_objects << " private objects, pair \"" << h.diversifier
              << "\", id " << to_hex(h.backup_id) << "\n";
  });

  auto i = std::make_shared<Options>();
  auto* inspect =
      backup->add_subcommand("inspect", "Print a backup's clear header (no key, no button)");
  inspect->add_option("file", i->file, "Backup file")->required();
  inspect->add_flag("--json", i->json, "Print JSON");
  inspect->callback([i] {
    backup::BackupReader r(i->file);
    auto j = header_json(r);
    if (i->json) {
      std::cout << j.dump(2) << "\n";
      return;
    }
    for (const auto& [key, value] : j.items()) {
      std::cout << key << ": " << (value.is_string() ? value.get<std::string>() : value.dump())
                << "\n";
    }
  });

  auto v = std::make_shared<Options>();
  auto* verify = backup->add_subcommand(
      "verify", "Decrypt and authenticate a whole backup on this device without restoring it");
  add_device_option(verify, v->dir);
  verify->add_option("file", v->file, "Backup file")->required();
  verify->callback([v] {
    auto d = device::Device::open(v->dir, device::Device::OpenFor::restore);
    backup::BackupReader r(v->file);
    backup::check_restorable(*d, r);
    uint64_t records = 0;
    r.for_each_record([&](const backup::Record&) { ++records; });
    std::cout << "backup " << v->file << " is intact (" << records
              << " records authenticated); this device can restore it\n";
  });

  auto rs = std::make_shared<Options>();
  auto* restore = backup->add_subcommand(
      "restore",
      "After a button press, replace this device's token with a backup's (same device or twin)");
  add_device_option(restore, rs->dir);
  restore->add_option("file", rs->file, "Backup file")->required();
  restore->add_flag("--force", rs->force, "Replace an initialized token");
  restore->callback([rs] {
    // A device whose store was refused (a TPM device's rolled-back store) is restored all the same.
    auto d = device::Device::open(rs->dir, device::Device::OpenFor::restore);
    backup::BackupReader r(rs->file);
    backup::check_restorable(*d, r);
    if (d->token().initialized() && !rs->force) {
      throw UsageError("the token of " + rs->dir +
                       " is initialized; give --force to replace it and all its objects");
    }
    button::Press press =
        d->wait_for_press("restore of " + rs->file + " onto device " + d->secure_element().serial +
                              " (replaces its token)",
                          std::cerr);
    // Asked again inside the restore's transaction: an application may have initialized the
    // token while the button was awaited.
    backup::restore(*d, r, std::move(press), {}, rs->force);
    const auto& h = r.header();
    std::cout << "restored " << h.counts.public_objects << " public and "
              << h.counts.private_objects << " private objects from " << rs->file << " (device "
              << h.serial << ", " << iso_time(h.created)
              << ").\nThe SO PIN and user PIN are now those that were valid "
              << "when the backup was made.\n";
  });
}

void add_button_commands(CLI::App& app) {
  auto* button = app.add_subcommand("button", "The device's button");
  button->require_subcommand(1);
  auto dir = std::make_shared<std::string>();
  auto* press = button->add_subcommand(
      "press", "Press the button of a device that waits for one (socket backend)");
  add_device_option(press, *dir);
  press->callback([dir] {
    button::press(*dir);
    std::cout << "pressed\n";
  });
}

}  // namespace twinhsm::cli
