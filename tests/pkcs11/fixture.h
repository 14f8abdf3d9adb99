// P11Test: the base fixture of the PKCS#11 conformance tests. SetUp makes a TempDevice (token
// initialized with SO and user PINs, PBKDF2 1000, 3 login failures unless device_options() says
// otherwise), points TWINHSM_CONF at it, loads the module and calls C_Initialize. TearDown
// finalizes, unloads and removes the device.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "module.h"
#include "p11.h"
#include "process.h"
#include "temp_device.h"

namespace twinhsm::test {

class P11Test : public ::testing::Test {
 protected:
  // Override to personalize differently (or not to initialize the token).
  virtual DeviceOptions device_options() { return {}; }
  // Override to keep C_Initialize for the test itself.
  virtual bool initialize_in_setup() { return true; }

  void SetUp() override;
  void TearDown() override;

  CK_FUNCTION_LIST_3_0* f() const { return module_->v3(); }
  Module& module() { return *module_; }
  TempDevice& device() { return *device_; }

  // finalize / reinitialize: C_Finalize then C_Initialize on the same module.
  void reinitialize();

  // open_session opens a session on slot 0 (0 and ADD_FAILURE on error).
  CK_SESSION_HANDLE open_session(bool rw = true);
  // login logs in the user (or the SO) with the device's PINs; returns the CK_RV.
  CK_RV login_user(CK_SESSION_HANDLE s);
  CK_RV login_so(CK_SESSION_HANDLE s);
  CK_RV login(CK_SESSION_HANDLE s, CK_USER_TYPE who, std::string_view pin);
  // token_flags is C_GetTokenInfo(0).flags (0 and ADD_FAILURE on error).
  CK_FLAGS token_flags();
  CK_STATE session_state(CK_SESSION_HANDLE s);
  // expect_object_handle_invalid: every object function (get, set, copy, size, destroy) on h in
  // session s answers CKR_OBJECT_HANDLE_INVALID.
  void expect_object_handle_invalid(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h);

  std::unique_ptr<TempDevice> device_;
  std::unique_ptr<Module> module_;
};

// SessionTest: a P11Test with a read-write session s_ on slot 0 (nobody logged in).
class SessionTest : public P11Test {
 protected:
  void SetUp() override;

  CK_SESSION_HANDLE s_ = CK_INVALID_HANDLE;
};

// LoggedInTest: a SessionTest in which the user is logged in.
class LoggedInTest : public SessionTest {
 protected:
  void SetUp() override;
};

}  // namespace twinhsm::test
