// The GPIO button's edge and debounce logic against a scripted line on a simulated clock, so
// the tests are exact and take no real time; and the libgpiod source's setup errors.
#include "button/gpio_button.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <utility>
#include <vector>

#include "button/gpiod_line_source.h"

namespace twinhsm::button {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// SimClock is a clock that moves only when the fake line waits.
struct SimClock {
  LineClock::time_point start = LineClock::time_point{} + 1000h;
  LineClock::time_point t = start;
  milliseconds elapsed() const { return std::chrono::duration_cast<milliseconds>(t - start); }
};

// FakeLine is a line whose level is `initial` at the start and changes as `changes` says
// (milliseconds after the start, new level). Every change to another level is an edge event;
// events are delivered in order, as the kernel queues them.
class FakeLine : public LineSource {
 public:
  FakeLine(SimClock& clock, int initial, std::vector<std::pair<int, int>> changes,
           bool* released = nullptr)
      : clock_(clock), initial_(initial), changes_(std::move(changes)), released_(released) {}
  ~FakeLine() override {
    if (released_ != nullptr) {
      *released_ = true;
    }
  }

  std::optional<LineEvent> wait_event(std::chrono::nanoseconds timeout) override {
    EXPECT_GE(timeout.count(), 0);
    const LineClock::time_point limit = clock_.t + timeout;
    while (next_ < changes_.size()) {
      LineClock::time_point at = clock_.start + milliseconds(changes_[next_].first);
      if (at > limit) {
        break;
      }
      int before = level_before(next_);
      int after = changes_[next_].second;
      ++next_;
      if (after == before) {
        continue;
      }
      clock_.t = std::max(clock_.t, at);
      ++events_;
      return LineEvent{after > before, clock_.t};
    }
    clock_.t = limit;
    return std::nullopt;
  }

  int read_value() override {
    ++reads_;
    int level = initial_;
    for (const auto& [at, value] : changes_) {
      if (clock_.start + milliseconds(at) <= clock_.t) {
        level = value;
      }
    }
    return level;
  }

  int events() const { return events_; }
  int reads() const { return reads_; }

 private:
  int level_before(size_t index) const {
    return index == 0 ? initial_ : changes_[index - 1].second;
  }

