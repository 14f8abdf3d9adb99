// The button: a device makes a backup, and restores one, only after a physical press.
// One interface, four backends chosen by a spec string stored in the device settings:
//   socket         a Unix socket DIR/button.sock (mode 0600) that `twinhsm button press` presses;
//   tty            Enter on the controlling terminal (/dev/tty, never stdin);
//   gpio:CHIP:LINE[:rising|falling]
//                  a push button on a GPIO line through libgpiod, debounced (default: falling);
//   insecure-auto  presses itself with a warning; only on devices personalized with it.
#pragma once

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>
#include <utility>

#include "common/error.h"

namespace twinhsm::button {

// TimeoutError means no press came before the request's timeout; the operation that asked must
// fail without writing anything.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

// Request is what a press authorizes, shown to the person at the device.
struct Request {
  // action names the operation, e.g. "backup of device 8f38... to /tmp/x.bak".
  std::string action;
  // timeout is how long wait_for_press waits; it must be positive.
  std::chrono::seconds timeout{60};
};

// Press is the proof that a button was pressed for one request: only Button::wait_for_press makes
// one, and the backup functions (backup/create.h, backup/restore.h) take it, so that no caller —
// command, bench or a future API — can make or restore a backup without a press. It authorizes
// one operation: it moves, it does not copy.
class Press {
 public:
  Press(Press&&) = default;
  Press& operator=(Press&&) = default;
  Press(const Press&) = delete;
  Press& operator=(const Press&) = delete;
  // action is what the press authorized (Request::action).
  const std::string& action() const { return action_; }

 private:
  friend class Button;
  explicit Press(std::string action) : action_(std::move(action)) {}
  std::string action_;
};

// Button waits for one press. Implementations are used from one thread at a time.
class Button {
 public:
  virtual ~Button() = default;

  // wait_for_press shows what is being authorized and for how long (on the std::ostream given at
  // construction, normally std::cerr), then blocks until a press or the timeout, and returns the
  // Press. It throws TimeoutError ("no button press within 60 s: nothing was written") when the
  // timeout passes, and UsageError or Error for setup problems (the socket cannot be created or
  // another operation is waiting, no /dev/tty, a bad GPIO chip or line). Every resource it took
  // (socket file, terminal, GPIO line) is released when it returns.
  Press wait_for_press(const Request& request) {
    wait(request);
    return Press(request.action);
  }

 protected:
  // wait is the backend's part of wait_for_press: it returns normally on a press.
  virtual void wait(const Request& request) = 0;
};

// validate_spec throws UsageError, naming the forms there are, unless spec is socket, tty,
// insecure-auto or gpio:CHIP:LINE[:rising|falling]: make_button's parser, used without making a
// button (personalization, set-button).
void validate_spec(const std::string& spec);

// make_button builds the backend named by spec: "socket", "tty", "gpio:CHIP:LINE[:rising|falling]"
// or "insecure-auto". device_dir is the device directory (the socket backend listens there).
// insecure_auto_allowed says the device was personalized with insecure-auto; without it
// "insecure-auto" throws UsageError, as does a malformed or unknown spec. No hardware, terminal
// or socket is touched here: a backend takes them only while it waits. out must outlive the
// returned button.
std::unique_ptr<Button> make_button(const std::string& spec,
                                    const std::filesystem::path& device_dir,
                                    bool insecure_auto_allowed, std::ostream& out);

// press connects to DIR/button.sock and presses. It returns normally if a waiting device took the
// press; it throws UsageError("nothing is waiting for a button press on DIR") if nothing listens,
// UsageError if the device refused the press (the caller is not the device directory's owner),
// and Error if the device answered anything else or nothing.
void press(const std::filesystem::path& device_dir);

}  // namespace twinhsm::button
