// The primitives of legacy devices against NIST CAVP and RFC vectors: DES and Triple DES (ECB,
// CBC; two- and three-key), Triple DES CMAC (SP 800-38B), MD5 (RFC 1321), HMAC-MD5 (RFC 2202).
#include <gtest/gtest.h>

#include "crypto/cipher.h"
#include "crypto/cmac.h"
#include "crypto/digest.h"
#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::hex;

SecureBytes run_cipher(BlockCipher alg, CipherMode mode, const Bytes& key, const Bytes& iv,
                       bool encrypt, const Bytes& in) {
  SymmetricCipher c(alg, mode, key, iv, encrypt, false);
  SecureBytes out = c.update(in);
  SecureBytes last = c.finish();
  out.insert(out.end(), last.begin(), last.end());
  return out;
}

// des_key is the record's key: KEYs (one key: single DES), or KEY1 KEY2 [KEY3] (Triple DES; a
// two-key file repeats KEY1 as KEY3, which a 16-byte key means).
Bytes des_key(const test::CavpRecord& r, bool two_key) {
  if (r.fields.count("KEYs")) {
    return hex(r.at("KEYs"));
  }
  Bytes key = hex(r.at("KEY1"));
  append(key, hex(r.at("KEY2")));
  if (!two_key) {
    append(key, hex(r.at("KEY3")));
  } else {
    EXPECT_EQ(r.at("KEY3"), r.at("KEY1")) << "line " << r.line;
  }
  return key;
}

struct DesFile {
  const char* file;
  BlockCipher alg;
  CipherMode mode;
  bool two_key;
  size_t records;
};

TEST(Des, NistCavpEcbAndCbc) {
  const DesFile files[] = {
      {"des/TECBvarkey.rsp", BlockCipher::des, CipherMode::ecb, false, 112},
      {"des/TCBCvarkey.rsp", BlockCipher::des, CipherMode::cbc, false, 112},
      {"des/TECBMMT2.rsp", BlockCipher::des3, CipherMode::ecb, true, 20},
      {"des/TCBCMMT2.rsp", BlockCipher::des3, CipherMode::cbc, true, 20},
      {"des/TECBMMT3.rsp", BlockCipher::des3, CipherMode::ecb, false, 20},
      {"des/TCBCMMT3.rsp", BlockCipher::des3, CipherMode::cbc, false, 20},
  };
  for (const auto& f : files) {
    SCOPED_TRACE(f.file);
    auto records = test::parse_cavp(f.file);
    ASSERT_EQ(records.size(), f.records);
    for (const auto& r : records) {
      bool encrypt = r.section.at("") == "ENCRYPT";
      Bytes key = des_key(r, f.two_key);
      Bytes iv = f.mode == CipherMode::cbc ? hex(r.at("IV")) : Bytes();
      Bytes pt = hex(r.at("PLAINTEXT"));
      Bytes ct = hex(r.at("CIPHERTEXT"));
      SecureBytes out = run_cipher(f.alg, f.mode, key, iv, encrypt, encrypt ? pt : ct);
      EXPECT_EQ(test::plain(out), encrypt ? ct : pt) << "line " << r.line;
    }
  }
}

TEST(Des, KeyAndIvLengths) {
  EXPECT_THROW(SymmetricCipher(BlockCipher::des, CipherMode::ecb, Bytes(16, 1), {}, true, false),
               CryptoError);
  EXPECT_THROW(SymmetricCipher(BlockCipher::des3, CipherMode::ecb, Bytes(8, 1), {}, true, false),
               CryptoError);
  EXPECT_THROW(
      SymmetricCipher(BlockCipher::des3, CipherMode::cbc, Bytes(24, 1), Bytes(16, 0), true, false),
      CryptoError);
  EXPECT_THROW(
      SymmetricCipher(BlockCipher::des3, CipherMode::ctr, Bytes(24, 1), Bytes(8, 0), true, false),
      CryptoError);
  // Padding: 1 to 8 bytes, the DES block.
  SymmetricCipher pad(BlockCipher::des3, CipherMode::cbc, Bytes(24, 3), Bytes(8, 0), true, true);
  EXPECT_EQ(pad.update(Bytes(8, 0)).size(), 8u);
  EXPECT_EQ(pad.finish().size(), 8u);
}

TEST(Cmac, NistTripleDes) {
  auto records = test::parse_cavp("cmac/nist-800-38b-3des.txt");
  ASSERT_EQ(records.size(), 8u);
  for (const auto& r : records) {
    bool two_key = r.at("KEY3") == r.at("KEY1");
    Bytes key = des_key(r, two_key);
    Cmac mac(BlockCipher::des3, key);
    EXPECT_EQ(mac.size(), 8u);
    mac.update(hex(r.at("MESSAGE")));
    EXPECT_EQ(to_hex(mac.finish()), r.at("OUTPUT")) << "line " << r.line;
  }
  EXPECT_THROW(Cmac(BlockCipher::des3, Bytes(8, 1)), CryptoError);
  EXPECT_THROW(Cmac(BlockCipher::des, Bytes(8, 1)), CryptoError);
}

// The hash files give Len in bits and Msg 00 for the empty message.
Bytes message(const test::CavpRecord& r) {
  return std::stoul(r.at("Len")) == 0 ? Bytes() : hex(r.at("Msg"));
}

TEST(Md5, Rfc1321) {
  auto records = test::parse_cavp("hashes/md5-rfc-1321.txt", "Len");
  ASSERT_EQ(records.size(), 7u);
  for (const auto& r : records) {
    EXPECT_EQ(to_hex(digest(DigestAlg::md5, message(r))), r.at("MD")) << "line " << r.line;
  }
  EXPECT_EQ(digest_size(DigestAlg::md5), 16u);
}

TEST(Md5, HmacRfc2202) {
  auto records = test::parse_cavp("hmac/rfc-2202-md5.txt", "Len");
  ASSERT_EQ(records.size(), 7u);
  for (const auto& r : records) {
    EXPECT_EQ(to_hex(hmac(DigestAlg::md5, hex(r.at("Key")), message(r))), r.at("MD"))
        << "line " << r.line;
  }
}

}  // namespace
}  // namespace twinhsm::crypto
