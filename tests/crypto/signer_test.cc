// Signer / Verifier / signature_size: round trips for every scheme and key, the raw (pre-hashed)
// forms that CKM_RSA_PKCS, CKM_RSA_PKCS_PSS and CKM_ECDSA use, and known answers (RFC 8032,
// RFC 6979).
#include <gtest/gtest.h>

#include <thread>

#include "crypto/digest.h"
#include "crypto/pkey.h"
#include "test_keys.h"
#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::bytes_of;
using test::hex;
using Kind = SignatureScheme::Kind;

const Bytes kMessage = bytes_of("twinhsm signs this message in three parts");

Bytes sign_in_parts(const PKey& key, const SignatureScheme& scheme, ByteView msg) {
  Signer s(key, scheme);
  size_t third = msg.size() / 3;
  s.update(msg.first(third));
  s.update(ByteView{});
  s.update(msg.subspan(third, third));
  s.update(msg.subspan(2 * third));
  return s.finish();
}

bool verify(const PKey& key, const SignatureScheme& scheme, ByteView msg, ByteView sig) {
  Verifier v(key, scheme);
  v.update(msg);
  return v.finish(sig);
}

// check_round_trip signs kMessage (or the given raw input), checks the length, verification,
// and that a changed message or signature, or one of the wrong length, does not verify.
void check_round_trip(const PKey& key, const SignatureScheme& scheme, const Bytes& msg,
                      const std::string& label) {
  SCOPED_TRACE(label);
  Bytes sig = sign_in_parts(key, scheme, msg);
  EXPECT_EQ(sig.size(), signature_size(key, scheme));
  EXPECT_TRUE(verify(key, scheme, msg, sig));
  Bytes other_msg = msg;
  other_msg[0] ^= 0x01;
  EXPECT_FALSE(verify(key, scheme, other_msg, sig));
  Bytes other_sig = sig;
  other_sig[sig.size() / 2] ^= 0x01;
  EXPECT_FALSE(verify(key, scheme, msg, other_sig));
  Bytes longer = sig;
  longer.push_back(0);
  EXPECT_FALSE(verify(key, scheme, msg, longer));
  EXPECT_FALSE(verify(key, scheme, msg, ByteView(sig).first(sig.size() - 1)));
  EXPECT_FALSE(verify(key, scheme, msg, Bytes{}));
  // A public-only copy of the key verifies too.
  PKey pub = PKey::from_public_der(key.public_der());
  EXPECT_TRUE(verify(pub, scheme, msg, sig));
}

const DigestAlg kAllDigests[] = {DigestAlg::sha1, DigestAlg::sha224, DigestAlg::sha256,
                                 DigestAlg::sha384, DigestAlg::sha512};

TEST(RsaPkcs1, EveryDigest) {
  for (DigestAlg d : kAllDigests) {
    check_round_trip(test::rsa2048(), {Kind::rsa_pkcs1, d}, kMessage, digest_name(d));
  }
}

// DER DigestInfo prefix for SHA-256 (RFC 8017 section 9.2, note 1).
const char* kSha256DigestInfo = "3031300d060960864801650304020105000420";

TEST(RsaPkcs1, RawDigestInfoEqualsHashAndSign) {
  const PKey& key = test::rsa2048();
  Bytes digest_info = hex(kSha256DigestInfo);
  append(digest_info, digest(DigestAlg::sha256, kMessage));
  SignatureScheme raw{Kind::rsa_pkcs1, std::nullopt};
  Bytes raw_sig = sign_in_parts(key, raw, digest_info);
  Bytes hashed_sig = sign_in_parts(key, {Kind::rsa_pkcs1, DigestAlg::sha256}, kMessage);
  EXPECT_EQ(raw_sig, hashed_sig);  // PKCS#1 v1.5 is deterministic
  EXPECT_TRUE(verify(key, raw, digest_info, hashed_sig));
  EXPECT_TRUE(verify(key, {Kind::rsa_pkcs1, DigestAlg::sha256}, kMessage, raw_sig));
  check_round_trip(key, raw, digest_info, "raw DigestInfo");
}

TEST(RsaPkcs1, RawArbitraryDataUpToKMinus11) {
  const PKey& key = test::rsa2048();
  SignatureScheme raw{Kind::rsa_pkcs1, std::nullopt};
  check_round_trip(key, raw, Bytes(256 - 11, 0x5c), "k-11 bytes");
  check_round_trip(key, raw, Bytes(1, 0x01), "1 byte");
  Signer s(key, raw);
  s.update(Bytes(256 - 10, 0x5c));
  EXPECT_THROW(s.finish(), CryptoError);
}

