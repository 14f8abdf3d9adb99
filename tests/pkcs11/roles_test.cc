// Roles and PINs: token flags, C_InitToken, C_InitPIN, C_SetPIN, C_Login/C_Logout, the failure
// counters and lockout (user and SO), session states.
#include <cstring>
#include <filesystem>

#include "fixture.h"

namespace twinhsm::test {
namespace {

constexpr CK_FLAGS kUserCounterFlags =
    CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED;
constexpr CK_FLAGS kSoCounterFlags =
    CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED;

CK_UTF8CHAR_PTR u(std::string_view s) {
  return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(s.data()));
}
CK_ULONG n(std::string_view s) {
  return static_cast<CK_ULONG>(s.size());
}

// A 32-byte blank-padded label field.
std::vector<CK_UTF8CHAR> label_field(std::string_view text) {
  std::vector<CK_UTF8CHAR> out(32, ' ');
  std::memcpy(out.data(), text.data(), std::min<size_t>(32, text.size()));
  return out;
}

class RolesTest : public P11Test {
 protected:
  CK_RV init_token(std::string_view so_pin, std::string_view label) {
    auto field = label_field(label);
    return f()->C_InitToken(0, u(so_pin), n(so_pin), field.data());
  }
  CK_RV init_pin(CK_SESSION_HANDLE s, std::string_view pin) {
    return f()->C_InitPIN(s, u(pin), n(pin));
  }
  CK_RV set_pin(CK_SESSION_HANDLE s, std::string_view old_pin, std::string_view new_pin) {
    return f()->C_SetPIN(s, u(old_pin), n(old_pin), u(new_pin), n(new_pin));
  }
  CK_TOKEN_INFO token_info() {
    CK_TOKEN_INFO info{};
    EXPECT_CKR(CKR_OK, f()->C_GetTokenInfo(0, &info));
    return info;
  }
  // Flags of the PIN counters only, for readable comparisons.
  CK_FLAGS user_counter() { return token_flags() & kUserCounterFlags; }
  CK_FLAGS so_counter() { return token_flags() & kSoCounterFlags; }
};

// ---- A device whose token is not initialized ----

class UninitializedTokenTest : public RolesTest {
 protected:
  DeviceOptions device_options() override {
    DeviceOptions o;
    o.init_token = false;
    return o;
  }
};

TEST_F(UninitializedTokenTest, InitTokenInitPinAndLogin) {
  CK_FLAGS before = token_flags();
  EXPECT_FALSE(before & CKF_TOKEN_INITIALIZED);
  EXPECT_FALSE(before & CKF_USER_PIN_INITIALIZED);
  EXPECT_TRUE(before & CKF_RNG);

  ASSERT_CKR(CKR_OK, init_token("new-so-pin", "fresh label"));
  CK_TOKEN_INFO info = token_info();
  EXPECT_TRUE(info.flags & CKF_TOKEN_INITIALIZED);
  EXPECT_FALSE(info.flags & CKF_USER_PIN_INITIALIZED);
  EXPECT_TRUE(info.flags & CKF_LOGIN_REQUIRED);
  EXPECT_EQ(padded_string(info.label, sizeof info.label), "fresh label");

  CK_SESSION_HANDLE s = open_session();
  EXPECT_CKR(CKR_USER_PIN_NOT_INITIALIZED, login(s, CKU_USER, "any-pin-at-all"));
  ASSERT_CKR(CKR_OK, login(s, CKU_SO, "new-so-pin"));
  ASSERT_CKR(CKR_OK, init_pin(s, "new-user-pin"));
  EXPECT_TRUE(token_flags() & CKF_USER_PIN_INITIALIZED);
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_USER, "wrong-user-pin"));
  EXPECT_CKR(CKR_OK, login(s, CKU_USER, "new-user-pin"));
  EXPECT_EQ(session_state(s), CKS_RW_USER_FUNCTIONS);
}

