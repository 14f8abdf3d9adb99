// PKCS#11 3.0's modern primitives against NIST CAVP, RFC and project vectors: SHA-3 (FIPS 202
// ShortMsg), HKDF (RFC 5869), the ANSI X9.63 KDF (CAVS), SP 800-108 counter mode with every PRF
// (CAVS), AES-CCM (SP 800-38C DVPT), ChaCha20-Poly1305 (RFC 8439 / BoringSSL), AES-XTS
// (SP 800-38E XTSGen), AES-CTS CS1 (RFC 3962's vectors, whose CS3 order is turned into CS1's).
#include <gtest/gtest.h>

#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "crypto/oneshot_cipher.h"
#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::hex;

TEST(Sha3, NistShortMsg) {
  const std::pair<const char*, DigestAlg> files[] = {
      {"hashes/SHA3_224ShortMsg.rsp", DigestAlg::sha3_224},
      {"hashes/SHA3_256ShortMsg.rsp", DigestAlg::sha3_256},
      {"hashes/SHA3_384ShortMsg.rsp", DigestAlg::sha3_384},
      {"hashes/SHA3_512ShortMsg.rsp", DigestAlg::sha3_512}};
  for (const auto& [file, alg] : files) {
    auto records = test::parse_cavp(file, "Len");
    ASSERT_GT(records.size(), 70u) << file;
    for (const auto& r : records) {
      size_t bits = std::stoul(r.at("Len"));
      if (bits % 8 != 0) {
        continue;  // the byte-oriented records only
      }
      Bytes msg = bits == 0 ? Bytes() : hex(r.at("Msg"));
      EXPECT_EQ(to_hex(digest(alg, msg)), r.at("MD")) << file << " line " << r.line;
    }
  }
}

std::optional<DigestAlg> digest_named(const std::string& name) {
  const std::pair<const char*, DigestAlg> names[] = {
      {"SHA-1", DigestAlg::sha1},     {"SHA-224", DigestAlg::sha224},
      {"SHA-256", DigestAlg::sha256}, {"SHA-384", DigestAlg::sha384},
      {"SHA-512", DigestAlg::sha512}, {"SHA1", DigestAlg::sha1},
      {"SHA224", DigestAlg::sha224},  {"SHA256", DigestAlg::sha256},
      {"SHA384", DigestAlg::sha384},  {"SHA512", DigestAlg::sha512}};
  for (const auto& [n, alg] : names) {
    if (name == n) {
      return alg;
    }
  }
  return std::nullopt;
}

TEST(Hkdf, Rfc5869) {
  size_t checked = 0;
  for (const char* file : {"kdf/rfc-5869-HKDF-SHA256.txt", "kdf/rfc-5869-HKDF-SHA1.txt"}) {
    for (const auto& r : test::parse_cavp(file)) {
      DigestAlg alg = *digest_named(r.at("Hash"));
      Bytes ikm = hex(r.at("IKM"));
      std::optional<Bytes> salt;
      if (!r.at("salt").empty()) {
        salt = hex(r.at("salt"));
      }
      Bytes info = hex(r.at("info"));
      size_t len = std::stoul(r.at("L"));
      EXPECT_EQ(to_hex(hkdf(alg, HkdfMode::extract_only, ikm, salt, {}, 0)), r.at("PRK"));
      EXPECT_EQ(to_hex(hkdf(alg, HkdfMode::extract_and_expand, ikm, salt, info, len)), r.at("OKM"));
      EXPECT_EQ(to_hex(hkdf(alg, HkdfMode::expand_only, hex(r.at("PRK")), {}, info, len)),
                r.at("OKM"));
      ++checked;
    }
  }
  EXPECT_EQ(checked, 7u);
  EXPECT_THROW(hkdf(DigestAlg::sha256, HkdfMode::expand_only, Bytes(32, 1), {}, {}, 255 * 32 + 1),
               CryptoError);
}

TEST(X963Kdf, Cavs) {
  auto records = test::parse_cavp("kdf/ansx963_2001.txt");
  ASSERT_EQ(records.size(), 100u);
  for (const auto& r : records) {
    DigestAlg alg = *digest_named(r.section.at(""));
    Bytes out = hex(r.at("key_data"));
    EXPECT_EQ(to_hex(x963_kdf(alg, hex(r.at("Z")), hex(r.at("SharedInfo")), out.size())),
              r.at("key_data"))
        << "line " << r.line;
  }
}

