#include "crypto/dump_protection.h"

#include <sys/prctl.h>

#include <mutex>

namespace twinhsm::crypto {
namespace {

std::mutex g_mutex;
int g_holders = 0;
int g_before = 1;  // PR_GET_DUMPABLE before the first holder

}  // namespace

DumpProtection::DumpProtection() {
  std::lock_guard lock(g_mutex);
  if (g_holders++ == 0) {
    int state = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    g_before = state < 0 ? 1 : state;
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);  // cannot fail with 0
  }
}

DumpProtection::~DumpProtection() {
  std::lock_guard lock(g_mutex);
  if (--g_holders == 0 && g_before != 0) {
    (void)prctl(PR_SET_DUMPABLE, g_before == 2 ? 1 : g_before, 0, 0, 0);
  }
}

bool is_process_dumpable() noexcept {
  return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0;
}

}  // namespace twinhsm::crypto
