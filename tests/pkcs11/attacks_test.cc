// The published PKCS#11 API attacks, each tried as an attacker would, through the module's
// 2.40 function list (what every client, p11-kit's RPC included, calls): Clulow 2003; Delaune,
// Kremer, Steel 2008; Bortolozzo, Centenaro, Focardi, Steel 2010 (Tookan's attack list). Each test
// first shows the honest path works (so a refusal is the policy's, not a missing feature), then
// that the attack fails with a PKCS#11 return code. docs/threat-model.md lists them.
//
// By default the tests load libtwinhsm.so on a throw-away device. With TWINHSM_ATTACK_MODULE
// (e.g. p11-kit-client.so, P11_KIT_SERVER_ADDRESS set: the isolated mode), TWINHSM_ATTACK_PIN and
// TWINHSM_ATTACK_SO_PIN they attack that module's first token instead (tests/clients/
// isolated_test.sh); a step whose mechanism p11-kit's protocol does not carry is skipped there.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include "p11.h"
#include "process.h"
#include "temp_device.h"

namespace twinhsm::test {
namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

// Loaded is a module loaded with dlopen, its 2.40 function list initialized.
class Loaded {
 public:
  explicit Loaded(const std::string& path) {
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      throw std::runtime_error("dlopen " + path);
    }
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle_, "C_GetFunctionList"));
    if (!get || get(&f_) != CKR_OK || f_->C_Initialize(nullptr) != CKR_OK) {
      throw std::runtime_error(path + ": no usable function list");
    }
  }
  ~Loaded() {
    f_->C_Finalize(nullptr);
    dlclose(handle_);
  }
  CK_FUNCTION_LIST* f() const { return f_; }

 private:
  void* handle_ = nullptr;
  CK_FUNCTION_LIST* f_ = nullptr;
};

const Bytes kData = to_bytes("data the attacker wants to read");

class AttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string path;
    if (const char* m = env("TWINHSM_ATTACK_MODULE")) {
      remote_ = true;
      path = m;
      pin_ = env("TWINHSM_ATTACK_PIN") ? env("TWINHSM_ATTACK_PIN") : "";
      so_pin_ = env("TWINHSM_ATTACK_SO_PIN") ? env("TWINHSM_ATTACK_SO_PIN") : "";
    } else {
      device_ = std::make_unique<TempDevice>();
      device_->use_config();
      path = module_path();
      pin_ = device_->user_pin();
      so_pin_ = device_->so_pin();
    }
    module_ = std::make_unique<Loaded>(path);
    CK_ULONG n = 1;
    ASSERT_EQ(f()->C_GetSlotList(CK_TRUE, &slot_, &n), CKR_OK);
    ASSERT_GE(n, 1u);
    ASSERT_EQ(f()->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s_),
              CKR_OK);
    ASSERT_CKR(CKR_OK, login(CKU_USER, pin_));
  }
  void TearDown() override {
    if (module_) {
      f()->C_CloseAllSessions(slot_);
    }
    module_.reset();
    set_config("");
    device_.reset();
  }

  CK_FUNCTION_LIST* f() const { return module_->f(); }
  CK_RV login(CK_USER_TYPE who, const std::string& pin) {
    return f()->C_Login(s_, who, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.data())),
                        pin.size());
  }
  // skip_if_not_carried: through p11-kit, a mechanism its protocol does not carry gives
  // CKR_MECHANISM_INVALID before twinhsm sees the call: the step cannot be tried there.
  bool not_carried(CK_RV rv) const { return remote_ && rv == CKR_MECHANISM_INVALID; }

  CK_RV create(Template t, CK_OBJECT_HANDLE* h) {
    return f()->C_CreateObject(s_, t.data(), t.size(), h);
  }
  CK_RV generate_aes(CK_ULONG len, Template t, CK_OBJECT_HANDLE* h) {
    CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
    t.ulong(CKA_VALUE_LEN, len);
    return f()->C_GenerateKey(s_, &gen, t.data(), t.size(), h);
  }
  CK_RV generate_rsa(Template pub, Template priv, CK_OBJECT_HANDLE* pub_h, CK_OBJECT_HANDLE* priv_h,
                     CK_ULONG bits = 2048) {
    CK_MECHANISM gen{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    pub.ulong(CKA_MODULUS_BITS, bits);
    return f()->C_GenerateKeyPair(s_, &gen, pub.data(), pub.size(), priv.data(), priv.size(), pub_h,
                                  priv_h);
  }
  CK_RV set(CK_OBJECT_HANDLE h, Template t) {
    return f()->C_SetAttributeValue(s_, h, t.data(), t.size());
  }
  CK_RV copy(CK_OBJECT_HANDLE h, Template t) {
    CK_OBJECT_HANDLE out;
    return f()->C_CopyObject(s_, h, t.data(), t.size(), &out);
  }
  CK_RV wrap(CK_MECHANISM* m, CK_OBJECT_HANDLE w, CK_OBJECT_HANDLE k, Bytes* out = nullptr) {
    CK_ULONG len = 0;
    CK_RV rv = f()->C_WrapKey(s_, m, w, k, nullptr, &len);
    if (rv != CKR_OK) {
      return rv;
    }
    Bytes buf(len);
    rv = f()->C_WrapKey(s_, m, w, k, buf.data(), &len);
    if (out) {
      *out = Bytes(buf.begin(), buf.begin() + static_cast<long>(len));
    }
    return rv;
  }
  CK_RV unwrap(CK_MECHANISM* m, CK_OBJECT_HANDLE u, const Bytes& wrapped, Template t,
               CK_OBJECT_HANDLE* h) {
    return f()->C_UnwrapKey(s_, m, u, const_cast<CK_BYTE*>(wrapped.data()), wrapped.size(),
                            t.data(), t.size(), h);
  }
  CK_RV get(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, Bytes* out) {
    CK_ATTRIBUTE a{type, nullptr, 0};
    CK_RV rv = f()->C_GetAttributeValue(s_, h, &a, 1);
    if (rv != CKR_OK) {
      return rv;
    }
    out->resize(a.ulValueLen);
    a.pValue = out->data();
    return f()->C_GetAttributeValue(s_, h, &a, 1);
  }
  CK_RV decrypt(CK_MECHANISM* m, CK_OBJECT_HANDLE key, const Bytes& in, Bytes* out) {
    CK_RV rv = f()->C_DecryptInit(s_, m, key);
    if (rv != CKR_OK) {
      return rv;
    }
    CK_ULONG len = in.size() + 64;
    out->resize(len);
    rv = f()->C_Decrypt(s_, const_cast<CK_BYTE*>(in.data()), in.size(), out->data(), &len);
    out->resize(rv == CKR_OK ? len : 0);
    return rv;
  }
  // wrapping_copy imports the RSA public key's modulus and exponent again as a public key that
  // wraps (an attacker's copy: not generated here).
  CK_OBJECT_HANDLE wrapping_copy(CK_OBJECT_HANDLE pub) {
    Bytes n, e;
    EXPECT_CKR(CKR_OK, get(pub, CKA_MODULUS, &n));
    EXPECT_CKR(CKR_OK, get(pub, CKA_PUBLIC_EXPONENT, &e));
    Template t;
    t.ulong(CKA_CLASS, CKO_PUBLIC_KEY).ulong(CKA_KEY_TYPE, CKK_RSA).bytes(CKA_MODULUS, n);
    t.bytes(CKA_PUBLIC_EXPONENT, e).boolean(CKA_WRAP, true);
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    EXPECT_CKR(CKR_OK, create(t, &h));
    return h;
  }
  // trusted_by_so: an AES-256 key of a known value, made trusted by the SO (a public session
  // object: it outlives the SO's logout), as PKCS#11 means CKA_TRUSTED to be used.
  CK_OBJECT_HANDLE trusted_by_so(const Bytes& value, bool extractable = false) {
    EXPECT_CKR(CKR_OK, f()->C_Logout(s_));
    EXPECT_CKR(CKR_OK, login(CKU_SO, so_pin_));
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    EXPECT_CKR(CKR_OK, create(secret(value)
                                  .boolean(CKA_EXTRACTABLE, extractable)
                                  .boolean(CKA_PRIVATE, false)
                                  .boolean(CKA_TRUSTED, true)
                                  .boolean(CKA_WRAP, true)
                                  .boolean(CKA_UNWRAP, true),
                              &h));
    EXPECT_CKR(CKR_OK, f()->C_Logout(s_));
    EXPECT_CKR(CKR_OK, login(CKU_USER, pin_));
    return h;
  }
  // The key an attacker would like to read: sensitive, extractable (it may leave wrapped).
  CK_OBJECT_HANDLE victim(CK_ULONG len = 16, Template extra = {}) {
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    extra.boolean(CKA_SENSITIVE, true).boolean(CKA_EXTRACTABLE, true);
    EXPECT_CKR(CKR_OK, generate_aes(len, std::move(extra), &h));
    return h;
  }
  // secret is the template of an AES key whose value the attacker chose.
  static Template secret(const Bytes& value) {
    Template t;
    t.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES).bytes(CKA_VALUE, value);
    return t;
  }

  bool remote_ = false;
  std::string pin_, so_pin_;
  std::unique_ptr<TempDevice> device_;
  std::unique_ptr<Loaded> module_;
  CK_SLOT_ID slot_ = 0;
  CK_SESSION_HANDLE s_ = CK_INVALID_HANDLE;
  CK_MECHANISM kwp_{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_MECHANISM ecb_{CKM_AES_ECB, nullptr, 0};
  CK_RSA_PKCS_OAEP_PARAMS oaep_params_{CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, nullptr, 0};
  CK_MECHANISM oaep_{CKM_RSA_PKCS_OAEP, &oaep_params_, sizeof oaep_params_};
};

