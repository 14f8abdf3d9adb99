// twinhsm in a process whose OpenSSL configuration is hostile to it (issue 13, item 2). The
// whole of p11_mechanisms_test runs again under two configurations (tests/pkcs11/CMakeLists.txt),
// its checks made in a library context of the tests' own (ossl::library_context):
//   providers  twinhsm-hostile-providers.cnf: OpenSSL's default context has only the null
//              provider and requires a property no provider has, as an application configured
//              with `default_properties = ?provider=pkcs11` hands every default fetch elsewhere.
//              Every mechanism must still give the right answer.
//   engine     twinhsm-hostile-engine.cnf: the twinhsm-refusing engine (refusing_engine.c),
//              whose random number generator refuses everything, is the default for ALL. The
//              random bytes twinhsm draws itself (keys, IVs, C_GenerateRandom) must not reach it;
//              the other mechanisms run where OpenSSL 3.0 lets them (docs/threat-model.md).
// This file adds what the mechanism tests do not show: that the configuration is in force, and the
// `twinhsm` command's PBKDF2 login and backups under it (TempDevice runs the command with this
// process's environment).
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <set>

#include "fixture.h"
#include "ossl.h"
#include "process.h"

namespace twinhsm::test {
namespace {

TEST(HostileOpenssl, ConfigurationIsInForce) {
  std::string mode = ossl::hostile_openssl();
  if (mode.empty()) {
    GTEST_SKIP() << "runs under a hostile OPENSSL_CONF only";
  }
  ASSERT_NE(ossl::library_context(), nullptr);  // loads the process's configuration
  unsigned char buf[16];
  if (mode == "providers") {
    EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EXPECT_EQ(md, nullptr) << "OpenSSL's default context still has SHA256";
    EVP_MD_free(md);
  } else {
    ASSERT_EQ(mode, "engine");
    EXPECT_NE(RAND_bytes(buf, sizeof buf), 1) << "the refusing engine is not the default";
    EXPECT_NE(RAND_bytes_ex(ossl::library_context(), buf, sizeof buf, 0), 1)
        << "the engine's generator is what RAND_bytes_ex gives, whatever the library context";
  }
  // The tests' own context works: their checks are made there.
  EXPECT_EQ(ossl::digest("SHA256", to_bytes("abc")).size(), 32u);
}

class HostileOpensslTest : public LoggedInTest {};

TEST_F(HostileOpensslTest, RandomBytesComeFromTwinhsmsOwnGenerator) {
  std::set<Bytes> seen;
  for (int i = 0; i < 4; ++i) {
    Bytes out(64);
    ASSERT_CKR(CKR_OK, f()->C_GenerateRandom(s_, out.data(), out.size()));
    EXPECT_NE(out, Bytes(64, 0));
    seen.insert(out);
  }
  EXPECT_EQ(seen.size(), 4u);
  Bytes seed = to_bytes("mixed in, credited with no entropy");
  EXPECT_CKR(CKR_OK, f()->C_SeedRandom(s_, seed.data(), seed.size()));
}

TEST_F(HostileOpensslTest, AesKeysAreGenerated) {
  CK_ULONG len = 32;
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE t[] = {{CKA_VALUE_LEN, &len, sizeof len}, {CKA_ENCRYPT, &yes, sizeof yes}};
  CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  ASSERT_CKR(CKR_OK, f()->C_GenerateKey(s_, &gen, t, 2, &key));
  Bytes iv(12, 7), data = to_bytes("sixteen byte msg"), out(data.size() + 16);
  CK_GCM_PARAMS gcm{iv.data(), iv.size(), 96, nullptr, 0, 128};
  CK_MECHANISM mech{CKM_AES_GCM, &gcm, sizeof gcm};
  CK_ULONG out_len = out.size();
  ASSERT_CKR(CKR_OK, f()->C_EncryptInit(s_, &mech, key));
  ASSERT_CKR(CKR_OK, f()->C_Encrypt(s_, data.data(), data.size(), out.data(), &out_len));
  EXPECT_EQ(out_len, data.size() + 16);
}

// `twinhsm backup create` and `backup verify`: random OTK and backup id, KBKDF, AES-KW, AES-GCM,
// in the command's own process, which inherits this one's OPENSSL_CONF.
TEST(HostileOpenssl, CommandBacksUpAndVerifies) {
  DeviceOptions o;
  o.button = "insecure-auto";
  TempDevice device(o);
  std::string file = (device.root() / "hostile.twb").string();
  CommandResult created =
      run_cli({"backup", "create", "--device", device.dir().string(), "-o", file});
  ASSERT_TRUE(created.ok()) << created.describe();
  CommandResult verified = run_cli({"backup", "verify", "--device", device.dir().string(), file});
  EXPECT_TRUE(verified.ok()) << verified.describe();
}

}  // namespace
}  // namespace twinhsm::test
