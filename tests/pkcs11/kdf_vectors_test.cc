// Known answers of the PKCS#11 3.0 derivations through C_DeriveKey: CKM_SP800_108_COUNTER_KDF with
// NIST's KBKDF counter-mode vectors (every record OpenSSL's layout computes: a 32-bit counter
// before the fixed input, here one CK_SP800_108_BYTE_ARRAY), CKM_HKDF_DERIVE with RFC 5869's
// (extract and expand, extract only, expand only), and CKM_ECDH1_DERIVE on X25519 and X448 keys
// with RFC 7748's.
#include "mechanism_fixture.h"
#include "test_util.h"

namespace twinhsm::test {
namespace {

namespace vec = twinhsm::crypto::test;

class KdfVectorsTest : public MechanismFixture {
 protected:
  // derive_value runs C_DeriveKey into a readable generic secret of len bytes and returns its
  // value (empty, with a failure, when the call fails).
  Bytes derive_value(CK_MECHANISM* mech, CK_OBJECT_HANDLE base, size_t len) {
    Template t = readable_secret(CKK_GENERIC_SECRET);
    t.ulong(CKA_VALUE_LEN, len);
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = f()->C_DeriveKey(s_, mech, base, t.data(), t.size(), &h);
    if (rv != CKR_OK) {
      ADD_FAILURE() << "C_DeriveKey: " << rv_name(rv);
      return {};
    }
    Bytes value = attr_bytes(f(), s_, h, CKA_VALUE);
    EXPECT_CKR(CKR_OK, f()->C_DestroyObject(s_, h));
    return value;
  }
  CK_OBJECT_HANDLE base_key(CK_KEY_TYPE kt, const Bytes& value) {
    Template t;
    t.boolean(CKA_DERIVE, true);
    return secret(kt, value, t);
  }
};

// The PRF of a NIST section name, and the key type its key is.
struct Prf {
  const char* name;
  CK_MECHANISM_TYPE mechanism;
  CK_KEY_TYPE key_type;
};
constexpr Prf kPrfs[] = {
    {"HMAC_SHA1", CKM_SHA_1_HMAC, CKK_GENERIC_SECRET},
    {"HMAC_SHA224", CKM_SHA224_HMAC, CKK_GENERIC_SECRET},
    {"HMAC_SHA256", CKM_SHA256_HMAC, CKK_GENERIC_SECRET},
    {"HMAC_SHA384", CKM_SHA384_HMAC, CKK_GENERIC_SECRET},
    {"HMAC_SHA512", CKM_SHA512_HMAC, CKK_GENERIC_SECRET},
    {"CMAC_AES128", CKM_AES_CMAC, CKK_AES},
    {"CMAC_AES192", CKM_AES_CMAC, CKK_AES},
    {"CMAC_AES256", CKM_AES_CMAC, CKK_AES},
};

// Both files: the HMAC-SHA256 one (40 records with the 32-bit counter before the fixed input) and
// the other PRFs' extract. Triple DES CMAC needs a legacy device's key (tests/e2e's legacy run).
TEST_F(KdfVectorsTest, Sp800108CounterNist) {
  CK_SP800_108_COUNTER_FORMAT counter{CK_FALSE, 32};
  size_t checked = 0;
  for (const char* file : {"kbkdf/nist-800-108-KBKDF-CTR-HMAC_SHA256.rsp",
                           "kdf/nist-800-108-KBKDF-CTR-before-r32.txt"}) {
    for (const auto& r : vec::parse_cavp(file)) {
      if (r.section.at("CTRLOCATION") != "BEFORE_FIXED" || r.section.at("RLEN") != "32_BITS") {
        continue;
      }
      const std::string& name = r.section.at("PRF");
      const Prf* prf = std::find_if(std::begin(kPrfs), std::end(kPrfs),
                                    [&](const Prf& p) { return name == p.name; });
      if (prf == std::end(kPrfs)) {
        continue;
      }
      SCOPED_TRACE(std::string(file) + " line " + std::to_string(r.line));
      Bytes fixed = vec::hex(r.at("FixedInputData"));
      CK_PRF_DATA_PARAM data[] = {{CK_SP800_108_ITERATION_VARIABLE, &counter, sizeof counter},
                                  {CK_SP800_108_BYTE_ARRAY, fixed.data(), fixed.size()}};
      CK_SP800_108_KDF_PARAMS p{prf->mechanism, 2, data, 0, nullptr};
      CK_MECHANISM mech{CKM_SP800_108_COUNTER_KDF, &p, sizeof p};
      CK_OBJECT_HANDLE base = base_key(prf->key_type, vec::hex(r.at("KI")));
      size_t bits = std::stoul(r.at("L"));
      ASSERT_EQ(bits % 8, 0u);
      EXPECT_EQ(derive_value(&mech, base, bits / 8), vec::hex(r.at("KO")));
      EXPECT_CKR(CKR_OK, f()->C_DestroyObject(s_, base));
      ++checked;
    }
  }
  EXPECT_EQ(checked, 40u + 280u);  // HMAC-SHA256; then 7 other PRFs (not Triple DES), 40 each
}

// The PRF is a MAC the device computes: on this modern device Triple DES CMAC makes none, so the
// KDF refuses it as its PRF, whatever key it is given (a legacy device's run takes it).
TEST_F(KdfVectorsTest, Sp800108LegacyPrfRefusedOnAModernDevice) {
  CK_SP800_108_COUNTER_FORMAT counter{CK_FALSE, 32};
  Bytes fixed(16, 0x5a);
  CK_PRF_DATA_PARAM data[] = {{CK_SP800_108_ITERATION_VARIABLE, &counter, sizeof counter},
                              {CK_SP800_108_BYTE_ARRAY, fixed.data(), fixed.size()}};
  CK_SP800_108_KDF_PARAMS p{CKM_DES3_CMAC, 2, data, 0, nullptr};
  CK_MECHANISM mech{CKM_SP800_108_COUNTER_KDF, &p, sizeof p};
  CK_OBJECT_HANDLE base = base_key(CKK_GENERIC_SECRET, Bytes(24, 0x42));
  Template t = readable_secret(CKK_GENERIC_SECRET);
  t.ulong(CKA_VALUE_LEN, 16);
  CK_OBJECT_HANDLE out = CK_INVALID_HANDLE;
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID,
             f()->C_DeriveKey(s_, &mech, base, t.data(), t.size(), &out));
  EXPECT_EQ(out, CK_INVALID_HANDLE);
  p.prfType = CKM_SHA256_HMAC;  // the same request with a modern PRF goes through
  EXPECT_EQ(derive_value(&mech, base, 16).size(), 16u);
}

// RFC 5869 appendix A with SHA-256 and SHA-1: salt given (or none: CKF_HKDF_SALT_NULL), the
// input a generic secret; the PRK by extract alone, the OKM by expand alone from the PRK and by
// both steps at once.
TEST_F(KdfVectorsTest, HkdfRfc5869) {
  size_t checked = 0;
  for (const char* file : {"kdf/rfc-5869-HKDF-SHA256.txt", "kdf/rfc-5869-HKDF-SHA1.txt"}) {
    for (const auto& r : vec::parse_cavp(file)) {
      SCOPED_TRACE(std::string(file) + " line " + std::to_string(r.line));
      CK_MECHANISM_TYPE hash = r.at("Hash") == "SHA-256" ? CKM_SHA256 : CKM_SHA_1;
      Bytes salt = vec::hex(r.at("salt")), info = vec::hex(r.at("info"));
      Bytes prk = vec::hex(r.at("PRK")), okm = vec::hex(r.at("OKM"));
      CK_OBJECT_HANDLE ikm = base_key(CKK_GENERIC_SECRET, vec::hex(r.at("IKM")));
      CK_HKDF_PARAMS p{CK_TRUE,
                       CK_TRUE,
                       hash,
                       salt.empty() ? CKF_HKDF_SALT_NULL : CKF_HKDF_SALT_DATA,
                       salt.empty() ? nullptr : salt.data(),
                       salt.size(),
                       CK_INVALID_HANDLE,
                       info.empty() ? nullptr : info.data(),
                       info.size()};
      CK_MECHANISM mech{CKM_HKDF_DERIVE, &p, sizeof p};
      EXPECT_EQ(derive_value(&mech, ikm, okm.size()), okm);
      p.bExpand = CK_FALSE;
      EXPECT_EQ(derive_value(&mech, ikm, prk.size()), prk);
      p.bExtract = CK_FALSE;
      p.bExpand = CK_TRUE;
      p.ulSaltType = CKF_HKDF_SALT_NULL;
      p.pSalt = nullptr;
      p.ulSaltLen = 0;
      CK_OBJECT_HANDLE prk_key = base_key(CKK_GENERIC_SECRET, prk);
      EXPECT_EQ(derive_value(&mech, prk_key, okm.size()), okm);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 7u);
}

// RFC 7748 section 5.2: the scalar as a CKK_EC_MONTGOMERY private key, the u-coordinate as the
// other party's public data, the shared secret (CKD_NULL) the output u-coordinate.
TEST_F(KdfVectorsTest, X25519AndX448Rfc7748) {
  struct Curve {
    const char* file;
    Bytes params;  // DER OID id-X25519 / id-X448
  };
  const Curve curves[] = {{"curves/x25519-rfc7748.txt", from_hex("06032b656e")},
                          {"curves/x448-rfc7748.txt", from_hex("06032b656f")}};
  size_t checked = 0;
  for (const Curve& c : curves) {
    for (const auto& r : vec::parse_cavp(c.file)) {
      SCOPED_TRACE(std::string(c.file) + " line " + std::to_string(r.line));
      Template t;
      t.ulong(CKA_CLASS, CKO_PRIVATE_KEY).ulong(CKA_KEY_TYPE, CKK_EC_MONTGOMERY);
      t.bytes(CKA_EC_PARAMS, c.params).bytes(CKA_VALUE, vec::hex(r.at("INPUT_SCALAR")));
      t.boolean(CKA_DERIVE, true);
      CK_OBJECT_HANDLE priv = create(f(), s_, t);
      Bytes u = vec::hex(r.at("INPUT_U"));
      CK_ECDH1_DERIVE_PARAMS p{CKD_NULL, 0, nullptr, u.size(), u.data()};
      CK_MECHANISM mech{CKM_ECDH1_DERIVE, &p, sizeof p};
      Bytes expected = vec::hex(r.at("OUTPUT_U"));
      EXPECT_EQ(derive_value(&mech, priv, expected.size()), expected);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 6u);
}

}  // namespace
}  // namespace twinhsm::test
