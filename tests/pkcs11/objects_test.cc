// Objects: C_CreateObject / C_CopyObject / C_DestroyObject / C_GetAttributeValue /
// C_SetAttributeValue / C_FindObjects* / C_GetObjectSize on token and session objects, templates,
// visibility of private objects, sensitive attributes, invalid handles and arguments.
#include <algorithm>
#include <cstring>
#include <set>

#include "fixture.h"

namespace twinhsm::test {
namespace {

constexpr CK_OBJECT_HANDLE kSessionHandleBase = CK_OBJECT_HANDLE{1} << 40;

Bytes key32(uint8_t seed) {
  Bytes k(32);
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = static_cast<uint8_t>(seed * 31 + i * 7 + 1);
  }
  return k;
}

std::set<CK_OBJECT_HANDLE> as_set(const std::vector<CK_OBJECT_HANDLE>& v) {
  return std::set<CK_OBJECT_HANDLE>(v.begin(), v.end());
}

class ObjectsTest : public SessionTest {};

// ---- Create, read, handles ----

TEST_F(ObjectsTest, SessionDataObjectWithDefaults) {
  Template t;
  t.ulong(CKA_CLASS, CKO_DATA).str(CKA_LABEL, "plain").str(CKA_VALUE, "hello");
  CK_OBJECT_HANDLE h = create(f(), s_, t);
  ASSERT_NE(h, CK_INVALID_HANDLE);
  EXPECT_GE(h, kSessionHandleBase);
  EXPECT_EQ(attr_ulong(f(), s_, h, CKA_CLASS), CKO_DATA);
  EXPECT_EQ(attr_bytes(f(), s_, h, CKA_LABEL), to_bytes("plain"));
  EXPECT_EQ(attr_bytes(f(), s_, h, CKA_VALUE), to_bytes("hello"));
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_TOKEN), false);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_PRIVATE), false);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_MODIFIABLE), true);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_COPYABLE), true);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_DESTROYABLE), true);
}

TEST_F(ObjectsTest, TokenObjectsPersistSessionObjectsDoNot) {
  CK_OBJECT_HANDLE tok = create(f(), s_, data_object("on-token", "v", true, false));
  CK_OBJECT_HANDLE ses = create(f(), s_, data_object("in-session", "v", false, false));
  ASSERT_NE(tok, CK_INVALID_HANDLE);
  ASSERT_NE(ses, CK_INVALID_HANDLE);
  EXPECT_LT(tok, kSessionHandleBase);
  EXPECT_GE(ses, kSessionHandleBase);
  EXPECT_EQ(attr_bool(f(), s_, tok, CKA_TOKEN), true);

  reinitialize();
  s_ = open_session();
  Template on_token;
  on_token.str(CKA_LABEL, "on-token");
  EXPECT_EQ(find_all(f(), s_, on_token), std::vector<CK_OBJECT_HANDLE>{tok});
  EXPECT_EQ(attr_bytes(f(), s_, tok, CKA_LABEL), to_bytes("on-token"));
  Template in_session;
  in_session.str(CKA_LABEL, "in-session");
  EXPECT_TRUE(find_all(f(), s_, in_session).empty());
  expect_object_handle_invalid(s_, ses);
}

TEST_F(ObjectsTest, SessionObjectsAreSharedByTheApplicationsSessionsAndDieWithTheirSession) {
  CK_SESSION_HANDLE other = open_session(false);
  CK_OBJECT_HANDLE h = create(f(), s_, data_object("shared", "v", false, false));
  ASSERT_NE(h, CK_INVALID_HANDLE);
  EXPECT_EQ(attr_bytes(f(), other, h, CKA_LABEL), to_bytes("shared"));
  Template by_label;
  by_label.str(CKA_LABEL, "shared");
  EXPECT_EQ(find_all(f(), other, by_label).size(), 1u);
  ASSERT_CKR(CKR_OK, f()->C_CloseSession(s_));
  EXPECT_TRUE(find_all(f(), other, by_label).empty());
  expect_object_handle_invalid(other, h);
}

TEST_F(ObjectsTest, ReadOnlySessionsCannotWriteTokenObjects) {
  CK_OBJECT_HANDLE tok = create(f(), s_, data_object("rw-made", "v", true, false));
  ASSERT_NE(tok, CK_INVALID_HANDLE);
  CK_SESSION_HANDLE ro = open_session(false);
  Template t = data_object("ro-made", "v", true, false);
  CK_OBJECT_HANDLE h;
  EXPECT_CKR(CKR_SESSION_READ_ONLY, f()->C_CreateObject(ro, t.data(), t.size(), &h));
  Template set;
  set.str(CKA_LABEL, "changed");
  EXPECT_CKR(CKR_SESSION_READ_ONLY, f()->C_SetAttributeValue(ro, tok, set.data(), set.size()));
  EXPECT_CKR(CKR_SESSION_READ_ONLY, f()->C_DestroyObject(ro, tok));
  Template to_token;
  to_token.boolean(CKA_TOKEN, true);
  CK_OBJECT_HANDLE ses = create(f(), ro, data_object("ro-session", "v", false, false));
  ASSERT_NE(ses, CK_INVALID_HANDLE);  // session objects are fine in a read-only session
  EXPECT_CKR(CKR_SESSION_READ_ONLY,
             f()->C_CopyObject(ro, ses, to_token.data(), to_token.size(), &h));
  Template not_copyable;
  not_copyable.boolean(CKA_COPYABLE, false);
  EXPECT_CKR(CKR_OK, f()->C_SetAttributeValue(ro, ses, not_copyable.data(), not_copyable.size()));
  EXPECT_EQ(attr_bytes(f(), ro, tok, CKA_LABEL), to_bytes("rw-made"));
  Template ro_made;
  ro_made.str(CKA_LABEL, "ro-made");
  EXPECT_TRUE(find_all(f(), ro, ro_made).empty());
  EXPECT_CKR(CKR_OK, f()->C_DestroyObject(ro, ses));
}

// ---- Private objects ----

TEST_F(ObjectsTest, PrivateObjectsNeedTheUser) {
  Template t = data_object("secret-data", "v", false, true);
  CK_OBJECT_HANDLE h;
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN, f()->C_CreateObject(s_, t.data(), t.size(), &h));
  Template key;  // a secret key is private unless told otherwise
  key.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES).bytes(CKA_VALUE, key32(1));
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN, f()->C_CreateObject(s_, key.data(), key.size(), &h));
  ASSERT_CKR(CKR_OK, login_so(s_));
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN, f()->C_CreateObject(s_, t.data(), t.size(), &h));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s_));
  ASSERT_CKR(CKR_OK, login_user(s_));
  EXPECT_CKR(CKR_OK, f()->C_CreateObject(s_, key.data(), key.size(), &h));
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_PRIVATE), true);
}

