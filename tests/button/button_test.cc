// make_button: which specs build which backend, and the insecure-auto backend.
#include "button/button.h"

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>

#include "button/gpio_button.h"
#include "button/insecure_auto_button.h"
#include "button/socket_button.h"
#include "button/tty_button.h"
#include "temp_dir.h"

namespace twinhsm::button {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

TEST(MakeButton, BuildsEachBackendWithoutTouchingHardware) {
  TempDir dir;
  std::ostringstream out;
  EXPECT_NE(dynamic_cast<SocketButton*>(make_button("socket", dir.path(), false, out).get()),
            nullptr);
  // Neither /dev/tty nor a GPIO chip is opened before a wait: these build anywhere.
  EXPECT_NE(dynamic_cast<TtyButton*>(make_button("tty", dir.path(), false, out).get()), nullptr);
  EXPECT_NE(
      dynamic_cast<GpioButton*>(make_button("gpio:gpiochip0:17", dir.path(), false, out).get()),
      nullptr);
  EXPECT_NE(dynamic_cast<GpioButton*>(
                make_button("gpio:/dev/gpiochip1:3:rising", dir.path(), false, out).get()),
            nullptr);
  EXPECT_NE(
      dynamic_cast<InsecureAutoButton*>(make_button("insecure-auto", dir.path(), true, out).get()),
      nullptr);
  EXPECT_EQ(out.str(), "");
}

TEST(MakeButton, RejectsBadSpecs) {
  TempDir dir;
  std::ostringstream out;
  for (const char* spec : {"gpio:", "gpio:chip", "usb", "", "Socket", "gpio::17",
                           "gpio:chip:", "gpio:chip:x", "gpio:chip:-1", "gpio:chip:17:sideways",
                           "gpio:chip:17:falling:extra", "gpio:a:b:17", "gpio:chip:1234567"}) {
    EXPECT_THROW(make_button(spec, dir.path(), true, out), UsageError) << spec;
  }
}

TEST(MakeButton, UnknownBackendMessageListsTheChoices) {
  std::ostringstream out;
  try {
    make_button("usb", "/tmp", false, out);
    FAIL() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'usb'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("socket, tty, gpio:CHIP:LINE"), std::string::npos)
        << e.what();
  }
}

TEST(ParseGpioSpec, ChipLineAndEdge) {
  GpioSpec s = parse_gpio_spec("gpio:gpiochip0:17");
  EXPECT_EQ(s.chip, "gpiochip0");
  EXPECT_EQ(s.line, 17u);
  EXPECT_EQ(s.edge, Edge::kFalling);

  s = parse_gpio_spec("gpio:/dev/gpiochip2:0:rising");
  EXPECT_EQ(s.chip, "/dev/gpiochip2");
  EXPECT_EQ(s.line, 0u);
  EXPECT_EQ(s.edge, Edge::kRising);

  EXPECT_EQ(parse_gpio_spec("gpio:pinctrl-bcm2711:4:falling").edge, Edge::kFalling);
}

TEST(InsecureAuto, ReturnsAtOnceWithAWarning) {
  TempDir dir;
  std::ostringstream out;
  auto button = make_button("insecure-auto", dir.path(), true, out);
  auto start = std::chrono::steady_clock::now();
  button->wait_for_press({"backup of device 8f38 to /tmp/x.bak", 60s});
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_EQ(out.str(),
            "twinhsm: warning: insecure-auto button: backup of device 8f38 to /tmp/x.bak "
            "authorized without a press (test devices only)\n");
}

TEST(InsecureAuto, WarnsOnEveryUse) {
  std::ostringstream out;
  InsecureAutoButton button(out);
  button.wait_for_press({"restore a", 5s});
  button.wait_for_press({"restore b", 5s});
  EXPECT_NE(out.str().find("restore a authorized"), std::string::npos);
  EXPECT_NE(out.str().find("restore b authorized"), std::string::npos);
}

TEST(InsecureAuto, RefusedUnlessPersonalizedWithIt) {
  TempDir dir;
  std::ostringstream out;
  try {
    make_button("insecure-auto", dir.path(), false, out);
    FAIL() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("personalized"), std::string::npos) << e.what();
  }
}

TEST(Button, ActionControlCharactersAreNotPrinted) {
  std::ostringstream out;
  InsecureAutoButton button(out);
  button.wait_for_press({"backup to /tmp/\x1b[2Kevil\rfile", 5s});
  EXPECT_EQ(out.str().find('\x1b'), std::string::npos);
  EXPECT_EQ(out.str().find('\r'), std::string::npos);
  EXPECT_NE(out.str().find("/tmp/?[2Kevil?file"), std::string::npos);
}

TEST(Button, TimeoutMustBePositive) {
  TempDir dir;
  std::ostringstream out;
  for (const char* spec : {"socket", "tty", "gpio:gpiochip0:1"}) {
    auto button = make_button(spec, dir.path(), false, out);
    EXPECT_THROW(button->wait_for_press({"x", 0s}), UsageError) << spec;
  }
}

TEST(Button, TimeoutErrorIsATwinhsmError) {
  static_assert(std::is_base_of_v<Error, TimeoutError>);
  static_assert(!std::is_base_of_v<UsageError, TimeoutError>);
}

}  // namespace
}  // namespace twinhsm::button
