// Issue 13.5: CKA_PUBLIC_KEY_INFO of an RSA key allowed only RSA-PSS mechanisms is an RSASSA-PSS
// SubjectPublicKeyInfo (RFC 4055: id-RSASSA-PSS, parameters absent); every other RSA key keeps
// rsaEncryption. Through the module: generation (either half's list), C_CreateObject,
// C_SetAttributeValue and C_CopyObject changing the list, and the lookup of a public key's private
// half (C_WrapKey under a public key) across halves of different forms.
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <cstring>

#include "fixture.h"
#include "ossl.h"

namespace twinhsm::test {
namespace {

struct KeyPair {
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
};

Bytes mechanisms(std::initializer_list<CK_MECHANISM_TYPE> list) {
  Bytes out(list.size() * sizeof(CK_MECHANISM_TYPE));
  if (list.size() != 0) {
    std::memcpy(out.data(), list.begin(), out.size());
  }
  return out;
}

const Bytes kPssOnly = mechanisms({CKM_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS,
                                   CKM_SHA384_RSA_PKCS_PSS, CKM_SHA3_256_RSA_PKCS_PSS});
const Bytes kMixed = mechanisms({CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS});

// Algorithm is what a SubjectPublicKeyInfo's AlgorithmIdentifier says: the OID's NID, and whether
// parameters are present (rsaEncryption: NULL; id-RSASSA-PSS here: absent).
struct Algorithm {
  int nid = NID_undef;
  bool has_parameters = false;
};

Algorithm algorithm_of(const Bytes& spki) {
  const unsigned char* p = spki.data();
  std::unique_ptr<X509_PUBKEY, decltype(&X509_PUBKEY_free)> pub(
      d2i_X509_PUBKEY(nullptr, &p, static_cast<long>(spki.size())), X509_PUBKEY_free);
  if (!pub || p != spki.data() + spki.size()) {
    ADD_FAILURE() << "not a SubjectPublicKeyInfo: " << to_hex(spki);
    return {};
  }
  X509_ALGOR* alg = nullptr;
  if (X509_PUBKEY_get0_param(nullptr, nullptr, nullptr, &alg, pub.get()) != 1) {
    ADD_FAILURE() << "no AlgorithmIdentifier";
    return {};
  }
  const ASN1_OBJECT* oid = nullptr;
  int ptype = V_ASN1_UNDEF;
  X509_ALGOR_get0(&oid, &ptype, nullptr, alg);
  return {OBJ_obj2nid(oid), ptype != V_ASN1_UNDEF};
}

class PssSpkiTest : public LoggedInTest {
 protected:
  // generate makes an RSA key pair; pub_allowed / priv_allowed, when given, are the halves'
  // CKA_ALLOWED_MECHANISMS.
  KeyPair generate(const Bytes* pub_allowed, const Bytes* priv_allowed, Template pub = {},
                   Template priv = {}, CK_ULONG bits = 2048) {
    CK_MECHANISM mech{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    pub.ulong(CKA_MODULUS_BITS, bits).bytes(CKA_PUBLIC_EXPONENT, {1, 0, 1});
    if (pub_allowed) {
      pub.bytes(CKA_ALLOWED_MECHANISMS, *pub_allowed);
    }
    if (priv_allowed) {
      priv.bytes(CKA_ALLOWED_MECHANISMS, *priv_allowed);
    }
    KeyPair kp;
    EXPECT_CKR(CKR_OK, f()->C_GenerateKeyPair(s_, &mech, pub.data(), pub.size(), priv.data(),
                                              priv.size(), &kp.pub, &kp.priv));
    return kp;
  }

  // spki reads CKA_PUBLIC_KEY_INFO with the two-call convention, spelled out: the length first,
  // then the value into a buffer of exactly that length.
  Bytes spki(CK_OBJECT_HANDLE h) {
    CK_ATTRIBUTE a{CKA_PUBLIC_KEY_INFO, nullptr, 0};
    EXPECT_CKR(CKR_OK, f()->C_GetAttributeValue(s_, h, &a, 1));
    EXPECT_NE(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    EXPECT_GT(a.ulValueLen, 0u);
    if (a.ulValueLen == 0 || a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
      return {};
    }
    Bytes out(a.ulValueLen);
    a.pValue = out.data();
    EXPECT_CKR(CKR_OK, f()->C_GetAttributeValue(s_, h, &a, 1));
    out.resize(a.ulValueLen);
    return out;
  }

  void set_allowed(CK_OBJECT_HANDLE h, const Bytes& allowed, CK_RV expected = CKR_OK) {
    CK_ATTRIBUTE a{CKA_ALLOWED_MECHANISMS, const_cast<uint8_t*>(allowed.data()),
                   static_cast<CK_ULONG>(allowed.size())};
    EXPECT_CKR(expected, f()->C_SetAttributeValue(s_, h, &a, 1));
  }

  Bytes sign_sha256_pss(CK_OBJECT_HANDLE key, const Bytes& data) {
    CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM mech{CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss};
    EXPECT_CKR(CKR_OK, f()->C_SignInit(s_, &mech, key));
    CK_ULONG len = 0;
    EXPECT_CKR(CKR_OK,
               f()->C_Sign(s_, const_cast<uint8_t*>(data.data()), data.size(), nullptr, &len));
    Bytes sig(len);
    EXPECT_CKR(CKR_OK,
               f()->C_Sign(s_, const_cast<uint8_t*>(data.data()), data.size(), sig.data(), &len));
    sig.resize(len);
    return sig;
  }

  // expect_rsa_encryption: the SPKI is rsaEncryption (NULL parameters), OpenSSL reads it as an
  // RSA key, and it is the SPKI OpenSSL itself gives that key.
  void expect_rsa_encryption(const Bytes& der) {
    Algorithm alg = algorithm_of(der);
    EXPECT_EQ(alg.nid, NID_rsaEncryption);
    EXPECT_TRUE(alg.has_parameters);
    ossl::PKey key = ossl::pkey_from_spki(der);
    ASSERT_TRUE(key);
    EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "RSA"));
    EXPECT_FALSE(EVP_PKEY_is_a(key.get(), "RSA-PSS"));
  }
  // expect_rsassa_pss: the SPKI is id-RSASSA-PSS without parameters, OpenSSL reads it as an
  // RSA-PSS key of the object's modulus.
  ossl::PKey expect_rsassa_pss(const Bytes& der, CK_OBJECT_HANDLE h) {
    Algorithm alg = algorithm_of(der);
    EXPECT_EQ(alg.nid, NID_rsassaPss);
    EXPECT_FALSE(alg.has_parameters);
    ossl::PKey key = ossl::pkey_from_spki(der);
    EXPECT_TRUE(key);
    if (!key) {
      return key;
    }
    EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "RSA-PSS"));
    BIGNUM* bn = nullptr;
    EXPECT_EQ(EVP_PKEY_get_bn_param(key.get(), "n", &bn), 1);
    Bytes n(BN_num_bytes(bn));
    BN_bn2bin(bn, n.data());
    BN_free(bn);
    EXPECT_EQ(n, attr_bytes(f(), s_, h, CKA_MODULUS));
    return key;
  }
};

