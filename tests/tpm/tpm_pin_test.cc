// Wrong PINs counted by the TPM (device/tpm_pin_guard.h), through libtwinhsm.so: the TPM's
// dictionary-attack limit (swtpm's default: 3) locks both roles out before the device's own
// limit (10 here), the PKCS#11 flags say so, a right PIN does not undo the TPM's count, a guess is
// counted even when the process dies at once, and a roles row restored from a backup is enrolled
// with the TPM at its first right login.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "fixture.h"
#include "tpm/capabilities.h"
#include "tpm/context.h"
#include "tpm_fixture.h"

extern char** environ;

namespace twinhsm::test {
namespace {

class TpmPinTest : public SessionTest {
 protected:
  Swtpm tpm_;
  DeviceOptions device_options() override { return tpm_options(tpm_); }

  tpm::LockoutState lockout() {
    tpm::Context ctx(tpm_.tcti());
    return tpm::lockout_state(ctx);
  }
};

constexpr CK_FLAGS kUserFlags =
    CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED;
constexpr CK_FLAGS kSoFlags = CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED;

TEST_F(TpmPinTest, TheTpmLocksBothRolesOutAtItsLimit) {
  ASSERT_EQ(lockout().max_tries, 3u);
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s_, CKU_USER, "wrong-pin-1"));
  EXPECT_EQ(lockout().failures, 1u) << "the TPM did not count the wrong PIN";
  EXPECT_EQ(token_flags() & kUserFlags, CKF_USER_PIN_COUNT_LOW);

  EXPECT_CKR(CKR_PIN_INCORRECT, login(s_, CKU_USER, "wrong-pin-2"));
  EXPECT_EQ(token_flags() & kUserFlags, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
  EXPECT_EQ(token_flags() & kSoFlags, CKF_SO_PIN_FINAL_TRY) << "the TPM's count is both roles'";

  EXPECT_CKR(CKR_PIN_LOCKED, login(s_, CKU_USER, "wrong-pin-3"));
  EXPECT_EQ(token_flags() & kUserFlags, CKF_USER_PIN_LOCKED);
  EXPECT_EQ(token_flags() & kSoFlags, CKF_SO_PIN_LOCKED);
  EXPECT_TRUE(lockout().in_lockout);

  // The right PINs now fail too, though the device's own counter (3 of 10) would let them in.
  EXPECT_CKR(CKR_PIN_LOCKED, login_user(s_));
  EXPECT_CKR(CKR_PIN_LOCKED, login_so(s_));
  std::string info = cli({"device", "info", "--device", device().dir().string(), "--json"});
  EXPECT_NE(info.find("\"in_lockout\": true"), std::string::npos) << info;

  // The TPM's owner ends the lockout (here with tpm2-tools, as docs/threat-model.md says).
  setenv("TPM2TOOLS_TCTI", tpm_.tcti().c_str(), 1);
  CommandResult reset = run_command({"/usr/bin/tpm2_dictionarylockout", "--clear-lockout"});
  ASSERT_TRUE(reset.ok()) << reset.describe();
  EXPECT_CKR(CKR_OK, login_user(s_));
}

TEST_F(TpmPinTest, ARightPinDoesNotUndoTheTpmsCount) {
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s_, CKU_USER, "wrong-pin"));
  EXPECT_CKR(CKR_OK, login_user(s_));
  EXPECT_EQ(token_flags() & kUserFlags, 0u)
      << "COUNT_LOW is the device's count since the last success";
  EXPECT_EQ(lockout().failures, 1u) << "the TPM forgives a failure only with time";
}

TEST_F(TpmPinTest, AWrongPinIsCountedEvenIfTheProcessDiesAtOnce) {
  ASSERT_CKR(CKR_OK, f()->C_Finalize(nullptr));
  std::string peer = P11_PEER_PATH;
  char* argv[] = {peer.data(), const_cast<char*>("login"), const_cast<char*>("wrong-pin"), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, peer.c_str(), nullptr, nullptr, argv, environ), 0);
  // Kill the process the moment the TPM has counted its guess.
  bool counted = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!counted && std::chrono::steady_clock::now() < deadline) {
    counted = lockout().failures == 1;
    if (!counted) {
      // Each look is a connection: not so many that closed ones use up the loopback's ports.
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(counted) << "the TPM never counted the guess";
  EXPECT_EQ(lockout().failures, 1u);
  ASSERT_CKR(CKR_OK, f()->C_Initialize(nullptr));
  EXPECT_EQ(token_flags() & kUserFlags, CKF_USER_PIN_COUNT_LOW);
}

TEST_F(TpmPinTest, RestoredPinsAreEnrolledWithTheTpmAtTheirFirstLogin) {
  ASSERT_CKR(CKR_OK, f()->C_Finalize(nullptr));
  TempDir backups;
  std::string file = (backups.path() / "b.twb").string(), dir = device().dir().string();
  cli({"backup", "create", "--device", dir, "-o", file});
  cli({"token", "set-pin", "--device", dir, "--pin", device().user_pin(), "--new-pin",
       "a-newer-pin"});
  cli({"backup", "restore", "--device", dir, file, "--force"});
  ASSERT_CKR(CKR_OK, f()->C_Initialize(nullptr));
  CK_SESSION_HANDLE s = open_session();
  // The TPM's record is of the newer PIN's row: the unwrap alone judges the restored one's guess.
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_USER, "wrong-pin-1"));
  EXPECT_EQ(lockout().failures, 0u);
  EXPECT_CKR(CKR_OK, login_user(s));  // the PIN valid when the backup was made; enrolls its row
  EXPECT_CKR(CKR_OK, f()->C_Logout(s));
  EXPECT_CKR(CKR_PIN_INCORRECT, login(s, CKU_USER, "wrong-pin-2"));
  EXPECT_EQ(lockout().failures, 1u)
      << "after its first login the restored PIN is judged by the TPM";
}

}  // namespace
}  // namespace twinhsm::test
