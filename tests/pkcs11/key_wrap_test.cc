// The AES key wraps of PKCS#11 3.0 through C_WrapKey and C_UnwrapKey (issue 13 item 4):
// CKM_AES_KEY_WRAP_KWP (RFC 5649) against Wycheproof and NIST's KWP vectors, all valid ones
// unwrapping to their key and wrapping back to their ciphertext, every invalid one refused;
// CKM_AES_KEY_WRAP_PAD the same as KWP; CKM_AES_KEY_WRAP_PKCS7; and CKM_AES_KEY_WRAP of keys that
// are not a multiple of 8 bytes, zero-padded (PKCS#11 3.0 2.14.3), checked with OpenSSL.
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "mechanism_fixture.h"
#include "test_util.h"

namespace twinhsm::test {
namespace {

namespace vec = twinhsm::crypto::test;

// openssl_kw runs OpenSSL's AES key wrap ("AES-256-WRAP" / "-WRAP-PAD") directly.
Bytes openssl_kw(const Bytes& kek, const Bytes& in, bool encrypt, bool pad) {
  std::string name = "AES-" + std::to_string(kek.size() * 8) + (pad ? "-WRAP-PAD" : "-WRAP");
  EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, name.c_str(), nullptr);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  Bytes out(in.size() + 16);
  int len = 0, fin = 0;
  bool ok = c && ctx && EVP_CipherInit_ex2(ctx, c, kek.data(), nullptr, encrypt, nullptr) == 1 &&
            EVP_CipherUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(in.size())) == 1 &&
            EVP_CipherFinal_ex(ctx, out.data() + len, &fin) == 1;
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(c);
  out.resize(ok ? static_cast<size_t>(len + fin) : 0);
  return out;
}

class KeyWrapTest : public MechanismFixture {
 protected:
  // A readable AES key that wraps and unwraps: what it unwraps may be readable too.
  CK_OBJECT_HANDLE readable_kek(const Bytes& value) {
    return secret(CKK_AES, value, Template().boolean(CKA_WRAP, true).boolean(CKA_UNWRAP, true));
  }
  static Template unwrap_readable(CK_KEY_TYPE kt) {
    Template t = readable_secret(kt);
    t.boolean(CKA_TOKEN, false);
    return t;
  }
  // kwp_case checks one vector through the module: a valid one unwraps to msg and msg wraps to
  // ct; an invalid one does not unwrap. Returns whether it behaved so.
  bool kwp_case(CK_MECHANISM_TYPE m, const Bytes& key, const Bytes& msg, const Bytes& ct,
                bool valid) {
    CK_MECHANISM mech{m, nullptr, 0};
    CK_OBJECT_HANDLE kek = readable_kek(key);
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = unwrap(&mech, kek, ct, unwrap_readable(CKK_GENERIC_SECRET), &h);
    bool ok;
    if (!valid) {
      ok = rv != CKR_OK;
    } else {
      ok = rv == CKR_OK && attr_bytes(f(), s_, h, CKA_VALUE) == msg;
      Bytes wrapped;
      ok = ok && wrap(&mech, kek, secret(CKK_GENERIC_SECRET, msg), &wrapped) == CKR_OK &&
           wrapped == ct;
    }
    f()->C_DestroyObject(s_, h);
    f()->C_DestroyObject(s_, kek);
    return ok;
  }
};

TEST_F(KeyWrapTest, WycheproofKwpThroughTheModule) {
  nlohmann::json doc = vec::read_json("keywrap/wycheproof_aes_kwp_test.json");
  size_t valid = 0, invalid = 0;
  for (const auto& group : doc["testGroups"]) {
    for (const auto& t : group["tests"]) {
      bool is_valid = t["result"] == "valid";
      Bytes key = from_hex(t["key"].get<std::string>());
      Bytes msg = from_hex(t["msg"].get<std::string>());
      Bytes ct = from_hex(t["ct"].get<std::string>());
      EXPECT_TRUE(kwp_case(CKM_AES_KEY_WRAP_KWP, key, msg, ct, is_valid))
          << "tcId " << t["tcId"] << " " << t["comment"];
      (is_valid ? valid : invalid)++;
    }
  }
  EXPECT_EQ(valid, 77u);
  EXPECT_EQ(invalid, 177u);
}