TEST_F(ObjectsTest, PrivateObjectsAreInvisibleWithoutLogin) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  CK_OBJECT_HANDLE pub = create(f(), s_, data_object("public", "v", true, false));
  CK_OBJECT_HANDLE priv_tok = create(f(), s_, data_object("private-token", "v", true, true));
  CK_OBJECT_HANDLE priv_ses = create(f(), s_, data_object("private-session", "v", false, true));
  CK_OBJECT_HANDLE key = create(f(), s_, aes_key(key32(2), true, true));
  ASSERT_NE(key, CK_INVALID_HANDLE);
  EXPECT_EQ(find_all(f(), s_).size(), 4u);
  ASSERT_CKR(CKR_OK, f()->C_Logout(s_));

  EXPECT_EQ(find_all(f(), s_), std::vector<CK_OBJECT_HANDLE>{pub});
  Template by_label;
  by_label.str(CKA_LABEL, "private-token");
  EXPECT_TRUE(find_all(f(), s_, by_label).empty());
  Template secret_keys;
  secret_keys.ulong(CKA_CLASS, CKO_SECRET_KEY);
  EXPECT_TRUE(find_all(f(), s_, secret_keys).empty());
  Template private_true;
  private_true.boolean(CKA_PRIVATE, true);
  EXPECT_TRUE(find_all(f(), s_, private_true).empty());
  for (CK_OBJECT_HANDLE h : {priv_tok, priv_ses, key}) {
    expect_object_handle_invalid(s_, h);
  }

  // After a restart, too.
  reinitialize();
  s_ = open_session();
  EXPECT_EQ(find_all(f(), s_), std::vector<CK_OBJECT_HANDLE>{pub});
  expect_object_handle_invalid(s_, priv_tok);
  ASSERT_CKR(CKR_OK, login_user(s_));
  EXPECT_EQ(as_set(find_all(f(), s_)), (std::set<CK_OBJECT_HANDLE>{pub, priv_tok, key}));
  EXPECT_EQ(attr_bytes(f(), s_, priv_tok, CKA_LABEL), to_bytes("private-token"));
  EXPECT_EQ(find_all(f(), s_, by_label), std::vector<CK_OBJECT_HANDLE>{priv_tok});
}

// PKCS#11 3.0 section 5.6.4 (C_Logout): "all private session objects from sessions belonging to
// the application are destroyed". Public session objects stay.
TEST_F(ObjectsTest, LogoutDestroysPrivateSessionObjects) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  CK_OBJECT_HANDLE priv = create(f(), s_, data_object("private-session", "v", false, true));
  CK_OBJECT_HANDLE key = create(f(), s_, aes_key(key32(16), false, true));
  CK_OBJECT_HANDLE pub = create(f(), s_, data_object("public-session", "v", false, false));
  ASSERT_NE(key, CK_INVALID_HANDLE);
  ASSERT_CKR(CKR_OK, f()->C_Logout(s_));
  ASSERT_CKR(CKR_OK, login_user(s_));
  Template by_label;
  by_label.str(CKA_LABEL, "private-session");
  EXPECT_TRUE(find_all(f(), s_, by_label).empty());
  Template secret_keys;
  secret_keys.ulong(CKA_CLASS, CKO_SECRET_KEY);
  EXPECT_TRUE(find_all(f(), s_, secret_keys).empty());
  expect_object_handle_invalid(s_, priv);
  expect_object_handle_invalid(s_, key);
  EXPECT_EQ(attr_bytes(f(), s_, pub, CKA_LABEL), to_bytes("public-session"));
}

// ---- Keys ----

TEST_F(ObjectsTest, CreatedAesKey) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  CK_OBJECT_HANDLE h = create(f(), s_, aes_key(key32(3), true, true));
  ASSERT_NE(h, CK_INVALID_HANDLE);
  EXPECT_EQ(attr_ulong(f(), s_, h, CKA_KEY_TYPE), CKK_AES);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_SENSITIVE), true);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_EXTRACTABLE), false);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_LOCAL), false);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_ALWAYS_SENSITIVE), false);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_NEVER_EXTRACTABLE), false);
  EXPECT_EQ(attr_ulong(f(), s_, h, CKA_KEY_GEN_MECHANISM), CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_ENCRYPT), true);
  Bytes value;
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get_attribute(f(), s_, h, CKA_VALUE, &value));
}

// PKCS#11 3.0 section 6.7.2 (AES secret key objects): CKA_VALUE_LEN is an attribute of every AES
// key; it "must not be specified when the object is created with C_CreateObject" -- the token
// computes it -- so a created key must answer it like a generated one does.
TEST_F(ObjectsTest, CreatedAesKeyReportsValueLen) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  CK_OBJECT_HANDLE h = create(f(), s_, aes_key(key32(3), false, true));
  ASSERT_NE(h, CK_INVALID_HANDLE);
  CK_ULONG len = 0;
  CK_ATTRIBUTE a{CKA_VALUE_LEN, &len, sizeof len};
  EXPECT_CKR(CKR_OK, f()->C_GetAttributeValue(s_, h, &a, 1));
  EXPECT_EQ(len, 32u);
}

TEST_F(ObjectsTest, GeneratedAesKey) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  CK_MECHANISM mech{CKM_AES_KEY_GEN, nullptr, 0};
  Template t;
  t.ulong(CKA_VALUE_LEN, 32).boolean(CKA_TOKEN, true).str(CKA_LABEL, "generated");
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  ASSERT_CKR(CKR_OK, f()->C_GenerateKey(s_, &mech, t.data(), t.size(), &h));
  EXPECT_LT(h, kSessionHandleBase);
  EXPECT_EQ(attr_ulong(f(), s_, h, CKA_CLASS), CKO_SECRET_KEY);
  EXPECT_EQ(attr_ulong(f(), s_, h, CKA_KEY_TYPE), CKK_AES);
  EXPECT_EQ(attr_ulong(f(), s_, h, CKA_VALUE_LEN), 32u);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_LOCAL), true);
  EXPECT_EQ(attr_ulong(f(), s_, h, CKA_KEY_GEN_MECHANISM), CKM_AES_KEY_GEN);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_ALWAYS_SENSITIVE), true);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_NEVER_EXTRACTABLE), true);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_PRIVATE), true);
  Bytes value;
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get_attribute(f(), s_, h, CKA_VALUE, &value));

  Template no_len;
  EXPECT_CKR(CKR_TEMPLATE_INCOMPLETE,
             f()->C_GenerateKey(s_, &mech, no_len.data(), no_len.size(), &h));
  Template bad_len;
  bad_len.ulong(CKA_VALUE_LEN, 17);
  EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID,
             f()->C_GenerateKey(s_, &mech, bad_len.data(), bad_len.size(), &h));
  Template with_value;
  with_value.ulong(CKA_VALUE_LEN, 32).bytes(CKA_VALUE, key32(4));
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT,
             f()->C_GenerateKey(s_, &mech, with_value.data(), with_value.size(), &h));
  Template wrong_class;
  wrong_class.ulong(CKA_VALUE_LEN, 32).ulong(CKA_CLASS, CKO_DATA);
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT,
             f()->C_GenerateKey(s_, &mech, wrong_class.data(), wrong_class.size(), &h));
  CK_SESSION_HANDLE ro = open_session(false);
  EXPECT_CKR(CKR_SESSION_READ_ONLY, f()->C_GenerateKey(ro, &mech, t.data(), t.size(), &h));
  CK_MECHANISM bad{CKM_DES3_KEY_GEN, nullptr, 0};
  EXPECT_CKR(CKR_MECHANISM_INVALID, f()->C_GenerateKey(s_, &bad, t.data(), t.size(), &h));
}