TEST_F(PssSpkiTest, PssOnlyPairHasRsassaPssSpkiThatVerifiesItsSignatures) {
  KeyPair kp = generate(&kPssOnly, &kPssOnly);
  Bytes pub_spki = spki(kp.pub), priv_spki = spki(kp.priv);
  EXPECT_EQ(pub_spki, priv_spki);
  // The OID's DER bytes, as a client that only matches bytes sees them: 1.2.840.113549.1.1.10.
  const Bytes oid = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a};
  EXPECT_TRUE(contains(
      std::string_view(reinterpret_cast<const char*>(pub_spki.data()), pub_spki.size()), oid));
  ossl::PKey key = expect_rsassa_pss(pub_spki, kp.pub);
  ASSERT_TRUE(key);
  expect_rsassa_pss(priv_spki, kp.priv);

  Bytes data = to_bytes("signed by a key that may only make RSA-PSS signatures");
  Bytes sig = sign_sha256_pss(kp.priv, data);
  ossl::VerifySpec spec{ossl::Scheme::rsa_pss, "SHA256", nullptr, "SHA256", 32};
  EXPECT_TRUE(ossl::verify(key.get(), spec, data, sig));
  data.back() ^= 1;
  EXPECT_FALSE(ossl::verify(key.get(), spec, data, sig));
  // The key still may not make PKCS#1 v1.5 signatures.
  CK_MECHANISM pkcs1{CKM_SHA256_RSA_PKCS, nullptr, 0};
  EXPECT_CKR(CKR_MECHANISM_INVALID, f()->C_SignInit(s_, &pkcs1, kp.priv));
}

