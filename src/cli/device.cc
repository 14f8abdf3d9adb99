// twinhsm device: what a device is and how it is set up.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "device/device.h"
#include "device/firmware_key.h"
#include "token/settings.h"

namespace twinhsm::cli {

namespace {

nlohmann::ordered_json device_info(device::Device& d) {
  namespace s = token::settings;
  token::Token& t = d.token();
  auto so = t.pin_state(token::Role::so);
  auto user = t.pin_state(token::Role::user);
  auto counts = d.store().count_objects();
  nlohmann::ordered_json j;
  j["device"] = d.dir().string();
  j["serial"] = d.secure_element().serial;
  j["diversifier"] = d.secure_element().diversifier;
  j["dbk_fingerprint"] = d.secure_element().fingerprint();
  j["firmware_key_is_development"] = device::firmware_key_is_development();
  j["token"] = {{"label", t.label()},
                {"initialized", so.initialized},
                {"user_pin_initialized", user.initialized},
                {"so_pin_failures", so.failures},
                {"user_pin_failures", user.failures},
                {"so_pin_locked", so.locked()},
                {"user_pin_locked", user.locked()}};
  j["objects"] = {{"public", counts.public_objects}, {"private", counts.private_objects}};
  j["settings"] = {
      {"pbkdf2_iterations", s::read_uint(d.store(), s::kPbkdf2Iterations, s::kDefaultPbkdf2Iterations)},
      {"max_login_failures", s::read_uint(d.store(), s::kMaxLoginFailures, s::kDefaultMaxLoginFailures)},
      {"button", d.store().setting_text(s::kButtonBackend).value_or("socket")},
      {"button_timeout_seconds", s::read_uint(d.store(), s::kButtonTimeout, s::kDefaultButtonTimeout)}};
  return j;
}

void print_info(const nlohmann::ordered_json& j) {
  const auto& t = j["token"];
  const auto& s = j["settings"];
  std::cout << "device:              " << j["device"].get<std::string>() << "\n"
            << "serial:              " << j["serial"].get<std::string>() << "\n"
            << "diversifier:         " << j["diversifier"].get<std::string>() << "\n"
            << "backup key:          fingerprint " << j["dbk_fingerprint"].get<std::string>() << "\n"
            << "firmware key:        "
            << (j["firmware_key_is_development"].get<bool>()
                    ? "public development key (this build protects nothing at rest)"
                    : "vendor key")
            << "\n"
            << "token:               "
            << (t["initialized"].get<bool>() ? "initialized, label \"" + t["label"].get<std::string>() + "\""
                                             : std::string("not initialized"))
            << "\n"
            << "user PIN:            "
            << (t["user_pin_initialized"].get<bool>() ? "set" : "not set")
            << (t["user_pin_locked"].get<bool>() ? ", LOCKED" : "") << ", "
            << t["user_pin_failures"] << " failed tries\n"
            << "SO PIN:              " << (t["so_pin_locked"].get<bool>() ? "LOCKED, " : "")
            << t["so_pin_failures"] << " failed tries\n"
            << "objects:             " << j["objects"]["public"] << " public, "
            << j["objects"]["private"] << " private\n"
            << "PBKDF2 iterations:   " << s["pbkdf2_iterations"] << "\n"
            << "max login failures:  " << s["max_login_failures"] << "\n"
            << "button:              " << s["button"].get<std::string>() << ", timeout "
            << s["button_timeout_seconds"] << " s\n";
}

}  // namespace

void add_device_commands(CLI::App& app) {
  auto* dev = app.add_subcommand("device", "Show and configure a device");
  dev->require_subcommand(1);
  struct Info {
    std::string dir;
    bool json = false;
  };
  auto o = std::make_shared<Info>();
  auto* info = dev->add_subcommand("info", "Show serial, diversifier, key fingerprint, token state, settings");
  add_device_option(info, o->dir);
  info->add_flag("--json", o->json, "Print JSON");
  info->callback([o] {
    auto d = device::Device::open(o->dir);
    auto j = device_info(*d);
    if (o->json) {
      std::cout << j.dump(2) << "\n";
    } else {
      print_info(j);
    }
  });
}

}  // namespace twinhsm::cli
