// Token is the PKCS#11 token of one device: its roles and logins (the storage key SK that only a
// role's password opens: login.cc), and its objects, token objects in the store and session
// objects in memory (token.cc), rows made by ObjectCodec, decoded objects kept in an ObjectCache
// that other processes' commits invalidate (object_sync.cc). It enforces who may see what; the
// PKCS#11 layer above enforces session rules.
//
// Key hierarchy (docs/key-hierarchy.md): a role's KEK = KBKDF(PBKDF2(PIN, salt, iterations) ||
// login secret, "twinhsm role kek v1", role); the store keeps AES-KW(KEK, SK) and the salt, no
// PIN and no hash. Private objects are AES-256-GCM under SK; key material of public objects is
// AES-256-GCM under the device's object key; both bind the object's id as associated data.
//
// Thread safe. One Token per device per process; the login state is per process, as PKCS#11's is
// per application.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "crypto/dump_protection.h"
#include "crypto/pkey.h"
#include "store/store.h"
#include "token/attributes.h"
#include "token/ck_error.h"
#include "token/key_policy.h"
#include "token/object.h"
#include "token/object_cache.h"
#include "token/object_codec.h"
#include "token/pin_guard.h"
#include "token/role.h"
#include "token/tag_index.h"

namespace twinhsm::token {

// TokenKeys are the device secrets the token uses, derived from the firmware key and the secure
// element's key (device/device_keys.h).
struct TokenKeys {
  SecureBytes login_secret;  // mixed into every role's KEK
  SecureBytes object_key;    // encrypts key material of public objects
  SecureBytes index_key;     // keys the index tags of public objects
};

struct PinState {
  bool initialized = false;
  uint32_t failures = 0;  // wrong PINs since the last right one (the store's count)
  uint32_t max_failures = 0;
  // The wrong PINs the PIN guard (a TPM: for both roles) still takes; none on a file device.
  std::optional<uint32_t> guard_remaining;
  bool locked() const { return initialized && (failures >= max_failures || guard_remaining == 0u); }
  // final_try: the next wrong PIN locks the role.
  bool final_try() const {
    return initialized && !locked() && (failures + 1 == max_failures || guard_remaining == 1u);
  }
};

class Token {
 public:
  // pin_guard, when given, checks every PIN too (token/pin_guard.h: a TPM device's).
  Token(store::Store& store, TokenKeys keys, std::unique_ptr<PinGuard> pin_guard = nullptr);
  ~Token();

  bool initialized();
  std::string label();
  PinState pin_state(Role role);
  std::optional<Role> logged_in() const;
  // key_policy is the device's key-management policy (settings::kKeyPolicy; strict when absent).
  // Throws IntegrityError for a value twinhsm does not know.
  KeyPolicy key_policy();
  // login_epoch changes at every login, logout and token initialization: an operation that
  // started on a private key under one epoch must not go on under another.
  uint64_t login_epoch() const { return login_epoch_.load(); }

  // init_token makes a fresh token: new SK, SO PIN set, user PIN unset, every token object and
  // this process's session objects gone. On an initialized token the current SO PIN must be given
  // (counted as a login attempt). Throws CkError: CKR_PIN_INCORRECT, CKR_PIN_LOCKED,
  // CKR_PIN_LEN_RANGE.
  void init_token(ByteView so_pin, const std::string& label);
  // login verifies pin for role (failure counter raised durably first) and keeps SK in memory.
  // Throws CkError: CKR_PIN_INCORRECT, CKR_PIN_LOCKED, CKR_USER_PIN_NOT_INITIALIZED,
  // CKR_USER_TYPE_INVALID (SO on an uninitialized token).
  void login(Role role, ByteView pin);
  // verify_pin checks pin for role (counted like a login) without changing the login state.
  void verify_pin(Role role, ByteView pin) { unwrap_sk(role, pin); }
  // logout wipes SK from memory and destroys the private session objects.
  void logout();
  // init_pin sets the user PIN (SO logged in); clears the user's failure counter.
  void init_pin(ByteView pin);
  // set_pin checks old_pin for the role and rewraps SK under new_pin; nothing else changes.
  void set_pin(Role role, ByteView old_pin, ByteView new_pin);