TEST_F(ObjectsTest, SensitiveAndExtractableDecideWhetherTheValueIsReadable) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  Template readable = aes_key(key32(5), false, true, false);
  readable.boolean(CKA_EXTRACTABLE, true);
  CK_OBJECT_HANDLE h1 = create(f(), s_, readable);
  EXPECT_EQ(attr_bytes(f(), s_, h1, CKA_VALUE), key32(5));

  // Not sensitive, but not extractable (the default): still hidden.
  CK_OBJECT_HANDLE h2 = create(f(), s_, aes_key(key32(6), false, true, false));
  Bytes v;
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get_attribute(f(), s_, h2, CKA_VALUE, &v));

  // A public (CKA_PRIVATE false) key is still sensitive by default.
  CK_OBJECT_HANDLE h3 = create(f(), s_, aes_key(key32(7), true, false, true));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s_));
  EXPECT_EQ(attr_bool(f(), s_, h3, CKA_PRIVATE), false);
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get_attribute(f(), s_, h3, CKA_VALUE, &v));
}

TEST_F(ObjectsTest, SensitiveMayOnlyBecomeTrueExtractableOnlyFalse) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  Template t = aes_key(key32(8), true, true, false);
  t.boolean(CKA_EXTRACTABLE, true);
  CK_OBJECT_HANDLE h = create(f(), s_, t);
  ASSERT_EQ(attr_bytes(f(), s_, h, CKA_VALUE), key32(8));

  // A readable key may do everything; a hidden one may not both wrap keys and encrypt data
  // (strict key policy): it becomes sensitive only with one side of its usage dropped.
  Template sensitive_true;
  sensitive_true.boolean(CKA_SENSITIVE, true);
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT,
             f()->C_SetAttributeValue(s_, h, sensitive_true.data(), sensitive_true.size()));
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_SENSITIVE), false);
  sensitive_true.boolean(CKA_WRAP, false).boolean(CKA_UNWRAP, false);
  ASSERT_CKR(CKR_OK, f()->C_SetAttributeValue(s_, h, sensitive_true.data(), sensitive_true.size()));
  Bytes v;
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get_attribute(f(), s_, h, CKA_VALUE, &v));
  Template sensitive_false;
  sensitive_false.boolean(CKA_SENSITIVE, false);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             f()->C_SetAttributeValue(s_, h, sensitive_false.data(), sensitive_false.size()));
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_SENSITIVE), true);
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get_attribute(f(), s_, h, CKA_VALUE, &v));

  Template extractable_false;
  extractable_false.boolean(CKA_EXTRACTABLE, false);
  ASSERT_CKR(CKR_OK,
             f()->C_SetAttributeValue(s_, h, extractable_false.data(), extractable_false.size()));
  Template extractable_true;
  extractable_true.boolean(CKA_EXTRACTABLE, true);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             f()->C_SetAttributeValue(s_, h, extractable_true.data(), extractable_true.size()));
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_EXTRACTABLE), false);

  // After a restart the token object is as left.
  reinitialize();
  s_ = open_session();
  ASSERT_CKR(CKR_OK, login_user(s_));
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_SENSITIVE), true);
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get_attribute(f(), s_, h, CKA_VALUE, &v));
}

// ---- C_GetAttributeValue ----

