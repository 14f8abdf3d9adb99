// Running commands from tests: run_command forks, execs argv[0] (a path, not searched in PATH)
// with the current environment, and returns its exit code and everything it wrote.
#pragma once

#include <string>
#include <vector>

namespace twinhsm::test {

struct CommandResult {
  // The exit status; 128 + signal number when the child was killed by a signal; -1 when it
  // could not be started (err then says why).
  int exit_code = -1;
  std::string out;
  std::string err;
  bool ok() const { return exit_code == 0; }
  // describe gives "exit N, stderr: ..." for failure messages.
  std::string describe() const;
};

// run_command runs argv (argv[0] is a path) and waits for it. The child's stdin is an empty pipe,
// or holds stdin_data when given (small inputs only: it must fit in a pipe buffer).
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::string* stdin_data = nullptr);

// cli_path and module_path are the built `twinhsm` binary and libtwinhsm.so (compile definitions
// TWINHSM_CLI_PATH and TWINHSM_MODULE_PATH; the environment variables of the same names override).
std::string cli_path();
std::string module_path();

// run_cli runs the twinhsm binary with args.
CommandResult run_cli(const std::vector<std::string>& args);

}  // namespace twinhsm::test
