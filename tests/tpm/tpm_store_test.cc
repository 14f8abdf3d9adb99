// Rollback and deletion on a TPM device: the store is anchored to the TPM's NV counter
// (store/anchor.h), so what per-row MACs cannot see is refused with a clear error — an older
// store.db put back, an object row deleted, an older version of a row put back (an object, the
// roles row with its failure counter, a TPM PIN record) — and a restore of a backup, after its
// button, is the way back. The same edits go unnoticed on a file device, as docs/threat-model.md
// says: each test shows that too, so that it shows the anchor at work, not another check.
#include <gtest/gtest.h>

#include "tpm_fixture.h"

namespace twinhsm::test {
namespace {

namespace fs = std::filesystem;

class TpmStoreTest : public ::testing::Test {
 protected:
  Swtpm tpm_;
  TempDevice tpm_dev_{tpm_options(tpm_)};
  TempDevice file_dev_{file_options()};

  // refused: the device no longer opens, with message; the module shows no token.
  void expect_refused(const TempDevice& dev, const std::string& message) {
    std::string err = cli_fails({"device", "info", "--device", dev.dir().string()});
    EXPECT_NE(err.find(message), std::string::npos) << err;
    EXPECT_NE(err.find("restore a backup"), std::string::npos) << err;
    std::string why;
    EXPECT_EQ(read_objects(dev.dir(), dev.user_pin(), &why), std::nullopt);
    EXPECT_EQ(why, "CKR_TOKEN_NOT_PRESENT");
  }
  // both runs an attack on both devices.
  template <class Attack>
  void both(Attack attack) {
    attack(tpm_dev_);
    attack(file_dev_);
  }
};

TEST_F(TpmStoreTest, AnOlderStorePutBackIsRefused) {
  both([](const TempDevice& d) {
    put_object(d.dir(), d.user_pin(), "first", "1");
    save_store(d.dir(), "older.db");
    put_object(d.dir(), d.user_pin(), "second", "2");
    put_back_store(d.dir(), "older.db");
  });
  expect_refused(tpm_dev_, "older than its TPM counter");
  EXPECT_EQ(read_objects(file_dev_.dir(), file_dev_.user_pin()),
            std::vector<std::string>{"first=1"})
      << "a file device takes the older store";
}

TEST_F(TpmStoreTest, ADeletedObjectRowIsRefused) {
  both([](const TempDevice& d) {
    put_object(d.dir(), d.user_pin(), "kept", "1");
    put_object(d.dir(), d.user_pin(), "deleted", "2");
    sql(d.dir(), "DELETE FROM objects WHERE id = (SELECT MAX(id) FROM objects)");
  });
  expect_refused(tpm_dev_, "an object row was deleted");
  EXPECT_EQ(read_objects(file_dev_.dir(), file_dev_.user_pin()),
            std::vector<std::string>{"kept=1"});
}

TEST_F(TpmStoreTest, AnOlderObjectRowPutBackIsRefused) {
  both([](const TempDevice& d) {
    put_object(d.dir(), d.user_pin(), "old-label", "1");
    save_store(d.dir(), "older.db");
    relabel(d.dir(), d.user_pin(), "old-label", "new-label");
    sql(d.dir(), "ATTACH '" + (d.dir() / "older.db").string() +
                     "' AS old;"
                     "DELETE FROM objects; INSERT INTO objects SELECT * FROM old.objects;");
  });
  expect_refused(tpm_dev_, "an object row was deleted or an older copy put back");
  EXPECT_EQ(read_objects(file_dev_.dir(), file_dev_.user_pin()),
            std::vector<std::string>{"old-label=1"});
}

TEST_F(TpmStoreTest, AnOlderRolesRowThatResetsTheFailureCounterIsRefused) {
  both([](const TempDevice& d) {
    save_store(d.dir(), "older.db");
    EXPECT_EQ(read_objects(d.dir(), "wrong-pin-1"), std::nullopt);
    EXPECT_EQ(read_objects(d.dir(), "wrong-pin-2"), std::nullopt);
    sql(d.dir(), "ATTACH '" + (d.dir() / "older.db").string() +
                     "' AS old;"
                     "DELETE FROM roles; INSERT INTO roles SELECT * FROM old.roles;");
  });
  expect_refused(tpm_dev_, "login data or PIN records differ");
  std::string info = cli({"device", "info", "--device", file_dev_.dir().string(), "--json"});
  EXPECT_NE(info.find("\"user_pin_failures\": 0"), std::string::npos)
      << "the file device's counter was reset";
}

TEST_F(TpmStoreTest, ADeletedTpmPinRecordIsRefused) {
  sql(tpm_dev_.dir(), "DELETE FROM device_state WHERE key = 'pin_guard.user'");
  expect_refused(tpm_dev_, "login data or PIN records differ");
}

TEST_F(TpmStoreTest, RestoringABackupIsTheWayBack) {
  put_object(tpm_dev_.dir(), tpm_dev_.user_pin(), "in-backup", "1");
  TempDir backups;
  fs::path file = backups.path() / "b.twb";
  cli({"backup", "create", "--device", tpm_dev_.dir().string(), "-o", file.string()});
  save_store(tpm_dev_.dir(), "older.db");
  put_object(tpm_dev_.dir(), tpm_dev_.user_pin(), "after", "2");
  put_back_store(tpm_dev_.dir(), "older.db");
  expect_refused(tpm_dev_, "older than its TPM counter");
  cli({"backup", "restore", "--device", tpm_dev_.dir().string(), file.string(), "--force"});
  EXPECT_EQ(read_objects(tpm_dev_.dir(), tpm_dev_.user_pin()),
            std::vector<std::string>{"in-backup=1"});
  put_object(tpm_dev_.dir(), tpm_dev_.user_pin(), "and-on", "3");
  EXPECT_EQ(read_objects(tpm_dev_.dir(), tpm_dev_.user_pin()),
            (std::vector<std::string>{"and-on=3", "in-backup=1"}));
}

}  // namespace
}  // namespace twinhsm::test
