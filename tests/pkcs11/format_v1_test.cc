// The first formats, still read (issue 13): a backup of version 1 and a device whose store holds
// host-native attributes (tests/data/format-v1, made by twinhsm before the portable encoding)
// restore, open and work; the device rewrites its rows in the portable encoding; a version-2
// backup of it round-trips to another twin. Through the command and the module.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "module.h"
#include "ossl.h"
#include "p11.h"
#include "process.h"
#include "temp_device.h"

namespace twinhsm::test {
namespace {

namespace fs = std::filesystem;

const fs::path kFixture = fs::path(TWINHSM_TEST_DATA) / "format-v1";

Bytes file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A twin of the fixture's device: same factory master key and diversifier.
DeviceOptions twin_options() {
  DeviceOptions o;
  o.diversifier = "v1-fixture";
  o.button = "insecure-auto";
  o.init_token = false;
  o.master_key = kFixture / "master.key";
  return o;
}

// check_fixture_objects logs in through the module on slot 0 and checks the fixture's objects.
void check_fixture_objects() {
  Module m;
  ASSERT_CKR(CKR_OK, m->C_Initialize(nullptr));
  CK_SESSION_HANDLE s;
  ASSERT_CKR(CKR_OK,
             m->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s));
  // Public objects before the login: found by class and label (index tags of either encoding).
  Template pub_data;
  pub_data.ulong(CKA_CLASS, CKO_DATA).str(CKA_LABEL, "v1-public-data");
  auto found = find_all(m.v3(), s, pub_data);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(attr_bytes(m.v3(), s, found[0], CKA_VALUE), file_bytes(kFixture / "data.txt"));
  std::string pin = "user-pin-v1";
  ASSERT_CKR(CKR_OK,
             m->C_Login(s, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(pin.data()), pin.size()));
  EXPECT_EQ(find_all(m.v3(), s).size(), 5u);
  Template priv_data;
  priv_data.ulong(CKA_CLASS, CKO_DATA).str(CKA_LABEL, "v1-private-data");
  found = find_all(m.v3(), s, priv_data);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(attr_bytes(m.v3(), s, found[0], CKA_VALUE), file_bytes(kFixture / "data.txt"));
  Template aes;
  aes.ulong(CKA_CLASS, CKO_SECRET_KEY).str(CKA_LABEL, "v1-aes");
  found = find_all(m.v3(), s, aes);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(attr_ulong(m.v3(), s, found[0], CKA_KEY_TYPE), CKK_AES);
  EXPECT_EQ(attr_ulong(m.v3(), s, found[0], CKA_VALUE_LEN), 32u);
  EXPECT_EQ(attr_bytes(m.v3(), s, found[0], CKA_VALUE), file_bytes(kFixture / "aes.key"));
  // The EC key still signs, and the fixture's public key verifies it.
  Template ec;
  ec.ulong(CKA_CLASS, CKO_PRIVATE_KEY).str(CKA_LABEL, "v1-ec");
  found = find_all(m.v3(), s, ec);
  ASSERT_EQ(found.size(), 1u);
  CK_MECHANISM ecdsa{CKM_ECDSA_SHA256, nullptr, 0};
  Bytes data = to_bytes("signed after the format change");
  ASSERT_CKR(CKR_OK, m->C_SignInit(s, &ecdsa, found[0]));
  Bytes sig(64);
  CK_ULONG len = sig.size();
  ASSERT_CKR(CKR_OK, m->C_Sign(s, data.data(), data.size(), sig.data(), &len));
  ossl::PKey pub = ossl::pkey_from_spki(file_bytes(kFixture / "ec.pub.der"));
  ASSERT_TRUE(pub);
  EXPECT_TRUE(ossl::verify(pub.get(), {ossl::Scheme::ecdsa, "SHA256"}, data, sig));
}

TEST(FormatV1Test, AVersion1BackupVerifiesRestoresAndRoundTripsAsVersion2) {
  TempDevice twin(twin_options());
  fs::path v1 = kFixture / "v1.twb";
  CommandResult inspect = run_cli({"backup", "inspect", "--json", v1.string()});
  ASSERT_TRUE(inspect.ok()) << inspect.describe();
  EXPECT_NE(inspect.out.find("\"format_version\": 1"), std::string::npos) << inspect.out;
  CommandResult verify =
      run_cli({"backup", "verify", "--device", twin.dir().string(), v1.string()});
  ASSERT_TRUE(verify.ok()) << verify.describe();
  CommandResult restore =
      run_cli({"backup", "restore", "--device", twin.dir().string(), v1.string()});
  ASSERT_TRUE(restore.ok()) << restore.describe();
  twin.use_config();
  check_fixture_objects();

  // Backed up again, the device writes version 2, which another twin restores.
  fs::path v2 = twin.root() / "v2.twb";
  CommandResult create =
      run_cli({"backup", "create", "--device", twin.dir().string(), "-o", v2.string()});
  ASSERT_TRUE(create.ok()) << create.describe();
  inspect = run_cli({"backup", "inspect", "--json", v2.string()});
  EXPECT_NE(inspect.out.find("\"format_version\": 2"), std::string::npos) << inspect.out;
  TempDevice other(twin_options());
  restore = run_cli({"backup", "restore", "--device", other.dir().string(), v2.string()});
  ASSERT_TRUE(restore.ok()) << restore.describe();
  other.use_config();
  check_fixture_objects();
  set_config("");
}

TEST(FormatV1Test, AStoreOfTheFirstEncodingOpensAndIsRewritten) {
  TempDir dir;
  fs::path dev = dir.path() / "device";
  fs::create_directory(dev);
  for (const char* name : {"secure-element", "store.db"}) {
    fs::copy_file(kFixture / "device" / name, dev / name);
    fs::permissions(dev / name, fs::perms::owner_read | fs::perms::owner_write);
  }
  fs::permissions(dev, fs::perms::owner_all);
  write_config(dir.path() / "twinhsm.toml", {dev});
  set_config(dir.path() / "twinhsm.toml");
  check_fixture_objects();
  // Every row was rewritten: the public ones at open, the private ones at the user's login.
  CommandResult sql = run_command({"/usr/bin/sqlite3", (dev / "store.db").string(),
                                   "SELECT count(*) FROM objects WHERE is_private = 0 AND "
                                   "hex(substr(body, 1, 4)) != 'FF746102'"});
  EXPECT_EQ(sql.out, "0\n") << sql.describe();
  CommandResult info = run_command({"/usr/bin/sqlite3", (dev / "store.db").string(),
                                    "SELECT value FROM settings WHERE key = 'store.row_encoding'"});
  EXPECT_EQ(info.out, "2\n") << info.describe();
  // And it still works after the rewrite.
  check_fixture_objects();
  set_config("");
}

}  // namespace
}  // namespace twinhsm::test
