#include "token/token.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <utility>

#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "crypto/keywrap.h"
#include "crypto/random.h"
#include "fs/owned_file.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/settings.h"

namespace twinhsm::token {

namespace {

constexpr size_t kSaltLen = 32;
constexpr size_t kKeyLen = 32;
constexpr size_t kNonceLen = 12;
constexpr size_t kTagLen = 16;
constexpr size_t kMinPin = 4;
constexpr size_t kMaxPin = 255;

void check_pin_length(ByteView pin) {
  require(pin.size() >= kMinPin && pin.size() <= kMaxPin, CKR_PIN_LEN_RANGE,
          "a PIN must be 4 to 255 bytes long");
}

const char* role_name(Role r) { return r == Role::so ? "so" : "user"; }

Bytes object_aad(int64_t id, bool is_private) {
  Bytes aad(as_bytes("twinhsm object v1").begin(), as_bytes("twinhsm object v1").end());
  append_be(aad, static_cast<uint64_t>(id), 8);
  aad.push_back(is_private ? 1 : 0);
  return aad;
}

Bytes seal(const SecureBytes& key, ByteView aad, const SecureBytes& plaintext) {
  Bytes out = crypto::random_bytes(kNonceLen);
  Bytes ct = crypto::aes_gcm_encrypt(key, out, aad, plaintext, kTagLen);
  append(out, ct);
  return out;
}

SecureBytes open(const SecureBytes& key, ByteView aad, ByteView sealed) {
  if (sealed.size() < kNonceLen + kTagLen) {
    throw IntegrityError("a stored object is truncated");
  }
  return crypto::aes_gcm_decrypt(key, sealed.first(kNonceLen), aad, sealed.subspan(kNonceLen),
                                 kTagLen);
}

SecureBytes derive_private_index_key(const SecureBytes& sk) {
  return crypto::kbkdf_counter_hmac_sha256(sk, "twinhsm private index v1", ByteView(), kKeyLen);
}

}  // namespace

Token::Token(store::Store& store, TokenKeys keys, std::unique_ptr<PinGuard> pin_guard)
    : store_(store), keys_(std::move(keys)), pin_guard_(std::move(pin_guard)) {}

Token::~Token() = default;

bool Token::initialized() { return store_.role(static_cast<int>(Role::so)).has_value(); }

std::string Token::label() { return store_.setting_text(settings::kTokenLabel).value_or(""); }

uint32_t Token::pbkdf2_iterations() {
  return settings::require_uint(store_, settings::kPbkdf2Iterations);
}

uint32_t Token::max_failures() { return settings::require_uint(store_, settings::kMaxLoginFailures); }

PinState Token::pin_state(Role role) {
  PinState s;
  s.max_failures = max_failures();
  if (auto row = store_.role(static_cast<int>(role))) {
    s.initialized = true;
    s.failures = row->failures;
  }
  if (pin_guard_ && s.initialized) {
    s.guard_remaining = pin_guard_->remaining();
  }
  return s;
}

KeyPolicy Token::key_policy() {
  auto text = store_.setting_text(settings::kKeyPolicy);
  if (!text) {
    return KeyPolicy::strict;
  }
  auto policy = key_policy_from_name(*text);
  if (!policy) {
    throw IntegrityError("the device's key policy setting '" + *text + "' is unknown");
  }
  return *policy;
}

std::optional<Role> Token::logged_in() const {
  std::lock_guard lock(mutex_);
  return role_;
}

std::optional<Token::LoginKeys> Token::login_keys() const {
  std::lock_guard lock(mutex_);
  if (!role_) {
    return std::nullopt;
  }
  return LoginKeys{*role_, sk_, private_index_key_};
}

std::optional<SecureBytes> Token::current_sk() const {
  std::lock_guard lock(mutex_);
  if (!role_) {
    return std::nullopt;
  }
  return sk_;
}

SecureBytes Token::stretch(const store::RoleRow& row, ByteView pin) const {
  return crypto::pbkdf2_hmac_sha256(pin, row.salt, row.iterations, kKeyLen);
}

SecureBytes Token::derive_kek(const store::RoleRow& row, const SecureBytes& stretched) const {
  SecureBytes input = stretched;
  input.insert(input.end(), keys_.login_secret.begin(), keys_.login_secret.end());
  return crypto::kbkdf_counter_hmac_sha256(input, "twinhsm role kek v1",
                                           as_bytes(role_name(static_cast<Role>(row.role))), kKeyLen);
}

Token::WrappedSk Token::wrap_sk(Role role, ByteView pin, const SecureBytes& sk) const {
  WrappedSk w;
  w.row.role = static_cast<int>(role);
  w.row.salt = crypto::random_bytes(kSaltLen);
  w.row.iterations = const_cast<Token*>(this)->pbkdf2_iterations();
  w.stretched = stretch(w.row, pin);
  w.row.wrapped_sk = crypto::aes_key_wrap(derive_kek(w.row, w.stretched), sk);
  w.row.failures = 0;
  return w;
}

void Token::store_role(Role role, const WrappedSk& wrapped) {
  store_.put_role(wrapped.row);
  if (pin_guard_) {
    pin_guard_->enroll(role, wrapped.row, wrapped.stretched);
  }
}

namespace {

// LoginAttemptLock serializes PIN checks on one device, across the threads and processes that use
// it (flock on a file next to the store): the failure counter is raised before each check and
// reset after a right PIN, so attempts that overlapped would count against each other and lock
// a right PIN out. Best effort: where the file cannot be made (a read-only device, on which no
// login can count anyway) there is no lock. The file is opened as fs::open_or_create_owned does
// (root may run this on a device another user controls): a link or special file planted there
// is refused, never followed (StoreError: the device is unusable until it is removed).
class LoginAttemptLock {
 public:
  explicit LoginAttemptLock(const std::filesystem::path& store) {
    std::filesystem::path file = store;
    file += ".login-lock";
    try {
      fd_ = fs::open_or_create_owned(
          file, 0600, fs::owner_of(store.has_parent_path() ? store.parent_path() : "."));
    } catch (const UsageError& e) {
      throw StoreError(e.what());
    }
    while (fd_.valid() && ::flock(fd_.get(), LOCK_EX) != 0 && errno == EINTR) {
    }
  }

