// DumpProtection marks the process undumpable (prctl PR_SET_DUMPABLE 0) while at least one
// exists: no core file is written, and other processes of the same user can neither ptrace it
// nor read /proc/PID/mem. The token holds one while a role is logged in (the storage key and
// parsed private keys are in memory), the twinhsm command for its whole run (PINs, the OTK).
// When the last one goes, the process gets back the state it had before the first. Thread safe.
#pragma once

namespace twinhsm::crypto {

class DumpProtection {
 public:
  DumpProtection();
  ~DumpProtection();
  DumpProtection(const DumpProtection&) = delete;
  DumpProtection& operator=(const DumpProtection&) = delete;
};

// is_process_dumpable is prctl(PR_GET_DUMPABLE) != 0 (for tests and `twinhsm device info`).
bool is_process_dumpable() noexcept;

}  // namespace twinhsm::crypto
