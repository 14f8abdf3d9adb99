// Cryptography: key generation (RSA, EC, Ed25519, AES), signing and verification with every
// mechanism (single- and multi-part, the two-call convention), checked against OpenSSL; AES-GCM;
// key usage restrictions; C_GenerateRandom; the mechanism list.
#include <atomic>
#include <functional>
#include <thread>

#include "fixture.h"
#include "ossl.h"

namespace twinhsm::test {
namespace {

struct KeyPair {
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
};

enum class KeyKind { rsa2048, p256, p384, ed25519 };

Bytes test_data(size_t n = 1000) {
  Bytes d(n);
  for (size_t i = 0; i < n; ++i) {
    d[i] = static_cast<uint8_t>(i * 13 + 5);
  }
  return d;
}

class CryptoTest : public LoggedInTest {
 protected:
  CK_RV generate(KeyKind kind, KeyPair* out, Template pub = {}, Template priv = {}) {
    CK_MECHANISM mech{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    switch (kind) {
      case KeyKind::rsa2048:
        mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
        pub.ulong(CKA_MODULUS_BITS, 2048).bytes(CKA_PUBLIC_EXPONENT, {1, 0, 1});
        break;
      case KeyKind::p256:
        pub.bytes(CKA_EC_PARAMS, ec_params_p256());
        break;
      case KeyKind::p384:
        pub.bytes(CKA_EC_PARAMS, ec_params_p384());
        break;
      case KeyKind::ed25519:
        mech.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
        pub.bytes(CKA_EC_PARAMS, ec_params_ed25519());
        break;
    }
    return f()->C_GenerateKeyPair(s_, &mech, pub.data(), pub.size(), priv.data(), priv.size(),
                                  &out->pub, &out->priv);
  }
  KeyPair generate(KeyKind kind) {
    KeyPair kp;
    CK_RV rv = generate(kind, &kp);
    if (rv != CKR_OK) {
      ADD_FAILURE() << "C_GenerateKeyPair: " << rv_name(rv);
    }
    return kp;
  }
  ossl::PKey public_key(CK_OBJECT_HANDLE pub) {
    return ossl::pkey_from_spki(attr_bytes(f(), s_, pub, CKA_PUBLIC_KEY_INFO));
  }

  // sign: single-part, with the size query first.
  Bytes sign(CK_MECHANISM* mech, CK_OBJECT_HANDLE key, const Bytes& data) {
    if (CK_RV rv = f()->C_SignInit(s_, mech, key); rv != CKR_OK) {
      ADD_FAILURE() << "C_SignInit: " << rv_name(rv);
      return {};
    }
    CK_ULONG len = 0;
    f()->C_Sign(s_, const_cast<CK_BYTE*>(data.data()), data.size(), nullptr, &len);
    Bytes sig(len);
    if (CK_RV rv =
            f()->C_Sign(s_, const_cast<CK_BYTE*>(data.data()), data.size(), sig.data(), &len);
        rv != CKR_OK) {
      ADD_FAILURE() << "C_Sign: " << rv_name(rv);
      return {};
    }
    sig.resize(len);
    return sig;
  }
  CK_RV verify(CK_MECHANISM* mech, CK_OBJECT_HANDLE key, const Bytes& data, const Bytes& sig) {
    CK_RV rv = f()->C_VerifyInit(s_, mech, key);
    if (rv != CKR_OK) {
      return rv;
    }
    return f()->C_Verify(s_, const_cast<CK_BYTE*>(data.data()), data.size(),
                         const_cast<CK_BYTE*>(sig.data()), sig.size());
  }
};

// ---- Key generation ----

TEST_F(CryptoTest, RsaKeyPair) {
  Template pub, priv;
  pub.str(CKA_LABEL, "rsa").bytes(CKA_ID, {7});
  priv.str(CKA_LABEL, "rsa").bytes(CKA_ID, {7});
  KeyPair kp;
  ASSERT_CKR(CKR_OK, generate(KeyKind::rsa2048, &kp, pub, priv));
  EXPECT_EQ(attr_ulong(f(), s_, kp.pub, CKA_CLASS), CKO_PUBLIC_KEY);
  EXPECT_EQ(attr_ulong(f(), s_, kp.priv, CKA_CLASS), CKO_PRIVATE_KEY);
  EXPECT_EQ(attr_ulong(f(), s_, kp.pub, CKA_KEY_TYPE), CKK_RSA);
  EXPECT_EQ(attr_ulong(f(), s_, kp.pub, CKA_MODULUS_BITS), 2048u);
  Bytes n = attr_bytes(f(), s_, kp.pub, CKA_MODULUS);
  EXPECT_EQ(n.size(), 256u);
  EXPECT_EQ(attr_bytes(f(), s_, kp.pub, CKA_PUBLIC_EXPONENT), (Bytes{1, 0, 1}));
  EXPECT_EQ(attr_bytes(f(), s_, kp.priv, CKA_MODULUS), n);
  EXPECT_EQ(attr_bool(f(), s_, kp.pub, CKA_PRIVATE), false);
  EXPECT_EQ(attr_bool(f(), s_, kp.priv, CKA_PRIVATE), true);
  EXPECT_EQ(attr_bool(f(), s_, kp.priv, CKA_SENSITIVE), true);
  EXPECT_EQ(attr_bool(f(), s_, kp.priv, CKA_ALWAYS_SENSITIVE), true);
  EXPECT_EQ(attr_bool(f(), s_, kp.priv, CKA_NEVER_EXTRACTABLE), true);
  EXPECT_EQ(attr_bool(f(), s_, kp.priv, CKA_LOCAL), true);
  EXPECT_EQ(attr_ulong(f(), s_, kp.priv, CKA_KEY_GEN_MECHANISM), CKM_RSA_PKCS_KEY_PAIR_GEN);
  EXPECT_EQ(attr_bytes(f(), s_, kp.priv, CKA_ID), (Bytes{7}));
  for (CK_ATTRIBUTE_TYPE t : {CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1,
                              CKA_EXPONENT_2, CKA_COEFFICIENT}) {
    Bytes v;
    EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get_attribute(f(), s_, kp.priv, t, &v))
        << "attribute " << t;
  }
  // The SubjectPublicKeyInfo, the modulus and the exponent describe one key.
  ossl::PKey key = public_key(kp.pub);
  ASSERT_TRUE(key);
  EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "RSA"));
  BIGNUM* bn = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(key.get(), "n", &bn), 1);
  Bytes n2(BN_num_bytes(bn));
  BN_bn2bin(bn, n2.data());
  BN_free(bn);
  EXPECT_EQ(n2, n);
  EXPECT_EQ(attr_bytes(f(), s_, kp.priv, CKA_PUBLIC_KEY_INFO),
            attr_bytes(f(), s_, kp.pub, CKA_PUBLIC_KEY_INFO));
}

TEST_F(CryptoTest, RsaKeyPairTemplateErrors) {
  CK_MECHANISM mech{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  KeyPair kp;
  for (CK_ULONG bits : {CK_ULONG{1024}, CK_ULONG{8192}}) {
    Template pub;
    pub.ulong(CKA_MODULUS_BITS, bits);
    EXPECT_CKR(CKR_KEY_SIZE_RANGE, f()->C_GenerateKeyPair(s_, &mech, pub.data(), pub.size(),
                                                          nullptr, 0, &kp.pub, &kp.priv))
        << bits;
  }
  Template none;
  EXPECT_CKR(CKR_TEMPLATE_INCOMPLETE, f()->C_GenerateKeyPair(s_, &mech, none.data(), none.size(),
                                                             nullptr, 0, &kp.pub, &kp.priv));
  Template pub;
  pub.ulong(CKA_MODULUS_BITS, 2048);
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_GenerateKeyPair(s_, &mech, pub.data(), pub.size(), nullptr,
                                                       0, nullptr, &kp.priv));
  // The public value is made with the key, never given for it (PKCS#11 3.0's attribute tables):
  // a modulus in either template, as an EC point below, is refused rather than ignored.
  Template given_modulus = Template(pub).bytes(CKA_MODULUS, Bytes(256, 0x41));
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT,
             f()->C_GenerateKeyPair(s_, &mech, given_modulus.data(), given_modulus.size(), nullptr,
                                    0, &kp.pub, &kp.priv));
  Template priv_modulus = Template().bytes(CKA_MODULUS, Bytes(256, 0x41));
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT,
             f()->C_GenerateKeyPair(s_, &mech, pub.data(), pub.size(), priv_modulus.data(),
                                    priv_modulus.size(), &kp.pub, &kp.priv));
  EXPECT_TRUE(find_all(f(), s_).empty());  // nothing half-made
}

