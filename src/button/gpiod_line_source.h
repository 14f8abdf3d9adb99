// A LineSource on a real GPIO line, through libgpiod v1 (the only file that includes gpiod.h).
#pragma once

#include <memory>
#include <string>

#include "button/gpio_button.h"

namespace twinhsm::button {

// open_gpiod_line requests line `line` of chip `chip` (a name such as gpiochip0, a path, a label
// or a number, as gpiod_chip_open_lookup takes it) for events on both edges, as consumer
// "twinhsm-button". The line is released when the returned source is destroyed. Throws
// UsageError if the chip cannot be opened, has no such line, or the line is in use.
std::unique_ptr<LineSource> open_gpiod_line(const std::string& chip, unsigned line);

}  // namespace twinhsm::button
