// twinhsm import softhsm2: a SoftHSMv2 token's objects moved into the device's token.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/pin_input.h"
#include "device/device.h"
#include "import/importer.h"
#include "import/softhsm2_token.h"
#include "token/ck_error.h"

namespace twinhsm::cli {

namespace {

nlohmann::ordered_json object_json(const import::Candidate& c) {
  nlohmann::ordered_json j = {{"file", c.file},         {"class", c.class_name},
                              {"key_type", c.key_type}, {"label", c.label},
                              {"id", c.id_hex},         {"private", c.is_private}};
  if (!c.unsupported.empty()) {
    j["reason"] = c.unsupported;
  }
  return j;
}

void print_result(const import::SoftHsm2Token& source, const import::ImportResult& r,
                  const std::string& device_dir, bool dry_run, bool json) {
  if (json) {
    nlohmann::ordered_json out = {{"source",
                                   {{"directory", source.dir().string()},
                                    {"label", source.label()},
                                    {"serial", source.serial()}}},
                                  {"device", device_dir},
                                  {"dry_run", dry_run},
                                  {"imported", nlohmann::ordered_json::array()},
                                  {"skipped", nlohmann::ordered_json::array()},
                                  {"narrowed", r.narrowed}};
    for (const auto& c : r.imported) {
      out["imported"].push_back(object_json(c));
    }
    for (const auto& c : r.skipped) {
      out["skipped"].push_back(object_json(c));
    }
    // Labels are bytes; JSON wants UTF-8: invalid sequences become U+FFFD.
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  for (const auto& c : r.imported) {
    std::cout << (dry_run ? "would import  " : "imported  ") << c.describe() << "\n";
  }
  for (const auto& c : r.skipped) {
    std::cout << "skipped  " << c.describe() << ": " << c.unsupported << "\n";
  }
  for (const auto& name : r.narrowed) {
    std::cout << "narrowed  " << name << ": CKA_WRAP and CKA_UNWRAP dropped (strict key policy)\n";
  }
  std::cout << (dry_run ? "dry run: " : "") << r.imported.size() << " object(s) "
            << (dry_run ? "would be imported" : "imported") << " from SoftHSMv2 token \""
            << source.label() << "\" (serial " << source.serial() << ") into " << device_dir;
  if (!r.skipped.empty()) {
    std::cout << "; " << r.skipped.size() << " skipped";
  }
  std::cout << (dry_run ? "; nothing was written" : "") << "\n";
}

}  // namespace

void add_import_commands(CLI::App& app) {
  auto* imp = app.add_subcommand("import", "Move another token's objects into the token");
  imp->require_subcommand(1);
  struct Options {
    std::string dir, from;
    bool dry_run = false, skip_unsupported = false, narrow_usage = false, json = false;
    PinSource pin{"pin"}, softhsm_pin{"softhsm-pin"};
  };
  auto o = std::make_shared<Options>();
  auto* sh = imp->add_subcommand(
      "softhsm2",
      "Copy every object of a SoftHSMv2 token (keys, even sensitive and unextractable ones, "
      "certificates, data objects) into the token with their attributes, all or nothing. Reads "
      "the token's directory (SoftHSMv2's file backend) and never writes it; its user PIN "
      "decrypts the private objects. Imported keys get CKA_LOCAL false and keep "
      "CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE as SoftHSMv2 generated them. An object "
      "twinhsm cannot hold (DSA, DH, DES, GOST keys, other curves) refuses the import unless "
      "--skip-unsupported; so does one already in the token (same class, CKA_ID and CKA_LABEL), "
      "and one the device's key policy refuses (SoftHSMv2 gives its keys every usage: see "
      "'twinhsm device set-key-policy').");
  add_device_option(sh, o->dir);
  sh->add_option("--from", o->from,
                 "SoftHSMv2 token directory: the <uuid> directory under its directories.tokendir, "
                 "holding token.object")
      ->required();
  add_pin_options(sh, o->pin, "twinhsm user PIN");
  add_pin_options(sh, o->softhsm_pin, "SoftHSMv2 user PIN of the token given with --from");
  sh->add_flag("--dry-run", o->dry_run,
               "Check and list everything that would be imported (both PINs needed), then write "
               "nothing");
  sh->add_flag("--skip-unsupported", o->skip_unsupported,
               "Import what twinhsm can hold and list the rest as skipped, instead of refusing");
  sh->add_flag("--narrow-usage", o->narrow_usage,
               "On a device with the strict key policy, import a sensitive or unextractable key "
               "that may both wrap keys and encrypt data (SoftHSMv2's default) without CKA_WRAP "
               "and CKA_UNWRAP, instead of refusing it");
  sh->add_flag("--json", o->json, "Print the result as JSON");
  sh->callback([o] {
    auto d = device::Device::open(o->dir);
    token::Token& t = d->token();
    if (!t.initialized()) {
      throw UsageError("the token of " + o->dir +
                       " is not initialized: run 'twinhsm token init' "
                       "first");
    }
    auto source = import::SoftHsm2Token::open(o->from);
    std::vector<import::SourceObject> objects =
        source.read_objects(read_pin(o->softhsm_pin, "SoftHSMv2 user PIN"));
    import::ImportOptions options{o->dry_run, o->skip_unsupported, o->narrow_usage};
    import::ImportResult plan = import::plan_import(objects, options);
    try {
      t.login(token::Role::user, read_pin(o->pin, "twinhsm user PIN"));
    } catch (const token::CkError& e) {
      if (e.rv() != CKR_PIN_INCORRECT) {
        throw;
      }
      throw token::CkError(e.rv(), "wrong twinhsm user PIN");  // there are two PINs here
    }
    import::import_objects(t, plan, options);
    t.logout();
    print_result(source, plan, o->dir, o->dry_run, o->json);
  });
}

}  // namespace twinhsm::cli