TEST_F(CryptoTest, EcKeyPairs) {
  struct Case {
    KeyKind kind;
    Bytes params;
    const char* type;
    size_t point_len;
  };
  for (const Case& c : {Case{KeyKind::p256, ec_params_p256(), "EC", 65},
                        Case{KeyKind::p384, ec_params_p384(), "EC", 97},
                        Case{KeyKind::ed25519, ec_params_ed25519(), "ED25519", 32}}) {
    SCOPED_TRACE(c.point_len);
    KeyPair kp = generate(c.kind);
    ASSERT_NE(kp.pub, CK_INVALID_HANDLE);
    EXPECT_EQ(attr_ulong(f(), s_, kp.pub, CKA_KEY_TYPE),
              c.kind == KeyKind::ed25519 ? CKK_EC_EDWARDS : CKK_EC);
    EXPECT_EQ(attr_bytes(f(), s_, kp.pub, CKA_EC_PARAMS), c.params);
    EXPECT_EQ(attr_bytes(f(), s_, kp.priv, CKA_EC_PARAMS), c.params);
    // CKA_EC_POINT is a DER OCTET STRING holding the point OpenSSL finds in the SPKI.
    Bytes point = attr_bytes(f(), s_, kp.pub, CKA_EC_POINT);
    ASSERT_EQ(point.size(), c.point_len + 2);
    EXPECT_EQ(point[0], 0x04);
    EXPECT_EQ(point[1], c.point_len);
    ossl::PKey key = public_key(kp.pub);
    ASSERT_TRUE(key);
    EXPECT_TRUE(EVP_PKEY_is_a(key.get(), c.type));
    EXPECT_EQ(ossl::ec_point(key.get()), Bytes(point.begin() + 2, point.end()));
    Bytes v;
    EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get_attribute(f(), s_, kp.priv, CKA_VALUE, &v));
    EXPECT_EQ(attr_ulong(f(), s_, kp.priv, CKA_KEY_GEN_MECHANISM),
              c.kind == KeyKind::ed25519 ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN);
  }
}

TEST_F(CryptoTest, EcKeyPairParameters) {
  CK_MECHANISM ec{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  KeyPair kp;
  Template p521;
  p521.bytes(CKA_EC_PARAMS, ec_params_p521());
  EXPECT_CKR(CKR_OK, f()->C_GenerateKeyPair(s_, &ec, p521.data(), p521.size(), nullptr, 0, &kp.pub,
                                            &kp.priv));
  Template secp256k1;
  secp256k1.bytes(CKA_EC_PARAMS, {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a});
  EXPECT_CKR(CKR_CURVE_NOT_SUPPORTED,
             f()->C_GenerateKeyPair(s_, &ec, secp256k1.data(), secp256k1.size(), nullptr, 0,
                                    &kp.pub, &kp.priv));
  Template none;
  EXPECT_CKR(CKR_TEMPLATE_INCOMPLETE,
             f()->C_GenerateKeyPair(s_, &ec, none.data(), 0, nullptr, 0, &kp.pub, &kp.priv));
  Template given_point = Template(p521).bytes(CKA_EC_POINT, Bytes{0x04, 0x41, 0x04});
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT,
             f()->C_GenerateKeyPair(s_, &ec, given_point.data(), given_point.size(), nullptr, 0,
                                    &kp.pub, &kp.priv));
  Template ed;
  ed.bytes(CKA_EC_PARAMS, ec_params_ed25519());
  EXPECT_NE(Rv{CKR_OK}, Rv{f()->C_GenerateKeyPair(s_, &ec, ed.data(), ed.size(), nullptr, 0,
                                                  &kp.pub, &kp.priv)});
  // Ed25519 named by a PrintableString, as PKCS#11 3.0 allows.
  CK_MECHANISM edwards{CKM_EC_EDWARDS_KEY_PAIR_GEN, nullptr, 0};
  Template named;
  Bytes printable = {0x13, 0x0c};
  Bytes name = to_bytes("edwards25519");
  printable.insert(printable.end(), name.begin(), name.end());
  named.bytes(CKA_EC_PARAMS, printable);
  EXPECT_CKR(CKR_OK, f()->C_GenerateKeyPair(s_, &edwards, named.data(), named.size(), nullptr, 0,
                                            &kp.pub, &kp.priv));
}

TEST_F(CryptoTest, TokenKeyPairSurvivesARestart) {
  Template pub, priv;
  pub.boolean(CKA_TOKEN, true).str(CKA_LABEL, "persistent");
  priv.boolean(CKA_TOKEN, true).str(CKA_LABEL, "persistent");
  KeyPair kp;
  ASSERT_CKR(CKR_OK, generate(KeyKind::p256, &kp, pub, priv));
  Bytes spki = attr_bytes(f(), s_, kp.pub, CKA_PUBLIC_KEY_INFO);
  reinitialize();
  s_ = open_session();
  ASSERT_CKR(CKR_OK, login_user(s_));
  Template by_label;
  by_label.ulong(CKA_CLASS, CKO_PRIVATE_KEY).str(CKA_LABEL, "persistent");
  ASSERT_EQ(find_all(f(), s_, by_label), std::vector<CK_OBJECT_HANDLE>{kp.priv});
  CK_MECHANISM mech{CKM_ECDSA_SHA256, nullptr, 0};
  Bytes data = test_data();
  Bytes sig = sign(&mech, kp.priv, data);
  ossl::PKey key = ossl::pkey_from_spki(spki);
  EXPECT_TRUE(ossl::verify(key.get(), {ossl::Scheme::ecdsa, "SHA256"}, data, sig));
}

// ---- Signatures, one mechanism at a time ----

enum class Input { data, sha256, sha384, digest_info };

struct SignCase {
  const char* name;
  KeyKind key;
  CK_MECHANISM_TYPE mechanism;
  Input input;
  ossl::VerifySpec spec;
  bool multi_part;
  std::optional<CK_RSA_PKCS_PSS_PARAMS> pss;
};

size_t signature_size(KeyKind k) {
  switch (k) {
    case KeyKind::rsa2048:
      return 256;
    case KeyKind::p256:
      return 64;
    case KeyKind::p384:
      return 96;
    case KeyKind::ed25519:
      return 64;
  }
  return 0;
}

using ossl::Scheme;
const SignCase kSignCases[] = {
    {"RsaPkcs", KeyKind::rsa2048, CKM_RSA_PKCS, Input::digest_info, {Scheme::rsa_pkcs1}, false, {}},
    {"Sha1RsaPkcs",
     KeyKind::rsa2048,
     CKM_SHA1_RSA_PKCS,
     Input::data,
     {Scheme::rsa_pkcs1, "SHA1"},
     true,
     {}},
    {"Sha224RsaPkcs",
     KeyKind::rsa2048,
     CKM_SHA224_RSA_PKCS,
     Input::data,
     {Scheme::rsa_pkcs1, "SHA224"},
     true,
     {}},
    {"Sha256RsaPkcs",
     KeyKind::rsa2048,
     CKM_SHA256_RSA_PKCS,
     Input::data,
     {Scheme::rsa_pkcs1, "SHA256"},
     true,
     {}},
    {"Sha384RsaPkcs",
     KeyKind::rsa2048,
     CKM_SHA384_RSA_PKCS,
     Input::data,
     {Scheme::rsa_pkcs1, "SHA384"},
     true,
     {}},
    {"Sha512RsaPkcs",
     KeyKind::rsa2048,
     CKM_SHA512_RSA_PKCS,
     Input::data,
     {Scheme::rsa_pkcs1, "SHA512"},
     true,
     {}},
    {"RsaPkcsPss",
     KeyKind::rsa2048,
     CKM_RSA_PKCS_PSS,
     Input::sha256,
     {Scheme::rsa_pss, nullptr, "SHA256", "SHA256", 32},
     false,
     CK_RSA_PKCS_PSS_PARAMS{CKM_SHA256, CKG_MGF1_SHA256, 32}},
    {"Sha1RsaPkcsPss",
     KeyKind::rsa2048,
     CKM_SHA1_RSA_PKCS_PSS,
     Input::data,
     {Scheme::rsa_pss, "SHA1", nullptr, "SHA1", 20},
     true,
     CK_RSA_PKCS_PSS_PARAMS{CKM_SHA_1, CKG_MGF1_SHA1, 20}},
    {"Sha224RsaPkcsPss",
     KeyKind::rsa2048,
     CKM_SHA224_RSA_PKCS_PSS,
     Input::data,
     {Scheme::rsa_pss, "SHA224", nullptr, "SHA224", 28},
     true,
     CK_RSA_PKCS_PSS_PARAMS{CKM_SHA224, CKG_MGF1_SHA224, 28}},
    {"Sha256RsaPkcsPss",
     KeyKind::rsa2048,
     CKM_SHA256_RSA_PKCS_PSS,
     Input::data,
     {Scheme::rsa_pss, "SHA256", nullptr, "SHA256", 32},
     true,
     CK_RSA_PKCS_PSS_PARAMS{CKM_SHA256, CKG_MGF1_SHA256, 32}},
    {"Sha384RsaPkcsPss",
     KeyKind::rsa2048,
     CKM_SHA384_RSA_PKCS_PSS,
     Input::data,
     {Scheme::rsa_pss, "SHA384", nullptr, "SHA384", 48},
     true,
     CK_RSA_PKCS_PSS_PARAMS{CKM_SHA384, CKG_MGF1_SHA384, 48}},
    {"Sha512RsaPkcsPss",
     KeyKind::rsa2048,
     CKM_SHA512_RSA_PKCS_PSS,
     Input::data,
     {Scheme::rsa_pss, "SHA512", nullptr, "SHA512", 64},
     true,
     CK_RSA_PKCS_PSS_PARAMS{CKM_SHA512, CKG_MGF1_SHA512, 64}},
    {"EcdsaP256", KeyKind::p256, CKM_ECDSA, Input::sha256, {Scheme::ecdsa}, false, {}},
    {"EcdsaSha1P256",
     KeyKind::p256,
     CKM_ECDSA_SHA1,
     Input::data,
     {Scheme::ecdsa, "SHA1"},
     true,
     {}},
    {"EcdsaSha224P256",
     KeyKind::p256,
     CKM_ECDSA_SHA224,
     Input::data,
     {Scheme::ecdsa, "SHA224"},
     true,
     {}},
    {"EcdsaSha256P256",
     KeyKind::p256,
     CKM_ECDSA_SHA256,
     Input::data,
     {Scheme::ecdsa, "SHA256"},
     true,
     {}},
    {"EcdsaSha384P256",
     KeyKind::p256,
     CKM_ECDSA_SHA384,
     Input::data,
     {Scheme::ecdsa, "SHA384"},
     true,
     {}},
    {"EcdsaSha512P256",
     KeyKind::p256,
     CKM_ECDSA_SHA512,
     Input::data,
     {Scheme::ecdsa, "SHA512"},
     true,
     {}},
    {"EcdsaP384", KeyKind::p384, CKM_ECDSA, Input::sha384, {Scheme::ecdsa}, false, {}},
    {"EcdsaSha256P384",
     KeyKind::p384,
     CKM_ECDSA_SHA256,
     Input::data,
     {Scheme::ecdsa, "SHA256"},
     true,
     {}},
    {"EcdsaSha384P384",
     KeyKind::p384,
     CKM_ECDSA_SHA384,
     Input::data,
     {Scheme::ecdsa, "SHA384"},
     true,
     {}},
    {"Ed25519", KeyKind::ed25519, CKM_EDDSA, Input::data, {Scheme::eddsa}, false, {}},
};

