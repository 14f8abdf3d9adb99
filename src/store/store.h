// Store is the device's storage: one SQLite database holding settings, the wrapped storage key of
// each role, and the objects. It knows nothing of PKCS#11 or of what the bytes mean; it makes sure
// that every row it returns is one it wrote: each row carries an HMAC-SHA256 under the device's
// row-authentication key over every column (and the table's name), so a row edited, moved to
// another id or another table by hand is detected (IntegrityError), never returned.
//
// Store is thread safe: calls are serialized by an internal mutex, which a Transaction holds for
// its whole life. Two processes on one database take turns through the writers' lock
// (store/write_lock.h) and SQLite's locks; every write is made in a write transaction, whose
// commit returns once it is durable (store/sqlite.h, Durability).
#pragma once

#include <array>
#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "common/bytes.h"
#include "crypto/secure_bytes.h"
#include "store/anchor.h"
#include "store/commit_queue.h"
#include "store/sqlite.h"

namespace twinhsm::store {

// ObjectRow is one stored object, as the token layer encoded it.
struct ObjectRow {
  int64_t id = 0;
  bool is_private = false;
  // Index tags: keyed hashes of CKA_CLASS, CKA_ID and CKA_LABEL (absent: nullopt).
  std::optional<Bytes> class_tag, id_tag, label_tag;
  Bytes body;    // the attributes: clear encoding (public) or AES-GCM ciphertext (private)
  Bytes secret;  // encrypted key material of a public object; empty otherwise
  Bytes mac;     // the row's MAC as read (changes with every write); ignored when writing
};

// RoleRow is a role's login data: the storage key wrapped under the role's password KEK.
struct RoleRow {
  int role = 0;
  Bytes salt;
  uint32_t iterations = 0;
  Bytes wrapped_sk;
  uint32_t failures = 0;
};

// ObjectQuery selects objects by index tags. A row matches if it is public and matches every
// given public tag, or private (and include_private) and matches every given private tag.
struct ObjectQuery {
  struct Tags {
    std::optional<Bytes> class_tag, id_tag, label_tag;
  };
  Tags public_tags;
  Tags private_tags;
  bool include_private = false;
};

class Store {
 public:
  // Opens the database at path (creating it and its schema when create is true; failing if it
  // does not exist otherwise). row_key authenticates every row.
  Store(const std::filesystem::path& path, crypto::SecureBytes row_key, bool create);
  const std::filesystem::path& path() const { return path_; }
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // WriteTransaction groups writes: they all land or none does. Holding one keeps other threads
  // of this process out of the store; other processes wait on SQLite's lock. Transactions nest:
  // an inner one joins the outermost, which alone commits; an inner one destroyed uncommitted
  // makes the outer commit fail (StoreError), so nothing half-done lands.
  class WriteTransaction {
   public:
    // mode matters only on an anchored store (anchor_to), for the outermost transaction.
    explicit WriteTransaction(Store& store, Anchoring mode = Anchoring::check);
    // IfFree: an outermost transaction begins only when no other process is writing (begun()
    // false otherwise: the caller may hand a row over, then begin()). Holding one, begun or not,
    // keeps this process's other threads out of the store.
    enum IfFree { if_free };
    WriteTransaction(Store& store, IfFree);
    ~WriteTransaction();
    WriteTransaction(const WriteTransaction&) = delete;
    WriteTransaction& operator=(const WriteTransaction&) = delete;
    bool begun() const { return begun_; }
    void begin();  // waits for the other writers
    void commit();

   private:
    void begin_outermost(Anchoring mode);
    Store& store_;
    std::unique_lock<std::recursive_mutex> lock_;
    std::optional<Transaction> tx_;  // the outermost transaction only
    bool begun_ = true;
    bool committed_ = false;
  };
  // ReadTransaction gives one consistent snapshot across several reads (inside a write
  // transaction it joins it).
  class ReadTransaction {
   public:
    explicit ReadTransaction(Store& store);

   private:
    std::unique_lock<std::recursive_mutex> lock_;
    std::optional<Transaction> tx_;
  };

  int schema_version();

