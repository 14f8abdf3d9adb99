#include "store/anchor.h"

#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "store/store.h"

namespace twinhsm::store {

namespace {

constexpr std::string_view kAnchorKey = "anchor";
constexpr uint8_t kVersion = 1;
constexpr size_t kNonceLen = 12, kTagLen = 16;
constexpr std::string_view kSealAad = "twinhsm anchor v1";

// Every change to an object row is logged, in the transaction that makes it, by triggers of this
// connection (TEMP: not part of the store file), so the multiset hash follows it without a hook
// in each of the store's write methods. A row with an empty MAC (the id placeholders that
// earlier versions wrote inside a transaction) counts for nothing.
constexpr const char* kLogSchema =
    "CREATE TEMP TABLE IF NOT EXISTS anchor_log(old_mac BLOB, new_mac BLOB);"
    "CREATE TEMP TRIGGER IF NOT EXISTS anchor_insert AFTER INSERT ON main.objects"
    " BEGIN INSERT INTO anchor_log VALUES(NULL, NEW.mac); END;"
    "CREATE TEMP TRIGGER IF NOT EXISTS anchor_update AFTER UPDATE ON main.objects"
    " BEGIN INSERT INTO anchor_log VALUES(OLD.mac, NEW.mac); END;"
    "CREATE TEMP TRIGGER IF NOT EXISTS anchor_delete AFTER DELETE ON main.objects"
    " BEGIN INSERT INTO anchor_log VALUES(OLD.mac, NULL); END;";

Bytes seal_aad(uint64_t counter, const Bytes& state) {
  Bytes aad(kSealAad.begin(), kSealAad.end());
  append_be(aad, counter, 8);
  append(aad, state);
  return aad;
}

uint64_t read_be(ByteView b) {
  uint64_t v = 0;
  for (uint8_t x : b) {
    v = v << 8 | x;
  }
  return v;
}

}  // namespace

Anchor::Anchor(Store& store, const crypto::SecureBytes& row_key,
               std::unique_ptr<RollbackCounter> counter)
    : store_(store),
      counter_(std::move(counter)),
      set_key_(
          crypto::kbkdf_counter_hmac_sha256(row_key, "twinhsm row set key v1", ByteView(), 32)),
      seal_key_(crypto::kbkdf_counter_hmac_sha256(row_key, "twinhsm anchor seal key v1", ByteView(),
                                                  32)) {
  store_.db_.exec(kLogSchema);
}

Anchor::~Anchor() = default;

std::optional<Anchor::Stored> Anchor::read_anchor() {
  auto value = store_.device_state(kAnchorKey);
  if (!value) {
    return std::nullopt;
  }
  const Bytes& v = *value;
  constexpr size_t kLen = 1 + 8 + 32 + kNonceLen + crypto::MultisetHash::kSize + kTagLen;
  if (v.size() != kLen || v[0] != kVersion) {
    throw IntegrityError(
        "the store's TPM anchor has an unknown format (written by a newer twinhsm?)");
  }
  Stored s;
  s.counter = read_be(ByteView(v).subspan(1, 8));
  s.state.assign(v.begin() + 9, v.begin() + 41);
  ByteView nonce = ByteView(v).subspan(41, kNonceLen);
  s.objects = crypto::aes_gcm_decrypt(seal_key_, nonce, seal_aad(s.counter, s.state),
                                      ByteView(v).subspan(41 + kNonceLen), kTagLen);
  return s;
}

void Anchor::write_anchor(uint64_t counter, const Bytes& state,
                          const crypto::SecureBytes& objects) {
  Bytes v{kVersion};
  append_be(v, counter, 8);
  append(v, state);
  Bytes nonce = crypto::random_bytes(kNonceLen);
  append(v, nonce);
  append(v, crypto::aes_gcm_encrypt(seal_key_, nonce, seal_aad(counter, state), objects, kTagLen));
  store_.put_device_state(kAnchorKey, v);
}

Bytes Anchor::state_digest() {
  Bytes input(kSealAad.begin(), kSealAad.end());
  for (const char* sql :
       {"SELECT 'settings', key, mac FROM settings ORDER BY key",
        "SELECT 'roles', role, mac FROM roles ORDER BY role",
        "SELECT 'device_state', key, mac FROM device_state WHERE key <> 'anchor' ORDER BY key"}) {
    Statement st(store_.db_, sql);
    while (st.step()) {
      std::string table = st.column_text(0), key = st.column_text(1);
      Bytes mac = st.column_blob(2);
      for (ByteView field : {as_bytes(table), as_bytes(key), ByteView(mac)}) {
        append_be(input, field.size(), 4);
        append(input, field);
      }
    }
  }
  return crypto::digest(crypto::DigestAlg::sha256, input);
}

crypto::MultisetHash Anchor::objects_hash(const crypto::SecureBytes& value) const {
  crypto::MultisetHash h(set_key_);
  h.set_value(value);
  return h;
}

crypto::MultisetHash Anchor::scan_objects() const {
  crypto::MultisetHash h(set_key_);
  Statement st(store_.db_, "SELECT mac FROM objects");
  while (st.step()) {
    Bytes mac = st.column_blob(0);
    if (!mac.empty()) {
      h.add(mac);
    }
  }
  return h;
}

void Anchor::check_counter(uint64_t stored, uint64_t counter) const {
  if (stored < counter) {
    throw IntegrityError("store.db is older than its TPM counter (store at " +
                         std::to_string(stored) + ", TPM at " + std::to_string(counter) +
                         "): an earlier copy of it was put back; restore a backup");
  }
  if (stored > counter + 1) {
    throw IntegrityError(
        "the TPM counter is behind store.db (store at " + std::to_string(stored) + ", TPM at " +
        std::to_string(counter) +
        "): the TPM was cleared or replaced, or store.db comes from another device");
  }
}

void Anchor::begin(Anchoring mode) {
  mode_ = mode;
  objects_.reset();
  store_.db_.exec("DELETE FROM anchor_log");
  if (mode == Anchoring::rebuild) {
    counter_base_ = counter_->read();
    return;
  }
  auto stored = read_anchor();
  if (!stored) {
    throw IntegrityError(
        "store.db has no TPM anchor (it was replaced by a store from elsewhere); "
        "restore a backup");
  }
  uint64_t counter = counter_->read();
  check_counter(stored->counter, counter);
  if (stored->counter == counter + 1) {
    // The last writer committed and stopped before its increment: made up here, under the lock.
    counter_->increment_from(counter);
  }
  if (!crypto::ct_equal(state_digest(), stored->state)) {
    throw IntegrityError(
        "the store's settings, login data or PIN records differ from what its TPM "
        "anchor recorded: a row was deleted or an older copy put back; restore a backup");
  }
  counter_base_ = stored->counter;
  objects_.emplace(objects_hash(stored->objects));
}

void Anchor::seal() {
  if (mode_ == Anchoring::rebuild) {
    objects_.emplace(scan_objects());
  } else {
    Statement log(store_.db_, "SELECT old_mac, new_mac FROM anchor_log");
    while (log.step()) {
      if (auto old_mac = log.column_optional_blob(0); old_mac && !old_mac->empty()) {
        objects_->remove(*old_mac);
      }
      if (auto new_mac = log.column_optional_blob(1); new_mac && !new_mac->empty()) {
        objects_->add(*new_mac);
      }
    }
  }
  store_.db_.exec("DELETE FROM anchor_log");
  write_anchor(counter_base_ + 1, state_digest(), objects_->value());
}

void Anchor::catch_up() noexcept {
  try {
    Transaction tx(store_.db_, Transaction::Kind::write);
    if (auto stored = read_anchor(); stored && stored->counter > 0) {
      counter_->increment_from(stored->counter - 1);
    }
    tx.commit();
  } catch (...) {
    // The next write transaction, or the next open, sees the counter one behind and accepts it.
  }
}

void Anchor::verify() {
  auto stored = read_anchor();
  if (!stored) {
    throw IntegrityError(
        "store.db has no TPM anchor (it was replaced by a store from elsewhere); "
        "restore a backup");
  }
  check_counter(stored->counter, counter_->read());
  if (!crypto::ct_equal(state_digest(), stored->state)) {
    throw IntegrityError(
        "the store's settings, login data or PIN records differ from what its TPM "
        "anchor recorded: a row was deleted or an older copy put back; restore a backup");
  }
  if (!crypto::ct_equal(scan_objects().value(), stored->objects)) {
    throw IntegrityError(
        "the store's objects differ from what its TPM anchor recorded: an object row "
        "was deleted or an older copy put back; restore a backup");
  }
}

// Store's side: binding it to a counter, and the check of a whole store.

void Store::anchor_to(std::unique_ptr<RollbackCounter> counter) {
  std::lock_guard lock(mutex_);
  // A writer makes up the counter of a commit it sees (Anchor::begin): every commit is durable
  // before any other connection sees it (sqlite.h, Durability).
  db_.set_durability(Durability::in_commit);
  anchor_ = std::make_unique<Anchor>(*this, row_key_, std::move(counter));
}

void Store::verify_anchor() {
  ReadTransaction snapshot(*this);
  if (anchor_) {
    anchor_->verify();
  }
}

}  // namespace twinhsm::store
