#include "pkcs11/library.h"

#include <pthread.h>
#include <unistd.h>

#include <atomic>

#include "common/exit_handler.h"
#include "crypto/library_context.h"
#include "pkcs11/config.h"
#include "pkcs11/guard.h"
#include "pkcs11/log.h"
#include "token/ck_error.h"

namespace twinhsm::pkcs11 {

using token::CkError;

namespace {

// This process's id, kept by a fork handler: every call compares it with the initializing
// process's, and getpid() is a system call.
std::atomic<pid_t> g_pid{0};

pid_t current_pid() {
  static const bool registered = [] {
    g_pid.store(::getpid());
    // glibc removes the handler when the module is unloaded (dlclose).
    return pthread_atfork(nullptr, nullptr, [] { g_pid.store(::getpid()); }) == 0;
  }();
  return registered ? g_pid.load(std::memory_order_relaxed) : ::getpid();
}

}  // namespace

device::Device* Slot::device() {
  if (device::Device* open = open_.load(std::memory_order_acquire)) {
    return open;  // the common case, without the lock
  }
  std::lock_guard lock(mutex_);
  if (!device_) {
    try {
      device_ = device::Device::open(dir_);
    } catch (const Error& e) {
      log::message("slot " + std::to_string(id_) + ": " + e.what());
      return nullptr;
    }
    open_.store(device_.get(), std::memory_order_release);
  }
  return device_.get();
}

token::Token& Slot::token() {
  device::Device* d = device();
  if (!d) {
    throw CkError(CKR_TOKEN_NOT_PRESENT, "no device in " + dir_.string());
  }
  return d->token();
}

namespace {

[[noreturn]] void throw_torn_down() {
  throw CkError(CKR_CRYPTOKI_NOT_INITIALIZED, "the process is exiting: twinhsm has shut down");
}

}  // namespace

void require_openssl() {
  // An application that called OPENSSL_cleanup() itself: no OpenSSL call is safe any more.
  if (!crypto::crypto_available()) {
    throw_torn_down();
  }
}

void Library::initialize() {
  if (torn_down_.load() || !crypto::crypto_available()) {
    throw_torn_down();
  }
  Config config = load_config();
  log::configure(config.debug_log, config.log_file);
  // The crypto layer's exit handler (and OpenSSL's, before it) are registered by now, so that
  // this module's handler, registered below, runs before them.
  crypto::prepare_library_context();
  std::lock_guard lock(mutex_);
  if (initialized_ && pid_ != current_pid()) {
    // A forked child inherits the parent's state but must not touch its SQLite connections
    // (SQLite forbids using them across fork): abandon them unclosed and start afresh.
    abandon_locked();
  }
  if (initialized_) {
    throw CkError(CKR_CRYPTOKI_ALREADY_INITIALIZED, "C_Initialize was already called");
  }
  if (!exit_handler_registered_) {
    // At exit, or at dlclose if that comes first (common/exit_handler.h).
    if (!at_exit_or_unload([] { library().teardown(); })) {
      throw CkError(CKR_GENERAL_ERROR, "cannot register the exit handler");
    }
    exit_handler_registered_ = true;
  }
  slots_.clear();
  for (size_t i = 0; i < config.devices.size(); ++i) {
    slots_.push_back(std::make_unique<Slot>(i, config.devices[i]));
  }
  initialized_ = true;
  pid_ = current_pid();
  epoch_.fetch_add(1, std::memory_order_acq_rel);
}

void Library::abandon_locked() {
  for (auto& s : slots_) {
    abandoned_.slots.push_back(std::move(s));
  }
  slots_.clear();
  abandoned_.sessions.push_back(std::move(all_sessions_));  // leaves all_sessions_ empty
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  free_sessions_locked();  // the map and the pool only: the sessions stay in abandoned_
  initialized_ = false;
}

void Library::teardown() noexcept {
  torn_down_.store(true);
  if (pid_.load() != current_pid()) {
    return;  // a forked child's copy of the parent's state: left alone, as abandon_locked says
  }
  try {
    std::lock_guard lock(mutex_);
    if (initialized_ && !crypto::crypto_available()) {
      abandon_locked();
    } else {
      epoch_.fetch_add(1, std::memory_order_acq_rel);
      free_sessions_locked();
    }
    std::vector<std::unique_ptr<Slot>>().swap(slots_);  // at dlclose the Library goes unfreed
    initialized_ = false;
  } catch (...) {  // nothing to report to, at exit
  }
  log::configure(false, "");
}

void Library::finalize() {
  std::lock_guard lock(mutex_);
  require_initialized();
  // PKCS#11 leaves C_Finalize during other calls undefined; a thread's cached session of this
  // epoch is not used again.
  epoch_.fetch_add(1, std::memory_order_acq_rel);
  free_sessions_locked();
  // Capacity too: the module may be unloaded next, and the Library (never destroyed) with it.
  std::vector<std::unique_ptr<Slot>>().swap(slots_);
  initialized_ = false;
}

void Library::free_sessions_locked() {
  sessions_.clear();
  std::vector<std::shared_ptr<Session>>().swap(pool_);
  std::vector<std::shared_ptr<Session>>().swap(all_sessions_);
}

bool Library::initialized() const {
  std::lock_guard lock(mutex_);
  return initialized_;
}

void Library::require_initialized() const {
  if (!initialized_ || pid_ != current_pid()) {
    throw CkError(CKR_CRYPTOKI_NOT_INITIALIZED, "C_Initialize has not been called");
  }
  require_openssl();
}

std::vector<Slot*> Library::slots() {
  std::lock_guard lock(mutex_);
  require_initialized();
  std::vector<Slot*> out;
  for (auto& s : slots_) {
    out.push_back(s.get());
  }
  return out;
}

Slot& Library::slot(CK_SLOT_ID id) {
  std::lock_guard lock(mutex_);
  require_initialized();
  if (id >= slots_.size()) {
    throw CkError(CKR_SLOT_ID_INVALID, "no such slot");
  }
  return *slots_[id];
}

namespace {

// A thread's sessions found lately, by handle modulo kCached: a call on one of them skips the
// library's lock and map. The Session stays safe to lock until the epoch moves (the library
// reuses closed ones, frees none before); its handle, read under its lock, says whether it is
// still the session asked for. Trivially destructible: an exit handler's call after this
// thread's storage is gone finds nothing to run.
struct CachedSession {
  uint64_t epoch;
  CK_SESSION_HANDLE handle;
  Session* session;
};
constexpr size_t kCached = 4;
thread_local constinit CachedSession t_cached[kCached] = {};

}  // namespace

SessionRef Library::session(CK_SESSION_HANDLE handle, OpenSslCheck check) {
  CachedSession& cached = t_cached[handle % kCached];
  uint64_t epoch = epoch_.load(std::memory_order_acquire);
  if (cached.handle == handle && cached.epoch == epoch && handle != CK_INVALID_HANDLE &&
      pid_.load(std::memory_order_relaxed) == current_pid()) {
    std::unique_lock<std::mutex> lock(cached.session->mutex);
    if (cached.session->handle == handle) {
      if (check == OpenSslCheck::now) {
        require_openssl();
      }
      return SessionRef{cached.session, std::move(lock)};
    }
  }
  Session* s;
  {
    std::shared_lock lock(mutex_);
    require_initialized();
    auto it = sessions_.find(handle);
    if (it == sessions_.end()) {
      throw CkError(CKR_SESSION_HANDLE_INVALID, "no such session");
    }
    s = it->second.get();
    epoch = epoch_.load(std::memory_order_acquire);
  }
  std::unique_lock<std::mutex> session_lock(s->mutex);
  if (s->handle != handle) {  // closed meanwhile
    throw CkError(CKR_SESSION_HANDLE_INVALID, "no such session");
  }
  cached = CachedSession{epoch, handle, s};
  return SessionRef{s, std::move(session_lock)};
}

CK_SESSION_HANDLE Library::open_session(Slot& slot, CK_FLAGS flags) {
  std::lock_guard lock(mutex_);
  require_initialized();
  std::shared_ptr<Session> s;
  if (pool_.empty()) {
    s = all_sessions_.emplace_back(std::make_shared<Session>());
  } else {
    s = std::move(pool_.back());
    pool_.pop_back();
  }
  {
    std::lock_guard session_lock(s->mutex);  // a thread's cached pointer may be reading handle
    s->handle = next_session_++;
    s->slot = slot.id();
    s->slot_object = &slot;
    s->flags = flags;
  }
  CK_SESSION_HANDLE handle = s->handle;
  sessions_[handle] = std::move(s);
  return handle;
}

std::shared_ptr<Session> Library::close_locked(
    std::map<CK_SESSION_HANDLE, std::shared_ptr<Session>>::iterator it) {
  std::shared_ptr<Session> s = it->second;
  sessions_.erase(it);
  return s;
}

void Library::end_closed(std::shared_ptr<Session> s, uint64_t epoch) {
  Slot* slot;
  CK_SESSION_HANDLE handle;
  {
    std::lock_guard session_lock(s->mutex);
    slot = s->slot_object;
    handle = s->handle;
    static_cast<SessionState&>(*s) = SessionState{};
  }
  std::lock_guard lock(mutex_);
  if (epoch_.load(std::memory_order_acquire) != epoch) {
    return;  // freed by C_Finalize meanwhile, with its slots
  }
  if (device::Device* d = slot->device()) {
    d->token().destroy_session_objects(handle);
    bool last = true;
    for (const auto& [h, other] : sessions_) {
      last = last && other->slot != slot->id();
    }
    if (last) {
      d->token().logout();
    }
  }
  pool_.push_back(std::move(s));
}

void Library::close_session(CK_SESSION_HANDLE handle) {
  std::shared_ptr<Session> s;
  uint64_t epoch;
  {
    std::lock_guard lock(mutex_);
    require_initialized();
    auto it = sessions_.find(handle);
    if (it == sessions_.end()) {
      throw CkError(CKR_SESSION_HANDLE_INVALID, "no such session");
    }
    s = close_locked(it);
    epoch = epoch_.load(std::memory_order_acquire);
  }
  end_closed(std::move(s), epoch);
}

void Library::close_all_sessions(Slot& slot) {
  std::vector<std::shared_ptr<Session>> closed;
  uint64_t epoch;
  {
    std::lock_guard lock(mutex_);
    require_initialized();
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      auto next = std::next(it);
      if (it->second->slot == slot.id()) {
        closed.push_back(close_locked(it));
      }
      it = next;
    }
    if (device::Device* d = slot.device()) {
      d->token().logout();  // also with no session open (end_closed logs out again after calls)
    }
    epoch = epoch_.load(std::memory_order_acquire);
  }
  for (auto& s : closed) {
    end_closed(std::move(s), epoch);
  }
}

