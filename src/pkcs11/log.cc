#include "pkcs11/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace twinhsm::pkcs11::log {

namespace {
std::atomic<bool> g_enabled{false};
std::mutex g_mutex;
FILE* g_out = nullptr;  // guarded by g_mutex

void write_line(const std::string& line) {
  std::lock_guard lock(g_mutex);
  FILE* out = g_out ? g_out : stderr;
  std::fprintf(out, "twinhsm: %s\n", line.c_str());
  std::fflush(out);
}
}  // namespace

void configure(bool debug, const std::string& file) {
  std::lock_guard lock(g_mutex);
  if (g_out) {
    std::fclose(g_out);
    g_out = nullptr;
  }
  if (debug && !file.empty()) {
    g_out = std::fopen(file.c_str(), "a");
  }
  g_enabled = debug;
}

bool enabled() { return g_enabled; }

void call(const char* name, const std::string& details, CK_RV rv) {
  if (g_enabled) {
    write_line(std::string(name) + "(" + details + ") -> " + rv_name(rv));
  }
}

void message(const std::string& text) {
  if (g_enabled) {
    write_line(text);
  }
}

const char* rv_name(CK_RV rv) {
  switch (rv) {
#define RV(x) \
  case x:     \
    return #x;
    RV(CKR_OK) RV(CKR_CANCEL) RV(CKR_HOST_MEMORY) RV(CKR_SLOT_ID_INVALID) RV(CKR_GENERAL_ERROR)
    RV(CKR_FUNCTION_FAILED) RV(CKR_ARGUMENTS_BAD) RV(CKR_CANT_LOCK)
    RV(CKR_ATTRIBUTE_READ_ONLY) RV(CKR_ATTRIBUTE_SENSITIVE) RV(CKR_ATTRIBUTE_TYPE_INVALID)
    RV(CKR_ATTRIBUTE_VALUE_INVALID) RV(CKR_ACTION_PROHIBITED) RV(CKR_DATA_INVALID)
    RV(CKR_DATA_LEN_RANGE) RV(CKR_DEVICE_ERROR) RV(CKR_DEVICE_MEMORY) RV(CKR_DEVICE_REMOVED)
    RV(CKR_ENCRYPTED_DATA_INVALID) RV(CKR_ENCRYPTED_DATA_LEN_RANGE)
    RV(CKR_FUNCTION_NOT_SUPPORTED) RV(CKR_KEY_HANDLE_INVALID) RV(CKR_KEY_SIZE_RANGE)
    RV(CKR_KEY_TYPE_INCONSISTENT) RV(CKR_KEY_FUNCTION_NOT_PERMITTED) RV(CKR_MECHANISM_INVALID)
    RV(CKR_MECHANISM_PARAM_INVALID) RV(CKR_OBJECT_HANDLE_INVALID) RV(CKR_OPERATION_ACTIVE)
    RV(CKR_OPERATION_NOT_INITIALIZED) RV(CKR_PIN_INCORRECT) RV(CKR_PIN_INVALID)
    RV(CKR_PIN_LEN_RANGE) RV(CKR_PIN_LOCKED) RV(CKR_SESSION_CLOSED) RV(CKR_SESSION_COUNT)
    RV(CKR_SESSION_HANDLE_INVALID) RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED)
    RV(CKR_SESSION_READ_ONLY) RV(CKR_SESSION_EXISTS) RV(CKR_SESSION_READ_ONLY_EXISTS)
    RV(CKR_SESSION_READ_WRITE_SO_EXISTS) RV(CKR_SIGNATURE_INVALID) RV(CKR_SIGNATURE_LEN_RANGE)
    RV(CKR_TEMPLATE_INCOMPLETE) RV(CKR_TEMPLATE_INCONSISTENT) RV(CKR_TOKEN_NOT_PRESENT)
    RV(CKR_TOKEN_NOT_RECOGNIZED) RV(CKR_TOKEN_WRITE_PROTECTED) RV(CKR_USER_ALREADY_LOGGED_IN)
    RV(CKR_USER_NOT_LOGGED_IN) RV(CKR_USER_PIN_NOT_INITIALIZED) RV(CKR_USER_TYPE_INVALID)
    RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN) RV(CKR_USER_TOO_MANY_TYPES)
    RV(CKR_RANDOM_SEED_NOT_SUPPORTED) RV(CKR_RANDOM_NO_RNG) RV(CKR_DOMAIN_PARAMS_INVALID)
    RV(CKR_CURVE_NOT_SUPPORTED) RV(CKR_BUFFER_TOO_SMALL) RV(CKR_SAVED_STATE_INVALID)
    RV(CKR_INFORMATION_SENSITIVE) RV(CKR_STATE_UNSAVEABLE) RV(CKR_CRYPTOKI_NOT_INITIALIZED)
    RV(CKR_CRYPTOKI_ALREADY_INITIALIZED) RV(CKR_MUTEX_BAD) RV(CKR_MUTEX_NOT_LOCKED)
    RV(CKR_FUNCTION_REJECTED) RV(CKR_WRAPPED_KEY_INVALID) RV(CKR_WRAPPED_KEY_LEN_RANGE)
    RV(CKR_UNWRAPPING_KEY_HANDLE_INVALID) RV(CKR_WRAPPING_KEY_HANDLE_INVALID)
    RV(CKR_KEY_NOT_WRAPPABLE) RV(CKR_KEY_UNEXTRACTABLE) RV(CKR_NEED_TO_CREATE_THREADS)
    RV(CKR_FUNCTION_NOT_PARALLEL)
#undef RV
    default:
      return "CKR_(other)";
  }
}

}  // namespace twinhsm::pkcs11::log