TEST_F(ObjectsTest, GetAttributeValueConventions) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  CK_OBJECT_HANDLE data = create(f(), s_, data_object("a-label", "0123456789", true, false));
  CK_OBJECT_HANDLE key = create(f(), s_, aes_key(key32(9), false, true));

  // Size query.
  CK_ATTRIBUTE a{CKA_VALUE, nullptr, 0};
  ASSERT_CKR(CKR_OK, f()->C_GetAttributeValue(s_, data, &a, 1));
  EXPECT_EQ(a.ulValueLen, 10u);
  // Exact buffer.
  char buf[32];
  std::memset(buf, 0, sizeof buf);
  a.pValue = buf;
  ASSERT_CKR(CKR_OK, f()->C_GetAttributeValue(s_, data, &a, 1));
  EXPECT_EQ(std::string(buf, a.ulValueLen), "0123456789");
  // Too small.
  a.ulValueLen = 4;
  EXPECT_CKR(CKR_BUFFER_TOO_SMALL, f()->C_GetAttributeValue(s_, data, &a, 1));
  EXPECT_EQ(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  // An attribute the object does not have.
  CK_ATTRIBUTE m{CKA_MODULUS, buf, sizeof buf};
  EXPECT_CKR(CKR_ATTRIBUTE_TYPE_INVALID, f()->C_GetAttributeValue(s_, data, &m, 1));
  EXPECT_EQ(m.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  // A sensitive one, size query and with a buffer.
  CK_ATTRIBUTE v{CKA_VALUE, nullptr, 0};
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, f()->C_GetAttributeValue(s_, key, &v, 1));
  EXPECT_EQ(v.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  std::memset(buf, 0, sizeof buf);
  v = {CKA_VALUE, buf, sizeof buf};
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, f()->C_GetAttributeValue(s_, key, &v, 1));
  EXPECT_EQ(v.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(std::count(buf, buf + sizeof buf, 0), static_cast<long>(sizeof buf));
}

TEST_F(ObjectsTest, GetAttributeValueAnswersEveryAttributeOfAMixedTemplate) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  Template t = aes_key(key32(10), false, true);
  t.str(CKA_LABEL, "mixed").bytes(CKA_ID, {0xAB, 0xCD});
  CK_OBJECT_HANDLE key = create(f(), s_, t);
  ASSERT_NE(key, CK_INVALID_HANDLE);

  char label[16] = {};
  CK_BYTE id[1] = {};
  CK_BYTE value[32] = {};
  CK_OBJECT_CLASS cls = 0;
  CK_BBOOL sensitive = CK_FALSE;
  CK_ATTRIBUTE tmpl[] = {
      {CKA_LABEL, label, sizeof label},  // ok
      {CKA_MODULUS, nullptr, 0},         // not an attribute of AES keys
      {CKA_VALUE, value, sizeof value},  // sensitive
      {CKA_CLASS, &cls, sizeof cls},     // ok
      {CKA_ID, id, sizeof id},           // too small
      {CKA_SENSITIVE, &sensitive, 1},    // ok
      {CKA_KEY_TYPE, nullptr, 0},        // size query
  };
  CK_RV rv = f()->C_GetAttributeValue(s_, key, tmpl, 7);
  EXPECT_TRUE(rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
              rv == CKR_BUFFER_TOO_SMALL)
      << rv_name(rv);
  EXPECT_EQ(tmpl[0].ulValueLen, 5u);
  EXPECT_EQ(std::string(label, 5), "mixed");
  EXPECT_EQ(tmpl[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(tmpl[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(std::count(value, value + sizeof value, 0), 32);
  EXPECT_EQ(tmpl[3].ulValueLen, sizeof(CK_ULONG));
  EXPECT_EQ(cls, CKO_SECRET_KEY);
  EXPECT_EQ(tmpl[4].ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(tmpl[5].ulValueLen, 1u);
  EXPECT_EQ(sensitive, CK_TRUE);
  EXPECT_EQ(tmpl[6].ulValueLen, sizeof(CK_ULONG));
}

// ---- C_SetAttributeValue ----

// PKCS#11 3.0 section 4.4 (common storage object attributes): CKA_LABEL may be modified; so may
// CKA_VALUE of a data object (4.5) and CKA_ID of a key (4.7).
TEST_F(ObjectsTest, SetAttributeValueChangesLabelValueAndId) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  CK_OBJECT_HANDLE h = create(f(), s_, data_object("before", "v", true, false));
  Template label;
  label.str(CKA_LABEL, "after");
  EXPECT_CKR(CKR_OK, f()->C_SetAttributeValue(s_, h, label.data(), label.size()));
  EXPECT_EQ(attr_bytes(f(), s_, h, CKA_LABEL), to_bytes("after"));
  Template value;
  value.str(CKA_VALUE, "new value");
  EXPECT_CKR(CKR_OK, f()->C_SetAttributeValue(s_, h, value.data(), value.size()));
  EXPECT_EQ(attr_bytes(f(), s_, h, CKA_VALUE), to_bytes("new value"));
  Template k = aes_key(key32(13), true, true);
  k.bytes(CKA_ID, {1});
  CK_OBJECT_HANDLE key = create(f(), s_, k);
  Template id;
  id.bytes(CKA_ID, {2, 2});
  EXPECT_CKR(CKR_OK, f()->C_SetAttributeValue(s_, key, id.data(), id.size()));
  EXPECT_EQ(attr_bytes(f(), s_, key, CKA_ID), (Bytes{2, 2}));

  reinitialize();
  s_ = open_session();
  ASSERT_CKR(CKR_OK, login_user(s_));
  EXPECT_EQ(attr_bytes(f(), s_, h, CKA_LABEL), to_bytes("after"));
  Template by_label;
  by_label.str(CKA_LABEL, "after");
  EXPECT_EQ(find_all(f(), s_, by_label), std::vector<CK_OBJECT_HANDLE>{h});
  Template by_old_label;
  by_old_label.str(CKA_LABEL, "before");
  EXPECT_TRUE(find_all(f(), s_, by_old_label).empty());  // the index follows the change
  Template by_old_id;
  by_old_id.bytes(CKA_ID, {1});
  EXPECT_TRUE(find_all(f(), s_, by_old_id).empty());
  Template by_id;
  by_id.bytes(CKA_ID, {2, 2});
  EXPECT_EQ(find_all(f(), s_, by_id), std::vector<CK_OBJECT_HANDLE>{key});
}

TEST_F(ObjectsTest, SetAttributeValueBooleansPersist) {
  CK_OBJECT_HANDLE h = create(f(), s_, data_object("flags", "v", true, false));
  Template t;
  t.boolean(CKA_COPYABLE, false).boolean(CKA_DESTROYABLE, false);
  ASSERT_CKR(CKR_OK, f()->C_SetAttributeValue(s_, h, t.data(), t.size()));
  reinitialize();
  s_ = open_session();
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_COPYABLE), false);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_DESTROYABLE), false);
  EXPECT_CKR(CKR_ACTION_PROHIBITED, f()->C_DestroyObject(s_, h));
}

TEST_F(ObjectsTest, SetAttributeValueRefusesReadOnlyAttributes) {
  CK_OBJECT_HANDLE h = create(f(), s_, data_object("fixed", "v", true, false));
  Template cls;
  cls.ulong(CKA_CLASS, CKO_CERTIFICATE);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, f()->C_SetAttributeValue(s_, h, cls.data(), cls.size()));
  Template same_cls;
  same_cls.ulong(CKA_CLASS, CKO_DATA);
  EXPECT_CKR(CKR_OK, f()->C_SetAttributeValue(s_, h, same_cls.data(), same_cls.size()));
  Template token;
  token.boolean(CKA_TOKEN, false);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, f()->C_SetAttributeValue(s_, h, token.data(), token.size()));
  Template priv;
  priv.boolean(CKA_PRIVATE, true);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, f()->C_SetAttributeValue(s_, h, priv.data(), priv.size()));
  Template uid;
  uid.str(CKA_UNIQUE_ID, "forged");
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, f()->C_SetAttributeValue(s_, h, uid.data(), uid.size()));
  Template modulus;
  modulus.bytes(CKA_MODULUS, {1, 2, 3});
  EXPECT_CKR(CKR_ATTRIBUTE_TYPE_INVALID,
             f()->C_SetAttributeValue(s_, h, modulus.data(), modulus.size()));
  // A refused template changes nothing, not even its valid parts.
  Template partly;
  partly.boolean(CKA_DESTROYABLE, false).ulong(CKA_CLASS, CKO_CERTIFICATE);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             f()->C_SetAttributeValue(s_, h, partly.data(), partly.size()));
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_DESTROYABLE), true);

  reinitialize();
  s_ = open_session();
  EXPECT_EQ(attr_ulong(f(), s_, h, CKA_CLASS), CKO_DATA);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_TOKEN), true);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_PRIVATE), false);
}

