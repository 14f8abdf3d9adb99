// A device personalized on a TPM (swtpm), through the `twinhsm` command: what device info shows,
// the personalize options, what the directory holds (nothing that opens a PIN), and what a copy
// of it is worth without its TPM — nothing, even with the right PINs — while the offline PIN
// search that breaks a copied file device finds nothing.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/bytes.h"
#include "crypto/kdf.h"
#include "crypto/keywrap.h"
#include "device/device_keys.h"
#include "device/secure_element.h"
#include "tpm_fixture.h"

namespace twinhsm::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class TpmDeviceTest : public ::testing::Test {
 protected:
  Swtpm tpm_;
};

json info(const fs::path& dir) {
  return json::parse(cli({"device", "info", "--device", dir.string(), "--json"}));
}

TEST_F(TpmDeviceTest, DeviceInfoNamesTheBackendTheTpmAndItsCounter) {
  TempDevice dev(tpm_options(tpm_));
  json j = info(dev.dir());
  for (const char* field : {"device", "serial", "diversifier", "dbk_fingerprint",
                            "firmware_key_is_development", "token", "objects", "settings"}) {
    EXPECT_TRUE(j.contains(field)) << field;
  }
  const json& se = j["secure_element"];
  EXPECT_EQ(se["backend"], "tpm");
  EXPECT_EQ(se["tcti"], tpm_.tcti());
  EXPECT_EQ(se["tpm_manufacturer"], "IBM");
  EXPECT_FALSE(se["tpm_firmware"].get<std::string>().empty());
  EXPECT_EQ(se["nv_index"].get<std::string>().rfind("0x013", 0), 0u) << se["nv_index"];
  EXPECT_EQ(se["dictionary_attack"]["max_tries"], 3);
  EXPECT_EQ(j["token"]["initialized"], true);
  std::string text = cli({"device", "info", "--device", dev.dir().string()});
  EXPECT_NE(text.find("secure element:      TPM IBM"), std::string::npos) << text;

  TempDevice file(file_options());
  EXPECT_EQ(info(file.dir())["secure_element"]["backend"], "file");
  text = cli({"device", "info", "--device", file.dir().string()});
  EXPECT_NE(text.find("secure element:      file (simulated, for development and tests"),
            std::string::npos)
      << text;
}

TEST_F(TpmDeviceTest, EveryPersonalizeOptionWorksOnATpm) {
  TempDir root;
  fs::path master = root.path() / "master.key", dir = root.path() / "device";
  cli({"factory", "new-master-key", "-o", master.string()});
  cli({"factory",
       "personalize",
       "--device",
       dir.string(),
       "--master-key",
       master.string(),
       "--diversifier",
       "options",
       "--serial",
       "SERIAL-7",
       "--pbkdf2-iterations",
       "2000",
       "--max-login-failures",
       "7",
       "--button",
       "tty",
       "--button-timeout",
       "30",
       "--secure-element",
       "tpm:" + tpm_.tcti()});
  json j = info(dir);
  EXPECT_EQ(j["serial"], "SERIAL-7");
  EXPECT_EQ(j["diversifier"], "options");
  EXPECT_EQ(j["settings"]["pbkdf2_iterations"], 2000);
  EXPECT_EQ(j["settings"]["max_login_failures"], 7);
  EXPECT_EQ(j["settings"]["button"], "tty");
  EXPECT_EQ(j["settings"]["button_timeout_seconds"], 30);
  EXPECT_EQ(j["secure_element"]["backend"], "tpm");
}

