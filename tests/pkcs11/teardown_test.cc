// The module at process exit (issue 13, item 1): p11_teardown_app (teardown_app.cc) uses the
// module, then calls it from its exit handlers, from OpenSSL's clean-up, after an explicit
// OPENSSL_cleanup, from a forked child, and after an unload. Each must exit with status 0: no
// crash, and every call answered as docs/architecture.md (Teardown) says.
#include <gtest/gtest.h>

#include "process.h"
#include "temp_device.h"

namespace twinhsm::test {
namespace {

class TeardownTest : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() {
    device_ = new TempDevice();
    device_->use_config();
  }
  static void TearDownTestSuite() {
    delete device_;
    device_ = nullptr;
  }
  static TempDevice* device_;
};

TempDevice* TeardownTest::device_ = nullptr;

TEST_P(TeardownTest, ExitsCleanly) {
  CommandResult r = run_command({P11_TEARDOWN_APP_PATH, GetParam(), device_->user_pin()});
  EXPECT_EQ(0, r.exit_code) << r.describe() << "\nstdout:\n" << r.out;
}

INSTANTIATE_TEST_SUITE_P(Modes, TeardownTest,
                         ::testing::Values("atexit-before", "atexit-after", "openssl-atexit",
                                           "openssl-cleanup", "fork-quiet", "fork-calls", "unload"),
                         [](const auto& mode) {
                           std::string name = mode.param;
                           std::erase(name, '-');
                           return name;
                         });

}  // namespace
}  // namespace twinhsm::test
