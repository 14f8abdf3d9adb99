// restore_killed_after DEVICE FILE N: restores FILE onto DEVICE as `twinhsm backup restore
// --force` does (after the device's button, insecure-auto on the test's device) and kills itself
// with SIGKILL once N records are written, before the commit: tests/e2e/backup_test.sh checks
// that the device is then exactly as it was. The library has no such hook; this test injects it
// through restore's observer.
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "backup/reader.h"
#include "backup/restore.h"
#include "device/device.h"

int main(int argc, char** argv) {
  using namespace twinhsm;
  if (argc != 4) {
    std::cerr << "usage: restore_killed_after DEVICE FILE N\n";
    return 2;
  }
  try {
    uint64_t kill_at = std::strtoull(argv[3], nullptr, 10);
    auto device = device::Device::open(argv[1]);
    backup::BackupReader reader(argv[2]);
    backup::check_restorable(*device, reader);
    button::Press press = device->wait_for_press("a restore killed half-way", std::cerr);
    backup::restore(*device, reader, std::move(press), [kill_at](uint64_t written) {
      if (written == kill_at) {
        std::raise(SIGKILL);
      }
    });
  } catch (const std::exception& e) {
    std::cerr << "restore_killed_after: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
