// Twins of either backend: devices personalized with one factory master key and one diversifier
// hold the same DBK, on a TPM or in a file, so a backup of any of them restores on any other —
// objects, and the PINs valid when it was made — while a device of another pair refuses it.
// Two swtpm instances stand for two machines' TPMs. Backups go through the `twinhsm` command
// (insecure-auto button), objects through libtwinhsm.so.
#include <gtest/gtest.h>

#include "tpm_fixture.h"

namespace twinhsm::test {
namespace {

namespace fs = std::filesystem;

class TpmTwinsTest : public ::testing::Test {
 protected:
  Swtpm machine_a_, machine_b_;
  TempDir backups_;

  fs::path backup(const TempDevice& from, const std::string& name) {
    fs::path file = backups_.path() / name;
    cli({"backup", "create", "--device", from.dir().string(), "-o", file.string()});
    return file;
  }
  void restore(const TempDevice& onto, const fs::path& file) {
    cli({"backup", "restore", "--device", onto.dir().string(), file.string(), "--force"});
  }
};

DeviceOptions uninitialized(DeviceOptions o) {
  o.init_token = false;
  return o;
}

TEST_F(TpmTwinsTest, BackupsRestoreBetweenTpmTwinsAndFileTwins) {
  TempDevice tpm_a(tpm_options(machine_a_));
  TempDevice tpm_b(tpm_a, uninitialized(tpm_options(machine_b_)));
  TempDevice file_c(tpm_a, uninitialized(file_options()));
  const std::string pin = tpm_a.user_pin();
  put_object(tpm_a.dir(), pin, "made-on", "tpm-a");

  // TPM -> TPM twin, TPM -> file twin.
  fs::path from_a = backup(tpm_a, "a.twb");
  restore(tpm_b, from_a);
  EXPECT_EQ(read_objects(tpm_b.dir(), pin), std::vector<std::string>{"made-on=tpm-a"});
  restore(file_c, from_a);
  EXPECT_EQ(read_objects(file_c.dir(), pin), std::vector<std::string>{"made-on=tpm-a"});

  // file -> TPM, and TPM B -> TPM A: each twin's additions travel.
  put_object(file_c.dir(), pin, "then", "file-c");
  restore(tpm_a, backup(file_c, "c.twb"));
  EXPECT_EQ(read_objects(tpm_a.dir(), pin),
            (std::vector<std::string>{"made-on=tpm-a", "then=file-c"}));
  put_object(tpm_b.dir(), pin, "and", "tpm-b");
  restore(tpm_a, backup(tpm_b, "b.twb"));
  EXPECT_EQ(read_objects(tpm_a.dir(), pin),
            (std::vector<std::string>{"and=tpm-b", "made-on=tpm-a"}));

  // Each restored TPM device still refuses a wrong PIN and counts it in its TPM.
  std::string why;
  EXPECT_EQ(read_objects(tpm_a.dir(), "not-the-pin", &why), std::nullopt);
  EXPECT_EQ(why, "CKR_PIN_INCORRECT");
}

TEST_F(TpmTwinsTest, ADeviceOfAnotherPairRefuses) {
  TempDevice tpm_a(tpm_options(machine_a_));
  put_object(tpm_a.dir(), tpm_a.user_pin(), "x", "1");
  fs::path file = backup(tpm_a, "a.twb");

  TempDevice other_pair(tpm_a, uninitialized(tpm_options(machine_b_, "another-pair")));
  std::string err =
      cli_fails({"backup", "restore", "--device", other_pair.dir().string(), file.string()});
  EXPECT_NE(err.find("only the same device or its twin can restore it"), std::string::npos) << err;

  // Same diversifier, another factory's master key: the TPM derives another KEK.
  TempDevice impostor(uninitialized(tpm_options(machine_b_)));
  err = cli_fails({"backup", "verify", "--device", impostor.dir().string(), file.string()});
  EXPECT_NE(err.find("this device cannot open the backup"), std::string::npos) << err;
  err = cli_fails({"backup", "restore", "--device", impostor.dir().string(), file.string()});
  EXPECT_NE(err.find("this device cannot open the backup"), std::string::npos) << err;
  EXPECT_EQ(cli({"device", "info", "--device", impostor.dir().string(), "--json"})
                .find("\"initialized\": true"),
            std::string::npos)
      << "the refused restore changed the device";
}

}  // namespace
}  // namespace twinhsm::test
