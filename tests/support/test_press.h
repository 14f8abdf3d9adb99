// test_press makes the button::Press that the backup functions require, as a button would: a
// Button that presses itself at once. For tests and benches that make and restore backups in
// process (the commands wait for the device's real button: tests/e2e, tests/button).
#pragma once

#include <chrono>
#include <string>

#include "button/button.h"

namespace twinhsm::test {

class PressedButton : public button::Button {
 protected:
  void wait(const button::Request&) override {}
};

inline button::Press test_press(const std::string& action = "a test's backup") {
  PressedButton button;
  return button.wait_for_press({action, std::chrono::seconds(1)});
}

}  // namespace twinhsm::test
