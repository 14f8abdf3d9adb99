// The message-based functions of PKCS#11 3.0 (C_MessageEncryptInit ... C_MessageVerifyFinal):
// AES-CCM (NIST's DVPT vectors) and ChaCha20-Poly1305 (RFC 8439 / BoringSSL) known answers through
// C_EncryptMessage/C_DecryptMessage, many messages per operation; AES-GCM's known answer, in parts,
// and with the IVs the token generates (counter, counter XOR, random) checked with OpenSSL;
// signatures of messages checked with OpenSSL and against C_Sign; and the operation's rules (a
// failed message ends the message, not the operation; C_SessionCancel; logout).
#include <map>
#include <set>

#include "mechanism_fixture.h"
#include "test_util.h"

namespace twinhsm::test {
namespace {

namespace vec = twinhsm::crypto::test;

class MessageTest : public MechanismFixture {
 protected:
  // aes and chacha keys that encrypt and decrypt, cached by value.
  CK_OBJECT_HANDLE key_for_value(CK_KEY_TYPE kt, const Bytes& value) {
    auto [it, fresh] = keys_.try_emplace(value, CK_INVALID_HANDLE);
    if (fresh) {
      it->second = secret(kt, value);
    }
    return it->second;
  }

  // message runs C_EncryptMessage or C_DecryptMessage in the active operation with a size query
  // first (which must be exact); the CK_RV of the failing call.
  CK_RV message(bool enc, void* param, CK_ULONG param_len, const Bytes& aad, const Bytes& in,
                Bytes* out) {
    auto call = enc ? f()->C_EncryptMessage : f()->C_DecryptMessage;
    CK_ULONG len = 0;
    CK_RV rv = call(s_, param, param_len, ptr(aad), aad.size(), ptr(in), in.size(), nullptr, &len);
    if (rv != CKR_OK) {
      return rv;
    }
    out->assign(len + 1, 0);
    CK_ULONG got = len;
    rv = call(s_, param, param_len, ptr(aad), aad.size(), ptr(in), in.size(), out->data(), &got);
    EXPECT_EQ(got, len) << "the size query was not exact";
    out->resize(rv == CKR_OK ? got : 0);
    return rv;
  }

  // message_in_parts: Begin, then Next for each part (no output before the last), the last with
  // CKF_END_OF_MESSAGE after a size query.
  CK_RV message_in_parts(bool enc, void* param, CK_ULONG param_len, const Bytes& aad,
                         const Bytes& in, size_t part, Bytes* out) {
    auto begin = enc ? f()->C_EncryptMessageBegin : f()->C_DecryptMessageBegin;
    auto next = enc ? f()->C_EncryptMessageNext : f()->C_DecryptMessageNext;
    if (CK_RV rv = begin(s_, param, param_len, ptr(aad), aad.size()); rv != CKR_OK) {
      return rv;
    }
    size_t off = 0;
    for (; in.size() - off > part; off += part) {
      CK_ULONG len = 0;
      EXPECT_CKR(CKR_OK, next(s_, param, param_len, ptr(in) + off, part, nullptr, &len, 0));
      EXPECT_EQ(len, 0u) << "output before the message's end";
      Bytes none(1);
      EXPECT_CKR(CKR_OK, next(s_, param, param_len, ptr(in) + off, part, none.data(), &len, 0));
    }
    CK_ULONG len = 0;
    const CK_ULONG rest = in.size() - off;
    CK_RV rv = next(s_, param, param_len, ptr(in) + off, rest, nullptr, &len, CKF_END_OF_MESSAGE);
    if (rv != CKR_OK) {
      return rv;
    }
    EXPECT_EQ(len, in.size());
    out->assign(len + 1, 0);
    rv = next(s_, param, param_len, ptr(in) + off, rest, out->data(), &len, CKF_END_OF_MESSAGE);
    out->resize(rv == CKR_OK ? len : 0);
    return rv;
  }

