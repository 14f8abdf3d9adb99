// The device's algorithm policy through the module: what a modern and a legacy device list and
// let keys do, the legacy use a modern device keeps for keys made while it was legacy, raw RSA's
// rule, and the encryption-derivations' rule of the key policy.
#include <openssl/evp.h>

#include "mechanism_fixture.h"

namespace twinhsm::test {
namespace {

class AlgorithmPolicyTest : public MechanismFixture {
 protected:
  std::vector<CK_MECHANISM_TYPE> mechanism_list() {
    CK_ULONG count = 0;
    EXPECT_CKR(CKR_OK, f()->C_GetMechanismList(0, nullptr, &count));
    std::vector<CK_MECHANISM_TYPE> list(count);
    EXPECT_CKR(CKR_OK, f()->C_GetMechanismList(0, list.data(), &count));
    return list;
  }
  bool listed(CK_MECHANISM_TYPE m) {
    auto list = mechanism_list();
    return std::find(list.begin(), list.end(), m) != list.end();
  }
  CK_MECHANISM_INFO info(CK_MECHANISM_TYPE m, CK_RV expect = CKR_OK) {
    CK_MECHANISM_INFO i{};
    EXPECT_CKR(expect, f()->C_GetMechanismInfo(0, m, &i));
    return i;
  }
  // set_algorithms runs `twinhsm device set-algorithms` on the device, as its SO would.
  void set_algorithms(const std::string& policy) {
    CommandResult r = run_cli({"device", "set-algorithms", "--device", device().dir().string(),
                               policy, "--so-pin", device().so_pin()});
    ASSERT_TRUE(r.ok()) << r.describe();
  }
  CK_RV generate_rsa(CK_ULONG bits, KeyPair* kp, Template priv = {}) {
    CK_MECHANISM mech{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    Template pub;
    pub.ulong(CKA_MODULUS_BITS, bits);
    return f()->C_GenerateKeyPair(s_, &mech, pub.data(), pub.size(), priv.data(), priv.size(),
                                  &kp->pub, &kp->priv);
  }
  CK_RV generate_secret(CK_MECHANISM_TYPE m, CK_OBJECT_HANDLE* h, Template t = {}) {
    CK_MECHANISM mech{m, nullptr, 0};
    return f()->C_GenerateKey(s_, &mech, t.data(), t.size(), h);
  }
};

class LegacyDeviceTest : public AlgorithmPolicyTest {
 protected:
  DeviceOptions device_options() override {
    DeviceOptions o;
    o.algorithms = "legacy";
    return o;
  }
};

const CK_MECHANISM_TYPE kLegacyOnly[] = {CKM_DES_KEY_GEN,
                                         CKM_DES2_KEY_GEN,
                                         CKM_DES3_KEY_GEN,
                                         CKM_DES_ECB,
                                         CKM_DES_CBC,
                                         CKM_DES_CBC_PAD,
                                         CKM_DES3_ECB,
                                         CKM_DES3_CBC,
                                         CKM_DES3_CBC_PAD,
                                         CKM_DES3_CMAC,
                                         CKM_DES_ECB_ENCRYPT_DATA,
                                         CKM_DES3_CBC_ENCRYPT_DATA,
                                         CKM_DSA_KEY_PAIR_GEN,
                                         CKM_DSA_PARAMETER_GEN,
                                         CKM_DSA,
                                         CKM_DSA_SHA256,
                                         CKM_DH_PKCS_KEY_PAIR_GEN,
                                         CKM_DH_PKCS_PARAMETER_GEN,
                                         CKM_DH_PKCS_DERIVE,
                                         CKM_MD5,
                                         CKM_MD5_HMAC,
                                         CKM_MD5_RSA_PKCS};

TEST_F(AlgorithmPolicyTest, ModernListsNoLegacyMechanismAndTellsItsSizes) {
  for (CK_MECHANISM_TYPE m : kLegacyOnly) {
    EXPECT_FALSE(listed(m)) << "0x" << std::hex << m;
  }
  for (CK_MECHANISM_TYPE m :
       {CKM_SHA3_256, CKM_HKDF_DERIVE, CKM_SP800_108_COUNTER_KDF, CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
        CKM_CHACHA20_POLY1305, CKM_AES_CCM, CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PKCS7,
        CKM_RSA_X_509, CKM_AES_ECB_ENCRYPT_DATA, CKM_SHA256_HMAC_GENERAL}) {
    EXPECT_TRUE(listed(m)) << "0x" << std::hex << m;
  }
  EXPECT_EQ(info(CKM_RSA_PKCS_KEY_PAIR_GEN).ulMinKeySize, 2048u);
  EXPECT_EQ(info(CKM_EC_KEY_PAIR_GEN).ulMinKeySize, 256u);
  // Legacy use: unlisted, and C_GetMechanismInfo says what is left.
  EXPECT_EQ(info(CKM_DES3_CBC).flags, CKF_HW | CKF_DECRYPT);
  EXPECT_EQ(info(CKM_DSA_SHA256).flags,
            CKF_HW | CKF_VERIFY | CKF_MESSAGE_VERIFY | CKF_MULTI_MESSAGE);
  EXPECT_EQ(info(CKM_DES3_CMAC).flags,
            CKF_HW | CKF_VERIFY | CKF_MESSAGE_VERIFY | CKF_MULTI_MESSAGE);
  info(CKM_DES_CBC, CKR_MECHANISM_INVALID);
  info(CKM_MD5, CKR_MECHANISM_INVALID);
}

TEST_F(LegacyDeviceTest, LegacyListsEveryMechanismWithItsSizes) {
  for (CK_MECHANISM_TYPE m : kLegacyOnly) {
    EXPECT_TRUE(listed(m)) << "0x" << std::hex << m;
  }
  EXPECT_EQ(info(CKM_RSA_PKCS_KEY_PAIR_GEN).ulMinKeySize, 1024u);
  EXPECT_EQ(info(CKM_EC_KEY_PAIR_GEN).ulMinKeySize, 192u);
  EXPECT_EQ(info(CKM_DES3_CBC).flags, CKF_HW | CKF_ENCRYPT | CKF_DECRYPT);
}

TEST_F(AlgorithmPolicyTest, ModernMakesNoLegacyKey) {
  CK_OBJECT_HANDLE h;
  EXPECT_CKR(CKR_MECHANISM_INVALID, generate_secret(CKM_DES3_KEY_GEN, &h));
  KeyPair kp;
  EXPECT_CKR(CKR_KEY_SIZE_RANGE, generate_rsa(1024, &kp));
  CK_MECHANISM ec{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  Template p192;
  p192.bytes(CKA_EC_PARAMS, from_hex("06082a8648ce3d030101"));
  EXPECT_CKR(CKR_CURVE_NOT_SUPPORTED, f()->C_GenerateKeyPair(s_, &ec, p192.data(), p192.size(),
                                                             nullptr, 0, &kp.pub, &kp.priv));
  Template des3;
  des3.ulong(CKA_CLASS, CKO_SECRET_KEY)
      .ulong(CKA_KEY_TYPE, CKK_DES3)
      .bytes(CKA_VALUE, Bytes(24, 1));
  EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID, f()->C_CreateObject(s_, des3.data(), des3.size(), &h));
  CK_MECHANISM md5{CKM_MD5, nullptr, 0};
  EXPECT_CKR(CKR_MECHANISM_INVALID, f()->C_DigestInit(s_, &md5));
  // An RSA-1024 key: the private half is refused; the public half may be made, to verify.
  ossl::PKey rsa1024 = ossl::generate_rsa(1024);
  Template priv_extra, pub_extra;
  ossl::RsaComponents c = ossl::rsa_components(rsa1024.get());
  Template priv;
  priv.ulong(CKA_CLASS, CKO_PRIVATE_KEY).ulong(CKA_KEY_TYPE, CKK_RSA).bytes(CKA_MODULUS, c.n);
  priv.bytes(CKA_PUBLIC_EXPONENT, c.e).bytes(CKA_PRIVATE_EXPONENT, c.d).bytes(CKA_PRIME_1, c.p);
  priv.bytes(CKA_PRIME_2, c.q).bytes(CKA_EXPONENT_1, c.dp).bytes(CKA_EXPONENT_2, c.dq);
  priv.bytes(CKA_COEFFICIENT, c.qinv);
  EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID, f()->C_CreateObject(s_, priv.data(), priv.size(), &h));
  Template pub;
  pub.ulong(CKA_CLASS, CKO_PUBLIC_KEY).ulong(CKA_KEY_TYPE, CKK_RSA).bytes(CKA_MODULUS, c.n);
  pub.bytes(CKA_PUBLIC_EXPONENT, c.e).boolean(CKA_ENCRYPT, true);
  CK_OBJECT_HANDLE pub1024 = create(f(), s_, pub);
  Bytes data = test_data(100);
  Bytes sig = ossl::sign(rsa1024.get(), {ossl::Scheme::rsa_pkcs1, "SHA256"}, data);
  CK_MECHANISM sha256_rsa{CKM_SHA256_RSA_PKCS, nullptr, 0};
  EXPECT_CKR(CKR_OK, verify(&sha256_rsa, pub1024, data, sig));
  CK_MECHANISM oaep_none{CKM_RSA_PKCS, nullptr, 0};
  EXPECT_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED, f()->C_EncryptInit(s_, &oaep_none, pub1024));
}

// Keys made while the device was legacy, after `twinhsm device set-algorithms modern`: Triple DES
// decrypts and verifies CMACs but no longer encrypts or signs; RSA-1024 verifies but no longer
// signs; single DES does nothing.
TEST_F(LegacyDeviceTest, LegacyKeysKeepOnlyTheirLegacyUseOnAModernDevice) {
  Template token;
  token.boolean(CKA_TOKEN, true).boolean(CKA_SENSITIVE, false).boolean(CKA_EXTRACTABLE, true);
  CK_OBJECT_HANDLE des3, des;
  ASSERT_CKR(CKR_OK, generate_secret(CKM_DES3_KEY_GEN, &des3, token));
  ASSERT_CKR(CKR_OK, generate_secret(CKM_DES_KEY_GEN, &des, token));
  KeyPair rsa;
  ASSERT_CKR(CKR_OK, generate_rsa(1024, &rsa, Template().boolean(CKA_TOKEN, true)));
  Bytes iv(8, 0x24);
  CK_MECHANISM cbc{CKM_DES3_CBC_PAD, ptr(iv), iv.size()};
  Bytes data = test_data(45);
  Bytes ct = encrypt(&cbc, des3, data);
  CK_MECHANISM cmac{CKM_DES3_CMAC, nullptr, 0};
  Bytes mac = sign(&cmac, des3, data);
  CK_MECHANISM sha256_rsa{CKM_SHA256_RSA_PKCS, nullptr, 0};
  Bytes sig = sign(&sha256_rsa, rsa.priv, data);

  set_algorithms("modern");
  EXPECT_FALSE(listed(CKM_DES3_CBC_PAD));
  EXPECT_EQ(decrypt(&cbc, des3, ct), data);
  EXPECT_CKR(CKR_MECHANISM_INVALID, f()->C_EncryptInit(s_, &cbc, des3));
  EXPECT_CKR(CKR_OK, verify(&cmac, des3, data, mac));
  EXPECT_CKR(CKR_MECHANISM_INVALID, f()->C_SignInit(s_, &cmac, des3));
  // Its CKA_SIGN is true but it can no longer sign: it verifies no truncated CMAC (a byte-by-byte
  // oracle for the MACs it cannot make); on the legacy device, where it signs, it does.
  CK_MAC_GENERAL_PARAMS four = 4;
  CK_MECHANISM cmac4{CKM_DES3_CMAC_GENERAL, &four, sizeof four};
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, f()->C_VerifyInit(s_, &cmac4, des3));
  CK_MECHANISM des_cbc{CKM_DES_CBC_PAD, ptr(iv), iv.size()};
  EXPECT_CKR(CKR_MECHANISM_INVALID, f()->C_DecryptInit(s_, &des_cbc, des));
  EXPECT_CKR(CKR_OK, verify(&sha256_rsa, rsa.pub, data, sig));
  EXPECT_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED, f()->C_SignInit(s_, &sha256_rsa, rsa.priv));

  set_algorithms("legacy");
  EXPECT_CKR(CKR_OK, f()->C_SignInit(s_, &sha256_rsa, rsa.priv));
  EXPECT_CKR(CKR_OK, verify(&cmac4, des3, data, Bytes(mac.begin(), mac.begin() + 4)));
}

