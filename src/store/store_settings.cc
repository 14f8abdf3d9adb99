// Store's small tables (store.h): settings, device_state and roles rows, each authenticated by
// its row MAC.
#include "store/row_fields.h"
#include "store/store.h"

namespace twinhsm::store {

using detail::role_fields;
using detail::setting_fields;

std::optional<Bytes> Store::setting(std::string_view key) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "SELECT value, mac FROM settings WHERE key = ?");
  st.bind(1, key);
  if (!st.step()) {
    return std::nullopt;
  }
  Bytes value = st.column_blob(0);
  check_mac("settings", {setting_fields(key, value).bytes()}, st.column_blob(1),
            "setting " + std::string(key));
  return value;
}

std::optional<std::string> Store::setting_text(std::string_view key) {
  auto v = setting(key);
  if (!v) {
    return std::nullopt;
  }
  return std::string(v->begin(), v->end());
}

void Store::put_setting(std::string_view key, ByteView value) {
  in_write([&] {
    Statement st(db_, "INSERT OR REPLACE INTO settings(key, value, mac) VALUES(?, ?, ?)");
    st.bind(1, key).bind(2, value).bind(
        3, ByteView(row_mac("settings", {setting_fields(key, value).bytes()})));
    st.run();
  });
}

void Store::delete_setting(std::string_view key) {
  in_write([&] {
    Statement st(db_, "DELETE FROM settings WHERE key = ?");
    st.bind(1, key).run();
  });
}

std::map<std::string, Bytes> Store::settings() {
  std::lock_guard lock(mutex_);
  std::map<std::string, Bytes> out;
  Statement st(db_, "SELECT key, value, mac FROM settings ORDER BY key");
  while (st.step()) {
    std::string key = st.column_text(0);
    Bytes value = st.column_blob(1);
    check_mac("settings", {setting_fields(key, value).bytes()}, st.column_blob(2),
              "setting " + key);
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

std::optional<Bytes> Store::device_state(std::string_view key) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "SELECT value, mac FROM device_state WHERE key = ?");
  st.bind(1, key);
  if (!st.step()) {
    return std::nullopt;
  }
  Bytes value = st.column_blob(0);
  check_mac("device_state", {setting_fields(key, value).bytes()}, st.column_blob(1),
            "device state " + std::string(key));
  return value;
}

void Store::put_device_state(std::string_view key, ByteView value) {
  in_write([&] {
    Statement st(db_, "INSERT OR REPLACE INTO device_state(key, value, mac) VALUES(?, ?, ?)");
    st.bind(1, key).bind(2, value);
    st.bind(3, ByteView(row_mac("device_state", {setting_fields(key, value).bytes()})));
    st.run();
  });
}

void Store::delete_device_state(std::string_view key) {
  in_write([&] {
    Statement st(db_, "DELETE FROM device_state WHERE key = ?");
    st.bind(1, key).run();
  });
}

std::optional<RoleRow> Store::role(int role) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "SELECT salt, iterations, wrapped_sk, failures, mac FROM roles WHERE role = ?");
  st.bind(1, int64_t{role});
  if (!st.step()) {
    return std::nullopt;
  }
  RoleRow r;
  r.role = role;
  r.salt = st.column_blob(0);
  r.iterations = static_cast<uint32_t>(st.column_int(1));
  r.wrapped_sk = st.column_blob(2);
  r.failures = static_cast<uint32_t>(st.column_int(3));
  check_mac("roles", {role_fields(r).bytes()}, st.column_blob(4), "a role's login data");
  return r;
}

std::vector<RoleRow> Store::roles() {
  std::lock_guard lock(mutex_);
  std::vector<RoleRow> out;
  std::vector<int64_t> ids;
  {
    Statement st(db_, "SELECT role FROM roles ORDER BY role");
    while (st.step()) {
      ids.push_back(st.column_int(0));
    }
  }
  out.reserve(ids.size());
  for (int64_t id : ids) {
    out.push_back(*role(static_cast<int>(id)));
  }
  return out;
}

void Store::put_role(const RoleRow& r) {
  in_write([&] {
    Statement st(db_,
                 "INSERT OR REPLACE INTO roles(role, salt, iterations, wrapped_sk, failures, mac)"
                 " VALUES(?, ?, ?, ?, ?, ?)");
    st.bind(1, int64_t{r.role}).bind(2, ByteView(r.salt)).bind(3, int64_t{r.iterations});
    st.bind(4, ByteView(r.wrapped_sk)).bind(5, int64_t{r.failures});
    st.bind(6, ByteView(row_mac("roles", {role_fields(r).bytes()})));
    st.run();
  });
}

void Store::delete_role(int role) {
  in_write([&] {
    Statement st(db_, "DELETE FROM roles WHERE role = ?");
    st.bind(1, int64_t{role}).run();
  });
}

}  // namespace twinhsm::store