void PrintTo(const SignCase& c, std::ostream* os) {
  *os << c.name;
}

class SignTest : public CryptoTest, public ::testing::WithParamInterface<SignCase> {
 protected:
  CK_MECHANISM mechanism() {
    const SignCase& c = GetParam();
    pss_ = c.pss.value_or(CK_RSA_PKCS_PSS_PARAMS{});
    if (c.pss) {
      return {c.mechanism, &pss_, sizeof pss_};
    }
    return {c.mechanism, nullptr, 0};
  }
  Bytes input(const Bytes& data) {
    switch (GetParam().input) {
      case Input::data:
        return data;
      case Input::sha256:
        return ossl::digest("SHA256", data);
      case Input::sha384:
        return ossl::digest("SHA384", data);
      case Input::digest_info:
        return ossl::sha256_digest_info(data);
    }
    return data;
  }
  CK_RSA_PKCS_PSS_PARAMS pss_{};
};

TEST_P(SignTest, SingleAndMultiPart) {
  const SignCase& c = GetParam();
  KeyPair kp = generate(c.key);
  ASSERT_NE(kp.priv, CK_INVALID_HANDLE);
  ossl::PKey key = public_key(kp.pub);
  ASSERT_TRUE(key);
  CK_MECHANISM mech = mechanism();
  const size_t size = signature_size(c.key);
  Bytes data = test_data();
  Bytes in = input(data);

  // Single part: size query and a too-small buffer keep the operation.
  ASSERT_CKR(CKR_OK, f()->C_SignInit(s_, &mech, kp.priv));
  CK_ULONG len = 0;
  ASSERT_CKR(CKR_OK, f()->C_Sign(s_, in.data(), in.size(), nullptr, &len));
  EXPECT_EQ(len, size);
  Bytes sig(size + 8, 0);
  len = size - 1;
  ASSERT_CKR(CKR_BUFFER_TOO_SMALL, f()->C_Sign(s_, in.data(), in.size(), sig.data(), &len));
  EXPECT_EQ(len, size);
  len = sig.size();
  ASSERT_CKR(CKR_OK, f()->C_Sign(s_, in.data(), in.size(), sig.data(), &len));
  ASSERT_EQ(len, size);
  sig.resize(len);
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED,
             f()->C_Sign(s_, in.data(), in.size(), sig.data(), &len));

  EXPECT_CKR(CKR_OK, verify(&mech, kp.pub, in, sig));
  EXPECT_TRUE(ossl::verify(key.get(), c.spec, in, sig)) << "OpenSSL rejects the signature";

  // Wrong signatures, wrong data, wrong lengths.
  Bytes bad = sig;
  bad[bad.size() / 2] ^= 0x01;
  EXPECT_CKR(CKR_SIGNATURE_INVALID, verify(&mech, kp.pub, in, bad));
  EXPECT_FALSE(ossl::verify(key.get(), c.spec, in, bad));
  Bytes other = in;
  other[0] ^= 0x80;
  EXPECT_CKR(CKR_SIGNATURE_INVALID, verify(&mech, kp.pub, other, sig));
  Bytes shorter(sig.begin(), sig.end() - 1);
  EXPECT_CKR(CKR_SIGNATURE_LEN_RANGE, verify(&mech, kp.pub, in, shorter));
  // The failed verification ended the operation.
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED,
             f()->C_Verify(s_, in.data(), in.size(), sig.data(), sig.size()));

  if (!c.multi_part) {
    return;
  }
  // Multi-part, in uneven pieces.
  ASSERT_CKR(CKR_OK, f()->C_SignInit(s_, &mech, kp.priv));
  ASSERT_CKR(CKR_OK, f()->C_SignUpdate(s_, data.data(), 1));
  ASSERT_CKR(CKR_OK, f()->C_SignUpdate(s_, data.data() + 1, 0));
  ASSERT_CKR(CKR_OK, f()->C_SignUpdate(s_, data.data() + 1, 600));
  ASSERT_CKR(CKR_OK, f()->C_SignUpdate(s_, data.data() + 601, data.size() - 601));
  len = 0;
  ASSERT_CKR(CKR_OK, f()->C_SignFinal(s_, nullptr, &len));
  EXPECT_EQ(len, size);
  Bytes multi(size);
  len = 3;
  ASSERT_CKR(CKR_BUFFER_TOO_SMALL, f()->C_SignFinal(s_, multi.data(), &len));
  EXPECT_EQ(len, size);
  ASSERT_CKR(CKR_OK, f()->C_SignFinal(s_, multi.data(), &len));
  ASSERT_EQ(len, size);
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_SignFinal(s_, multi.data(), &len));
  EXPECT_TRUE(ossl::verify(key.get(), c.spec, data, multi));
  if (c.spec.scheme == Scheme::rsa_pkcs1) {
    EXPECT_EQ(multi, sig);  // deterministic: the same signature either way
  }

  ASSERT_CKR(CKR_OK, f()->C_VerifyInit(s_, &mech, kp.pub));
  ASSERT_CKR(CKR_OK, f()->C_VerifyUpdate(s_, data.data(), 500));
  ASSERT_CKR(CKR_OK, f()->C_VerifyUpdate(s_, data.data() + 500, data.size() - 500));
  EXPECT_CKR(CKR_OK, f()->C_VerifyFinal(s_, multi.data(), multi.size()));
  ASSERT_CKR(CKR_OK, f()->C_VerifyInit(s_, &mech, kp.pub));
  ASSERT_CKR(CKR_OK, f()->C_VerifyUpdate(s_, data.data(), data.size() - 1));
  EXPECT_CKR(CKR_SIGNATURE_INVALID, f()->C_VerifyFinal(s_, multi.data(), multi.size()));
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, SignTest, ::testing::ValuesIn(kSignCases),
                         [](const ::testing::TestParamInfo<SignCase>& p) {
                           return std::string(p.param.name);
                         });

// ---- Keys made elsewhere ----

// A raw point (as some clients give CKA_EC_POINT) that also reads as a DER OCTET STRING: an
// uncompressed P-256 point whose X begins with 0x3f is 04 3f + 63 bytes, and an Ed25519 key
// beginning 04 1e is 04 1e + 30 bytes. Both import, as the key they are.
TEST_F(CryptoTest, ImportsRawPointsThatReadAsOctetStrings) {
  Bytes data = test_data(100);
  ossl::PKey ec = ossl::generate_ec("P-256");
  for (int i = 0; i < 20000 && ossl::ec_point(ec.get())[1] != 0x3f; ++i) {
    ec = ossl::generate_ec("P-256");
  }
  Bytes point = ossl::ec_point(ec.get());
  ASSERT_EQ(point[1], 0x3f) << "no P-256 key with X beginning 0x3f in 20,000";
  Template t;
  t.ulong(CKA_CLASS, CKO_PUBLIC_KEY).ulong(CKA_KEY_TYPE, CKK_EC);
  t.bytes(CKA_EC_PARAMS, ec_params_p256()).bytes(CKA_EC_POINT, point);
  CK_OBJECT_HANDLE pub = create(f(), s_, t);
  EXPECT_EQ(attr_bytes(f(), s_, pub, CKA_PUBLIC_KEY_INFO), ossl::spki(ec.get()));
  CK_MECHANISM mech{CKM_ECDSA_SHA256, nullptr, 0};
  EXPECT_CKR(CKR_OK,
             verify(&mech, pub, data, ossl::sign(ec.get(), {Scheme::ecdsa, "SHA256"}, data)));
  // Ed25519: 32 raw bytes beginning 04 1e (a key is any 32 bytes to import; the one here was
  // made up, so it only has to come back whole in its SubjectPublicKeyInfo).
  Bytes ed_point(32, 0x55);
  ed_point[0] = 0x04;
  ed_point[1] = 0x1e;
  Template e;
  e.ulong(CKA_CLASS, CKO_PUBLIC_KEY).ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS);
  e.bytes(CKA_EC_PARAMS, ec_params_ed25519()).bytes(CKA_EC_POINT, ed_point);
  CK_OBJECT_HANDLE ed_pub = create(f(), s_, e);
  Bytes spki = attr_bytes(f(), s_, ed_pub, CKA_PUBLIC_KEY_INFO);
  ASSERT_GE(spki.size(), ed_point.size());
  EXPECT_EQ(Bytes(spki.end() - 32, spki.end()), ed_point);
}