 private:
  fs::UniqueFd fd_;  // closing it releases the lock
};

}  // namespace

SecureBytes Token::unwrap_sk(Role role, ByteView pin) {
  LoginAttemptLock one_attempt_at_a_time(store_.path());
  if (pin_guard_ && pin_guard_->remaining() == 0) {
    throw CkError(CKR_PIN_LOCKED, pin_guard_->lockout_advice());
  }
  uint32_t limit = max_failures();
  store::RoleRow row;
  {
    // Raise the failure counter and make it durable before the check: a process killed during
    // the check has still spent the attempt.
    store::Store::WriteTransaction tx(store_);
    auto current = store_.role(static_cast<int>(role));
    if (!current) {
      throw CkError(role == Role::user ? CKR_USER_PIN_NOT_INITIALIZED : CKR_USER_TYPE_INVALID,
                    role == Role::user ? "the user PIN is not initialized"
                                       : "the token is not initialized");
    }
    row = *current;
    require(row.failures < limit, CKR_PIN_LOCKED,
            role == Role::user ? "the user PIN is locked; the SO must set a new one (init-pin)"
                               : "the SO PIN is locked; the token must be restored from a backup");
    store::RoleRow raised = row;
    ++raised.failures;
    store_.put_role(raised);
    tx.commit();
  }
  SecureBytes stretched = stretch(row, pin);
  auto verdict = pin_guard_ ? pin_guard_->check(role, row, stretched) : PinGuard::Verdict::unknown;
  SecureBytes sk;
  if (verdict != PinGuard::Verdict::wrong) {
    try {
      sk = crypto::aes_key_unwrap(derive_kek(row, stretched), row.wrapped_sk);
    } catch (const IntegrityError&) {
      // a wrong PIN: the key-wrap integrity check is the PIN check
    }
  }
  if (sk.empty()) {
    bool locked = row.failures + 1 >= limit || (pin_guard_ && pin_guard_->remaining() == 0);
    throw CkError(locked ? CKR_PIN_LOCKED : CKR_PIN_INCORRECT,
                  locked ? "wrong PIN; the PIN is now locked" : "wrong PIN");
  }
  store::Store::WriteTransaction tx(store_);
  if (auto now = store_.role(static_cast<int>(role))) {
    now->failures = 0;
    store_.put_role(*now);
  }
  if (pin_guard_ && verdict == PinGuard::Verdict::unknown) {
    pin_guard_->enroll(role, row, stretched);  // a row it had no record of, now proved right
  }
  tx.commit();
  return sk;
}

void Token::init_token(ByteView so_pin, const std::string& label) {
  check_pin_length(so_pin);
  if (initialized()) {
    unwrap_sk(Role::so, so_pin);
  }
  SecureBytes sk = crypto::random_secret(kKeyLen);
  WrappedSk so = wrap_sk(Role::so, so_pin, sk);
  {
    store::Store::WriteTransaction tx(store_);
    store_.delete_all_objects();
    store_.delete_role(static_cast<int>(Role::user));
    store_role(Role::so, so);
    store_.put_setting(settings::kTokenLabel, label);
    store_.put_setting(settings::kTokenGeneration, to_hex(crypto::random_bytes(16)));
    tx.commit();
  }
  ++login_epoch_;
  std::lock_guard lock(mutex_);
  role_.reset();
  crypto::cleanse(sk_.data(), sk_.size());
  sk_.clear();
  session_objects_.clear();
  cache_.clear();
  dump_protection_.reset();
}

void Token::login(Role role, ByteView pin) {
  SecureBytes sk = unwrap_sk(role, pin);
  SecureBytes index_key = derive_private_index_key(sk);
  std::string generation = store_.setting_text(settings::kTokenGeneration).value_or("");
  std::lock_guard lock(mutex_);
  // Checked again here: another thread of the application may have logged in meanwhile.
  if (role_) {
    throw CkError(*role_ == role ? CKR_USER_ALREADY_LOGGED_IN : CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
                  "a user is already logged in");
  }
  if (!dump_protection_) {
    dump_protection_.emplace();
  }
  generation_ = std::move(generation);
  role_ = role;
  sk_ = std::move(sk);
  private_index_key_ = std::move(index_key);
  // After the state: an operation that sees the new epoch sees the login.
  ++login_epoch_;
}

void Token::clear_cache() {
  std::lock_guard lock(mutex_);
  cache_.clear();
}

namespace {
int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

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
    auto it = cache_.find(handle);
    if (it != cache_.end() && it->second.first == row.mac) {
      return it->second.second;
    }
  }
  auto obj = std::make_shared<Object>();
  obj->handle = handle;
  obj->attrs = read(row, sk);
  std::lock_guard lock(mutex_);
  if (cache_.size() >= kCacheLimit) {
    cache_.clear();
  }
  cache_[handle] = {row.mac, obj};
  return obj;
}