  std::map<Bytes, CK_OBJECT_HANDLE> keys_;
};

// Every DVPT record of AES-128 and AES-256 CCM: Pass records decrypt to their payload and encrypt
// back to their ciphertext; Fail records answer CKR_AEAD_DECRYPT_FAILED and the operation goes on.
TEST_F(MessageTest, CcmNistVectors) {
  CK_MECHANISM ccm{CKM_AES_CCM, nullptr, 0};
  size_t passed = 0, failed = 0;
  CK_OBJECT_HANDLE current = CK_INVALID_HANDLE;
  for (const char* file : {"aead/DVPT128.rsp", "aead/DVPT256.rsp"}) {
    for (const auto& r : vec::parse_cavp(file, "Count")) {
      SCOPED_TRACE(std::string(file) + " line " + std::to_string(r.line));
      size_t alen = std::stoul(r.section.at("Alen"));
      size_t plen = std::stoul(r.section.at("Plen"));
      size_t tlen = std::stoul(r.section.at("Tlen"));
      CK_OBJECT_HANDLE key = key_for_value(CKK_AES, vec::hex(r.section.at("Key")));
      if (key != current) {
        if (current != CK_INVALID_HANDLE) {
          ASSERT_CKR(CKR_OK, f()->C_MessageDecryptFinal(s_));
          ASSERT_CKR(CKR_OK, f()->C_MessageEncryptFinal(s_));
        }
        ASSERT_CKR(CKR_OK, f()->C_MessageDecryptInit(s_, &ccm, key));
        ASSERT_CKR(CKR_OK, f()->C_MessageEncryptInit(s_, &ccm, key));
        current = key;
      }
      Bytes nonce = vec::hex(r.at("Nonce"));
      Bytes aad = alen ? vec::hex(r.at("Adata")) : Bytes();
      Bytes ct = vec::hex(r.at("CT"));
      Bytes tag(ct.end() - static_cast<long>(tlen), ct.end());
      ct.resize(ct.size() - tlen);
      CK_CCM_MESSAGE_PARAMS p{plen, ptr(nonce), nonce.size(), 0, CKG_NO_GENERATE, ptr(tag), tlen};
      Bytes out;
      CK_RV rv = message(false, &p, sizeof p, aad, ct, &out);
      if (r.at("Result") != "Pass") {
        EXPECT_CKR(CKR_AEAD_DECRYPT_FAILED, rv);
        ++failed;
        continue;
      }
      ASSERT_CKR(CKR_OK, rv);
      Bytes pt = plen ? vec::hex(r.at("Payload")) : Bytes();
      EXPECT_EQ(out, pt);
      Bytes new_tag(tlen);
      p.pMAC = new_tag.data();
      ASSERT_CKR(CKR_OK, message(true, &p, sizeof p, aad, pt, &out));
      EXPECT_EQ(out, ct);
      EXPECT_EQ(new_tag, tag);
      ++passed;
    }
  }
  EXPECT_EQ(passed + failed, 480u);
  EXPECT_GT(failed, 100u);
}

// RFC 8439 section 2.8.2 and BoringSSL's 12-byte-nonce records, each one message of one
// operation; a tag with a bit flipped fails the message only.
TEST_F(MessageTest, ChaCha20Poly1305Vectors) {
  CK_MECHANISM mech{CKM_CHACHA20_POLY1305, nullptr, 0};
  size_t checked = 0;
  for (const auto& r : vec::parse_cavp("aead/chacha20poly1305-boringssl.txt")) {
    Bytes nonce = vec::hex(r.at("NONCE"));
    Bytes tag = vec::hex(r.at("TAG"));
    if (nonce.size() != 12 || tag.size() != 16) {
      continue;  // the original construction's 8-byte nonce: not offered (docs/pkcs11.md)
    }
    SCOPED_TRACE("line " + std::to_string(r.line));
    CK_OBJECT_HANDLE key = key_for_value(CKK_CHACHA20, vec::hex(r.at("KEY")));
    Bytes pt = vec::cavp_value(r.at("IN"));
    Bytes aad = vec::cavp_value(r.at("AD"));
    Bytes ct = vec::cavp_value(r.at("CT"));
    Bytes got_tag(16);
    CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS p{ptr(nonce), nonce.size(), got_tag.data()};
    Bytes out;
    ASSERT_CKR(CKR_OK, f()->C_MessageEncryptInit(s_, &mech, key));
    ASSERT_CKR(CKR_OK, message(true, &p, sizeof p, aad, pt, &out));
    EXPECT_EQ(out, ct);
    EXPECT_EQ(got_tag, tag);
    ASSERT_CKR(CKR_OK, f()->C_MessageEncryptFinal(s_));

    ASSERT_CKR(CKR_OK, f()->C_MessageDecryptInit(s_, &mech, key));
    Bytes bad = tag;
    bad.back() ^= 1;
    p.pTag = bad.data();
    EXPECT_CKR(CKR_AEAD_DECRYPT_FAILED, message(false, &p, sizeof p, aad, ct, &out));
    p.pTag = tag.data();
    ASSERT_CKR(CKR_OK, message(false, &p, sizeof p, aad, ct, &out));
    EXPECT_EQ(out, pt);
    ASSERT_CKR(CKR_OK, f()->C_MessageDecryptFinal(s_));
    ++checked;
  }
  EXPECT_GT(checked, 50u);
}

// GCM's test case 4 (McGrew and Viega), whole and in parts of 7 bytes, and OpenSSL agreeing.
TEST_F(MessageTest, GcmKnownAnswerInParts) {
  Bytes k = from_hex("feffe9928665731c6d6a8f9467308308");
  Bytes iv = from_hex("cafebabefacedbaddecaf888");
  Bytes pt = from_hex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
      "b525b16aedf5aa0de657ba637b39");
  Bytes aad = from_hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  Bytes ct = from_hex(
      "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84"
      "aa051ba30b396a0aac973d58e091");
  Bytes tag = from_hex("5bc94fbc3221a5db94fae95ae7121a47");
  ASSERT_EQ(ossl::aes_gcm_encrypt(k, iv, aad, pt, 16), concat(ct, tag));
  CK_OBJECT_HANDLE key = secret(CKK_AES, k);
  CK_MECHANISM gcm{CKM_AES_GCM, nullptr, 0};
  Bytes got_tag(16), out;
  CK_GCM_MESSAGE_PARAMS p{ptr(iv), iv.size(), 0, CKG_NO_GENERATE, got_tag.data(), 128};
  ASSERT_CKR(CKR_OK, f()->C_MessageEncryptInit(s_, &gcm, key));
  for (size_t part : {pt.size(), size_t{7}, size_t{1}}) {
    SCOPED_TRACE("parts of " + std::to_string(part));
    std::fill(got_tag.begin(), got_tag.end(), 0);
    ASSERT_CKR(CKR_OK, message_in_parts(true, &p, sizeof p, aad, pt, part, &out));
    EXPECT_EQ(out, ct);
    EXPECT_EQ(got_tag, tag);
  }
  ASSERT_CKR(CKR_OK, f()->C_MessageEncryptFinal(s_));

