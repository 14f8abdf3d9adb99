// Shared by the fuzz targets that call the PKCS#11 module in process (fuzz_templates,
// fuzz_mechanisms; the implementation library is linked in statically): a device in the scratch
// directory with its token initialized and the user PIN set, the module initialized on it, and
// the checks that turn a return code no input should cause into a finding.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "device/device.h"
#include "fuzz_util.h"
#include "pkcs11/entry.h"

namespace twinhsm::fuzz {

inline constexpr const char* kSoPin = "fuzz-so-pin";
inline constexpr const char* kUserPin = "fuzz-user-pin";
inline constexpr CK_SLOT_ID kSlot = 0;

inline CK_UTF8CHAR_PTR pin(const char* p) {
  return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(p));
}

[[noreturn]] inline void fail(const char* what, CK_RV rv) {
  std::fprintf(stderr, "twinhsm fuzz: %s -> 0x%lx\n", what, static_cast<unsigned long>(rv));
  std::abort();
}

inline void check(const char* what, CK_RV rv) {
  if (rv != CKR_OK) {
    fail(what, rv);
  }
}

// strict_check aborts, in strict mode, on the codes no input should cause.
inline CK_RV strict_check(const char* what, CK_RV rv) {
  if (strict() && (rv == CKR_GENERAL_ERROR || rv == CKR_DEVICE_ERROR)) {
    fail(what, rv);
  }
  return rv;
}

// init_module personalizes a device in the scratch directory (fixed master key, PBKDF2 1000
// iterations), initializes its token with kSoPin and kUserPin, points TWINHSM_CONF at it and
// calls C_Initialize. TWINHSM_FUZZ_LOG=1 turns on the module's debug log (every call and its
// CK_RV, on stderr), to see what the seeds reach.
inline void init_module() {
  std::filesystem::path dir = scratch_dir() / "device";
  device::PersonalizeOptions options;
  options.diversifier = kDiversifier;
  options.serial = "FUZZ0001";
  options.pbkdf2_iterations = 1000;
  device::Device::personalize(dir, master_key(), options);
  {
    auto dev = device::Device::open(dir);
    token::Token& t = dev->token();
    t.init_token(as_bytes(kSoPin), "fuzz");
    t.login(token::Role::so, as_bytes(kSoPin));
    t.init_pin(as_bytes(kUserPin));
    t.logout();
  }
  std::filesystem::path conf = scratch_dir() / "twinhsm.toml";
  {
    std::ofstream out(conf);
    out << "[[slot]]\ndevice = \"" << dir.string() << "\"\n";
  }
  ::setenv("TWINHSM_CONF", conf.c_str(), 1);
  const char* log = std::getenv("TWINHSM_FUZZ_LOG");
  if (log && *log && *log != '0') {
    ::setenv("TWINHSM_LOG", "debug", 1);
  } else {
    ::unsetenv("TWINHSM_LOG");
  }
  ::unsetenv("TWINHSM_LOG_FILE");
  check("C_Initialize", C_Initialize(nullptr));
}

// open_user_session opens a read-write session with the user logged in (the login is the
// application's: a second session finds it done).
inline CK_SESSION_HANDLE open_user_session() {
  CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
  check("C_OpenSession",
        C_OpenSession(kSlot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s));
  CK_RV rv = C_Login(s, CKU_USER, pin(kUserPin), std::strlen(kUserPin));
  if (rv != CKR_USER_ALREADY_LOGGED_IN) {
    check("C_Login(user)", rv);
  }
  return s;
}

}  // namespace twinhsm::fuzz
