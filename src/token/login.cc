// Roles and logins (token.h): each role's KEK from its PIN, the storage key SK wrapped under it,
// the failure counter raised durably before every check, and SK in memory while logged in.
#include <algorithm>
#include <utility>

#include "crypto/kdf.h"
#include "crypto/keywrap.h"
#include "crypto/random.h"
#include "token/login_lock.h"
#include "token/settings.h"
#include "token/token.h"

namespace twinhsm::token {

namespace {

constexpr size_t kSaltLen = 32;
constexpr size_t kKeyLen = 32;

void check_pin_length(ByteView pin) {
  require(pin.size() >= kMinPinLength && pin.size() <= kMaxPinLength, CKR_PIN_LEN_RANGE,
          "a PIN must be 4 to 255 bytes long");
}

const char* role_name(Role r) {
  return r == Role::so ? "so" : "user";
}

}  // namespace

bool Token::initialized() {
  return store_.role(static_cast<int>(Role::so)).has_value();
}

std::string Token::label() {
  return store_.setting_text(settings::kTokenLabel).value_or("");
}

uint32_t Token::pbkdf2_iterations() {
  return settings::require_uint(store_, settings::kPbkdf2Iterations);
}

uint32_t Token::max_failures() {
  return settings::require_uint(store_, settings::kMaxLoginFailures);
}

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

std::optional<LoginKeys> Token::login_keys() const {
  std::lock_guard lock(mutex_);
  if (!role_) {
    return std::nullopt;
  }
  return LoginKeys{*role_, sk_, private_index_key_, generation_};
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
  input.insert(input.end(), login_secret_.begin(), login_secret_.end());
  return crypto::kbkdf_counter_hmac_sha256(
      input, "twinhsm role kek v1", as_bytes(role_name(static_cast<Role>(row.role))), kKeyLen);
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

Token::UnwrappedSk Token::unwrap_sk(Role role, ByteView pin) {
  LoginAttemptLock one_attempt_at_a_time(store_.path());
  // The row can be replaced during PBKDF2 (seconds); each round re-reads it. A few rounds are
  // plenty: the replacing operations run PBKDF2 themselves.
  for (int round = 0;; ++round) {
    bool row_replaced = false;
    UnwrappedSk out = unwrap_sk_once(role, pin, row_replaced);
    if (!row_replaced) {
      return out;
    }
    require(round < 8, CKR_FUNCTION_FAILED, "the PIN's row keeps changing: try again");
  }
}

bool Token::same_row(const std::optional<store::RoleRow>& now, const store::RoleRow& before) {
  return now && now->salt == before.salt && now->wrapped_sk == before.wrapped_sk;
}

bool Token::still_current(Role role, const UnwrappedSk& unwrapped) {
  return same_row(store_.role(static_cast<int>(role)), unwrapped.row) &&
         store_.setting_text(settings::kTokenGeneration).value_or("") == unwrapped.generation;
}

Token::UnwrappedSk Token::unwrap_sk_once(Role role, ByteView pin, bool& row_replaced) {
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
      throw CkError(
          role == Role::user ? CKR_USER_PIN_NOT_INITIALIZED : CKR_USER_TYPE_INVALID,
          role == Role::user ? "the user PIN is not initialized" : "the token is not initialized");
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
  auto now = store_.role(static_cast<int>(role));
  if (!same_row(now, row)) {
    row_replaced = true;  // the SK opened is not the token's any more (or not this PIN's)
    return {};
  }
  now->failures = 0;
  store_.put_role(*now);
  if (pin_guard_ && verdict == PinGuard::Verdict::unknown) {
    pin_guard_->enroll(role, row, stretched);  // a row it had no record of, now proved right
  }
  std::string generation = store_.setting_text(settings::kTokenGeneration).value_or("");
  tx.commit();
  return {std::move(sk), std::move(row), std::move(generation)};
}

void Token::init_token(ByteView so_pin, const std::string& label) {
  check_pin_length(so_pin);
  std::optional<UnwrappedSk> old_so;
  if (initialized()) {
    old_so = unwrap_sk(Role::so, so_pin);
  }
  SecureBytes sk = crypto::random_secret(kKeyLen);
  WrappedSk so = wrap_sk(Role::so, so_pin, sk);
  {
    store::Store::WriteTransaction tx(store_);
    // The token the SO PIN was checked against must still be there: one initialized, restored
    // or given another SO PIN meanwhile (another process) is not replaced without its own PIN.
    bool same =
        old_so ? still_current(Role::so, *old_so) : !store_.role(static_cast<int>(Role::so));
    require(same, CKR_FUNCTION_FAILED,
            "the token was initialized or restored by another process meanwhile: try again");
    store_.delete_all_objects();
    store_.delete_role(static_cast<int>(Role::user));
    store_role(Role::so, so);
    store_.put_setting(settings::kTokenLabel, label);
    store_.put_setting(settings::kRowEncoding, "2");
    store_.put_setting(settings::kTokenGeneration, to_hex(crypto::random_bytes(16)));
    tx.commit();
  }
  ++login_epoch_;
  std::lock_guard lock(mutex_);
  role_.reset();
  crypto::cleanse(sk_.data(), sk_.size());
  sk_.clear();
  private_tagger_.reset();
  session_objects_.clear();
  cache_.clear();
  dump_protection_.reset();
}

void Token::login(Role role, ByteView pin) {
  // The generation comes from the transaction that found the row still the one opened: read
  // after it, a restore committed in between would pair the old SK with the new generation.
  auto [sk, row, generation] = unwrap_sk(role, pin);
  SecureBytes index_key = private_index_key(sk);
  std::unique_lock lock(mutex_);
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
  private_tagger_.emplace(ObjectCodec::tagger(private_index_key_));
  // After the state: an operation that sees the new epoch sees the login.
  ++login_epoch_;
  lock.unlock();
  if (role == Role::user) {
    try {
      migrate_rows();              // the private rows, which only the user's SK opens
    } catch (const StoreError&) {  // a read-only device: they are read as they are
    }
  }
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
  private_tagger_.reset();
  dump_protection_.reset();
}

void Token::init_pin(ByteView pin) {
  check_pin_length(pin);
  auto keys = login_keys();  // the SK with the generation it belongs to, taken together
  require(keys && keys->role == Role::so, CKR_USER_NOT_LOGGED_IN, "the SO must be logged in");
  WrappedSk wrapped = wrap_sk(Role::user, pin, keys->sk);
  store::Store::WriteTransaction tx(store_);
  // The SK held is the token's only while the token is the one the SO logged in to: after a
  // restore or init by another process it would give the user a key no object is under.
  check_login_in_tx(*keys, sync_generation_in_tx());
  store_role(Role::user, wrapped);
  tx.commit();
}

void Token::set_pin(Role role, ByteView old_pin, ByteView new_pin) {
  check_pin_length(new_pin);
  for (int round = 0;; ++round) {
    UnwrappedSk old = unwrap_sk(role, old_pin);
    WrappedSk wrapped = wrap_sk(role, new_pin, old.sk);
    store::Store::WriteTransaction tx(store_);
    // Replaced meanwhile (a restore, an init, another PIN change): the old PIN is checked again
    // against what is there now, never written over it with the SK it no longer opens.
    if (still_current(role, old)) {
      store_role(role, wrapped);
      tx.commit();
      return;
    }
    require(round < 8, CKR_FUNCTION_FAILED, "the PIN's row keeps changing: try again");
  }
}

}  // namespace twinhsm::token
