// Swtpm is a TPM 2.0 simulator for tests: Debian's swtpm (libtpms) started on two free loopback
// ports (commands on port(), its control channel on port() + 1) with a state directory of its
// own, as the README's tests need no hardware TPM. It is stopped when the Swtpm is destroyed, and
// killed with the test process should that die first (PR_SET_PDEATHSIG), so no simulator outlives
// its test.
//
//   Swtpm tpm;                                   // running, fresh state
//   run_cli({"factory", "personalize", ..., "--secure-element", "tpm:" + tpm.tcti()});
//
// Throws std::runtime_error when swtpm cannot be started.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "temp_device.h"

namespace twinhsm::test {

class Swtpm {
 public:
  // state_dir empty: a private temporary directory, removed with the Swtpm.
  explicit Swtpm(std::filesystem::path state_dir = {});
  ~Swtpm();
  Swtpm(const Swtpm&) = delete;
  Swtpm& operator=(const Swtpm&) = delete;

  // tcti is the tpm2-tss TCTI string that reaches it: "swtpm:host=127.0.0.1,port=N".
  std::string tcti() const;
  uint16_t port() const { return port_; }
  const std::filesystem::path& state_dir() const { return state_dir_; }
  bool running() const { return pid_ > 0; }

  // stop ends the simulator (its state stays in state_dir); start runs it again on the same
  // state (new ports if the old ones were taken meanwhile).
  void stop();
  void start();

 private:
  std::unique_ptr<TempDir> owned_dir_;
  std::filesystem::path state_dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace twinhsm::test
