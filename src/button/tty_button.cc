#include "button/tty_button.h"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <ostream>

#include "button/detail.h"

namespace twinhsm::button {

TtyButton::TtyButton(std::ostream& out, std::filesystem::path tty_path)
    : out_(out), tty_path_(std::move(tty_path)) {}

void TtyButton::wait(const Request& request) {
  detail::Clock::time_point deadline = detail::deadline_for(request);
  detail::Fd tty(::open(tty_path_.c_str(), O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK));
  if (!tty.valid()) {
    int err = errno;
    throw UsageError("the tty button needs a terminal: cannot open " + tty_path_.string() + " (" +
                     detail::errno_text(err) +
                     "); run from a terminal or choose another button backend");
  }
  if (!::isatty(tty.get())) {
    throw UsageError("the tty button needs a terminal: " + tty_path_.string() + " is not one");
  }
  // Enter typed before the question was asked does not count.
  (void)::tcflush(tty.get(), TCIFLUSH);

  out_ << "Press Enter on this terminal to authorize " << detail::printable(request.action)
       << " (within " << request.timeout.count() << " s)." << std::endl;

  for (;;) {
    int ms = detail::poll_timeout_ms(deadline);
    if (ms == 0) {
      throw detail::timeout_error(request);
    }
    pollfd pfd{tty.get(), POLLIN, 0};
    int n = ::poll(&pfd, 1, ms);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int err = errno;
      throw Error("cannot wait on " + tty_path_.string() + ": " + detail::errno_text(err));
    }
    if (n == 0) {
      continue;
    }
    char buf[256];
    ssize_t got = ::read(tty.get(), buf, sizeof buf);
    if (got > 0) {
      for (ssize_t i = 0; i < got; ++i) {
        if (buf[i] == '\n' || buf[i] == '\r') {
          return;
        }
      }
      continue;
    }
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      continue;
    }
    if ((pfd.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0 || got < 0) {
      throw Error("the terminal went away while waiting for the button: nothing was written");
    }
    // Ctrl-D at the start of a line reads as end of file on a terminal: not a press.
  }
}

}  // namespace twinhsm::button
