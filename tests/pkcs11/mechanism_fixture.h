// MechanismFixture: a LoggedInTest with the helpers the mechanism tests share: keys made from
// known values or imported from OpenSSL, and each operation run through the module with its
// two-call convention (single- and multi-part), the CK_RV of a failing call returned or reported.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "fixture.h"
#include "ossl.h"

namespace twinhsm::test {

inline Bytes test_data(size_t n, uint8_t seed = 5) {
  Bytes d(n);
  for (size_t i = 0; i < n; ++i) {
    d[i] = static_cast<uint8_t>(i * 29 + seed);
  }
  return d;
}

inline Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline CK_BYTE_PTR ptr(const Bytes& b) {
  return const_cast<CK_BYTE_PTR>(b.data());
}

inline Bytes from_hex(std::string_view hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

struct KeyPair {
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
};

class MechanismFixture : public LoggedInTest {
 protected:
  // secret makes a session secret key; readable (not sensitive, extractable) unless extra says
  // otherwise.
  CK_OBJECT_HANDLE secret(CK_KEY_TYPE kt, const Bytes& value, Template extra = {}) {
    Template t = std::move(extra);
    t.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, kt).bytes(CKA_VALUE, value);
    if (!has(t, CKA_SENSITIVE)) {
      t.boolean(CKA_SENSITIVE, false);
    }
    if (!has(t, CKA_EXTRACTABLE)) {
      t.boolean(CKA_EXTRACTABLE, true);
    }
    return create(f(), s_, t);
  }
  static bool has(Template& t, CK_ATTRIBUTE_TYPE type) {
    CK_ATTRIBUTE* a = t.data();
    return std::any_of(a, a + t.size(), [&](const CK_ATTRIBUTE& x) { return x.type == type; });
  }

  // import_rsa puts an OpenSSL key pair on the token (extra goes to the private key).
  KeyPair import_rsa(EVP_PKEY* key, Template extra_priv = {}, Template extra_pub = {}) {
    ossl::RsaComponents c = ossl::rsa_components(key);
    Template pub = std::move(extra_pub);
    pub.ulong(CKA_CLASS, CKO_PUBLIC_KEY).ulong(CKA_KEY_TYPE, CKK_RSA);
    pub.bytes(CKA_MODULUS, c.n).bytes(CKA_PUBLIC_EXPONENT, c.e);
    Template priv = std::move(extra_priv);
    priv.ulong(CKA_CLASS, CKO_PRIVATE_KEY).ulong(CKA_KEY_TYPE, CKK_RSA);
    priv.bytes(CKA_MODULUS, c.n).bytes(CKA_PUBLIC_EXPONENT, c.e).bytes(CKA_PRIVATE_EXPONENT, c.d);
    priv.bytes(CKA_PRIME_1, c.p).bytes(CKA_PRIME_2, c.q).bytes(CKA_EXPONENT_1, c.dp);
    priv.bytes(CKA_EXPONENT_2, c.dq).bytes(CKA_COEFFICIENT, c.qinv);
    return {create(f(), s_, pub), create(f(), s_, priv)};
  }
  CK_OBJECT_HANDLE import_ec_private(EVP_PKEY* key, const Bytes& params, Template extra = {}) {
    Template t = std::move(extra);
    t.ulong(CKA_CLASS, CKO_PRIVATE_KEY).ulong(CKA_KEY_TYPE, CKK_EC);
    t.bytes(CKA_EC_PARAMS, params).bytes(CKA_VALUE, ossl::ec_private_value(key));
    return create(f(), s_, t);
  }
  KeyPair generate_ec(const Bytes& params, Template priv = {}) {
    CK_MECHANISM mech{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    Template pub;
    pub.bytes(CKA_EC_PARAMS, params);
    KeyPair kp;
    CK_RV rv = f()->C_GenerateKeyPair(s_, &mech, pub.data(), pub.size(), priv.data(), priv.size(),
                                      &kp.pub, &kp.priv);
    if (rv != CKR_OK) {
      ADD_FAILURE() << "C_GenerateKeyPair: " << rv_name(rv);
    }
    return kp;
  }

  // ---- Encryption, single- and multi-part, with the two-call convention ----

  // crypt runs C_Encrypt or C_Decrypt with a size query first, checking that the size answered is
  // the length delivered; the CK_RV of the failing call, if any.
  CK_RV crypt(bool enc, CK_MECHANISM* mech, CK_OBJECT_HANDLE key, const Bytes& in, Bytes* out) {
    out->clear();
    CK_RV rv = enc ? f()->C_EncryptInit(s_, mech, key) : f()->C_DecryptInit(s_, mech, key);
    if (rv != CKR_OK) {
      return rv;
    }
    auto call = enc ? f()->C_Encrypt : f()->C_Decrypt;
    CK_ULONG len = 0;
    if ((rv = call(s_, ptr(in), in.size(), nullptr, &len)) != CKR_OK) {
      return rv;
    }
    out->assign(len + 1, 0);  // never NULL, even for an empty result: NULL asks for the size
    CK_ULONG got = len;
    rv = call(s_, ptr(in), in.size(), out->data(), &got);
    EXPECT_EQ(got, len) << "the size query was not exact";
    out->resize(rv == CKR_OK ? got : 0);
    return rv;
  }
  Bytes encrypt(CK_MECHANISM* mech, CK_OBJECT_HANDLE key, const Bytes& in) {
    Bytes out;
    EXPECT_CKR(CKR_OK, crypt(true, mech, key, in, &out));
    return out;
  }
  Bytes decrypt(CK_MECHANISM* mech, CK_OBJECT_HANDLE key, const Bytes& in) {
    Bytes out;
    EXPECT_CKR(CKR_OK, crypt(false, mech, key, in, &out));
    return out;
  }

  // crypt_parts runs the multi-part form in the given part sizes (cycling); each update's size
  // query must be exact and each update's output whole blocks when block is set.
  Bytes crypt_parts(bool enc, CK_MECHANISM* mech, CK_OBJECT_HANDLE key, const Bytes& in,
                    std::vector<size_t> parts, size_t block = 0) {
    CK_RV rv = enc ? f()->C_EncryptInit(s_, mech, key) : f()->C_DecryptInit(s_, mech, key);
    if (rv != CKR_OK) {
      ADD_FAILURE() << "init: " << rv_name(rv);
      return {};
    }
    auto update = enc ? f()->C_EncryptUpdate : f()->C_DecryptUpdate;
    auto final = enc ? f()->C_EncryptFinal : f()->C_DecryptFinal;
    Bytes out;
    size_t off = 0;
    for (size_t i = 0; off < in.size(); ++i) {
      size_t n = std::min(parts[i % parts.size()], in.size() - off);
      CK_ULONG len = 0;
      EXPECT_CKR(CKR_OK, update(s_, ptr(in) + off, n, nullptr, &len));
      Bytes part(len + 1, 0xee);
      CK_ULONG got = len;
      EXPECT_CKR(CKR_OK, update(s_, ptr(in) + off, n, part.data(), &got));
      EXPECT_EQ(got, len);
      if (block != 0) {
        EXPECT_EQ(got % block, 0u);
      }
      out.insert(out.end(), part.begin(), part.begin() + static_cast<long>(got));
      off += n;
    }
    CK_ULONG len = 0;
    EXPECT_CKR(CKR_OK, final(s_, nullptr, &len));
    Bytes last(len + 1);
    CK_ULONG got = len;
    EXPECT_CKR(CKR_OK, final(s_, last.data(), &got));
    EXPECT_EQ(got, len);
    last.resize(got);
    return concat(out, last);
  }

  // ---- Signing with MACs ----

  Bytes sign(CK_MECHANISM* mech, CK_OBJECT_HANDLE key, const Bytes& data) {
    if (CK_RV rv = f()->C_SignInit(s_, mech, key); rv != CKR_OK) {
      ADD_FAILURE() << "C_SignInit: " << rv_name(rv);
      return {};
    }
    CK_ULONG len = 0;
    EXPECT_CKR(CKR_OK, f()->C_Sign(s_, ptr(data), data.size(), nullptr, &len));
    Bytes sig(len);
    EXPECT_CKR(CKR_OK, f()->C_Sign(s_, ptr(data), data.size(), sig.data(), &len));
    sig.resize(len);
    return sig;
  }
  Bytes sign_parts(CK_MECHANISM* mech, CK_OBJECT_HANDLE key, const Bytes& data, size_t part) {
    EXPECT_CKR(CKR_OK, f()->C_SignInit(s_, mech, key));
    for (size_t off = 0; off < data.size(); off += part) {
      EXPECT_CKR(CKR_OK, f()->C_SignUpdate(s_, ptr(data) + off, std::min(part, data.size() - off)));
    }
    CK_ULONG len = 0;
    EXPECT_CKR(CKR_OK, f()->C_SignFinal(s_, nullptr, &len));
    Bytes sig(len);
    EXPECT_CKR(CKR_OK, f()->C_SignFinal(s_, sig.data(), &len));
    sig.resize(len);
    return sig;
  }
  CK_RV verify(CK_MECHANISM* mech, CK_OBJECT_HANDLE key, const Bytes& data, const Bytes& sig) {
    CK_RV rv = f()->C_VerifyInit(s_, mech, key);
    if (rv != CKR_OK) {
      return rv;
    }
    return f()->C_Verify(s_, ptr(data), data.size(), ptr(sig), sig.size());
  }

  // ---- Wrapping ----

  CK_RV wrap(CK_MECHANISM* mech, CK_OBJECT_HANDLE kek, CK_OBJECT_HANDLE key, Bytes* out) {
    CK_ULONG len = 0;
    CK_RV rv = f()->C_WrapKey(s_, mech, kek, key, nullptr, &len);
    if (rv != CKR_OK) {
      return rv;
    }
    out->assign(len, 0);
    rv = f()->C_WrapKey(s_, mech, kek, key, out->data(), &len);
    out->resize(rv == CKR_OK ? len : 0);
    return rv;
  }
  CK_RV unwrap(CK_MECHANISM* mech, CK_OBJECT_HANDLE kek, const Bytes& wrapped, Template tmpl,
               CK_OBJECT_HANDLE* key) {
    return f()->C_UnwrapKey(s_, mech, kek, ptr(wrapped), wrapped.size(), tmpl.data(), tmpl.size(),
                            key);
  }
  // readable_secret: a derive template for a secret key whose value can be read back.
  static Template readable_secret(CK_KEY_TYPE kt) {
    Template t;
    t.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, kt);
    t.boolean(CKA_SENSITIVE, false).boolean(CKA_EXTRACTABLE, true);
    return t;
  }
  // secret_template: an unwrap template for a secret key (unwrapped keys are always sensitive:
  // key_policy.h); value_matches tells its value from what it computes.
  static Template secret_template(CK_KEY_TYPE kt) {
    Template t;
    t.ulong(CKA_CLASS, CKO_SECRET_KEY).ulong(CKA_KEY_TYPE, kt);
    return t;
  }
};

}  // namespace twinhsm::test
