// LoginAttemptLock: one PIN check at a time across processes, on a file of the device's own.
#include "token/login_lock.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/error.h"
#include "temp_device.h"

namespace twinhsm::token {
namespace {

TEST(LoginLockTest, SerializesProcessesOnAPrivateFile) {
  test::TempDir dir;
  auto store = dir.path() / "store.db";
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  if (child == 0) {
    LoginAttemptLock held(store);
    char c = 1;
    (void)!write(ready[1], &c, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    _exit(held.locked() ? 0 : 1);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  auto start = std::chrono::steady_clock::now();
  {
    LoginAttemptLock mine(store);
    EXPECT_TRUE(mine.locked());
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150))
      << "the lock did not wait for the other process's check";
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  struct stat st {};
  ASSERT_EQ(stat((store.string() + ".login-lock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  close(ready[0]);
  close(ready[1]);
}

TEST(LoginLockTest, APlantedLinkIsRefusedNotFollowed) {
  test::TempDir dir;
  auto store = dir.path() / "store.db";
  auto target = dir.path() / "elsewhere";
  ASSERT_EQ(symlink(target.c_str(), (store.string() + ".login-lock").c_str()), 0);
  EXPECT_THROW(LoginAttemptLock lock(store), StoreError);
  EXPECT_FALSE(std::filesystem::exists(target));
}

TEST(LoginLockTest, NoLockWhereNoFileCanBeMade) {
  test::TempDir dir;
  auto ro = dir.path() / "ro";
  std::filesystem::create_directory(ro);
  chmod(ro.c_str(), 0500);
  if (geteuid() == 0) {
    GTEST_SKIP() << "root writes into a read-only directory anyway";
  }
  LoginAttemptLock lock(ro / "store.db");
  EXPECT_FALSE(lock.locked());
}

}  // namespace
}  // namespace twinhsm::token
