// store::Store without the token above it: what it writes it returns, what anyone else writes it
// refuses (every row's MAC), and what its transactions and indexes promise.
#include "store/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "common/error.h"
#include "temp_device.h"

namespace twinhsm::store {
namespace {

crypto::SecureBytes row_key(uint8_t fill = 7) {
  return crypto::SecureBytes(32, fill);
}

ObjectRow object(int64_t id, const std::string& body, std::optional<Bytes> id_tag = {}) {
  ObjectRow r;
  r.id = id;
  r.body = Bytes(body.begin(), body.end());
  r.id_tag = std::move(id_tag);
  return r;
}

// sql runs a statement on the database file behind the store's back (a hand edit).
void sql(const std::filesystem::path& db, const std::string& statement) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(h, statement.c_str(), nullptr, nullptr, &err), SQLITE_OK)
      << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(h);
}

// object_indexes lists the objects table's indexes, as another connection sees the file.
std::string object_indexes(const std::filesystem::path& db) {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h,
                               "SELECT name FROM sqlite_master WHERE type = 'index' AND"
                               " tbl_name = 'objects' AND sql IS NOT NULL ORDER BY name",
                               -1, &st, nullptr),
            SQLITE_OK);
  std::string names;
  while (sqlite3_step(st) == SQLITE_ROW) {
    names += std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 0))) + " ";
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return names;
}

constexpr std::string_view kObjectIndexNames = "objects_by_class objects_by_id objects_by_label ";

class StoreUnitTest : public ::testing::Test {
 protected:
  test::TempDir dir_;
  std::filesystem::path db_ = dir_.path() / "store.db";
};

TEST_F(StoreUnitTest, WhatItWritesItReads) {
  Store s(db_, row_key(), true);
  {
    Store::WriteTransaction tx(s);
    s.put_setting("a.setting", "value");
    s.put_role(RoleRow{1, Bytes(32, 1), 1000, Bytes(40, 2), 3});
    tx.commit();
  }
  EXPECT_EQ(s.setting_text("a.setting"), "value");
  EXPECT_EQ(s.setting_text("missing"), std::nullopt);
  auto role = s.role(1);
  ASSERT_TRUE(role);
  EXPECT_EQ(role->failures, 3u);
  EXPECT_EQ(role->wrapped_sk, Bytes(40, 2));
  int64_t id;
  {
    Store::WriteTransaction tx(s);
    id = s.insert_object([](int64_t new_id) { return object(new_id, "first"); });
    tx.commit();
  }
  auto row = s.object(id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->body, Bytes({'f', 'i', 'r', 's', 't'}));
  EXPECT_EQ(s.count_objects().public_objects, 1);
}

TEST_F(StoreUnitTest, IdsAreNeverReused) {
  Store s(db_, row_key(), true);
  Store::WriteTransaction tx(s);
  int64_t a = s.insert_object([](int64_t id) { return object(id, "a"); });
  ASSERT_TRUE(s.delete_object(a));
  int64_t b = s.insert_object([](int64_t id) { return object(id, "b"); });
  EXPECT_GT(b, a);
  EXPECT_FALSE(s.delete_object(a));
  tx.commit();
}

TEST_F(StoreUnitTest, AnyHandEditIsRefused) {
  int64_t id;
  {
    Store s(db_, row_key(), true);
    Store::WriteTransaction tx(s);
    s.put_setting("device.max_login_failures", "3");
    s.put_setting("untouched", "1");
    id = s.insert_object([](int64_t new_id) { return object(new_id, "body"); });
    tx.commit();
  }
  sql(db_,
      "UPDATE settings SET value = CAST('1000' AS BLOB) WHERE key = 'device.max_login_failures'");
  sql(db_, "UPDATE objects SET body = CAST('bodx' AS BLOB) WHERE id = " + std::to_string(id));
  Store s(db_, row_key(), false);
  EXPECT_THROW(s.setting("device.max_login_failures"), IntegrityError);
  EXPECT_THROW(s.object(id), IntegrityError);
  // Another device's row key (a row copied from another device) is no better.
  EXPECT_EQ(s.setting_text("untouched"), "1");
  Store other(db_, row_key(8), false);
  EXPECT_THROW(other.setting("untouched"), IntegrityError);
}

