// The TPM library (src/tpm) against swtpm: objects made in one connection load in the next (the
// primary key is deterministic), TPM2_HMAC and the TPM's SP 800-108 KDF give exactly what OpenSSL
// gives for the same key, twin TPMs programmed with one key agree while a blob of one does not load
// on the other, the NV counter only goes up, a sealed object counts wrong authorizations, and what
// a killed process left loaded does not block the next connection.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "process.h"
#include "swtpm.h"
#include "temp_device.h"
#include "tpm/capabilities.h"
#include "tpm/error.h"
#include "tpm/kdf.h"
#include "tpm/nv_counter.h"
#include "tpm/objects.h"

namespace twinhsm::tpm {
namespace {

using test::Swtpm;

constexpr uint32_t kNvBase = 0x01300000;

class TpmLibraryTest : public ::testing::Test {
 protected:
  Swtpm tpm_;
  crypto::SecureBytes key_ = crypto::random_secret(64);

  Blob program(const Swtpm& tpm, std::span<const uint8_t> key) {
    Context ctx(tpm.tcti());
    Object primary = create_primary(ctx);
    Session s(ctx, primary);
    return create_hmac_key(ctx, s, primary, key);
  }
};

TEST_F(TpmLibraryTest, HmacOfAKeyObjectIsOpenSslsHmac) {
  Blob blob = program(tpm_, key_);
  Context ctx(tpm_.tcti());  // a new connection: the primary key is made anew, the same
  Object primary = create_primary(ctx);
  Session s(ctx, primary);
  Object key = load(ctx, s, primary, blob);
  for (size_t n : {0, 1, 64, 1024}) {
    Bytes data = crypto::random_bytes(n);
    crypto::SecureBytes want = crypto::hmac_sha256(key_, data);
    EXPECT_EQ(to_hex(hmac_sha256(ctx, s, key, data)), to_hex(want)) << n << " bytes";
  }
}

TEST_F(TpmLibraryTest, KbkdfInTheTpmIsCryptosKbkdf) {
  Blob blob = program(tpm_, key_);
  Context ctx(tpm_.tcti());
  Object primary = create_primary(ctx);
  Session s(ctx, primary);
  Object key = load(ctx, s, primary, blob);
  Bytes context = crypto::random_bytes(16);
  append(context, as_bytes("pair-1"));
  struct Case {
    const char* label;
    Bytes context;
    size_t len;
  };
  for (const Case& c : {Case{"twinhsm backup kek v1", context, 32},
                        Case{"twinhsm row authentication key v1", {}, 32}, Case{"a label", {}, 1},
                        Case{"a label", context, 50}, Case{"", context, 96}}) {
    EXPECT_EQ(to_hex(kbkdf_counter_hmac_sha256(ctx, s, key, c.label, c.context, c.len)),
              to_hex(crypto::kbkdf_counter_hmac_sha256(key_, c.label, c.context, c.len)))
        << c.label << ", " << c.len << " bytes";
  }
}

TEST_F(TpmLibraryTest, TwinTpmsAgreeAndABlobLoadsOnlyWhereItWasMade) {
  Swtpm twin;
  Blob here = program(tpm_, key_);
  Blob there = program(twin, key_);
  auto derive = [&](const Swtpm& tpm, const Blob& blob) {
    Context ctx(tpm.tcti());
    Object primary = create_primary(ctx);
    Session s(ctx, primary);
    Object key = load(ctx, s, primary, blob);
    return to_hex(kbkdf_counter_hmac_sha256(ctx, s, key, "twinhsm login secret v1", {}, 32));
  };
  EXPECT_EQ(derive(tpm_, here), derive(twin, there));
  EXPECT_THROW(derive(twin, here), TpmError);
}

TEST_F(TpmLibraryTest, NvCounterOnlyGoesUpAndIsCheckedByName) {
  crypto::SecureBytes auth = crypto::random_secret(32);
  Context ctx(tpm_.tcti());
  NvCounter counter = NvCounter::define(ctx, kNvBase, 0x100, kNvBase + 0x10, auth);
  EXPECT_EQ(counter.index(), kNvBase + 0x10);
  uint64_t start = counter.read(ctx);
  counter.increment(ctx);
  counter.increment(ctx);
  EXPECT_EQ(counter.read(ctx), start + 2);

  NvCounter other = NvCounter::define(ctx, kNvBase, 0x100, kNvBase + 0x10, auth);
  EXPECT_EQ(other.index(), kNvBase + 0x11) << "a taken index is skipped";

  NvCounter wrong_auth(counter.index(), counter.name(), crypto::random_secret(32));
  EXPECT_THROW(wrong_auth.increment(ctx), TpmError);

  // Deleted and defined anew: it starts at or above the highest value it had.
  counter.undefine(ctx);
  NvCounter again = NvCounter::define(ctx, kNvBase, 0x100, kNvBase + 0x10, auth);
  ASSERT_EQ(again.index(), counter.index());
  EXPECT_GE(again.read(ctx), start + 2);
  EXPECT_TRUE(crypto::ct_equal(again.name(), counter.name()));

  // An ordinary index in its place (tpm2-tools, another program): refused by its name.
  again.undefine(ctx);
}

TEST_F(TpmLibraryTest, AnOrdinaryIndexInTheCountersPlaceIsRefused) {
  crypto::SecureBytes auth = crypto::random_secret(32);
  uint32_t index = 0;
  Bytes name;
  {
    Context ctx(tpm_.tcti());
    NvCounter counter = NvCounter::define(ctx, kNvBase, 0x100, kNvBase, auth);
    index = counter.index();
    name = counter.name();
    counter.undefine(ctx);
  }
  char handle[16];
  std::snprintf(handle, sizeof handle, "0x%08x", index);
  setenv("TPM2TOOLS_TCTI", tpm_.tcti().c_str(), 1);
  auto r = test::run_command({"/usr/bin/tpm2_nvdefine", handle, "-C", "o", "-s", "8", "-a",
                              "ownerread|ownerwrite|authread|authwrite"});
  ASSERT_TRUE(r.ok()) << r.describe();
  Context ctx(tpm_.tcti());
  NvCounter counter(index, name, crypto::secure_copy(auth));
  try {
    counter.read(ctx);
    FAIL() << "an ordinary index was read as the counter";
  } catch (const IntegrityError& e) {
    EXPECT_NE(std::string(e.what()).find("no longer this device's counter"), std::string::npos)
        << e.what();
  }
}

TEST_F(TpmLibraryTest, SealedObjectCountsWrongAuthorizations) {
  Context ctx(tpm_.tcti());
  set_lockout_parameters(ctx, 3, 1000, 1000);
  Object primary = create_primary(ctx);
  Session s(ctx, primary);
  crypto::SecureBytes auth = crypto::random_secret(32), data = crypto::random_secret(32);
  Blob blob = create_sealed(ctx, s, primary, auth, data);
  Object sealed = load(ctx, s, primary, blob);
  EXPECT_EQ(to_hex(unseal(ctx, s, sealed, auth)), to_hex(data));
  EXPECT_EQ(lockout_state(ctx).failures, 0u);
  crypto::SecureBytes wrong = crypto::random_secret(32);
  for (uint32_t i = 1; i <= 3; ++i) {
    try {
      unseal(ctx, s, sealed, wrong);
      FAIL() << "a wrong authorization unsealed";
    } catch (const TpmError& e) {
      EXPECT_TRUE(e.auth_failed()) << e.what();
    }
    EXPECT_EQ(lockout_state(ctx).failures, i);
  }
  LockoutState st = lockout_state(ctx);
  EXPECT_TRUE(st.in_lockout);
  EXPECT_EQ(st.remaining(), 0u);
  try {
    unseal(ctx, s, sealed, auth);
    FAIL() << "the right authorization was accepted in lockout";
  } catch (const TpmError& e) {
    EXPECT_TRUE(e.locked_out()) << e.what();
  }
}

TEST_F(TpmLibraryTest, IdentityNamesTheManufacturer) {
  Context ctx(tpm_.tcti());
  Identity id = identity(ctx);
  EXPECT_EQ(id.manufacturer, "IBM");  // libtpms
  EXPECT_FALSE(id.firmware.empty());
  EXPECT_EQ(lockout_state(ctx).max_tries, 3u);  // libtpms's default
}

TEST_F(TpmLibraryTest, APersistentStorageKeyOfTheSameNameIsUsed) {
  Bytes srk;
  Blob blob;
  {
    Link link(tpm_.tcti());
    EXPECT_EQ(link.primary.kind(), Object::Kind::transient);
    srk = name(link.ctx, link.primary);
    blob = create_hmac_key(link.ctx, link.session, link.primary, key_);
  }
  // The TPM's owner makes the key persistent, with tpm2-tools, as docs/key-hierarchy.md says.
  setenv("TPM2TOOLS_TCTI", tpm_.tcti().c_str(), 1);
  test::TempDir tmp;
  std::string ctx_file = (tmp.path() / "srk.ctx").string();
  auto made = test::run_command(
      {"/usr/bin/tpm2_createprimary", "-C", "o", "-g", "sha256", "-G", "ecc256:null:aes128cfb",
       "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt", "-c",
       ctx_file});
  ASSERT_TRUE(made.ok()) << made.describe();
  auto kept =
      test::run_command({"/usr/bin/tpm2_evictcontrol", "-C", "o", "-c", ctx_file, "0x81000001"});
  ASSERT_TRUE(kept.ok()) << kept.describe();
  {
    Link link(tpm_.tcti(), srk);
    EXPECT_EQ(link.primary.kind(), Object::Kind::persistent);
    Object key = load(link.ctx, link.session, link.primary, blob);
    EXPECT_EQ(to_hex(hmac_sha256(link.ctx, link.session, key, as_bytes("x"))),
              to_hex(crypto::hmac_sha256(key_, as_bytes("x"))));
  }
  Link other(tpm_.tcti(), Bytes(34, 0x0b));
  EXPECT_EQ(other.primary.kind(), Object::Kind::transient) << "a key of another name is not used";
}

TEST_F(TpmLibraryTest, WhatAKilledProcessLeftLoadedIsFlushed) {
  // The simulator holds 3 transient objects; each child leaves its primary key loaded and dies.
  for (int i = 0; i < 4; ++i) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      Context ctx(tpm_.tcti());
      Object primary = create_primary(ctx);
      Session s(ctx, primary);
      ::_exit(0);  // no destructor runs: nothing is flushed
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  Context ctx(tpm_.tcti());
  Object primary = create_primary(ctx);
  Session s(ctx, primary);
  Blob blob = create_hmac_key(ctx, s, primary, key_);
  Object key = load(ctx, s, primary, blob);
  EXPECT_EQ(hmac_sha256(ctx, s, key, as_bytes("x")).size(), 32u);
}

}  // namespace
}  // namespace twinhsm::tpm