void Token::logout() {
  std::lock_guard lock(mutex_);
  // The epoch changes with the state, under the lock: an operation that read the epoch before
  // this either finds no private object any more, or has the old epoch and stops at its next step.
  ++login_epoch_;
  cache_.clear();
  // PKCS#11 (C_Logout): the application's private session objects are destroyed.
  std::erase_if(session_objects_, [](const auto& entry) { return entry.second->is_private(); });
  role_.reset();
  sk_ = SecureBytes();
  private_index_key_ = SecureBytes();
  dump_protection_.reset();
}

void Token::init_pin(ByteView pin) {
  check_pin_length(pin);
  auto sk = current_sk();
  require(sk && logged_in() == Role::so, CKR_USER_NOT_LOGGED_IN, "the SO must be logged in");
  WrappedSk wrapped = wrap_sk(Role::user, pin, *sk);
  store::Store::WriteTransaction tx(store_);
  store_role(Role::user, wrapped);
  tx.commit();
}

void Token::set_pin(Role role, ByteView old_pin, ByteView new_pin) {
  check_pin_length(new_pin);
  SecureBytes sk = unwrap_sk(role, old_pin);
  WrappedSk wrapped = wrap_sk(role, new_pin, sk);
  store::Store::WriteTransaction tx(store_);
  store_role(role, wrapped);
  tx.commit();
}

std::optional<Bytes> Token::tag(const AttributeMap& attrs, CK_ATTRIBUTE_TYPE type,
                                const SecureBytes& key) const {
  const SecureBytes* value = attrs.find(type);
  if (!value) {
    return std::nullopt;
  }
  Bytes input;
  append_be(input, type, 8);
  append(input, *value);
  SecureBytes mac = crypto::hmac_sha256(key, input);
  return Bytes(mac.begin(), mac.begin() + 16);
}

store::ObjectRow Token::encode(int64_t id, const AttributeMap& attrs, const LoginKeys* keys) const {
  store::ObjectRow row;
  row.id = id;
  row.is_private = attrs.get_bool(CKA_PRIVATE, true);
  if (row.is_private && !keys) {
    throw CkError(CKR_USER_NOT_LOGGED_IN, "a private object needs the user logged in");
  }
  const SecureBytes& index_key = row.is_private ? keys->index_key : keys_.index_key;
  row.class_tag = tag(attrs, CKA_CLASS, index_key);
  row.id_tag = tag(attrs, CKA_ID, index_key);
  row.label_tag = tag(attrs, CKA_LABEL, index_key);
  Bytes aad = object_aad(id, row.is_private);
  if (row.is_private) {
    row.body = seal(keys->sk, aad, attrs.encode());
    return row;
  }
  AttributeMap clear, material;
  for (const auto& [type, value] : attrs) {
    (is_key_material(attrs, type) ? material : clear).set(type, value);
  }
  SecureBytes body = clear.encode();
  row.body.assign(body.begin(), body.end());
  if (material.size() > 0) {
    row.secret = seal(keys_.object_key, aad, material.encode());
  }
  return row;
}