  SimClock& clock_;
  int initial_;
  std::vector<std::pair<int, int>> changes_;
  bool* released_;
  size_t next_ = 0;
  int events_ = 0;
  int reads_ = 0;
};

// run waits for a press on a line scripted by initial/changes with a 1 s deadline; it returns
// whether there was one and when (simulated ms) the wait ended.
std::pair<bool, milliseconds> run(Edge edge, int initial, std::vector<std::pair<int, int>> changes,
                                  milliseconds deadline = 1000ms) {
  SimClock clock;
  FakeLine line(clock, initial, std::move(changes));
  bool pressed =
      wait_for_debounced_press(line, edge, clock.start + deadline, [&clock] { return clock.t; });
  return {pressed, clock.elapsed()};
}

TEST(GpioDebounce, CleanFallingEdgeHeldIsAPress) {
  auto [pressed, at] = run(Edge::kFalling, 1, {{100, 0}});
  EXPECT_TRUE(pressed);
  EXPECT_EQ(at, 130ms);  // the edge, then 30 ms of settling
}

TEST(GpioDebounce, FallingEdgeHeldExactly30msIsAPress) {
  auto [pressed, at] = run(Edge::kFalling, 1, {{100, 0}, {131, 1}});
  EXPECT_TRUE(pressed);
  EXPECT_EQ(at, 130ms);
}

TEST(GpioDebounce, BounceIsIgnored) {
  auto [pressed, at] = run(Edge::kFalling, 1, {{100, 0}, {105, 1}});
  EXPECT_FALSE(pressed);
  EXPECT_EQ(at, 1000ms);
}

TEST(GpioDebounce, HeldShorterThan30msIsIgnored) {
  auto [pressed, at] = run(Edge::kFalling, 1, {{100, 0}, {125, 1}});
  EXPECT_FALSE(pressed);
  EXPECT_EQ(at, 1000ms);
}

TEST(GpioDebounce, BouncesThenARealPress) {
  auto [pressed, at] = run(Edge::kFalling, 1,
                           {{100, 0}, {105, 1}, {110, 0}, {112, 1}, {200, 0}, {203, 1}, {205, 0}});
  EXPECT_TRUE(pressed);
  EXPECT_EQ(at, 230ms);  // the first window (100..130) ends released; the second ends pressed
}

TEST(GpioDebounce, ContactChatterThatSettlesPressedIsOnePress) {
  auto [pressed, at] = run(Edge::kFalling, 1, {{100, 0}, {103, 1}, {106, 0}});
  EXPECT_TRUE(pressed);
  EXPECT_EQ(at, 130ms);
}

TEST(GpioDebounce, ReleaseOfAButtonHeldAtTheStartIsNoPress) {
  // Falling edge configured; the line is low (held) when the wait starts and only rises.
  auto [pressed, at] = run(Edge::kFalling, 0, {{100, 1}});
  EXPECT_FALSE(pressed);
  EXPECT_EQ(at, 1000ms);
}

TEST(GpioDebounce, ALineStuckPressedIsNoPress) {
  auto [pressed, at] = run(Edge::kFalling, 0, {});
  EXPECT_FALSE(pressed);
}

TEST(GpioDebounce, RisingEdgeConfiguration) {
  auto [pressed, at] = run(Edge::kRising, 0, {{100, 1}});
  EXPECT_TRUE(pressed);
  EXPECT_EQ(at, 130ms);

  // A falling edge is not a press when the button pulls the line up.
  auto [pressed_falling, at_falling] = run(Edge::kRising, 1, {{100, 0}});
  EXPECT_FALSE(pressed_falling);

  // Nor is a rising bounce.
  auto [pressed_bounce, at_bounce] = run(Edge::kRising, 0, {{100, 1}, {108, 0}});
  EXPECT_FALSE(pressed_bounce);
}

TEST(GpioDebounce, TimeoutWithoutEvents) {
  auto [pressed, at] = run(Edge::kFalling, 1, {}, 1000ms);
  EXPECT_FALSE(pressed);
  EXPECT_EQ(at, 1000ms);
}

TEST(GpioDebounce, PressAfterTheDeadlineDoesNotCount) {
  auto [pressed, at] = run(Edge::kFalling, 1, {{1001, 0}}, 1000ms);
  EXPECT_FALSE(pressed);
  EXPECT_EQ(at, 1000ms);
}

TEST(GpioDebounce, PressStartedBeforeTheDeadlineFinishesSettling) {
  auto [pressed, at] = run(Edge::kFalling, 1, {{990, 0}}, 1000ms);
  EXPECT_TRUE(pressed);
  EXPECT_EQ(at, 1020ms);
}

TEST(GpioDebounce, EventsDuringTheWindowAreConsumedNotReplayed) {
  SimClock clock;
  FakeLine line(clock, 1, {{100, 0}, {102, 1}, {104, 0}, {106, 1}});
  EXPECT_FALSE(wait_for_debounced_press(line, Edge::kFalling, clock.start + 1000ms,
                                        [&clock] { return clock.t; }));
  EXPECT_EQ(line.events(), 4);
  EXPECT_EQ(line.reads(), 1);  // one window, one read: the later falling edge fell inside it
}

TEST(GpioButton, PressThroughAnInjectedLine) {
  SimClock clock;
  bool released = false;
  std::ostringstream out;
  GpioSpec seen;
  GpioButton button(
      parse_gpio_spec("gpio:gpiochip0:17"), out,
      [&](const GpioSpec& spec) {
        seen = spec;
        return std::make_unique<FakeLine>(clock, 1, std::vector<std::pair<int, int>>{{2500, 0}},
                                          &released);
      },
      [&clock] { return clock.t; });
  button.wait_for_press({"backup of device 8f38 to /tmp/x.bak", 5s});
  EXPECT_EQ(clock.elapsed(), 2530ms);
  EXPECT_TRUE(released);
  EXPECT_EQ(seen.chip, "gpiochip0");
  EXPECT_EQ(seen.line, 17u);
  EXPECT_EQ(out.str(),
            "Waiting for the button: backup of device 8f38 to /tmp/x.bak. Press the button on "
            "line 17 of GPIO chip gpiochip0 within 5 s.\n");
}

TEST(GpioButton, TimeoutThrowsAndReleasesTheLine) {
  SimClock clock;
  bool released = false;
  std::ostringstream out;
  GpioButton button(
      parse_gpio_spec("gpio:gpiochip0:4:rising"), out,
      [&](const GpioSpec&) {
        return std::make_unique<FakeLine>(
            clock, 0, std::vector<std::pair<int, int>>{{100, 1}, {110, 0}}, &released);
      },
      [&clock] { return clock.t; });
  try {
    button.wait_for_press({"restore of /tmp/x.bak", 60s});
    FAIL() << "no exception";
  } catch (const TimeoutError& e) {
    EXPECT_STREQ(e.what(), "no button press within 60 s: nothing was written");
  }
  EXPECT_EQ(clock.elapsed(), 60s);
  EXPECT_TRUE(released);
}

TEST(GpioButton, LineSetupErrorsPassThrough) {
  std::ostringstream out;
  GpioButton button(parse_gpio_spec("gpio:gpiochip0:4"), out,
                    [](const GpioSpec&) -> std::unique_ptr<LineSource> {
                      throw UsageError("GPIO chip 'gpiochip0' has no line 4");
                    });
  EXPECT_THROW(button.wait_for_press({"x", 5s}), UsageError);
  EXPECT_EQ(out.str(), "");  // nothing claimed to wait
}

TEST(GpiodLineSource, UnknownChipIsAUsageError) {
  try {
    open_gpiod_line("twinhsm-no-such-chip", 0);
    FAIL() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open GPIO chip 'twinhsm-no-such-chip'"),
              std::string::npos)
        << e.what();
  }
}

TEST(GpiodLineSource, MakeButtonWithAnUnknownChipFailsWhenItWaits) {
  std::ostringstream out;
  auto button = make_button("gpio:twinhsm-no-such-chip:3", "/tmp", false, out);
  EXPECT_THROW(button->wait_for_press({"x", 1s}), UsageError);
}

}  // namespace
}  // namespace twinhsm::button
