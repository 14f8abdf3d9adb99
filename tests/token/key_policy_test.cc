// The key policy's rules as functions (the attacks they stop, through the module, are
// tests/pkcs11/attacks_test.cc).
#include "token/key_policy.h"

#include <gtest/gtest.h>

#include "token/attribute_policy.h"
#include "token/ck_error.h"

namespace twinhsm::token {
namespace {

AttributeMap secret(size_t len, bool sensitive = true) {
  AttributeMap a;
  a.set_ulong(CKA_CLASS, CKO_SECRET_KEY);
  a.set_ulong(CKA_KEY_TYPE, CKK_AES);
  a.set(CKA_VALUE, SecureBytes(len, 1));
  a.set_bool(CKA_SENSITIVE, sensitive);
  a.set_bool(CKA_EXTRACTABLE, true);
  return a;
}

AttributeMap rsa_public(size_t modulus_bits) {
  AttributeMap a;
  a.set_ulong(CKA_CLASS, CKO_PUBLIC_KEY);
  a.set_ulong(CKA_KEY_TYPE, CKK_RSA);
  Bytes n(modulus_bits / 8, 0xff);
  a.set(CKA_MODULUS, ByteView(n));
  return a;
}

CK_RV rv_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const CkError& e) {
    return e.rv();
  }
  return CKR_OK;
}

TEST(KeyPolicyRules, SecurityStrengthFollowsSp800_57) {
  EXPECT_EQ(security_strength(secret(16)), 128u);
  EXPECT_EQ(security_strength(secret(32)), 256u);
  EXPECT_EQ(security_strength(secret(64)), 256u);  // capped
  EXPECT_EQ(security_strength(rsa_public(1024)), 80u);
  EXPECT_EQ(security_strength(rsa_public(2048)), 112u);
  EXPECT_EQ(security_strength(rsa_public(3072)), 128u);
  EXPECT_EQ(security_strength(rsa_public(4096)), 128u);
  EXPECT_EQ(security_strength(rsa_public(7680)), 192u);
}

TEST(KeyPolicyRules, SeparationConcernsHiddenKeysOnly) {
  AttributeMap mixed = secret(32);
  mixed.set_bool(CKA_WRAP, true);
  mixed.set_bool(CKA_DECRYPT, true);
  EXPECT_TRUE(mixes_wrapping_and_data(mixed));
  EXPECT_EQ(rv_of([&] { check_new_key(mixed, Role::user, KeyPolicy::strict); }),
            CKR_TEMPLATE_INCONSISTENT);
  AttributeMap readable = secret(32, false);
  readable.set_bool(CKA_WRAP, true);
  readable.set_bool(CKA_DECRYPT, true);
  EXPECT_FALSE(mixes_wrapping_and_data(readable));
  EXPECT_EQ(rv_of([&] { check_new_key(readable, Role::user, KeyPolicy::strict); }), CKR_OK);
  // A usage counts only if an allowed mechanism does it.
  CK_MECHANISM_TYPE kw = CKM_AES_KEY_WRAP;
  mixed.set(CKA_ALLOWED_MECHANISMS, ByteView(reinterpret_cast<const uint8_t*>(&kw), sizeof kw));
  EXPECT_FALSE(mixes_wrapping_and_data(mixed));
  // Compatible marks instead of refusing.
  AttributeMap marked = secret(32);
  marked.set_bool(CKA_UNWRAP, true);
  marked.set_bool(CKA_ENCRYPT, true);
  check_new_key(marked, Role::user, KeyPolicy::compatible);
  EXPECT_TRUE(marked.get_bool(CKA_TWINHSM_WRAPS_AND_PROCESSES_DATA, false));
}

TEST(KeyPolicyRules, OnlyTheSoMakesKeysTrusted) {
  AttributeMap t = secret(32);
  t.set_bool(CKA_TRUSTED, true);
  EXPECT_EQ(rv_of([&] { check_new_key(t, Role::user, KeyPolicy::strict); }),
            CKR_ATTRIBUTE_READ_ONLY);
  EXPECT_EQ(rv_of([&] { check_new_key(t, std::nullopt, KeyPolicy::strict); }),
            CKR_ATTRIBUTE_READ_ONLY);
  EXPECT_EQ(rv_of([&] { check_new_key(t, Role::so, KeyPolicy::strict); }), CKR_OK);
}

TEST(KeyPolicyRules, UnwrapTemplatesMergeAndHiddenUnwrappersMakeSensitiveKeys) {
  AttributeMap nested;
  nested.set_bool(CKA_EXTRACTABLE, false);
  AttributeMap unwrapper = secret(32);
  unwrapper.set(CKA_UNWRAP_TEMPLATE, nested.encode());
  AttributeMap request;
  AttributeMap merged = unwrap_template(unwrapper, request);
  EXPECT_FALSE(merged.get_bool(CKA_EXTRACTABLE, true));
  EXPECT_TRUE(merged.get_bool(CKA_SENSITIVE, false));
  request.set_bool(CKA_EXTRACTABLE, true);
  EXPECT_EQ(rv_of([&] { unwrap_template(unwrapper, request); }), CKR_TEMPLATE_INCONSISTENT);
  AttributeMap readable_request;
  readable_request.set_bool(CKA_SENSITIVE, false);
  EXPECT_EQ(rv_of([&] { unwrap_template(secret(32), readable_request); }),
            CKR_TEMPLATE_INCONSISTENT);
  EXPECT_EQ(rv_of([&] { unwrap_template(secret(32, false), readable_request); }), CKR_OK);
}

