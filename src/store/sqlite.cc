#include "store/sqlite.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>

#include "fs/owned_file.h"

namespace twinhsm::store {

namespace {
constexpr int kBusyTimeoutMs = 30000;
// How long opening retries the moment when another user's process creates the WAL files.
constexpr auto kWalWindowRetryFor = std::chrono::seconds(2);
}  // namespace

// When no connection has the store open, the first one to come creates its -wal and -shm files.
// If that is root (the admin's twinhsm command on a device that belongs to the isolated mode's
// user), SQLite creates them as root and only then gives them to the database file's owner
// (fchown). The owner's processes that open the store in between cannot open those files for
// writing: SQLITE_CANTOPEN, or a connection that falls back to reading and later says
// SQLITE_READONLY. The window is a few system calls long, so the connection is opened afresh
// until a write lock can be taken, for at most kWalWindowRetryFor, while store.db itself is
// writable to this process (a read-only device fails at once).
Database::Database(const std::filesystem::path& path, bool create) {
  const auto give_up = std::chrono::steady_clock::now() + kWalWindowRetryFor;
  for (;;) {
    try {
      connect(path, create);
      return;
    } catch (const StoreError&) {
      int code = db_ ? sqlite3_extended_errcode(db_) & 0xff : SQLITE_ERROR;
      sqlite3_close(db_);  // the destructor does not run for a constructor that throws
      db_ = nullptr;
      bool window = (code == SQLITE_CANTOPEN || code == SQLITE_READONLY) &&
                    ::access(path.c_str(), W_OK) == 0 && std::chrono::steady_clock::now() < give_up;
      if (!window) {
        throw;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

namespace {

// check_store_files refuses the store's files when one of them is not a plain file of the
// device's owner (a link or special file planted by whoever controls the device directory).
void check_store_files(const std::filesystem::path& path, const fs::Owner& owner) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    fs::open_owned(path.string() + suffix, O_RDONLY, owner);
  }
}

}  // namespace

void Database::connect(const std::filesystem::path& path, bool create) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (create) {
    flags |= SQLITE_OPEN_CREATE;
  }
  // Root (the admin's twinhsm command) on a device of the isolated mode's user acts as that user
  // on the file system while SQLite opens and creates the store's files: the -wal and -shm files
  // are the owner's from the start, and no link the owner planted leads anywhere the owner could
  // not go. (SQLite itself never follows a link to these files.)
  fs::Owner owner = fs::owner_of(path.parent_path().empty() ? "." : path.parent_path());
  check_store_files(path, owner);
  // The writers' lock file, made (as open_or_create_owned makes files) only for a store that is
  // there or being made.
  if (create || std::filesystem::exists(std::filesystem::symlink_status(path))) {
    write_lock_ = std::make_unique<WriteLock>(path);
  }
  fs::ActingAsOwner as_owner(owner);
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    throw StoreError("cannot open the store " + path.string() + ": " + msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  exec("PRAGMA journal_mode=WAL");
  // A write lock, taken and let go: the WAL files are open for writing (see above). (exec, not
  // Transaction: a connection that fails here is closed, and must hold no prepared statement.)
  if (write_lock_) {
    write_lock_->lock();
  }
  try {
    exec("BEGIN IMMEDIATE");
    exec("ROLLBACK");
  } catch (...) {
    if (write_lock_) {
      write_lock_->unlock();
    }
    throw;
  }
  if (write_lock_) {
    write_lock_->unlock();
  }
  exec(durability_ == Durability::in_commit ? "PRAGMA synchronous=FULL"
                                            : "PRAGMA synchronous=NORMAL");
  exec("PRAGMA secure_delete=ON");
  exec("PRAGMA foreign_keys=ON");
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) {
    sqlite3_finalize(stmt);
  }
  sqlite3_close_v2(db_);
}

sqlite3_stmt* Database::take(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && it->second) {
    return std::exchange(it->second, nullptr);
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt, nullptr) != SQLITE_OK) {
    fail("cannot prepare a store statement");
  }
  if (it == cache_.end()) {
    cache_.emplace(std::string(sql), nullptr);
  }
  return stmt;
}

void Database::give_back(sqlite3_stmt* stmt) {
  // Reset at once: a statement left active would hold its read snapshot (and the WAL read lock).
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  auto it = cache_.find(std::string_view(sqlite3_sql(stmt)));
  if (it != cache_.end() && !it->second) {
    it->second = stmt;
  } else {
    sqlite3_finalize(stmt);
  }
}

void Database::fail(std::string_view what) const {
  throw StoreError(std::string(what) + ": " + sqlite3_errmsg(db_));
}

void Database::exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw StoreError("store statement failed (" + text.substr(0, 40) + "): " + msg);
  }
}