TEST_F(CryptoTest, VerifiesOpenSslSignaturesWithImportedPublicKeys) {
  Bytes data = test_data(300);
  {
    ossl::PKey ec = ossl::generate_ec("P-256");
    Bytes point = ossl::ec_point(ec.get());
    Bytes octet = {0x04, static_cast<uint8_t>(point.size())};
    octet.insert(octet.end(), point.begin(), point.end());
    Template t;
    t.ulong(CKA_CLASS, CKO_PUBLIC_KEY).ulong(CKA_KEY_TYPE, CKK_EC);
    t.bytes(CKA_EC_PARAMS, ec_params_p256()).bytes(CKA_EC_POINT, octet);
    CK_OBJECT_HANDLE pub = create(f(), s_, t);
    EXPECT_EQ(attr_bytes(f(), s_, pub, CKA_PUBLIC_KEY_INFO), ossl::spki(ec.get()));
    CK_MECHANISM mech{CKM_ECDSA_SHA256, nullptr, 0};
    Bytes sig = ossl::sign(ec.get(), {Scheme::ecdsa, "SHA256"}, data);
    EXPECT_CKR(CKR_OK, verify(&mech, pub, data, sig));
    sig[5] ^= 1;
    EXPECT_CKR(CKR_SIGNATURE_INVALID, verify(&mech, pub, data, sig));
  }
  {
    ossl::PKey rsa = ossl::generate_rsa(2048);
    ossl::RsaComponents c = ossl::rsa_components(rsa.get());
    Template t;
    t.ulong(CKA_CLASS, CKO_PUBLIC_KEY).ulong(CKA_KEY_TYPE, CKK_RSA);
    t.bytes(CKA_MODULUS, c.n).bytes(CKA_PUBLIC_EXPONENT, c.e);
    CK_OBJECT_HANDLE pub = create(f(), s_, t);
    EXPECT_EQ(attr_ulong(f(), s_, pub, CKA_MODULUS_BITS), 2048u);
    CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM mech{CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss};
    Bytes sig = ossl::sign(rsa.get(), {Scheme::rsa_pss, "SHA256", nullptr, "SHA256", 32}, data);
    EXPECT_CKR(CKR_OK, verify(&mech, pub, data, sig));
  }
  {
    ossl::PKey ed = ossl::generate_ed25519();
    Bytes point = ossl::ec_point(ed.get());
    Bytes octet = {0x04, 0x20};
    octet.insert(octet.end(), point.begin(), point.end());
    Template t;
    t.ulong(CKA_CLASS, CKO_PUBLIC_KEY).ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS);
    t.bytes(CKA_EC_PARAMS, ec_params_ed25519()).bytes(CKA_EC_POINT, octet);
    CK_OBJECT_HANDLE pub = create(f(), s_, t);
    CK_MECHANISM mech{CKM_EDDSA, nullptr, 0};
    Bytes sig = ossl::sign(ed.get(), {Scheme::eddsa}, data);
    EXPECT_CKR(CKR_OK, verify(&mech, pub, data, sig));
  }
}

TEST_F(CryptoTest, SignsWithImportedPrivateKeys) {
  Bytes data = test_data(300);
  {
    ossl::PKey rsa = ossl::generate_rsa(2048);
    ossl::RsaComponents c = ossl::rsa_components(rsa.get());
    Template t;
    t.ulong(CKA_CLASS, CKO_PRIVATE_KEY).ulong(CKA_KEY_TYPE, CKK_RSA);
    t.bytes(CKA_MODULUS, c.n).bytes(CKA_PUBLIC_EXPONENT, c.e).bytes(CKA_PRIVATE_EXPONENT, c.d);
    t.bytes(CKA_PRIME_1, c.p).bytes(CKA_PRIME_2, c.q).bytes(CKA_EXPONENT_1, c.dp);
    t.bytes(CKA_EXPONENT_2, c.dq).bytes(CKA_COEFFICIENT, c.qinv);
    CK_OBJECT_HANDLE priv = create(f(), s_, t);
    ASSERT_NE(priv, CK_INVALID_HANDLE);
    EXPECT_EQ(attr_bool(f(), s_, priv, CKA_LOCAL), false);
    Bytes v;
    EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, get_attribute(f(), s_, priv, CKA_PRIVATE_EXPONENT, &v));
    CK_MECHANISM mech{CKM_SHA384_RSA_PKCS, nullptr, 0};
    EXPECT_TRUE(
        ossl::verify(rsa.get(), {Scheme::rsa_pkcs1, "SHA384"}, data, sign(&mech, priv, data)));
  }
  {
    ossl::PKey ec = ossl::generate_ec("P-384");
    Template t;
    t.ulong(CKA_CLASS, CKO_PRIVATE_KEY).ulong(CKA_KEY_TYPE, CKK_EC);
    t.bytes(CKA_EC_PARAMS, ec_params_p384()).bytes(CKA_VALUE, ossl::ec_private_value(ec.get()));
    CK_OBJECT_HANDLE priv = create(f(), s_, t);
    ASSERT_NE(priv, CK_INVALID_HANDLE);
    CK_MECHANISM mech{CKM_ECDSA_SHA384, nullptr, 0};
    EXPECT_TRUE(ossl::verify(ec.get(), {Scheme::ecdsa, "SHA384"}, data, sign(&mech, priv, data)));
  }
  {
    ossl::PKey ed = ossl::generate_ed25519();
    Template t;
    t.ulong(CKA_CLASS, CKO_PRIVATE_KEY).ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS);
    t.bytes(CKA_EC_PARAMS, ec_params_ed25519()).bytes(CKA_VALUE, ossl::ec_private_value(ed.get()));
    CK_OBJECT_HANDLE priv = create(f(), s_, t);
    ASSERT_NE(priv, CK_INVALID_HANDLE);
    CK_MECHANISM mech{CKM_EDDSA, nullptr, 0};
    Bytes sig = sign(&mech, priv, data);
    EXPECT_EQ(sig, ossl::sign(ed.get(), {Scheme::eddsa}, data));  // Ed25519 is deterministic
  }
}

// ---- Usage restrictions and operation rules ----

TEST_F(CryptoTest, KeyFunctionNotPermitted) {
  Template pub, priv;
  pub.boolean(CKA_VERIFY, false);
  priv.boolean(CKA_SIGN, false);
  KeyPair kp;
  ASSERT_CKR(CKR_OK, generate(KeyKind::p256, &kp, pub, priv));
  CK_MECHANISM mech{CKM_ECDSA_SHA256, nullptr, 0};
  EXPECT_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED, f()->C_SignInit(s_, &mech, kp.priv));
  EXPECT_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED, f()->C_VerifyInit(s_, &mech, kp.pub));
  // The usage of a sensitive key only narrows (key_policy.h): CKA_SIGN stays false.
  Template allow;
  allow.boolean(CKA_SIGN, true);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY,
             f()->C_SetAttributeValue(s_, kp.priv, allow.data(), allow.size()));
  EXPECT_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED, f()->C_SignInit(s_, &mech, kp.priv));
  // The public key is no secret: its CKA_VERIFY may be turned on, and then verifying works.
  Template allow_verify;
  allow_verify.boolean(CKA_VERIFY, true);
  ASSERT_CKR(CKR_OK,
             f()->C_SetAttributeValue(s_, kp.pub, allow_verify.data(), allow_verify.size()));
  EXPECT_CKR(CKR_OK, f()->C_VerifyInit(s_, &mech, kp.pub));

  Template aes = aes_key(Bytes(32, 0x42), false, true);
  aes.boolean(CKA_ENCRYPT, false).boolean(CKA_DECRYPT, false);
  CK_OBJECT_HANDLE key = create(f(), s_, aes);
  Bytes iv(12, 1);
  CK_GCM_PARAMS gcm{iv.data(), iv.size(), 96, nullptr, 0, 128};
  CK_MECHANISM gcm_mech{CKM_AES_GCM, &gcm, sizeof gcm};
  EXPECT_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED, f()->C_EncryptInit(s_, &gcm_mech, key));
  EXPECT_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED, f()->C_DecryptInit(s_, &gcm_mech, key));
}

