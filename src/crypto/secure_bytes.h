// SecureBytes holds secret bytes (keys, PINs, plaintext of private objects). Its allocator wipes
// memory with OPENSSL_cleanse before freeing and locks it into RAM (mlock, best effort), so a
// secret never lingers in freed heap or in swap. The type has no stream operator: nothing can
// print one by accident. Compare secrets with ct_equal, never with ==.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace twinhsm::crypto {

// Wipes n bytes at p in a way the compiler cannot elide (OPENSSL_cleanse).
void cleanse(void* p, size_t n) noexcept;
// Locks [p, p+n) into RAM and excludes it from core dumps; best effort, failures are ignored.
void lock_memory(void* p, size_t n) noexcept;
void unlock_memory(void* p, size_t n) noexcept;

template <class T>
struct ZeroizingAllocator {
  using value_type = T;
  ZeroizingAllocator() noexcept = default;
  template <class U>
  ZeroizingAllocator(const ZeroizingAllocator<U>&) noexcept {}
  T* allocate(size_t n) {
    T* p = std::allocator<T>{}.allocate(n);
    lock_memory(p, n * sizeof(T));
    return p;
  }
  void deallocate(T* p, size_t n) noexcept {
    cleanse(p, n * sizeof(T));
    unlock_memory(p, n * sizeof(T));
    std::allocator<T>{}.deallocate(p, n);
  }
  template <class U>
  bool operator==(const ZeroizingAllocator<U>&) const noexcept {
    return true;
  }
};

using SecureBytes = std::vector<uint8_t, ZeroizingAllocator<uint8_t>>;

inline SecureBytes secure_copy(std::span<const uint8_t> data) {
  return SecureBytes(data.begin(), data.end());
}
inline SecureBytes secure_copy(std::string_view text) {
  return SecureBytes(text.begin(), text.end());
}

// Constant-time equality: the time taken depends only on the lengths, never on the contents.
bool ct_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) noexcept;

}  // namespace twinhsm::crypto
