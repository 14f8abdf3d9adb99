// Other processes' commits (token.h): the object cache is valid for one data_version of the store;
// a commit by another connection drops it, and a new token generation (a restore or a token
// initialization elsewhere) ends this process's login, whose SK is no longer the token's.
#include <chrono>

#include "token/settings.h"
#include "token/token.h"

namespace twinhsm::token {

namespace {

int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Token::clear_cache() {
  std::lock_guard lock(mutex_);
  cache_.clear();
}

void Token::sync() {
  synced_at_ns_.store(steady_now_ns(), std::memory_order_relaxed);  // before: errs towards syncing
  int64_t version = store_.data_version();
  bool logged_in;
  {
    std::lock_guard lock(mutex_);
    if (version == synced_version_) {
      return;
    }
    cache_.clear();
    synced_version_ = version;
    logged_in = role_.has_value();
  }
  if (logged_in) {
    check_generation();
  }
}

ObjectPtr Token::materialize(const store::ObjectRow& row, const std::optional<SecureBytes>& sk) {
  auto handle = static_cast<CK_OBJECT_HANDLE>(row.id);
  {
    std::lock_guard lock(mutex_);
    if (ObjectPtr cached = cache_.find(handle, row.mac)) {
      return cached;
    }
  }
  auto obj = std::make_shared<Object>();
  obj->handle = handle;
  obj->attrs = read(row, sk);
  std::lock_guard lock(mutex_);
  cache_.put(handle, row.mac, obj);
  return obj;
}

void Token::check_generation() {
  std::string now = store_.setting_text(settings::kTokenGeneration).value_or("");
  bool stale;
  {
    std::lock_guard lock(mutex_);
    stale = role_ && now != generation_;
  }
  if (stale) {
    logout();
    throw LoggedOutByAnotherProcess(*this);
  }
}

AttributeMap Token::read(const store::ObjectRow& row, const std::optional<SecureBytes>& sk) {
  try {
    return codec_.decode(row, sk ? &*sk : nullptr);
  } catch (const IntegrityError&) {
    if (row.is_private) {
      check_generation();
    }
    throw;
  }
}

bool Token::rows_portable() {
  return store_.setting_text(settings::kRowEncoding) == "2";
}

void Token::migrate_rows() {
  if (rows_portable()) {
    return;
  }
  auto keys = login_keys();
  const LoginKeys* login = keys && keys->role == Role::user ? &*keys : nullptr;
  store::Store::WriteTransaction tx(store_);
  bool all = true;
  std::vector<store::ObjectRow> rows;
  store_.for_each_object([&](const store::ObjectRow& row) { rows.push_back(row); });
  for (const store::ObjectRow& row : rows) {
    if (row.is_private && !login) {
      all = false;
      continue;
    }
    bool portable = false;
    AttributeMap attrs;
    try {
      attrs = codec_.decode(row, login ? &login->sk : nullptr, &portable);
    } catch (const IntegrityError&) {
      all = false;  // a damaged row stays as it is: it fails when it is used
      continue;
    }
    if (!portable) {
      store_.update_object(codec_.encode(row.id, attrs, login));
    }
  }
  if (all) {
    store_.put_setting(settings::kRowEncoding, "2");
  }
  tx.commit();
  clear_cache();
}

bool Token::recently_synced() const {
  return steady_now_ns() - synced_at_ns_.load(std::memory_order_relaxed) < kKeyFreshnessNs;
}

}  // namespace twinhsm::token