TEST_F(StoreUnitTest, ARowMovedToAnotherIdIsRefused) {
  int64_t a, b;
  {
    Store s(db_, row_key(), true);
    Store::WriteTransaction tx(s);
    a = s.insert_object([](int64_t id) { return object(id, "a"); });
    b = s.insert_object([](int64_t id) { return object(id, "b"); });
    tx.commit();
  }
  sql(db_, "DELETE FROM objects WHERE id = " + std::to_string(b));
  sql(db_, "UPDATE objects SET id = " + std::to_string(b) + " WHERE id = " + std::to_string(a));
  Store s(db_, row_key(), false);
  EXPECT_THROW(s.object(b), IntegrityError);
}

TEST_F(StoreUnitTest, FindsByTagsOnly) {
  Store s(db_, row_key(), true);
  Bytes tag1(16, 1), tag2(16, 2);
  {
    Store::WriteTransaction tx(s);
    s.insert_object([&](int64_t id) { return object(id, "one", tag1); });
    s.insert_object([&](int64_t id) { return object(id, "two", tag2); });
    s.insert_object([&](int64_t id) { return object(id, "three"); });
    tx.commit();
  }
  ObjectQuery q;
  q.public_tags.id_tag = tag2;
  auto rows = s.find_objects(q);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].body, Bytes({'t', 'w', 'o'}));
  EXPECT_EQ(s.find_objects(ObjectQuery{}).size(), 3u);
  // Private rows only when asked for.
  {
    Store::WriteTransaction tx(s);
    s.insert_object([&](int64_t id) {
      ObjectRow r = object(id, "secret", tag2);
      r.is_private = true;
      return r;
    });
    tx.commit();
  }
  EXPECT_EQ(s.find_objects(q).size(), 1u);
  q.include_private = true;
  q.private_tags.id_tag = tag2;
  EXPECT_EQ(s.find_objects(q).size(), 2u);
}

TEST_F(StoreUnitTest, AnInnerTransactionThatFailsUndoesTheOuter) {
  Store s(db_, row_key(), true);
  {
    Store::WriteTransaction outer(s);
    s.put_setting("k", "outer");
    {
      Store::WriteTransaction inner(s);
      s.put_setting("k", "inner");
      // not committed: destroyed as if an exception had passed through
    }
    EXPECT_THROW(outer.commit(), StoreError);
  }
  EXPECT_EQ(s.setting_text("k"), std::nullopt);
  {
    Store::WriteTransaction tx(s);
    s.put_setting("k", "kept");
    tx.commit();
  }
  EXPECT_EQ(s.setting_text("k"), "kept");
}

