// An application that has the token open while another process replaces it (`twinhsm backup
// restore`, `twinhsm token init`): whatever the timing, it never holds, and never writes under, a
// storage key the token no longer has, and an administrator's restore never replaces a token an
// application initialized meanwhile. (Found by an attack review in session 11: each case below
// returned CKR_OK and lost objects for good.)
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "fixture.h"

namespace twinhsm::test {
namespace {

namespace fs = std::filesystem;

class TokenReplacedTest : public SessionTest {
 protected:
  DeviceOptions device_options() override {
    DeviceOptions o;
    o.button = "insecure-auto";
    return o;
  }
  std::string dir() { return device().dir().string(); }
  // waiting_for_press: whether a command waits for the device's (socket) button, within 60 s.
  bool waiting_for_press() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!fs::exists(device().dir() / "button.sock")) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  void cli(std::vector<std::string> args) {
    CommandResult r = run_cli(args);
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  fs::path backup_of_the_token(const std::string& name) {
    fs::path file = device().root() / name;
    cli({"backup", "create", "--device", dir(), "-o", file.string()});
    return file;
  }
  void reinit_token() {
    cli({"token", "init", "--device", dir(), "--label", "again", "--so-pin", device().so_pin(),
         "--pin", device().user_pin()});
  }
  // a private data object: its handle (CK_INVALID_HANDLE and a failure if the create failed).
  CK_OBJECT_HANDLE create_private(CK_SESSION_HANDLE s, const std::string& label) {
    Template t = data_object(label, "secret of " + label, true, true);
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    EXPECT_CKR(CKR_OK, f()->C_CreateObject(s, t.data(), t.size(), &h));
    return h;
  }
  // readable: a fresh login finds the object by label and reads its value.
  bool readable(const std::string& label) {
    CK_SESSION_HANDLE s = open_session();
    f()->C_Logout(s);
    EXPECT_CKR(CKR_OK, login_user(s));
    Template by_label;
    by_label.str(CKA_LABEL, label);
    std::vector<CK_OBJECT_HANDLE> found = find_all(f(), s, by_label);
    Bytes value;
    bool ok = found.size() == 1 && get_attribute(f(), s, found[0], CKA_VALUE, &value) == CKR_OK &&
              value == to_bytes("secret of " + label);
    f()->C_CloseSession(s);
    return ok;
  }
};

// A login whose PIN check (PBKDF2, slow here) straddles a restore by another process ends with the
// restored token's storage key, never the replaced one's with the restored generation (which let
// it create private objects nobody could read again).
class SlowTokenReplacedTest : public TokenReplacedTest {
 protected:
  DeviceOptions device_options() override {
    DeviceOptions o = TokenReplacedTest::device_options();
    o.pbkdf2_iterations = 3000000;  // about a second a PIN check here
    return o;
  }
};

TEST_F(SlowTokenReplacedTest, LoginDuringARestoreEndsWithTheRestoredKey) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  ASSERT_NE(create_private(s_, "before"), CK_INVALID_HANDLE);
  ASSERT_CKR(CKR_OK, f()->C_Logout(s_));
  fs::path first = backup_of_the_token("first.twb");
  reinit_token();  // a new storage key, the same PINs
  // The restore waits for a press (a socket button now), so that it commits inside the login's
  // PIN check: the press comes 100 ms into a check of about a second.
  cli({"device", "set-button", "--device", dir(), "socket"});
  CommandResult restored;
  std::thread restore([&] {
    restored = run_cli({"backup", "restore", "--device", dir(), "--force", first.string()});
  });
  bool waiting = waiting_for_press();
  CK_RV login_rv = CKR_GENERAL_ERROR;
  std::thread login([&] { login_rv = login_user(s_); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CommandResult pressed = run_cli({"button", "press", "--device", dir()});
  restore.join();
  login.join();
  ASSERT_TRUE(waiting && pressed.ok() && restored.ok())
      << pressed.describe() << restored.describe();
  ASSERT_CKR(CKR_OK, login_rv);
  CK_OBJECT_HANDLE after = CK_INVALID_HANDLE;
  Template t = data_object("after", "secret of after", true, true);
  CK_RV rv = f()->C_CreateObject(s_, t.data(), t.size(), &after);
  if (rv == CKR_USER_NOT_LOGGED_IN) {
    // The login ended before the restore committed (a slow machine): it was logged out, as it
    // should be; the race was not met this time.
    ASSERT_CKR(CKR_OK, login_user(s_));
    rv = f()->C_CreateObject(s_, t.data(), t.size(), &after);
  }
  ASSERT_CKR(CKR_OK, rv);
  EXPECT_TRUE(readable("before")) << "the restored object";
  EXPECT_TRUE(readable("after")) << "an object created after the login is sealed under a key "
                                    "the token does not have";
}

// An SO session opened before the token was replaced may not give the user its storage key.
TEST_F(TokenReplacedTest, StaleSoSessionCannotInitPin) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  ASSERT_NE(create_private(s_, "before"), CK_INVALID_HANDLE);
  ASSERT_CKR(CKR_OK, f()->C_Logout(s_));
  fs::path first = backup_of_the_token("first.twb");
  reinit_token();
  ASSERT_CKR(CKR_OK, login_so(s_));
  cli({"backup", "restore", "--device", dir(), "--force", first.string()});
  std::string pin = "new-user-pin-77";
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN,
             f()->C_InitPIN(s_, reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()), pin.size()));
  f()->C_Logout(s_);
  EXPECT_TRUE(readable("before")) << "the user PIN of the backup still opens its objects";
}

