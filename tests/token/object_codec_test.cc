// ObjectCodec: rows hold no key material or private attribute in the clear, open only with their
// keys and at their own id, and index tags depend on the key and the value.
#include "token/object_codec.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/error.h"
#include "token/ck_error.h"

namespace twinhsm::token {
namespace {

SecureBytes key(uint8_t fill) {
  return SecureBytes(32, fill);
}

bool contains(const Bytes& haystack, ByteView needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

AttributeMap secret_key(bool is_private) {
  AttributeMap a;
  a.set_ulong(CKA_CLASS, CKO_SECRET_KEY);
  a.set_ulong(CKA_KEY_TYPE, CKK_AES);
  a.set_bool(CKA_PRIVATE, is_private);
  a.set(CKA_LABEL, as_bytes("the label"));
  a.set(CKA_VALUE, SecureBytes(32, 0xab));
  return a;
}

class ObjectCodecTest : public ::testing::Test {
 protected:
  ObjectCodec codec_{key(1), key(2)};
  LoginKeys login_{Role::user, key(3), private_index_key(key(3))};
};

TEST_F(ObjectCodecTest, APublicKeysMaterialIsSealedAndItsOtherAttributesAreNot) {
  AttributeMap a = secret_key(false);
  store::ObjectRow row = codec_.encode(7, a, nullptr);
  EXPECT_FALSE(row.is_private);
  EXPECT_FALSE(contains(row.body, Bytes(32, 0xab)));
  EXPECT_FALSE(contains(row.secret, Bytes(32, 0xab)));
  EXPECT_TRUE(contains(row.body, as_bytes("the label")));
  AttributeMap back = codec_.decode(row, nullptr);
  EXPECT_EQ(back.get_bytes(CKA_VALUE), Bytes(32, 0xab));
  EXPECT_EQ(back.get_bytes(CKA_LABEL),
            Bytes(as_bytes("the label").begin(), as_bytes("the label").end()));
}

TEST_F(ObjectCodecTest, APrivateObjectIsSealedWholeAndNeedsTheStorageKey) {
  AttributeMap a = secret_key(true);
  EXPECT_THROW(
      {
        try {
          codec_.encode(7, a, nullptr);
        } catch (const CkError& e) {
          EXPECT_EQ(e.rv(), CKR_USER_NOT_LOGGED_IN);
          throw;
        }
      },
      CkError);
  store::ObjectRow row = codec_.encode(7, a, &login_);
  EXPECT_TRUE(row.is_private);
  EXPECT_FALSE(contains(row.body, as_bytes("the label")));
  EXPECT_EQ(codec_.decode(row, &login_.sk).get_bytes(CKA_VALUE), Bytes(32, 0xab));
  SecureBytes other = key(4);
  EXPECT_THROW(codec_.decode(row, &other), IntegrityError);
  EXPECT_THROW(codec_.decode(row, nullptr), IntegrityError);
}

TEST_F(ObjectCodecTest, ARowOpensOnlyAtItsOwnIdAndUnchanged) {
  for (bool is_private : {false, true}) {
    store::ObjectRow row = codec_.encode(7, secret_key(is_private), &login_);
    store::ObjectRow moved = row;
    moved.id = 8;
    EXPECT_THROW(codec_.decode(moved, &login_.sk), IntegrityError) << is_private;
    store::ObjectRow flipped = row;
    Bytes& sealed = is_private ? flipped.body : flipped.secret;
    sealed[sealed.size() / 2] ^= 1;
    EXPECT_THROW(codec_.decode(flipped, &login_.sk), IntegrityError) << is_private;
  }
}

TEST_F(ObjectCodecTest, IndexTagsDependOnKeyAndValueAndHideTheValue) {
  AttributeMap a = secret_key(false);
  auto tag = ObjectCodec::tag(a, CKA_LABEL, key(2));
  ASSERT_TRUE(tag);
  EXPECT_EQ(tag->size(), 16u);
  EXPECT_EQ(tag, ObjectCodec::tag(a, CKA_LABEL, key(2)));
  EXPECT_NE(tag, ObjectCodec::tag(a, CKA_LABEL, key(5)));
  EXPECT_NE(tag, ObjectCodec::tag(a, CKA_ID, key(2)));
  EXPECT_EQ(ObjectCodec::tag(a, CKA_APPLICATION, key(2)), std::nullopt);
  store::ObjectRow pub = codec_.encode(1, a, nullptr);
  EXPECT_EQ(pub.label_tag, tag) << "public rows are tagged under the public index key";
  store::ObjectRow priv = codec_.encode(1, secret_key(true), &login_);
  EXPECT_EQ(priv.label_tag, ObjectCodec::tag(a, CKA_LABEL, login_.index_key));
  EXPECT_NE(priv.label_tag, tag);
}

}  // namespace
}  // namespace twinhsm::token