  // anchor_to binds the store to counter (store/anchor.h): from now on every write transaction
  // checks and renews the anchor. verify_anchor checks the whole store against it (IntegrityError
  // when it does not match). Without anchor_to (a file device) there is no anchor.
  void anchor_to(std::unique_ptr<RollbackCounter> counter);
  void verify_anchor();

  // Device state: rows of this device's own that a backup does not carry (the anchor, the TPM's
  // PIN records), authenticated like every row.
  std::optional<Bytes> device_state(std::string_view key);
  void put_device_state(std::string_view key, ByteView value);
  void delete_device_state(std::string_view key);

  // Settings: small named values (device and token settings).
  std::optional<Bytes> setting(std::string_view key);
  std::optional<std::string> setting_text(std::string_view key);
  void put_setting(std::string_view key, ByteView value);
  void put_setting(std::string_view key, std::string_view value) {
    put_setting(key, as_bytes(value));
  }
  void delete_setting(std::string_view key);
  std::map<std::string, Bytes> settings();

  std::optional<RoleRow> role(int role);
  std::vector<RoleRow> roles();
  void put_role(const RoleRow& row);
  void delete_role(int role);

  // insert_object stores a new object: it takes a fresh id (never reused, even after a delete;
  // the one AUTOINCREMENT would give), calls encode(id) to fill the row (the id is bound into the
  // row's encryption), and inserts it. Returns the id.
  int64_t insert_object(const std::function<ObjectRow(int64_t id)>& encode);
  // The commit queue (store/commit_queue.h): one commit for the inserts of several processes.
  // hand_over_insert, under a WriteTransaction not begun (another process is writing): takes an
  // id from the queue, calls encode(id), and posts the row for that writer's commit. Returns the
  // id once the row is durable in the store; nullopt when it was not handed over (no queue or a
  // full one, a row too large, or the writer did not take it): the caller then begins its
  // transaction and inserts the row itself. generation is the
  // token generation the row was encoded for; a writer that sees another one rejects the row.
  std::optional<int64_t> hand_over_insert(std::string_view generation,
                                          const std::function<ObjectRow(int64_t id)>& encode);
  // take_handed_over, inside the open write transaction after its own insert_object, just before
  // its commit: inserts the rows posted for generation whose ids were never used and whose MACs
  // check; the commit makes them durable and tells their posters.
  void take_handed_over(std::string_view generation);
  void update_object(const ObjectRow& row);
  // put_object stores a row under its own id (a restore); the id must be free.
  void put_object(const ObjectRow& row);
  // delete_object returns false if no such object.
  bool delete_object(int64_t id);
  void delete_all_objects();
  // delete_everything empties every table (a restore, inside its write transaction).
  void delete_everything();
  // A bulk load of object rows (a restore), inside the open write transaction only:
  // begin_object_load drops the objects' three tag indexes, so that each row inserted after it
  // is one append to the table rather than three inserts at random places in the indexes (which
  // a page cache of a few MiB does not hold: at 2,000,000 rows most of a restore's time went
  // there); end_object_load creates them again, one sort each. A transaction that ends without
  // end_object_load rolls back with the old rows and indexes; its commit throws (StoreError).
  void begin_object_load();
  void end_object_load();
  std::optional<ObjectRow> object(int64_t id);
  std::vector<ObjectRow> find_objects(const ObjectQuery& query);
  // for_each_object visits every row in id order (authenticated), for listings and backups.
  void for_each_object(const std::function<void(const ObjectRow&)>& visit);
  // ObjectsMark tells what happened to the objects between two readings: changed moves with
  // every commit (of any connection) that updated or deleted an object row, last_id with every
  // insert (ids are never reused). Equal marks: the rows up to last_id are the same rows; a
  // larger last_id alone: rows were only added, with ids above the earlier last_id.
  struct ObjectsMark {
    int64_t changed = 0;
    int64_t last_id = 0;
    bool operator==(const ObjectsMark&) const = default;
  };
  // objects_mark returns the mark, and with data_version that of the same snapshot.
  ObjectsMark objects_mark(int64_t* data_version = nullptr);
  // scan_objects visits every row with an id above after_id in id order, each with whether it
  // is authentic (its MAC checks), and returns the objects' mark of the same snapshot and how
  // many object commits this store has made (object_commits) as of that scan; rows that fail
  // are passed, not thrown, so one damaged row does not hide the others.
  ObjectsMark scan_objects(const std::function<void(const ObjectRow&, bool authentic)>& visit,
                           uint64_t* object_commits, int64_t after_id = 0);
  struct Counts {
    int64_t public_objects = 0, private_objects = 0;
  };
  Counts count_objects();