AttributeMap Token::decode(const store::ObjectRow& row, const SecureBytes* sk) const {
  Bytes aad = object_aad(row.id, row.is_private);
  if (row.is_private) {
    return AttributeMap::decode(open(*sk, aad, row.body));
  }
  AttributeMap attrs = AttributeMap::decode(row.body);
  if (!row.secret.empty()) {
    AttributeMap material = AttributeMap::decode(open(keys_.object_key, aad, row.secret));
    for (const auto& [type, value] : material) {
      attrs.set(type, value);
    }
  }
  return attrs;
}

namespace {
thread_local Token* t_logged_out_by_another_process = nullptr;
}  // namespace

Token* take_logged_out_by_another_process() {
  return std::exchange(t_logged_out_by_another_process, nullptr);
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
    t_logged_out_by_another_process = this;
    throw CkError(CKR_USER_NOT_LOGGED_IN,
                  "the token was restored or initialized by another process; log in again");
  }
}

AttributeMap Token::read(const store::ObjectRow& row, const std::optional<SecureBytes>& sk) {
  try {
    return decode(row, sk ? &*sk : nullptr);
  } catch (const IntegrityError&) {
    if (row.is_private) {
      check_generation();
    }
    throw;
  }
}

ObjectPtr Token::create(AttributeMap attrs, bool token_object, CK_SESSION_HANDLE owner) {
  bool is_private = attrs.get_bool(CKA_PRIVATE, true);
  auto keys = login_keys();
  require(!is_private || (keys && keys->role == Role::user), CKR_USER_NOT_LOGGED_IN,
          "a private object needs the user logged in");
  auto obj = std::make_shared<Object>();
  obj->attrs = std::move(attrs);
  if (token_object) {
    store::Store::WriteTransaction tx(store_);
    if (is_private) {
      check_generation();
    }
    int64_t id = store_.insert_object([&](int64_t new_id) {
      return encode(new_id, obj->attrs, keys ? &*keys : nullptr);
    });
    tx.commit();
    obj->handle = static_cast<CK_OBJECT_HANDLE>(id);
    return obj;
  }
  std::lock_guard lock(mutex_);
  obj->owner = owner;
  obj->handle = next_session_handle_++;
  session_objects_[obj->handle] = obj;
  return obj;
}

ObjectPtr Token::object(CK_OBJECT_HANDLE handle) {
  if (handle < kSessionHandleBase) {
    sync();
  }
  return lookup(handle);
}

ObjectPtr Token::key(CK_OBJECT_HANDLE handle) {
  if (handle < kSessionHandleBase &&
      steady_now_ns() - synced_at_ns_.load(std::memory_order_relaxed) >= kKeyFreshnessNs) {
    sync();
  }
  return lookup(handle);
}

ObjectPtr Token::lookup(CK_OBJECT_HANDLE handle) {
  {
    // One shared lock for the common cases: a session object, or a token object in the cache.
    // Nothing was committed by another connection since the cached object was read, and this
    // process's own writes update the cache: the cached object is the row's current content.
    std::shared_lock lock(mutex_);
    bool user = role_ == Role::user;
    if (handle >= kSessionHandleBase) {
      auto it = session_objects_.find(handle);
      require(it != session_objects_.end() && (user || !it->second->is_private()),
              CKR_OBJECT_HANDLE_INVALID, "no such object");
      return it->second;
    }
    require(handle != CK_INVALID_HANDLE, CKR_OBJECT_HANDLE_INVALID, "no such object");
    auto it = cache_.find(handle);
    if (it != cache_.end()) {
      const ObjectPtr& cached = it->second.second;
      require(!cached->is_private() || user, CKR_OBJECT_HANDLE_INVALID, "no such object");
      return cached;
    }
  }
  bool user = logged_in() == Role::user;
  auto row = store_.object(static_cast<int64_t>(handle));
  require(row.has_value(), CKR_OBJECT_HANDLE_INVALID, "no such object");
  auto sk = current_sk();
  require(!row->is_private || (user && sk), CKR_OBJECT_HANDLE_INVALID, "no such object");
  return materialize(*row, sk);
}