TEST_F(UninitializedTokenTest, InitTokenChecksPinLengthAndArguments) {
  EXPECT_CKR(CKR_PIN_LEN_RANGE, init_token("abc", "x"));
  EXPECT_CKR(CKR_PIN_LEN_RANGE, init_token(std::string(256, 'p'), "x"));
  EXPECT_FALSE(token_flags() & CKF_TOKEN_INITIALIZED);
  std::string pin = "good-pin";
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_InitToken(0, u(pin), n(pin), nullptr));
  auto field = label_field("x");
  EXPECT_CKR(CKR_SLOT_ID_INVALID, f()->C_InitToken(5, u(pin), n(pin), field.data()));
  ASSERT_CKR(CKR_OK, init_token("good-pin", "x"));
}

TEST_F(UninitializedTokenTest, InitTokenRefusedWhileASessionIsOpen) {
  CK_SESSION_HANDLE s = open_session(false);
  ASSERT_NE(s, CK_INVALID_HANDLE);
  EXPECT_CKR(CKR_SESSION_EXISTS, init_token("new-so-pin", "x"));
  EXPECT_FALSE(token_flags() & CKF_TOKEN_INITIALIZED);
  ASSERT_CKR(CKR_OK, f()->C_CloseSession(s));
  EXPECT_CKR(CKR_OK, init_token("new-so-pin", "x"));
}

// ---- A token with an SO PIN but no user PIN ----

class NoUserPinTest : public RolesTest {
 protected:
  DeviceOptions device_options() override {
    DeviceOptions o;
    o.user_pin.reset();
    return o;
  }
};

TEST_F(NoUserPinTest, UserLoginNeedsAnInitializedPin) {
  CK_FLAGS flags = token_flags();
  EXPECT_TRUE(flags & CKF_TOKEN_INITIALIZED);
  EXPECT_FALSE(flags & CKF_USER_PIN_INITIALIZED);
  CK_SESSION_HANDLE s = open_session();
  EXPECT_CKR(CKR_USER_PIN_NOT_INITIALIZED, login(s, CKU_USER, "user-pin-1234"));
  EXPECT_EQ(session_state(s), CKS_RW_PUBLIC_SESSION);
  ASSERT_CKR(CKR_OK, login_so(s));
  ASSERT_CKR(CKR_OK, init_pin(s, "first-user-pin"));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  EXPECT_CKR(CKR_OK, login(s, CKU_USER, "first-user-pin"));
}

// ---- A token with both PINs (the default device) ----

TEST_F(RolesTest, TokenInfoOfAnInitializedToken) {
  CK_TOKEN_INFO info = token_info();
  EXPECT_TRUE(info.flags & CKF_TOKEN_INITIALIZED);
  EXPECT_TRUE(info.flags & CKF_USER_PIN_INITIALIZED);
  EXPECT_TRUE(info.flags & CKF_LOGIN_REQUIRED);
  EXPECT_EQ(info.flags & (kUserCounterFlags | kSoCounterFlags), 0u);
  EXPECT_EQ(padded_string(info.label, sizeof info.label), "test token");
  EXPECT_EQ(info.ulMinPinLen, 4u);
  EXPECT_EQ(info.ulMaxPinLen, 255u);
  EXPECT_EQ(info.ulSessionCount, 0u);
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_GetTokenInfo(0, nullptr));
}

TEST_F(RolesTest, SessionStatesFollowLogins) {
  CK_SESSION_HANDLE ro = open_session(false);
  CK_SESSION_HANDLE rw = open_session(true);
  EXPECT_EQ(session_state(ro), CKS_RO_PUBLIC_SESSION);
  EXPECT_EQ(session_state(rw), CKS_RW_PUBLIC_SESSION);
  CK_SESSION_INFO info{};
  ASSERT_CKR(CKR_OK, f()->C_GetSessionInfo(rw, &info));
  EXPECT_EQ(info.slotID, 0u);
  EXPECT_EQ(info.flags, CKF_SERIAL_SESSION | CKF_RW_SESSION);
  ASSERT_CKR(CKR_OK, f()->C_GetSessionInfo(ro, &info));
  EXPECT_EQ(info.flags, CKF_SERIAL_SESSION);

  ASSERT_CKR(CKR_OK, login_user(ro));
  EXPECT_EQ(session_state(ro), CKS_RO_USER_FUNCTIONS);
  EXPECT_EQ(session_state(rw), CKS_RW_USER_FUNCTIONS);  // logins are per token, not per session
  CK_SESSION_HANDLE later = open_session(true);
  EXPECT_EQ(session_state(later), CKS_RW_USER_FUNCTIONS);

  ASSERT_CKR(CKR_OK, f()->C_Logout(rw));
  EXPECT_EQ(session_state(ro), CKS_RO_PUBLIC_SESSION);
  EXPECT_EQ(session_state(rw), CKS_RW_PUBLIC_SESSION);
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN, f()->C_Logout(rw));

  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_GetSessionInfo(rw, nullptr));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_GetSessionInfo(rw + 1000, &info));
}