// A bulk load (a restore) drops the tag indexes and makes them again, within one transaction:
// committed, the store has its indexes and finds by them; a load that fails or does not end
// leaves the old rows and the old indexes.
TEST_F(StoreUnitTest, AnObjectLoadRemakesTheTagIndexesOrLeavesTheOldStore) {
  Store s(db_, row_key(), true);
  Bytes tag1(16, 1), tag2(16, 2);
  EXPECT_EQ(object_indexes(db_), kObjectIndexNames);
  EXPECT_THROW(s.begin_object_load(), StoreError);  // never in a transaction of its own
  {
    Store::WriteTransaction tx(s);
    s.insert_object([&](int64_t id) { return object(id, "old", tag1); });
    tx.commit();
  }
  auto old_rows = [&] {
    ObjectQuery q;
    q.public_tags.id_tag = tag1;
    auto rows = s.find_objects(q);
    return rows.size() == 1 && rows[0].body == Bytes({'o', 'l', 'd'}) &&
           s.find_objects(ObjectQuery{}).size() == 1;
  };
  {  // failed half-way: rolled back
    Store::WriteTransaction tx(s);
    s.begin_object_load();
    s.delete_everything();
    s.put_object(object(7, "new", tag2));
  }
  EXPECT_TRUE(old_rows());
  EXPECT_EQ(object_indexes(db_), kObjectIndexNames);
  {  // a commit before the load ended: refused, rolled back
    Store::WriteTransaction tx(s);
    s.begin_object_load();
    EXPECT_THROW(s.begin_object_load(), StoreError);
    s.delete_everything();
    s.put_object(object(7, "new", tag2));
    EXPECT_THROW(tx.commit(), StoreError);
  }
  EXPECT_TRUE(old_rows());
  EXPECT_EQ(object_indexes(db_), kObjectIndexNames);
  EXPECT_THROW(s.end_object_load(), StoreError);
  {  // a whole load
    Store::WriteTransaction tx(s);
    s.begin_object_load();
    s.delete_everything();
    s.put_object(object(7, "new", tag2));
    s.put_object(object(9, "other", tag1));
    s.end_object_load();
    tx.commit();
  }
  EXPECT_EQ(object_indexes(db_), kObjectIndexNames);
  ObjectQuery q;
  q.public_tags.id_tag = tag2;
  auto rows = s.find_objects(q);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, 7);
  EXPECT_EQ(s.find_objects(ObjectQuery{}).size(), 2u);
  // The finds go through the indexes again (no scan of the table).
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "EXPLAIN QUERY PLAN SELECT id FROM objects WHERE id_tag = x'00'",
                               -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_NE(
      std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 3))).find("objects_by_id"),
      std::string::npos);
  sqlite3_finalize(st);
  sqlite3_close(h);
}

TEST_F(StoreUnitTest, DataVersionTellsAnotherConnectionsCommit) {
  Store a(db_, row_key(), true);
  Store b(db_, row_key(), false);
  int64_t before = a.data_version();
  {
    Store::WriteTransaction tx(a);
    a.put_setting("x", "1");
    tx.commit();
  }
  EXPECT_EQ(a.data_version(), before) << "its own commit is not another connection's";
  int64_t seen_by_b = b.data_version();
  {
    Store::WriteTransaction tx(a);
    a.put_setting("x", "2");
    tx.commit();
  }
  EXPECT_NE(b.data_version(), seen_by_b);
  EXPECT_EQ(b.setting_text("x"), "2");
}

// ObjectsMark (store.h): what another connection learns of the objects from one small read. An
// insert moves only last_id; an update or a delete moves changed; settings and roles neither.
TEST_F(StoreUnitTest, ObjectsMarkTellsInsertsFromChanges) {
  Store a(db_, row_key(), true);
  Store b(db_, row_key(), false);
  Store::ObjectsMark start = b.objects_mark();
  EXPECT_EQ(start.last_id, 0) << "no object yet";
  int64_t id;
  {
    Store::WriteTransaction tx(a);
    id = a.insert_object([](int64_t new_id) { return object(new_id, "one"); });
    tx.commit();
  }
  Store::ObjectsMark inserted = b.objects_mark();
  EXPECT_EQ(inserted.changed, start.changed) << "an insert is not a change";
  EXPECT_EQ(inserted.last_id, id);
  {
    Store::WriteTransaction tx(a);
    a.put_setting("x", "1");
    a.put_role(RoleRow{1, Bytes(32, 1), 1000, Bytes(40, 2), 0});
    tx.commit();
  }
  EXPECT_EQ(b.objects_mark(), inserted) << "settings and roles are not objects";
  a.update_object(object(id, "two"));
  Store::ObjectsMark updated = b.objects_mark();
  EXPECT_NE(updated.changed, inserted.changed);
  EXPECT_EQ(updated.last_id, id);
  ASSERT_TRUE(a.delete_object(id));
  Store::ObjectsMark deleted = b.objects_mark();
  EXPECT_NE(deleted.changed, updated.changed);
  EXPECT_EQ(deleted.last_id, id) << "ids are never reused: last_id stays";
  {
    Store::WriteTransaction tx(a);
    a.insert_object([](int64_t new_id) { return object(new_id, "three"); });
    a.delete_all_objects();
    tx.commit();
  }
  EXPECT_NE(b.objects_mark().changed, deleted.changed);
}

