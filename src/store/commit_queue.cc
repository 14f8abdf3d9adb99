// The shared queue of rows handed to the writer (commit_queue.h).
#include "store/commit_queue.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "store/store.h"

namespace twinhsm::store {

namespace {

// The file: a header page, then the slots. The writers' lock is byte 0 (write_lock.cc); a
// slot's owner and leader bytes are locked, not read (their offsets are in the header page).
constexpr size_t kHeaderBytes = 4096;
constexpr size_t kMagicAt = 0, kNextIdAt = 8, kCommitsAt = 16;
constexpr uint64_t kMagic = 0x3171636d73687774;  // "twhsmcq1", little-endian
off_t owner_byte(size_t slot) {
  return static_cast<off_t>(64 + 2 * slot);
}
off_t leader_byte(size_t slot) {
  return static_cast<off_t>(65 + 2 * slot);
}

// A slot: state, generation length, id, is_private, which tags are present, the six field
// lengths (class, id and label tags, body, secret, MAC), then the generation and the fields.
constexpr size_t kStateAt = 0, kGenLenAt = 4, kIdAt = 8, kPrivateAt = 16, kTagsAt = 20;
constexpr size_t kLensAt = 24, kDataAt = 48;
constexpr size_t kFields = 6;
constexpr size_t kMaxGeneration = 256;

template <class T>
std::atomic_ref<T> shared(unsigned char* at) {
  return std::atomic_ref<T>(*reinterpret_cast<T*>(at));
}

uint32_t load32(const unsigned char* at) {
  uint32_t v;
  std::memcpy(&v, at, sizeof v);
  return v;
}
void store32(unsigned char* at, uint32_t v) {
  std::memcpy(at, &v, sizeof v);
}

}  // namespace

CommitQueue::CommitQueue(int fd) : fd_(fd) {
  size_t size = kHeaderBytes + kSlots * kSlotBytes;
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) {
    return;
  }
  // Grown, never shrunk: every connection maps the same size (a shorter file would fault).
  if (static_cast<size_t>(st.st_size) < size && ::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    return;
  }
  void* at = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (at == MAP_FAILED) {
    return;
  }
  base_ = static_cast<unsigned char*>(at);
  size_ = size;
}

CommitQueue::~CommitQueue() {
  for (size_t i = 0; i < kSlots; ++i) {
    if (owned_[i]) {
      release(i);
    }
  }
  if (base_) {
    ::munmap(base_, size_);
  }
}

bool CommitQueue::lock_byte(off_t at, short type, bool wait) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = at;
  fl.l_len = 1;
  int rc;
  while ((rc = ::fcntl(fd_, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl)) != 0 && errno == EINTR) {
  }
  return rc == 0;
}

void CommitQueue::unlock_byte(off_t at) {
  lock_byte(at, F_UNLCK, false);
}

bool CommitQueue::byte_free(off_t at) const {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = at;
  fl.l_len = 1;
  return ::fcntl(fd_, F_OFD_GETLK, &fl) == 0 && fl.l_type == F_UNLCK;
}

unsigned char* CommitQueue::slot_at(size_t slot) const {
  return base_ + kHeaderBytes + slot * kSlotBytes;
}

std::optional<int64_t> CommitQueue::next_id() {
  if (shared<uint64_t>(base_ + kMagicAt).load(std::memory_order_acquire) != kMagic) {
    return std::nullopt;
  }
  int64_t id = shared<int64_t>(base_ + kNextIdAt).fetch_add(1, std::memory_order_acq_rel);
  if (id <= 0 || id >= kIdLimit) {
    return std::nullopt;
  }
  return id;
}