  // create stores a complete object (attribute_policy.h has made it so) and returns it with its
  // handle. owner 0 makes a token object; otherwise a session object of that session.
  // Throws CKR_USER_NOT_LOGGED_IN for a private object without the user logged in.
  ObjectPtr create(AttributeMap attrs, bool token_object, CK_SESSION_HANDLE owner);
  // object returns the object or throws CKR_OBJECT_HANDLE_INVALID (also for private objects
  // while the user is not logged in). Throws IntegrityError if its row fails authentication.
  ObjectPtr object(CK_OBJECT_HANDLE handle);
  // key is object for a key about to be used (C_SignInit, C_EncryptInit, ...): it sees other
  // processes' commits made more than kKeyFreshness ago, not necessarily later ones, so that a
  // stream of operations does not ask SQLite (a shared lock on the WAL index, two system calls)
  // before each. An operation that starts within a millisecond of another process's change is
  // indistinguishable from one that started just before it; this process's own changes are
  // always seen.
  ObjectPtr key(CK_OBJECT_HANDLE handle);
  static constexpr int64_t kKeyFreshnessNs = 1'000'000;
  // replace stores new attributes for an existing object (C_SetAttributeValue).
  ObjectPtr replace(const Object& object, AttributeMap attrs);
  void destroy(const Object& object);
  // find returns the handles of the visible objects whose attributes equal every attribute of
  // tmpl, using the store's indexes for CKA_CLASS, CKA_ID and CKA_LABEL.
  std::vector<CK_OBJECT_HANDLE> find(const AttributeMap& tmpl);
  void destroy_session_objects(CK_SESSION_HANDLE owner);
  void destroy_all_session_objects();

  store::Store& store() { return store_; }

  // migrate_rows rewrites the rows still in the first attribute encoding (written by x86-64
  // builds before the portable one; a backup of version 1 restores them): the public ones, and
  // with the user logged in the private ones. Nothing to do once settings::kRowEncoding says so.
  // Called when the device opens (a read-only device stays as it is), at the user's login and
  // after a restore.
  void migrate_rows();

  // Handles of session objects start here; token object handles are store ids, below it.
  static constexpr CK_OBJECT_HANDLE kSessionHandleBase = CK_OBJECT_HANDLE{1} << 40;
  // A token object's handle is its row id, plus (from bit 41) how many times this process has
  // seen the token replaced by another one (a restore, an init): ids of a twin's backup may be
  // those of this token's objects, and a handle from before must never name one of them.
  static constexpr int kReplacementShift = 41;
  static bool is_session_handle(CK_OBJECT_HANDLE h) { return h >> 40 == 1; }

