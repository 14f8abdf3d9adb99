// RAII over SQLite: the connection, prepared statements and transactions. Every failure becomes a
// StoreError that names the operation and carries SQLite's message.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/bytes.h"
#include "store/write_lock.h"

namespace twinhsm::store {

class Database;

// Statement is one prepared statement. bind_* take 1-based indexes, as SQLite does. step()
// returns true while a row is available. It comes from the connection's cache of prepared
// statements when one of the same SQL text is idle there, and goes back to it (reset, its
// bindings cleared) on destruction: parsing the SQL text again on every call was most of the cost
// of a small query. Two live Statements of the same text (a nested call) are two statements.
class Statement {
 public:
  Statement(Database& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, ByteView blob);
  Statement& bind(int index, const std::optional<Bytes>& blob);  // NULL when empty
  Statement& bind_null(int index);

  bool step();
  void run();  // step() to completion, for statements that return no row
  void reset();

  int64_t column_int(int index) const;
  std::string column_text(int index) const;
  Bytes column_blob(int index) const;
  std::optional<Bytes> column_optional_blob(int index) const;

 private:
  Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Durability: how a write transaction's commit reaches the disk; either way Transaction::commit
// returns only once it is there.
//   after_commit  synchronous=NORMAL, then an fsync of the WAL file by Transaction::commit once
//                 the write locks are let go: the next writer writes its commit meanwhile, and
//                 the commits of several processes share the disk's flushes (group commit).
//                 Another connection can read a commit a few milliseconds before it is durable;
//                 its writer has not returned yet. SQLite's checkpoints sync the WAL before
//                 copying it into the database and the database after, as with FULL.
//   in_commit     synchronous=FULL: SQLite syncs the WAL inside COMMIT, before any other
//                 connection can see the commit. An anchored store (store/anchor.h) uses it: a
//                 writer makes up the counter increment of a commit it sees (a process that
//                 stopped before its own), which must never happen for a commit the disk does
//                 not hold yet.
enum class Durability { after_commit, in_commit };

// Database is one connection. Not thread safe: callers serialize access (store::Store does).
class Database {
 public:
  // open opens (or, with create, creates) the database file; WAL journal,
  // Durability::after_commit, secure_delete, a busy timeout so that two processes wait for each
  // other instead of failing, and the writers' lock (store/write_lock.h).
  Database(const std::filesystem::path& path, bool create);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // exec runs SQL text, which may hold several statements, without keeping it prepared.
  void exec(std::string_view sql);
  // wal_index maps the start of the WAL index (the -shm file that every connection to the
  // database shares) into this process, or returns nullptr when this connection has none.
  const volatile void* wal_index();
  void set_durability(Durability d);
  Durability durability() const { return durability_; }
  WriteLock* write_lock() const { return write_lock_.get(); }  // none on a read-only device
  // sync_wal makes every commit written to the WAL file so far durable (fsync); throws StoreError.
  void sync_wal();
  int64_t last_insert_rowid() const;
  int changes() const;
  sqlite3* handle() const { return db_; }
  [[noreturn]] void fail(std::string_view what) const;

 private:
  // connect opens the connection and sets it up; throws StoreError (db_ may then be set).
  void connect(const std::filesystem::path& path, bool create);
  // take returns an idle cached statement of sql, or a newly prepared one; give_back resets it
  // and keeps it (or finalizes it when the cache holds one of that text already).
  friend class Statement;
  sqlite3_stmt* take(std::string_view sql);
  void give_back(sqlite3_stmt* stmt);

  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  friend class Transaction;
  sqlite3* db_ = nullptr;
  std::unique_ptr<WriteLock> write_lock_;  // none on a read-only device
  Durability durability_ = Durability::after_commit;
  // Idle prepared statements by SQL text (nullptr: the one of that text is in use). A few dozen
  // texts at most: the store's SQL is fixed, find_objects' has 16 forms.
  std::unordered_map<std::string, sqlite3_stmt*, TextHash, std::equal_to<>> cache_;
};

// Transaction begins on construction (IMMEDIATE: the write lock is taken at once, so that two
// processes never both read-then-write; the writers' lock first) and rolls back on destruction
// unless commit() was called. A write transaction's commit() returns once the commit is durable.
class Transaction {
 public:
  enum class Kind { read, write };
  // A write transaction with wait false begins only when no other connection holds the
  // writers' lock; begun() tells, and begin() waits for the lock and begins.
  Transaction(Database& db, Kind kind, bool wait = true);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  // commit throws StoreError when COMMIT fails (nothing was written) or when its fsync does
  // (committed() then tells that the commit is in the store, visible, maybe not yet durable).
  // A write transaction's before_unlock runs once COMMIT succeeded, before the writers' lock
  // is let go (the commit queue marks the rows it carried committed there).
  void commit(const std::function<void()>& before_unlock = {});
  bool committed() const { return begun_ && !open_; }
  bool begun() const { return begun_; }
  void begin();

 private:
  Database& db_;
  bool write_;
  bool open_ = true;
  bool begun_ = false;  // a write transaction's BEGIN IMMEDIATE ran
};

}  // namespace twinhsm::store