TEST(KeyPolicyRules, AHiddenKeysUsageOnlyNarrows) {
  AttributeMap k = secret(32);
  k.set_bool(CKA_ENCRYPT, false);
  AttributeMap widen;
  widen.set_bool(CKA_ENCRYPT, true);
  EXPECT_EQ(rv_of([&] { changed_object(k, widen, false, Role::user, KeyPolicy::strict); }),
            CKR_ATTRIBUTE_READ_ONLY);
  AttributeMap readable = secret(32, false);
  readable.set_bool(CKA_ENCRYPT, false);
  EXPECT_TRUE(changed_object(readable, widen, false, Role::user, KeyPolicy::strict)
                  .get_bool(CKA_ENCRYPT, false));
}

// generated_here marks a key as one made on the token, always sensitive, never extractable.
AttributeMap generated_here(AttributeMap a) {
  a.set_bool(CKA_SENSITIVE, true);
  a.set_bool(CKA_EXTRACTABLE, false);
  a.set_bool(CKA_LOCAL, true);
  a.set_bool(CKA_ALWAYS_SENSITIVE, true);
  a.set_bool(CKA_NEVER_EXTRACTABLE, true);
  return a;
}

// On a legacy device any RSA private key signs with CKM_RSA_X_509 (raw RSA: decryption) unless
// its CKA_ALLOWED_MECHANISMS says otherwise; on a modern one only a key whose list names it.
TEST(KeyPolicyRules, RawRsaSigningHalvesDecrypt) {
  AttributeMap pub = rsa_public(3072);
  pub.set_bool(CKA_WRAP, true);
  AttributeMap priv = rsa_public(3072);
  priv.set_ulong(CKA_CLASS, CKO_PRIVATE_KEY);
  priv.set_bool(CKA_SIGN, true);
  priv = generated_here(priv);
  AttributeMap k = secret(16);
  EXPECT_EQ(rv_of([&] { check_wrap(WrappingKey{pub, CKM_RSA_PKCS_OAEP, {priv}}, k); }), CKR_OK);
  EXPECT_EQ(rv_of([&] {
              check_wrap(WrappingKey{pub, CKM_RSA_PKCS_OAEP, {priv}, true, true}, k);
            }),
            CKR_KEY_NOT_WRAPPABLE);
  CK_MECHANISM_TYPE pss = CKM_RSA_PKCS_PSS;
  AttributeMap pss_only = priv;
  pss_only.set(CKA_ALLOWED_MECHANISMS,
               ByteView(reinterpret_cast<const uint8_t*>(&pss), sizeof pss));
  EXPECT_EQ(rv_of([&] {
              check_wrap(WrappingKey{pub, CKM_RSA_PKCS_OAEP, {pss_only}, true, true}, k);
            }),
            CKR_OK);
  CK_MECHANISM_TYPE raw = CKM_RSA_X_509;
  AttributeMap raw_listed = priv;
  raw_listed.set(CKA_ALLOWED_MECHANISMS,
                 ByteView(reinterpret_cast<const uint8_t*>(&raw), sizeof raw));
  EXPECT_EQ(rv_of([&] {
              check_wrap(WrappingKey{pub, CKM_RSA_PKCS_OAEP, {raw_listed}}, k);
            }),
            CKR_KEY_NOT_WRAPPABLE);
}

// Only keys that may wrap sensitive keys (never known outside, or trusted) lose the unwrap
// formats without integrity; a wrapping key that could leave wraps no sensitive key.
TEST(KeyPolicyRules, KeysGuardingSensitiveKeysUnwrapOnlyAuthenticatedFormats) {
  AttributeMap kek = generated_here(secret(32));
  EXPECT_EQ(rv_of([&] { check_unwrap(kek, CKM_AES_CBC_PAD); }), CKR_MECHANISM_INVALID);
  EXPECT_EQ(rv_of([&] { check_unwrap(kek, CKM_AES_KEY_WRAP_PAD); }), CKR_OK);
  EXPECT_EQ(rv_of([&] { check_unwrap(secret(32), CKM_AES_CBC_PAD); }), CKR_OK);  // imported
  AttributeMap trusted = secret(32);
  trusted.set_bool(CKA_TRUSTED, true);
  trusted.set_bool(CKA_EXTRACTABLE, false);
  EXPECT_EQ(rv_of([&] { check_unwrap(trusted, CKM_AES_CBC_PAD); }), CKR_MECHANISM_INVALID);
  AttributeMap k = secret(16);
  EXPECT_EQ(rv_of([&] { check_wrap(WrappingKey{kek, CKM_AES_KEY_WRAP_PAD}, k); }), CKR_OK);
  EXPECT_EQ(rv_of([&] {
              check_wrap(WrappingKey{kek, CKM_AES_CBC_PAD}, k);
            }),
            CKR_KEY_NOT_WRAPPABLE);
  EXPECT_EQ(rv_of([&] { check_wrap(WrappingKey{trusted, CKM_AES_CBC_PAD}, k); }), CKR_OK);
  AttributeMap once_extractable = kek;
  once_extractable.set_bool(CKA_NEVER_EXTRACTABLE, false);
  EXPECT_EQ(rv_of([&] {
              check_wrap(WrappingKey{once_extractable, CKM_AES_KEY_WRAP_PAD}, k);
            }),
            CKR_KEY_NOT_WRAPPABLE);
}

}  // namespace
}  // namespace twinhsm::token