  ASSERT_CKR(CKR_OK, f()->C_MessageDecryptInit(s_, &gcm, key));
  p.pTag = tag.data();
  ASSERT_CKR(CKR_OK, message_in_parts(false, &p, sizeof p, aad, ct, 7, &out));
  EXPECT_EQ(out, pt);
  Bytes wrong_aad = aad;
  wrong_aad[0] ^= 0x80;
  EXPECT_CKR(CKR_AEAD_DECRYPT_FAILED,
             message_in_parts(false, &p, sizeof p, wrong_aad, ct, 7, &out));
  ASSERT_CKR(CKR_OK, message(false, &p, sizeof p, aad, ct, &out));  // the operation goes on
  EXPECT_EQ(out, pt);
  // A short tag (96 bits) is the leading bytes of the full one.
  ASSERT_CKR(CKR_OK, f()->C_MessageDecryptFinal(s_));
  ASSERT_CKR(CKR_OK, f()->C_MessageEncryptInit(s_, &gcm, key));
  p.pTag = got_tag.data();
  p.ulTagBits = 96;
  ASSERT_CKR(CKR_OK, message(true, &p, sizeof p, aad, pt, &out));
  EXPECT_EQ(Bytes(got_tag.begin(), got_tag.begin() + 12), Bytes(tag.begin(), tag.begin() + 12));
  p.ulTagBits = 100;
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, message(true, &p, sizeof p, aad, pt, &out));
}

