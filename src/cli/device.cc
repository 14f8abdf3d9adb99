// twinhsm device: what a device is and how it is set up.
#include "device/device.h"

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/pin_input.h"
#include "device/firmware_key.h"
#include "device/settings.h"
#include "token/algorithm_policy.h"
#include "token/settings.h"

namespace twinhsm::cli {

namespace {

nlohmann::ordered_json secure_element_json(const device::SecureElement& se) {
  nlohmann::ordered_json j;
  j["backend"] = se.backend();
  if (auto tpm = se.describe_tpm()) {
    j["tcti"] = tpm->tcti;
    j["tpm_manufacturer"] = tpm->manufacturer;
    j["tpm_vendor"] = tpm->vendor;
    j["tpm_firmware"] = tpm->firmware;
    j["nv_index"] = tpm->nv_index;
    j["dictionary_attack"] = {{"failures", tpm->lockout_failures},
                              {"max_tries", tpm->lockout_max_tries},
                              {"recovery_seconds", tpm->lockout_recovery_seconds},
                              {"in_lockout", tpm->in_lockout}};
  }
  return j;
}

std::string secure_element_text(const nlohmann::ordered_json& se) {
  if (se["backend"] == "file") {
    return "file (simulated, for development and tests: the directory holds the key)";
  }
  const auto& da = se["dictionary_attack"];
  return "TPM " + se["tpm_manufacturer"].get<std::string>() + " " +
         se["tpm_vendor"].get<std::string>() + ", firmware " +
         se["tpm_firmware"].get<std::string>() + ", via " + se["tcti"].get<std::string>() +
         "\n                     NV counter " + se["nv_index"].get<std::string>() + "; " +
         std::to_string(da["failures"].get<uint32_t>()) + " of " +
         std::to_string(da["max_tries"].get<uint32_t>()) + " wrong PINs before lockout" +
         (da["in_lockout"].get<bool>() ? " (IN LOCKOUT)" : "");
}

nlohmann::ordered_json device_info(device::Device& d) {
  namespace s = token::settings;
  namespace ds = device::settings;
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
  j["secure_element"] = secure_element_json(d.secure_element());
  j["token"] = {{"label", t.label()},
                {"initialized", so.initialized},
                {"user_pin_initialized", user.initialized},
                {"so_pin_failures", so.failures},
                {"user_pin_failures", user.failures},
                {"so_pin_locked", so.locked()},
                {"user_pin_locked", user.locked()}};
  j["objects"] = {{"public", counts.public_objects}, {"private", counts.private_objects}};
  j["settings"] = {
      {"pbkdf2_iterations", s::require_uint(d.store(), s::kPbkdf2Iterations)},
      {"max_login_failures", s::require_uint(d.store(), s::kMaxLoginFailures)},
      {"button", d.store().setting_text(ds::kButtonBackend).value_or(ds::kDefaultButton)},
      {"button_timeout_seconds",
       ds::read_uint(d.store(), ds::kButtonTimeout, ds::kDefaultButtonTimeout)},
      {"key_policy", token::key_policy_name(t.key_policy())},
      {"algorithms", token::algorithm_policy_name(token::algorithm_policy(t))}};
  return j;
}

void print_info(const nlohmann::ordered_json& j) {
  const auto& t = j["token"];
  const auto& s = j["settings"];
  std::cout << "device:              " << j["device"].get<std::string>() << "\n"
            << "serial:              " << j["serial"].get<std::string>() << "\n"
            << "diversifier:         " << j["diversifier"].get<std::string>() << "\n"
            << "backup key:          fingerprint " << j["dbk_fingerprint"].get<std::string>()
            << "\n"
            << "firmware key:        "
            << (j["firmware_key_is_development"].get<bool>()
                    ? "public development key (this build protects nothing at rest)"
                    : "vendor key")
            << "\n"
            << "secure element:      " << secure_element_text(j["secure_element"]) << "\n"
            << "token:               "
            << (t["initialized"].get<bool>()
                    ? "initialized, label \"" + t["label"].get<std::string>() + "\""
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
            << s["button_timeout_seconds"] << " s\n"
            << "key policy:          " << s["key_policy"].get<std::string>() << "\n"
            << "algorithms:          " << s["algorithms"].get<std::string>() << "\n";
}

// add_policy_command adds `device NAME POLICY`: a device setting that only the SO changes (the PIN
// is checked, and counted, like a login).
void add_policy_command(CLI::App* dev, const char* name, const char* description,
                        const char* policy_help, const char* setting, const char* label,
                        bool (*valid)(const std::string&), const char* invalid) {
  struct SetPolicy {
    std::string dir, policy;
    PinSource so_pin{"so-pin"};
  };
  auto k = std::make_shared<SetPolicy>();
  auto* cmd = dev->add_subcommand(name, description);
  add_device_option(cmd, k->dir);
  cmd->add_option("policy", k->policy, policy_help)->required();
  add_pin_options(cmd, k->so_pin, "SO PIN");
  cmd->callback([k, setting, label, valid, invalid] {
    if (!valid(k->policy)) {
      throw UsageError(invalid);
    }
    auto d = device::Device::open(k->dir);
    d->token().verify_pin(token::Role::so, read_pin(k->so_pin, "SO PIN"));
    store::Store::WriteTransaction tx(d->store());
    d->store().put_setting(setting, k->policy);
    tx.commit();
    std::cout << label << ": " << k->policy << "\n";
  });
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
  auto* info = dev->add_subcommand(
      "info", "Show serial, diversifier, key fingerprint, token state, settings");
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

  struct SetButton {
    std::string dir, backend;
    std::optional<uint32_t> timeout;
  };
  auto b = std::make_shared<SetButton>();
  auto* set_button = dev->add_subcommand("set-button", "Choose the button backend and its timeout");
  add_device_option(set_button, b->dir);
  set_button
      ->add_option("backend", b->backend,
                   "socket, tty, gpio:CHIP:LINE[:rising|falling], or insecure-auto (only on "
                   "devices personalized with it)")
      ->required();
  set_button->add_option("--timeout", b->timeout, "Seconds to wait for a press (1 to 3600)");
  set_button->callback([b] {
    namespace s = device::settings;
    button::validate_spec(b->backend);
    if (b->timeout && (*b->timeout < 1 || *b->timeout > 3600)) {
      throw UsageError("--timeout must be between 1 and 3600 seconds");
    }
    auto d = device::Device::open(b->dir);
    if (b->backend == "insecure-auto" && !d->secure_element().insecure_auto_button_allowed) {
      throw UsageError(
          "insecure-auto is allowed only on devices personalized with it (test devices)");
    }
    store::Store::WriteTransaction tx(d->store());
    d->store().put_setting(s::kButtonBackend, b->backend);
    if (b->timeout) {
      d->store().put_setting(s::kButtonTimeout, std::to_string(*b->timeout));
    }
    tx.commit();
    std::cout << "button: " << b->backend << ", timeout "
              << s::read_uint(d->store(), s::kButtonTimeout, s::kDefaultButtonTimeout) << " s\n";
  });

  add_policy_command(
      dev, "set-key-policy",
      "Choose the key-management policy (strict or compatible); needs the SO PIN",
      "strict: no key both wraps keys and encrypts data; compatible: such keys may be made "
      "(legacy applications) but never wrap a sensitive key",
      token::settings::kKeyPolicy, "key policy",
      [](const std::string& v) { return token::key_policy_from_name(v).has_value(); },
      "the key policy must be strict or compatible");
  add_policy_command(
      dev, "set-algorithms", "Choose the algorithm policy (modern or legacy); needs the SO PIN",
      "modern: NIST-approved algorithms and PKCS#11 3.0's modern set; legacy: also DES, Triple "
      "DES, DSA, DH, MD5, RSA-1024 and P-192, as SoftHSMv2 has them",
      token::settings::kAlgorithms, "algorithms",
      [](const std::string& v) { return token::algorithm_policy_from_name(v).has_value(); },
      "the algorithm policy must be modern or legacy");
}

}  // namespace twinhsm::cli