TEST_F(RolesTest, SoSessionsAreReadWrite) {
  CK_SESSION_HANDLE rw = open_session(true);
  ASSERT_CKR(CKR_OK, login_so(rw));
  EXPECT_EQ(session_state(rw), CKS_RW_SO_FUNCTIONS);
  CK_SESSION_HANDLE ro = CK_INVALID_HANDLE;
  EXPECT_CKR(CKR_SESSION_READ_WRITE_SO_EXISTS,
             f()->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &ro));
  CK_SESSION_HANDLE rw2 = open_session(true);
  EXPECT_EQ(session_state(rw2), CKS_RW_SO_FUNCTIONS);
  ASSERT_CKR(CKR_OK, f()->C_Logout(rw));
  EXPECT_EQ(session_state(rw2), CKS_RW_PUBLIC_SESSION);
}

TEST_F(RolesTest, SoLoginRefusedWhileAReadOnlySessionExists) {
  CK_SESSION_HANDLE ro = open_session(false);
  CK_SESSION_HANDLE rw = open_session(true);
  EXPECT_CKR(CKR_SESSION_READ_ONLY_EXISTS, login_so(rw));
  EXPECT_EQ(so_counter(), 0u);  // not a failed attempt
  ASSERT_CKR(CKR_OK, f()->C_CloseSession(ro));
  EXPECT_CKR(CKR_OK, login_so(rw));
}

TEST_F(RolesTest, AlreadyLoggedIn) {
  CK_SESSION_HANDLE s = open_session();
  ASSERT_CKR(CKR_OK, login_user(s));
  EXPECT_CKR(CKR_USER_ALREADY_LOGGED_IN, login_user(s));
  EXPECT_CKR(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, login_so(s));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  ASSERT_CKR(CKR_OK, login_so(s));
  EXPECT_CKR(CKR_USER_ALREADY_LOGGED_IN, login_so(s));
  EXPECT_CKR(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, login_user(s));
  EXPECT_EQ(token_flags() & (kUserCounterFlags | kSoCounterFlags), 0u);
}

TEST_F(RolesTest, LoginArguments) {
  CK_SESSION_HANDLE s = open_session();
  std::string pin = device().user_pin();
  EXPECT_CKR(CKR_USER_TYPE_INVALID, f()->C_Login(s, 7, u(pin), n(pin)));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_Login(s, CKU_USER, nullptr, 5));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_Login(s + 1000, CKU_USER, u(pin), n(pin)));
  EXPECT_EQ(user_counter(), 0u);
  // PKCS#11 3.0 C_LoginUser without a user name is C_Login.
  ASSERT_CKR(CKR_OK, f()->C_LoginUser(s, CKU_USER, u(pin), n(pin), nullptr, 0));
  EXPECT_EQ(session_state(s), CKS_RW_USER_FUNCTIONS);
}