TEST_F(ObjectsTest, KeyValueIsFixed) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  CK_OBJECT_HANDLE h = create(f(), s_, aes_key(key32(11), true, true));
  Template value;
  value.bytes(CKA_VALUE, key32(12));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, f()->C_SetAttributeValue(s_, h, value.data(), value.size()));
  Template key_type;
  key_type.ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             f()->C_SetAttributeValue(s_, h, key_type.data(), key_type.size()));
  Template local;
  local.boolean(CKA_LOCAL, true);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, f()->C_SetAttributeValue(s_, h, local.data(), local.size()));
}

TEST_F(ObjectsTest, NotModifiableNotDestroyableNotCopyable) {
  Template t = data_object("frozen", "v", true, false);
  t.boolean(CKA_MODIFIABLE, false);
  CK_OBJECT_HANDLE frozen = create(f(), s_, t);
  Template label;
  label.str(CKA_LABEL, "thawed");
  EXPECT_CKR(CKR_ACTION_PROHIBITED,
             f()->C_SetAttributeValue(s_, frozen, label.data(), label.size()));
  EXPECT_EQ(attr_bytes(f(), s_, frozen, CKA_LABEL), to_bytes("frozen"));
  EXPECT_CKR(CKR_OK, f()->C_DestroyObject(s_, frozen));

  Template t2 = data_object("permanent", "v", true, false);
  t2.boolean(CKA_DESTROYABLE, false);
  CK_OBJECT_HANDLE permanent = create(f(), s_, t2);
  EXPECT_CKR(CKR_ACTION_PROHIBITED, f()->C_DestroyObject(s_, permanent));
  EXPECT_EQ(attr_bytes(f(), s_, permanent, CKA_LABEL), to_bytes("permanent"));

  Template t3 = data_object("single", "v", false, false);
  t3.boolean(CKA_COPYABLE, false);
  CK_OBJECT_HANDLE single = create(f(), s_, t3);
  CK_OBJECT_HANDLE copy;
  EXPECT_CKR(CKR_ACTION_PROHIBITED, f()->C_CopyObject(s_, single, nullptr, 0, &copy));
  Template copyable;
  copyable.boolean(CKA_COPYABLE, true);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             f()->C_SetAttributeValue(s_, single, copyable.data(), copyable.size()));
}

// ---- C_CopyObject / C_DestroyObject ----

TEST_F(ObjectsTest, CopyObject) {
  CK_OBJECT_HANDLE src = create(f(), s_, data_object("original", "payload", false, false));
  Template changes;
  changes.boolean(CKA_TOKEN, true);
  CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
  ASSERT_CKR(CKR_OK, f()->C_CopyObject(s_, src, changes.data(), changes.size(), &copy));
  EXPECT_NE(copy, src);
  EXPECT_LT(copy, kSessionHandleBase);
  EXPECT_EQ(attr_bool(f(), s_, copy, CKA_TOKEN), true);
  EXPECT_EQ(attr_bool(f(), s_, src, CKA_TOKEN), false);
  EXPECT_EQ(attr_bytes(f(), s_, copy, CKA_LABEL), to_bytes("original"));
  EXPECT_EQ(attr_bytes(f(), s_, copy, CKA_VALUE), to_bytes("payload"));
  EXPECT_NE(attr_bytes(f(), s_, src, CKA_UNIQUE_ID), attr_bytes(f(), s_, copy, CKA_UNIQUE_ID));

  Template cls;
  cls.ulong(CKA_CLASS, CKO_CERTIFICATE);
  CK_OBJECT_HANDLE bad;
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, f()->C_CopyObject(s_, src, cls.data(), cls.size(), &bad));
  Template to_private;
  to_private.boolean(CKA_PRIVATE, true);
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN,
             f()->C_CopyObject(s_, src, to_private.data(), to_private.size(), &bad));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_CopyObject(s_, src, nullptr, 0, nullptr));
  Template data;
  data.ulong(CKA_CLASS, CKO_DATA);
  EXPECT_EQ(find_all(f(), s_, data).size(), 2u);  // the refused copies made nothing

  reinitialize();
  s_ = open_session();
  EXPECT_EQ(attr_bytes(f(), s_, copy, CKA_VALUE), to_bytes("payload"));
}

TEST_F(ObjectsTest, CopiesCannotWeakenKeys) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  CK_OBJECT_HANDLE key = create(f(), s_, aes_key(key32(14), false, true));
  CK_OBJECT_HANDLE copy;
  Template not_sensitive;
  not_sensitive.boolean(CKA_SENSITIVE, false);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             f()->C_CopyObject(s_, key, not_sensitive.data(), not_sensitive.size(), &copy));
  Template extractable;
  extractable.boolean(CKA_EXTRACTABLE, true);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             f()->C_CopyObject(s_, key, extractable.data(), extractable.size(), &copy));
  Template value;
  value.bytes(CKA_VALUE, key32(15));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             f()->C_CopyObject(s_, key, value.data(), value.size(), &copy));
  ASSERT_CKR(CKR_OK, f()->C_CopyObject(s_, key, nullptr, 0, &copy));
  Bytes v;
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get_attribute(f(), s_, copy, CKA_VALUE, &v));
  Template secret_keys;
  secret_keys.ulong(CKA_CLASS, CKO_SECRET_KEY);
  EXPECT_EQ(find_all(f(), s_, secret_keys).size(), 2u);
}

// PKCS#11 3.0 section 5.7 (C_CopyObject): the template may change the copy's modifiable
// attributes, such as CKA_LABEL.
TEST_F(ObjectsTest, CopyObjectWithANewLabel) {
  CK_OBJECT_HANDLE src = create(f(), s_, data_object("original", "payload", false, false));
  Template changes;
  changes.str(CKA_LABEL, "copy");
  CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
  ASSERT_CKR(CKR_OK, f()->C_CopyObject(s_, src, changes.data(), changes.size(), &copy));
  EXPECT_EQ(attr_bytes(f(), s_, copy, CKA_LABEL), to_bytes("copy"));
  EXPECT_EQ(attr_bytes(f(), s_, src, CKA_LABEL), to_bytes("original"));
}

TEST_F(ObjectsTest, DestroyObject) {
  CK_OBJECT_HANDLE tok = create(f(), s_, data_object("doomed-token", "v", true, false));
  CK_OBJECT_HANDLE ses = create(f(), s_, data_object("doomed-session", "v", false, false));
  ASSERT_CKR(CKR_OK, f()->C_DestroyObject(s_, tok));
  ASSERT_CKR(CKR_OK, f()->C_DestroyObject(s_, ses));
  EXPECT_TRUE(find_all(f(), s_).empty());
  expect_object_handle_invalid(s_, tok);
  expect_object_handle_invalid(s_, ses);
  reinitialize();
  s_ = open_session();
  EXPECT_TRUE(find_all(f(), s_).empty());
  expect_object_handle_invalid(s_, tok);
}

