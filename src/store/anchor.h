// The rollback anchor: what binds a store to a counter outside it (a TPM's NV counter), so that an
// older copy of the store, a deleted row or an old row put back is refused rather than trusted.
// Per-row MACs cannot see those: every such row is one twinhsm wrote.
//
// The store's device_state row "anchor" holds, under its row MAC:
//
//   counter  the counter's value once this state is committed
//   state    SHA-256 over the MACs of every settings, roles and device_state row (those tables are
//            small: checked in full at the start of every write transaction)
//   objects  MultisetHash (crypto/multiset_hash.h) of the MACs of every object row, updated in the
//            transaction that changes a row and checked in full when a device opens; stored
//            AES-256-GCM-encrypted under a key derived from the row key
//
// A write transaction checks, under the store's write lock, that the stored counter equals the
// counter (or is one ahead: a process stopped between its commit and its increment, which is then
// made up), writes the anchor of its new state with counter + 1, commits, then increments the
// counter. A copy of the store taken earlier holds a smaller counter: refused. Without a
// RollbackCounter (a file device) the store has no anchor and none of this runs.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "crypto/multiset_hash.h"
#include "crypto/secure_bytes.h"

namespace twinhsm::store {

class Store;

// RollbackCounter is a monotonic counter kept where a copy of the store's files does not reach.
// Implementations throw Error when it cannot be reached.
class RollbackCounter {
 public:
  virtual ~RollbackCounter() = default;
  virtual uint64_t read() = 0;
  // increment_from adds one if the counter still reads current, and returns its value.
  virtual uint64_t increment_from(uint64_t current) = 0;
};

// How a write transaction treats the anchor: check it first (every operation), or rebuild it
// from what the transaction leaves (personalization, and a restore, which replaces everything).
enum class Anchoring { check, rebuild };

// Anchor does the anchoring for one Store; the store calls it from its write transactions.
class Anchor {
 public:
  Anchor(Store& store, const crypto::SecureBytes& row_key,
         std::unique_ptr<RollbackCounter> counter);
  ~Anchor();

  // begin runs after BEGIN IMMEDIATE of an outermost write transaction. Throws IntegrityError
  // when the store does not match its anchor (in check mode).
  void begin(Anchoring mode);
  // seal runs just before COMMIT: writes the anchor of the state the transaction leaves.
  void seal();
  // catch_up runs after COMMIT, in a transaction of its own: brings the counter to the anchor's.
  // Never throws: a counter left one behind is made up by the next write.
  void catch_up() noexcept;
  // verify checks the whole store against its anchor (a read transaction). Throws IntegrityError.
  void verify();

 private:
  struct Stored {
    uint64_t counter = 0;
    Bytes state;
    crypto::SecureBytes objects;
  };
  std::optional<Stored> read_anchor();
  void write_anchor(uint64_t counter, const Bytes& state, const crypto::SecureBytes& objects);
  Bytes state_digest();
  crypto::MultisetHash objects_hash(const crypto::SecureBytes& value) const;
  crypto::MultisetHash scan_objects() const;
  void check_counter(uint64_t stored, uint64_t counter) const;

  Store& store_;
  std::unique_ptr<RollbackCounter> counter_;
  crypto::SecureBytes set_key_;   // keys the multiset hash of the object rows
  crypto::SecureBytes seal_key_;  // encrypts it in the anchor row
  // Of the transaction in progress.
  Anchoring mode_ = Anchoring::check;
  uint64_t counter_base_ = 0;
  std::optional<crypto::MultisetHash> objects_;
};

}  // namespace twinhsm::store