void CommitQueue::raise_next_id(int64_t at_least) {
  auto next = shared<int64_t>(base_ + kNextIdAt);
  auto magic = shared<uint64_t>(base_ + kMagicAt);
  if (magic.load(std::memory_order_acquire) != kMagic) {
    next.store(at_least, std::memory_order_release);
    magic.store(kMagic, std::memory_order_release);
    return;
  }
  int64_t now = next.load(std::memory_order_acquire);
  while (now < at_least && !next.compare_exchange_weak(now, at_least, std::memory_order_acq_rel)) {
  }
}

std::optional<size_t> CommitQueue::claim() {
  for (size_t i = 0; i < kSlots; ++i) {
    if (owned_[i] || !lock_byte(owner_byte(i), F_WRLCK, false)) {
      continue;
    }
    // Ours now, whatever its last owner left. Emptied first, so that a writer that has not
    // taken it yet finds nothing; a writer still on it (its leader byte held: the last owner
    // died waiting for it) keeps it until it is done.
    settle(i, State::empty);
    if (!byte_free(leader_byte(i))) {
      unlock_byte(owner_byte(i));
      continue;
    }
    owned_[i] = true;
    settle(i, State::coming);
    return i;
  }
  return std::nullopt;
}

bool CommitQueue::post(size_t slot, const ObjectRow& row, std::string_view generation) {
  const std::optional<Bytes>* tags[] = {&row.class_tag, &row.id_tag, &row.label_tag};
  std::array<ByteView, kFields> fields;
  uint32_t present = 0;
  for (size_t t = 0; t < 3; ++t) {
    if (*tags[t]) {
      present |= 1u << t;
      fields[t] = ByteView(**tags[t]);
    }
  }
  fields[3] = ByteView(row.body);
  fields[4] = ByteView(row.secret);
  fields[5] = ByteView(row.mac);
  size_t total = kDataAt + generation.size();
  for (ByteView f : fields) {
    total += f.size();
  }
  if (generation.size() > kMaxGeneration || total > kSlotBytes) {
    return false;
  }
  unsigned char* s = slot_at(slot);
  store32(s + kGenLenAt, static_cast<uint32_t>(generation.size()));
  std::memcpy(s + kIdAt, &row.id, sizeof row.id);
  store32(s + kPrivateAt, row.is_private ? 1 : 0);
  store32(s + kTagsAt, present);
  unsigned char* out = s + kDataAt;
  std::memcpy(out, generation.data(), generation.size());
  out += generation.size();
  for (size_t f = 0; f < kFields; ++f) {
    store32(s + kLensAt + 4 * f, static_cast<uint32_t>(fields[f].size()));
    if (!fields[f].empty()) {
      std::memcpy(out, fields[f].data(), fields[f].size());
    }
    out += fields[f].size();
  }
  shared<uint32_t>(s + kStateAt)
      .store(static_cast<uint32_t>(State::posted), std::memory_order_release);
  return true;
}

CommitQueue::State CommitQueue::state(size_t slot) const {
  return static_cast<State>(
      shared<uint32_t>(slot_at(slot) + kStateAt).load(std::memory_order_acquire));
}

bool CommitQueue::withdraw(size_t slot) {
  uint32_t expected = static_cast<uint32_t>(State::posted);
  return shared<uint32_t>(slot_at(slot) + kStateAt)
      .compare_exchange_strong(expected, static_cast<uint32_t>(State::empty),
                               std::memory_order_acq_rel);
}

CommitQueue::State CommitQueue::watch(size_t slot, uint64_t commits_at_post, int max_us) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(max_us);
  for (;;) {
    State s = state(slot);
    if (s == State::durable || s == State::failed || s == State::rejected ||
        (s == State::posted && commits() != commits_at_post) ||
        std::chrono::steady_clock::now() >= deadline) {
      return s;
    }
    std::this_thread::yield();
  }
}

uint64_t CommitQueue::commits() const {
  return shared<uint64_t>(base_ + kCommitsAt).load(std::memory_order_acquire);
}

void CommitQueue::note_commit() {
  shared<uint64_t>(base_ + kCommitsAt).fetch_add(1, std::memory_order_acq_rel);
}

