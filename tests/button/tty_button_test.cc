// The tty button against a pseudo-terminal (never the real /dev/tty, so nothing blocks on a
// person).
#include "button/tty_button.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>

namespace twinhsm::button {
namespace {

using namespace std::chrono_literals;

// Pty is a pseudo-terminal pair; the test types on the master side, the button reads the slave.
class Pty {
 public:
  Pty() {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master_ < 0 || ::grantpt(master_) != 0 || ::unlockpt(master_) != 0) {
      throw std::runtime_error("no pseudo-terminal");
    }
    slave_path_ = ::ptsname(master_);
    // Keep the slave open so that the terminal exists before and after the button's wait.
    slave_ = ::open(slave_path_.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  }
  ~Pty() {
    close_master();
    if (slave_ >= 0) {
      ::close(slave_);
    }
  }
  void type(const std::string& keys) { (void)::write(master_, keys.data(), keys.size()); }
  void close_master() {
    if (master_ >= 0) {
      ::close(master_);
      master_ = -1;
    }
  }
  const std::string& slave_path() const { return slave_path_; }

 private:
  int master_ = -1;
  int slave_ = -1;
  std::string slave_path_;
};

TEST(TtyButton, EnterOnTheTerminalIsAPress) {
  Pty pty;
  std::ostringstream out;
  TtyButton button(out, pty.slave_path());
  std::atomic<bool> done = false;
  // Keep typing Enter: what is typed before the question is discarded, so some of it is.
  std::thread typist([&] {
    while (!done) {
      pty.type("\n");
      std::this_thread::sleep_for(50ms);
    }
  });
  auto start = std::chrono::steady_clock::now();
  button.wait_for_press({"backup of device 8f38 to /tmp/x.bak", 30s});
  done = true;
  typist.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(out.str(),
            "Press Enter on this terminal to authorize backup of device 8f38 to /tmp/x.bak "
            "(within 30 s).\n");
}

TEST(TtyButton, EnterTypedBeforeTheQuestionDoesNotCount) {
  Pty pty;
  pty.type("\n\n");
  std::this_thread::sleep_for(100ms);
  std::ostringstream out;
  TtyButton button(out, pty.slave_path());
  EXPECT_THROW(button.wait_for_press({"x", 1s}), TimeoutError);
}

TEST(TtyButton, OtherKeysWithoutEnterTimeOut) {
  Pty pty;
  std::ostringstream out;
  TtyButton button(out, pty.slave_path());
  std::thread typist([&] {
    std::this_thread::sleep_for(200ms);
    pty.type("yes");
  });
  try {
    button.wait_for_press({"restore of /tmp/x.bak", 1s});
    FAIL() << "no exception";
  } catch (const TimeoutError& e) {
    EXPECT_STREQ(e.what(), "no button press within 1 s: nothing was written");
  }
  typist.join();
}

TEST(TtyButton, TerminalHangupEndsTheWaitWithAnError) {
  Pty pty;
  std::ostringstream out;
  TtyButton button(out, pty.slave_path());
  std::thread hangup([&] {
    std::this_thread::sleep_for(300ms);
    pty.close_master();
  });
  auto start = std::chrono::steady_clock::now();
  try {
    button.wait_for_press({"x", 30s});
    ADD_FAILURE() << "no exception";
  } catch (const TimeoutError&) {
    ADD_FAILURE() << "a hangup is not a timeout";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("terminal went away"), std::string::npos) << e.what();
  }
  hangup.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

TEST(TtyButton, NoTerminalIsAUsageError) {
  std::ostringstream out;
  TtyButton missing(out, "/nonexistent/tty");
  try {
    missing.wait_for_press({"x", 1s});
    FAIL() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("the tty button needs a terminal"), std::string::npos);
  }
  TtyButton not_a_tty(out, "/dev/null");
  EXPECT_THROW(not_a_tty.wait_for_press({"x", 1s}), UsageError);
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace twinhsm::button
