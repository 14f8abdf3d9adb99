// The key policy's rules beyond the attacks of attacks_test.cc: the compatible policy, the
// usage defaults that keep wrapping apart from data, and honest CKA_LOCAL, CKA_ALWAYS_SENSITIVE
// and CKA_NEVER_EXTRACTABLE on keys the token did not generate.
#include "fixture.h"

namespace twinhsm::test {
namespace {

constexpr CK_ATTRIBUTE_TYPE kMark = CKA_VENDOR_DEFINED | 0x54480001UL;

class KeyPolicyTest : public LoggedInTest {
 protected:
  CK_OBJECT_HANDLE generate_aes(CK_ULONG len, Template t) {
    CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
    t.ulong(CKA_VALUE_LEN, len);
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    EXPECT_CKR(CKR_OK, f()->C_GenerateKey(s_, &gen, t.data(), t.size(), &h));
    return h;
  }
  CK_RV wrap(CK_OBJECT_HANDLE w, CK_OBJECT_HANDLE k) {
    CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
    CK_ULONG len = 0;
    return f()->C_WrapKey(s_, &kwp, w, k, nullptr, &len);
  }
  CK_OBJECT_HANDLE victim() {
    return generate_aes(16, Template().boolean(CKA_SENSITIVE, true).boolean(CKA_EXTRACTABLE, true));
  }
};

class CompatiblePolicyTest : public KeyPolicyTest {
 protected:
  DeviceOptions device_options() override {
    DeviceOptions o;
    o.key_policy = "compatible";
    return o;
  }
};

TEST_F(KeyPolicyTest, DefaultsKeepWrappingApartFromData) {
  // A hidden key gets the data side unless it asks to wrap; then only the key side.
  CK_OBJECT_HANDLE plain = generate_aes(32, {});
  EXPECT_EQ(attr_bool(f(), s_, plain, CKA_ENCRYPT), true);
  EXPECT_EQ(attr_bool(f(), s_, plain, CKA_WRAP), false);
  CK_OBJECT_HANDLE kek = generate_aes(32, Template().boolean(CKA_WRAP, true));
  EXPECT_EQ(attr_bool(f(), s_, kek, CKA_UNWRAP), true);
  EXPECT_EQ(attr_bool(f(), s_, kek, CKA_ENCRYPT), false);
  EXPECT_EQ(attr_bool(f(), s_, kek, CKA_DECRYPT), false);
  // A readable key may do everything (whoever reads it can, outside the token).
  CK_OBJECT_HANDLE readable =
      generate_aes(32, Template().boolean(CKA_SENSITIVE, false).boolean(CKA_EXTRACTABLE, true));
  EXPECT_EQ(attr_bool(f(), s_, readable, CKA_WRAP), true);
  EXPECT_EQ(attr_bool(f(), s_, readable, CKA_DECRYPT), true);
  Bytes mark;
  EXPECT_CKR(CKR_ATTRIBUTE_TYPE_INVALID, get_attribute(f(), s_, readable, kMark, &mark));
  // ...but never wraps a sensitive key.
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(readable, victim()));
  EXPECT_CKR(CKR_OK, wrap(kek, victim()));
  // Under strict, a hidden key that asks for both is refused.
  CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
  Template both;
  both.ulong(CKA_VALUE_LEN, 32).boolean(CKA_WRAP, true).boolean(CKA_ENCRYPT, true);
  CK_OBJECT_HANDLE h;
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT, f()->C_GenerateKey(s_, &gen, both.data(), both.size(), &h));
  // The mark is the token's: a template cannot set it.
  Template marked = aes_key(Bytes(32, 1), false, true);
  marked.boolean(kMark, false);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, f()->C_CreateObject(s_, marked.data(), marked.size(), &h));
}