 private:
  // stretch is PBKDF2 of pin with the row's salt and iterations; derive_kek makes the role's KEK
  // from it and the login secret.
  SecureBytes stretch(const store::RoleRow& row, ByteView pin) const;
  // handed_over gives a new token object's row to the process writing the store now, for its
  // commit (store.h: hand_over_insert); false: the caller writes it in its own transaction.
  bool handed_over(Object& obj, const std::optional<LoginKeys>& keys);
  SecureBytes derive_kek(const store::RoleRow& row, const SecureBytes& stretched) const;
  // unwrap_sk checks a role's PIN (counting the attempt) and gives the SK it opens, with the row
  // and the token generation that its last transaction found still in place: a row replaced while
  // the PIN was checked (a restore, a token init, a PIN change by another process) is checked
  // again.
  struct UnwrappedSk {
    SecureBytes sk;
    store::RoleRow row;
    std::string generation;
  };
  UnwrappedSk unwrap_sk(Role role, ByteView pin);
  UnwrappedSk unwrap_sk_once(Role role, ByteView pin, bool& row_replaced);
  // same_row: whether a role's row read now is the one read before (its salt and wrapped SK; the
  // failure counter may differ). still_current: inside a write transaction, whether the role's
  // row and the generation are those unwrap_sk gave.
  static bool same_row(const std::optional<store::RoleRow>& now, const store::RoleRow& before);
  bool still_current(Role role, const UnwrappedSk& unwrapped);
  struct WrappedSk {
    store::RoleRow row;
    SecureBytes stretched;  // for the PIN guard's record
  };
  WrappedSk wrap_sk(Role role, ByteView pin, const SecureBytes& sk) const;
  // store_role writes a role's new row, with the PIN guard's record of it; inside a transaction.
  void store_role(Role role, const WrappedSk& wrapped);
  uint32_t pbkdf2_iterations();
  uint32_t max_failures();
  // The login's keys, taken together under the lock (object_codec.h).
  std::optional<LoginKeys> login_keys() const;
  // read decodes a row; a private row that fails authentication because the token was restored
  // or initialized since this process logged in logs it out (CKR_USER_NOT_LOGGED_IN).
  AttributeMap read(const store::ObjectRow& row, const std::optional<SecureBytes>& sk);
  std::optional<SecureBytes> current_sk() const;
  // materialize returns the object a row holds, from the cache while the row is unchanged
  // (its MAC is the same), else decoded and cached.
  ObjectPtr materialize(const store::ObjectRow& row, const std::optional<SecureBytes>& sk);
  void clear_cache();
  // sync notices commits made by other connections (PRAGMA data_version): one that updated or
  // deleted objects drops the cache and the tag index (Store::ObjectsMark); when logged in, it
  // checks the token generation. A memory read when nothing was committed since the last sync
  // (Store::change_stamp).
  void sync();
  // find_token_objects: the token objects tmpl matches, from the tag index (or, by_query or when
  // the index is stale, the store's query).
  std::vector<CK_OBJECT_HANDLE> find_token_objects(const AttributeMap& tmpl, bool by_query);
  // find_in_index answers q from the tag index, loading it first when it is stale and enough
  // finds have gone to the store since, or adding the rows other connections inserted; nullopt:
  // ask the store.
  std::optional<std::vector<TagIndex::Match>> find_in_index(const store::ObjectQuery& q);
  // catch_up adds the rows with ids above index_last_id_ to the index and answers q from it;
  // nullopt when the index changed meanwhile.
  std::optional<std::vector<TagIndex::Match>> catch_up(const store::ObjectQuery& q,
                                                       int64_t after_id, uint64_t epoch);
  // indexed applies this process's own object write, made in the commit that brought the store
  // to object_commits, to the tag index (call it with the write transaction still held).
  void indexed(uint64_t object_commits, const std::function<void(TagIndex&)>& change);
  ObjectPtr lookup(CK_OBJECT_HANDLE handle);  // object, without sync
  bool rows_portable();
  // recently_synced: the last sync was less than kKeyFreshnessNs ago.
  bool recently_synced() const;
  // sync_generation_in_tx, inside a write transaction (no replacement can commit until it ends),
  // reads the token generation; one this process had not seen (the token replaced since its last
  // sync) counts a replacement at once, so that no handle from before names a row of the new
  // token. check_login_in_tx logs out and throws CKR_USER_NOT_LOGGED_IN when the login's keys
  // are not of `generation` (what sync_generation_in_tx returned in the same transaction):
  // nothing is written under an SK the token no longer has.
  std::string sync_generation_in_tx();
  // note_generation_locked (mutex_ held): a generation other than the one seen last counts a
  // replacement (none for the first one seen); returns whether it was another.
  bool note_generation_locked(const std::string& generation);
  void check_login_in_tx(const LoginKeys& keys, const std::string& generation);
  // check_generation logs out and throws CKR_USER_NOT_LOGGED_IN when the token was restored or
  // initialized since this process logged in (its SK is then no longer the token's).
  void check_generation();

