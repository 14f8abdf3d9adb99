// What the import makes of SoftHSMv2 objects (plan_object, plan_import), and import_objects into
// a real device: all or nothing, dry runs, objects already there.
#include <gtest/gtest.h>

#include "common/error.h"
#include "device/device.h"
#include "import/importer.h"
#include "import/softhsm2_token.h"
#include "temp_device.h"
#include "token/attribute_policy.h"
#include "token/key_policy.h"
#include "token/settings.h"

namespace twinhsm::import {
namespace {

namespace fs = std::filesystem;

const fs::path kToken = fs::path(TWINHSM_TEST_DATA) / "vectors" / "softhsm2" / "token";

ByteView bytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

SourceObject key(CK_OBJECT_CLASS cls, CK_KEY_TYPE type, const char* label) {
  SourceObject s;
  s.file = std::string(label) + ".object";
  s.attrs.set_ulong(CKA_CLASS, cls);
  s.attrs.set_ulong(CKA_KEY_TYPE, type);
  s.attrs.set(CKA_LABEL, bytes(label));
  s.attrs.set(CKA_ID, from_hex("01"));
  return s;
}

TEST(ImportPlan, NamesWhatTwinhsmCannotHold) {
  auto secp256k1 = key(CKO_PUBLIC_KEY, CKK_EC, "k1");
  secp256k1.attrs.set(CKA_EC_PARAMS, from_hex("06052b8104000a"));
  auto ed_as_ec = key(CKO_PUBLIC_KEY, CKK_EC, "ed-as-ec");
  ed_as_ec.attrs.set(CKA_EC_PARAMS, from_hex("06032b6570"));
  SourceObject trusted;
  trusted.file = "cert.object";
  trusted.attrs.set_ulong(CKA_CLASS, CKO_CERTIFICATE);
  trusted.attrs.set_bool(CKA_TRUSTED, true);
  SourceObject params;
  params.file = "params.object";
  params.attrs.set_ulong(CKA_CLASS, CKO_DOMAIN_PARAMETERS);

  EXPECT_EQ(plan_object(key(CKO_PRIVATE_KEY, CKK_DSA, "d")).unsupported, "twinhsm has no dsa keys");
  EXPECT_EQ(plan_object(key(CKO_SECRET_KEY, CKK_DES3, "d")).unsupported,
            "twinhsm has no des3 keys");
  EXPECT_NE(plan_object(secp256k1).unsupported.find("06052b8104000a"), std::string::npos);
  EXPECT_NE(plan_object(ed_as_ec).unsupported.find("no curve"), std::string::npos);
  EXPECT_NE(plan_object(trusted).unsupported.find("CKA_TRUSTED"), std::string::npos);
  EXPECT_NE(plan_object(params).unsupported.find("no objects of this class"), std::string::npos);

  auto ok = key(CKO_SECRET_KEY, CKK_AES, "fine");
  std::vector<SourceObject> all = {ok, secp256k1, params};
  try {
    plan_import(all, {});
    FAIL() << "unsupported objects were accepted";
  } catch (const UsageError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("2 object(s)"), std::string::npos) << m;
    EXPECT_NE(m.find("public-key ec \"k1\" id 01 (k1.object)"), std::string::npos) << m;
    EXPECT_NE(m.find("params.object"), std::string::npos) << m;
    EXPECT_EQ(m.find("fine"), std::string::npos) << m;
  }
  auto plan = plan_import(all, {.skip_unsupported = true});
  ASSERT_EQ(plan.imported.size(), 1u);
  EXPECT_EQ(plan.imported[0].label, "fine");
  EXPECT_EQ(plan.skipped.size(), 2u);
}

TEST(ImportPlan, KeepsAlwaysSensitiveAndNeverExtractableOnlyForKeysSoftHsmGenerated) {
  auto generated = key(CKO_PRIVATE_KEY, CKK_RSA, "gen");
  generated.attrs.set_bool(CKA_LOCAL, true);
  generated.attrs.set_bool(CKA_SENSITIVE, true);
  generated.attrs.set_bool(CKA_EXTRACTABLE, false);
  generated.attrs.set_bool(CKA_ALWAYS_SENSITIVE, true);
  generated.attrs.set_bool(CKA_NEVER_EXTRACTABLE, true);
  generated.attrs.set_ulong(CKA_KEY_GEN_MECHANISM, CKM_RSA_PKCS_KEY_PAIR_GEN);
  Candidate c = plan_object(generated);
  EXPECT_TRUE(c.always_sensitive);
  EXPECT_TRUE(c.never_extractable);
  for (CK_ATTRIBUTE_TYPE t :
       {CKA_LOCAL, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_KEY_GEN_MECHANISM}) {
    EXPECT_FALSE(c.tmpl.has(t)) << "the template carries attribute " << t;
  }
  EXPECT_TRUE(c.tmpl.get_bool(CKA_TOKEN, false));

  auto created =
      generated;  // C_CreateObject'ed into SoftHSMv2, which still says "never extractable"
  created.attrs.set_bool(CKA_LOCAL, false);
  EXPECT_FALSE(plan_object(created).always_sensitive);
  EXPECT_FALSE(plan_object(created).never_extractable);
  auto made_extractable = generated;
  made_extractable.attrs.set_bool(CKA_EXTRACTABLE, true);
  EXPECT_TRUE(plan_object(made_extractable).always_sensitive);
  EXPECT_FALSE(plan_object(made_extractable).never_extractable);
}

// A device with an initialized token, opened in this process, the user logged in. Its key
// policy is compatible unless strict is asked for: SoftHSMv2 gave the vector token's AES key
// every usage, which the strict policy refuses for a hidden key.
struct Target {
  test::TempDevice dev;
  std::unique_ptr<device::Device> d = device::Device::open(dev.dir());
  explicit Target(bool strict = false) {
    if (!strict) {
      store::Store::WriteTransaction tx(d->store());
      d->store().put_setting(token::settings::kKeyPolicy, "compatible");
      tx.commit();
    }
    d->token().login(token::Role::user, bytes(dev.user_pin()));
  }
  size_t objects() {
    token::AttributeMap all;
    return d->token().find(all).size();
  }
};

std::vector<SourceObject> vector_objects() {
  return SoftHsm2Token::open(kToken).read_objects(bytes("user-pin-1234"));
}

TEST(ImportObjects, CreatesEveryObjectWithItsAttributesInOneTransaction) {
  Target target;
  auto plan = plan_import(vector_objects(), {});
  ASSERT_EQ(plan.imported.size(), 4u);
  import_objects(target.d->token(), plan, {.dry_run = true});
  EXPECT_EQ(target.objects(), 0u) << "a dry run wrote objects";

  import_objects(target.d->token(), plan, {});
  EXPECT_EQ(target.objects(), 4u);
  token::AttributeMap aes_tmpl;
  aes_tmpl.set(CKA_LABEL, bytes("aes-256"));
  auto found = target.d->token().find(aes_tmpl);
  ASSERT_EQ(found.size(), 1u);
  auto aes = target.d->token().object(found[0]);
  EXPECT_EQ(aes->attrs.get_ulong(CKA_KEY_TYPE), CKK_AES);
  EXPECT_EQ(aes->attrs.get_ulong(CKA_VALUE_LEN), 32u);
  EXPECT_FALSE(aes->attrs.get_bool(CKA_LOCAL, true));
  EXPECT_EQ(aes->attrs.get_ulong(CKA_KEY_GEN_MECHANISM), CK_UNAVAILABLE_INFORMATION);
  EXPECT_TRUE(aes->attrs.get_bool(CKA_ALWAYS_SENSITIVE, false));
  EXPECT_TRUE(aes->attrs.get_bool(CKA_NEVER_EXTRACTABLE, false));
  EXPECT_TRUE(aes->is_private());

  // Again: every object is there already, and nothing more is written.
  EXPECT_THROW(import_objects(target.d->token(), plan, {}), UsageError);
  EXPECT_EQ(target.objects(), 4u);
}

TEST(ImportObjects, TheStrictKeyPolicyRefusesAKeyThatWrapsAndDecryptsAndSaysWhatToDo) {
  Target target(/*strict=*/true);
  auto plan = plan_import(vector_objects(), {});
  try {
    import_objects(target.d->token(), plan, {});
    FAIL() << "the strict policy took a hidden key that both wraps and decrypts";
  } catch (const Error& e) {
    std::string m = e.what();
    // The first such key in file order: the EC private key (decrypt and unwrap, as SoftHSMv2
    // made it).
    EXPECT_NE(m.find("cannot import private-key ec \"ec-p256\" id 0a0b"), std::string::npos) << m;
    EXPECT_NE(m.find("twinhsm device set-key-policy compatible"), std::string::npos) << m;
    EXPECT_NE(m.find("--narrow-usage"), std::string::npos) << m;
  }
  EXPECT_EQ(target.objects(), 0u);
}

TEST(ImportObjects, NarrowUsageDropsWrappingFromKeysThatWouldMixUnderTheStrictPolicy) {
  Target target(/*strict=*/true);
  auto plan = plan_import(vector_objects(), {});
  import_objects(target.d->token(), plan, {.narrow_usage = true});
  EXPECT_EQ(target.objects(), 4u);
  ASSERT_FALSE(plan.narrowed.empty());
  for (const char* label : {"aes-256", "ec-p256"}) {
    token::AttributeMap q;
    q.set(CKA_LABEL, bytes(label));
    auto found = target.d->token().find(q);
    ASSERT_FALSE(found.empty()) << label;
    for (auto h : found) {
      auto obj = target.d->token().object(h);
      if (token::object_class(obj->attrs) == CKO_PUBLIC_KEY) {
        continue;
      }
      EXPECT_FALSE(obj->attrs.get_bool(CKA_WRAP, false)) << label;
      EXPECT_FALSE(obj->attrs.get_bool(CKA_UNWRAP, false)) << label;
      EXPECT_FALSE(token::mixes_wrapping_and_data(obj->attrs)) << label;
    }
  }
}

TEST(ImportObjects, AnObjectTheTokenRefusesLeavesNothingWritten) {
  Target target;
  auto objects = vector_objects();
  auto broken = key(CKO_PRIVATE_KEY, CKK_EC, "broken");  // an EC key with no value
  broken.attrs.set(CKA_EC_PARAMS, from_hex("06082a8648ce3d030107"));
  objects.push_back(broken);
  auto plan = plan_import(objects, {});
  ASSERT_EQ(plan.imported.size(), 5u);
  try {
    import_objects(target.d->token(), plan, {});
    FAIL() << "an EC private key without CKA_VALUE was imported";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("cannot import private-key ec \"broken\" id 01 (broken.object)"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("nothing was imported"), std::string::npos) << m;
  }
  EXPECT_EQ(target.objects(), 0u) << "the objects before the refused one were written";
}

}  // namespace
}  // namespace twinhsm::import
