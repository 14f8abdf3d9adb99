// The insecure-auto button presses itself. It exists for tests and demos; a device takes it only
// if it was personalized with it, and every use says so on the output.
#pragma once

#include <iosfwd>

#include "button/button.h"

namespace twinhsm::button {

// InsecureAutoButton returns from wait_for_press at once, after printing
// "twinhsm: warning: insecure-auto button: <action> authorized without a press (test devices
// only)".
class InsecureAutoButton : public Button {
 public:
  explicit InsecureAutoButton(std::ostream& out) : out_(out) {}
  void wait(const Request& request) override;

 private:
  std::ostream& out_;
};

}  // namespace twinhsm::button