TEST_F(RolesTest, UserLockoutAfterMaxFailures) {
  CK_SESSION_HANDLE s = open_session();
  EXPECT_EQ(user_counter(), 0u);

  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_USER, "wrong-pin-1"));
  EXPECT_EQ(user_counter(), CKF_USER_PIN_COUNT_LOW);

  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_USER, "wrong-pin-2"));
  EXPECT_EQ(user_counter(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);

  // The third failure (the limit is 3) locks, and says so.
  EXPECT_CKR(CKR_PIN_LOCKED, login(s, CKU_USER, "wrong-pin-3"));
  EXPECT_TRUE(token_flags() & CKF_USER_PIN_LOCKED);
  EXPECT_FALSE(token_flags() & CKF_USER_PIN_FINAL_TRY);

  // Even the right PIN is refused now.
  EXPECT_CKR(CKR_PIN_LOCKED, login_user(s));
  EXPECT_EQ(session_state(s), CKS_RW_PUBLIC_SESSION);
  EXPECT_TRUE(token_flags() & CKF_USER_PIN_LOCKED);
  // The SO is not affected.
  EXPECT_EQ(so_counter(), 0u);

  // The SO's C_InitPIN sets a new user PIN and clears the lock.
  ASSERT_CKR(CKR_OK, login_so(s));
  ASSERT_CKR(CKR_OK, init_pin(s, "unlocked-pin"));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  EXPECT_EQ(user_counter(), 0u);
  EXPECT_CKR(CKR_PIN_INCORRECT, login_user(s));  // the old PIN is gone
  EXPECT_CKR(CKR_OK, login(s, CKU_USER, "unlocked-pin"));
  EXPECT_EQ(user_counter(), 0u);
}

TEST_F(RolesTest, SuccessfulLoginClearsTheCounter) {
  CK_SESSION_HANDLE s = open_session();
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_USER, "wrong-pin-1"));
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_USER, "wrong-pin-2"));
  ASSERT_CKR(CKR_OK, login_user(s));
  EXPECT_EQ(user_counter(), 0u);
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  // Three more tries are available again.
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_USER, "wrong-pin-3"));
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_USER, "wrong-pin-4"));
  EXPECT_CKR(CKR_OK, login_user(s));
}

TEST_F(RolesTest, SoLockoutAfterMaxFailures) {
  CK_SESSION_HANDLE s = open_session();
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_SO, "wrong-so-1"));
  EXPECT_EQ(so_counter(), CKF_SO_PIN_COUNT_LOW);
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_SO, "wrong-so-2"));
  EXPECT_EQ(so_counter(), CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY);
  EXPECT_CKR(CKR_PIN_LOCKED, login(s, CKU_SO, "wrong-so-3"));
  EXPECT_TRUE(token_flags() & CKF_SO_PIN_LOCKED);
  EXPECT_CKR(CKR_PIN_LOCKED, login_so(s));
  EXPECT_EQ(session_state(s), CKS_RW_PUBLIC_SESSION);
  EXPECT_EQ(user_counter(), 0u);

  // A locked SO cannot re-initialize the token either.
  ASSERT_CKR(CKR_OK, f()->C_CloseAllSessions(0));
  EXPECT_CKR(CKR_PIN_LOCKED, init_token(device().so_pin(), "hijacked"));
  EXPECT_EQ(padded_string(token_info().label, 32), "test token");

  // The user still logs in.
  s = open_session();
  EXPECT_CKR(CKR_OK, login_user(s));
}

TEST_F(RolesTest, CountersAreDurable) {
  CK_SESSION_HANDLE s = open_session();
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_USER, "wrong-pin-1"));
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_SO, "wrong-so-1"));
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_SO, "wrong-so-2"));
  reinitialize();
  EXPECT_EQ(user_counter(), CKF_USER_PIN_COUNT_LOW);
  EXPECT_EQ(so_counter(), CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY);

  // A fresh load of the module sees the same.
  module_.reset();
  module_ = std::make_unique<Module>();
  ASSERT_CKR(CKR_OK, f()->C_Initialize(nullptr));
  EXPECT_EQ(user_counter(), CKF_USER_PIN_COUNT_LOW);
  s = open_session();
  EXPECT_CKR(CKR_PIN_LOCKED, login(s, CKU_SO, "wrong-so-3"));
  reinitialize();
  s = open_session();
  EXPECT_CKR(CKR_PIN_LOCKED, login_so(s));
  EXPECT_TRUE(token_flags() & CKF_SO_PIN_LOCKED);
}

