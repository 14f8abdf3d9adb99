#include "button/gpio_button.h"

#include <ostream>
#include <string_view>
#include <vector>

#include "button/detail.h"
#include "button/gpiod_line_source.h"

namespace twinhsm::button {
namespace {

[[noreturn]] void bad_spec(const std::string& spec, const std::string& why) {
  throw UsageError("bad GPIO button '" + detail::printable(spec) + "': " + why +
                   "; use gpio:CHIP:LINE[:rising|falling], e.g. gpio:gpiochip0:17");
}

std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t end = text.find(sep, start);
    parts.emplace_back(text.substr(start, end - start));
    if (end == std::string_view::npos) {
      return parts;
    }
    start = end + 1;
  }
}

}  // namespace

GpioSpec parse_gpio_spec(const std::string& spec) {
  constexpr std::string_view kPrefix = "gpio:";
  if (spec.rfind(kPrefix, 0) != 0) {
    bad_spec(spec, "it does not start with gpio:");
  }
  std::vector<std::string> parts = split(std::string_view(spec).substr(kPrefix.size()), ':');
  GpioSpec out;
  if (parts.size() == 3) {
    if (parts[2] == "falling") {
      out.edge = Edge::kFalling;
    } else if (parts[2] == "rising") {
      out.edge = Edge::kRising;
    } else {
      bad_spec(spec, "the edge must be rising or falling");
    }
    parts.pop_back();
  }
  if (parts.size() != 2) {
    bad_spec(spec, "it needs a chip and a line number");
  }
  if (parts[0].empty()) {
    bad_spec(spec, "the chip is empty");
  }
  const std::string& line = parts[1];
  if (line.empty() || line.size() > 6 ||
      line.find_first_not_of("0123456789") != std::string::npos) {
    bad_spec(spec, "the line must be a number (the line's offset on its chip)");
  }
  out.chip = parts[0];
  out.line = static_cast<unsigned>(std::stoul(line));
  return out;
}

bool wait_for_debounced_press(LineSource& source, Edge edge, LineClock::time_point deadline,
                              const std::function<LineClock::time_point()>& now) {
  const bool want_rising = edge == Edge::kRising;
  const int pressed_level = want_rising ? 1 : 0;
  for (;;) {
    LineClock::time_point t = now();
    if (t >= deadline) {
      return false;
    }
    std::optional<LineEvent> event = source.wait_event(deadline - t);
    if (!event || event->rising != want_rising) {
      continue;
    }
    // The edge of a press. Let the contacts settle: read (and so discard) every edge for
    // kDebounce, then look at where the line is.
    const LineClock::time_point settled = now() + kDebounce;
    for (t = now(); t < settled; t = now()) {
      (void)source.wait_event(settled - t);
    }
    if (source.read_value() == pressed_level) {
      return true;
    }
  }
}

GpioButton::GpioButton(GpioSpec spec, std::ostream& out, LineOpener opener,
                       std::function<LineClock::time_point()> now)
    : spec_(std::move(spec)),
      out_(out),
      opener_(opener ? std::move(opener) : LineOpener([](const GpioSpec& s) {
        return open_gpiod_line(s.chip, s.line);
      })),
      now_(now ? std::move(now) : std::function<LineClock::time_point()>(LineClock::now)) {}

void GpioButton::wait(const Request& request) {
  if (request.timeout.count() <= 0) {
    throw UsageError("the button timeout must be at least 1 second");
  }
  std::unique_ptr<LineSource> source = opener_(spec_);
  out_ << "Waiting for the button: " << detail::printable(request.action)
       << ". Press the button on line " << spec_.line << " of GPIO chip "
       << detail::printable(spec_.chip) << " within " << request.timeout.count() << " s."
       << std::endl;
  if (!wait_for_debounced_press(*source, spec_.edge, now_() + request.timeout, now_)) {
    throw detail::timeout_error(request);
  }
}

}  // namespace twinhsm::button