// Finding 1: CKA_TRUSTED forged on every path that makes or changes a key, so that a key with
// CKA_WRAP_WITH_TRUSTED could be wrapped under a key whose value the attacker knows.
TEST_F(AttackTest, TrustedKeyForgeryOnEveryPath) {
  Bytes known(32, 0x5a);
  CK_OBJECT_HANDLE h;
  Template trusted;
  trusted.boolean(CKA_TRUSTED, true).boolean(CKA_WRAP, true);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, create(secret(known).boolean(CKA_TRUSTED, true), &h));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, generate_aes(32, trusted, &h));
  CK_OBJECT_HANDLE pub, priv;
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, generate_rsa(trusted, {}, &pub, &priv));
  CK_OBJECT_HANDLE mine = CK_INVALID_HANDLE;
  ASSERT_CKR(CKR_OK,
             create(secret(known).boolean(CKA_WRAP, true).boolean(CKA_UNWRAP, true), &mine));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, set(mine, Template().boolean(CKA_TRUSTED, true)));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, copy(mine, Template().boolean(CKA_TRUSTED, true)));
  // Unwrap: a key of the attacker's value made trusted on its way in (RSA-OAEP, which p11-kit
  // carries, and AES key wrap).
  CK_OBJECT_HANDLE kw_pub, kw_priv, oaep_in;
  ASSERT_CKR(CKR_OK, generate_rsa(Template().boolean(CKA_WRAP, true), {}, &kw_pub, &kw_priv));
  Bytes wrapped;
  ASSERT_CKR(
      CKR_OK,
      create(secret(known).boolean(CKA_SENSITIVE, false).boolean(CKA_EXTRACTABLE, true), &oaep_in));
  ASSERT_CKR(CKR_OK, wrap(&oaep_, kw_pub, oaep_in, &wrapped));
  Template trusted_in;
  trusted_in.ulong(CKA_CLASS, CKO_SECRET_KEY)
      .ulong(CKA_KEY_TYPE, CKK_AES)
      .boolean(CKA_TRUSTED, true);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, unwrap(&oaep_, kw_priv, wrapped, trusted_in, &h));
  CK_OBJECT_HANDLE readable;
  ASSERT_CKR(CKR_OK,
             create(secret(known).boolean(CKA_SENSITIVE, false).boolean(CKA_EXTRACTABLE, true),
                    &readable));
  CK_RV rv = wrap(&kwp_, mine, readable, &wrapped);
  if (!not_carried(rv)) {
    ASSERT_CKR(CKR_OK, rv);
    Template t;
    t.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES).boolean(CKA_TRUSTED, true);
    EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, unwrap(&kwp_, mine, wrapped, t, &h));
    // ...or through an unwrapping key whose CKA_UNWRAP_TEMPLATE says trusted.
    CK_ATTRIBUTE nested{CKA_TRUSTED, nullptr, 0};
    CK_BBOOL yes = CK_TRUE;
    nested.pValue = &yes;
    nested.ulValueLen = sizeof yes;
    Template with_template = secret(Bytes(32, 0x6b)).boolean(CKA_UNWRAP, true);
    with_template.raw(CKA_UNWRAP_TEMPLATE, &nested, sizeof nested);
    EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, create(with_template, &h));
  }
  // From a public session, where nobody is logged in, too.
  ASSERT_CKR(CKR_OK, f()->C_Logout(s_));
  Template public_trusted = trusted;
  public_trusted.boolean(CKA_PRIVATE, false);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, generate_aes(32, public_trusted, &h));
  ASSERT_CKR(CKR_OK, login(CKU_USER, pin_));
}