TEST_F(RolesTest, SetPinOfTheLoggedInUser) {
  CK_SESSION_HANDLE s = open_session();
  ASSERT_CKR(CKR_OK, login_user(s));
  ASSERT_CKR(CKR_OK, set_pin(s, device().user_pin(), "changed-user-pin"));
  EXPECT_EQ(session_state(s), CKS_RW_USER_FUNCTIONS);
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  EXPECT_CKR(CKR_PIN_INCORRECT, login_user(s));
  EXPECT_CKR(CKR_OK, login(s, CKU_USER, "changed-user-pin"));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  // And after a restart.
  reinitialize();
  s = open_session();
  EXPECT_CKR(CKR_OK, login(s, CKU_USER, "changed-user-pin"));
}

TEST_F(RolesTest, SetPinWithoutLoginChangesTheUserPin) {
  CK_SESSION_HANDLE s = open_session();
  ASSERT_CKR(CKR_OK, set_pin(s, device().user_pin(), "public-changed"));
  EXPECT_CKR(CKR_PIN_INCORRECT, login_user(s));
  EXPECT_CKR(CKR_OK, login(s, CKU_USER, "public-changed"));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  EXPECT_CKR(CKR_OK, login_so(s));  // the SO PIN did not change
}

TEST_F(RolesTest, SetPinWithAWrongOldPinIsCounted) {
  CK_SESSION_HANDLE s = open_session();
  ASSERT_CKR(CKR_OK, login_user(s));
  EXPECT_CKR(CKR_PIN_INCORRECT, set_pin(s, "not-the-pin", "whatever-new"));
  EXPECT_EQ(user_counter(), CKF_USER_PIN_COUNT_LOW);
  EXPECT_CKR(CKR_PIN_INCORRECT, set_pin(s, "not-the-pin", "whatever-new"));
  EXPECT_EQ(user_counter(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  // The PIN did not change; this third failure reaches the limit.
  EXPECT_CKR(CKR_PIN_LOCKED, login(s, CKU_USER, "whatever-new"));
  EXPECT_TRUE(token_flags() & CKF_USER_PIN_LOCKED);
}

TEST_F(RolesTest, SetPinOfTheSo) {
  CK_SESSION_HANDLE s = open_session();
  ASSERT_CKR(CKR_OK, login_so(s));
  EXPECT_CKR(CKR_PIN_INCORRECT, set_pin(s, "wrong-so-pin", "changed-so-pin"));
  EXPECT_EQ(so_counter(), CKF_SO_PIN_COUNT_LOW);
  ASSERT_CKR(CKR_OK, set_pin(s, device().so_pin(), "changed-so-pin"));
  EXPECT_EQ(so_counter(), 0u);
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  EXPECT_CKR(CKR_PIN_INCORRECT, login_so(s));
  EXPECT_CKR(CKR_OK, login(s, CKU_SO, "changed-so-pin"));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  EXPECT_CKR(CKR_OK, login_user(s));  // the user PIN did not change
}

TEST_F(RolesTest, SetPinNeedsAReadWriteSession) {
  CK_SESSION_HANDLE s = open_session(false);
  EXPECT_CKR(CKR_SESSION_READ_ONLY, set_pin(s, device().user_pin(), "changed-user-pin"));
  CK_SESSION_HANDLE rw = open_session(true);
  EXPECT_CKR(CKR_OK, login_user(rw));
}

TEST_F(RolesTest, PinLengthRange) {
  CK_SESSION_HANDLE s = open_session();
  ASSERT_CKR(CKR_OK, login_user(s));
  EXPECT_CKR(CKR_PIN_LEN_RANGE, set_pin(s, device().user_pin(), "abc"));
  EXPECT_CKR(CKR_PIN_LEN_RANGE, set_pin(s, device().user_pin(), std::string(256, 'x')));
  EXPECT_EQ(user_counter(), 0u);  // a bad new PIN is not a failed login
  ASSERT_CKR(CKR_OK, set_pin(s, device().user_pin(), std::string(255, 'x')));  // the maximum
  ASSERT_CKR(CKR_OK, set_pin(s, std::string(255, 'x'), "four"));               // the minimum
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  EXPECT_CKR(CKR_OK, login(s, CKU_USER, "four"));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));

  ASSERT_CKR(CKR_OK, login_so(s));
  EXPECT_CKR(CKR_PIN_LEN_RANGE, init_pin(s, "abc"));
  EXPECT_CKR(CKR_PIN_LEN_RANGE, init_pin(s, std::string(256, 'y')));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  EXPECT_CKR(CKR_OK, login(s, CKU_USER, "four"));  // unchanged
}