// Every PRF of NIST's counter-mode file with the layout OpenSSL 3.0's KBKDF has (a 32-bit counter
// before the fixed input), the fixed input as one label; two-key Triple DES is skipped: OpenSSL's
// KBKDF takes three-key keys only.
TEST(Kbkdf, NistEveryPrf) {
  auto records = test::parse_cavp("kdf/nist-800-108-KBKDF-CTR-before-r32.txt");
  ASSERT_EQ(records.size(), 360u);
  size_t checked = 0;
  for (const auto& r : records) {
    const std::string& prf = r.section.at("PRF");
    KbkdfParams p;
    if (prf.rfind("HMAC_", 0) == 0) {
      p.hmac = digest_named(prf.substr(5));
    } else if (prf == "CMAC_TDES3") {
      p.cmac_cipher = BlockCipher::des3;
    } else if (prf != "CMAC_AES128" && prf != "CMAC_AES192" && prf != "CMAC_AES256") {
      continue;
    }
    p.label = hex(r.at("FixedInputData"));
    size_t bits = std::stoul(r.at("L"));
    ASSERT_EQ(bits % 8, 0u);
    EXPECT_EQ(to_hex(kbkdf(p, hex(r.at("KI")), bits / 8)), r.at("KO")) << prf << " line " << r.line;
    ++checked;
  }
  EXPECT_EQ(checked, 320u);
}

TEST(Kbkdf, FeedbackModeIsTheChainedConstruction) {
  // K(1) = HMAC(k, IV || [1]_32 || label), K(2) = HMAC(k, K(1) || [2]_32 || label).
  KbkdfParams p;
  p.feedback = true;
  p.hmac = DigestAlg::sha256;
  p.label = hex("0102030405");
  p.iv = Bytes(32, 0x5a);
  Bytes key(32, 0x11);
  SecureBytes out = kbkdf(p, key, 40);
  Bytes in1 = p.iv;
  append(in1, hex("00000001"));
  append(in1, p.label);
  SecureBytes k1 = hmac(DigestAlg::sha256, key, in1);
  Bytes in2(k1.begin(), k1.end());
  append(in2, hex("00000002"));
  append(in2, p.label);
  SecureBytes k2 = hmac(DigestAlg::sha256, key, in2);
  Bytes expected(k1.begin(), k1.end());
  expected.insert(expected.end(), k2.begin(), k2.begin() + 8);
  EXPECT_EQ(test::plain(out), expected);
}

TEST(AesCcm, NistDecryptionVerification) {
  size_t passed = 0, failed = 0;
  for (const char* file : {"aead/DVPT128.rsp", "aead/DVPT256.rsp"}) {
    for (const auto& r : test::parse_cavp(file, "Count")) {
      size_t alen = std::stoul(r.section.at("Alen"));
      size_t plen = std::stoul(r.section.at("Plen"));
      size_t tlen = std::stoul(r.section.at("Tlen"));
      Bytes key = hex(r.section.at("Key"));
      Bytes nonce = hex(r.at("Nonce"));
      Bytes aad = alen ? hex(r.at("Adata")) : Bytes();
      Bytes ct = hex(r.at("CT"));
      if (r.at("Result") == "Pass") {
        Bytes pt = plen ? hex(r.at("Payload")) : Bytes();
        EXPECT_EQ(test::plain(aead_decrypt(AeadAlg::aes_ccm, key, nonce, aad, ct, tlen)), pt)
            << file << " line " << r.line;
        EXPECT_EQ(aead_encrypt(AeadAlg::aes_ccm, key, nonce, aad, pt, tlen), ct);
        ++passed;
      } else {
        EXPECT_THROW(aead_decrypt(AeadAlg::aes_ccm, key, nonce, aad, ct, tlen), IntegrityError)
            << file << " line " << r.line;
        ++failed;
      }
    }
  }
  EXPECT_GT(passed, 100u);
  EXPECT_GT(failed, 100u);
  EXPECT_THROW(aead_check(AeadAlg::aes_ccm, 16, 6, 16, 1), CryptoError);       // nonce 7..13
  EXPECT_THROW(aead_check(AeadAlg::aes_ccm, 16, 12, 5, 1), CryptoError);       // even tags
  EXPECT_THROW(aead_check(AeadAlg::aes_ccm, 16, 13, 16, 70000), CryptoError);  // L = 2
}