// ---- Invalid handles and arguments ----

TEST_F(ObjectsTest, InvalidObjectHandles) {
  for (CK_OBJECT_HANDLE h :
       {CK_OBJECT_HANDLE{0}, CK_OBJECT_HANDLE{0xdeadbeef}, CK_OBJECT_HANDLE{12345},
        kSessionHandleBase + 12345, ~CK_OBJECT_HANDLE{0}}) {
    expect_object_handle_invalid(s_, h);
  }
}

TEST_F(ObjectsTest, InvalidSessionHandles) {
  CK_SESSION_HANDLE closed = open_session();
  CK_OBJECT_HANDLE h = create(f(), s_, data_object("x", "v", false, false));
  ASSERT_CKR(CKR_OK, f()->C_CloseSession(closed));
  for (CK_SESSION_HANDLE bad : {CK_SESSION_HANDLE{0}, CK_SESSION_HANDLE{987654}, closed}) {
    SCOPED_TRACE("session " + std::to_string(bad));
    Template t = data_object("y", "v", false, false);
    CK_OBJECT_HANDLE out;
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_CreateObject(bad, t.data(), t.size(), &out));
    CK_ATTRIBUTE a{CKA_LABEL, nullptr, 0};
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_GetAttributeValue(bad, h, &a, 1));
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_SetAttributeValue(bad, h, t.data(), 1));
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_CopyObject(bad, h, nullptr, 0, &out));
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_DestroyObject(bad, h));
    CK_ULONG size;
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_GetObjectSize(bad, h, &size));
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_FindObjectsInit(bad, nullptr, 0));
    CK_ULONG count;
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_FindObjects(bad, &out, 1, &count));
    EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_FindObjectsFinal(bad));
  }
  EXPECT_EQ(attr_bytes(f(), s_, h, CKA_LABEL), to_bytes("x"));
}

TEST_F(ObjectsTest, NullPointerArguments) {
  CK_OBJECT_HANDLE h = create(f(), s_, data_object("x", "v", false, false));
  Template t = data_object("y", "v", false, false);
  CK_OBJECT_HANDLE out;
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_CreateObject(s_, nullptr, 3, &out));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_CreateObject(s_, t.data(), t.size(), nullptr));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_GetAttributeValue(s_, h, nullptr, 1));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_SetAttributeValue(s_, h, nullptr, 1));
  CK_ULONG count;
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_GetObjectSize(s_, h, nullptr));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_FindObjectsInit(s_, nullptr, 2));
  ASSERT_CKR(CKR_OK, f()->C_FindObjectsInit(s_, nullptr, 0));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_FindObjects(s_, nullptr, 5, &count));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_FindObjects(s_, &out, 1, nullptr));
  EXPECT_CKR(CKR_OK, f()->C_FindObjectsFinal(s_));
  EXPECT_EQ(find_all(f(), s_), std::vector<CK_OBJECT_HANDLE>{h});
}

// ---- Templates ----

TEST_F(ObjectsTest, TemplateErrors) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  auto create_rv = [&](Template t) {
    CK_OBJECT_HANDLE h;
    return f()->C_CreateObject(s_, t.data(), t.size(), &h);
  };
  Template no_class;
  no_class.str(CKA_LABEL, "classless").str(CKA_VALUE, "v");
  EXPECT_CKR(CKR_TEMPLATE_INCOMPLETE, create_rv(no_class));

  Template key_no_type;
  key_no_type.ulong(CKA_CLASS, CKO_SECRET_KEY).bytes(CKA_VALUE, key32(1));
  EXPECT_CKR(CKR_TEMPLATE_INCOMPLETE, create_rv(key_no_type));
  Template key_no_value;
  key_no_value.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, CKK_AES);
  EXPECT_CKR(CKR_TEMPLATE_INCOMPLETE, create_rv(key_no_value));
  Template cert_no_subject;
  cert_no_subject.ulong(CKA_CLASS, CKO_CERTIFICATE)
      .ulong(CKA_CERTIFICATE_TYPE, CKC_X_509)
      .bytes(CKA_VALUE, {0x30, 0x00});
  EXPECT_CKR(CKR_TEMPLATE_INCOMPLETE, create_rv(cert_no_subject));

  Template conflicting = data_object("one", "v", false, false);
  conflicting.str(CKA_LABEL, "two");
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT, create_rv(conflicting));
  Template repeated = data_object("same", "v", false, false);
  repeated.str(CKA_LABEL, "same");
  EXPECT_CKR(CKR_OK, create_rv(repeated));

  Template wide_bool;
  CK_ULONG wide = 1;
  wide_bool.ulong(CKA_CLASS, CKO_DATA).raw(CKA_TOKEN, &wide, sizeof wide);
  EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID, create_rv(wide_bool));
  Template empty_bool;
  empty_bool.ulong(CKA_CLASS, CKO_DATA).raw(CKA_PRIVATE, nullptr, 0);
  EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID, create_rv(empty_bool));
  Template short_class;
  CK_BYTE one = CKO_DATA;
  short_class.raw(CKA_CLASS, &one, 1);
  EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID, create_rv(short_class));
  Template bad_aes = aes_key(Bytes(17, 1), false, true);
  EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID, create_rv(bad_aes));

  Template foreign = data_object("foreign", "v", false, false);
  foreign.bytes(CKA_MODULUS, {1, 2, 3});
  EXPECT_CKR(CKR_ATTRIBUTE_TYPE_INVALID, create_rv(foreign));
  Template forged_uid = data_object("forged", "v", false, false);
  forged_uid.str(CKA_UNIQUE_ID, "0000");
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, create_rv(forged_uid));
  Template forged_local = aes_key(key32(1), false, true);
  forged_local.boolean(CKA_LOCAL, true);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, create_rv(forged_local));

  CK_ATTRIBUTE null_value[] = {{CKA_CLASS, nullptr, 0}, {CKA_LABEL, nullptr, 5}};
  CK_OBJECT_CLASS data_class = CKO_DATA;
  null_value[0] = {CKA_CLASS, &data_class, sizeof data_class};
  CK_OBJECT_HANDLE h;
  EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID, f()->C_CreateObject(s_, null_value, 2, &h));

  // Only the one valid template made an object.
  EXPECT_EQ(find_all(f(), s_).size(), 1u);
}

// ---- C_FindObjects ----

