#include "button/detail.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace twinhsm::button::detail {

std::string printable(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      c = '?';
    }
  }
  return out;
}

Clock::time_point deadline_for(const Request& request) {
  if (request.timeout.count() <= 0) {
    throw UsageError("the button timeout must be at least 1 second");
  }
  return Clock::now() + request.timeout;
}

int poll_timeout_ms(Clock::time_point deadline) {
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) {
    return 0;
  }
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<long long>(ms, std::numeric_limits<int>::max()));
}

TimeoutError timeout_error(const Request& request) {
  return TimeoutError("no button press within " + std::to_string(request.timeout.count()) +
                      " s: nothing was written");
}

std::string errno_text(int err) {
  char buf[256];
  // The GNU strerror_r returns the message, which may or may not be buf.
  return ::strerror_r(err, buf, sizeof buf);
}

}  // namespace twinhsm::button::detail
