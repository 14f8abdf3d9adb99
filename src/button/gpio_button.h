// The GPIO button: a push button on a GPIO line, debounced. The edge and debounce logic works on
// a LineSource, so that it is tested with a scripted line; gpiod_line_source.h reads a real line
// through libgpiod.
#pragma once

#include <chrono>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include "button/button.h"

namespace twinhsm::button {

// Edge is the edge a press starts with. Falling (the default) fits a button that pulls the line
// to ground against a pull-up; rising fits one that pulls it up against a pull-down.
enum class Edge { kFalling, kRising };

// GpioSpec is a parsed "gpio:CHIP:LINE[:rising|falling]".
struct GpioSpec {
  std::string chip;  // a name (gpiochip0), a path (/dev/gpiochip0), a label or a number
  unsigned line = 0;
  Edge edge = Edge::kFalling;
};

// parse_gpio_spec parses "gpio:CHIP:LINE[:rising|falling]"; it throws UsageError, naming the
// expected form, on anything else.
GpioSpec parse_gpio_spec(const std::string& spec);

using LineClock = std::chrono::steady_clock;

// LineEvent is one edge seen on the line.
struct LineEvent {
  bool rising = false;
  LineClock::time_point time;
};

// LineSource is one GPIO line requested for edge events (both edges).
class LineSource {
 public:
  virtual ~LineSource() = default;
  // wait_event waits up to timeout for the next edge and returns it, or nullopt if none came (it
  // may also return nullopt early, e.g. on a signal). Throws Error if the line cannot be read.
  virtual std::optional<LineEvent> wait_event(std::chrono::nanoseconds timeout) = 0;
  // read_value returns the line's current physical level, 0 or 1. Throws Error on failure.
  virtual int read_value() = 0;
};

// kDebounce is how long the line must stay in the pressed state after the press's edge.
inline constexpr std::chrono::milliseconds kDebounce{30};

// wait_for_debounced_press waits until deadline for a press on source: an edge of the given
// kind after which the line is still at the pressed level (0 for falling, 1 for rising)
// kDebounce later. Edges during those kDebounce are read and ignored; a bounce that ends with
// the line back at rest is no press. A press whose edge came before the deadline counts even if
// its kDebounce ends after it. Returns true on a press, false when the deadline passes. now is
// the clock (tests pass a simulated one).
bool wait_for_debounced_press(LineSource& source, Edge edge, LineClock::time_point deadline,
                              const std::function<LineClock::time_point()>& now);

// LineOpener requests the line a spec names; it throws UsageError if the chip or line cannot be
// had. GpioButton calls it at the start of every wait and releases the line afterwards.
using LineOpener = std::function<std::unique_ptr<LineSource>(const GpioSpec&)>;

// GpioButton waits for a debounced press on a GPIO line.
class GpioButton : public Button {
 public:
  // The default opener is open_gpiod_line (libgpiod), the default clock steady_clock.
  GpioButton(GpioSpec spec, std::ostream& out, LineOpener opener = {},
             std::function<LineClock::time_point()> now = {});
  void wait(const Request& request) override;

 private:
  GpioSpec spec_;
  std::ostream& out_;
  LineOpener opener_;
  std::function<LineClock::time_point()> now_;
};

}  // namespace twinhsm::button