TEST_F(PssSpkiTest, EachPssMechanismAloneMakesRsassaPss) {
  for (CK_MECHANISM_TYPE m :
       {CKM_RSA_PKCS_PSS, CKM_SHA1_RSA_PKCS_PSS, CKM_SHA224_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA384_RSA_PKCS_PSS, CKM_SHA512_RSA_PKCS_PSS, CKM_SHA3_224_RSA_PKCS_PSS,
        CKM_SHA3_256_RSA_PKCS_PSS, CKM_SHA3_384_RSA_PKCS_PSS, CKM_SHA3_512_RSA_PKCS_PSS}) {
    SCOPED_TRACE(m);
    Bytes one = mechanisms({m});
    KeyPair kp = generate(&one, &one);
    EXPECT_EQ(algorithm_of(spki(kp.priv)).nid, NID_rsassaPss);
    EXPECT_EQ(algorithm_of(spki(kp.pub)).nid, NID_rsassaPss);
  }
}

// pkcs11-provider restricts only the private half of an RSA-PSS key pair it generates: the pair is
// then a PSS key pair, and its public key (no list of its own) shows the same SPKI.
TEST_F(PssSpkiTest, PrivateHalfListMakesThePairRsassaPss) {
  KeyPair kp = generate(nullptr, &kPssOnly);
  Bytes pub_spki = spki(kp.pub);
  EXPECT_EQ(pub_spki, spki(kp.priv));
  expect_rsassa_pss(pub_spki, kp.pub);
  // A public key restricted only to PSS, whose private half may sign anything: the public key
  // says PSS, the private key rsaEncryption (each half follows its own list).
  KeyPair other = generate(&kPssOnly, nullptr);
  expect_rsassa_pss(spki(other.pub), other.pub);
  expect_rsa_encryption(spki(other.priv));
}

TEST_F(PssSpkiTest, MixedEmptyOrNoListKeepsRsaEncryption) {
  Bytes empty;
  KeyPair mixed = generate(&kMixed, &kMixed);
  KeyPair none = generate(nullptr, nullptr);
  KeyPair cleared = generate(&empty, &empty);
  Bytes oaep_and_pss = mechanisms({CKM_RSA_PKCS_OAEP, CKM_SHA256_RSA_PKCS_PSS});
  KeyPair halves = generate(&oaep_and_pss, &kMixed);
  for (const KeyPair& kp : {mixed, none, cleared, halves}) {
    Bytes pub_spki = spki(kp.pub);
    expect_rsa_encryption(pub_spki);
    EXPECT_EQ(pub_spki, spki(kp.priv));
  }
  // And OpenSSL's own SPKI of the key is what the module gives.
  ossl::PKey key = ossl::pkey_from_spki(spki(none.pub));
  ASSERT_TRUE(key);
  EXPECT_EQ(ossl::spki(key.get()), spki(none.priv));
}

TEST_F(PssSpkiTest, CreatedKeysFollowTheirList) {
  ossl::PKey key = ossl::generate_rsa(2048);
  ossl::RsaComponents c = ossl::rsa_components(key.get());
  auto public_key = [&](const Bytes* allowed) {
    Template t;
    t.ulong(CKA_CLASS, CKO_PUBLIC_KEY)
        .ulong(CKA_KEY_TYPE, CKK_RSA)
        .bytes(CKA_MODULUS, c.n)
        .bytes(CKA_PUBLIC_EXPONENT, c.e);
    if (allowed) {
      t.bytes(CKA_ALLOWED_MECHANISMS, *allowed);
    }
    return create(f(), s_, t);
  };
  auto private_key = [&](const Bytes* allowed) {
    Template t;
    t.ulong(CKA_CLASS, CKO_PRIVATE_KEY)
        .ulong(CKA_KEY_TYPE, CKK_RSA)
        .bytes(CKA_MODULUS, c.n)
        .bytes(CKA_PUBLIC_EXPONENT, c.e)
        .bytes(CKA_PRIVATE_EXPONENT, c.d)
        .bytes(CKA_PRIME_1, c.p)
        .bytes(CKA_PRIME_2, c.q)
        .bytes(CKA_EXPONENT_1, c.dp)
        .bytes(CKA_EXPONENT_2, c.dq)
        .bytes(CKA_COEFFICIENT, c.qinv);
    if (allowed) {
      t.bytes(CKA_ALLOWED_MECHANISMS, *allowed);
    }
    return create(f(), s_, t);
  };
  CK_OBJECT_HANDLE pss_pub = public_key(&kPssOnly), pss_priv = private_key(&kPssOnly);
  expect_rsassa_pss(spki(pss_pub), pss_pub);
  ossl::PKey from_priv = expect_rsassa_pss(spki(pss_priv), pss_priv);
  ASSERT_TRUE(from_priv);
  Bytes data = to_bytes("imported key, PSS only");
  EXPECT_TRUE(ossl::verify(from_priv.get(),
                           {ossl::Scheme::rsa_pss, "SHA256", nullptr, "SHA256", 32}, data,
                           sign_sha256_pss(pss_priv, data)));
  for (CK_OBJECT_HANDLE h :
       {public_key(nullptr), private_key(nullptr), public_key(&kMixed), private_key(&kMixed)}) {
    Bytes der = spki(h);
    expect_rsa_encryption(der);
    EXPECT_EQ(der, ossl::spki(key.get()));
  }
}

