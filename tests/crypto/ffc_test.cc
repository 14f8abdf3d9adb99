// Finite-field keys of legacy devices and raw RSA: DSA against NIST CAVP FIPS 186-3 SigVer (every
// L, N and hash of the file), DSA and DH keys generated on generated parameters, DH agreement
// (padded to p, as PKCS#3 defines the secret), and raw RSA (CKM_RSA_X_509) checked against the
// PKCS#1 v1.5 encoding it must reveal.
#include <gtest/gtest.h>

#include "crypto/pkey.h"
#include "crypto/rsa_encryption.h"
#include "test_keys.h"
#include "test_util.h"

namespace twinhsm::crypto {
namespace {

using test::hex;
using Kind = SignatureScheme::Kind;

std::optional<DigestAlg> sha_named(const std::string& mod) {
  const std::pair<const char*, DigestAlg> names[] = {{"SHA-1]", DigestAlg::sha1},
                                                     {"SHA-224]", DigestAlg::sha224},
                                                     {"SHA-256]", DigestAlg::sha256},
                                                     {"SHA-384]", DigestAlg::sha384},
                                                     {"SHA-512]", DigestAlg::sha512}};
  for (const auto& [n, alg] : names) {
    if (mod.size() > 8 && mod.find(n) != std::string::npos) {
      return alg;
    }
  }
  return std::nullopt;
}

TEST(Dsa, NistSigVer) {
  size_t good = 0, bad = 0;
  for (const auto& r : test::parse_cavp("dsa/FIPS_186-3-SigVer.rsp", "Msg")) {
    // The section header is "[mod = L=1024, N=160, SHA-1]": its value holds the hash.
    auto alg = sha_named(r.section.at("mod") + "]");
    ASSERT_TRUE(alg.has_value()) << r.section.at("mod");
    FfcParams params{hex(r.section.at("P")), hex(r.section.at("Q")), hex(r.section.at("G"))};
    bool expect = r.at("Result").rfind("P", 0) == 0;
    size_t q = params.q.size();
    Bytes sig = hex(r.at("R"));
    sig.insert(sig.begin(), q - sig.size(), 0);
    Bytes s = hex(r.at("S"));
    s.insert(s.begin(), q - s.size(), 0);
    append(sig, s);
    bool ok = false;
    try {
      Verifier v(PKey::ffc_public(PKey::Type::dsa, params, hex(r.at("Y"))), {Kind::dsa, *alg});
      v.update(hex(r.at("Msg")));
      ok = v.finish(sig);
    } catch (const CryptoError&) {
      ok = false;  // a public value that is no DSA key on the parameters
    }
    EXPECT_EQ(ok, expect) << "line " << r.line;
    (expect ? good : bad)++;
  }
  EXPECT_EQ(good + bad, 300u);
  EXPECT_GT(good, 50u);
}

TEST(Dsa, GeneratedKeysSignAndImport) {
  FfcParams params = PKey::generate_dsa_params(1024, 160);
  EXPECT_EQ(params.p.size(), 128u);
  EXPECT_EQ(params.q.size(), 20u);
  PKey key = PKey::generate_dsa(params);
  EXPECT_EQ(key.type(), PKey::Type::dsa);
  EXPECT_EQ(key.bits(), 1024u);
  EXPECT_EQ(signature_size(key, {Kind::dsa, DigestAlg::sha256}), 40u);
  Signer s(key, {Kind::dsa, DigestAlg::sha256});
  s.update(hex("616263"));
  Bytes sig = s.finish();
  // The private value alone makes the same key (y computed), and the public value verifies.
  PKey again = PKey::ffc_private(PKey::Type::dsa, params, key.ffc_private_value());
  EXPECT_EQ(again.ffc_public_value(), key.ffc_public_value());
  Verifier v(PKey::ffc_public(PKey::Type::dsa, params, key.ffc_public_value()),
             {Kind::dsa, DigestAlg::sha256});
  v.update(hex("616263"));
  EXPECT_TRUE(v.finish(sig));
  EXPECT_EQ(PKey::from_private_der(key.private_der()).ffc_public_value(), key.ffc_public_value());
  EXPECT_THROW(PKey::ffc_public(PKey::Type::dsa, params, Bytes{1}), CryptoError);
}

TEST(Dh, AgreementIsSymmetricAndPadded) {
  FfcParams params = PKey::generate_dh_params(512);
  EXPECT_TRUE(params.q.empty());
  EXPECT_EQ(params.g, Bytes{2});
  PKey a = PKey::generate_dh(params, 0), b = PKey::generate_dh(params, 160);
  SecureBytes ab = a.agree(b.ffc_public_value());
  EXPECT_EQ(ab, b.agree(a.ffc_public_value()));
  EXPECT_EQ(ab.size(), params.p.size());
  PKey a2 = PKey::ffc_private(PKey::Type::dh, params, a.ffc_private_value());
  EXPECT_EQ(a2.agree(b.ffc_public_value()), ab);
  EXPECT_THROW(a.agree(Bytes{1}), CryptoError);  // y = 1 is no public key
  EXPECT_THROW(test::ec_key(Curve::ed25519).agree(Bytes(32, 1)), UsageError);
}

// Raw RSA is the bare permutation: encrypting a PKCS#1 v1.5 signature with the public key gives
// its encoded message 00 01 FF..FF 00 || DigestInfo || hash, and raw signing that message gives
// the signature back.
TEST(RsaRaw, IsThePermutationUnderPkcs1) {
  const PKey& key = test::rsa2048();
  Bytes msg = test::bytes_of("raw RSA");
  Signer pkcs1(key, {Kind::rsa_pkcs1, DigestAlg::sha256});
  pkcs1.update(msg);
  Bytes sig = pkcs1.finish();
  Bytes em = hex("0001");
  em.insert(em.end(), 256 - 3 - 19 - 32, 0xff);
  append(em, hex("003031300d060960864801650304020105000420"));
  append(em, digest(DigestAlg::sha256, msg));
  ASSERT_EQ(em.size(), 256u);
  RsaPadding raw{RsaPadding::Kind::raw, DigestAlg::sha1, DigestAlg::sha1, {}};
  EXPECT_EQ(rsa_encrypt(key, raw, sig), em);
  EXPECT_EQ(test::plain(rsa_decrypt(key, raw, rsa_encrypt(key, raw, em))), em);
  Bytes unpadded(em.begin() + 1, em.end());  // up to k bytes: a leading zero may be left out
  Signer s(key, {Kind::rsa_raw, std::nullopt});
  s.update(unpadded);
  EXPECT_EQ(s.finish(), sig);
  Verifier v(key, {Kind::rsa_raw, std::nullopt});
  v.update(unpadded);
  EXPECT_TRUE(v.finish(sig));
  EXPECT_EQ(rsa_max_plaintext(key, raw), 256u);
  EXPECT_THROW(rsa_encrypt(key, raw, Bytes(256, 0xff)), CryptoError);  // not below n
}

}  // namespace
}  // namespace twinhsm::crypto
