// Wiping, locking and constant-time comparison for secret bytes.
#include "crypto/secure_bytes.h"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>

namespace twinhsm::crypto {

void cleanse(void* p, size_t n) noexcept {
  if (p != nullptr && n != 0) {
    OPENSSL_cleanse(p, n);
  }
}

namespace {

// recently_locked reports whether every page of [start, end) was locked by this thread lately,
// and else remembers them: the heap hands the same few pages out again and again, and each
// mlock/madvise is two system calls that take the process's memory-map lock, on which parallel
// operations would queue. (A page the allocator gave back to the system and got again at the same
// address would lose its lock unnoticed; locking is best effort.)
bool recently_locked(uintptr_t start, uintptr_t end, uintptr_t page) noexcept {
  constexpr size_t kRemembered = 32;
  thread_local std::array<uintptr_t, kRemembered> pages{};
  thread_local size_t next = 0;
  bool all = true;
  for (uintptr_t p = start; p < end && all; p += page) {
    all = std::find(pages.begin(), pages.end(), p) != pages.end();
  }
  if (!all && (end - start) / page <= kRemembered / 4) {
    for (uintptr_t p = start; p < end; p += page) {
      pages[next] = p;
      next = (next + 1) % kRemembered;
    }
  }
  return all;
}

}  // namespace

// lock_memory locks and marks as not-for-core-dumps every page that [p, p+n) touches. Both calls
// work on whole pages and neither counts: one munlock or MADV_DODUMP undoes every lock of a page.
// Two allocations often share a page, so undoing the flags when one of them is freed could expose
// the other, still live, secret. The pages therefore stay locked and out of core dumps after the
// bytes are wiped and freed (see unlock_memory): the heap reuses them, so the set of locked pages
// stays small, and once RLIMIT_MEMLOCK is reached further locks fail silently (best effort, as
// the header says). Large blocks, which the allocator maps on their own, lose the flags when they
// are unmapped.
//
// Only blocks up to kMaxLocked are locked: keys, PINs and objects' attributes are far smaller.
// Larger ones are bulk data (a megabyte of plaintext through a cipher): locking them would fault
// in and pin every page on each call, the main cost of a bulk operation, for data the
// application holds in its own unlocked memory anyway. They are still wiped when freed.
void lock_memory(void* p, size_t n) noexcept {
  constexpr size_t kMaxLocked = size_t{64} * 1024;
  if (p == nullptr || n == 0 || n > kMaxLocked) {
    return;
  }
  long page_size = sysconf(_SC_PAGESIZE);
  if (page_size <= 0) {
    return;
  }
  auto page = static_cast<uintptr_t>(page_size);
  uintptr_t start = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  uintptr_t end = reinterpret_cast<uintptr_t>(p) + n;
  end = (end + page - 1) & ~(page - 1);
  if (recently_locked(start, end, page)) {
    return;
  }
  // The page start as a pointer derived from p (no integer-to-pointer cast).
  void* base = static_cast<char*>(p) - (reinterpret_cast<uintptr_t>(p) - start);
  size_t len = end - start;
  // Best effort: a failure (RLIMIT_MEMLOCK, no privilege) leaves the memory usable, just swappable.
  (void)mlock(base, len);
#ifdef MADV_DONTDUMP
  (void)madvise(base, len, MADV_DONTDUMP);
#endif
}

// unlock_memory is deliberately a no-op: see lock_memory for why the page flags are never undone.
void unlock_memory(void* p, size_t n) noexcept {
  (void)p;
  (void)n;
}

bool ct_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  if (a.empty()) {
    return true;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace twinhsm::crypto
