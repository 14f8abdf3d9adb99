// What the crash workload (crash_workload.cc) and the crash test (crash_test.cc) agree on: the
// device's PINs, how an object is made from its operation number n (so the test can recompute
// every attribute of an object it saw only a log line of), labels, backup file names, and the
// log line format.
#pragma once

#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "crypto/secure_bytes.h"
#include "token/attribute_policy.h"
#include "token/attributes.h"
#include "token/key_material.h"

namespace twinhsm::crash {

inline constexpr std::string_view kSoPin = "crash-so-pin-0000";
// The user PIN alternates between these two; the log names them by index.
inline constexpr std::string_view kUserPins[2] = {"crash-user-pin-A", "crash-user-pin-B"};
inline constexpr const char* kDiversifier = "crash-pair";
inline constexpr const char* kTokenLabel = "crash";

// The factory master key of the test: bytes 00 01 ... 1f.
inline crypto::SecureBytes master_key() {
  crypto::SecureBytes key(32);
  for (size_t i = 0; i < key.size(); ++i) {
    key[i] = static_cast<uint8_t>(i);
  }
  return key;
}

// The kinds of object the workload creates.
enum class Kind { data_public = 0, data_private = 1, aes_public = 2, aes_private = 3 };
inline constexpr int kKinds = 4;

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::data_public:
      return "data-pub";
    case Kind::data_private:
      return "data-priv";
    case Kind::aes_public:
      return "aes-pub";
    case Kind::aes_private:
      return "aes-priv";
  }
  return "?";
}

inline std::optional<Kind> kind_from_name(std::string_view s) {
  for (int i = 0; i < kKinds; ++i) {
    if (s == kind_name(static_cast<Kind>(i))) {
      return static_cast<Kind>(i);
    }
  }
  return std::nullopt;
}

// value_for is the known CKA_VALUE of object n: an AES key of 16 or 32 bytes, or 20 to 532 bytes
// of data, every byte a function of n.
inline Bytes value_for(uint64_t n, Kind kind) {
  bool aes = kind == Kind::aes_public || kind == Kind::aes_private;
  size_t len = aes ? (n % 2 ? 32 : 16) : 20 + (n * 37) % 513;
  Bytes v(len);
  uint64_t x = n * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  for (size_t i = 0; i < len; ++i) {
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    v[i] = static_cast<uint8_t>(x);
  }
  return v;
}

inline std::string label_for(uint64_t n) {
  return "obj-" + std::to_string(n);
}
// A label change by operation k gives object n this label.
inline std::string relabel_for(uint64_t n, uint64_t k) {
  return label_for(n) + "/" + std::to_string(k);
}

inline std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
    return std::nullopt;
  }
  return v;
}

// label_owner returns n of a label made by label_for or relabel_for.
inline std::optional<uint64_t> label_owner(std::string_view label) {
  if (label.substr(0, 4) != "obj-") {
    return std::nullopt;
  }
  label.remove_prefix(4);
  return parse_u64(label.substr(0, label.find('/')));
}

// object_template is the template of C_CreateObject for object n.
inline token::AttributeMap object_template(uint64_t n, Kind kind) {
  bool aes = kind == Kind::aes_public || kind == Kind::aes_private;
  bool priv = kind == Kind::data_private || kind == Kind::aes_private;
  token::AttributeMap t;
  t.set_ulong(CKA_CLASS, aes ? CKO_SECRET_KEY : CKO_DATA);
  if (aes) {
    t.set_ulong(CKA_KEY_TYPE, CKK_AES);
    Bytes id;
    append_be(id, n, 8);
    t.set(CKA_ID, ByteView(id));
    t.set_bool(CKA_EXTRACTABLE, n % 3 == 0);
  } else {
    t.set(CKA_APPLICATION, as_bytes("twinhsm crash test"));
  }
  t.set_bool(CKA_TOKEN, true);
  t.set_bool(CKA_PRIVATE, priv);
  std::string label = label_for(n);
  t.set(CKA_LABEL, as_bytes(label));
  t.set(CKA_VALUE, ByteView(value_for(n, kind)));
  return t;
}

// complete_object is what C_CreateObject makes of the template (pkcs11/objects.cc): the stored
// attributes, CKA_UNIQUE_ID drawn at random.
inline token::AttributeMap complete_object(const token::AttributeMap& tmpl) {
  token::AttributeMap attrs = token::complete_template(tmpl, token::Origin::created);
  token::check_required(attrs);
  token::validate_key_object(attrs);
  token::finish_key(attrs, token::Origin::created);
  return attrs;
}

// backup_name is the file name of the backup made by operation n while the user PIN was
// kUserPins[pin]: a restore of it leaves that PIN.
inline std::string backup_name(uint64_t n, int pin) {
  return "bk-" + std::to_string(n) + "-p" + std::to_string(pin) + ".twb";
}

// backup_pin returns the PIN index a backup name carries, nullopt for any other name.
inline std::optional<int> backup_pin(std::string_view name) {
  if (name.substr(0, 3) != "bk-" || name.size() < 10 || name.substr(name.size() - 4) != ".twb") {
    return std::nullopt;
  }
  auto p = name.rfind("-p");
  if (p == std::string_view::npos || p + 3 != name.size() - 4) {
    return std::nullopt;
  }
  char c = name[p + 2];
  if (c != '0' && c != '1') {
    return std::nullopt;
  }
  if (!parse_u64(name.substr(3, p - 3))) {
    return std::nullopt;
  }
  return c - '0';
}

// A log line: "begin N OP k=v k=v", "done N OP k=v ...", "ready N", "fail N OP message".
struct LogLine {
  std::string what;  // begin | done | ready | fail
  uint64_t n = 0;
  std::string op;
  std::map<std::string, std::string> args;
  std::string text;  // the whole line
};

inline std::optional<LogLine> parse_line(const std::string& line) {
  LogLine l;
  l.text = line;
  std::istringstream in(line);
  std::string n;
  if (!(in >> l.what >> n)) {
    return std::nullopt;
  }
  auto v = parse_u64(n);
  if (!v) {
    return std::nullopt;
  }
  l.n = *v;
  if (l.what == "ready") {
    return l;
  }
  if (!(in >> l.op)) {
    return std::nullopt;
  }
  if (l.what == "fail") {
    return l;
  }
  std::string kv;
  while (in >> kv) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) {
      return std::nullopt;
    }
    l.args[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return l;
}

}  // namespace twinhsm::crash
