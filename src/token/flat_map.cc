// Flat storage for the tag index (flat_map.h).
#include "token/flat_map.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <new>

namespace twinhsm::token {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
constexpr std::align_val_t kLineAlign{64};
}  // namespace

PageBuffer::PageBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes >= kHugePage) {
    // Map a huge page more than needed and keep the 2 MiB aligned part: the kernel backs only
    // aligned 2 MiB ranges with a huge page.
    size_t len = (bytes + kHugePage - 1) & ~(kHugePage - 1);
    void* p =
        mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
      char* base = static_cast<char*>(p);
      size_t head = (kHugePage - reinterpret_cast<uintptr_t>(p) % kHugePage) % kHugePage;
      if (head != 0) {
        munmap(base, head);
      }
      munmap(base + head + len, kHugePage - head);  // the rest, never empty
      data_ = base + head;
      bytes_ = len;
      mapped_ = true;
      madvise(data_, len, MADV_HUGEPAGE);  // only advice: without it, 4 KiB pages
      return;
    }
  }
  data_ = ::operator new(bytes, kLineAlign);  // small, or the mapping failed
}

PageBuffer::~PageBuffer() {
  if (mapped_) {
    munmap(data_, bytes_);
  } else if (data_ != nullptr) {
    ::operator delete(data_, kLineAlign);
  }
}

size_t FlatMap::locate(uint64_t key) const {
  if (size_ == 0) {
    return kMissing;
  }
  for (size_t i = home(key);; i = (i + 1) & mask_) {  // ends: the table is at most 70% full
    const Slot& s = slots_[i];
    if (s.value == kNone) {
      return kMissing;
    }
    if (s.key == key) {
      return i;
    }
  }
}

FlatMap::Slot& FlatMap::insert(uint64_t key) {
  if ((size_ + 1) * 10 > slots_.size() * 7) {
    rehash(std::max<size_t>(16, slots_.size() * 2));
  }
  size_t i = home(key);
  for (; slots_[i].value != kNone; i = (i + 1) & mask_) {
    if (slots_[i].key == key) {
      return slots_[i];
    }
  }
  ++size_;
  slots_[i].key = key;
  slots_[i].extra = 0;
  return slots_[i];
}

void FlatMap::erase(Slot* slot) {
  size_t hole = slot - slots_.data();
  --size_;
  // Later slots of the run move back into the hole, unless their home lies after it (cyclically
  // in (hole, j]): a probe for them starts past the hole and would not find them before it.
  for (size_t j = (hole + 1) & mask_; slots_[j].value != kNone; j = (j + 1) & mask_) {
    if (((j - home(slots_[j].key)) & mask_) >= ((j - hole) & mask_)) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{};
}

void FlatMap::clear() {
  slots_ = FlatVector<Slot>();
  size_ = 0;
  mask_ = 0;
  shift_ = 63;
}

void FlatMap::rehash(size_t capacity) {
  FlatVector<Slot> old = std::move(slots_);
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  shift_ = 64 - std::countr_zero(capacity);
  for (const Slot& s : old) {
    if (s.value != kNone) {
      size_t i = home(s.key);
      while (slots_[i].value != kNone) {
        i = (i + 1) & mask_;
      }
      slots_[i] = s;
    }
  }
}

void FlatMultimap::add(uint64_t key, uint32_t value) {
  while (links_.size() <= value) {
    links_.push_back(Link{});
  }
  FlatMap::Slot& s = heads_.insert(key);  // s.value: the first value so far, or kNone
  links_[value] = Link{FlatMap::kNone, s.value};
  if (s.value != FlatMap::kNone) {
    links_[s.value].prev = value;
  }
  s.value = value;
  ++s.extra;
}

void FlatMultimap::remove(uint64_t key, uint32_t value) {
  FlatMap::Slot* s = heads_.find(key);
  Link l = links_[value];
  if (l.next != FlatMap::kNone) {
    links_[l.next].prev = l.prev;
  }
  if (l.prev != FlatMap::kNone) {
    links_[l.prev].next = l.next;
  } else {
    s->value = l.next;
  }
  if (--s->extra == 0) {
    heads_.erase(s);
  }
}

void FlatMultimap::move(uint64_t key, uint32_t from, uint32_t to) {
  Link l = links_[from];
  links_[to] = l;
  if (l.next != FlatMap::kNone) {
    links_[l.next].prev = to;
  }
  if (l.prev != FlatMap::kNone) {
    links_[l.prev].next = to;
  } else {
    heads_.find(key)->value = to;
  }
}

void FlatMultimap::clear() {
  heads_.clear();
  links_ = FlatVector<Link>();
}

}  // namespace twinhsm::token