// IVs the token makes: the fixed leading bits kept, the rest a counter (successive values from a
// random start in each operation, so that two operations under one key do not repeat IVs), the
// given bits XOR the counter, or random (CKG_GENERATE too); each written back into the caller's
// parameter and decrypting with OpenSSL's result. Fewer than 64 generated bits are refused.
TEST_F(MessageTest, GeneratedIvs) {
  Bytes k = test_data(32, 9);
  CK_OBJECT_HANDLE key = secret(CKK_AES, k);
  CK_MECHANISM gcm{CKM_AES_GCM, nullptr, 0};
  Bytes pt = test_data(40), aad = test_data(5, 1);
  auto run = [&](CK_GENERATOR_FUNCTION gen, CK_ULONG fixed_bits, const Bytes& given) {
    Bytes iv = given, tag(16), out;
    CK_GCM_MESSAGE_PARAMS p{iv.data(), iv.size(), fixed_bits, gen, tag.data(), 128};
    EXPECT_CKR(CKR_OK, message(true, &p, sizeof p, aad, pt, &out));
    EXPECT_EQ(ossl::aes_gcm_encrypt(k, iv, aad, pt, 16), concat(out, tag)) << "IV as written back";
    return iv;
  };
  // The counted part of a 12-byte IV with 32 fixed bits: its last 8 bytes, big-endian.
  auto counted = [](const Bytes& iv) {
    uint64_t v = 0;
    for (size_t i = 4; i < 12; ++i) {
      v = v << 8 | iv[i];
    }
    return v;
  };
  Bytes given = from_hex("a1a2a3a4ffffffffffffffff");
  std::set<Bytes> starts;
  for (int op = 0; op < 2; ++op) {
    ASSERT_CKR(CKR_OK, f()->C_MessageEncryptInit(s_, &gcm, key));
    Bytes first = run(CKG_GENERATE_COUNTER, 32, given);
    EXPECT_EQ(Bytes(first.begin(), first.begin() + 4), from_hex("a1a2a3a4"));
    for (uint64_t i = 1; i < 3; ++i) {
      Bytes next = run(CKG_GENERATE_COUNTER, 32, given);
      EXPECT_EQ(Bytes(next.begin(), next.begin() + 4), from_hex("a1a2a3a4"));
      EXPECT_EQ(counted(next), counted(first) + i) << "successive counter values";
    }
    starts.insert(first);
    ASSERT_CKR(CKR_OK, f()->C_MessageEncryptFinal(s_));
  }
  EXPECT_EQ(starts.size(), 2u) << "a new operation must not count over the last one's IVs";
  ASSERT_CKR(CKR_OK, f()->C_MessageEncryptInit(s_, &gcm, key));
  Bytes x1 = run(CKG_GENERATE_COUNTER_XOR, 32, given);
  Bytes x2 = run(CKG_GENERATE_COUNTER_XOR, 32, given);
  EXPECT_EQ(Bytes(x1.begin(), x1.begin() + 4), from_hex("a1a2a3a4"));
  EXPECT_EQ(counted(x1) ^ counted(x2), (~counted(x1)) ^ (~counted(x1) + 1)) << "given XOR counter";
  std::set<Bytes> seen;
  for (int i = 0; i < 4; ++i) {
    for (CK_GENERATOR_FUNCTION gen : {CKG_GENERATE_RANDOM, CKG_GENERATE}) {
      Bytes iv = run(gen, 32, given);
      EXPECT_EQ(Bytes(iv.begin(), iv.begin() + 4), from_hex("a1a2a3a4"));
      seen.insert(iv);
    }
  }
  EXPECT_EQ(seen.size(), 8u);
  // Fewer than 64 generated bits (random or counter), a counter with no free bit, a generator
  // the token does not know.
  Bytes iv = given, tag(16), out;
  CK_GCM_MESSAGE_PARAMS p{iv.data(), iv.size(), 40, CKG_GENERATE_RANDOM, tag.data(), 128};
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, message(true, &p, sizeof p, aad, pt, &out));
  for (CK_GENERATOR_FUNCTION gen : {CKG_GENERATE_COUNTER, CKG_GENERATE_COUNTER_XOR, CKG_GENERATE}) {
    p.ivGenerator = gen;
    p.ulIvFixedBits = 64;
    EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, message(true, &p, sizeof p, aad, pt, &out));
  }
  p.ivGenerator = CKG_GENERATE_COUNTER;
  p.ulIvFixedBits = 96;
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, message(true, &p, sizeof p, aad, pt, &out));
  p.ivGenerator = 77;
  p.ulIvFixedBits = 0;
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, message(true, &p, sizeof p, aad, pt, &out));
  ASSERT_CKR(CKR_OK, f()->C_MessageEncryptFinal(s_));
}