TEST_F(AttackTest, WrapWithTrustedNeedsTheSosTrust) {
  CK_OBJECT_HANDLE trusted = trusted_by_so(Bytes(32, 0x11));
  CK_OBJECT_HANDLE guarded = victim(16, Template().boolean(CKA_WRAP_WITH_TRUSTED, true));
  CK_RV rv = wrap(&kwp_, trusted, guarded);
  if (not_carried(rv)) {
    GTEST_SKIP() << "p11-kit does not carry CKM_AES_KEY_WRAP_PAD";
  }
  EXPECT_CKR(CKR_OK, rv);  // the honest path
  CK_OBJECT_HANDLE mine;
  ASSERT_CKR(CKR_OK, create(secret(Bytes(32, 0x22)).boolean(CKA_WRAP, true), &mine));
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&kwp_, mine, guarded));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             set(guarded, Template().boolean(CKA_WRAP_WITH_TRUSTED, false)));
}

// Finding 3: "the same value is allowed" on C_SetAttributeValue and C_CopyObject answered
// guesses of a hidden key one by one. Right and wrong guesses now get the same answer.
TEST_F(AttackTest, NoGuessingOracleOnHiddenValues) {
  Bytes value(16, 0x33);
  CK_OBJECT_HANDLE h;
  ASSERT_CKR(CKR_OK, create(secret(value), &h));  // sensitive by default
  Bytes wrong(16, 0x34);
  for (const Bytes* guess : {&value, &wrong}) {
    EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, set(h, Template().bytes(CKA_VALUE, *guess)));
    EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, copy(h, Template().bytes(CKA_VALUE, *guess)));
    Template find;
    find.bytes(CKA_VALUE, *guess);
    CK_OBJECT_HANDLE found[4];
    CK_ULONG n = 0;
    ASSERT_CKR(CKR_OK, f()->C_FindObjectsInit(s_, find.data(), find.size()));
    ASSERT_CKR(CKR_OK, f()->C_FindObjects(s_, found, 4, &n));
    ASSERT_CKR(CKR_OK, f()->C_FindObjectsFinal(s_));
    EXPECT_EQ(n, 0u) << "a search by a hidden value must find nothing, right or wrong";
  }
  Bytes v;
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get(h, CKA_VALUE, &v));
}

// Finding 4, Clulow's wrap/decrypt: wrap the victim under a key, then decrypt the wrapping.
TEST_F(AttackTest, WrapThenDecrypt) {
  CK_OBJECT_HANDLE both;
  Template mixed;
  mixed.boolean(CKA_WRAP, true).boolean(CKA_DECRYPT, true);
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT, generate_aes(32, mixed, &both));
  // A wrap-only key, made so with CKA_ALLOWED_MECHANISMS too, cannot be turned into a decrypter.
  CK_MECHANISM_TYPE only_kwp = CKM_AES_KEY_WRAP_PAD;
  CK_OBJECT_HANDLE w;
  ASSERT_CKR(CKR_OK, generate_aes(32,
                                  Template()
                                      .boolean(CKA_WRAP, true)
                                      .boolean(CKA_UNWRAP, true)
                                      .raw(CKA_ALLOWED_MECHANISMS, &only_kwp, sizeof only_kwp),
                                  &w));
  CK_OBJECT_HANDLE k = victim();
  Bytes wrapped;
  CK_RV rv = wrap(&kwp_, w, k, &wrapped);
  if (not_carried(rv)) {
    GTEST_SKIP() << "p11-kit does not carry CKM_AES_KEY_WRAP_PAD";
  }
  ASSERT_CKR(CKR_OK, rv);  // the honest path
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, set(w, Template().boolean(CKA_DECRYPT, true)));
  CK_MECHANISM_TYPE more[] = {CKM_AES_KEY_WRAP_PAD, CKM_AES_ECB};
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             set(w, Template().raw(CKA_ALLOWED_MECHANISMS, more, sizeof more)));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, set(w, Template().raw(CKA_ALLOWED_MECHANISMS, nullptr, 0)));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, copy(w, Template().boolean(CKA_DECRYPT, true)));
  Bytes out;
  EXPECT_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED, decrypt(&ecb_, w, wrapped, &out));
}

// Encrypt/unwrap: encrypt a value of the attacker's with a key that also unwraps, unwrap it as a
// key, and wrap the victim under that known key.
TEST_F(AttackTest, EncryptThenUnwrapAKnownKey) {
  CK_OBJECT_HANDLE both;
  Template mixed;
  mixed.boolean(CKA_ENCRYPT, true).boolean(CKA_UNWRAP, true);
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT, generate_aes(32, mixed, &both));
  // A key unwrapped from bytes the attacker made is one whose value they know: it does not wrap
  // a sensitive key.
  Bytes known(32, 0x44);
  CK_OBJECT_HANDLE kek, readable;
  ASSERT_CKR(CKR_OK, create(secret(Bytes(32, 0x45))
                                .boolean(CKA_SENSITIVE, false)
                                .boolean(CKA_EXTRACTABLE, true)
                                .boolean(CKA_WRAP, true)
                                .boolean(CKA_UNWRAP, true),
                            &kek));
  ASSERT_CKR(CKR_OK,
             create(secret(known).boolean(CKA_SENSITIVE, false).boolean(CKA_EXTRACTABLE, true),
                    &readable));
  Bytes wrapped;
  CK_RV rv = wrap(&kwp_, kek, readable, &wrapped);
  if (not_carried(rv)) {
    GTEST_SKIP() << "p11-kit does not carry CKM_AES_KEY_WRAP_PAD";
  }
  ASSERT_CKR(CKR_OK, rv);
  Template t;
  t.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES).boolean(CKA_WRAP, true);
  CK_OBJECT_HANDLE planted;
  ASSERT_CKR(CKR_OK, unwrap(&kwp_, kek, wrapped, t, &planted));
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&kwp_, planted, victim()));
}