ObjectPtr Token::replace(const Object& object, AttributeMap attrs) {
  auto obj = std::make_shared<Object>();
  obj->handle = object.handle;
  obj->owner = object.owner;
  obj->attrs = std::move(attrs);
  if (object.is_token()) {
    auto keys = login_keys();
    require(!obj->is_private() || (keys && keys->role == Role::user), CKR_USER_NOT_LOGGED_IN,
            "a private object needs the user logged in");
    store::Store::WriteTransaction tx(store_);
    if (obj->is_private()) {
      check_generation();
    }
    require(store_.object(static_cast<int64_t>(object.handle)).has_value(),
            CKR_OBJECT_HANDLE_INVALID, "the object was destroyed");
    store::ObjectRow row =
        encode(static_cast<int64_t>(object.handle), obj->attrs, keys ? &*keys : nullptr);
    store_.update_object(row);
    tx.commit();
    std::lock_guard lock(mutex_);
    cache_.erase(object.handle);
    return obj;
  }
  std::lock_guard lock(mutex_);
  require(session_objects_.count(object.handle) != 0, CKR_OBJECT_HANDLE_INVALID,
          "the object was destroyed");
  session_objects_[object.handle] = obj;
  return obj;
}

void Token::destroy(const Object& object) {
  if (object.is_token()) {
    store::Store::WriteTransaction tx(store_);
    require(store_.delete_object(static_cast<int64_t>(object.handle)), CKR_OBJECT_HANDLE_INVALID,
            "the object was already destroyed");
    tx.commit();
    std::lock_guard lock(mutex_);
    cache_.erase(object.handle);
    return;
  }
  std::lock_guard lock(mutex_);
  require(session_objects_.erase(object.handle) == 1, CKR_OBJECT_HANDLE_INVALID,
          "the object was already destroyed");
}

namespace {

bool matches(const AttributeMap& attrs, const AttributeMap& tmpl) {
  for (const auto& [type, value] : tmpl) {
    const SecureBytes* have = attrs.find(type);
    if (!have || is_hidden(attrs, type) || have->size() != value.size() ||
        !crypto::ct_equal(*have, value)) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<CK_OBJECT_HANDLE> Token::find(const AttributeMap& tmpl) {
  sync();  // a stale login's index key would silently match nothing
  bool user = logged_in() == Role::user;
  auto sk = current_sk();
  std::vector<CK_OBJECT_HANDLE> out;
  bool token_objects = tmpl.get_bool(CKA_TOKEN, true);
  bool session_objects = !tmpl.has(CKA_TOKEN) || !tmpl.get_bool(CKA_TOKEN, false);
  if (token_objects) {
    store::ObjectQuery q;
    q.public_tags = {tag(tmpl, CKA_CLASS, keys_.index_key), tag(tmpl, CKA_ID, keys_.index_key),
                     tag(tmpl, CKA_LABEL, keys_.index_key)};
    if (user && sk) {
      std::lock_guard lock(mutex_);
      q.include_private = true;
      q.private_tags = {tag(tmpl, CKA_CLASS, private_index_key_),
                        tag(tmpl, CKA_ID, private_index_key_),
                        tag(tmpl, CKA_LABEL, private_index_key_)};
    }
    if (tmpl.has(CKA_PRIVATE)) {
      q.include_private = q.include_private && tmpl.get_bool(CKA_PRIVATE, true);
    }
    for (const store::ObjectRow& row : store_.find_objects(q)) {
      if (matches(materialize(row, sk)->attrs, tmpl)) {
        out.push_back(static_cast<CK_OBJECT_HANDLE>(row.id));
      }
    }
  }
  if (session_objects) {
    std::lock_guard lock(mutex_);
    std::vector<CK_OBJECT_HANDLE> session_handles;
    for (const auto& [handle, obj] : session_objects_) {
      if ((user || !obj->is_private()) && matches(obj->attrs, tmpl)) {
        session_handles.push_back(handle);
      }
    }
    std::sort(session_handles.begin(), session_handles.end());
    out.insert(out.end(), session_handles.begin(), session_handles.end());
  }
  return out;
}

void Token::destroy_session_objects(CK_SESSION_HANDLE owner) {
  std::lock_guard lock(mutex_);
  std::erase_if(session_objects_, [&](const auto& entry) { return entry.second->owner == owner; });
}

void Token::destroy_all_session_objects() {
  std::lock_guard lock(mutex_);
  session_objects_.clear();
}

}  // namespace twinhsm::token