TEST_F(KeyWrapTest, NistKwpThroughTheModule) {
  size_t valid = 0, invalid = 0;
  for (const auto& r : vec::parse_cavp("keywrap/KWP_AD_256.txt")) {
    EXPECT_TRUE(kwp_case(CKM_AES_KEY_WRAP_KWP, from_hex(r.at("K")),
                         r.fail ? Bytes() : from_hex(r.at("P")), from_hex(r.at("C")), !r.fail))
        << "KWP_AD_256 line " << r.line;
    (r.fail ? invalid : valid)++;
  }
  for (const auto& r : vec::parse_cavp("keywrap/KWP_AE_256.txt")) {
    EXPECT_TRUE(kwp_case(CKM_AES_KEY_WRAP_PAD, from_hex(r.at("K")), from_hex(r.at("P")),
                         from_hex(r.at("C")), true))
        << "KWP_AE_256 line " << r.line;
    ++valid;
  }
  EXPECT_GT(valid, 500u);
  EXPECT_GT(invalid, 50u);
}

TEST_F(KeyWrapTest, KwZeroPadsSecretKeysAndFindsTheirLength) {
  Bytes kek_value = test_data(32, 1);
  CK_OBJECT_HANDLE kek = readable_kek(kek_value);
  CK_MECHANISM kw{CKM_AES_KEY_WRAP, nullptr, 0};
  for (size_t n : {1u, 8u, 15u, 20u, 33u}) {
    SCOPED_TRACE(n);
    Bytes value = test_data(n, 7);
    Bytes wrapped;
    ASSERT_CKR(CKR_OK, wrap(&kw, kek, secret(CKK_GENERIC_SECRET, value), &wrapped));
    Bytes padded = value;
    padded.resize(std::max<size_t>(16, (n + 7) / 8 * 8), 0);
    EXPECT_EQ(openssl_kw(kek_value, wrapped, false, false), padded);
    Template t = unwrap_readable(CKK_GENERIC_SECRET);
    t.ulong(CKA_VALUE_LEN, n);
    CK_OBJECT_HANDLE h;
    ASSERT_CKR(CKR_OK, unwrap(&kw, kek, wrapped, t, &h));
    EXPECT_EQ(attr_bytes(f(), s_, h, CKA_VALUE), value);
  }
  // A length that leaves nonzero bytes behind, or more than a semiblock of them, is refused.
  Bytes wrapped;
  ASSERT_CKR(CKR_OK, wrap(&kw, kek, secret(CKK_GENERIC_SECRET, test_data(40, 7)), &wrapped));
  Template short_len = unwrap_readable(CKK_GENERIC_SECRET);
  short_len.ulong(CKA_VALUE_LEN, 36);
  CK_OBJECT_HANDLE h;
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT, unwrap(&kw, kek, wrapped, short_len, &h));
  // Key types of one length need no CKA_VALUE_LEN: an 8-byte DES key... on a modern device,
  // refused as a key kind; a ChaCha20 key is a whole multiple already.
  ASSERT_CKR(CKR_OK, wrap(&kw, kek, secret(CKK_CHACHA20, test_data(32, 2)), &wrapped));
  ASSERT_CKR(CKR_OK, unwrap(&kw, kek, wrapped, unwrap_readable(CKK_CHACHA20), &h));
  EXPECT_EQ(attr_bytes(f(), s_, h, CKA_VALUE), test_data(32, 2));
}