TEST_F(CryptoTest, MechanismAndKeyMismatches) {
  KeyPair rsa = generate(KeyKind::rsa2048);
  KeyPair ec = generate(KeyKind::p256);
  CK_MECHANISM ecdsa{CKM_ECDSA_SHA256, nullptr, 0};
  CK_MECHANISM rsa_mech{CKM_SHA256_RSA_PKCS, nullptr, 0};
  CK_MECHANISM eddsa{CKM_EDDSA, nullptr, 0};
  EXPECT_CKR(CKR_KEY_TYPE_INCONSISTENT, f()->C_SignInit(s_, &ecdsa, rsa.priv));
  EXPECT_CKR(CKR_KEY_TYPE_INCONSISTENT, f()->C_SignInit(s_, &rsa_mech, ec.priv));
  EXPECT_CKR(CKR_KEY_TYPE_INCONSISTENT, f()->C_SignInit(s_, &eddsa, ec.priv));
  // A public key cannot sign: it has no CKA_SIGN, and the wrong class.
  CK_RV rv = f()->C_SignInit(s_, &ecdsa, ec.pub);
  EXPECT_TRUE(rv == CKR_KEY_TYPE_INCONSISTENT || rv == CKR_KEY_FUNCTION_NOT_PERMITTED)
      << rv_name(rv);
  CK_MECHANISM hmac{CKM_SHA256_HMAC, nullptr, 0};
  EXPECT_CKR(CKR_KEY_TYPE_INCONSISTENT, f()->C_SignInit(s_, &hmac, ec.priv));
  CK_MECHANISM keygen{CKM_AES_KEY_GEN, nullptr, 0};
  EXPECT_CKR(CKR_MECHANISM_INVALID, f()->C_SignInit(s_, &keygen, ec.priv));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_SignInit(s_, nullptr, ec.priv));
  EXPECT_CKR(CKR_KEY_HANDLE_INVALID, f()->C_SignInit(s_, &ecdsa, 0));
  EXPECT_CKR(CKR_KEY_HANDLE_INVALID, f()->C_SignInit(s_, &ecdsa, 0x7777777));
  CK_RSA_PKCS_PSS_PARAMS mismatched{CKM_SHA384, CKG_MGF1_SHA384, 48};
  CK_MECHANISM pss{CKM_SHA256_RSA_PKCS_PSS, &mismatched, sizeof mismatched};
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, f()->C_SignInit(s_, &pss, rsa.priv));
  CK_MECHANISM pss_no_params{CKM_SHA256_RSA_PKCS_PSS, nullptr, 0};
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, f()->C_SignInit(s_, &pss_no_params, rsa.priv));
  Bytes iv(12, 1);
  CK_GCM_PARAMS gcm{iv.data(), iv.size(), 96, nullptr, 0, 128};
  CK_MECHANISM gcm_mech{CKM_AES_GCM, &gcm, sizeof gcm};
  rv = f()->C_EncryptInit(s_, &gcm_mech, ec.pub);
  EXPECT_TRUE(rv == CKR_KEY_TYPE_INCONSISTENT || rv == CKR_KEY_FUNCTION_NOT_PERMITTED)
      << rv_name(rv);
  Template enc;
  enc.boolean(CKA_ENCRYPT, true);
  KeyPair ec2;
  ASSERT_CKR(CKR_OK, generate(KeyKind::p256, &ec2, enc));
  EXPECT_CKR(CKR_KEY_TYPE_INCONSISTENT, f()->C_EncryptInit(s_, &gcm_mech, ec2.pub));
  // No operation was left active by the refusals.
  Bytes data = test_data(10);
  CK_ULONG len = 0;
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED,
             f()->C_Sign(s_, data.data(), data.size(), nullptr, &len));
}

TEST_F(CryptoTest, SignOperationRules) {
  KeyPair kp = generate(KeyKind::p256);
  CK_MECHANISM mech{CKM_ECDSA_SHA256, nullptr, 0};
  Bytes data = test_data(100);
  CK_ULONG len = 0;
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED,
             f()->C_Sign(s_, data.data(), data.size(), nullptr, &len));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_SignUpdate(s_, data.data(), data.size()));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_SignFinal(s_, nullptr, &len));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_VerifyFinal(s_, data.data(), 64));
  ASSERT_CKR(CKR_OK, f()->C_SignInit(s_, &mech, kp.priv));
  EXPECT_CKR(CKR_OPERATION_ACTIVE, f()->C_SignInit(s_, &mech, kp.priv));
  // A failing call (not CKR_BUFFER_TOO_SMALL) ends the operation.
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_Sign(s_, data.data(), data.size(), nullptr, nullptr));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED,
             f()->C_Sign(s_, data.data(), data.size(), nullptr, &len));
  // Signing and verifying can be active at once in one session.
  ASSERT_CKR(CKR_OK, f()->C_SignInit(s_, &mech, kp.priv));
  ASSERT_CKR(CKR_OK, f()->C_VerifyInit(s_, &mech, kp.pub));
  Bytes sig(64);
  len = sig.size();
  ASSERT_CKR(CKR_OK, f()->C_Sign(s_, data.data(), data.size(), sig.data(), &len));
  EXPECT_CKR(CKR_OK, f()->C_Verify(s_, data.data(), data.size(), sig.data(), sig.size()));
  // Raw PKCS#1 v1.5 input longer than the modulus allows.
  KeyPair rsa = generate(KeyKind::rsa2048);
  CK_MECHANISM raw{CKM_RSA_PKCS, nullptr, 0};
  Bytes too_long(256 - 10, 0x11);
  Bytes out(256);
  len = out.size();
  ASSERT_CKR(CKR_OK, f()->C_SignInit(s_, &raw, rsa.priv));
  EXPECT_CKR(CKR_DATA_LEN_RANGE,
             f()->C_Sign(s_, too_long.data(), too_long.size(), out.data(), &len));
  Bytes longest(256 - 11, 0x11);
  ASSERT_CKR(CKR_OK, f()->C_SignInit(s_, &raw, rsa.priv));
  len = out.size();
  EXPECT_CKR(CKR_OK, f()->C_Sign(s_, longest.data(), longest.size(), out.data(), &len));
  // The shortest, no data at all: its signature verifies (OpenSSL's own check refused it: found
  // by fuzz_mechanisms), one bit off does not.
  ASSERT_CKR(CKR_OK, f()->C_SignInit(s_, &raw, rsa.priv));
  len = out.size();
  ASSERT_CKR(CKR_OK, f()->C_Sign(s_, longest.data(), 0, out.data(), &len));
  ASSERT_EQ(len, 256u);
  ASSERT_CKR(CKR_OK, f()->C_VerifyInit(s_, &raw, rsa.pub));
  EXPECT_CKR(CKR_OK, f()->C_Verify(s_, longest.data(), 0, out.data(), len));
  ASSERT_CKR(CKR_OK, f()->C_VerifyInit(s_, &raw, rsa.pub));
  EXPECT_CKR(CKR_OK, f()->C_VerifyFinal(s_, out.data(), len));
  out[100] ^= 1;
  ASSERT_CKR(CKR_OK, f()->C_VerifyInit(s_, &raw, rsa.pub));
  EXPECT_CKR(CKR_SIGNATURE_INVALID, f()->C_Verify(s_, longest.data(), 0, out.data(), len));
}

TEST_F(CryptoTest, SessionCancelEndsOperations) {
  KeyPair kp = generate(KeyKind::p256);
  CK_MECHANISM mech{CKM_ECDSA_SHA256, nullptr, 0};
  Bytes data = test_data(32);
  CK_ULONG len = 0;
  ASSERT_CKR(CKR_OK, f()->C_SignInit(s_, &mech, kp.priv));
  ASSERT_CKR(CKR_OK, f()->C_VerifyInit(s_, &mech, kp.pub));
  ASSERT_CKR(CKR_OK, f()->C_SessionCancel(s_, CKF_SIGN));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED,
             f()->C_Sign(s_, data.data(), data.size(), nullptr, &len));
  EXPECT_CKR(CKR_OPERATION_ACTIVE, f()->C_VerifyInit(s_, &mech, kp.pub));  // not cancelled
  ASSERT_CKR(CKR_OK, f()->C_SessionCancel(s_, CKF_VERIFY));
  EXPECT_CKR(CKR_OK, f()->C_VerifyInit(s_, &mech, kp.pub));
  EXPECT_CKR(CKR_OK, f()->C_SignInit(s_, &mech, kp.priv));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_SessionCancel(s_ + 1000, CKF_SIGN));
  // A search is an operation too (PKCS#11 3.0: CKF_FIND_OBJECTS).
  ASSERT_CKR(CKR_OK, f()->C_FindObjectsInit(s_, nullptr, 0));
  ASSERT_CKR(CKR_OK, f()->C_SessionCancel(s_, CKF_SIGN));
  EXPECT_CKR(CKR_OPERATION_ACTIVE, f()->C_FindObjectsInit(s_, nullptr, 0));
  ASSERT_CKR(CKR_OK, f()->C_SessionCancel(s_, CKF_FIND_OBJECTS));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_FindObjectsFinal(s_));
  EXPECT_CKR(CKR_OK, f()->C_FindObjectsInit(s_, nullptr, 0));
}

