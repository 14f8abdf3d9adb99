// CommitQueue: one commit for the object inserts of several processes (issue 16). Each insert is
// a write transaction whose commit must be on disk before C_CreateObject returns; two processes
// creating objects each paid a transaction and an fsync per object, and got 1.1-1.4x of one.
// Instead, a process that finds the writers' lock taken hands its row over: it takes an id from
// a shared counter, encodes the row with it (outside any lock), and posts the row in a slot of
// the queue; the writer that holds the lock inserts the posted rows into its own transaction just
// before COMMIT, and its one fsync makes them all durable. The poster waits for the writers' lock
// as before; when it gets it, its row is either committed (it waits for the writer's fsync) or
// still posted (it takes the row back and writes it itself).
//
// The queue lives in the writers' lock file (store.db.write-lock), mapped shared by every
// connection: a header (the id counter) and kSlots slots. Who may touch a slot is said by
// open-file-description locks on bytes of that file, which the kernel lets go when a process
// dies: the poster holds the slot's owner byte from claim to release; the writer holds the slot's
// leader byte from taking the row until the commit is durable (or failed), so a poster waits for
// that byte to learn the outcome, and a writer that died mid-way is seen as the byte let go.
//
// The queue carries no secret: a posted row is the row as it will be stored (private values
// sealed under SK, the row's MAC), and the writer checks that MAC, the token generation the
// poster encoded for, and that the id was never used, before it inserts anything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace twinhsm::store {

struct ObjectRow;

class CommitQueue {
 public:
  // Where a posted row is, as the writer and the poster see it.
  enum class State : uint32_t {
    empty = 0,      // claimed, being written (or nothing posted)
    posted = 1,     // waiting for a writer
    taken = 2,      // in a writer's open transaction
    committed = 3,  // in the store, the writer's fsync not yet done
    durable = 4,    // on disk
    rejected = 5,   // the writer did not insert it: the poster writes it itself
    failed = 6,     // committed, but the writer's fsync failed (an I/O error)
    coming = 7,     // claimed: the row is being encoded, posted in microseconds
  };

  static constexpr size_t kSlots = 8;
  static constexpr size_t kSlotBytes = 16384;  // a larger row is written by its own process
  // No id at or above this is handed out (object handles keep bits 40 and up for themselves):
  // a counter the file's bytes put there is not used.
  static constexpr int64_t kIdLimit = int64_t{1} << 39;

  // Maps the queue in the open writers' lock file fd (growing the file to its size). An
  // unusable file (cannot grow or map it) leaves the queue off: valid() false.
  explicit CommitQueue(int fd);
  ~CommitQueue();
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;
  bool valid() const { return base_ != nullptr; }

  // The shared id counter. next_id hands out ids no caller got before, or nullopt while no
  // writer has set the counter up; raise_next_id (a writer, inside its write transaction) makes
  // the next one handed out at least at_least.
  std::optional<int64_t> next_id();
  void raise_next_id(int64_t at_least);

  // The poster's side. claim returns a slot this connection owns, or nullopt (all in use). post
  // writes the row and the generation it was encoded for (false: too large for a slot).
  // state reads the slot's state; wait_for_writer blocks until no writer holds the slot's
  // leader byte; release gives the slot up.
  std::optional<size_t> claim();
  bool post(size_t slot, const ObjectRow& row, std::string_view generation);
  State state(size_t slot) const;
  bool withdraw(size_t slot);  // posted -> empty: no writer took it
  // watch returns the slot's state once a writer has settled it (durable, failed or rejected),
  // once a writer has committed without taking the row (still posted: commits() moved past
  // commits_at_post), or after max_us: waking from a lock costs a sleeping process tens of
  // microseconds, a commit with its fsync takes a few hundred.
  State watch(size_t slot, uint64_t commits_at_post, int max_us) const;
  // The writers' commits, counted (note_commit, by each writer before it lets the lock go).
  uint64_t commits() const;
  void note_commit();
  void wait_for_writer(size_t slot);
  void release(size_t slot);

  // The writer's side, with the writers' lock held. take locks the slot's leader byte and takes
  // a posted row into row, returning the generation it was encoded for (nullopt: nothing posted
  // there, or a row that does not parse, which is then rejected); settle sets the outcome,
  // let_go gives up the leader byte.
  std::optional<std::string> take(size_t slot, ObjectRow& row);
  // wait_for_posts gives the rows being encoded up to max_us to be posted, and with expect
  // waits that long for a first row to come; a slot whose owner died while encoding is emptied.
  // Returns whether a row is posted.
  bool wait_for_posts(int max_us, bool expect);
  void settle(size_t slot, State s);
  void let_go(size_t slot);

 private:
  bool lock_byte(off_t at, short type, bool wait);
  void unlock_byte(off_t at);
  bool byte_free(off_t at) const;  // no other connection holds a lock on it
  unsigned char* slot_at(size_t slot) const;

  int fd_;
  unsigned char* base_ = nullptr;
  size_t size_ = 0;
  bool owned_[kSlots] = {};  // slots this connection claimed
};

}  // namespace twinhsm::store