// Signatures of messages: ECDSA checked with OpenSSL, HMAC equal to C_Sign's; whole or in parts;
// a bad signature fails that message only.
TEST_F(MessageTest, SignAndVerifyMessages) {
  ossl::PKey ec = ossl::generate_ec("P-256");
  CK_OBJECT_HANDLE priv = import_ec_private(ec.get(), ec_params_p256());
  CK_OBJECT_HANDLE hmac = secret(CKK_GENERIC_SECRET, test_data(32, 3));
  CK_MECHANISM ecdsa{CKM_ECDSA_SHA256, nullptr, 0};
  CK_MECHANISM hmac_sha256{CKM_SHA256_HMAC, nullptr, 0};
  Bytes m1 = test_data(100, 1), m2 = test_data(33, 2);

  ASSERT_CKR(CKR_OK, f()->C_MessageSignInit(s_, &ecdsa, priv));
  for (const Bytes* m : {&m1, &m2}) {
    CK_ULONG len = 0;
    ASSERT_CKR(CKR_OK, f()->C_SignMessage(s_, nullptr, 0, ptr(*m), m->size(), nullptr, &len));
    Bytes sig(len);
    ASSERT_CKR(CKR_OK, f()->C_SignMessage(s_, nullptr, 0, ptr(*m), m->size(), sig.data(), &len));
    EXPECT_TRUE(ossl::verify(ec.get(), {ossl::Scheme::ecdsa, "SHA256"}, *m, sig));
  }
  // In parts: Begin, Next without a length pointer, then the last with one.
  ASSERT_CKR(CKR_OK, f()->C_SignMessageBegin(s_, nullptr, 0));
  ASSERT_CKR(CKR_OK, f()->C_SignMessageNext(s_, nullptr, 0, ptr(m1), 60, nullptr, nullptr));
  CK_ULONG len = 0;
  ASSERT_CKR(CKR_OK, f()->C_SignMessageNext(s_, nullptr, 0, ptr(m1) + 60, 40, nullptr, &len));
  Bytes sig(len);
  ASSERT_CKR(CKR_OK, f()->C_SignMessageNext(s_, nullptr, 0, ptr(m1) + 60, 40, sig.data(), &len));
  EXPECT_TRUE(ossl::verify(ec.get(), {ossl::Scheme::ecdsa, "SHA256"}, m1, sig));
  Bytes param(8);
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID,
             f()->C_SignMessage(s_, param.data(), 8, ptr(m1), m1.size(), sig.data(), &len));
  ASSERT_CKR(CKR_OK, f()->C_MessageSignFinal(s_));

  Bytes expected = sign(&hmac_sha256, hmac, m1);
  ASSERT_CKR(CKR_OK, f()->C_MessageSignInit(s_, &hmac_sha256, hmac));
  len = 32;
  Bytes mac(32);
  ASSERT_CKR(CKR_OK, f()->C_SignMessage(s_, nullptr, 0, ptr(m1), m1.size(), mac.data(), &len));
  EXPECT_EQ(mac, expected);
  ASSERT_CKR(CKR_OK, f()->C_MessageSignFinal(s_));

  ASSERT_CKR(CKR_OK, f()->C_MessageVerifyInit(s_, &hmac_sha256, hmac));
  Bytes bad = mac;
  bad[5] ^= 4;
  EXPECT_CKR(CKR_SIGNATURE_INVALID,
             f()->C_VerifyMessage(s_, nullptr, 0, ptr(m1), m1.size(), bad.data(), bad.size()));
  EXPECT_CKR(CKR_OK,
             f()->C_VerifyMessage(s_, nullptr, 0, ptr(m1), m1.size(), mac.data(), mac.size()));
  ASSERT_CKR(CKR_OK, f()->C_VerifyMessageBegin(s_, nullptr, 0));
  ASSERT_CKR(CKR_OK, f()->C_VerifyMessageNext(s_, nullptr, 0, ptr(m1), 50, nullptr, 0));
  EXPECT_CKR(CKR_OK,
             f()->C_VerifyMessageNext(s_, nullptr, 0, ptr(m1) + 50, 50, mac.data(), mac.size()));
  ASSERT_CKR(CKR_OK, f()->C_MessageVerifyFinal(s_));
}