// Tookan: a sensitive key made readable, or an unextractable one extractable, by set or by copy.
TEST_F(AttackTest, SensitiveAndExtractableFlips) {
  CK_OBJECT_HANDLE k = victim();
  CK_OBJECT_HANDLE locked;
  ASSERT_CKR(CKR_OK, generate_aes(16, Template().boolean(CKA_EXTRACTABLE, false), &locked));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, set(k, Template().boolean(CKA_SENSITIVE, false)));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, copy(k, Template().boolean(CKA_SENSITIVE, false)));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, set(locked, Template().boolean(CKA_EXTRACTABLE, true)));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, copy(locked, Template().boolean(CKA_EXTRACTABLE, true)));
  // Usage and re-authentication cannot be widened or dropped either.
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, set(locked, Template().boolean(CKA_DERIVE, true)));
  Bytes v;
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get(k, CKA_VALUE, &v));
}

TEST_F(AttackTest, AlwaysAuthenticateCannotBeCleared) {
  CK_OBJECT_HANDLE pub, priv;
  ASSERT_CKR(CKR_OK,
             generate_rsa({}, Template().boolean(CKA_ALWAYS_AUTHENTICATE, true), &pub, &priv));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             set(priv, Template().boolean(CKA_ALWAYS_AUTHENTICATE, false)));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             copy(priv, Template().boolean(CKA_ALWAYS_AUTHENTICATE, false)));
}

// Tookan: wrap the victim under a weaker key (then search that key's space), or under a key the
// attacker imported (whose value they know).
TEST_F(AttackTest, WrapUnderAWeakerOrImportedKey) {
  Template wraps;
  wraps.boolean(CKA_WRAP, true).boolean(CKA_UNWRAP, true);
  CK_OBJECT_HANDLE weak, strong, imported;
  ASSERT_CKR(CKR_OK, generate_aes(16, wraps, &weak));
  ASSERT_CKR(CKR_OK, generate_aes(32, wraps, &strong));
  ASSERT_CKR(CKR_OK, create(secret(Bytes(32, 0x55)).boolean(CKA_WRAP, true), &imported));
  CK_OBJECT_HANDLE k256 = victim(32);
  CK_RV rv = wrap(&kwp_, strong, k256);
  if (not_carried(rv)) {
    GTEST_SKIP() << "p11-kit does not carry CKM_AES_KEY_WRAP_PAD";
  }
  EXPECT_CKR(CKR_OK, rv);                             // the honest path
  EXPECT_CKR(CKR_OK, wrap(&kwp_, weak, victim(16)));  // as strong as the key it wraps
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&kwp_, weak, k256));
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&kwp_, imported, k256));
}

// Tookan's re-import: wrap the victim under an ordinary wrap/unwrap key, unwrap it as readable.
TEST_F(AttackTest, ReimportAsReadable) {
  CK_OBJECT_HANDLE kek;
  ASSERT_CKR(CKR_OK,
             generate_aes(32, Template().boolean(CKA_WRAP, true).boolean(CKA_UNWRAP, true), &kek));
  Bytes wrapped;
  CK_RV rv = wrap(&kwp_, kek, victim(), &wrapped);
  if (not_carried(rv)) {
    GTEST_SKIP() << "p11-kit does not carry CKM_AES_KEY_WRAP_PAD";
  }
  ASSERT_CKR(CKR_OK, rv);
  Template readable;
  readable.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES);
  readable.boolean(CKA_SENSITIVE, false).boolean(CKA_EXTRACTABLE, true);
  CK_OBJECT_HANDLE back;
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT, unwrap(&kwp_, kek, wrapped, readable, &back));
  Template plain;
  plain.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES);
  ASSERT_CKR(CKR_OK, unwrap(&kwp_, kek, wrapped, plain, &back));
  Bytes v;
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get(back, CKA_VALUE, &v));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, set(back, Template().boolean(CKA_SENSITIVE, false)));
}

// An RSA pair whose public key only wraps and whose private key only decrypts: the conflict rule
// sees the pair, not each half.
TEST_F(AttackTest, KeyPairThatWrapsAndDecrypts) {
  CK_OBJECT_HANDLE pub, priv;
  EXPECT_CKR(
      CKR_TEMPLATE_INCONSISTENT,
      generate_rsa(Template().boolean(CKA_WRAP, true).boolean(CKA_ENCRYPT, false),
                   Template().boolean(CKA_DECRYPT, true).boolean(CKA_UNWRAP, false), &pub, &priv));
  // RSA-3072 (128 bits of strength) may wrap an AES-128 key: only the pair rule decides below.
  CK_RSA_PKCS_OAEP_PARAMS oaep{CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, nullptr, 0};
  CK_MECHANISM mech{CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
  CK_OBJECT_HANDLE kw_pub, kw_priv;
  ASSERT_CKR(CKR_OK, generate_rsa(Template().boolean(CKA_WRAP, true), {}, &kw_pub, &kw_priv, 3072));
  CK_RV rv = wrap(&mech, kw_pub, victim());
  if (not_carried(rv)) {
    GTEST_SKIP() << "p11-kit does not carry CKM_RSA_PKCS_OAEP";
  }
  EXPECT_CKR(CKR_OK, rv);  // the honest path: a key-transport pair
  // A decrypting pair whose public key the attacker then allows to wrap (a public key's
  // attributes are no secret and may change): the pair's private key decrypts what it wraps.
  ASSERT_CKR(CKR_OK, generate_rsa({}, {}, &pub, &priv, 3072));
  ASSERT_CKR(CKR_OK, set(pub, Template().boolean(CKA_WRAP, true)));
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&mech, pub, victim()));
}