TEST_F(KeyWrapTest, KwZeroPadsPrivateKeysAndFindsTheirLengthInTheDer) {
  Bytes kek_value = test_data(32, 4);
  CK_OBJECT_HANDLE kek = readable_kek(kek_value);
  CK_MECHANISM kw{CKM_AES_KEY_WRAP, nullptr, 0};
  Template extractable;
  extractable.boolean(CKA_SENSITIVE, false).boolean(CKA_EXTRACTABLE, true);
  size_t unaligned = 0;
  for (const char* group : {"P-256", "P-384", "P-521"}) {
    SCOPED_TRACE(group);
    ossl::PKey ec = ossl::generate_ec(group);
    Bytes params = std::string(group) == "P-256"   ? ec_params_p256()
                   : std::string(group) == "P-384" ? ec_params_p384()
                                                   : ec_params_p521();
    CK_OBJECT_HANDLE priv = import_ec_private(ec.get(), params, extractable);
    Bytes wrapped;
    ASSERT_CKR(CKR_OK, wrap(&kw, kek, priv, &wrapped));
    Bytes inside = openssl_kw(kek_value, wrapped, false, false);
    ASSERT_EQ(inside.size() % 8, 0u);
    // The DER PrivateKeyInfo, then zeros: OpenSSL reads the key from the front.
    const unsigned char* p = inside.data();
    PKCS8_PRIV_KEY_INFO* info =
        d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(inside.size()));
    ASSERT_NE(info, nullptr);
    PKCS8_PRIV_KEY_INFO_free(info);
    size_t der_len = static_cast<size_t>(p - inside.data());
    unaligned += der_len % 8 != 0;
    EXPECT_TRUE(std::all_of(inside.begin() + static_cast<long>(der_len), inside.end(),
                            [](uint8_t b) { return b == 0; }));
    Template t;
    t.ulong(CKA_CLASS, CKO_PRIVATE_KEY).boolean(CKA_SIGN, true);
    CK_OBJECT_HANDLE back;
    ASSERT_CKR(CKR_OK, unwrap(&kw, kek, wrapped, t, &back));
    EXPECT_EQ(attr_bytes(f(), s_, back, CKA_PUBLIC_KEY_INFO), ossl::spki(ec.get()));
  }
  EXPECT_GT(unaligned, 0u);  // at least one PKCS#8 encoding needed the padding
  // Nonzero padding after the DER is refused.
  ossl::PKey ec = ossl::generate_ec("P-256");
  CK_OBJECT_HANDLE priv = import_ec_private(ec.get(), ec_params_p256(), extractable);
  Bytes wrapped;
  ASSERT_CKR(CKR_OK, wrap(&kw, kek, priv, &wrapped));
  Bytes inside = openssl_kw(kek_value, wrapped, false, false);
  inside.insert(inside.end(), 8, 0);
  inside.back() = 1;
  Bytes bad = openssl_kw(kek_value, inside, true, false);
  Template t;
  t.ulong(CKA_CLASS, CKO_PRIVATE_KEY);
  CK_OBJECT_HANDLE h;
  EXPECT_CKR(CKR_WRAPPED_KEY_INVALID, unwrap(&kw, kek, bad, t, &h));
}

TEST_F(KeyWrapTest, Pkcs7PadsThenWrapsAndPadIsKwp) {
  Bytes kek_value = test_data(16, 6);
  CK_OBJECT_HANDLE kek = readable_kek(kek_value);
  CK_MECHANISM pkcs7{CKM_AES_KEY_WRAP_PKCS7, nullptr, 0};
  for (size_t n : {8u, 20u, 24u, 31u}) {
    SCOPED_TRACE(n);
    Bytes value = test_data(n, 8);
    Bytes wrapped;
    ASSERT_CKR(CKR_OK, wrap(&pkcs7, kek, secret(CKK_GENERIC_SECRET, value), &wrapped));
    Bytes padded = value;
    size_t pad = 8 - n % 8;
    padded.insert(padded.end(), pad, static_cast<uint8_t>(pad));
    EXPECT_EQ(openssl_kw(kek_value, wrapped, false, false), padded);
    CK_OBJECT_HANDLE h;
    ASSERT_CKR(CKR_OK, unwrap(&pkcs7, kek, wrapped, unwrap_readable(CKK_GENERIC_SECRET), &h));
    EXPECT_EQ(attr_bytes(f(), s_, h, CKA_VALUE), value);
  }
  Bytes out;
  EXPECT_CKR(CKR_KEY_SIZE_RANGE, wrap(&pkcs7, kek, secret(CKK_GENERIC_SECRET, Bytes(7, 1)), &out));
  Bytes bad =
      openssl_kw(kek_value, concat(test_data(16, 3), Bytes{5, 5, 5, 5, 5, 5, 5, 4}), true, false);
  CK_OBJECT_HANDLE h;
  EXPECT_CKR(CKR_WRAPPED_KEY_INVALID,
             unwrap(&pkcs7, kek, bad, unwrap_readable(CKK_GENERIC_SECRET), &h));
  // CKM_AES_KEY_WRAP_PAD is RFC 5649, as CKM_AES_KEY_WRAP_KWP (and SoftHSMv2's 0x210A).
  CK_MECHANISM pad{CKM_AES_KEY_WRAP_PAD, nullptr, 0}, kwp{CKM_AES_KEY_WRAP_KWP, nullptr, 0};
  CK_OBJECT_HANDLE key = secret(CKK_GENERIC_SECRET, test_data(21, 1));
  Bytes a, b;
  ASSERT_CKR(CKR_OK, wrap(&pad, kek, key, &a));
  ASSERT_CKR(CKR_OK, wrap(&kwp, kek, key, &b));
  EXPECT_EQ(a, b);
  EXPECT_EQ(openssl_kw(kek_value, a, false, true), test_data(21, 1));
  Bytes bad_iv{0xa6, 0x59, 0x59, 0xa7};
  CK_MECHANISM kwp_iv{CKM_AES_KEY_WRAP_KWP, ptr(bad_iv), bad_iv.size()};
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, wrap(&kwp_iv, kek, key, &a));
}

}  // namespace
}  // namespace twinhsm::test
