// NoDestructor<T> holds a T in static storage and never destroys it. A function-local
//   static NoDestructor<Library> instance;
// is made on first use (thread-safely, as any local static) and registers no destructor, so the
// object is still valid while an application's exit handlers, or another library's clean-up, call
// into the module after this module's static destructors would have run. The T must leave
// nothing behind that needs freeing once its owner has emptied it (its own teardown), or memory
// checkers report a leak when the module is unloaded.
#pragma once

#include <new>
#include <type_traits>
#include <utility>

namespace twinhsm {

template <class T>
class NoDestructor {
 public:
  template <class... Args>
  explicit NoDestructor(Args&&... args) {
    new (storage_) T(std::forward<Args>(args)...);
  }
  NoDestructor(const NoDestructor&) = delete;
  NoDestructor& operator=(const NoDestructor&) = delete;

  T& operator*() { return *get(); }
  T* operator->() { return get(); }
  T* get() { return std::launder(reinterpret_cast<T*>(storage_)); }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
};

}  // namespace twinhsm
