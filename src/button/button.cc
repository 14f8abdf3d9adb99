// make_button: from a backend spec to a Button. The backends are in their own files.
#include "button/button.h"

#include <ostream>

#include "button/detail.h"
#include "button/gpio_button.h"
#include "button/insecure_auto_button.h"
#include "button/socket_button.h"
#include "button/tty_button.h"

namespace twinhsm::button {

void InsecureAutoButton::wait(const Request& request) {
  out_ << "twinhsm: warning: insecure-auto button: " << detail::printable(request.action)
       << " authorized without a press (test devices only)" << std::endl;
}

void validate_spec(const std::string& spec) {
  if (spec == "socket" || spec == "tty" || spec == "insecure-auto") {
    return;
  }
  if (spec.rfind("gpio:", 0) == 0) {
    parse_gpio_spec(spec);
    return;
  }
  throw UsageError("unknown button backend '" + detail::printable(spec) +
                   "': use socket, tty, gpio:CHIP:LINE[:rising|falling] (e.g. gpio:gpiochip0:17) "
                   "or insecure-auto");
}

std::unique_ptr<Button> make_button(const std::string& spec,
                                    const std::filesystem::path& device_dir,
                                    bool insecure_auto_allowed, std::ostream& out) {
  if (spec == "socket") {
    return std::make_unique<SocketButton>(device_dir, out);
  }
  if (spec == "tty") {
    return std::make_unique<TtyButton>(out);
  }
  if (spec.rfind("gpio:", 0) == 0) {
    return std::make_unique<GpioButton>(parse_gpio_spec(spec), out);
  }
  if (spec == "insecure-auto") {
    if (!insecure_auto_allowed) {
      throw UsageError(
          "the insecure-auto button is allowed only on a device personalized with it; choose "
          "socket, tty or gpio:CHIP:LINE");
    }
    return std::make_unique<InsecureAutoButton>(out);
  }
  validate_spec(spec);  // throws: nothing else is a button
  throw UsageError("unknown button backend '" + detail::printable(spec) + "'");
}

}  // namespace twinhsm::button
