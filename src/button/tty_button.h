// The tty button: Enter on the controlling terminal. It reads /dev/tty, never stdin, so that a
// script piping input into twinhsm cannot press it.
#pragma once

#include <filesystem>
#include <iosfwd>

#include "button/button.h"

namespace twinhsm::button {

// TtyButton opens the terminal only while wait_for_press runs. Input typed before the prompt is
// discarded, so only an Enter pressed after the question is shown counts. tty_path is /dev/tty
// except in tests, which pass a pseudo-terminal.
class TtyButton : public Button {
 public:
  explicit TtyButton(std::ostream& out, std::filesystem::path tty_path = "/dev/tty");
  // wait_for_press throws UsageError("the tty button needs a terminal ...") if the terminal
  // cannot be opened, and Error if it goes away while waiting.
  void wait(const Request& request) override;

 private:
  std::ostream& out_;
  std::filesystem::path tty_path_;
};

}  // namespace twinhsm::button
