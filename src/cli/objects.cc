// twinhsm objects: what the token holds. Public objects always; private ones with the user PIN.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/pin_input.h"
#include "device/device.h"
#include "token/attribute_policy.h"

namespace twinhsm::cli {

namespace {

std::string class_name(CK_OBJECT_CLASS c) {
  switch (c) {
    case CKO_DATA:
      return "data";
    case CKO_CERTIFICATE:
      return "certificate";
    case CKO_PUBLIC_KEY:
      return "public-key";
    case CKO_PRIVATE_KEY:
      return "private-key";
    case CKO_SECRET_KEY:
      return "secret-key";
    default:
      return "other";
  }
}

std::string key_type_name(const token::AttributeMap& a) {
  if (!a.has(CKA_KEY_TYPE)) {
    return "";
  }
  switch (token::key_type(a)) {
    case CKK_RSA:
      return "rsa";
    case CKK_EC:
      return "ec";
    case CKK_EC_EDWARDS:
      return "ec-edwards";
    case CKK_AES:
      return "aes";
    case CKK_GENERIC_SECRET:
      return "generic-secret";
    default:
      return "other";
  }
}

}  // namespace

void add_objects_commands(CLI::App& app) {
  auto* objects = app.add_subcommand("objects", "List the token's objects");
  objects->require_subcommand(1);
  struct Options {
    std::string dir;
    bool json = false;
    PinSource pin{"pin"};
  };
  auto o = std::make_shared<Options>();
  auto* list =
      objects->add_subcommand("list", "List token objects (private ones too with the user PIN)");
  add_device_option(list, o->dir);
  list->add_flag("--json", o->json, "Print JSON");
  add_pin_options(list, o->pin, "User PIN, to list private objects too");
  list->callback([o] {
    auto d = device::Device::open(o->dir);
    auto& t = d->token();
    if (o->pin.given()) {
      t.login(token::Role::user, read_pin(o->pin, "User PIN"));
    }
    token::AttributeMap all;
    all.set_bool(CKA_TOKEN, true);
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (CK_OBJECT_HANDLE h : t.find(all)) {
      auto obj = t.object(h);
      Bytes label = obj->attrs.get_bytes(CKA_LABEL);
      out.push_back({{"handle", h},
                     {"class", class_name(token::object_class(obj->attrs))},
                     {"key_type", key_type_name(obj->attrs)},
                     {"label", std::string(label.begin(), label.end())},
                     {"id", to_hex(obj->attrs.get_bytes(CKA_ID))},
                     {"private", obj->is_private()}});
    }
    t.logout();
    if (o->json) {
      // Labels are bytes; JSON wants UTF-8: invalid sequences become U+FFFD.
      std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      return;
    }
    for (const auto& j : out) {
      std::cout << j["handle"] << "\t" << j["class"].get<std::string>() << "\t"
                << j["key_type"].get<std::string>() << "\tid=" << j["id"].get<std::string>() << "\t"
                << (j["private"].get<bool>() ? "private" : "public") << "\t\""
                << j["label"].get<std::string>() << "\"\n";
    }
    if (out.empty()) {
      std::cout << "no objects"
                << (o->pin.given() ? "" : " (give the user PIN to see private ones)") << "\n";
    }
  });
}

}  // namespace twinhsm::cli