// CKA_WRAP_TEMPLATE and CKA_UNWRAP_TEMPLATE are enforced: an unwrap-only key with a template that
// forces its keys unreadable cannot be used to bring one in readable.
TEST_F(AttackTest, WrapAndUnwrapTemplatesAreEnforced) {
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE unwrap_only_encrypting[] = {{CKA_EXTRACTABLE, &no, sizeof no},
                                           {CKA_DECRYPT, &no, sizeof no}};
  CK_OBJECT_HANDLE kek;
  Template t;
  t.boolean(CKA_WRAP, true).boolean(CKA_UNWRAP, true);
  t.raw(CKA_UNWRAP_TEMPLATE, unwrap_only_encrypting, sizeof unwrap_only_encrypting);
  CK_KEY_TYPE aes = CKK_AES;
  CK_ATTRIBUTE only_aes[] = {{CKA_KEY_TYPE, &aes, sizeof aes}};
  t.raw(CKA_WRAP_TEMPLATE, only_aes, sizeof only_aes);
  CK_RV made = generate_aes(32, t, &kek);
  if (remote_ && made == CKR_DEVICE_ERROR) {
    GTEST_SKIP() << "p11-kit's protocol does not carry template (array) attributes";
  }
  ASSERT_CKR(CKR_OK, made);
  Bytes wrapped;
  CK_RV rv = wrap(&kwp_, kek, victim(), &wrapped);
  if (not_carried(rv)) {
    GTEST_SKIP() << "p11-kit does not carry CKM_AES_KEY_WRAP_PAD";
  }
  ASSERT_CKR(CKR_OK, rv);
  // The wrap template: only AES keys leave under this key.
  CK_OBJECT_HANDLE pub, priv;
  ASSERT_CKR(CKR_OK, generate_rsa({}, Template().boolean(CKA_EXTRACTABLE, true), &pub, &priv));
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&kwp_, kek, priv));
  // The unwrap template: what comes in is unextractable; asking otherwise is inconsistent.
  Template in;
  in.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES);
  CK_OBJECT_HANDLE back;
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT,
             unwrap(&kwp_, kek, wrapped, Template(in).boolean(CKA_EXTRACTABLE, true), &back));
  ASSERT_CKR(CKR_OK, unwrap(&kwp_, kek, wrapped, in, &back));
  Bytes v;
  ASSERT_CKR(CKR_OK, get(back, CKA_EXTRACTABLE, &v));
  EXPECT_EQ(v, Bytes{CK_FALSE});
  // The template is handed back by value, by PKCS#11's rules for array attributes.
  CK_ATTRIBUTE a{CKA_UNWRAP_TEMPLATE, nullptr, 0};
  ASSERT_CKR(CKR_OK, f()->C_GetAttributeValue(s_, kek, &a, 1));
  ASSERT_EQ(a.ulValueLen, 2 * sizeof(CK_ATTRIBUTE));
  CK_ATTRIBUTE inner[2] = {};
  a.pValue = inner;
  ASSERT_CKR(CKR_OK, f()->C_GetAttributeValue(s_, kek, &a, 1));
  CK_BBOOL values[2] = {CK_TRUE, CK_TRUE};
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(inner[i].pValue, nullptr);
    EXPECT_EQ(inner[i].ulValueLen, sizeof(CK_BBOOL));
    inner[i].pValue = &values[i];
  }
  ASSERT_CKR(CKR_OK, f()->C_GetAttributeValue(s_, kek, &a, 1));
  EXPECT_EQ(inner[0].type, CKA_DECRYPT);
  EXPECT_EQ(inner[1].type, CKA_EXTRACTABLE);
  EXPECT_EQ(values[0], CK_FALSE);
  EXPECT_EQ(values[1], CK_FALSE);
}

// The same two attacks with a key pair, which p11-kit's protocol carries (RSA-OAEP): a public
// key too weak for the key it wraps, and one whose private key the attacker can read (as with a
// public key of theirs they imported).
TEST_F(AttackTest, WrapUnderAWeakOrKnownPublicKey) {
  CK_OBJECT_HANDLE pub3072, priv3072, pub2048, priv2048, known_pub, known_priv;
  ASSERT_CKR(CKR_OK,
             generate_rsa(Template().boolean(CKA_WRAP, true), {}, &pub3072, &priv3072, 3072));
  ASSERT_CKR(CKR_OK, generate_rsa(Template().boolean(CKA_WRAP, true), {}, &pub2048, &priv2048));
  ASSERT_CKR(CKR_OK,
             generate_rsa(Template().boolean(CKA_WRAP, true),
                          Template().boolean(CKA_SENSITIVE, false).boolean(CKA_EXTRACTABLE, true),
                          &known_pub, &known_priv, 3072));
  CK_OBJECT_HANDLE k = victim(16);
  EXPECT_CKR(CKR_OK, wrap(&oaep_, pub3072, k));  // the honest path: 128 bits for 128 bits
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&oaep_, pub2048, k));  // 112 bits for 128
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&oaep_, known_pub, k));
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&oaep_, wrapping_copy(known_pub), k));
}

