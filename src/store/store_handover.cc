// Rows handed over between processes through the commit queue (store.h: hand_over_insert,
// take_handed_over; store/commit_queue.h for the protocol).
#include "crypto/digest.h"
#include "store/row_fields.h"
#include "store/store.h"

namespace twinhsm::store {

using detail::object_fields;
using State = CommitQueue::State;

namespace {
// How long a writer waits, before its commit, for rows other processes are encoding: about what
// encoding an object takes, far less than the commit and fsync each of them saves.
constexpr int kWaitForPostsUs = 100;
// How long a poster watches its slot before it sleeps on the writers' lock: a commit and its
// fsync, on a disk that flushes in a few hundred microseconds.
constexpr int kWatchUs = 1000;
}  // namespace

bool Store::queue_in_use() const {
  // An anchored store (a TPM device) commits with its fsync inside: nothing is handed over.
  return queue_ && !anchor_ && db_.durability() == Durability::after_commit;
}

std::optional<int64_t> Store::hand_over_insert(std::string_view generation,
                                               const std::function<ObjectRow(int64_t id)>& encode) {
  std::lock_guard lock(mutex_);
  WriteLock* writers = db_.write_lock();
  if (!queue_in_use() || tx_depth_ > 0) {
    return std::nullopt;
  }
  std::optional<int64_t> id = queue_->next_id();
  std::optional<size_t> slot = id ? queue_->claim() : std::nullopt;
  if (!slot) {
    return std::nullopt;
  }
  struct Release {
    CommitQueue& queue;
    size_t slot;
    ~Release() { queue.release(slot); }
  } release{*queue_, *slot};
  ObjectRow row = encode(*id);
  row.id = *id;
  row.mac = row_mac("objects", {object_fields(row).bytes()});
  uint64_t commits = queue_->commits();
  if (!queue_->post(*slot, row, generation)) {
    return std::nullopt;
  }
  // Most often the writer takes the row at once and settles it within a commit and an fsync.
  State state = queue_->watch(*slot, commits, kWatchUs);
  if (state == State::durable) {
    expect_posts_ = true;
    return id;
  }
  // Otherwise: the writer lets the lock go once its commit is made, with this row in it or not.
  // Without it, this connection keeps the lock for the caller's own transaction (begin()).
  writers->lock();
  state = queue_->state(*slot);
  if (state == State::posted) {
    queue_->withdraw(*slot);  // no writer took it: nobody else can now, the lock is held
  } else if (state == State::taken) {
    // Its writer died after taking it, perhaps after its COMMIT: is the row there?
    Statement st(db_, "SELECT mac FROM objects WHERE id = ?");
    st.bind(1, *id);
    if (st.step() && st.column_blob(0) == row.mac) {
      state = State::committed;
    }
  }
  if (state != State::committed && state != State::durable && state != State::failed) {
    return std::nullopt;  // rejected, withdrawn, or its writer died first: the caller writes it
  }
  writers->unlock();
  if (state == State::committed) {
    queue_->wait_for_writer(*slot);  // until its fsync is done, or it died
    state = queue_->state(*slot);
    if (state == State::committed) {
      db_.sync_wal();  // it died before making it durable
      state = State::durable;
    }
  }
  if (state == State::failed) {
    throw StoreError("cannot make a commit durable: the fsync of the WAL file failed");
  }
  expect_posts_ = true;
  return id;
}

void Store::take_handed_over(std::string_view generation) {
  std::lock_guard lock(mutex_);
  if (!queue_in_use() || tx_depth_ == 0 || tx_id_floor_ < 0) {
    return;
  }
  // A process whose row rode on a commit lately is likely to post again now.
  expect_posts_ = queue_->wait_for_posts(kWaitForPostsUs, expect_posts_);
  for (size_t slot = 0; slot < CommitQueue::kSlots; ++slot) {
    ObjectRow row;
    std::optional<std::string> posted_for = queue_->take(slot, row);
    if (!posted_for) {
      continue;
    }
    // Another token generation (a restore or init since the poster encoded it), an id that may
    // have been used (at or below the floor), or a row this store did not MAC: its poster
    // writes it itself, and learns why there.
    bool fine = *posted_for == generation && row.id > tx_id_floor_ &&
                row.id < CommitQueue::kIdLimit &&
                crypto::ct_equal(row_mac("objects", {object_fields(row).bytes()}), row.mac);
    if (fine) {
      try {
        insert_object_row(row);  // a constraint failure undoes this statement only
      } catch (const StoreError&) {
        fine = false;
      }
    }
    if (!fine) {
      queue_->settle(slot, State::rejected);
      queue_->let_go(slot);
      continue;
    }
    queue_->raise_next_id(row.id + 1);
    tx_taken_.push_back(slot);
  }
}

void Store::settle_taken(State state, bool let_go) {
  for (size_t slot : tx_taken_) {
    queue_->settle(slot, state);
    if (let_go) {
      queue_->let_go(slot);
    }
  }
  if (let_go) {
    tx_taken_.clear();
  }
}

}  // namespace twinhsm::store
