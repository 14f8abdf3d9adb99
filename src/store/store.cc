#include "store/store.h"

#include <exception>

#include "crypto/digest.h"

namespace twinhsm::store {

namespace {
constexpr std::string_view kMacDomain = "twinhsm row v1";
}  // namespace

// The objects' tag indexes (find_objects answers from them), as the first schema version made
// them; begin_object_load and end_object_load drop and make them again.
const char* const Store::kObjectIndexes =
    "CREATE INDEX objects_by_class ON objects(class_tag);"
    "CREATE INDEX objects_by_id ON objects(id_tag);"
    "CREATE INDEX objects_by_label ON objects(label_tag);";
const char* const Store::kDropObjectIndexes =
    "DROP INDEX objects_by_class;"
    "DROP INDEX objects_by_id;"
    "DROP INDEX objects_by_label;";

Store::Store(const std::filesystem::path& path, crypto::SecureBytes row_key, bool create)
    : path_(path), db_(path, create), row_key_(std::move(row_key)) {
  migrate();
  wal_index_ = db_.wal_index();  // after migrate's transaction: the WAL index is mapped
  if (WriteLock* lock = db_.write_lock(); lock && lock->fd() >= 0) {
    auto queue = std::make_unique<CommitQueue>(lock->fd());
    if (queue->valid()) {
      queue_ = std::move(queue);
    }
  }
}

Store::~Store() = default;

Store::WriteTransaction::WriteTransaction(Store& store, Anchoring mode)
    : store_(store), lock_(store.mutex_) {
  if (store_.tx_depth_ == 0) {
    tx_.emplace(store_.db_, Transaction::Kind::write);
    begin_outermost(mode);
  }
  ++store_.tx_depth_;
}

Store::WriteTransaction::WriteTransaction(Store& store, IfFree)
    : store_(store), lock_(store.mutex_) {
  if (store_.tx_depth_ == 0) {
    tx_.emplace(store_.db_, Transaction::Kind::write, !store_.queue_in_use());
    if (!tx_->begun()) {
      begun_ = false;
      return;
    }
    begin_outermost(Anchoring::check);
  }
  ++store_.tx_depth_;
}

void Store::WriteTransaction::begin() {
  if (begun_) {
    return;
  }
  tx_->begin();
  begin_outermost(Anchoring::check);
  ++store_.tx_depth_;
  begun_ = true;
}

void Store::WriteTransaction::begin_outermost(Anchoring mode) {
  store_.tx_rollback_only_ = false;
  store_.tx_objects_written_ = false;
  store_.tx_object_load_ = false;
  store_.tx_id_floor_ = -1;
  store_.tx_taken_.clear();
  if (store_.anchor_) {
    store_.anchor_->begin(mode);  // throws, rolling back, when the store is not as anchored
  }
}

Store::WriteTransaction::~WriteTransaction() {
  if (!begun_) {
    return;  // tx_ lets the writers' lock go, if a hand-over left it held
  }
  --store_.tx_depth_;
  if (!committed_ && tx_) {
    store_.settle_taken(CommitQueue::State::rejected);  // rolled back: their posters write them
  }
  if (!committed_ && !tx_) {
    store_.tx_rollback_only_ = true;
  }
}

void Store::WriteTransaction::commit() {
  if (!begun_) {
    throw StoreError("a write transaction that did not begin cannot commit");
  }
  if (tx_) {
    if (store_.tx_rollback_only_) {
      throw StoreError("a nested store operation failed; nothing was written");
    }
    if (store_.tx_object_load_) {
      throw StoreError(
          "a load of object rows did not end (the tag indexes are not made again);"
          " nothing was written");
    }
    if (store_.anchor_) {
      store_.anchor_->seal();
    }
    std::exception_ptr unsynced;  // committed, but its fsync failed: counted, then thrown
    try {
      // Rows of other connections in this commit: committed before the writers' lock goes (a
      // poster that gets the lock then knows), durable after the fsync.
      tx_->commit([this] {
        store_.settle_taken(CommitQueue::State::committed, false);
        if (store_.queue_in_use()) {
          store_.queue_->note_commit();  // a poster whose row it did not carry stops watching
        }
      });
    } catch (const StoreError&) {
      if (!tx_->committed()) {
        throw;  // the destructor rejects the rows taken
      }
      unsynced = std::current_exception();
    }
    if (store_.tx_objects_written_) {
      store_.object_commits_.fetch_add(1, std::memory_order_acq_rel);
    }
    if (!store_.tx_taken_.empty()) {
      store_.foreign_commits_.fetch_add(1, std::memory_order_acq_rel);
    }
    store_.settle_taken(unsynced ? CommitQueue::State::failed : CommitQueue::State::durable);
    if (unsynced) {
      std::rethrow_exception(unsynced);
    }
    if (store_.anchor_) {
      store_.anchor_->catch_up();
    }
  }
  committed_ = true;
}

Store::ReadTransaction::ReadTransaction(Store& store) : lock_(store.mutex_) {
  if (store.tx_depth_ == 0) {
    tx_.emplace(store.db_, Transaction::Kind::read);
  }
}

void Store::migrate() {
  std::lock_guard lock(mutex_);
  Transaction tx(db_, Transaction::Kind::write);
  int version = schema_version();
  if (version > kSchemaVersion) {
    throw StoreError("the store was written by a newer twinhsm (schema " + std::to_string(version) +
                     "); upgrade twinhsm to open it");
  }
  if (version < 1) {
    db_.exec(
        "CREATE TABLE settings(key TEXT PRIMARY KEY, value BLOB NOT NULL, mac BLOB NOT NULL);"
        "CREATE TABLE roles(role INTEGER PRIMARY KEY, salt BLOB NOT NULL,"
        " iterations INTEGER NOT NULL, wrapped_sk BLOB NOT NULL, failures INTEGER NOT NULL,"
        " mac BLOB NOT NULL);"
        "CREATE TABLE objects(id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " is_private INTEGER NOT NULL, class_tag BLOB, id_tag BLOB, label_tag BLOB,"
        " body BLOB NOT NULL, secret BLOB NOT NULL, mac BLOB NOT NULL);" +
        std::string(kObjectIndexes) + "PRAGMA user_version=1;");
  }
  if (version < 2) {
    db_.exec(
        "CREATE TABLE device_state(key TEXT PRIMARY KEY, value BLOB NOT NULL, mac BLOB NOT NULL);"
        "PRAGMA user_version=2;");
  }
  if (version < 3) {
    // ObjectsMark::changed (store.h): every twinhsm that writes objects moves it, so an older
    // one, which would not, must not open this store (it refuses a newer schema).
    db_.exec(
        "CREATE TABLE object_changes(serial INTEGER NOT NULL);"
        "INSERT INTO object_changes VALUES(0);"
        "PRAGMA user_version=3;");
  }
  // Later schema versions add their steps here, each ending with PRAGMA user_version=N.
  tx.commit();
}

int Store::schema_version() {
  std::lock_guard lock(mutex_);
  Statement st(db_, "PRAGMA user_version");
  st.step();
  return static_cast<int>(st.column_int(0));
}

Bytes Store::row_mac(std::string_view table, const std::vector<ByteView>& fields) const {
  Bytes input(kMacDomain.begin(), kMacDomain.end());
  append(input, as_bytes(table));
  input.push_back(0);
  for (ByteView f : fields) {
    append(input, f);
  }
  auto mac = crypto::hmac_sha256(row_key_, input);
  return Bytes(mac.begin(), mac.end());
}

void Store::check_mac(std::string_view table, const std::vector<ByteView>& fields, ByteView mac,
                      std::string_view what) const {
  if (!crypto::ct_equal(row_mac(table, fields), mac)) {
    throw IntegrityError("the store failed its integrity check: " + std::string(what) +
                         " was modified outside twinhsm (restore a backup)");
  }
}

std::optional<Store::WalStamp> Store::change_stamp() const {
  if (!wal_index_) {
    return std::nullopt;
  }
  // The header is kept twice: a commit writes the second copy, then (after a barrier) the first.
  // Read the first, then the second: two equal copies are one whole header.
  const volatile auto* words = static_cast<const volatile uint32_t*>(wal_index_);
  WalStamp first, second;
  for (size_t i = 0; i < first.size(); ++i) {
    first[i] = words[i];
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  for (size_t i = 0; i < second.size(); ++i) {
    second[i] = words[second.size() + i];
  }
  if (first != second) {
    return std::nullopt;
  }
  return first;
}

int64_t Store::data_version() {
  std::lock_guard lock(mutex_);
  Statement st(db_, "PRAGMA data_version");
  st.step();
  // A commit of this connection's that carried other connections' rows is, to this process's
  // caches, another connection's commit: they do not hold those rows.
  return st.column_int(0) + static_cast<int64_t>(foreign_commits_.load(std::memory_order_acquire));
}

}  // namespace twinhsm::store