TEST_F(CryptoTest, PrivateKeysNeedTheUser) {
  Template pub, priv;
  pub.boolean(CKA_TOKEN, true);
  priv.boolean(CKA_TOKEN, true);
  KeyPair kp;
  ASSERT_CKR(CKR_OK, generate(KeyKind::p256, &kp, pub, priv));
  CK_MECHANISM mech{CKM_ECDSA_SHA256, nullptr, 0};
  Bytes data = test_data(100);
  Bytes sig = sign(&mech, kp.priv, data);
  ASSERT_CKR(CKR_OK, f()->C_Logout(s_));
  EXPECT_CKR(CKR_KEY_HANDLE_INVALID, f()->C_SignInit(s_, &mech, kp.priv));
  EXPECT_CKR(CKR_OK, verify(&mech, kp.pub, data, sig));  // the public key is public
}

TEST_F(CryptoTest, KeyPairIsAllOrNothing) {
  // The private key cannot be stored (read-only session, token object): no public key is left.
  CK_SESSION_HANDLE ro = open_session(false);
  CK_MECHANISM mech{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  Template pub, priv;
  pub.bytes(CKA_EC_PARAMS, ec_params_p256());
  priv.boolean(CKA_TOKEN, true);
  KeyPair kp;
  EXPECT_CKR(CKR_SESSION_READ_ONLY,
             f()->C_GenerateKeyPair(ro, &mech, pub.data(), pub.size(), priv.data(), priv.size(),
                                    &kp.pub, &kp.priv));
  EXPECT_TRUE(find_all(f(), s_).empty());
  // Without the user, the (private) private key cannot be made; the public token key is not kept.
  ASSERT_CKR(CKR_OK, f()->C_Logout(s_));
  Template pub_tok, priv_tok;
  pub_tok.bytes(CKA_EC_PARAMS, ec_params_p256()).boolean(CKA_TOKEN, true);
  priv_tok.boolean(CKA_TOKEN, true);
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN,
             f()->C_GenerateKeyPair(s_, &mech, pub_tok.data(), pub_tok.size(), priv_tok.data(),
                                    priv_tok.size(), &kp.pub, &kp.priv));
  EXPECT_TRUE(find_all(f(), s_).empty());
  reinitialize();
  s_ = open_session();
  EXPECT_TRUE(find_all(f(), s_).empty());
}

// PKCS#11 3.0 section 4.9 (private key objects): with CKA_ALWAYS_AUTHENTICATE true "the user has
// to supply the PIN for each use (sign or decrypt) with the key": C_Login(CKU_CONTEXT_SPECIFIC)
// after C_SignInit; without it the operation fails with CKR_USER_NOT_LOGGED_IN.
TEST_F(CryptoTest, AlwaysAuthenticateKeysNeedAContextSpecificLogin) {
  Template priv;
  priv.boolean(CKA_ALWAYS_AUTHENTICATE, true);
  KeyPair kp;
  ASSERT_CKR(CKR_OK, generate(KeyKind::p256, &kp, {}, priv));
  EXPECT_EQ(attr_bool(f(), s_, kp.priv, CKA_ALWAYS_AUTHENTICATE), true);
  CK_MECHANISM mech{CKM_ECDSA_SHA256, nullptr, 0};
  Bytes data = test_data(64);
  Bytes sig(64);
  CK_ULONG len = sig.size();
  std::string pin = device().user_pin();
  auto context_login = [&](const std::string& p) {
    return f()->C_Login(s_, CKU_CONTEXT_SPECIFIC,
                        reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(p.data())), p.size());
  };
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, context_login(pin));  // nothing to authenticate yet

  // Each step in a fresh session, so that a wrongly accepted step leaves nothing behind.
  s_ = open_session();
  ASSERT_CKR(CKR_OK, f()->C_SignInit(s_, &mech, kp.priv));
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN, f()->C_Sign(s_, data.data(), data.size(), sig.data(), &len));

  s_ = open_session();
  ASSERT_CKR(CKR_OK, f()->C_SignInit(s_, &mech, kp.priv));
  EXPECT_CKR(CKR_PIN_INCORRECT, context_login("wrong-context-pin"));
  EXPECT_TRUE(token_flags() & CKF_USER_PIN_COUNT_LOW);

  s_ = open_session();
  ASSERT_CKR(CKR_OK, f()->C_SignInit(s_, &mech, kp.priv));
  ASSERT_CKR(CKR_OK, context_login(pin));
  len = sig.size();
  EXPECT_CKR(CKR_OK, f()->C_Sign(s_, data.data(), data.size(), sig.data(), &len));
  // The authentication was for that one use.
  ASSERT_CKR(CKR_OK, f()->C_SignInit(s_, &mech, kp.priv));
  len = sig.size();
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN, f()->C_Sign(s_, data.data(), data.size(), sig.data(), &len));
}

// PKCS#11 3.0 section 4.7 (common key attributes): CKA_ALLOWED_MECHANISMS is "a list of
// mechanisms allowed to be used with this key"; another mechanism is refused at C_SignInit.
TEST_F(CryptoTest, AllowedMechanismsAreEnforced) {
  CK_MECHANISM_TYPE allowed[] = {CKM_ECDSA_SHA256};
  Template priv;
  priv.raw(CKA_ALLOWED_MECHANISMS, allowed, sizeof allowed);
  KeyPair kp;
  ASSERT_CKR(CKR_OK, generate(KeyKind::p256, &kp, {}, priv));
  CK_MECHANISM ok{CKM_ECDSA_SHA256, nullptr, 0};
  CK_MECHANISM other{CKM_ECDSA_SHA384, nullptr, 0};
  CK_MECHANISM raw{CKM_ECDSA, nullptr, 0};
  EXPECT_EQ(attr_bytes(f(), s_, kp.priv, CKA_ALLOWED_MECHANISMS),
            Bytes(reinterpret_cast<uint8_t*>(allowed),
                  reinterpret_cast<uint8_t*>(allowed) + sizeof allowed));
  // Each attempt in a fresh session, so that a wrongly accepted one leaves nothing behind.
  EXPECT_CKR(CKR_MECHANISM_INVALID, f()->C_SignInit(open_session(), &other, kp.priv));
  EXPECT_CKR(CKR_MECHANISM_INVALID, f()->C_SignInit(open_session(), &raw, kp.priv));
  EXPECT_CKR(CKR_OK, f()->C_SignInit(open_session(), &ok, kp.priv));
}

// ---- AES-GCM ----

class GcmTest : public CryptoTest {
 protected:
  void SetUp() override {
    CryptoTest::SetUp();
    if (HasFatalFailure()) {
      return;
    }
    key_value_ = Bytes(32);
    for (size_t i = 0; i < 32; ++i)
      key_value_[i] = static_cast<uint8_t>(0xA0 + i);
    key_ = create(f(), s_, aes_key(key_value_, false, true));
    ASSERT_NE(key_, CK_INVALID_HANDLE);
    iv_ = Bytes(12, 0x5c);
    aad_ = to_bytes("associated header");
    params_ = {iv_.data(), iv_.size(), 96, aad_.data(), aad_.size(), 128};
    mech_ = {CKM_AES_GCM, &params_, sizeof params_};
  }
  Bytes encrypt(const Bytes& pt) {
    if (f()->C_EncryptInit(s_, &mech_, key_) != CKR_OK)
      return {};
    CK_ULONG len = 0;
    f()->C_Encrypt(s_, const_cast<CK_BYTE*>(pt.data()), pt.size(), nullptr, &len);
    Bytes out(len);
    if (f()->C_Encrypt(s_, const_cast<CK_BYTE*>(pt.data()), pt.size(), out.data(), &len) != CKR_OK)
      return {};
    out.resize(len);
    return out;
  }
  CK_RV decrypt(const Bytes& ct, Bytes* pt) {
    CK_RV rv = f()->C_DecryptInit(s_, &mech_, key_);
    if (rv != CKR_OK)
      return rv;
    CK_ULONG len = ct.size();
    pt->assign(ct.size(), 0);
    rv = f()->C_Decrypt(s_, const_cast<CK_BYTE*>(ct.data()), ct.size(), pt->data(), &len);
    pt->resize(rv == CKR_OK ? len : 0);
    return rv;
  }
  Bytes key_value_, iv_, aad_;
  CK_GCM_PARAMS params_{};
  CK_MECHANISM mech_{};
  CK_OBJECT_HANDLE key_ = CK_INVALID_HANDLE;
};

TEST_F(GcmTest, RoundTripMatchesOpenSsl) {
  Bytes pt = test_data(100);
  ASSERT_CKR(CKR_OK, f()->C_EncryptInit(s_, &mech_, key_));
  CK_ULONG len = 0;
  ASSERT_CKR(CKR_OK, f()->C_Encrypt(s_, pt.data(), pt.size(), nullptr, &len));
  EXPECT_EQ(len, pt.size() + 16);
  Bytes ct(len);
  CK_ULONG small = 10;
  ASSERT_CKR(CKR_BUFFER_TOO_SMALL, f()->C_Encrypt(s_, pt.data(), pt.size(), ct.data(), &small));
  EXPECT_EQ(small, pt.size() + 16);
  ASSERT_CKR(CKR_OK, f()->C_Encrypt(s_, pt.data(), pt.size(), ct.data(), &len));
  ASSERT_EQ(len, pt.size() + 16);
  EXPECT_EQ(ct, ossl::aes_gcm_encrypt(key_value_, iv_, aad_, pt, 16));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED,
             f()->C_Encrypt(s_, pt.data(), pt.size(), ct.data(), &len));

  ASSERT_CKR(CKR_OK, f()->C_DecryptInit(s_, &mech_, key_));
  CK_ULONG plen = 0;
  ASSERT_CKR(CKR_OK, f()->C_Decrypt(s_, ct.data(), ct.size(), nullptr, &plen));
  EXPECT_GE(plen, pt.size());
  Bytes back(plen);
  ASSERT_CKR(CKR_OK, f()->C_Decrypt(s_, ct.data(), ct.size(), back.data(), &plen));
  back.resize(plen);
  EXPECT_EQ(back, pt);
}