class FindTest : public ObjectsTest {
 protected:
  void SetUp() override {
    ObjectsTest::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    ASSERT_CKR(CKR_OK, login_user(s_));
    d1_ = create(f(), s_, data_object("alpha", "data-one", true, false));
    d2_ = create(f(), s_, data_object("alpha", "data-two", false, false));
    d3_ = create(f(), s_, data_object("beta", "data-three", true, false));
    Template k1 = aes_key(key32(21), true, true);
    k1.str(CKA_LABEL, "alpha").bytes(CKA_ID, {1});
    k1_ = create(f(), s_, k1);
    Template k2 = aes_key(key32(22), false, true);
    k2.str(CKA_LABEL, "key2").bytes(CKA_ID, {2});
    k2_ = create(f(), s_, k2);
    Template k3 = aes_key(key32(23), true, false);
    k3.str(CKA_LABEL, "gamma").bytes(CKA_ID, {1});
    k3_ = create(f(), s_, k3);
  }
  std::set<CK_OBJECT_HANDLE> find(Template t) { return as_set(find_all(f(), s_, std::move(t))); }
  CK_OBJECT_HANDLE d1_, d2_, d3_, k1_, k2_, k3_;
};

TEST_F(FindTest, ByClassIdLabelAndCombinations) {
  Template data;
  data.ulong(CKA_CLASS, CKO_DATA);
  EXPECT_EQ(find(data), (std::set<CK_OBJECT_HANDLE>{d1_, d2_, d3_}));
  Template keys;
  keys.ulong(CKA_CLASS, CKO_SECRET_KEY);
  EXPECT_EQ(find(keys), (std::set<CK_OBJECT_HANDLE>{k1_, k2_, k3_}));
  Template id1;
  id1.bytes(CKA_ID, {1});
  EXPECT_EQ(find(id1), (std::set<CK_OBJECT_HANDLE>{k1_, k3_}));
  Template alpha;
  alpha.str(CKA_LABEL, "alpha");
  EXPECT_EQ(find(alpha), (std::set<CK_OBJECT_HANDLE>{d1_, d2_, k1_}));
  Template key_alpha;
  key_alpha.ulong(CKA_CLASS, CKO_SECRET_KEY).str(CKA_LABEL, "alpha");
  EXPECT_EQ(find(key_alpha), (std::set<CK_OBJECT_HANDLE>{k1_}));
  Template token_data;
  token_data.ulong(CKA_CLASS, CKO_DATA).boolean(CKA_TOKEN, true);
  EXPECT_EQ(find(token_data), (std::set<CK_OBJECT_HANDLE>{d1_, d3_}));
  Template session_only;
  session_only.boolean(CKA_TOKEN, false);
  EXPECT_EQ(find(session_only), (std::set<CK_OBJECT_HANDLE>{d2_, k2_}));
  Template public_id1;
  public_id1.ulong(CKA_CLASS, CKO_SECRET_KEY).bytes(CKA_ID, {1}).boolean(CKA_PRIVATE, false);
  EXPECT_EQ(find(public_id1), (std::set<CK_OBJECT_HANDLE>{k3_}));
  Template by_value;
  by_value.str(CKA_VALUE, "data-three");
  EXPECT_EQ(find(by_value), (std::set<CK_OBJECT_HANDLE>{d3_}));
  Template none;
  none.str(CKA_LABEL, "no-such-label");
  EXPECT_TRUE(find(none).empty());
  Template contradiction;
  contradiction.ulong(CKA_CLASS, CKO_DATA).bytes(CKA_ID, {1});
  EXPECT_TRUE(find(contradiction).empty());
  EXPECT_EQ(find({}), (std::set<CK_OBJECT_HANDLE>{d1_, d2_, d3_, k1_, k2_, k3_}));
  EXPECT_EQ(find_all(f(), s_).size(), 6u);  // each object once
}

TEST_F(FindTest, WithoutLoginOnlyPublicObjects) {
  ASSERT_CKR(CKR_OK, f()->C_Logout(s_));
  EXPECT_EQ(find({}), (std::set<CK_OBJECT_HANDLE>{d1_, d2_, d3_, k3_}));
  Template keys;
  keys.ulong(CKA_CLASS, CKO_SECRET_KEY);
  EXPECT_EQ(find(keys), (std::set<CK_OBJECT_HANDLE>{k3_}));
  Template id1;
  id1.bytes(CKA_ID, {1});
  EXPECT_EQ(find(id1), (std::set<CK_OBJECT_HANDLE>{k3_}));
}

TEST_F(FindTest, SensitiveValuesCannotBeSearchedFor) {
  Template by_key_value;
  by_key_value.ulong(CKA_CLASS, CKO_SECRET_KEY).bytes(CKA_VALUE, key32(21));
  EXPECT_TRUE(find(by_key_value).empty());
  Template by_public_key_value;
  by_public_key_value.bytes(CKA_VALUE, key32(23));
  EXPECT_TRUE(find(by_public_key_value).empty());
}

TEST_F(FindTest, SmallBatches) {
  std::vector<CK_OBJECT_HANDLE> all;
  ASSERT_CKR(CKR_OK, f()->C_FindObjectsInit(s_, nullptr, 0));
  CK_OBJECT_HANDLE batch[4];
  CK_ULONG n = 99;
  ASSERT_CKR(CKR_OK, f()->C_FindObjects(s_, batch, 0, &n));
  EXPECT_EQ(n, 0u);
  std::vector<CK_ULONG> sizes;
  for (int i = 0; i < 6; ++i) {
    ASSERT_CKR(CKR_OK, f()->C_FindObjects(s_, batch, 4, &n));
    sizes.push_back(n);
    all.insert(all.end(), batch, batch + n);
  }
  ASSERT_CKR(CKR_OK, f()->C_FindObjectsFinal(s_));
  EXPECT_EQ(sizes, (std::vector<CK_ULONG>{4, 2, 0, 0, 0, 0}));
  EXPECT_EQ(as_set(all), (std::set<CK_OBJECT_HANDLE>{d1_, d2_, d3_, k1_, k2_, k3_}));
  EXPECT_EQ(all.size(), 6u);

  ASSERT_CKR(CKR_OK, f()->C_FindObjectsInit(s_, nullptr, 0));
  all.clear();
  for (;;) {
    ASSERT_CKR(CKR_OK, f()->C_FindObjects(s_, batch, 1, &n));
    if (n == 0)
      break;
    ASSERT_EQ(n, 1u);
    all.push_back(batch[0]);
  }
  ASSERT_CKR(CKR_OK, f()->C_FindObjectsFinal(s_));
  EXPECT_EQ(all.size(), 6u);
}

