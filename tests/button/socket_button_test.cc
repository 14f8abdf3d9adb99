// The socket button and button::press, over real Unix sockets in a temporary device directory.
#include "button/socket_button.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "button/button.h"
#include "temp_dir.h"

namespace twinhsm::button {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::TempDir;

sockaddr_un address_of(const fs::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  return addr;
}

// connect_raw connects to path, retrying for up to 10 s while the socket is not there yet;
// returns -1 if it never could.
int connect_raw(const fs::path& path) {
  sockaddr_un addr = address_of(path);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      return fd;
    }
    ::close(fd);
    std::this_thread::sleep_for(10ms);
  }
  return -1;
}

// talk connects to the device's socket, sends data, and returns what came back before the
// device closed the connection (or 10 s passed).
std::string talk(const fs::path& dir, const std::string& data, bool shut_write = false) {
  int fd = connect_raw(dir / kSocketName);
  if (fd < 0) {
    return "<no connection>";
  }
  (void)::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
  if (shut_write) {
    ::shutdown(fd, SHUT_WR);
  }
  std::string reply;
  char buf[64];
  pollfd pfd{fd, POLLIN, 0};
  while (::poll(&pfd, 1, 10'000) > 0) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

// press_when_ready presses, retrying for up to 10 s while nothing waits yet. It returns the
// error text of the last failure, or "" on success.
std::string press_when_ready(const fs::path& dir) {
  std::string last = "never tried";
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      press(dir);
      return "";
    } catch (const UsageError& e) {
      last = e.what();
      std::this_thread::sleep_for(10ms);
    }
  }
  return last;
}

bool socket_exists(const fs::path& dir) {
  struct stat st {};
  return ::lstat((dir / kSocketName).c_str(), &st) == 0;
}

// Waiter runs wait_for_press on a thread and keeps what it threw.
class Waiter {
 public:
  Waiter(const fs::path& dir, std::chrono::seconds timeout)
      : button_(dir, out_), thread_([this, timeout] {
          try {
            button_.wait_for_press({"backup of device 8f38 to /tmp/x.bak", timeout});
          } catch (...) {
            error_ = std::current_exception();
          }
        }) {}
  ~Waiter() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  // join waits for the thread and rethrows what wait_for_press threw.
  void join() {
    thread_.join();
    if (error_) {
      std::rethrow_exception(error_);
    }
  }
  std::string output() const { return out_.str(); }

 private:
  std::ostringstream out_;
  SocketButton button_;
  std::exception_ptr error_;
  std::thread thread_;
};

TEST(SocketButton, PressFromAnotherThreadEndsTheWait) {
  TempDir dir;
  std::ostringstream out;
  SocketButton button(dir.path(), out);
  std::string press_error = "not run";
  std::thread presser([&] { press_error = press_when_ready(dir.path()); });
  auto start = std::chrono::steady_clock::now();
  button.wait_for_press({"backup of device 8f38 to /tmp/x.bak", 30s});
  presser.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);
  EXPECT_EQ(press_error, "");
  EXPECT_EQ(out.str(),
            "Waiting for the button: backup of device 8f38 to /tmp/x.bak. Run 'twinhsm "
            "button press --device " +
                dir.path().string() + "' within 30 s.\n");
  EXPECT_FALSE(socket_exists(dir.path()));
}

TEST(SocketButton, TimeoutThrowsAndRemovesTheSocket) {
  TempDir dir;
  std::ostringstream out;
  SocketButton button(dir.path(), out);
  auto start = std::chrono::steady_clock::now();
  try {
    button.wait_for_press({"restore of /tmp/x.bak", 1s});
    FAIL() << "no exception";
  } catch (const TimeoutError& e) {
    EXPECT_STREQ(e.what(), "no button press within 1 s: nothing was written");
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 1s);
  EXPECT_LT(elapsed, 5s);
  EXPECT_FALSE(socket_exists(dir.path()));
  EXPECT_NE(out.str().find("within 1 s"), std::string::npos);
}

