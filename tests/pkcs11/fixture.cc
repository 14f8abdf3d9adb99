#include "fixture.h"

namespace twinhsm::test {

void P11Test::SetUp() {
  device_ = std::make_unique<TempDevice>(device_options());
  device_->use_config();
  module_ = std::make_unique<Module>();
  if (initialize_in_setup()) {
    ASSERT_CKR(CKR_OK, f()->C_Initialize(nullptr));
  }
}

void P11Test::TearDown() {
  module_.reset();  // C_Finalize + dlclose
  set_config("");
  device_.reset();
}

void SessionTest::SetUp() {
  P11Test::SetUp();
  if (!HasFatalFailure()) {
    s_ = open_session();
  }
}

void LoggedInTest::SetUp() {
  SessionTest::SetUp();
  if (!HasFatalFailure()) {
    ASSERT_CKR(CKR_OK, login_user(s_));
  }
}

void P11Test::reinitialize() {
  ASSERT_CKR(CKR_OK, f()->C_Finalize(nullptr));
  ASSERT_CKR(CKR_OK, f()->C_Initialize(nullptr));
}

CK_SESSION_HANDLE P11Test::open_session(bool rw) {
  CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
  CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
  CK_RV rv = f()->C_OpenSession(0, flags, nullptr, nullptr, &s);
  if (rv != CKR_OK) {
    ADD_FAILURE() << "C_OpenSession failed: " << rv_name(rv);
    return CK_INVALID_HANDLE;
  }
  return s;
}

CK_RV P11Test::login(CK_SESSION_HANDLE s, CK_USER_TYPE who, std::string_view pin) {
  return f()->C_Login(s, who, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data())),
                      static_cast<CK_ULONG>(pin.size()));
}

CK_RV P11Test::login_user(CK_SESSION_HANDLE s) {
  return login(s, CKU_USER, device_->user_pin());
}
CK_RV P11Test::login_so(CK_SESSION_HANDLE s) {
  return login(s, CKU_SO, device_->so_pin());
}

CK_FLAGS P11Test::token_flags() {
  CK_TOKEN_INFO info{};
  CK_RV rv = f()->C_GetTokenInfo(0, &info);
  if (rv != CKR_OK) {
    ADD_FAILURE() << "C_GetTokenInfo failed: " << rv_name(rv);
    return 0;
  }
  return info.flags;
}

CK_STATE P11Test::session_state(CK_SESSION_HANDLE s) {
  CK_SESSION_INFO info{};
  CK_RV rv = f()->C_GetSessionInfo(s, &info);
  if (rv != CKR_OK) {
    ADD_FAILURE() << "C_GetSessionInfo failed: " << rv_name(rv);
    return ~CK_STATE{0};
  }
  return info.state;
}

void P11Test::expect_object_handle_invalid(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h) {
  SCOPED_TRACE("handle " + std::to_string(h));
  CK_BYTE buf[64];
  CK_ATTRIBUTE get{CKA_LABEL, buf, sizeof buf};
  EXPECT_CKR(CKR_OBJECT_HANDLE_INVALID, f()->C_GetAttributeValue(s, h, &get, 1));
  Template set;
  set.str(CKA_LABEL, "changed");
  EXPECT_CKR(CKR_OBJECT_HANDLE_INVALID, f()->C_SetAttributeValue(s, h, set.data(), set.size()));
  CK_OBJECT_HANDLE copy;
  EXPECT_CKR(CKR_OBJECT_HANDLE_INVALID, f()->C_CopyObject(s, h, nullptr, 0, &copy));
  CK_ULONG size;
  EXPECT_CKR(CKR_OBJECT_HANDLE_INVALID, f()->C_GetObjectSize(s, h, &size));
  EXPECT_CKR(CKR_OBJECT_HANDLE_INVALID, f()->C_DestroyObject(s, h));
}

}  // namespace twinhsm::test
