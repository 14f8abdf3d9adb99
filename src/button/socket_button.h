// The socket button: while an operation waits, the device listens on DIR/button.sock and
// `twinhsm button press --device DIR` (button::press) presses it.
//
// Protocol, one line each way: the presser sends "press\n"; the device answers "ok\n" and stops
// waiting, "denied\n" if the peer (SO_PEERCRED) is neither the device directory's owner nor
// root, or "error\n" for anything else, and keeps waiting.
#pragma once

#include <filesystem>
#include <iosfwd>

#include "button/button.h"

namespace twinhsm::button {

// kSocketName is the socket's file name inside the device directory.
inline constexpr const char* kSocketName = "button.sock";

// SocketButton listens on DIR/button.sock (mode 0600) only while wait_for_press runs and removes
// the file when it returns, by a press, a timeout or an error. A second operation that tries to
// wait on the same device while one waits gets UsageError; a socket file left by a process that
// died is replaced.
class SocketButton : public Button {
 public:
  SocketButton(std::filesystem::path device_dir, std::ostream& out);
  void wait(const Request& request) override;

 private:
  std::filesystem::path device_dir_;
  std::ostream& out_;
};

}  // namespace twinhsm::button