TEST_F(AlgorithmPolicyTest, RawRsaOnlyWithKeysThatNameIt) {
  CK_MECHANISM raw{CKM_RSA_X_509, nullptr, 0};
  KeyPair plain, named;
  ASSERT_CKR(CKR_OK, generate_rsa(2048, &plain));
  EXPECT_CKR(CKR_MECHANISM_INVALID, f()->C_SignInit(s_, &raw, plain.priv));
  CK_MECHANISM_TYPE allowed[] = {CKM_RSA_X_509};
  Template priv;
  priv.raw(CKA_ALLOWED_MECHANISMS, allowed, sizeof allowed);
  ASSERT_CKR(CKR_OK, generate_rsa(2048, &named, priv));
  Bytes data = test_data(256);
  data[0] = 0;  // below the modulus
  Bytes sig = sign(&raw, named.priv, data);
  EXPECT_EQ(sig.size(), 256u);
  EXPECT_CKR(CKR_OK, verify(&raw, named.pub, data, sig));  // public operations: any key
  EXPECT_CKR(CKR_SIGNATURE_INVALID, verify(&raw, plain.pub, data, sig));  // another key
  EXPECT_CKR(CKR_OK, f()->C_EncryptInit(s_, &raw, plain.pub));
}

TEST_F(LegacyDeviceTest, RawRsaWithAnyKey) {
  CK_MECHANISM raw{CKM_RSA_X_509, nullptr, 0};
  KeyPair kp;
  ASSERT_CKR(CKR_OK, generate_rsa(1024, &kp));
  EXPECT_CKR(CKR_OK, f()->C_SignInit(s_, &raw, kp.priv));
}