  // data_version changes whenever another connection commits a change (PRAGMA data_version).
  // It opens a read transaction: the WAL read lock, two fcntl calls on the -shm file.
  int64_t data_version();
  // WalStamp is the WAL index header (https://www.sqlite.org/walformat.html, 2.2): every commit
  // of any connection writes it anew (its iChange counter and mxFrame change), so an unchanged
  // stamp means no commit since. Reading it is a memory read, no lock, no system call.
  using WalStamp = std::array<uint32_t, 12>;
  // change_stamp returns the current stamp, or nullopt (a commit is writing it, or there is no
  // WAL index to read): then ask data_version.
  std::optional<WalStamp> change_stamp() const;
  // object_commits counts this store's commits that changed objects (a write transaction's, or
  // an object write outside one); a cache of objects made at one count is this process's view
  // of them while the count and data_version stay as they are.
  uint64_t object_commits() const { return object_commits_.load(std::memory_order_acquire); }

  // Makes tables and indexes exist at the current schema version.
  static constexpr int kSchemaVersion = 3;

 private:
  Bytes row_mac(std::string_view table, const std::vector<ByteView>& fields) const;
  void check_mac(std::string_view table, const std::vector<ByteView>& fields, ByteView mac,
                 std::string_view what) const;
  ObjectRow read_object_row(Statement& st) const;
  ObjectRow read_object_columns(Statement& st) const;
  void objects_written();  // counts an object write towards object_commits (mutex_ held)
  void objects_changed();  // moves ObjectsMark::changed: a row updated or deleted (mutex_ held)
  void insert_object_row(const ObjectRow& row);  // the INSERT of a whole row (in_write held)
  ObjectsMark read_objects_mark();               // in the caller's snapshot (mutex_ held)
  // in_write runs a write inside the open write transaction, or in one of its own: a commit is
  // made durable only by a write transaction's commit (sqlite.h, Durability), never by SQLite's
  // autocommit.
  template <class F>
  auto in_write(F&& write) -> decltype(write()) {
    std::lock_guard lock(mutex_);
    if (tx_depth_ > 0) {
      return write();
    }
    WriteTransaction tx(*this);
    if constexpr (std::is_void_v<decltype(write())>) {
      write();
      tx.commit();
    } else {
      auto result = write();
      tx.commit();
      return result;
    }
  }
  void migrate();
  bool queue_in_use() const;  // a commit queue, and commits made durable after them
  // settle_taken tells the posters of the rows this transaction took how they ended; with
  // let_go it also gives up their leader bytes and forgets them.
  void settle_taken(CommitQueue::State state, bool let_go = true);
  static const char* const kObjectIndexes;      // CREATE INDEX of the three tag indexes
  static const char* const kDropObjectIndexes;  // and their DROP INDEX
  friend class Anchor;  // reads the MAC columns and writes its row inside the transactions

  std::recursive_mutex mutex_;
  int tx_depth_ = 0;                 // open transactions, guarded by mutex_
  bool tx_rollback_only_ = false;    // an inner write transaction failed
  bool tx_objects_written_ = false;  // the open write transaction changed objects
  bool tx_object_load_ = false;      // the open write transaction dropped the tag indexes
  int64_t tx_id_floor_ = -1;         // every id up to this was in use when this transaction began
  std::vector<size_t> tx_taken_;     // commit queue slots whose rows this transaction inserted
  bool expect_posts_ = false;        // rows of others' rode on commits lately (or this one's)
  std::atomic<uint64_t> object_commits_{0};
  std::atomic<uint64_t> foreign_commits_{0};  // commits that carried other connections' rows
  std::filesystem::path path_;
  Database db_;
  crypto::SecureBytes row_key_;
  std::unique_ptr<Anchor> anchor_;            // after db_: destroyed before it
  std::unique_ptr<CommitQueue> queue_;        // none without a writers' lock file
  const volatile void* wal_index_ = nullptr;  // db_'s mapping of the -shm file, or nullptr
};

}  // namespace twinhsm::store
