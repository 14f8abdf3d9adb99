// Small pieces the button backends share: an owned file descriptor, deadlines for poll(), the
// wording of the timeout error. Not part of the library's interface.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "button/button.h"
#include "fs/unique_fd.h"

namespace twinhsm::button::detail {

using Clock = std::chrono::steady_clock;

// Fd owns a file descriptor and closes it once.
using Fd = twinhsm::fs::UniqueFd;

// printable returns text with control characters replaced by '?', so that an action naming a
// file cannot move the cursor or rewrite the terminal line that asks for the press.
std::string printable(std::string_view text);

// deadline_for checks that request.timeout is positive (UsageError otherwise) and returns the
// moment the wait ends.
Clock::time_point deadline_for(const Request& request);

// poll_timeout_ms is the time left until deadline in whole milliseconds, rounded up so that a
// wait never ends early, 0 once it has passed.
int poll_timeout_ms(Clock::time_point deadline);

// timeout_error is the error every backend throws when no press came in time.
TimeoutError timeout_error(const Request& request);

// errno_text is strerror(err), thread safe.
std::string errno_text(int err);

}  // namespace twinhsm::button::detail