TEST(SocketButton, WaitsAgainAfterATimeout) {
  TempDir dir;
  std::ostringstream out;
  SocketButton button(dir.path(), out);
  EXPECT_THROW(button.wait_for_press({"x", 1s}), TimeoutError);
  std::string press_error = "not run";
  std::thread presser([&] { press_error = press_when_ready(dir.path()); });
  button.wait_for_press({"x", 30s});
  presser.join();
  EXPECT_EQ(press_error, "");
}

TEST(Press, NothingWaitingIsAUsageError) {
  TempDir dir;
  try {
    press(dir.path());
    FAIL() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "nothing is waiting for a button press on " + dir.path().string());
  }
  EXPECT_THROW(press(dir.path() / "no-such-dir"), UsageError);
}

// A socket file left by a process that died: bound, then closed without removing the file.
void leave_stale_socket(const fs::path& dir) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr = address_of(dir / kSocketName);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  ASSERT_TRUE(socket_exists(dir));
}

TEST(Press, StaleSocketFileMeansNothingWaits) {
  TempDir dir;
  leave_stale_socket(dir.path());
  EXPECT_THROW(press(dir.path()), UsageError);
}

TEST(SocketButton, ReplacesAStaleSocketFile) {
  TempDir dir;
  leave_stale_socket(dir.path());
  std::ostringstream out;
  SocketButton button(dir.path(), out);
  std::string press_error = "not run";
  std::thread presser([&] {
    // Wait for the stale file to be replaced by the live one before pressing.
    press_error = press_when_ready(dir.path());
  });
  button.wait_for_press({"x", 30s});
  presser.join();
  EXPECT_EQ(press_error, "");
  EXPECT_FALSE(socket_exists(dir.path()));
}

TEST(SocketButton, RefusesAFileThatIsNotASocket) {
  TempDir dir;
  { std::ofstream(dir.path() / kSocketName) << "x"; }
  std::ostringstream out;
  SocketButton button(dir.path(), out);
  EXPECT_THROW(button.wait_for_press({"x", 1s}), UsageError);
  EXPECT_TRUE(fs::is_regular_file(dir.path() / kSocketName));
}

TEST(SocketButton, SocketIsMode0600WhateverTheUmask) {
  TempDir dir;
  mode_t old_mask = ::umask(0);
  std::ostringstream out;
  SocketButton button(dir.path(), out);
  mode_t seen = 0;
  std::string press_error = "not run";
  std::thread presser([&] {
    int fd = connect_raw(dir.path() / kSocketName);  // the device is listening now
    ::close(fd);
    struct stat st {};
    if (::lstat((dir.path() / kSocketName).c_str(), &st) == 0) {
      seen = st.st_mode;
    }
    press_error = press_when_ready(dir.path());
  });
  button.wait_for_press({"x", 30s});
  presser.join();
  ::umask(old_mask);
  EXPECT_EQ(press_error, "");
  EXPECT_TRUE(S_ISSOCK(seen));
  EXPECT_EQ(seen & 07777, 0600u);
}

TEST(SocketButton, GarbageIsAnsweredWithErrorAndTheWaitGoesOn) {
  TempDir dir;
  Waiter waiter(dir.path(), 30s);
  EXPECT_EQ(talk(dir.path(), "hello\n"), "error\n");
  EXPECT_EQ(talk(dir.path(), "PRESS\n"), "error\n");
  EXPECT_EQ(talk(dir.path(), "press \n"), "error\n");
  EXPECT_EQ(talk(dir.path(), "press", /*shut_write=*/true), "error\n");
  EXPECT_EQ(talk(dir.path(), std::string(100, 'x')), "error\n");
  EXPECT_EQ(talk(dir.path(), "", /*shut_write=*/true), "");
  EXPECT_TRUE(socket_exists(dir.path()));
  EXPECT_EQ(talk(dir.path(), "press\n"), "ok\n");
  EXPECT_NO_THROW(waiter.join());
  EXPECT_FALSE(socket_exists(dir.path()));
}