const volatile void* Database::wal_index() {
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK || !file ||
      !file->pMethods || file->pMethods->iVersion < 2 || !file->pMethods->xShmMap) {
    return nullptr;
  }
  // Region 0 (32 KiB pages of the WAL index, as SQLite maps them) is mapped once this connection
  // has read in WAL mode, and stays mapped until it closes; bExtend 0 maps nothing new.
  volatile void* region = nullptr;
  if (file->pMethods->xShmMap(file, 0, 32768, 0, &region) != SQLITE_OK) {
    return nullptr;
  }
  return region;
}

void Database::set_durability(Durability d) {
  exec(d == Durability::in_commit ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  durability_ = d;
}

void Database::sync_wal() {
  // The WAL file as SQLite holds it open (SQLITE_FCNTL_JOURNAL_POINTER gives the WAL in WAL mode).
  sqlite3_file* wal = nullptr;
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) != SQLITE_OK || !wal ||
      !wal->pMethods) {
    throw StoreError("cannot make a commit durable: the store's WAL file is not open");
  }
  if (int rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL); rc != SQLITE_OK) {
    throw StoreError(std::string("cannot make a commit durable (fsync of the WAL file): ") +
                     sqlite3_errstr(rc));
  }
}

int64_t Database::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_);
}
int Database::changes() const {
  return sqlite3_changes(db_);
}

Statement::Statement(Database& db, std::string_view sql) : db_(db), stmt_(db.take(sql)) {}

Statement::~Statement() {
  db_.give_back(stmt_);
}

Statement& Statement::bind(int index, int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) {
    db_.fail("cannot bind a store parameter");
  }
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  if (sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK) {
    db_.fail("cannot bind a store parameter");
  }
  return *this;
}

Statement& Statement::bind(int index, ByteView blob) {
  // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
  static const uint8_t kEmpty = 0;
  const void* data = blob.empty() ? &kEmpty : blob.data();
  if (sqlite3_bind_blob(stmt_, index, data, static_cast<int>(blob.size()), SQLITE_TRANSIENT) !=
      SQLITE_OK) {
    db_.fail("cannot bind a store parameter");
  }
  return *this;
}

Statement& Statement::bind(int index, const std::optional<Bytes>& blob) {
  return blob ? bind(index, ByteView(*blob)) : bind_null(index);
}

Statement& Statement::bind_null(int index) {
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) {
    db_.fail("cannot bind a store parameter");
  }
  return *this;
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  db_.fail("store query failed");
}

void Statement::run() {
  while (step()) {
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::column_int(int index) const {
  return sqlite3_column_int64(stmt_, index);
}

std::string Statement::column_text(int index) const {
  const auto* text = sqlite3_column_text(stmt_, index);
  return text ? std::string(reinterpret_cast<const char*>(text),
                            static_cast<size_t>(sqlite3_column_bytes(stmt_, index)))
              : std::string();
}

Bytes Statement::column_blob(int index) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, index));
  auto size = static_cast<size_t>(sqlite3_column_bytes(stmt_, index));
  return data ? Bytes(data, data + size) : Bytes();
}

std::optional<Bytes> Statement::column_optional_blob(int index) const {
  if (sqlite3_column_type(stmt_, index) == SQLITE_NULL) {
    return std::nullopt;
  }
  return column_blob(index);
}

Transaction::Transaction(Database& db, Kind kind, bool wait)
    : db_(db), write_(kind == Kind::write) {
  if (!write_) {
    Statement(db_, "BEGIN DEFERRED").run();
    return;
  }
  if (!wait && db_.write_lock_ && !db_.write_lock_->try_lock()) {
    open_ = false;  // another connection writes: not begun
    return;
  }
  begin();
}

void Transaction::begin() {
  if (begun_) {
    return;
  }
  if (db_.write_lock_) {
    db_.write_lock_->lock();  // nothing to do when this connection holds it already
  }
  try {
    Statement(db_, "BEGIN IMMEDIATE").run();
  } catch (...) {
    if (db_.write_lock_) {
      db_.write_lock_->unlock();
    }
    throw;
  }
  open_ = true;
  begun_ = true;
}

Transaction::~Transaction() {
  if (open_) {
    try {
      Statement(db_, "ROLLBACK").run();
    } catch (...) {  // a failed rollback leaves SQLite to roll back on the next open
    }
  }
  if (write_ && db_.write_lock_) {
    db_.write_lock_->unlock();  // nothing to do after commit()
  }
}

void Transaction::commit(const std::function<void()>& before_unlock) {
  Statement(db_, "COMMIT").run();
  open_ = false;
  if (!write_) {
    return;
  }
  if (before_unlock) {
    before_unlock();
  }
  // The next writer may begin while this commit goes to the disk.
  if (db_.write_lock_) {
    db_.write_lock_->unlock();
  }
  if (db_.durability_ == Durability::after_commit) {
    db_.sync_wal();
  }
}

}  // namespace twinhsm::store