TEST_F(AlgorithmPolicyTest, EncryptDataNeverDerivesFromAKeyEncryptionKey) {
  Bytes value = test_data(32, 9);
  Bytes data = test_data(32, 3);
  CK_KEY_DERIVATION_STRING_DATA p{ptr(data), data.size()};
  CK_MECHANISM mech{CKM_AES_ECB_ENCRYPT_DATA, &p, sizeof p};
  Template derive_only, wraps;
  derive_only.boolean(CKA_DERIVE, true).boolean(CKA_WRAP, false).boolean(CKA_UNWRAP, false);
  wraps.boolean(CKA_DERIVE, true).boolean(CKA_WRAP, true);
  CK_OBJECT_HANDLE kek = secret(CKK_AES, value, wraps);
  CK_OBJECT_HANDLE base = secret(CKK_AES, value, derive_only);
  Template out = readable_secret(CKK_GENERIC_SECRET);
  out.ulong(CKA_VALUE_LEN, 20);
  CK_OBJECT_HANDLE key;
  EXPECT_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED,
             f()->C_DeriveKey(s_, &mech, kek, out.data(), out.size(), &key));
  ASSERT_CKR(CKR_OK, f()->C_DeriveKey(s_, &mech, base, out.data(), out.size(), &key));
  CK_MECHANISM ecb{CKM_AES_ECB, nullptr, 0};
  Bytes expected = encrypt(&ecb, base, data);
  expected.resize(20);  // the leftmost bytes
  EXPECT_EQ(attr_bytes(f(), s_, key, CKA_VALUE), expected);
  EXPECT_EQ(attr_bool(f(), s_, key, CKA_LOCAL), false);
}

}  // namespace
}  // namespace twinhsm::test