TEST(SocketButton, IdleConnectionsDoNotKeepAPressOut) {
  TempDir dir;
  Waiter waiter(dir.path(), 30s);
  std::vector<int> idle;
  for (int i = 0; i < 40; ++i) {
    idle.push_back(connect_raw(dir.path() / kSocketName));
    ASSERT_GE(idle.back(), 0);
  }
  EXPECT_EQ(press_when_ready(dir.path()), "");
  EXPECT_NO_THROW(waiter.join());
  for (int fd : idle) {
    ::close(fd);
  }
}

TEST(SocketButton, ASecondWaiterIsRefusedAndTheFirstKeepsItsSocket) {
  TempDir dir;
  Waiter first(dir.path(), 30s);
  ::close(connect_raw(dir.path() / kSocketName));  // the first is listening now

  std::ostringstream out;
  SocketButton second(dir.path(), out);
  try {
    second.wait_for_press({"restore of /tmp/y.bak", 1s});
    FAIL() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("another operation is already waiting for the button"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(socket_exists(dir.path()));
  EXPECT_EQ(press_when_ready(dir.path()), "");
  EXPECT_NO_THROW(first.join());
  EXPECT_NE(first.output().find("backup of device 8f38 to /tmp/x.bak"), std::string::npos);
}

TEST(SocketButton, PathTooLongForASocketIsAUsageError) {
  TempDir dir;
  fs::path deep = dir.path() / std::string(120, 'd');
  fs::create_directory(deep);
  std::ostringstream out;
  SocketButton button(deep, out);
  EXPECT_THROW(button.wait_for_press({"x", 1s}), UsageError);
  EXPECT_THROW(press(deep), UsageError);
}

TEST(SocketButton, MissingDeviceDirectoryIsAUsageError) {
  TempDir dir;
  std::ostringstream out;
  SocketButton button(dir.path() / "gone", out);
  EXPECT_THROW(button.wait_for_press({"x", 1s}), UsageError);
}

// Runs in a forked child: only system calls, no allocation. Connects as uid 65534 and returns
// the exit status 0 if the device answered "denied\n".
[[noreturn]] void press_as_nobody(const sockaddr_un& addr) {
  if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
    ::_exit(10);
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::_exit(11);
  }
  if (::write(fd, "press\n", 6) != 6) {
    ::_exit(12);
  }
  char buf[16] = {};
  size_t got = 0;
  while (got < sizeof buf - 1) {
    ssize_t n = ::read(fd, buf + got, sizeof buf - 1 - got);
    if (n <= 0) {
      break;
    }
    got += static_cast<size_t>(n);
  }
  ::_exit(std::strcmp(buf, "denied\n") == 0 ? 0 : 13);
}

TEST(SocketButton, OnlyTheDirectoryOwnerOrRootMayPress) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to connect as another uid";
  }
  TempDir dir;
  // Let uid 65534 reach the socket, and loosen the socket's mode once it exists, so that only
  // the SO_PEERCRED check stands between another user and the button.
  fs::permissions(dir.path(),
                  fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  Waiter waiter(dir.path(), 30s);
  ::close(connect_raw(dir.path() / kSocketName));
  ASSERT_EQ(::chmod((dir.path() / kSocketName).c_str(), 0666), 0);

  sockaddr_un addr = address_of(dir.path() / kSocketName);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    press_as_nobody(addr);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: setuid, 11: connect, 12: write, 13: reply";

  EXPECT_TRUE(socket_exists(dir.path()));       // still waiting
  EXPECT_EQ(press_when_ready(dir.path()), "");  // root may press
  EXPECT_NO_THROW(waiter.join());
}

}  // namespace
}  // namespace twinhsm::button
