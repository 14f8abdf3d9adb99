// Flat, open-addressed storage for the tag index (tag_index.h): among a million objects a find
// is then one probe into an array and one read of the entry it names, where node-based maps
// followed a bucket, a node and an entry, each a cache and often a TLB miss.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>

namespace twinhsm::token {

// Raw memory, 64-byte aligned (an entry of 64 bytes is one cache line). A large one (2 MiB and
// more) is mapped 2 MiB aligned and advised to be backed by transparent huge pages: one TLB entry
// for 2 MiB instead of 4 KiB. Where that advice is not taken it is ordinary memory.
class PageBuffer {
 public:
  PageBuffer() = default;
  explicit PageBuffer(size_t bytes);
  PageBuffer(PageBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        bytes_(std::exchange(o.bytes_, 0)),
        mapped_(std::exchange(o.mapped_, false)) {}
  PageBuffer& operator=(PageBuffer&& o) noexcept {
    PageBuffer(std::move(o)).swap(*this);
    return *this;
  }
  ~PageBuffer();
  void swap(PageBuffer& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(bytes_, o.bytes_);
    std::swap(mapped_, o.mapped_);
  }
  void* data() const { return data_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;     // as mapped (rounded up to 2 MiB) or as allocated
  bool mapped_ = false;  // mmap, else operator new
};

// A growable array of trivially copyable values in a PageBuffer: no allocation per element, and
// growth by doubling copies bytes.
template <class T>
class FlatVector {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  FlatVector() = default;
  FlatVector(FlatVector&& o) noexcept
      : buf_(std::move(o.buf_)), size_(std::exchange(o.size_, 0)), cap_(std::exchange(o.cap_, 0)) {}
  FlatVector& operator=(FlatVector&& o) noexcept {
    buf_ = std::move(o.buf_);
    size_ = std::exchange(o.size_, 0);
    cap_ = std::exchange(o.cap_, 0);
    return *this;
  }
  ~FlatVector() = default;

  size_t size() const { return size_; }
  T* data() const { return static_cast<T*>(buf_.data()); }
  T& operator[](size_t i) { return data()[i]; }
  const T& operator[](size_t i) const { return data()[i]; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }

  void push_back(const T& v) {
    if (size_ == cap_) {
      PageBuffer bigger((cap_ == 0 ? 16 : cap_ * 2) * sizeof(T));
      std::uninitialized_copy_n(data(), size_, static_cast<T*>(bigger.data()));
      buf_ = std::move(bigger);
      cap_ = cap_ == 0 ? 16 : cap_ * 2;
    }
    new (data() + size_++) T(v);
  }
  void pop_back() { --size_; }
  // assign makes the array n copies of v, in memory of exactly that size.
  void assign(size_t n, const T& v) {
    buf_ = PageBuffer(n * sizeof(T));
    std::uninitialized_fill_n(data(), n, v);
    size_ = cap_ = n;
  }

 private:
  PageBuffer buf_;
  size_t size_ = 0, cap_ = 0;
};

// An open-addressed hash table from 64-bit keys to 32-bit values: linear probing in a power-of-two
// array of 16-byte slots at most 70% full, the key inline in the slot (a probe that does not match
// reads nothing else), deletion by backward shift (no tombstones: a probe ends at the first empty
// slot however many erases came before it).
class FlatMap {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Slot {
    uint64_t key = 0;
    uint32_t value = kNone;  // kNone: the slot is empty
    uint32_t extra = 0;      // the caller's (FlatMultimap: how many values the key has)
  };
  const Slot* find(uint64_t key) const {
    size_t i = locate(key);
    return i == kMissing ? nullptr : &slots_[i];
  }
  Slot* find(uint64_t key) {
    size_t i = locate(key);
    return i == kMissing ? nullptr : &slots_[i];
  }
  // prefetch asks the CPU for key's home slot ahead of a find (a hint: nothing else changes).
  void prefetch(uint64_t key) const {
    if (size_ != 0) {
      __builtin_prefetch(&slots_[home(key)]);
    }
  }
  // insert returns key's slot; a new one has value kNone and extra 0, and the caller sets value
  // before the next call. The slot is valid until the next insert or erase.
  Slot& insert(uint64_t key);
  void erase(Slot* slot);
  void clear();
  size_t size() const { return size_; }

 private:
  static constexpr size_t kMissing = SIZE_MAX;
  // Row ids come in sequence: the multiplication (Fibonacci hashing) spreads them, and the tags'
  // keyed hashes stay as even as they were.
  size_t home(uint64_t key) const {
    return static_cast<size_t>(((key ^ (key >> 32)) * 0x9E3779B97F4A7C15ull) >> shift_);
  }
  size_t locate(uint64_t key) const;
  void rehash(size_t capacity);

  FlatVector<Slot> slots_;
  size_t size_ = 0;
  size_t mask_ = 0;  // slots_.size() - 1
  int shift_ = 63;   // 64 - log2(slots_.size())
};

// A multimap from 64-bit keys to indexes into the caller's array (entries that share a label or an
// id): a FlatMap from each key to its first value and their count, the others chained through
// links kept beside the caller's array by index. A key with one value costs one probe and no link;
// a key with many does not lengthen every other key's probe, as a cluster of equal keys in the
// table itself would; add, remove and move are constant time.
class FlatMultimap {
 public:
  void add(uint64_t key, uint32_t value);
  void remove(uint64_t key, uint32_t value);  // value is one of key's
  // move tells that value `from` of key is now `to` (the caller moved its entry there).
  void move(uint64_t key, uint32_t from, uint32_t to);
  void clear();
  void prefetch(uint64_t key) const { heads_.prefetch(key); }
  // first returns the value of key that for_each visits first, or FlatMap::kNone.
  uint32_t first(uint64_t key) const {
    const FlatMap::Slot* s = heads_.find(key);
    return s == nullptr ? FlatMap::kNone : s->value;
  }
  template <class F>
  void for_each(uint64_t key, F&& f) const {
    const FlatMap::Slot* s = heads_.find(key);
    if (s == nullptr) {
      return;
    }
    uint32_t v = s->value;
    for (uint32_t n = s->extra;; v = links_[v].next) {
      f(v);
      if (--n == 0) {
        return;
      }
    }
  }

 private:
  struct Link {
    uint32_t prev = FlatMap::kNone, next = FlatMap::kNone;
  };
  FlatMap heads_;
  FlatVector<Link> links_;  // by value
};

}  // namespace twinhsm::token
