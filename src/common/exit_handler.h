// at_exit_or_unload registers fn to run at process exit, or when the module that calls it is
// unloaded (dlclose), whichever comes first: __cxa_atexit with this module's __dso_handle, which
// glibc's dlclose runs and removes. std::atexit would do the same when linked from glibc's
// libc_nonshared.a, but sanitizer runtimes intercept atexit and register the handler for the
// whole process (ThreadSanitizer passes no DSO handle): it then runs at exit in unmapped code.
// Header-only on purpose: __dso_handle must be the one of the module that registers.
#pragma once

extern "C" {
extern void* __dso_handle;  // NOLINT(bugprone-reserved-identifier): the C++ ABI's name
int __cxa_atexit(void (*fn)(void*), void* arg, void* dso);  // NOLINT(bugprone-reserved-identifier)
}

namespace twinhsm {

// Returns false when the handler could not be registered.
inline bool at_exit_or_unload(void (*fn)()) noexcept {
  return __cxa_atexit([](void* f) { reinterpret_cast<void (*)()>(f)(); },
                      reinterpret_cast<void*>(fn), &__dso_handle) == 0;
}

}  // namespace twinhsm