TEST_F(RolesTest, InitPinNeedsTheSo) {
  CK_SESSION_HANDLE s = open_session();
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN, init_pin(s, "public-sets-pin"));
  ASSERT_CKR(CKR_OK, login_user(s));
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN, init_pin(s, "user-sets-pin"));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  EXPECT_CKR(CKR_OK, login_user(s));
}

TEST_F(RolesTest, ReinitializeNeedsTheSoPinAndErasesObjects) {
  CK_SESSION_HANDLE s = open_session();
  ASSERT_CKR(CKR_OK, login_user(s));
  ASSERT_NE(create(f(), s, data_object("public-obj", "v1", true, false)), CK_INVALID_HANDLE);
  ASSERT_NE(create(f(), s, data_object("private-obj", "v2", true, true)), CK_INVALID_HANDLE);
  ASSERT_EQ(find_all(f(), s).size(), 2u);
  ASSERT_CKR(CKR_OK, f()->C_CloseSession(s));

  EXPECT_CKR(CKR_PIN_INCORRECT, init_token("wrong-so-pin", "erased"));
  EXPECT_EQ(so_counter(), CKF_SO_PIN_COUNT_LOW);
  s = open_session();
  ASSERT_CKR(CKR_OK, login_user(s));
  EXPECT_EQ(find_all(f(), s).size(), 2u);  // a refused re-init changes nothing
  ASSERT_CKR(CKR_OK, f()->C_CloseSession(s));

  ASSERT_CKR(CKR_OK, init_token(device().so_pin(), "erased"));
  CK_TOKEN_INFO info = token_info();
  EXPECT_TRUE(info.flags & CKF_TOKEN_INITIALIZED);
  EXPECT_FALSE(info.flags & CKF_USER_PIN_INITIALIZED);
  EXPECT_EQ(info.flags & (kUserCounterFlags | kSoCounterFlags), 0u);
  EXPECT_EQ(padded_string(info.label, sizeof info.label), "erased");

  s = open_session();
  EXPECT_TRUE(find_all(f(), s).empty());
  EXPECT_CKR(CKR_USER_PIN_NOT_INITIALIZED, login_user(s));
  ASSERT_CKR(CKR_OK, login_so(s));  // the SO PIN given stays the SO PIN
  ASSERT_CKR(CKR_OK, init_pin(s, "after-reinit"));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  ASSERT_CKR(CKR_OK, login(s, CKU_USER, "after-reinit"));
  EXPECT_TRUE(find_all(f(), s).empty());  // private objects are gone too
}

TEST_F(RolesTest, ReinitializeRefusedWithOpenSessions) {
  CK_SESSION_HANDLE s = open_session();
  ASSERT_NE(create(f(), s, data_object("kept", "v", true, false)), CK_INVALID_HANDLE);
  EXPECT_CKR(CKR_SESSION_EXISTS, init_token(device().so_pin(), "erased"));
  EXPECT_EQ(find_all(f(), s).size(), 1u);
  EXPECT_EQ(so_counter(), 0u);
  EXPECT_EQ(padded_string(token_info().label, 32), "test token");
}