// The mark and data_version of one snapshot, and a scan of the rows after an id with the mark of
// its own snapshot: what a token needs to add another connection's new rows to its index.
TEST_F(StoreUnitTest, ScanAfterAnIdGivesTheNewRowsAndTheirMark) {
  Store a(db_, row_key(), true);
  Store b(db_, row_key(), false);
  std::vector<int64_t> ids;
  for (const char* body : {"a", "b", "c"}) {
    ids.push_back(a.insert_object([&](int64_t id) { return object(id, body); }));
  }
  int64_t version = 0;
  Store::ObjectsMark mark = b.objects_mark(&version);
  EXPECT_EQ(mark.last_id, ids.back());
  EXPECT_EQ(version, b.data_version());
  std::vector<int64_t> seen;
  uint64_t commits = 0;
  Store::ObjectsMark scanned = b.scan_objects(
      [&](const ObjectRow& row, bool authentic) {
        EXPECT_TRUE(authentic);
        seen.push_back(row.id);
      },
      &commits, ids[0]);
  EXPECT_EQ(seen, std::vector<int64_t>(ids.begin() + 1, ids.end()));
  EXPECT_EQ(scanned, mark);
}

// A store of schema 2 (before object_changes) gains the table when opened, marks included.
TEST_F(StoreUnitTest, AnOlderStoreGainsTheObjectsMark) {
  int64_t id;
  {
    Store s(db_, row_key(), true);
    id = s.insert_object([](int64_t new_id) { return object(new_id, "old"); });
  }
  sql(db_, "DROP TABLE object_changes; PRAGMA user_version=2;");
  Store s(db_, row_key(), false);
  EXPECT_EQ(s.schema_version(), Store::kSchemaVersion);
  Store::ObjectsMark before = s.objects_mark();
  EXPECT_EQ(before.last_id, id);
  ASSERT_TRUE(s.delete_object(id));
  EXPECT_NE(s.objects_mark().changed, before.changed);
}

// The writers' lock (store/write_lock.h): a writer on another connection waits in the kernel for
// the one that holds it, a write outside any transaction included, and goes on once it commits.
TEST_F(StoreUnitTest, WritersOfTwoConnectionsTakeTurns) {
  Store a(db_, row_key(), true);
  Store b(db_, row_key(), false);
  std::atomic<bool> committed{false}, written{false};
  std::optional<std::string> seen;
  std::thread other;
  {
    Store::WriteTransaction tx(a);
    a.put_setting("x", "from a");
    other = std::thread([&] {
      seen = b.setting_text("x");  // a reader does not wait
      b.put_setting("y", "from b");
      written = committed.load();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_FALSE(written.load());
    committed = true;
    tx.commit();
  }
  other.join();
  EXPECT_TRUE(written.load()) << "b wrote before a's transaction ended";
  EXPECT_EQ(seen, std::nullopt);
  EXPECT_EQ(a.setting_text("y"), "from b");
  EXPECT_EQ(b.setting_text("x"), "from a");
  EXPECT_TRUE(std::filesystem::exists(db_.string() + ".write-lock"));
}

// A thread that writes through two connections at once would wait for itself: refused instead.
TEST_F(StoreUnitTest, TwoWritingConnectionsInOneThreadAreRefused) {
  Store a(db_, row_key(), true);
  Store b(db_, row_key(), false);
  {
    Store::WriteTransaction tx(a);
    EXPECT_THROW({ Store::WriteTransaction inner(b); }, StoreError);
    a.put_setting("x", "1");
    tx.commit();
  }
  Store::WriteTransaction tx(b);  // free again
  b.put_setting("x", "2");
  tx.commit();
  EXPECT_EQ(a.setting_text("x"), "2");
}

TEST_F(StoreUnitTest, AMissingStoreIsNotCreatedByOpening) {
  EXPECT_THROW(Store(db_, row_key(), false), StoreError);
  EXPECT_FALSE(std::filesystem::exists(db_));
  EXPECT_FALSE(std::filesystem::exists(db_.string() + ".write-lock"));
}

}  // namespace
}  // namespace twinhsm::store