TEST_F(FindTest, OperationState) {
  CK_OBJECT_HANDLE out[4];
  CK_ULONG n;
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_FindObjects(s_, out, 4, &n));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_FindObjectsFinal(s_));
  ASSERT_CKR(CKR_OK, f()->C_FindObjectsInit(s_, nullptr, 0));
  EXPECT_CKR(CKR_OPERATION_ACTIVE, f()->C_FindObjectsInit(s_, nullptr, 0));
  // Another session searches independently.
  CK_SESSION_HANDLE other = open_session();
  Template data;
  data.ulong(CKA_CLASS, CKO_DATA);
  EXPECT_EQ(find_all(f(), other, data).size(), 3u);
  ASSERT_CKR(CKR_OK, f()->C_FindObjects(s_, out, 4, &n));
  EXPECT_EQ(n, 4u);
  ASSERT_CKR(CKR_OK, f()->C_FindObjectsFinal(s_));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_FindObjects(s_, out, 4, &n));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_FindObjectsFinal(s_));
  ASSERT_CKR(CKR_OK, f()->C_FindObjectsInit(s_, nullptr, 0));
  ASSERT_CKR(CKR_OK, f()->C_FindObjectsFinal(s_));
}

// ---- Sizes and unique ids ----

TEST_F(ObjectsTest, GetObjectSize) {
  CK_OBJECT_HANDLE small = create(f(), s_, data_object("s", "v", true, false));
  CK_OBJECT_HANDLE big = create(f(), s_, data_object("b", std::string(4000, 'x'), true, false));
  CK_ULONG small_size = 0, big_size = 0;
  ASSERT_CKR(CKR_OK, f()->C_GetObjectSize(s_, small, &small_size));
  ASSERT_CKR(CKR_OK, f()->C_GetObjectSize(s_, big, &big_size));
  EXPECT_GT(small_size, 0u);
  EXPECT_GT(big_size, small_size + 3000);
}

TEST_F(ObjectsTest, UniqueIdsArePresentDistinctAndStable) {
  ASSERT_CKR(CKR_OK, login_user(s_));
  std::vector<CK_OBJECT_HANDLE> handles;
  handles.push_back(create(f(), s_, data_object("u1", "v", true, false)));
  handles.push_back(create(f(), s_, data_object("u2", "v", false, false)));
  handles.push_back(create(f(), s_, aes_key(key32(30), true, true)));
  CK_MECHANISM mech{CKM_AES_KEY_GEN, nullptr, 0};
  Template gen;
  gen.ulong(CKA_VALUE_LEN, 16).boolean(CKA_TOKEN, true);
  CK_OBJECT_HANDLE generated;
  ASSERT_CKR(CKR_OK, f()->C_GenerateKey(s_, &mech, gen.data(), gen.size(), &generated));
  handles.push_back(generated);
  CK_OBJECT_HANDLE copy;
  ASSERT_CKR(CKR_OK, f()->C_CopyObject(s_, handles[0], nullptr, 0, &copy));
  handles.push_back(copy);

  std::set<Bytes> ids;
  std::vector<Bytes> token_ids;
  for (CK_OBJECT_HANDLE h : handles) {
    Bytes id = attr_bytes(f(), s_, h, CKA_UNIQUE_ID);
    EXPECT_FALSE(id.empty());
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), handles.size());
  Bytes before = attr_bytes(f(), s_, handles[2], CKA_UNIQUE_ID);
  reinitialize();
  s_ = open_session();
  ASSERT_CKR(CKR_OK, login_user(s_));
  EXPECT_EQ(attr_bytes(f(), s_, handles[2], CKA_UNIQUE_ID), before);
  Template by_uid;
  by_uid.bytes(CKA_UNIQUE_ID, before);
  EXPECT_EQ(find_all(f(), s_, by_uid), std::vector<CK_OBJECT_HANDLE>{handles[2]});
}

TEST_F(ObjectsTest, CertificateObject) {
  Template cert;
  cert.ulong(CKA_CLASS, CKO_CERTIFICATE).ulong(CKA_CERTIFICATE_TYPE, CKC_X_509);
  cert.bytes(CKA_SUBJECT, {0x30, 0x00}).bytes(CKA_VALUE, {0x30, 0x03, 0x02, 0x01, 0x01});
  cert.boolean(CKA_TOKEN, true).str(CKA_LABEL, "cert").bytes(CKA_ID, {9});
  CK_OBJECT_HANDLE h = create(f(), s_, cert);
  ASSERT_NE(h, CK_INVALID_HANDLE);
  EXPECT_EQ(attr_bool(f(), s_, h, CKA_PRIVATE), false);  // certificates are public by default
  Template by_id;
  by_id.ulong(CKA_CLASS, CKO_CERTIFICATE).bytes(CKA_ID, {9});
  EXPECT_EQ(find_all(f(), s_, by_id), std::vector<CK_OBJECT_HANDLE>{h});
}

}  // namespace
}  // namespace twinhsm::test

namespace twinhsm::test {
namespace {

// PKCS#11 3.0 4.9 (CKA_TRUSTED): "can only be set to CK_TRUE by the SO user".
class TrustedTest : public P11Test {};

TEST_F(TrustedTest, OnlyTheSoSetsCkaTrusted) {
  CK_SESSION_HANDLE s = open_session(true);
  CK_BYTE value[16] = {1};
  auto aes_template = [&](bool trusted) {
    Template t;
    t.ulong(CKA_CLASS, CKO_SECRET_KEY)
        .ulong(CKA_KEY_TYPE, CKK_AES)
        .raw(CKA_VALUE, value, sizeof value)
        .boolean(CKA_PRIVATE, false)
        .boolean(CKA_TRUSTED, trusted);
    return t;
  };
  CK_OBJECT_HANDLE h;
  Template untrusted = aes_template(false);
  Template trusted = aes_template(true);
  // Nobody logged in, then the user: refused on create and on set.
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, f()->C_CreateObject(s, trusted.data(), trusted.size(), &h));
  ASSERT_CKR(CKR_OK, login_user(s));
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, f()->C_CreateObject(s, trusted.data(), trusted.size(), &h));
  ASSERT_CKR(CKR_OK, f()->C_CreateObject(s, untrusted.data(), untrusted.size(), &h));
  Template set;
  set.boolean(CKA_TRUSTED, true);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, f()->C_SetAttributeValue(s, h, set.data(), set.size()));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s));
  // The SO may.
  ASSERT_CKR(CKR_OK, login_so(s));
  EXPECT_CKR(CKR_OK, f()->C_CreateObject(s, trusted.data(), trusted.size(), &h));
  CK_BBOOL flag = CK_FALSE;
  CK_ATTRIBUTE get{CKA_TRUSTED, &flag, sizeof flag};
  EXPECT_CKR(CKR_OK, f()->C_GetAttributeValue(s, h, &get, 1));
  EXPECT_EQ(flag, CK_TRUE);
}

}  // namespace
}  // namespace twinhsm::test