// The operation's rules: one message at a time, parts only after Begin, an init parameter or a
// mechanism that is not an AEAD refused, the key's functions checked, C_SessionCancel and logout
// end the operations, a key that needs a login per use signs no messages.
TEST_F(MessageTest, OperationRules) {
  CK_OBJECT_HANDLE key = secret(CKK_AES, test_data(16));
  CK_MECHANISM gcm{CKM_AES_GCM, nullptr, 0};
  Bytes iv(12, 1), tag(16), pt = test_data(20), out;
  CK_GCM_MESSAGE_PARAMS p{ptr(iv), iv.size(), 0, CKG_NO_GENERATE, tag.data(), 128};
  CK_GCM_PARAMS single{ptr(iv), iv.size(), 96, nullptr, 0, 128};
  CK_MECHANISM with_param{CKM_AES_GCM, &single, sizeof single};
  Bytes cbc_iv(16, 2);
  CK_MECHANISM cbc{CKM_AES_CBC, ptr(cbc_iv), 16};
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, f()->C_MessageEncryptInit(s_, &with_param, key));
  EXPECT_CKR(CKR_MECHANISM_INVALID, f()->C_MessageEncryptInit(s_, &cbc, key));
  Template no_encrypt;
  no_encrypt.boolean(CKA_ENCRYPT, false);
  CK_OBJECT_HANDLE decrypt_only = secret(CKK_AES, test_data(16), no_encrypt);
  EXPECT_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED, f()->C_MessageEncryptInit(s_, &gcm, decrypt_only));

  ASSERT_CKR(CKR_OK, f()->C_MessageEncryptInit(s_, &gcm, key));
  EXPECT_CKR(CKR_OPERATION_ACTIVE, f()->C_MessageEncryptInit(s_, &gcm, key));
  CK_ULONG len = 64;
  Bytes buf(64);
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED,
             f()->C_EncryptMessageNext(s_, &p, sizeof p, ptr(pt), pt.size(), buf.data(), &len,
                                       CKF_END_OF_MESSAGE));
  ASSERT_CKR(CKR_OK, f()->C_EncryptMessageBegin(s_, &p, sizeof p, nullptr, 0));
  EXPECT_CKR(CKR_OPERATION_ACTIVE, message(true, &p, sizeof p, {}, pt, &out));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, f()->C_EncryptMessageNext(s_, &p, sizeof p, ptr(pt), pt.size(),
                                                          buf.data(), &len, 0x10));
  // That error ended the message: a new one may begin, and the operation is still there.
  EXPECT_CKR(CKR_OK, message(true, &p, sizeof p, {}, pt, &out));
  EXPECT_CKR(CKR_OK, f()->C_SessionCancel(s_, CKF_MESSAGE_ENCRYPT));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, message(true, &p, sizeof p, {}, pt, &out));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, f()->C_MessageEncryptFinal(s_));

  // CCM: the message must be as long as its parameter says.
  CK_MECHANISM ccm{CKM_AES_CCM, nullptr, 0};
  CK_CCM_MESSAGE_PARAMS cp{pt.size() + 1, ptr(iv), 12, 0, CKG_NO_GENERATE, tag.data(), 16};
  ASSERT_CKR(CKR_OK, f()->C_MessageEncryptInit(s_, &ccm, key));
  EXPECT_CKR(CKR_DATA_LEN_RANGE, message(true, &cp, sizeof cp, {}, pt, &out));
  cp.ulDataLen = pt.size();
  EXPECT_CKR(CKR_OK, message(true, &cp, sizeof cp, {}, pt, &out));
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, message(true, &p, sizeof p, {}, pt, &out));  // GCM's
  ASSERT_CKR(CKR_OK, f()->C_MessageEncryptFinal(s_));
  // A MAC length out of CCM's range is refused before a byte of pMAC is read (a 2^30 length
  // over a 16-byte buffer read past it until the process died).
  ASSERT_CKR(CKR_OK, f()->C_MessageDecryptInit(s_, &ccm, key));
  for (CK_ULONG mac_len : {CK_ULONG{18}, CK_ULONG{1} << 30, CK_ULONG{3}}) {
    cp.ulMACLen = mac_len;
    EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, message(false, &cp, sizeof cp, {}, pt, &out))
        << mac_len;
    EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID,
               f()->C_DecryptMessageBegin(s_, &cp, sizeof cp, nullptr, 0))
        << mac_len;
  }
  ASSERT_CKR(CKR_OK, f()->C_MessageDecryptFinal(s_));
  // The last part's tag length must be the message's: a shorter one was written past.
  ASSERT_CKR(CKR_OK, f()->C_MessageEncryptInit(s_, &gcm, key));
  ASSERT_CKR(CKR_OK, f()->C_EncryptMessageBegin(s_, &p, sizeof p, nullptr, 0));
  Bytes short_tag(8, 0xAA);
  CK_GCM_MESSAGE_PARAMS p32{ptr(iv), iv.size(), 0, CKG_NO_GENERATE, short_tag.data(), 32};
  len = 64;
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID,
             f()->C_EncryptMessageNext(s_, &p32, sizeof p32, ptr(pt), pt.size(), buf.data(), &len,
                                       CKF_END_OF_MESSAGE));
  EXPECT_EQ(short_tag, Bytes(8, 0xAA));
  ASSERT_CKR(CKR_OK, f()->C_MessageEncryptFinal(s_));
  // A key that may decrypt but not encrypt checks no GCM tag under 8 bytes: extended a byte at a
  // time (256 tries each) from the first 4, a full tag, and with it the key's keystream.
  p.ulTagBits = 32;
  ASSERT_CKR(CKR_OK, f()->C_MessageDecryptInit(s_, &gcm, decrypt_only));
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, message(false, &p, sizeof p, {}, pt, &out));
  ASSERT_CKR(CKR_OK, f()->C_MessageDecryptFinal(s_));
  CK_GCM_PARAMS single32{ptr(iv), iv.size(), 96, nullptr, 0, 32};
  CK_MECHANISM gcm32{CKM_AES_GCM, &single32, sizeof single32};
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, f()->C_DecryptInit(s_, &gcm32, decrypt_only));
  EXPECT_CKR(CKR_OK, f()->C_DecryptInit(s_, &gcm32, key));  // it may encrypt: nothing to learn
  ASSERT_CKR(CKR_OK, f()->C_SessionCancel(s_, CKF_DECRYPT));
  p.ulTagBits = 128;

  // The mechanism info says which mechanisms the message functions take.
  CK_MECHANISM_INFO info;
  ASSERT_CKR(CKR_OK, f()->C_GetMechanismInfo(0, CKM_AES_GCM, &info));
  EXPECT_EQ(info.flags & (CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT | CKF_MULTI_MESSAGE),
            CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT | CKF_MULTI_MESSAGE);
  ASSERT_CKR(CKR_OK, f()->C_GetMechanismInfo(0, CKM_ECDSA_SHA256, &info));
  EXPECT_EQ(info.flags & (CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY | CKF_MULTI_MESSAGE),
            CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY | CKF_MULTI_MESSAGE);
  ASSERT_CKR(CKR_OK, f()->C_GetMechanismInfo(0, CKM_AES_CBC, &info));
  EXPECT_EQ(info.flags & (CKF_MESSAGE_ENCRYPT | CKF_MULTI_MESSAGE), 0u);

  // Private keys: a logout ends the message signing (in another session of the application, the
  // next message finds the user logged out); a key needing a login per use is refused.
  ossl::PKey ec = ossl::generate_ec("P-256");
  CK_MECHANISM ecdsa{CKM_ECDSA, nullptr, 0};
  Template always;
  always.boolean(CKA_ALWAYS_AUTHENTICATE, true);
  CK_OBJECT_HANDLE per_use = import_ec_private(ec.get(), ec_params_p256(), always);
  EXPECT_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED, f()->C_MessageSignInit(s_, &ecdsa, per_use));
  CK_OBJECT_HANDLE priv = import_ec_private(ec.get(), ec_params_p256());
  CK_SESSION_HANDLE other = open_session();
  ASSERT_CKR(CKR_OK, f()->C_MessageSignInit(s_, &ecdsa, priv));
  ASSERT_CKR(CKR_OK, f()->C_MessageSignInit(other, &ecdsa, priv));
  Bytes digest(32, 7);
  len = 64;
  EXPECT_CKR(CKR_OK, f()->C_SignMessage(other, nullptr, 0, ptr(digest), 32, buf.data(), &len));
  ASSERT_CKR(CKR_OK, f()->C_Logout(s_));
  len = 64;
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED,
             f()->C_SignMessage(s_, nullptr, 0, ptr(digest), 32, buf.data(), &len));
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN,
             f()->C_SignMessage(other, nullptr, 0, ptr(digest), 32, buf.data(), &len));
}

}  // namespace
}  // namespace twinhsm::test