void Library::end_private_operations(const Slot& slot) {
  std::vector<std::pair<std::shared_ptr<Session>, CK_SESSION_HANDLE>> of_slot;
  {
    std::shared_lock lock(mutex_);
    for (const auto& [h, s] : sessions_) {
      if (s->slot == slot.id()) {
        of_slot.emplace_back(s, h);
      }
    }
  }
  for (const auto& [s, handle] : of_slot) {
    std::lock_guard lock(s->mutex);
    if (s->handle == handle) {  // not closed (and reused) meanwhile
      s->end_private_operations();
    }
  }
}

void end_private_operations_of(const token::Token& token) noexcept {
  try {
    Library& lib = library();
    for (Slot* slot : lib.slots()) {
      if (device::Device* d = slot->opened(); d && &d->token() == &token) {
        lib.end_private_operations(*slot);
      }
    }
  } catch (...) {  // finalized meanwhile: nothing left to wipe
  }
}

std::pair<size_t, size_t> Library::session_counts(const Slot& slot) {
  std::lock_guard lock(mutex_);
  size_t all = 0, rw = 0;
  for (const auto& [h, s] : sessions_) {
    if (s->slot == slot.id()) {
      ++all;
      rw += s->read_write() ? 1 : 0;
    }
  }
  return {all, rw};
}

bool Library::has_read_only_session(const Slot& slot) {
  auto [all, rw] = session_counts(slot);
  return all > rw;
}

}  // namespace twinhsm::pkcs11
