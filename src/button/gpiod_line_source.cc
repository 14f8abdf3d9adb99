#include "button/gpiod_line_source.h"

#include <gpiod.h>

#include <cerrno>
#include <ctime>

#include "button/detail.h"

namespace twinhsm::button {
namespace {

constexpr const char* kConsumer = "twinhsm-button";

struct ChipCloser {
  void operator()(gpiod_chip* chip) const { gpiod_chip_close(chip); }
};
using ChipPtr = std::unique_ptr<gpiod_chip, ChipCloser>;

class GpiodLineSource : public LineSource {
 public:
  // The line belongs to the chip; closing the chip releases it.
  GpiodLineSource(ChipPtr chip, gpiod_line* line) : chip_(std::move(chip)), line_(line) {}

  std::optional<LineEvent> wait_event(std::chrono::nanoseconds timeout) override {
    if (timeout < std::chrono::nanoseconds::zero()) {
      timeout = std::chrono::nanoseconds::zero();
    }
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(secs.count());
    ts.tv_nsec = static_cast<long>((timeout - secs).count());
    int rc = gpiod_line_event_wait(line_, &ts);
    if (rc == 0 || (rc < 0 && errno == EINTR)) {
      return std::nullopt;
    }
    if (rc < 0) {
      int err = errno;
      throw Error("cannot wait for events on the GPIO button line: " + detail::errno_text(err));
    }
    gpiod_line_event event{};
    if (gpiod_line_event_read(line_, &event) != 0) {
      int err = errno;
      throw Error("cannot read an event of the GPIO button line: " + detail::errno_text(err));
    }
    // The kernel's timestamp is CLOCK_REALTIME on kernels before 5.7 and CLOCK_MONOTONIC after;
    // the time the event was read is on one known clock.
    return LineEvent{event.event_type == GPIOD_LINE_EVENT_RISING_EDGE, LineClock::now()};
  }

  int read_value() override {
    int value = gpiod_line_get_value(line_);
    if (value < 0) {
      int err = errno;
      throw Error("cannot read the GPIO button line: " + detail::errno_text(err));
    }
    return value;
  }

 private:
  ChipPtr chip_;
  gpiod_line* line_;
};

}  // namespace

std::unique_ptr<LineSource> open_gpiod_line(const std::string& chip_name, unsigned line_number) {
  ChipPtr chip(gpiod_chip_open_lookup(chip_name.c_str()));
  if (!chip) {
    int err = errno;
    throw UsageError("cannot open GPIO chip '" + detail::printable(chip_name) +
                     "': " + detail::errno_text(err) +
                     "; gpiodetect lists the chips, and you need access to /dev/gpiochip*");
  }
  unsigned count = gpiod_chip_num_lines(chip.get());
  if (line_number >= count) {
    throw UsageError("GPIO chip '" + detail::printable(chip_name) + "' has no line " +
                     std::to_string(line_number) + " (it has " + std::to_string(count) +
                     " lines, numbered from 0)");
  }
  gpiod_line* line = gpiod_chip_get_line(chip.get(), line_number);
  if (line == nullptr) {
    int err = errno;
    throw UsageError("cannot get line " + std::to_string(line_number) + " of GPIO chip '" +
                     detail::printable(chip_name) + "': " + detail::errno_text(err));
  }
  if (gpiod_line_request_both_edges_events(line, kConsumer) != 0) {
    int err = errno;
    const char* user = gpiod_line_consumer(line);
    throw UsageError("cannot request line " + std::to_string(line_number) + " of GPIO chip '" +
                     detail::printable(chip_name) + "' for events: " + detail::errno_text(err) +
                     (user != nullptr ? std::string("; it is in use by ") + user : std::string()));
  }
  return std::make_unique<GpiodLineSource>(std::move(chip), line);
}

}  // namespace twinhsm::button