// A forged CKA_PUBLIC_KEY_INFO: the key policy finds a public key's private half by this
// attribute, so a wrap under a public key whose private half the attacker knows would pass if a
// key generated here (never known outside) could be made to claim that public key, or the public
// key to claim that private key (before the fix, each set below returned CKR_OK and the wrap
// after it too; WrapUnderAWeakOrKnownPublicKey shows a wrap under a public key whose private half
// is vouched for). The attribute is computed from the key: C_SetAttributeValue and C_CopyObject
// refuse another value, and a template's is replaced.
TEST_F(AttackTest, ForgedPublicKeyInfoDoesNotVouchForAKnownKey) {
  const Bytes p256 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  CK_MECHANISM ec_gen{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  Template ec_pub_t;
  ec_pub_t.bytes(CKA_EC_PARAMS, p256);
  Template ec_priv_t;
  ec_priv_t.boolean(CKA_SIGN, false).boolean(CKA_DERIVE, false);  // no use: nothing mixed
  CK_OBJECT_HANDLE ec_pub, ec_priv;  // generated here, always sensitive: never known outside
  ASSERT_CKR(CKR_OK, f()->C_GenerateKeyPair(s_, &ec_gen, ec_pub_t.data(), ec_pub_t.size(),
                                            ec_priv_t.data(), ec_priv_t.size(), &ec_pub, &ec_priv));
  // A pair whose private half the attacker read, then destroyed: its public key, imported again,
  // has no private half on the token.
  CK_OBJECT_HANDLE known_pub, known_priv;
  ASSERT_CKR(CKR_OK,
             generate_rsa(Template().boolean(CKA_WRAP, true),
                          Template().boolean(CKA_SENSITIVE, false).boolean(CKA_EXTRACTABLE, true),
                          &known_pub, &known_priv, 3072));
  Bytes d, n, e;
  ASSERT_CKR(CKR_OK, get(known_priv, CKA_PRIVATE_EXPONENT, &d));
  ASSERT_CKR(CKR_OK, get(known_pub, CKA_MODULUS, &n));
  ASSERT_CKR(CKR_OK, get(known_pub, CKA_PUBLIC_EXPONENT, &e));
  ASSERT_CKR(CKR_OK, f()->C_DestroyObject(s_, known_priv));
  ASSERT_CKR(CKR_OK, f()->C_DestroyObject(s_, known_pub));
  // Its public key imported again, for wrapping only.
  Template imported;
  imported.ulong(CKA_CLASS, CKO_PUBLIC_KEY).ulong(CKA_KEY_TYPE, CKK_RSA).bytes(CKA_MODULUS, n);
  imported.bytes(CKA_PUBLIC_EXPONENT, e).boolean(CKA_WRAP, true).boolean(CKA_ENCRYPT, false);
  imported.boolean(CKA_VERIFY, false).boolean(CKA_VERIFY_RECOVER, false);
  ASSERT_CKR(CKR_OK, create(imported, &known_pub));
  CK_OBJECT_HANDLE k = victim(16);
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&oaep_, known_pub, k));
  Bytes known_spki, ec_spki, ec_priv_spki;
  ASSERT_CKR(CKR_OK, get(known_pub, CKA_PUBLIC_KEY_INFO, &known_spki));
  ASSERT_CKR(CKR_OK, get(ec_pub, CKA_PUBLIC_KEY_INFO, &ec_spki));
  ASSERT_CKR(CKR_OK, get(ec_priv, CKA_PUBLIC_KEY_INFO, &ec_priv_spki));
  ASSERT_FALSE(known_spki.empty());
  EXPECT_EQ(ec_spki, ec_priv_spki);
  // Setting a key's own value again changes nothing and is allowed.
  EXPECT_CKR(CKR_OK, set(ec_priv, Template().bytes(CKA_PUBLIC_KEY_INFO, ec_spki)));
  // The private key generated here claims the known public key.
  EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID,
             set(ec_priv, Template().bytes(CKA_PUBLIC_KEY_INFO, known_spki)));
  EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID,
             copy(ec_priv, Template().bytes(CKA_PUBLIC_KEY_INFO, known_spki)));
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&oaep_, known_pub, k));
  // The known public key claims the private key generated here.
  EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID,
             set(known_pub, Template().bytes(CKA_PUBLIC_KEY_INFO, ec_spki)));
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&oaep_, known_pub, k));
  // A copy of the public key made to claim it: refused as the set is. A new pair given the known
  // key's value in its private template: made, with its own value (the template's is replaced).
  CK_OBJECT_HANDLE forged_pub = CK_INVALID_HANDLE;
  Template t = Template().bytes(CKA_PUBLIC_KEY_INFO, ec_spki);
  EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID,
             f()->C_CopyObject(s_, known_pub, t.data(), t.size(), &forged_pub));
  CK_OBJECT_HANDLE pair_pub, pair_priv;
  Template forged_priv_t;
  forged_priv_t.boolean(CKA_SIGN, false).boolean(CKA_DERIVE, false);
  forged_priv_t.bytes(CKA_PUBLIC_KEY_INFO, known_spki);
  ASSERT_CKR(CKR_OK, f()->C_GenerateKeyPair(s_, &ec_gen, ec_pub_t.data(), ec_pub_t.size(),
                                            forged_priv_t.data(), forged_priv_t.size(), &pair_pub,
                                            &pair_priv));
  Bytes v;
  ASSERT_CKR(CKR_OK, get(pair_priv, CKA_PUBLIC_KEY_INFO, &v));
  EXPECT_NE(v, known_spki);
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&oaep_, known_pub, k));
}

// Re-import through a key-transport pair: the victim wrapped under its public key comes back
// through its private key only as a sensitive key.
TEST_F(AttackTest, ReimportThroughAKeyPair) {
  CK_OBJECT_HANDLE pub, priv;
  ASSERT_CKR(CKR_OK, generate_rsa(Template().boolean(CKA_WRAP, true), {}, &pub, &priv, 3072));
  Bytes wrapped;
  ASSERT_CKR(CKR_OK, wrap(&oaep_, pub, victim(16), &wrapped));
  Template readable;
  readable.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES);
  readable.boolean(CKA_SENSITIVE, false).boolean(CKA_EXTRACTABLE, true);
  CK_OBJECT_HANDLE back;
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT, unwrap(&oaep_, priv, wrapped, readable, &back));
  Template plain;
  plain.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES);
  ASSERT_CKR(CKR_OK, unwrap(&oaep_, priv, wrapped, plain, &back));
  Bytes v;
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get(back, CKA_VALUE, &v));
}

// Clulow's wrap/decrypt through a wrapping key that can itself leave: wrapped under another key,
// it came back (C_UnwrapKey) as a key that decrypts, and decrypted what it had wrapped. A
// sensitive key is wrapped only under a key that never was and never can be extractable (before
// the fix the first wrap below returned CKR_OK and the chain gave the victim's value).
TEST_F(AttackTest, WrapUnderAKeyThatCanLeave) {
  // (The SO's keys first: the user's logout ends the user's session objects.)
  CK_OBJECT_HANDLE trusted = trusted_by_so(Bytes(32, 0x21));
  CK_OBJECT_HANDLE trusted_extractable = trusted_by_so(Bytes(32, 0x22), true);
  CK_OBJECT_HANDLE leaves, stays, once_extractable;
  Template wraps;
  wraps.boolean(CKA_WRAP, true).boolean(CKA_UNWRAP, true);
  ASSERT_CKR(CKR_OK, generate_aes(32, Template(wraps).boolean(CKA_EXTRACTABLE, true), &leaves));
  ASSERT_CKR(CKR_OK, generate_aes(32, Template(wraps).boolean(CKA_EXTRACTABLE, false), &stays));
  ASSERT_CKR(CKR_OK,
             generate_aes(32, Template(wraps).boolean(CKA_EXTRACTABLE, true), &once_extractable));
  ASSERT_CKR(CKR_OK, set(once_extractable, Template().boolean(CKA_EXTRACTABLE, false)));
  CK_OBJECT_HANDLE k = victim(32);
  CK_RV rv = wrap(&kwp_, stays, k);
  if (not_carried(rv)) {
    GTEST_SKIP() << "p11-kit does not carry CKM_AES_KEY_WRAP_PAD";
  }
  EXPECT_CKR(CKR_OK, rv);  // the honest path
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&kwp_, leaves, k));
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&kwp_, once_extractable, k));
  // The SO's trust does not stop an extractable key from coming back with other uses.
  EXPECT_CKR(CKR_OK, wrap(&kwp_, trusted, k));
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&kwp_, trusted_extractable, k));
  // The same through a key-transport pair whose private half can leave.
  CK_OBJECT_HANDLE pub, priv;
  ASSERT_CKR(CKR_OK,
             generate_rsa(Template().boolean(CKA_WRAP, true),
                          Template().boolean(CKA_UNWRAP, true).boolean(CKA_EXTRACTABLE, true), &pub,
                          &priv, 3072));
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&oaep_, pub, k));
}