// CKA_ALLOWED_MECHANISMS may change (a hidden key's only narrows, key_policy.h): the SPKI follows.
TEST_F(PssSpkiTest, ChangedListChangesTheSpki) {
  KeyPair kp = generate(&kMixed, &kMixed);
  expect_rsa_encryption(spki(kp.priv));
  // The private key (sensitive) narrows to PSS only: its SPKI becomes RSASSA-PSS.
  set_allowed(kp.priv, mechanisms({CKM_SHA256_RSA_PKCS_PSS}));
  expect_rsassa_pss(spki(kp.priv), kp.priv);
  // It cannot widen again (the key policy), and its SPKI stays.
  set_allowed(kp.priv, kMixed, CKR_ATTRIBUTE_READ_ONLY);
  EXPECT_EQ(algorithm_of(spki(kp.priv)).nid, NID_rsassaPss);
  // The public key goes to PSS only and back: its SPKI follows both ways.
  expect_rsa_encryption(spki(kp.pub));
  set_allowed(kp.pub, kPssOnly);
  Bytes pss_spki = spki(kp.pub);
  expect_rsassa_pss(pss_spki, kp.pub);
  EXPECT_EQ(pss_spki, spki(kp.priv));
  set_allowed(kp.pub, kMixed);
  expect_rsa_encryption(spki(kp.pub));
  Bytes none;
  set_allowed(kp.pub, kPssOnly);
  set_allowed(kp.pub, none);
  expect_rsa_encryption(spki(kp.pub));
  // Another attribute changed: the SPKI is left as it is.
  CK_ATTRIBUTE label{CKA_LABEL, const_cast<char*>("renamed"), 7};
  EXPECT_CKR(CKR_OK, f()->C_SetAttributeValue(s_, kp.priv, &label, 1));
  EXPECT_EQ(spki(kp.priv), pss_spki);
  // A copy given a new list.
  Template narrowed;
  narrowed.bytes(CKA_ALLOWED_MECHANISMS, kPssOnly);
  CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
  ASSERT_CKR(CKR_OK, f()->C_CopyObject(s_, kp.pub, narrowed.data(), narrowed.size(), &copy));
  expect_rsassa_pss(spki(copy), copy);
}

// A public key wraps a sensitive key only when its private half is found (generated here, always
// sensitive): found by SPKI whichever form each half has.
TEST_F(PssSpkiTest, PrivateHalfOfAnotherFormIsFoundForWrapping) {
  Bytes oaep = mechanisms({CKM_RSA_PKCS_OAEP});
  Bytes pss = mechanisms({CKM_SHA256_RSA_PKCS_PSS});
  Template pub, priv;
  pub.boolean(CKA_WRAP, true).boolean(CKA_ENCRYPT, false);
  priv.boolean(CKA_UNWRAP, false).boolean(CKA_DECRYPT, false);
  KeyPair kp = generate(&oaep, &pss, pub, priv, 3072);  // 128 bits: enough for AES-128
  expect_rsa_encryption(spki(kp.pub));
  expect_rsassa_pss(spki(kp.priv), kp.priv);

  Template aes;
  aes.ulong(CKA_CLASS, CKO_SECRET_KEY)
      .ulong(CKA_KEY_TYPE, CKK_AES)
      .ulong(CKA_VALUE_LEN, 16)
      .boolean(CKA_SENSITIVE, true)
      .boolean(CKA_EXTRACTABLE, true)
      .boolean(CKA_ENCRYPT, true);
  CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE secret = CK_INVALID_HANDLE;
  ASSERT_CKR(CKR_OK, f()->C_GenerateKey(s_, &gen, aes.data(), aes.size(), &secret));
  CK_RSA_PKCS_OAEP_PARAMS params{CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, nullptr, 0};
  CK_MECHANISM wrap{CKM_RSA_PKCS_OAEP, &params, sizeof params};
  CK_ULONG len = 0;
  EXPECT_CKR(CKR_OK, f()->C_WrapKey(s_, &wrap, kp.pub, secret, nullptr, &len));
  EXPECT_EQ(len, 384u);
}

}  // namespace
}  // namespace twinhsm::test
