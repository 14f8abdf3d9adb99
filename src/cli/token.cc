// twinhsm token: initialize the token and manage its PINs, as softhsm2-util does.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/pin_input.h"
#include "device/device.h"

namespace twinhsm::cli {

void add_token_commands(CLI::App& app) {
  auto* tok = app.add_subcommand("token", "Initialize the token and manage its PINs");
  tok->require_subcommand(1);

  struct Options {
    std::string dir, label;
    bool so = false;
    PinSource so_pin{"so-pin"}, pin{"pin"}, new_pin{"new-pin"};
  };

  auto i = std::make_shared<Options>();
  auto* init = tok->add_subcommand("init",
                                   "Initialize the token: new storage key, SO PIN set; erases "
                                   "every object of an initialized token");
  add_device_option(init, i->dir);
  init->add_option("--label", i->label, "Token label (at most 32 bytes)")->required();
  add_pin_options(init, i->so_pin, "SO PIN (the current one, if the token is initialized)");
  add_pin_options(init, i->pin, "User PIN to set as well (optional)");
  init->callback([i] {
    if (i->label.size() > 32) {
      throw UsageError("the label must be at most 32 bytes");
    }
    auto d = device::Device::open(i->dir);
    auto& t = d->token();
    bool was = t.initialized();
    auto so_pin = read_pin(i->so_pin, was ? "Current SO PIN" : "New SO PIN");
    std::optional<crypto::SecureBytes> user_pin;
    if (i->pin.given()) {
      user_pin = read_pin(i->pin, "User PIN");
    }
    t.init_token(so_pin, i->label);
    if (user_pin) {
      t.login(token::Role::so, so_pin);
      t.init_pin(*user_pin);
      t.logout();
    }
    std::cout << "token \"" << i->label << "\" initialized" << (was ? " (every object erased)" : "")
              << (user_pin ? "; user PIN set" : "; set the user PIN with 'twinhsm token init-pin'")
              << "\n";
  });

  auto ip = std::make_shared<Options>();
  auto* init_pin =
      tok->add_subcommand("init-pin", "Set (or reset, when locked) the user PIN; needs the SO PIN");
  add_device_option(init_pin, ip->dir);
  add_pin_options(init_pin, ip->so_pin, "SO PIN");
  add_pin_options(init_pin, ip->pin, "New user PIN");
  init_pin->callback([ip] {
    auto d = device::Device::open(ip->dir);
    auto& t = d->token();
    auto so_pin = read_pin(ip->so_pin, "SO PIN");
    auto user_pin = read_pin(ip->pin, "New user PIN");
    t.login(token::Role::so, so_pin);
    t.init_pin(user_pin);
    t.logout();
    std::cout << "user PIN set\n";
  });

  auto sp = std::make_shared<Options>();
  auto* set_pin = tok->add_subcommand("set-pin", "Change the user PIN (or with --so the SO PIN)");
  add_device_option(set_pin, sp->dir);
  set_pin->add_flag("--so", sp->so, "Change the SO PIN instead of the user PIN");
  add_pin_options(set_pin, sp->pin, "Current user PIN");
  add_pin_options(set_pin, sp->so_pin, "Current SO PIN (with --so)");
  add_pin_options(set_pin, sp->new_pin, "New PIN");
  set_pin->callback([sp] {
    auto d = device::Device::open(sp->dir);
    auto role = sp->so ? token::Role::so : token::Role::user;
    auto old_pin =
        sp->so ? read_pin(sp->so_pin, "Current SO PIN") : read_pin(sp->pin, "Current user PIN");
    auto new_pin = read_pin(sp->new_pin, "New PIN");
    d->token().set_pin(role, old_pin, new_pin);
    std::cout << (sp->so ? "SO" : "user") << " PIN changed\n";
  });
}

}  // namespace twinhsm::cli
