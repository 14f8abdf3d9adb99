#include "cli/pin_input.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "common/error.h"

namespace twinhsm::cli {

namespace {

crypto::SecureBytes prompt_tty(const std::string& prompt, const std::string& option) {
  int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    throw UsageError("no PIN given and no terminal to ask on: use --" + option + ", --" + option +
                     "-file or --" + option + "-env");
  }
  std::string text = prompt + ": ";
  (void)!::write(fd, text.data(), text.size());
  termios old{};
  bool restore = ::tcgetattr(fd, &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  crypto::SecureBytes pin;
  pin.reserve(256);
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n' && c != '\r') {
    pin.push_back(static_cast<uint8_t>(c));
  }
  c = 0;
  if (restore) {
    ::tcsetattr(fd, TCSAFLUSH, &old);
  }
  (void)!::write(fd, "\n", 1);
  ::close(fd);
  return pin;
}

}  // namespace

void add_pin_options(CLI::App* cmd, PinSource& s, const std::string& what) {
  cmd->add_option("--" + s.name, s.value,
                  what + " (visible to other users in ps: prefer the file or env forms)");
  cmd->add_option("--" + s.name + "-file", s.file, what + ", read from the first line of FILE");
  cmd->add_option("--" + s.name + "-env", s.env, what + ", read from environment variable VAR");
}

crypto::SecureBytes read_pin(PinSource& s, const std::string& prompt) {
  crypto::SecureBytes pin;
  if (!s.value.empty()) {
    pin = crypto::secure_copy(s.value);
    crypto::cleanse(s.value.data(), s.value.size());
  } else if (!s.file.empty()) {
    std::ifstream in(s.file);
    if (!in) {
      throw UsageError("cannot read the PIN file " + s.file);
    }
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    pin = crypto::secure_copy(line);
    crypto::cleanse(line.data(), line.size());
  } else if (!s.env.empty()) {
    const char* v = std::getenv(s.env.c_str());
    if (!v) {
      throw UsageError("the environment variable " + s.env + " (--" + s.name + "-env) is not set");
    }
    pin = crypto::secure_copy(std::string_view(v));
  } else {
    pin = prompt_tty(prompt, s.name);
  }
  if (pin.empty()) {
    throw UsageError("the " + s.name + " is empty");
  }
  return pin;
}

}  // namespace twinhsm::cli
