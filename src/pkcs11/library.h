// The module's state between C_Initialize and C_Finalize: the slots (one per configured device)
// and the open sessions. Entry points reach it through the helpers below, which check that the
// library is initialized and that handles are valid, and throw CkError otherwise.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/no_destructor.h"
#include "device/device.h"
#include "pkcs11/session.h"
#include "token/key_management.h"

namespace twinhsm::pkcs11 {

// Slot is one configured device. The device is opened on first use and again after a failure,
// so a device personalized while an application runs appears without a restart.
class Slot {
 public:
  Slot(CK_SLOT_ID id, std::filesystem::path dir) : id_(id), dir_(std::move(dir)) {}
  CK_SLOT_ID id() const { return id_; }
  const std::filesystem::path& dir() const { return dir_; }
  // device returns the open device, or nullptr when the directory holds none (token not present).
  device::Device* device();
  // token returns the token or throws CkError(CKR_TOKEN_NOT_PRESENT).
  token::Token& token();
  // opened is the device if it is open already (nullptr otherwise; never opens it).
  device::Device* opened() const { return open_.load(std::memory_order_acquire); }

 private:
  CK_SLOT_ID id_;
  std::filesystem::path dir_;
  std::mutex mutex_;
  std::unique_ptr<device::Device> device_;
  std::atomic<device::Device*> open_{nullptr};  // device_ once open: read without the lock
};

// SessionRef is a session found by handle and locked for the caller's whole call: no other
// thread runs an operation on it meanwhile (PKCS#11 leaves concurrent calls on one session to the
// application; serializing them is the safe reading).
struct SessionRef {
  Session* session;
  std::unique_lock<std::mutex> lock;
  Session& operator*() const { return *session; }
  Session* operator->() const { return session; }
  Slot& slot() const { return *session->slot_object; }
  token::Token& token() const { return session->slot_object->token(); }
  token::Caller caller() const { return {session->handle, session->read_write()}; }
};

// Library is the module's one instance (library()), never destroyed: see teardown.
class Library {
 public:
  // initialize loads the configuration and makes the slots. The first call also registers the
  // exit handler that calls teardown. Throws CKR_CRYPTOKI_NOT_INITIALIZED once torn down.
  void initialize();
  void finalize();
  bool initialized() const;
  // teardown ends the library for good, at process exit or when the module is unloaded (an
  // atexit handler of this module, registered after OpenSSL's and the crypto layer's, so it runs
  // before them): as C_Finalize, it closes every session and device, then refuses every later
  // call with CKR_CRYPTOKI_NOT_INITIALIZED. State that is not safe to free is abandoned instead:
  // a forked child's copy of the parent's (SQLite forbids closing it there), and anything once
  // OpenSSL has been cleaned up (crypto_available() is false).
  void teardown() noexcept;

  // The slots, in id order. Throws CKR_CRYPTOKI_NOT_INITIALIZED before initialize.
  std::vector<Slot*> slots();
  // slot throws CKR_SLOT_ID_INVALID for an unknown id.
  Slot& slot(CK_SLOT_ID id);

  // session throws CKR_SESSION_HANDLE_INVALID for an unknown handle. The calling thread's last
  // few sessions are found again without the library's lock (see library.cc). A call is refused
  // once OpenSSL is gone (crypto_available false: CKR_CRYPTOKI_NOT_INITIALIZED) before it could
  // use it; with OpenSslCheck::by_caller the caller makes that check itself (require_openssl)
  // before its first OpenSSL call, and may skip it on a path that makes none.
  enum class OpenSslCheck { now, by_caller };
  SessionRef session(CK_SESSION_HANDLE handle, OpenSslCheck check = OpenSslCheck::now);
  CK_SESSION_HANDLE open_session(Slot& slot, CK_FLAGS flags);
  // close_session closes it and destroys its session objects; the last session of a slot to
  // close logs the token out, as PKCS#11 says.
  void close_session(CK_SESSION_HANDLE handle);
  void close_all_sessions(Slot& slot);
  // end_private_operations calls Session::end_private_operations on every session of the slot,
  // locking each in turn. The caller holds no session lock.
  void end_private_operations(const Slot& slot);
  // Counts of the slot's sessions (all, read-write).
  std::pair<size_t, size_t> session_counts(const Slot& slot);
  bool has_read_only_session(const Slot& slot);

 private:
  void require_initialized() const;
  // abandon_locked moves the slots and sessions out of use without closing or freeing them; they
  // stay reachable from abandoned_, never to be destroyed.
  void abandon_locked();
  // close_locked takes the session out of the open ones; the caller then ends it with end_closed.
  std::shared_ptr<Session> close_locked(
      std::map<CK_SESSION_HANDLE, std::shared_ptr<Session>>::iterator it);
  // end_closed resets a session close_locked returned, under its own lock (a call running on it
  // finishes first, and none starts after), then destroys its session objects (those such a call
  // made too), logs the token out if no session of its slot is left (after any login such a call
  // did), and returns it to the pool. The caller holds no lock.
  void end_closed(std::shared_ptr<Session> s, uint64_t epoch);
  void free_sessions_locked();

  // Shared for session lookups (every call), exclusive for changes: parallel signing in many
  // sessions does not queue on it.
  mutable std::shared_mutex mutex_;
  bool initialized_ = false;
  // The process that initialized: a forked child starts afresh. Atomic: teardown reads it
  // without the lock, which a thread of the parent may have held when the child was forked.
  std::atomic<pid_t> pid_{0};
  std::atomic<bool> torn_down_{false};
  bool exit_handler_registered_ = false;
  std::vector<std::unique_ptr<Slot>> slots_;
  // Every Session made since C_Initialize (open or in the pool), the open ones by handle, and
  // the closed ones waiting to be reused. Handles are never reused while the library lives.
  // Shared: a close or a wipe that runs on after the lock keeps its session alive.
  std::vector<std::shared_ptr<Session>> all_sessions_;
  std::map<CK_SESSION_HANDLE, std::shared_ptr<Session>> sessions_;
  std::vector<std::shared_ptr<Session>> pool_;
  CK_SESSION_HANDLE next_session_ = 1;
  // Moves whenever every Session may be freed (initialize, finalize, teardown): a thread's cached
  // session of an older epoch is not used.
  std::atomic<uint64_t> epoch_{1};
  struct Abandoned {
    std::vector<std::unique_ptr<Slot>> slots;
    std::vector<std::vector<std::shared_ptr<Session>>> sessions;
  };
  Abandoned abandoned_;
};

// require_openssl throws CKR_CRYPTOKI_NOT_INITIALIZED once OpenSSL is gone: an application that
// called OPENSSL_cleanup() itself, or the process exiting (crypto_available false).
void require_openssl();

// library is the module's Library. Never destroyed: an application's exit handler may call in
// after this module's static destructors (teardown, registered by initialize, is what ends the
// library). Inline: every entry point asks for it.
inline Library& library() {
  static NoDestructor<Library> instance;
  return *instance;
}

}  // namespace twinhsm::pkcs11