// Vaudenay's padding oracle through C_UnwrapKey(CKM_AES_CBC_PAD): whether a chosen blob unwraps
// tells whether its padding came out right, which decrypts any block under the wrapping key, and
// with it any blob that key made (an RFC 3394 unwrap is AES decryptions). Before the fix the
// victim's value came back in about 5,700 unwraps, without a PIN for public objects. A key that
// may wrap sensitive keys unwraps only authenticated formats; a key whose value is known
// outside (which wraps no sensitive key) keeps CKM_AES_CBC_PAD both ways.
TEST_F(AttackTest, NoPaddingOracleThroughUnwrap) {
  CK_OBJECT_HANDLE kek;
  ASSERT_CKR(CKR_OK,
             generate_aes(32, Template().boolean(CKA_WRAP, true).boolean(CKA_UNWRAP, true), &kek));
  CK_OBJECT_HANDLE k = victim(16);
  Bytes wrapped;
  CK_RV rv = wrap(&kwp_, kek, k, &wrapped);
  if (not_carried(rv)) {
    GTEST_SKIP() << "p11-kit does not carry CKM_AES_KEY_WRAP_PAD";
  }
  ASSERT_CKR(CKR_OK, rv);
  Bytes iv(16, 0);
  CK_MECHANISM cbc_pad{CKM_AES_CBC_PAD, iv.data(), iv.size()};
  Template generic;
  generic.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
  generic.boolean(CKA_TOKEN, false);
  Bytes probe(wrapped.end() - 16, wrapped.end());
  probe.insert(probe.begin(), 16, 0x41);  // a chosen block, then one of the victim's blob
  CK_OBJECT_HANDLE h;
  EXPECT_CKR(CKR_MECHANISM_INVALID, unwrap(&cbc_pad, kek, probe, generic, &h));
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&cbc_pad, kek, k));  // it could never come back
  // A known key wraps and unwraps with CBC-PAD as before: it never holds a sensitive key.
  CK_OBJECT_HANDLE known, readable;
  ASSERT_CKR(
      CKR_OK,
      create(secret(Bytes(32, 0x5a)).boolean(CKA_WRAP, true).boolean(CKA_UNWRAP, true), &known));
  ASSERT_CKR(
      CKR_OK,
      generate_aes(16, Template().boolean(CKA_SENSITIVE, false).boolean(CKA_EXTRACTABLE, true),
                   &readable));
  Bytes cbc_wrapped;
  ASSERT_CKR(CKR_OK, wrap(&cbc_pad, known, readable, &cbc_wrapped));
  Template aes;
  aes.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES).boolean(CKA_TOKEN, false);
  EXPECT_CKR(CKR_OK, unwrap(&cbc_pad, known, cbc_wrapped, aes, &h));
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&cbc_pad, known, k));
}

// Raw RSA signing (CKM_RSA_X_509) is RSA decryption: a private key that signs raw would decrypt
// what its public half wraps (the OAEP block, then the victim's value). Such a pair is refused as
// a key that wraps and decrypts, and a public key imported with WRAP over such a signing key's
// modulus wraps no sensitive key (before the fix both wraps returned CKR_OK and the raw
// signature of the blob gave the victim's value).
TEST_F(AttackTest, RawRsaSigningIsDecryption) {
  CK_MECHANISM_TYPE raw[] = {CKM_RSA_X_509, CKM_RSA_PKCS_PSS};
  CK_OBJECT_HANDLE pub, priv;
  Template signs_raw;
  signs_raw.boolean(CKA_SIGN, true).boolean(CKA_DECRYPT, false).boolean(CKA_UNWRAP, false);
  signs_raw.raw(CKA_ALLOWED_MECHANISMS, raw, sizeof raw);
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT,
             generate_rsa(Template().boolean(CKA_WRAP, true).boolean(CKA_ENCRYPT, false), signs_raw,
                          &pub, &priv, 3072));
  ASSERT_CKR(CKR_OK,
             generate_rsa(Template().boolean(CKA_WRAP, false), signs_raw, &pub, &priv, 3072));
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(&oaep_, wrapping_copy(pub), victim(16)));
  // The honest path: the same over a pair whose private half signs with PSS only.
  CK_MECHANISM_TYPE pss = CKM_RSA_PKCS_PSS;
  CK_OBJECT_HANDLE pub2, priv2;
  ASSERT_CKR(
      CKR_OK,
      generate_rsa(Template().boolean(CKA_WRAP, true),
                   Template().boolean(CKA_SIGN, true).raw(CKA_ALLOWED_MECHANISMS, &pss, sizeof pss),
                   &pub2, &priv2, 3072));
  EXPECT_CKR(CKR_OK, wrap(&oaep_, pub2, victim(16)));
  // A key-transport pair whose private half signs with an empty list (no raw RSA on a modern
  // device) cannot be given CKM_RSA_X_509 afterwards, by set or copy: it would open every blob
  // its public half wrapped before (before the fix both returned CKR_OK).
  CK_OBJECT_HANDLE pub3, priv3;
  ASSERT_CKR(CKR_OK, generate_rsa(Template().boolean(CKA_WRAP, true),
                                  Template().boolean(CKA_UNWRAP, true).boolean(CKA_SIGN, true),
                                  &pub3, &priv3, 3072));
  ASSERT_CKR(CKR_OK, wrap(&oaep_, pub3, victim(16)));
  CK_MECHANISM_TYPE only_raw = CKM_RSA_X_509;
  Template to_raw = Template().raw(CKA_ALLOWED_MECHANISMS, &only_raw, sizeof only_raw);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, set(priv3, to_raw));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, copy(priv3, to_raw));
  EXPECT_CKR(CKR_OK,
             set(priv3, Template().raw(CKA_ALLOWED_MECHANISMS, &pss, sizeof pss)));  // narrows
}