TEST_F(GcmTest, GeneratedKeyRoundTrip) {
  CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
  Template t;
  t.ulong(CKA_VALUE_LEN, 32);
  ASSERT_CKR(CKR_OK, f()->C_GenerateKey(s_, &gen, t.data(), t.size(), &key_));
  Bytes pt = test_data(1000);
  Bytes ct = encrypt(pt);
  ASSERT_EQ(ct.size(), pt.size() + 16);
  EXPECT_NE(Bytes(ct.begin(), ct.begin() + 100), Bytes(pt.begin(), pt.begin() + 100));
  Bytes back;
  ASSERT_CKR(CKR_OK, decrypt(ct, &back));
  EXPECT_EQ(back, pt);
}

TEST_F(GcmTest, TamperingIsDetected) {
  Bytes pt = test_data(64);
  Bytes ct = encrypt(pt);
  ASSERT_EQ(ct.size(), 80u);
  Bytes back;
  for (size_t pos : {size_t{0}, size_t{63}, size_t{64}, size_t{79}}) {
    Bytes bad = ct;
    bad[pos] ^= 0x01;
    EXPECT_CKR(CKR_ENCRYPTED_DATA_INVALID, decrypt(bad, &back)) << "byte " << pos;
    EXPECT_TRUE(back.empty());
  }
  // The failure ended the operation.
  CK_ULONG len = 100;
  Bytes out(100);
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED,
             f()->C_Decrypt(s_, ct.data(), ct.size(), out.data(), &len));
  // Other AAD or IV.
  Bytes other_aad = to_bytes("another header");
  params_.pAAD = other_aad.data();
  params_.ulAADLen = other_aad.size();
  EXPECT_CKR(CKR_ENCRYPTED_DATA_INVALID, decrypt(ct, &back));
  params_.pAAD = aad_.data();
  params_.ulAADLen = aad_.size();
  Bytes other_iv(12, 0x5d);
  params_.pIv = other_iv.data();
  EXPECT_CKR(CKR_ENCRYPTED_DATA_INVALID, decrypt(ct, &back));
  params_.pIv = iv_.data();
  ASSERT_CKR(CKR_OK, decrypt(ct, &back));
  EXPECT_EQ(back, pt);
  Bytes truncated(ct.begin(), ct.begin() + 10);
  EXPECT_CKR(CKR_ENCRYPTED_DATA_LEN_RANGE, decrypt(truncated, &back));
}

TEST_F(GcmTest, MultiPart) {
  Bytes pt = test_data(300);
  Bytes single = encrypt(pt);
  ASSERT_CKR(CKR_OK, f()->C_EncryptInit(s_, &mech_, key_));
  Bytes out;
  for (size_t off : {size_t{0}, size_t{100}, size_t{250}}) {
    size_t n = off == 250 ? 50 : (off == 0 ? 100 : 150);
    Bytes part(pt.size() + 16);
    CK_ULONG len = part.size();
    ASSERT_CKR(CKR_OK, f()->C_EncryptUpdate(s_, pt.data() + off, n, part.data(), &len));
    out.insert(out.end(), part.begin(), part.begin() + len);
  }
  CK_ULONG len = 0;
  ASSERT_CKR(CKR_OK, f()->C_EncryptFinal(s_, nullptr, &len));
  Bytes last(len);
  ASSERT_CKR(CKR_OK, f()->C_EncryptFinal(s_, last.data(), &len));
  out.insert(out.end(), last.begin(), last.begin() + len);
  EXPECT_EQ(out, single);

  ASSERT_CKR(CKR_OK, f()->C_DecryptInit(s_, &mech_, key_));
  Bytes back;
  for (size_t off = 0; off < single.size(); off += 64) {
    size_t n = std::min<size_t>(64, single.size() - off);
    Bytes part(single.size());
    CK_ULONG plen = part.size();
    ASSERT_CKR(CKR_OK, f()->C_DecryptUpdate(s_, single.data() + off, n, part.data(), &plen));
    back.insert(back.end(), part.begin(), part.begin() + plen);
  }
  CK_ULONG plen = 0;
  ASSERT_CKR(CKR_OK, f()->C_DecryptFinal(s_, nullptr, &plen));
  EXPECT_EQ(plen + back.size(), pt.size());
  Bytes rest(plen);
  CK_ULONG tiny = 1;
  ASSERT_CKR(CKR_BUFFER_TOO_SMALL,
             f()->C_DecryptFinal(s_, rest.data(), &tiny));  // keeps the operation
  EXPECT_EQ(tiny, plen);
  ASSERT_CKR(CKR_OK, f()->C_DecryptFinal(s_, rest.data(), &plen));
  back.insert(back.end(), rest.begin(), rest.begin() + plen);
  EXPECT_EQ(back, pt);
}

TEST_F(GcmTest, ShorterTagAndBadParameters) {
  params_.ulTagBits = 96;
  Bytes pt = test_data(40);
  Bytes ct = encrypt(pt);
  ASSERT_EQ(ct.size(), pt.size() + 12);
  EXPECT_EQ(ct, ossl::aes_gcm_encrypt(key_value_, iv_, aad_, pt, 12));
  Bytes back;
  ASSERT_CKR(CKR_OK, decrypt(ct, &back));
  EXPECT_EQ(back, pt);

  params_.ulTagBits = 136;
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, f()->C_EncryptInit(s_, &mech_, key_));
  params_.ulTagBits = 128;
  params_.ulIvLen = 0;
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, f()->C_EncryptInit(s_, &mech_, key_));
  params_.ulIvLen = 12;
  CK_MECHANISM no_params{CKM_AES_GCM, nullptr, 0};
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, f()->C_EncryptInit(s_, &no_params, key_));
  CK_MECHANISM short_params{CKM_AES_GCM, &params_, 8};
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, f()->C_EncryptInit(s_, &short_params, key_));
  ASSERT_CKR(CKR_OK, f()->C_EncryptInit(s_, &mech_, key_));
  EXPECT_CKR(CKR_OPERATION_ACTIVE, f()->C_EncryptInit(s_, &mech_, key_));
}

// ---- Random numbers and mechanisms ----

TEST_F(CryptoTest, GenerateRandom) {
  Bytes a(64, 0), b(64, 0);
  ASSERT_CKR(CKR_OK, f()->C_GenerateRandom(s_, a.data(), a.size()));
  ASSERT_CKR(CKR_OK, f()->C_GenerateRandom(s_, b.data(), b.size()));
  EXPECT_NE(a, b);
  EXPECT_NE(a, Bytes(64, 0));
  Bytes big(100000, 0);
  ASSERT_CKR(CKR_OK, f()->C_GenerateRandom(s_, big.data(), big.size()));
  EXPECT_LT(std::count(big.begin(), big.end(), 0), 1000);  // ~390 expected
  EXPECT_CKR(CKR_OK, f()->C_GenerateRandom(s_, a.data(), 0));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_GenerateRandom(s_, nullptr, 16));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, f()->C_GenerateRandom(s_ + 1000, a.data(), 16));
  CK_RV seed = f()->C_SeedRandom(s_, a.data(), a.size());
  EXPECT_TRUE(seed == CKR_OK || seed == CKR_RANDOM_SEED_NOT_SUPPORTED) << rv_name(seed);
  // Random numbers need no login.
  ASSERT_CKR(CKR_OK, f()->C_Logout(s_));
  EXPECT_CKR(CKR_OK, f()->C_GenerateRandom(s_, a.data(), a.size()));
}