TEST(RsaPss, WithDigest) {
  const PKey& key = test::rsa2048();
  check_round_trip(key,
                   {Kind::rsa_pss, DigestAlg::sha256, DigestAlg::sha256, DigestAlg::sha256, 32},
                   kMessage, "SHA256 salt 32");
  check_round_trip(key,
                   {Kind::rsa_pss, DigestAlg::sha384, DigestAlg::sha384, DigestAlg::sha384, 48},
                   kMessage, "SHA384 salt 48");
  check_round_trip(key, {Kind::rsa_pss, DigestAlg::sha512, DigestAlg::sha512, DigestAlg::sha256, 0},
                   kMessage, "SHA512 MGF1-SHA256 salt 0");
}

TEST(RsaPss, IsRandomizedAndSaltLengthMatters) {
  const PKey& key = test::rsa2048();
  SignatureScheme s32{Kind::rsa_pss, DigestAlg::sha256, DigestAlg::sha256, DigestAlg::sha256, 32};
  SignatureScheme s20 = s32;
  s20.salt_len = 20;
  Bytes a = sign_in_parts(key, s32, kMessage);
  Bytes b = sign_in_parts(key, s32, kMessage);
  EXPECT_NE(a, b);
  EXPECT_FALSE(verify(key, s20, kMessage, a));
  SignatureScheme mgf384 = s32;
  mgf384.mgf1 = DigestAlg::sha384;
  EXPECT_FALSE(verify(key, mgf384, kMessage, a));
}

TEST(RsaPss, RawHash) {
  const PKey& key = test::rsa2048();
  SignatureScheme raw{Kind::rsa_pss, std::nullopt, DigestAlg::sha256, DigestAlg::sha256, 32};
  SignatureScheme hashed{Kind::rsa_pss, DigestAlg::sha256, DigestAlg::sha256, DigestAlg::sha256,
                         32};
  Bytes hash = digest(DigestAlg::sha256, kMessage);
  check_round_trip(key, raw, hash, "raw SHA-256 hash");
  // The raw form over H(m) and the hashing form over m are the same signature scheme.
  EXPECT_TRUE(verify(key, hashed, kMessage, sign_in_parts(key, raw, hash)));
  EXPECT_TRUE(verify(key, raw, hash, sign_in_parts(key, hashed, kMessage)));
  // Input of the wrong length: signing throws, verifying says no.
  Signer s(key, raw);
  s.update(Bytes(20, 1));
  EXPECT_THROW(s.finish(), CryptoError);
  EXPECT_FALSE(verify(key, raw, Bytes(20, 1), sign_in_parts(key, raw, hash)));
}

const Curve kEcCurves[] = {Curve::p256, Curve::p384, Curve::p521};

TEST(Ecdsa, EveryCurveAndDigest) {
  for (Curve c : kEcCurves) {
    const PKey& key = test::ec_key(c);
    size_t fb = (curve_bits(c) + 7) / 8;
    for (DigestAlg d : kAllDigests) {
      SignatureScheme scheme{Kind::ecdsa, d};
      EXPECT_EQ(signature_size(key, scheme), 2 * fb);
      check_round_trip(key, scheme, kMessage,
                       "curve bits " + std::to_string(curve_bits(c)) + " " + digest_name(d));
    }
  }
}

TEST(Ecdsa, RawHashOfAnyLength) {
  for (Curve c : kEcCurves) {
    const PKey& key = test::ec_key(c);
    SignatureScheme raw{Kind::ecdsa, std::nullopt};
    for (DigestAlg d : kAllDigests) {
      Bytes hash = digest(d, kMessage);
      check_round_trip(key, raw, hash, std::string("raw ") + digest_name(d));
      // CKM_ECDSA over H(m) verifies as CKM_ECDSA_SHAxxx over m, and the other way round.
      EXPECT_TRUE(verify(key, {Kind::ecdsa, d}, kMessage, sign_in_parts(key, raw, hash)));
      EXPECT_TRUE(verify(key, raw, hash, sign_in_parts(key, {Kind::ecdsa, d}, kMessage)));
    }
  }
}

TEST(Ecdsa, Rfc6979KnownSignatureVerifies) {
  // RFC 6979 A.2.5, P-256, SHA-256, message "sample": r || s.
  PKey key = PKey::ec_public(
      Curve::p256,
      hex("0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae"
          "9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299"));
  Bytes sig = hex(
      "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716f7cb1c942d657c41d436c7a1b6e"
      "29f65f3e900dbb9aff4064dc4ab2f843acda8");
  EXPECT_TRUE(verify(key, {Kind::ecdsa, DigestAlg::sha256}, bytes_of("sample"), sig));
  EXPECT_TRUE(
      verify(key, {Kind::ecdsa, std::nullopt}, digest(DigestAlg::sha256, bytes_of("sample")), sig));
  EXPECT_FALSE(verify(key, {Kind::ecdsa, DigestAlg::sha256}, bytes_of("sample!"), sig));
  EXPECT_FALSE(verify(key, {Kind::ecdsa, DigestAlg::sha256}, bytes_of("sample"), Bytes(64, 0)));
  EXPECT_FALSE(verify(key, {Kind::ecdsa, DigestAlg::sha256}, bytes_of("sample"), Bytes(64, 0xff)));
}