void CommitQueue::wait_for_writer(size_t slot) {
  if (lock_byte(leader_byte(slot), F_RDLCK, true)) {
    unlock_byte(leader_byte(slot));
  }
}

void CommitQueue::release(size_t slot) {
  settle(slot, State::empty);
  unlock_byte(owner_byte(slot));
  owned_[slot] = false;
}

std::optional<std::string> CommitQueue::take(size_t slot, ObjectRow& row) {
  unsigned char* s = slot_at(slot);
  auto state = shared<uint32_t>(s + kStateAt);
  if (owned_[slot] || state.load(std::memory_order_acquire) != uint32_t(State::posted) ||
      !lock_byte(leader_byte(slot), F_WRLCK, false)) {
    return std::nullopt;
  }
  uint32_t expected = static_cast<uint32_t>(State::posted);
  if (!state.compare_exchange_strong(expected, static_cast<uint32_t>(State::taken),
                                     std::memory_order_acq_rel)) {
    unlock_byte(leader_byte(slot));
    return std::nullopt;
  }
  // The slot's bytes are another process's: every length is checked before it is used.
  // (Each length at most a slot's, so that their sum cannot wrap.)
  size_t gen_len = load32(s + kGenLenAt);
  std::array<size_t, kFields> lens;
  size_t total = kDataAt + gen_len;
  bool fits = gen_len <= kMaxGeneration;
  for (size_t f = 0; f < kFields; ++f) {
    lens[f] = load32(s + kLensAt + 4 * f);
    fits = fits && lens[f] <= kSlotBytes;
    total += lens[f];
  }
  uint32_t present = load32(s + kTagsAt);
  if (!fits || total > kSlotBytes) {
    settle(slot, State::rejected);
    let_go(slot);
    return std::nullopt;
  }
  const unsigned char* in = s + kDataAt;
  std::string generation(reinterpret_cast<const char*>(in), gen_len);
  in += gen_len;
  std::memcpy(&row.id, s + kIdAt, sizeof row.id);
  row.is_private = load32(s + kPrivateAt) != 0;
  std::optional<Bytes>* tags[] = {&row.class_tag, &row.id_tag, &row.label_tag};
  Bytes* blobs[] = {&row.body, &row.secret, &row.mac};
  for (size_t f = 0; f < kFields; ++f) {
    Bytes value(in, in + lens[f]);
    in += lens[f];
    if (f < 3) {
      *tags[f] = (present & (1u << f)) ? std::optional<Bytes>(std::move(value)) : std::nullopt;
    } else {
      *blobs[f - 3] = std::move(value);
    }
  }
  return generation;
}

bool CommitQueue::wait_for_posts(int max_us, bool expect) {
  auto coming = [&](size_t i) { return !owned_[i] && state(i) == State::coming; };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(max_us);
  bool posted = false;
  for (;;) {
    bool any_coming = false;
    posted = false;
    for (size_t i = 0; i < kSlots; ++i) {
      any_coming = any_coming || coming(i);
      posted = posted || (!owned_[i] && state(i) == State::posted);
    }
    if (!any_coming && (posted || !expect)) {
      return posted;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    std::this_thread::yield();
  }
  for (size_t i = 0; i < kSlots; ++i) {
    if (coming(i) && byte_free(owner_byte(i))) {
      uint32_t expected = static_cast<uint32_t>(State::coming);
      shared<uint32_t>(slot_at(i) + kStateAt)
          .compare_exchange_strong(expected, static_cast<uint32_t>(State::empty));
    }
  }
  return posted;
}

void CommitQueue::settle(size_t slot, State s) {
  shared<uint32_t>(slot_at(slot) + kStateAt)
      .store(static_cast<uint32_t>(s), std::memory_order_release);
}

void CommitQueue::let_go(size_t slot) {
  unlock_byte(leader_byte(slot));
}

}  // namespace twinhsm::store