TEST_F(CompatiblePolicyTest, MixedKeysAreMadeMarkedAndNeverWrapASensitiveKey) {
  Template both;
  both.boolean(CKA_WRAP, true)
      .boolean(CKA_UNWRAP, true)
      .boolean(CKA_ENCRYPT, true)
      .boolean(CKA_DECRYPT, true);
  CK_OBJECT_HANDLE mixed = generate_aes(32, both);
  ASSERT_NE(mixed, CK_INVALID_HANDLE);
  EXPECT_EQ(attr_bool(f(), s_, mixed, kMark), true);
  CK_OBJECT_HANDLE readable =
      generate_aes(16, Template().boolean(CKA_SENSITIVE, false).boolean(CKA_EXTRACTABLE, true));
  EXPECT_CKR(CKR_OK, wrap(mixed, readable));  // nothing to protect
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(mixed, victim()));
  // It wraps no sensitive key and decrypts anyway: CBC-PAD unwrap is no oracle to close.
  Bytes iv(16, 3);
  CK_MECHANISM cbc_pad{CKM_AES_CBC_PAD, iv.data(), iv.size()};
  CK_ULONG len = 64;
  Bytes blob(len);
  ASSERT_CKR(CKR_OK, f()->C_WrapKey(s_, &cbc_pad, mixed, readable, blob.data(), &len));
  Template aes;
  aes.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES);
  CK_OBJECT_HANDLE back;
  EXPECT_CKR(CKR_OK, f()->C_UnwrapKey(s_, &cbc_pad, mixed, blob.data(), len, aes.data(), aes.size(),
                                      &back));
  // A copy narrowed to wrapping only keeps the mark: the original could decrypt what it wraps.
  Template narrow;
  narrow.boolean(CKA_ENCRYPT, false).boolean(CKA_DECRYPT, false);
  CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
  ASSERT_CKR(CKR_OK, f()->C_CopyObject(s_, mixed, narrow.data(), narrow.size(), &copy));
  EXPECT_EQ(attr_bool(f(), s_, copy, kMark), true);
  EXPECT_CKR(CKR_KEY_NOT_WRAPPABLE, wrap(copy, victim()));
  Template unmark;
  unmark.boolean(kMark, false);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             f()->C_SetAttributeValue(s_, copy, unmark.data(), unmark.size()));
  // The other rules hold under compatible too.
  Template trusted = aes_key(Bytes(32, 2), false, true);
  trusted.boolean(CKA_TRUSTED, true);
  CK_OBJECT_HANDLE h;
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, f()->C_CreateObject(s_, trusted.data(), trusted.size(), &h));
  Template value;
  value.bytes(CKA_VALUE, Bytes(16, 0));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             f()->C_SetAttributeValue(s_, victim(), value.data(), value.size()));
}

TEST_F(KeyPolicyTest, UnwrappedAndDerivedKeysAreHonestAboutTheirPast) {
  CK_OBJECT_HANDLE kek = generate_aes(32, Template().boolean(CKA_WRAP, true));
  CK_OBJECT_HANDLE k = victim();
  CK_MECHANISM kwp{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_ULONG len = 64;
  Bytes wrapped(len);
  ASSERT_CKR(CKR_OK, f()->C_WrapKey(s_, &kwp, kek, k, wrapped.data(), &len));
  wrapped.resize(len);
  Template in;
  in.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES).boolean(CKA_EXTRACTABLE, false);
  CK_OBJECT_HANDLE back;
  ASSERT_CKR(CKR_OK, f()->C_UnwrapKey(s_, &kwp, kek, wrapped.data(), wrapped.size(), in.data(),
                                      in.size(), &back));
  EXPECT_EQ(attr_bool(f(), s_, back, CKA_LOCAL), false);
  EXPECT_EQ(attr_bool(f(), s_, back, CKA_ALWAYS_SENSITIVE), false);  // it was outside, wrapped
  EXPECT_EQ(attr_bool(f(), s_, back, CKA_NEVER_EXTRACTABLE), false);
  // A generated key is local and always sensitive; so a copy of it.
  EXPECT_EQ(attr_bool(f(), s_, k, CKA_LOCAL), true);
  EXPECT_EQ(attr_bool(f(), s_, k, CKA_ALWAYS_SENSITIVE), true);
  // Derived: CKA_LOCAL false; always sensitive only if the base key always was and it is.
  CK_MECHANISM gen{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  Template pub, priv;
  pub.bytes(CKA_EC_PARAMS, ec_params_p256());
  priv.boolean(CKA_DERIVE, true);
  CK_OBJECT_HANDLE ec_pub, ec_priv;
  ASSERT_CKR(CKR_OK, f()->C_GenerateKeyPair(s_, &gen, pub.data(), pub.size(), priv.data(),
                                            priv.size(), &ec_pub, &ec_priv));
  Bytes point = attr_bytes(f(), s_, ec_pub, CKA_EC_POINT);
  CK_ECDH1_DERIVE_PARAMS p{CKD_NULL, 0, nullptr, point.size(), point.data()};
  CK_MECHANISM ecdh{CKM_ECDH1_DERIVE, &p, sizeof p};
  for (bool sensitive : {true, false}) {
    Template t;
    t.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
    t.boolean(CKA_SENSITIVE, sensitive).boolean(CKA_EXTRACTABLE, !sensitive);
    CK_OBJECT_HANDLE derived;
    ASSERT_CKR(CKR_OK, f()->C_DeriveKey(s_, &ecdh, ec_priv, t.data(), t.size(), &derived));
    EXPECT_EQ(attr_bool(f(), s_, derived, CKA_LOCAL), false);
    EXPECT_EQ(attr_bool(f(), s_, derived, CKA_ALWAYS_SENSITIVE), sensitive);
    EXPECT_EQ(attr_bool(f(), s_, derived, CKA_NEVER_EXTRACTABLE), sensitive);
  }
}

}  // namespace
}  // namespace twinhsm::test
