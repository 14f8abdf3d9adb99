// The SoftHSMv2 reader against a token that softhsm2-util 2.6.1 made (tests/data/vectors/softhsm2/
// token: an EC P-256 key pair, a private AES-256 key and a private data object, user PIN
// "user-pin-1234"): what it reads is checked against SoftHSMv2's own evidence (the AES key's
// CKA_CHECK_VALUE, the EC private scalar's public point), and damaged copies are refused with the
// file named.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "crypto/cipher.h"
#include "crypto/pkey.h"
#include "import/softhsm2_token.h"
#include "temp_device.h"

namespace twinhsm::import {
namespace {

namespace fs = std::filesystem;

const fs::path kToken = fs::path(TWINHSM_TEST_DATA) / "vectors" / "softhsm2" / "token";
const std::string kPin = "user-pin-1234";
const char* kDataFile = "812c1fda-a7fd-b924-5536-32b7d6bd4946.object";
const char* kAesFile = "3ff32b79-b874-6492-7723-8ebf32587224.object";

ByteView bytes(const std::string& s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string text(const token::AttributeMap& a, CK_ATTRIBUTE_TYPE t) {
  Bytes b = a.get_bytes(t);
  return std::string(b.begin(), b.end());
}

const SourceObject& by_file(const std::vector<SourceObject>& objects, const std::string& file) {
  for (const auto& o : objects) {
    if (o.file == file) {
      return o;
    }
  }
  throw std::runtime_error("no object " + file);
}

Bytes number(uint64_t v) {
  Bytes b;
  append_be(b, v, 8);
  return b;
}

// A copy of the vector token that a test may damage.
struct TokenCopy {
  test::TempDir tmp;
  fs::path dir = tmp.path() / "token";
  TokenCopy() { fs::copy(kToken, dir); }
  void write(const std::string& file, const Bytes& data) const {
    std::ofstream(dir / file, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(data.data()),
               static_cast<std::streamsize>(data.size()));
  }
  Bytes read(const std::string& file) const {
    std::string s = test::read_file(dir / file);
    return Bytes(s.begin(), s.end());
  }
};

// expect_damaged: reading the objects throws IntegrityError naming file.
void expect_damaged(const fs::path& dir, const std::string& file) {
  try {
    SoftHsm2Token::open(dir).read_objects(bytes(kPin));
    ADD_FAILURE() << "a damaged " << file << " was read";
  } catch (const IntegrityError& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("damaged"), std::string::npos) << e.what();
  }
}

TEST(SoftHsm2Reader, ReadsTheTokenAndEveryObjectInTheClear) {
  auto token = SoftHsm2Token::open(kToken);
  EXPECT_EQ(token.label(), "vectors");
  EXPECT_EQ(token.serial().size(), 16u);
  EXPECT_EQ(token.object_files(), 4u);
  auto objects = token.read_objects(bytes(kPin));
  ASSERT_EQ(objects.size(), 4u);

  const auto& data = by_file(objects, kDataFile).attrs;
  EXPECT_EQ(data.get_ulong(CKA_CLASS), CKO_DATA);
  EXPECT_TRUE(data.get_bool(CKA_PRIVATE, false));
  EXPECT_EQ(text(data, CKA_LABEL), "notes");
  EXPECT_EQ(text(data, CKA_APPLICATION), "app-x");
  EXPECT_EQ(text(data, CKA_VALUE), "hello data object");

  // The AES key: SoftHSMv2 stored the first 3 bytes of AES-ECB(key, 0^16) as CKA_CHECK_VALUE.
  const auto& aes = by_file(objects, kAesFile).attrs;
  EXPECT_EQ(aes.get_ulong(CKA_KEY_TYPE), CKK_AES);
  EXPECT_EQ(text(aes, CKA_LABEL), "aes-256");
  EXPECT_TRUE(aes.get_bool(CKA_SENSITIVE, false));
  EXPECT_FALSE(aes.get_bool(CKA_EXTRACTABLE, true));
  ASSERT_EQ(aes.find(CKA_VALUE)->size(), 32u);
  crypto::SymmetricCipher ecb(crypto::CipherMode::ecb, *aes.find(CKA_VALUE), {}, true, false);
  crypto::SecureBytes block = ecb.update(Bytes(16, 0));
  EXPECT_EQ(to_hex(ByteView(block).first(3)), to_hex(aes.get_bytes(CKA_CHECK_VALUE)));

  // The EC private scalar gives the public key's point.
  const token::AttributeMap* priv = nullptr;
  const token::AttributeMap* pub = nullptr;
  for (const auto& o : objects) {
    if (o.attrs.get_ulong(CKA_CLASS) == CKO_PRIVATE_KEY) {
      priv = &o.attrs;
    } else if (o.attrs.get_ulong(CKA_CLASS) == CKO_PUBLIC_KEY) {
      pub = &o.attrs;
    }
  }
  ASSERT_TRUE(priv && pub);
  EXPECT_EQ(text(*priv, CKA_LABEL), "ec-p256");
  EXPECT_EQ(to_hex(priv->get_bytes(CKA_ID)), "0a0b");
  auto key = crypto::PKey::ec_private(crypto::Curve::p256, *priv->find(CKA_VALUE));
  Bytes point = pub->get_bytes(CKA_EC_POINT);  // a DER OCTET STRING: 04 41 04 X Y
  ASSERT_EQ(point.size(), 67u);
  EXPECT_EQ(to_hex(key.ec_point()), to_hex(ByteView(point).subspan(2)));
}

TEST(SoftHsm2Reader, RefusesAWrongPin) {
  auto token = SoftHsm2Token::open(kToken);
  try {
    token.read_objects(bytes("user-pin-1235"));
    FAIL() << "a wrong PIN opened the token";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("SoftHSMv2 user PIN is wrong"), std::string::npos);
  }
  // The SO PIN opens the same token key in SoftHSMv2, but the import asks for the user's.
  EXPECT_THROW(token.read_objects(bytes("so-pin-5678")), UsageError);
}

TEST(SoftHsm2Reader, RefusesDamagedObjectFilesNamingThem) {
  TokenCopy copy;
  Bytes data = copy.read(kDataFile);
  copy.write(kDataFile, Bytes(data.begin(), data.end() - 5));
  expect_damaged(copy.dir, kDataFile);  // truncated
  copy.write(kDataFile, {});
  expect_damaged(copy.dir, kDataFile);  // empty
  // One attribute, CKA_LABEL (type 3), of kind 3 (bytes), and what follows it.
  Bytes head = number(7);  // the generation
  append(head, number(CKA_LABEL));
  append(head, number(3));
  auto with = [&](const Bytes& rest) {
    Bytes f = head;
    append(f, rest);
    return f;
  };
  copy.write(kDataFile, with(number(100)));
  expect_damaged(copy.dir, kDataFile);  // a length past the end
  Bytes twice = with(number(0));
  append(twice, number(CKA_LABEL));
  append(twice, number(3));
  append(twice, number(0));
  copy.write(kDataFile, twice);
  expect_damaged(copy.dir, kDataFile);  // an attribute given twice
  Bytes kind9 = number(7);
  append(kind9, number(CKA_LABEL));
  append(kind9, number(9));
  copy.write(kDataFile, kind9);
  expect_damaged(copy.dir, kDataFile);  // an unknown kind
  // The data object is private: its non-empty byte values are AES-CBC ciphertexts, and 17 bytes
  // cannot be one.
  Bytes seventeen = with(number(17));
  append(seventeen, Bytes(17, 0xaa));
  copy.write(kDataFile, seventeen);
  expect_damaged(copy.dir, kDataFile);
  copy.write(kDataFile, data);
  EXPECT_NO_THROW(SoftHsm2Token::open(copy.dir).read_objects(bytes(kPin)));
  copy.write("token.object", Bytes(10, 0));
  EXPECT_THROW(SoftHsm2Token::open(copy.dir), IntegrityError);
}

TEST(SoftHsm2Reader, GivesAnAttributeTemplateAsTwinhsmStoresOne) {
  // A public object whose CKA_UNWRAP_TEMPLATE holds CKA_EXTRACTABLE false and CKA_LABEL "k",
  // and whose CKA_WRAP_TEMPLATE is empty (SoftHSMv2's default).
  Bytes f = number(1);
  for (uint64_t v : {uint64_t{CKA_PRIVATE}, uint64_t{1}}) {
    append(f, number(v));
  }
  f.push_back(0);
  Bytes entries = number(CKA_EXTRACTABLE);
  append(entries, number(1));
  entries.push_back(0);
  append(entries, number(CKA_LABEL));
  append(entries, number(3));
  append(entries, number(1));
  entries.push_back('k');
  append(f, number(CKA_UNWRAP_TEMPLATE));
  append(f, number(4));
  append(f, number(entries.size()));
  append(f, entries);
  append(f, number(CKA_WRAP_TEMPLATE));
  append(f, number(4));
  append(f, number(0));
  SourceObject s = source_object("t.object", parse_object_file(f), crypto::SecureBytes(32));
  ASSERT_TRUE(s.attrs.has(CKA_UNWRAP_TEMPLATE));
  EXPECT_FALSE(s.attrs.has(CKA_WRAP_TEMPLATE));
  auto tmpl = token::AttributeMap::decode(*s.attrs.find(CKA_UNWRAP_TEMPLATE));
  EXPECT_EQ(tmpl.size(), 2u);
  EXPECT_FALSE(tmpl.get_bool(CKA_EXTRACTABLE, true));
  EXPECT_EQ(text(tmpl, CKA_LABEL), "k");
}

TEST(SoftHsm2Reader, SaysWhatADirectoryIsWhenItIsNoToken) {
  test::TempDir tmp;
  auto message = [](const fs::path& dir) {
    try {
      SoftHsm2Token::open(dir);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(tmp.path() / "missing").find("is not a directory"), std::string::npos);
  EXPECT_NE(message(tmp.path()).find("has no token.object"), std::string::npos);
  fs::copy(kToken, tmp.path() / "0123-uuid");
  std::string parent = message(tmp.path());
  EXPECT_NE(parent.find("holds 1 SoftHSMv2 token(s)"), std::string::npos) << parent;
  EXPECT_NE(parent.find("0123-uuid"), std::string::npos) << parent;
  fs::create_directory(tmp.path() / "db");
  std::ofstream(tmp.path() / "db" / "sqlite3.db") << "x";
  EXPECT_NE(message(tmp.path() / "db").find("db backend"), std::string::npos);
}

}  // namespace
}  // namespace twinhsm::import