TEST(ChaCha20Poly1305, Rfc8439AndBoringSsl) {
  auto records = test::parse_cavp("aead/chacha20poly1305-boringssl.txt");
  ASSERT_EQ(records.size(), 66u);
  size_t checked = 0;
  for (const auto& r : records) {
    Bytes nonce = hex(r.at("NONCE"));
    Bytes tag = hex(r.at("TAG"));
    if (nonce.size() != 12 || tag.size() != 16) {
      continue;  // the 8-byte nonce records: the original construction, not RFC 8439's
    }
    Bytes key = hex(r.at("KEY"));
    Bytes pt = test::cavp_value(r.at("IN"));
    Bytes aad = test::cavp_value(r.at("AD"));
    Bytes expected = test::cavp_value(r.at("CT"));
    append(expected, tag);
    EXPECT_EQ(aead_encrypt(AeadAlg::chacha20_poly1305, key, nonce, aad, pt, 16), expected)
        << "line " << r.line;
    EXPECT_EQ(test::plain(aead_decrypt(AeadAlg::chacha20_poly1305, key, nonce, aad, expected, 16)),
              pt);
    expected.back() ^= 1;
    EXPECT_THROW(aead_decrypt(AeadAlg::chacha20_poly1305, key, nonce, aad, expected, 16),
                 IntegrityError);
    ++checked;
  }
  EXPECT_GT(checked, 50u);
}

TEST(AesXts, NistXtsGen) {
  size_t checked = 0;
  for (const char* file : {"xts/XTSGenAES128.rsp", "xts/XTSGenAES256.rsp"}) {
    for (const auto& r : test::parse_cavp(file)) {
      if (std::stoul(r.at("DataUnitLen")) % 8 != 0) {
        continue;  // PKCS#11 data units are whole bytes
      }
      bool encrypt = r.section.at("") == "ENCRYPT";
      Bytes key = hex(r.at("Key"));
      Bytes pt = hex(r.at("PT"));
      Bytes ct = hex(r.at("CT"));
      EXPECT_EQ(test::plain(aes_xts(key, hex(r.at("i")), encrypt, encrypt ? pt : ct)),
                encrypt ? ct : pt)
          << file << " line " << r.line;
      ++checked;
    }
  }
  EXPECT_GT(checked, 1000u);
  Bytes same(32, 7);
  EXPECT_THROW(aes_xts(same, Bytes(16, 0), true, Bytes(16, 0)), CryptoError);
  EXPECT_THROW(aes_xts(Bytes(48, 7), Bytes(16, 0), true, Bytes(16, 0)), CryptoError);
}

// RFC 3962 appendix B (AES-128, key "chicken teriyaki", IV 0): its ciphertexts are in CS3 order
// (the last two blocks swapped always). CS1 leaves them in CBC order: swap them back, the last
// (partial or whole) block and the one before.
TEST(AesCts, Rfc3962InCs1Order) {
  const Bytes key = hex("636869636b656e207465726979616b69");
  const Bytes iv(16, 0);
  const std::pair<const char*, const char*> cases[] = {
      {"4920776f756c64206c696b652074686520", "c6353568f2bf8cb4d8a580362da7ff7f97"},
      {"4920776f756c64206c696b65207468652047656e6572616c20476175277320",
       "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5"},
      {"4920776f756c64206c696b65207468652047656e6572616c2047617527732043",
       "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584"},
      {"4920776f756c64206c696b65207468652047656e6572616c20476175277320436869636b656e2c20706c6561736"
       "52c20616e6420776f6e746f6e20736f75702e",
       "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a84807efe836ee89a526730dbc2f7"
       "bc8409dad8bbb96c4cdc03bc103e1a194bbd8"},
  };
  for (const auto& [pt_hex, cs3_hex] : cases) {
    Bytes pt = hex(pt_hex);
    Bytes cs3 = hex(cs3_hex);
    size_t tail = pt.size() % 16 == 0 ? 16 : pt.size() % 16;
    size_t head = cs3.size() - 16 - tail;  // CS3: ... || C(n) (16 bytes) || C*(n-1) (tail)
    Bytes cs1(cs3.begin(), cs3.begin() + static_cast<long>(head));
    cs1.insert(cs1.end(), cs3.end() - static_cast<long>(tail), cs3.end());
    cs1.insert(cs1.end(), cs3.begin() + static_cast<long>(head),
               cs3.begin() + static_cast<long>(head + 16));
    EXPECT_EQ(test::plain(aes_cts(key, iv, true, pt)), cs1) << pt_hex;
    EXPECT_EQ(test::plain(aes_cts(key, iv, false, cs1)), pt);
  }
  EXPECT_THROW(aes_cts(key, iv, true, Bytes(15, 0)), CryptoError);
}

}  // namespace
}  // namespace twinhsm::crypto