TEST_F(TpmDeviceTest, BadSecureElementsAreRefusedAndLeaveNothing) {
  TempDir root;
  fs::path master = root.path() / "master.key", dir = root.path() / "device";
  cli({"factory", "new-master-key", "-o", master.string()});
  auto personalize = [&](const std::string& se) {
    return cli_fails({"factory", "personalize", "--device", dir.string(), "--master-key",
                      master.string(), "--diversifier", "p", "--secure-element", se});
  };
  EXPECT_NE(personalize("tpm").find("use file, or tpm:TCTI"), std::string::npos);
  EXPECT_NE(personalize("tpm:").find("use file, or tpm:TCTI"), std::string::npos);
  Swtpm gone;
  std::string unreachable = gone.tcti();
  gone.stop();
  std::string err = personalize("tpm:" + unreachable);
  EXPECT_NE(err.find("TPM"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one line: " << err;
  EXPECT_FALSE(fs::exists(dir)) << "personalize failed but left the device directory";
}

// Every file of dir, as bytes.
std::string all_files(const fs::path& dir) {
  std::string all;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      all += read_file(entry.path());
    }
  }
  return all;
}

// The secrets of a device personalized from master with diversifier, as a file device derives
// them: the DBK, the device root FK || DBK, and the four device keys.
std::vector<std::pair<std::string, Bytes>> device_secrets(const fs::path& master,
                                                          const std::string& diversifier) {
  std::string hex = read_file(master).substr(0, 64);
  crypto::SecureBytes dbk = device::derive_dbk(from_hex(hex), diversifier);
  crypto::SecureBytes root = device::device_root(dbk);
  std::vector<std::pair<std::string, Bytes>> out = {{"DBK", Bytes(dbk.begin(), dbk.end())},
                                                    {"FK || DBK", Bytes(root.begin(), root.end())}};
  for (const char* label : {"twinhsm row authentication key v1", "twinhsm login secret v1",
                            "twinhsm public object key v1", "twinhsm public index key v1"}) {
    crypto::SecureBytes k = crypto::kbkdf_counter_hmac_sha256(root, label, ByteView(), 32);
    out.emplace_back(label, Bytes(k.begin(), k.end()));
  }
  return out;
}

TEST_F(TpmDeviceTest, TheDirectoryHoldsNoDbkAndNoDeviceKey) {
  TempDevice tpm_dev(tpm_options(tpm_));
  put_object(tpm_dev.dir(), tpm_dev.user_pin(), "secret-label", "secret-value");
  TempDevice file_dev(file_options());
  std::string tpm_files = all_files(tpm_dev.dir()), file_files = all_files(file_dev.dir());
  auto holds = [](const std::string& files, const Bytes& secret) {
    std::string raw(secret.begin(), secret.end());
    return files.find(raw) != std::string::npos || files.find(to_hex(secret)) != std::string::npos;
  };
  for (const auto& [name, secret] :
       device_secrets(tpm_dev.master_key(), tpm_dev.options().diversifier)) {
    EXPECT_FALSE(holds(tpm_files, secret)) << "the TPM device's directory holds its " << name;
  }
  // The same search finds the DBK in a file device's directory: it would find it here.
  auto file_secrets = device_secrets(file_dev.master_key(), file_dev.options().diversifier);
  EXPECT_TRUE(holds(file_files, file_secrets[0].second));
}

