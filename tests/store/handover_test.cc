// The commit queue (store/commit_queue.h) through two connections of one store: a connection
// that finds another one writing hands its row over, and the writer's commit carries it when the
// row is what it should be; otherwise the row comes back and its connection writes it itself.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <thread>

#include "common/error.h"
#include "store/store.h"
#include "temp_device.h"

namespace twinhsm::store {
namespace {

crypto::SecureBytes row_key() {
  return crypto::SecureBytes(32, 7);
}

ObjectRow object(int64_t id, const std::string& body) {
  ObjectRow r;
  r.id = id;
  r.body = Bytes(body.begin(), body.end());
  r.label_tag = Bytes(16, static_cast<uint8_t>(body.size()));
  return r;
}

std::string body_of(Store& s, int64_t id) {
  auto row = s.object(id);
  return row ? std::string(row->body.begin(), row->body.end()) : "(none)";
}

class HandOverTest : public ::testing::Test {
 protected:
  // The other connection's side: a transaction that finds the writer busy, the hand-over, and
  // when the row comes back, its own transaction.
  struct Poster {
    bool begun = true;
    std::optional<int64_t> handed;
    int64_t written = 0;  // the id it wrote itself
  };
  void post_from(Store& b, const std::string& generation, const std::string& body, Poster& out) {
    Store::WriteTransaction tx(b, Store::WriteTransaction::if_free);
    out.begun = tx.begun();
    if (!out.begun) {
      out.handed = b.hand_over_insert(generation, [&](int64_t id) { return object(id, body); });
      if (out.handed) {
        return;
      }
      tx.begin();
    }
    out.written = b.insert_object([&](int64_t id) { return object(id, body); });
    tx.commit();
  }
  // a writes a row of its own ("from a"); meanwhile b, finding a writing, posts "from b"; a
  // takes the rows posted for take_for, then commits (or rolls back). between runs after a's
  // own insert, before b posts. Returns b's outcome; own gets a's id.
  Poster write_while_b_posts(Store& a, Store& b, const std::string& take_for, bool commit,
                             int64_t* own = nullptr, const std::function<void()>& between = {}) {
    Poster p;
    std::thread other;
    {
      Store::WriteTransaction tx(a);
      int64_t made = a.insert_object([](int64_t id) { return object(id, "from a"); });
      if (own) {
        *own = made;
      }
      if (between) {
        between();
      }
      other = std::thread([&] { post_from(b, "generation 1", "from b", p); });
      wait_for_a_post();
      a.take_handed_over(take_for);
      if (commit) {
        tx.commit();
      }
    }
    other.join();
    return p;
  }
  // Waits until a row is posted in the queue, as another process sees the file.
  void wait_for_a_post() {
    int fd = ::open((db_.string() + ".write-lock").c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    CommitQueue seen(fd);
    ASSERT_TRUE(seen.valid());
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      bool posted = false;
      for (size_t i = 0; i < CommitQueue::kSlots; ++i) {
        posted = posted || seen.state(i) == CommitQueue::State::posted;
      }
      if (posted || std::chrono::steady_clock::now() > give_up) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ::close(fd);
  }
  // Writes the queue's id counter as another process could.
  void set_id_counter(int64_t next) {
    int fd = ::open((db_.string() + ".write-lock").c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    void* map = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(map, MAP_FAILED);
    std::memcpy(static_cast<char*>(map) + 8, &next, sizeof next);
    ::munmap(map, 4096);
    ::close(fd);
  }
  test::TempDir dir_;
  std::filesystem::path db_ = dir_.path() / "store.db";
};

TEST_F(HandOverTest, TheWritersCommitCarriesTheRowAnotherConnectionHandedOver) {
  Store a(db_, row_key(), true);
  Store b(db_, row_key(), false);
  a.insert_object([](int64_t id) { return object(id, "first"); });  // sets the id counter up
  int64_t version = a.data_version();
  int64_t own = 0;
  Poster p = write_while_b_posts(a, b, "generation 1", true, &own);
  EXPECT_FALSE(p.begun);
  ASSERT_TRUE(p.handed.has_value()) << "the writer's commit did not carry the row";
  EXPECT_EQ(p.written, 0);
  EXPECT_NE(*p.handed, own);
  EXPECT_EQ(body_of(a, *p.handed), "from b");
  EXPECT_EQ(body_of(b, *p.handed), "from b");
  EXPECT_EQ(body_of(b, own), "from a");
  // To a's caches its commit is another connection's: they do not hold b's row.
  EXPECT_NE(a.data_version(), version);
  EXPECT_EQ(a.count_objects().public_objects, 3);
}

TEST_F(HandOverTest, ARowForAnotherGenerationComesBackAndItsConnectionWritesIt) {
  Store a(db_, row_key(), true);
  Store b(db_, row_key(), false);
  a.insert_object([](int64_t id) { return object(id, "first"); });
  // A restore came between: b's row is not for the token a's transaction sees.
  Poster p = write_while_b_posts(a, b, "generation 2", true);
  EXPECT_FALSE(p.begun);
  EXPECT_FALSE(p.handed.has_value());
  ASSERT_GT(p.written, 0);
  EXPECT_EQ(body_of(a, p.written), "from b");
  EXPECT_EQ(a.count_objects().public_objects, 3);  // once: the writer did not insert it
}

// The queue is another process's memory: a counter set back there must not make the writer
// give a used id to a new row (a handle held for the old object would name it).
TEST_F(HandOverTest, AnIdAlreadyUsedIsNeverTakenFromTheQueue) {
  Store a(db_, row_key(), true);
  Store b(db_, row_key(), false);
  int64_t first = a.insert_object([](int64_t id) { return object(id, "first"); });
  ASSERT_TRUE(a.delete_object(first));
  int64_t own = 0;
  Poster p = write_while_b_posts(a, b, "generation 1", true, &own, [&] { set_id_counter(first); });
  EXPECT_GT(own, first);
  EXPECT_FALSE(p.handed.has_value());
  ASSERT_GT(p.written, first);
  EXPECT_EQ(body_of(a, first), "(none)");
  EXPECT_EQ(body_of(a, p.written), "from b");
}

// A writer whose transaction rolls back gives the rows it took back to their connections.
TEST_F(HandOverTest, RowsTakenByATransactionThatRollsBackComeBack) {
  Store a(db_, row_key(), true);
  Store b(db_, row_key(), false);
  a.insert_object([](int64_t id) { return object(id, "first"); });
  Poster p = write_while_b_posts(a, b, "generation 1", false);
  EXPECT_FALSE(p.handed.has_value());
  ASSERT_GT(p.written, 0);
  EXPECT_EQ(body_of(a, p.written), "from b");
  EXPECT_EQ(a.count_objects().public_objects, 2);  // "first" and b's: a's own rolled back
}

// A writer that commits without taking posted rows (it wrote no object): the poster, seeing a
// commit that did not carry its row, takes the lock and writes the row itself.
TEST_F(HandOverTest, ARowNoWriterTookIsWrittenByItsOwnConnection) {
  Store a(db_, row_key(), true);
  Store b(db_, row_key(), false);
  a.insert_object([](int64_t id) { return object(id, "first"); });
  Poster p;
  std::thread other;
  {
    Store::WriteTransaction tx(a);
    a.put_setting("x", "a setting");
    other = std::thread([&] { post_from(b, "generation 1", "from b", p); });
    wait_for_a_post();
    tx.commit();
  }
  other.join();
  EXPECT_FALSE(p.begun);
  EXPECT_FALSE(p.handed.has_value());
  ASSERT_GT(p.written, 0);
  EXPECT_EQ(body_of(a, p.written), "from b");
  EXPECT_EQ(a.count_objects().public_objects, 2);
}

}  // namespace
}  // namespace twinhsm::store