TEST_F(RolesTest, ClosingTheLastSessionLogsOut) {
  CK_SESSION_HANDLE a = open_session();
  CK_SESSION_HANDLE b = open_session();
  ASSERT_CKR(CKR_OK, login_user(a));
  ASSERT_CKR(CKR_OK, f()->C_CloseSession(a));
  EXPECT_EQ(session_state(b), CKS_RW_USER_FUNCTIONS);  // b still open: still logged in
  ASSERT_CKR(CKR_OK, f()->C_CloseSession(b));
  CK_SESSION_HANDLE c = open_session();
  EXPECT_EQ(session_state(c), CKS_RW_PUBLIC_SESSION);
  ASSERT_CKR(CKR_OK, login_user(c));
  ASSERT_CKR(CKR_OK, f()->C_CloseAllSessions(0));
  CK_SESSION_HANDLE d = open_session();
  EXPECT_EQ(session_state(d), CKS_RW_PUBLIC_SESSION);
}

TEST_F(RolesTest, SecretsNeverReachTheDebugLog) {
  std::filesystem::path log = device().root() / "debug.log";
  setenv("TWINHSM_LOG", "debug", 1);
  setenv("TWINHSM_LOG_FILE", log.c_str(), 1);
  reinitialize();
  CK_SESSION_HANDLE s = open_session();
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_USER, "wrong-secret-pin"));
  EXPECT_CKR(CKR_OK, login_user(s));
  EXPECT_CKR(CKR_OK, set_pin(s, device().user_pin(), "next-secret-pin"));
  Bytes key_value = to_bytes("key-value-in-no-log-0123456789ab");
  ASSERT_NE(create(f(), s, aes_key(key_value, true, true)), CK_INVALID_HANDLE);
  ASSERT_NE(create(f(), s, data_object("private-label-not-logged", "v", true, true)),
            CK_INVALID_HANDLE);
  EXPECT_CKR(CKR_OK, f()->C_Logout(s));
  EXPECT_CKR(CKR_OK, login_so(s));
  EXPECT_CKR(CKR_OK, init_pin(s, "init-secret-pin"));
  f()->C_Finalize(nullptr);
  unsetenv("TWINHSM_LOG");
  unsetenv("TWINHSM_LOG_FILE");
  std::string text = read_file(log);
  EXPECT_TRUE(contains(text, "C_Login")) << "the log was not written";
  for (std::string_view pin :
       {std::string_view("wrong-secret-pin"), std::string_view(device().user_pin()),
        std::string_view("next-secret-pin"), std::string_view(device().so_pin()),
        std::string_view("init-secret-pin")}) {
    EXPECT_FALSE(contains(text, pin)) << "the debug log holds the PIN " << pin;
  }
  EXPECT_FALSE(contains(text, "key-value-in-no-log")) << "the debug log holds a key value";
  EXPECT_FALSE(contains(text, "private-label-not-logged")) << "the debug log holds a private label";
}

// ---- A device that locks after one failure ----

class SingleTryTest : public RolesTest {
 protected:
  DeviceOptions device_options() override {
    DeviceOptions o;
    o.max_login_failures = 1;
    return o;
  }
};

// PKCS#11 3.0, CK_TOKEN_INFO: CKF_USER_PIN_FINAL_TRY is "True if supplying an incorrect user PIN
// will cause it to become locked" -- with a limit of one failure, that holds from the start.
TEST_F(SingleTryTest, FinalTryIsFlaggedWhenOneTryRemains) {
  CK_FLAGS flags = token_flags();
  EXPECT_TRUE(flags & CKF_USER_PIN_FINAL_TRY);
  EXPECT_TRUE(flags & CKF_SO_PIN_FINAL_TRY);
  EXPECT_FALSE(flags & CKF_USER_PIN_COUNT_LOW);  // no wrong PIN was entered yet
  EXPECT_FALSE(flags & (CKF_USER_PIN_LOCKED | CKF_SO_PIN_LOCKED));
}

TEST_F(SingleTryTest, OneFailureLocks) {
  CK_SESSION_HANDLE s = open_session();
  EXPECT_CKR(CKR_PIN_LOCKED, login(s, CKU_USER, "wrong-pin-1"));
  EXPECT_TRUE(token_flags() & CKF_USER_PIN_LOCKED);
  EXPECT_CKR(CKR_PIN_LOCKED, login_user(s));
}

}  // namespace
}  // namespace twinhsm::test