  store::Store& store_;
  SecureBytes login_secret_;             // TokenKeys::login_secret
  std::unique_ptr<PinGuard> pin_guard_;  // null on a file device
  ObjectCodec codec_;

  // Guards the members below; shared by the lookups of objects about to be used (every
  // operation), exclusive for changes.
  mutable std::shared_mutex mutex_;
  std::optional<Role> role_;
  SecureBytes sk_;
  // The process is undumpable while SK (and the private keys it opens) is in memory.
  std::optional<crypto::DumpProtection> dump_protection_;
  SecureBytes private_index_key_;
  std::optional<crypto::Hmac> private_tagger_;  // keyed with private_index_key_
  std::string generation_;                      // the token generation at login
  std::atomic<uint64_t> login_epoch_{0};
  std::unordered_map<CK_OBJECT_HANDLE, ObjectPtr> session_objects_;
  ObjectCache cache_;
  int64_t synced_version_ = -1;  // the store's data_version the cache is valid for
  std::optional<store::Store::WalStamp> synced_stamp_;  // the store's change stamp at that sync
  // The objects' mark at that sync: another connection's commit that moved its changed drops the
  // cache and the index; one that moved only its last_id leaves rows for the index to add.
  std::optional<store::Store::ObjectsMark> synced_mark_;
  // The tag index is current while it is loaded, no other connection updated or deleted an
  // object since (sync() unloads it), it holds every row up to synced_mark_'s last_id, and the
  // store's object_commits are index_commits_.
  TagIndex index_;
  bool index_loaded_ = false;
  int64_t index_last_id_ = 0;  // it holds every row with an id up to this one
  uint64_t index_commits_ = 0;
  uint64_t index_epoch_ = 0;    // raised by every unload: a load that started before is stale
  size_t stale_finds_ = 0;      // finds the store answered since the index was unloaded
  size_t index_rows_hint_ = 0;  // rows at the last load
  std::atomic<int64_t> synced_at_ns_{INT64_MIN / 2};  // steady clock of the last sync
  CK_OBJECT_HANDLE next_session_handle_ = kSessionHandleBase;
  // The replacements seen (handles above), and the token generation sync() saw last.
  std::atomic<uint64_t> replacements_{0};
  std::string synced_generation_;
  CK_OBJECT_HANDLE handle_of(int64_t id) const {
    return static_cast<CK_OBJECT_HANDLE>(id) | replacements_.load(std::memory_order_acquire)
                                                   << kReplacementShift;
  }
  // id_of: the row id of a token object's handle, or 0 (no row has it) for a handle from before
  // the token was replaced.
  int64_t id_of(CK_OBJECT_HANDLE h) const {
    static_assert(sizeof(CK_OBJECT_HANDLE) == 8, "handles carry 64 bits here");
    if ((h & kSessionHandleBase) != 0 ||
        h >> kReplacementShift != replacements_.load(std::memory_order_acquire)) {
      return 0;
    }
    return static_cast<int64_t>(h & (kSessionHandleBase - 1));
  }
};

// LoggedOutByAnotherProcess is the CKR_USER_NOT_LOGGED_IN of a call that found the token restored
// or initialized by another process since this one logged in, and so logged it out: the PKCS#11
// layer then wipes the private-key state of the token's other sessions, as C_Logout does.
class LoggedOutByAnotherProcess : public CkError {
 public:
  explicit LoggedOutByAnotherProcess(const Token& token)
      : CkError(CKR_USER_NOT_LOGGED_IN,
                "the token was restored or initialized by another process; log in again"),
        token_(&token) {}
  const Token& token() const { return *token_; }

 private:
  const Token* token_;
};

}  // namespace twinhsm::token