// A key-encryption key's narrowed copy as an encryption oracle: a copy without CKA_WRAP and
// CKA_UNWRAP but with CKA_DERIVE derived CKM_AES_ECB_ENCRYPT_DATA under the value the original
// still unwraps with, so blobs could be forged under it (before the fix the copy returned CKR_OK
// and the forged RFC 3394 blob unwrapped).
TEST_F(AttackTest, NarrowedCopyOfAKeyEncryptionKeyDoesNotDerive) {
  CK_OBJECT_HANDLE kek;
  ASSERT_CKR(
      CKR_OK,
      generate_aes(
          32,
          Template().boolean(CKA_WRAP, true).boolean(CKA_UNWRAP, true).boolean(CKA_DERIVE, true),
          &kek));
  Template narrowed = Template().boolean(CKA_WRAP, false).boolean(CKA_UNWRAP, false);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, copy(kek, narrowed));
  CK_OBJECT_HANDLE twin;
  ASSERT_CKR(CKR_OK, f()->C_CopyObject(s_, kek, nullptr, 0, &twin));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, set(twin, narrowed));
  EXPECT_CKR(CKR_OK, copy(kek, Template(narrowed).boolean(CKA_DERIVE, false)));  // honest
  EXPECT_CKR(CKR_OK, set(twin, Template().boolean(CKA_DERIVE, false)));
}

// CKM_HKDF_DERIVE's salt may be a key: its CKA_DERIVE_TEMPLATE binds the result as the base
// key's does (before the fix a readable key of HMAC(salt key, a known base) came out of a salt
// key whose template says sensitive).
TEST_F(AttackTest, HkdfSaltKeyKeepsItsDeriveTemplate) {
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ATTRIBUTE hidden_only[] = {{CKA_SENSITIVE, &yes, sizeof yes},
                                {CKA_EXTRACTABLE, &no, sizeof no}};
  CK_MECHANISM gen{CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
  Template salt_t;
  salt_t.ulong(CKA_VALUE_LEN, 32).boolean(CKA_DERIVE, true);
  salt_t.raw(CKA_DERIVE_TEMPLATE, hidden_only, sizeof hidden_only);
  CK_OBJECT_HANDLE salt;
  CK_RV made = f()->C_GenerateKey(s_, &gen, salt_t.data(), salt_t.size(), &salt);
  if (remote_ && made == CKR_DEVICE_ERROR) {
    GTEST_SKIP() << "p11-kit's protocol does not carry template (array) attributes";
  }
  ASSERT_CKR(CKR_OK, made);
  Template base_t;
  base_t.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
  base_t.bytes(CKA_VALUE, Bytes(32, 0x11)).boolean(CKA_DERIVE, true);
  CK_OBJECT_HANDLE base;
  ASSERT_CKR(CKR_OK, create(base_t, &base));
  CK_HKDF_PARAMS p{CK_TRUE, CK_FALSE, CKM_SHA256, CKF_HKDF_SALT_KEY, nullptr, 0, salt, nullptr, 0};
  CK_MECHANISM hkdf{CKM_HKDF_DERIVE, &p, sizeof p};
  Template readable;
  readable.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
  readable.ulong(CKA_VALUE_LEN, 32).boolean(CKA_SENSITIVE, false).boolean(CKA_EXTRACTABLE, true);
  CK_OBJECT_HANDLE out;
  CK_RV rv = f()->C_DeriveKey(s_, &hkdf, base, readable.data(), readable.size(), &out);
  if (not_carried(rv)) {
    GTEST_SKIP() << "p11-kit does not carry CKM_HKDF_DERIVE";
  }
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT, rv);
  Template plain;
  plain.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
  plain.ulong(CKA_VALUE_LEN, 32);
  ASSERT_CKR(CKR_OK, f()->C_DeriveKey(s_, &hkdf, base, plain.data(), plain.size(), &out));
  Bytes v;
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get(out, CKA_VALUE, &v));
}

// A MAC key that may only verify would confirm a MAC byte by byte through ever longer truncated
// verifications (CKM_*_GENERAL with 1, 2, ... bytes: 256 tries a byte), and so make the MACs it
// may not sign. Such a key verifies no MAC shorter than 8 bytes; one that may sign still does.
TEST_F(AttackTest, NoMacOracleThroughTruncatedVerification) {
  CK_MECHANISM gen{CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
  Template verify_only;
  verify_only.ulong(CKA_VALUE_LEN, 32).boolean(CKA_SIGN, false).boolean(CKA_VERIFY, true);
  CK_OBJECT_HANDLE verifier, signer;
  ASSERT_CKR(CKR_OK,
             f()->C_GenerateKey(s_, &gen, verify_only.data(), verify_only.size(), &verifier));
  Template both;
  both.ulong(CKA_VALUE_LEN, 32).boolean(CKA_SIGN, true).boolean(CKA_VERIFY, true);
  ASSERT_CKR(CKR_OK, f()->C_GenerateKey(s_, &gen, both.data(), both.size(), &signer));
  CK_BYTE data[] = "message";
  CK_BYTE guess[8] = {0};
  for (CK_MAC_GENERAL_PARAMS len : {1UL, 4UL, 7UL}) {
    CK_MECHANISM m{CKM_SHA256_HMAC_GENERAL, &len, sizeof len};
    CK_RV rv = f()->C_VerifyInit(s_, &m, verifier);
    if (not_carried(rv)) {
      GTEST_SKIP() << "p11-kit does not carry CKM_SHA256_HMAC_GENERAL";
    }
    EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, rv) << len << " bytes";
    ASSERT_CKR(CKR_OK, f()->C_SignInit(s_, &m, signer));
    CK_BYTE mac[32];
    CK_ULONG mac_len = sizeof mac;
    ASSERT_CKR(CKR_OK, f()->C_Sign(s_, data, sizeof data, mac, &mac_len));
    EXPECT_EQ(mac_len, len);
    ASSERT_CKR(CKR_OK, f()->C_VerifyInit(s_, &m, signer)) << len << " bytes";
    EXPECT_CKR(CKR_OK, f()->C_Verify(s_, data, sizeof data, mac, mac_len)) << len << " bytes";
  }
  CK_MAC_GENERAL_PARAMS eight = 8;
  CK_MECHANISM m8{CKM_SHA256_HMAC_GENERAL, &eight, sizeof eight};
  ASSERT_CKR(CKR_OK, f()->C_VerifyInit(s_, &m8, verifier));
  EXPECT_CKR(CKR_SIGNATURE_INVALID, f()->C_Verify(s_, data, sizeof data, guess, sizeof guess));
}

}  // namespace
}  // namespace twinhsm::test