TEST(Ed25519, RoundTrip) {
  check_round_trip(test::ec_key(Curve::ed25519), {Kind::eddsa, std::nullopt}, kMessage, "Ed25519");
  EXPECT_EQ(signature_size(test::ec_key(Curve::ed25519), {Kind::eddsa, std::nullopt}), 64u);
}

TEST(Ed25519, Rfc8032KnownAnswers) {
  struct Case {
    const char* secret;
    const char* message;
    const char* signature;
  };
  // RFC 8032 section 7.1, TEST 1 and TEST 2.
  const Case cases[] = {
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701"
       "cf9b46bd25bf5f0595bbe24655141438e7a100b"},
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d"
       "0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
  };
  SignatureScheme eddsa{Kind::eddsa, std::nullopt};
  for (const auto& c : cases) {
    PKey key = PKey::ec_private(Curve::ed25519, hex(c.secret));
    Signer s(key, eddsa);
    s.update(hex(c.message));
    EXPECT_EQ(to_hex(s.finish()), c.signature);
    PKey pub = PKey::ec_public(Curve::ed25519, key.ec_point());
    EXPECT_TRUE(verify(pub, eddsa, hex(c.message), hex(c.signature)));
  }
}

TEST(Signer, KeyMustFitScheme) {
  const PKey& rsa = test::rsa2048();
  const PKey& ec = test::ec_key(Curve::p256);
  const PKey& ed = test::ec_key(Curve::ed25519);
  EXPECT_THROW(Signer(rsa, {Kind::ecdsa, DigestAlg::sha256}), UsageError);
  EXPECT_THROW(Signer(ec, {Kind::rsa_pkcs1, DigestAlg::sha256}), UsageError);
  EXPECT_THROW(Signer(ec, {Kind::eddsa, std::nullopt}), UsageError);
  EXPECT_THROW(Signer(ed, {Kind::ecdsa, std::nullopt}), UsageError);
  EXPECT_THROW(Signer(ed, {Kind::eddsa, DigestAlg::sha512}), UsageError);
  EXPECT_THROW(Verifier(rsa, {Kind::eddsa, std::nullopt}), UsageError);
  EXPECT_THROW(signature_size(rsa, {Kind::ecdsa, DigestAlg::sha256}), UsageError);
  SignatureScheme mismatched{Kind::rsa_pss, DigestAlg::sha384, DigestAlg::sha256};
  EXPECT_THROW(Signer(rsa, mismatched), UsageError);
}

TEST(Signer, PublicKeyCannotSign) {
  PKey pub = PKey::from_public_der(test::ec_key(Curve::p256).public_der());
  EXPECT_THROW(Signer(pub, {Kind::ecdsa, DigestAlg::sha256}), UsageError);
}

TEST(Signer, FinishOnce) {
  Signer s(test::ec_key(Curve::p256), {Kind::ecdsa, DigestAlg::sha256});
  s.update(kMessage);
  s.finish();
  EXPECT_THROW(s.finish(), UsageError);
  EXPECT_THROW(s.update(kMessage), UsageError);
  Verifier v(test::ec_key(Curve::p256), {Kind::ecdsa, DigestAlg::sha256});
  v.finish(Bytes(64, 1));
  EXPECT_THROW(v.finish(Bytes(64, 1)), UsageError);
}

TEST(Signer, MovedSignerWorks) {
  Signer a(test::ec_key(Curve::ed25519), {Kind::eddsa, std::nullopt});
  a.update(kMessage);
  Signer b = std::move(a);
  Bytes sig = b.finish();
  EXPECT_TRUE(verify(test::ec_key(Curve::ed25519), {Kind::eddsa, std::nullopt}, kMessage, sig));
}

TEST(Signer, OneKeyOnSeveralThreads) {
  const PKey& rsa = test::rsa2048();
  const PKey& ec = test::ec_key(Curve::p384);
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      const PKey& key = t % 2 == 0 ? rsa : ec;
      SignatureScheme scheme = t % 2 == 0 ? SignatureScheme{Kind::rsa_pss, DigestAlg::sha256}
                                          : SignatureScheme{Kind::ecdsa, DigestAlg::sha384};
      int good = 0;
      for (int i = 0; i < 10; ++i) {
        Bytes msg = bytes_of("message " + std::to_string(t) + "/" + std::to_string(i));
        Signer s(key, scheme);
        s.update(msg);
        Bytes sig = s.finish();
        Verifier v(key, scheme);
        v.update(msg);
        good += v.finish(sig) ? 1 : 0;
      }
      ok[t] = good;
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  for (int t = 0; t < 8; ++t) {
    EXPECT_EQ(ok[t], 10) << "thread " << t;
  }
}

}  // namespace
}  // namespace twinhsm::crypto