// A handle from before a twin's backup was restored never names the twin's object that has the
// same row id (its device numbered its objects the same way).
TEST_F(TokenReplacedTest, HandleFromBeforeARestoreNamesNoObjectOfTheTwin) {
  Template mine = data_object("mine", "my value", true, false);
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  ASSERT_CKR(CKR_OK, f()->C_CreateObject(s_, mine.data(), mine.size(), &h));
  // The twin's first object, made by another process (p11_peer) there, and the twin's backup.
  TempDevice twin(device(), device_options());
  twin.use_config();
  CommandResult made = run_command({P11_PEER_PATH, "create", "twin-important", "twin value"});
  device().use_config();
  ASSERT_TRUE(made.ok()) << made.describe();
  fs::path file = device().root() / "twin.twb";
  made = run_cli({"backup", "create", "--device", twin.dir().string(), "-o", file.string()});
  ASSERT_TRUE(made.ok()) << made.describe();

  cli({"backup", "restore", "--device", dir(), "--force", file.string()});
  expect_object_handle_invalid(s_, h);
  Template by_label;
  by_label.str(CKA_LABEL, "twin-important");
  std::vector<CK_OBJECT_HANDLE> found = find_all(f(), s_, by_label);
  ASSERT_EQ(found.size(), 1u) << "the twin's object was destroyed through the old handle";
  EXPECT_NE(found[0], h);
  EXPECT_EQ(attr_bytes(f(), s_, found[0], CKA_VALUE), to_bytes("twin value"));
}

// `backup restore` without --force refuses a token initialized while it waited for the button.
class UninitializedTwinTest : public TokenReplacedTest {
 protected:
  DeviceOptions device_options() override {
    DeviceOptions o;
    o.init_token = false;
    o.button = "socket";
    return o;
  }
};

TEST_F(UninitializedTwinTest, RestoreWithoutForceKeepsATokenInitializedMeanwhile) {
  // A backup of another device's token, made by its twin's factory: a device of the same pair.
  DeviceOptions other = device_options();
  other.init_token = true;
  other.button = "insecure-auto";
  TempDevice twin(device(), other);  // its twin: the same master key and diversifier
  fs::path file = device().root() / "twin.twb";
  CommandResult made =
      run_cli({"backup", "create", "--device", twin.dir().string(), "-o", file.string()});
  ASSERT_TRUE(made.ok()) << made.describe();

  CommandResult restored;
  std::thread restore([&] {
    restored = run_cli({"backup", "restore", "--device", dir(), file.string()});
  });
  // While it waits for the button, an application initializes the token and makes an object.
  EXPECT_TRUE(waiting_for_press());
  std::string so = "app-so-pin-123";
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof label);
  EXPECT_CKR(CKR_OK, f()->C_CloseAllSessions(0));
  EXPECT_CKR(CKR_OK,
             f()->C_InitToken(0, reinterpret_cast<CK_UTF8CHAR_PTR>(so.data()), so.size(), label));
  CK_SESSION_HANDLE s = open_session();
  Template t = data_object("app-object", "app value", true, false);
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  EXPECT_CKR(CKR_OK, f()->C_CreateObject(s, t.data(), t.size(), &h));
  CommandResult pressed = run_cli({"button", "press", "--device", dir()});
  restore.join();
  ASSERT_TRUE(pressed.ok()) << pressed.describe();
  EXPECT_FALSE(restored.ok()) << "the restore replaced the application's token";
  EXPECT_NE(restored.err.find("initialized"), std::string::npos) << restored.describe();
  EXPECT_EQ(attr_bytes(f(), s, h, CKA_VALUE), to_bytes("app value"));
}

}  // namespace
}  // namespace twinhsm::test