TEST_F(CryptoTest, MechanismListAndInfo) {
  CK_ULONG count = 0;
  ASSERT_CKR(CKR_OK, f()->C_GetMechanismList(0, nullptr, &count));
  ASSERT_GT(count, 10u);
  std::vector<CK_MECHANISM_TYPE> list(count);
  CK_ULONG small = 2;
  EXPECT_CKR(CKR_BUFFER_TOO_SMALL, f()->C_GetMechanismList(0, list.data(), &small));
  EXPECT_EQ(small, count);
  ASSERT_CKR(CKR_OK, f()->C_GetMechanismList(0, list.data(), &count));
  for (CK_MECHANISM_TYPE m :
       {CKM_AES_KEY_GEN, CKM_EC_KEY_PAIR_GEN, CKM_EC_EDWARDS_KEY_PAIR_GEN,
        CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_RSA_PKCS, CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS_PSS,
        CKM_SHA256_RSA_PKCS_PSS, CKM_ECDSA, CKM_ECDSA_SHA256, CKM_EDDSA, CKM_AES_GCM}) {
    EXPECT_NE(std::find(list.begin(), list.end(), m), list.end())
        << "mechanism 0x" << std::hex << m;
  }
  CK_MECHANISM_INFO info{};
  ASSERT_CKR(CKR_OK, f()->C_GetMechanismInfo(0, CKM_AES_GCM, &info));
  EXPECT_EQ(info.flags & (CKF_ENCRYPT | CKF_DECRYPT), CKF_ENCRYPT | CKF_DECRYPT);
  ASSERT_CKR(CKR_OK, f()->C_GetMechanismInfo(0, CKM_RSA_PKCS_KEY_PAIR_GEN, &info));
  EXPECT_TRUE(info.flags & CKF_GENERATE_KEY_PAIR);
  EXPECT_EQ(info.ulMinKeySize, 2048u);
  EXPECT_EQ(info.ulMaxKeySize, 4096u);
  ASSERT_CKR(CKR_OK, f()->C_GetMechanismInfo(0, CKM_ECDSA_SHA256, &info));
  EXPECT_EQ(info.flags & (CKF_SIGN | CKF_VERIFY), CKF_SIGN | CKF_VERIFY);
  ASSERT_CKR(CKR_OK, f()->C_GetMechanismInfo(0, CKM_AES_KEY_GEN, &info));
  EXPECT_TRUE(info.flags & CKF_GENERATE);
  EXPECT_CKR(CKR_MECHANISM_INVALID, f()->C_GetMechanismInfo(0, CKM_RC4, &info));
  // A modern device does not list Triple DES; it still decrypts with existing keys (legacy use).
  EXPECT_EQ(std::find(list.begin(), list.end(), CKM_DES3_CBC), list.end());
  ASSERT_CKR(CKR_OK, f()->C_GetMechanismInfo(0, CKM_DES3_CBC, &info));
  EXPECT_EQ(info.flags, CKF_HW | CKF_DECRYPT);
  EXPECT_CKR(CKR_MECHANISM_INVALID, f()->C_GetMechanismInfo(0, CKM_DES_CBC, &info));
  EXPECT_CKR(CKR_SLOT_ID_INVALID, f()->C_GetMechanismInfo(9, CKM_AES_GCM, &info));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_GetMechanismInfo(0, CKM_AES_GCM, nullptr));
}

TEST_F(CryptoTest, ParallelSigningInManySessions) {
  Template pub, priv;
  pub.boolean(CKA_TOKEN, true);
  priv.boolean(CKA_TOKEN, true);
  KeyPair kp;
  ASSERT_CKR(CKR_OK, generate(KeyKind::p256, &kp, pub, priv));
  ossl::PKey key = public_key(kp.pub);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      CK_SESSION_HANDLE s;
      if (f()->C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &s) != CKR_OK) {
        ++bad;
        return;
      }
      CK_MECHANISM mech{CKM_ECDSA_SHA256, nullptr, 0};
      for (int i = 0; i < 25; ++i) {
        Bytes data = test_data(50 + t * 100 + i);
        Bytes sig(64);
        CK_ULONG len = sig.size();
        if (f()->C_SignInit(s, &mech, kp.priv) != CKR_OK ||
            f()->C_Sign(s, data.data(), data.size(), sig.data(), &len) != CKR_OK ||
            !ossl::verify(key.get(), {Scheme::ecdsa, "SHA256"}, data, sig)) {
          ++bad;
        }
      }
      f()->C_CloseSession(s);
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace twinhsm::test

namespace twinhsm::test {
namespace {

// PKCS#11 3.0 5.6 (C_Logout): after logout, operations on private keys cannot go on — in any
// session of the application, not only the one that logged out.
TEST_F(CryptoTest, LogoutEndsOperationsOnPrivateKeysInEverySession) {
  KeyPair kp;
  Template on_token;
  on_token.boolean(CKA_TOKEN, true);  // a private session key would die with the logout
  ASSERT_CKR(CKR_OK, generate(KeyKind::p256, &kp, {}, on_token));
  CK_MECHANISM mech{CKM_ECDSA_SHA256, nullptr, 0};
  CK_SESSION_HANDLE other = open_session();
  ASSERT_CKR(CKR_OK, f()->C_SignInit(other, &mech, kp.priv));
  Bytes data = test_data(32);
  ASSERT_CKR(CKR_OK, f()->C_SignUpdate(other, data.data(), data.size()));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s_));
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN, f()->C_SignUpdate(other, data.data(), data.size()));
  Bytes sig(64);
  CK_ULONG len = sig.size();
  // The operation has ended: a new one may start (and needs the login again).
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_SignFinal(other, sig.data(), &len));
  ASSERT_CKR(CKR_OK, login_user(s_));
  ASSERT_CKR(CKR_OK, f()->C_SignInit(other, &mech, kp.priv));
  len = sig.size();
  EXPECT_CKR(CKR_OK, f()->C_Sign(other, data.data(), data.size(), sig.data(), &len));
}

}  // namespace
}  // namespace twinhsm::test

namespace twinhsm::test {
namespace {

// After a size query of the single-part function (NULL output), the operation is single-part:
// a multi-part call gets CKR_OPERATION_ACTIVE (and ends it, as every error but
// CKR_BUFFER_TOO_SMALL does); the single-part function continues it. The same for encryption,
// decryption, signing and digesting, and the other way round.
TEST_F(CryptoTest, ASizeQueryLeavesASinglePartOperation) {
  Bytes data = to_bytes("sixteen bytes!!!"), out(512);
  CK_ULONG len = 0;
  CK_OBJECT_HANDLE key = create(f(), s_, aes_key(Bytes(32, 0x42), false, true));
  CK_MECHANISM ecb{CKM_AES_ECB, nullptr, 0};
  auto in = const_cast<CK_BYTE*>(data.data());
  KeyPair kp = generate(KeyKind::p256);
  CK_MECHANISM ecdsa{CKM_ECDSA_SHA256, nullptr, 0};
  CK_MECHANISM sha256{CKM_SHA256, nullptr, 0};

  struct Family {
    const char* name;
    std::function<CK_RV()> init, size_query, single;
    std::vector<std::function<CK_RV()>> multi;
  };
  std::vector<Family> families = {
      {"encrypt",
       [&] { return f()->C_EncryptInit(s_, &ecb, key); },
       [&] { return f()->C_Encrypt(s_, in, data.size(), nullptr, &len); },
       [&] {
         len = out.size();
         return f()->C_Encrypt(s_, in, data.size(), out.data(), &len);
       },
       {[&] { return f()->C_EncryptUpdate(s_, in, data.size(), out.data(), &len); },
        [&] { return f()->C_EncryptFinal(s_, out.data(), &len); }}},
      {"decrypt",
       [&] { return f()->C_DecryptInit(s_, &ecb, key); },
       [&] { return f()->C_Decrypt(s_, in, data.size(), nullptr, &len); },
       [&] {
         len = out.size();
         return f()->C_Decrypt(s_, in, data.size(), out.data(), &len);
       },
       {[&] { return f()->C_DecryptUpdate(s_, in, data.size(), out.data(), &len); },
        [&] { return f()->C_DecryptFinal(s_, out.data(), &len); }}},
      {"sign",
       [&] { return f()->C_SignInit(s_, &ecdsa, kp.priv); },
       [&] { return f()->C_Sign(s_, in, data.size(), nullptr, &len); },
       [&] {
         len = out.size();
         return f()->C_Sign(s_, in, data.size(), out.data(), &len);
       },
       {[&] { return f()->C_SignUpdate(s_, in, data.size()); },
        [&] { return f()->C_SignFinal(s_, out.data(), &len); }}},
      {"digest",
       [&] { return f()->C_DigestInit(s_, &sha256); },
       [&] { return f()->C_Digest(s_, in, data.size(), nullptr, &len); },
       [&] {
         len = out.size();
         return f()->C_Digest(s_, in, data.size(), out.data(), &len);
       },
       {[&] { return f()->C_DigestUpdate(s_, in, data.size()); },
        [&] { return f()->C_DigestKey(s_, key); },
        [&] { return f()->C_DigestFinal(s_, out.data(), &len); }}},
  };
  for (const Family& fam : families) {
    SCOPED_TRACE(fam.name);
    for (const auto& multi : fam.multi) {
      ASSERT_CKR(CKR_OK, fam.init());
      ASSERT_CKR(CKR_OK, fam.size_query());
      EXPECT_CKR(CKR_OPERATION_ACTIVE, multi());
      EXPECT_CKR(CKR_OK, fam.init()) << "the refused call did not end the operation";
      ASSERT_CKR(CKR_OK, fam.size_query());
      EXPECT_CKR(CKR_OK, fam.single()) << "the single-part function continues it";
    }
    // The other way round: after an update, the single-part function is refused.
    ASSERT_CKR(CKR_OK, fam.init());
    ASSERT_CKR(CKR_OK, fam.multi[0]());
    EXPECT_CKR(CKR_OPERATION_ACTIVE, fam.single());
    EXPECT_CKR(CKR_OK, fam.init()) << "the refused call did not end the operation";
    f()->C_SessionCancel(s_, CKF_ENCRYPT | CKF_DECRYPT | CKF_SIGN | CKF_DIGEST);
  }
}

}  // namespace
}  // namespace twinhsm::test