// read_user_role returns the user's roles row: salt, iterations, wrapped SK.
struct RoleRow {
  Bytes salt, wrapped_sk;
  uint32_t iterations = 0;
};
RoleRow read_user_role(const fs::path& dir) {
  RoleRow r;
  sqlite3* db = nullptr;
  sqlite3_open_v2((dir / "store.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT salt, iterations, wrapped_sk FROM roles WHERE role = 1", -1, &st,
                     nullptr);
  if (sqlite3_step(st) == SQLITE_ROW) {
    auto blob = [&](int i) {
      auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(st, i));
      return Bytes(p, p + sqlite3_column_bytes(st, i));
    };
    r.salt = blob(0);
    r.iterations = static_cast<uint32_t>(sqlite3_column_int64(st, 1));
    r.wrapped_sk = blob(2);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return r;
}

// offline_pin_search is the attack of issue 15 on a copy of a device directory, with the public
// development firmware key: every 32 bytes of the secure element file (hex fields decoded) taken
// as the DBK, every PIN of the list tried against the user's wrapped SK, one PBKDF2 each, no
// device and no failure counter involved. Returns the PIN found.
std::optional<std::string> offline_pin_search(const fs::path& dir,
                                              const std::vector<std::string>& pins) {
  std::vector<Bytes> dbks;
  std::istringstream lines(read_file(dir / "secure-element"));
  std::string line;
  while (std::getline(lines, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    Bytes value;
    try {
      value = from_hex(line.substr(eq + 1));
    } catch (const UsageError&) {
      continue;
    }
    for (size_t at = 0; at + 32 <= value.size(); ++at) {
      dbks.emplace_back(value.begin() + static_cast<long>(at),
                        value.begin() + static_cast<long>(at + 32));
    }
  }
  RoleRow role = read_user_role(dir);
  for (const std::string& pin : pins) {
    crypto::SecureBytes p =
        crypto::pbkdf2_hmac_sha256(as_bytes(pin), role.salt, role.iterations, 32);
    for (const Bytes& dbk : dbks) {
      crypto::SecureBytes root = device::device_root(dbk);
      crypto::SecureBytes input = p;
      crypto::SecureBytes login_secret =
          crypto::kbkdf_counter_hmac_sha256(root, "twinhsm login secret v1", ByteView(), 32);
      input.insert(input.end(), login_secret.begin(), login_secret.end());
      crypto::SecureBytes kek =
          crypto::kbkdf_counter_hmac_sha256(input, "twinhsm role kek v1", as_bytes("user"), 32);
      try {
        crypto::aes_key_unwrap(kek, role.wrapped_sk);
        return pin;
      } catch (const IntegrityError&) {
      }
    }
  }
  return std::nullopt;
}

TEST_F(TpmDeviceTest, TheOfflinePinSearchThatBreaksAFileDeviceFindsNothing) {
  TempDevice file_dev(file_options());
  TempDevice tpm_dev(tpm_options(tpm_));
  std::vector<std::string> pins = {"0000", "1234", "letmein", file_dev.user_pin(), "password"};
  EXPECT_EQ(offline_pin_search(file_dev.dir(), pins), file_dev.user_pin())
      << "the attack works on a file device";
  EXPECT_EQ(offline_pin_search(tpm_dev.dir(), pins), std::nullopt);
}

TEST_F(TpmDeviceTest, ACopyWithoutItsTpmOpensNothingEvenWithTheRightPins) {
  TempDevice dev(tpm_options(tpm_));
  put_object(dev.dir(), dev.user_pin(), "a", "1");
  ASSERT_EQ(read_objects(dev.dir(), dev.user_pin()), std::vector<std::string>{"a=1"});
  TempDir copies;
  fs::path on_other_tpm = copies.path() / "other", state_gone = copies.path() / "gone";
  copy_device(dev.dir(), on_other_tpm);
  copy_device(dev.dir(), state_gone);

  Swtpm other;  // another machine's TPM
  retarget(on_other_tpm, other.tcti());
  std::string why;
  EXPECT_EQ(read_objects(on_other_tpm, dev.user_pin(), &why), std::nullopt);
  EXPECT_EQ(why, "CKR_TOKEN_NOT_PRESENT");
  std::string err = cli_fails({"device", "info", "--device", on_other_tpm.string()});
  EXPECT_NE(err.find("made by another TPM"), std::string::npos) << err;
  cli_fails({"token", "set-pin", "--device", on_other_tpm.string(), "--pin", dev.user_pin(),
             "--new-pin", "new-pin-1"});

  // The same TPM, its state gone (cleared, or the machine's TPM replaced).
  tpm_.stop();
  for (const auto& entry : fs::directory_iterator(tpm_.state_dir())) {
    fs::remove_all(entry.path());
  }
  tpm_.start();
  retarget(state_gone, tpm_.tcti());
  EXPECT_EQ(read_objects(state_gone, dev.user_pin(), &why), std::nullopt);
  err = cli_fails({"objects", "list", "--device", state_gone.string(), "--pin", dev.user_pin()});
  EXPECT_NE(err.find("TPM"), std::string::npos) << err;
}

}  // namespace
}  // namespace twinhsm::test
