// The seeds of fuzz_mechanisms: one operation of each kind with the mechanisms applications use,
// parameters well formed, encoded in mechanism_format.h's format (fuzz_seedgen writes them).
#include <cstdlib>
#include <initializer_list>
#include <iostream>
#include <string>

#include "common/bytes.h"
#include "fuzz_util.h"
#include "mechanism_format.h"

namespace twinhsm::fuzz::mechanisms {
namespace {

// Seed encodes one input field by field.
class Seed {
 public:
  Seed(Op op, KeyIndex a, CK_MECHANISM_TYPE m, KeyIndex b = kAesKnown) {
    bytes_ = {op, kRoundTrip, a, b, kRawMechanism};
    be(m, 4);
  }
  // The parameter: none, raw bytes (a structure without pointers), or a structure whose words
  // follow (n_*, p, r, b, array).
  Seed& no_param() { return put(kParamNull); }
  Seed& raw_param(ByteView v) { return put(kParamStructure).len_bytes(v); }
  Seed& structure() { return put(kParamStructure); }
  Seed& gcm() {  // CK_GCM_PARAMS has two layouts: a byte picks one (0: PKCS#11 3.0's)
    put(kParamStructure);
    return put(0);
  }
  Seed& n_byte(uint8_t v) { return put(kNumberByte).put(v); }
  Seed& n_len(CK_ULONG v) {
    put(kNumberLength);
    be(v, 2);
    return *this;
  }
  Seed& n_const(CK_ULONG v) {
    for (size_t i = 0; i < std::size(kConstants); ++i) {
      if (kConstants[i] == v) {
        return put(kNumberConstant).put(static_cast<uint8_t>(i));
      }
    }
    std::cerr << "fuzz_seedgen: " << v << " is not in kConstants\n";
    std::exit(1);
  }
  Seed& n_key(KeyIndex k) { return put(kNumberKey).put(k); }
  Seed& p(ByteView v) { return put(kPointerData).len_bytes(v); }
  Seed& p_null() { return put(kPointerNull); }
  Seed& r(ByteView eight) {
    bytes_.insert(bytes_.end(), eight.begin(), eight.end());
    return *this;
  }
  Seed& b(bool first, bool second) { return put(first).put(second); }
  Seed& array(uint8_t count) { return put(count); }  // then count structures' words
  Seed& data(ByteView v) { return len_bytes(v); }
  Seed& extra(ByteView v) { return len_bytes(v); }
  // The rest: the message parameter (none unless given), template, parts, output size.
  Seed& tail(TemplateKind t = kTemplateSecret, uint8_t parts = 0) {
    if (!message_) {
      put(kParamNull);
    }
    put(t).put(parts);
    be(512, 2);
    return *this;
  }
  Seed& message() {  // a message parameter structure follows
    message_ = true;
    return put(kParamStructure);
  }
  Bytes bytes() const { return bytes_; }

 private:
  Seed& put(uint8_t v) {
    bytes_.push_back(v);
    return *this;
  }
  void be(uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    }
  }
  Seed& len_bytes(ByteView v) {
    be(v.size(), 2);
    bytes_.insert(bytes_.end(), v.begin(), v.end());
    return *this;
  }
  Bytes bytes_;
  bool message_ = false;
};

Bytes filled(size_t n, uint8_t v) {
  return Bytes(n, v);
}

Bytes le_words(std::initializer_list<CK_ULONG> words) {
  Bytes out;
  for (CK_ULONG w : words) {
    for (size_t i = 0; i < sizeof w; ++i) {
      out.push_back(static_cast<uint8_t>(w >> (8 * i)));
    }
  }
  return out;
}

// The P-256 generator, uncompressed: a peer's public value for ECDH.
const Bytes kP256G = from_hex(
    "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");

}  // namespace

void mechanism_seeds(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  auto save = [&](const std::string& name, const Seed& seed) {
    Bytes b = seed.bytes();
    write_file(dir / name, b.data(), b.size());
    std::cout << "  " << (dir / name).string() << " (" << b.size() << " bytes)\n";
  };
  Bytes iv12 = filled(12, 0x42), iv16 = filled(16, 0x24), msg = filled(40, 0x61);
  Bytes aad = filled(5, 0x0a), label = filled(5, 0x6c);
  Bytes counter = le_words({128});  // CK_AES_CTR_PARAMS: ulCounterBits, then the counter block
  counter.insert(counter.end(), iv16.begin(), iv16.end());

  save("encrypt-aes-gcm", Seed(kEncrypt, kAesData, CKM_AES_GCM)
                              .gcm()
                              .p(iv12)
                              .n_len(12)
                              .n_len(96)
                              .p(aad)
                              .n_len(5)
                              .n_len(128)
                              .data(msg)
                              .extra({})
                              .tail());
  save("encrypt-aes-cbc-pad", Seed(kEncrypt, kAesData, CKM_AES_CBC_PAD)
                                  .raw_param(iv16)
                                  .data(filled(33, 1))
                                  .extra({})
                                  .tail());
  save("encrypt-parts-aes-ctr", Seed(kEncryptParts, kAesData, CKM_AES_CTR)
                                    .raw_param(counter)
                                    .data(filled(100, 2))
                                    .extra({})
                                    .tail(kTemplateSecret, 2));
  save("encrypt-aes-ccm", Seed(kEncrypt, kAesData, CKM_AES_CCM)
                              .structure()
                              .n_len(40)
                              .p(iv12)
                              .n_len(12)
                              .p(aad)
                              .n_len(5)
                              .n_len(16)
                              .data(msg)
                              .extra({})
                              .tail());
  save("encrypt-chacha20-poly1305", Seed(kEncrypt, kChaCha20, CKM_CHACHA20_POLY1305)
                                        .structure()
                                        .p(iv12)
                                        .n_len(12)
                                        .p(aad)
                                        .n_len(5)
                                        .data(msg)
                                        .extra({})
                                        .tail());
  save("encrypt-aes-xts",
       Seed(kEncrypt, kAesXts, CKM_AES_XTS).raw_param(iv16).data(filled(32, 3)).extra({}).tail());
  save("encrypt-rsa-oaep", Seed(kEncrypt, kRsaEncrypt, CKM_RSA_PKCS_OAEP)
                               .structure()
                               .n_const(CKM_SHA256)
                               .n_const(CKG_MGF1_SHA256)
                               .n_const(CKZ_DATA_SPECIFIED)
                               .p(label)
                               .n_len(5)
                               .data(msg)
                               .extra({})
                               .tail());
  save("decrypt-aes-ecb",
       Seed(kDecrypt, kAesData, CKM_AES_ECB).no_param().data(filled(32, 4)).extra({}).tail());
  save("sign-ecdsa-sha256",
       Seed(kSign, kEcSign, CKM_ECDSA_SHA256).no_param().data(msg).extra({}).tail());
  save("sign-parts-rsa-pss", Seed(kSignParts, kRsaSign, CKM_SHA256_RSA_PKCS_PSS)
                                 .raw_param(le_words({CKM_SHA256, CKG_MGF1_SHA256, 32}))
                                 .data(msg)
                                 .extra({})
                                 .tail(kTemplateSecret, 3));
  save("sign-rsa-pkcs", Seed(kSign, kRsaSign, CKM_RSA_PKCS).no_param().data(msg).extra({}).tail());
  save("sign-eddsa-context", Seed(kSign, kEd25519Sign, CKM_EDDSA)
                                 .structure()
                                 .b(false, false)
                                 .n_len(5)
                                 .p(aad)
                                 .data(msg)
                                 .extra({})
                                 .tail());
  save("sign-hmac-general", Seed(kSign, kHmac, CKM_SHA256_HMAC_GENERAL)
                                .raw_param(le_words({16}))
                                .data(msg)
                                .extra({})
                                .tail());
  save("sign-parts-aes-cmac", Seed(kSignParts, kAesData, CKM_AES_CMAC)
                                  .no_param()
                                  .data(msg)
                                  .extra({})
                                  .tail(kTemplateSecret, 4));
  save("verify-ecdsa", Seed(kVerify, kEcVerify, CKM_ECDSA)
                           .no_param()
                           .data(filled(32, 5))
                           .extra(filled(64, 6))
                           .tail());
  save("digest-sha256", Seed(kDigest, kAesData, CKM_SHA256).no_param().data(msg).extra({}).tail());
  save("digest-parts-sha3-key", Seed(kDigestParts, kAesData, CKM_SHA3_256, kAesKnown)
                                    .no_param()
                                    .data(msg)
                                    .extra({})
                                    .tail(kTemplateSecret, 2));
  save("wrap-aes-kwp", Seed(kWrap, kAesWrap, CKM_AES_KEY_WRAP_KWP, kAesSensitive)
                           .no_param()
                           .data({})
                           .extra({})
                           .tail(kTemplateAesNoSize));
  save("wrap-rsa-oaep", Seed(kWrap, kRsaWrap, CKM_RSA_PKCS_OAEP, kAesKnown)
                            .structure()
                            .n_const(CKM_SHA256)
                            .n_const(CKG_MGF1_SHA256)
                            .n_const(CKZ_DATA_SPECIFIED)
                            .p_null()
                            .n_byte(0)
                            .data({})
                            .extra({})
                            .tail(kTemplateAesNoSize));
  save("unwrap-aes-kw", Seed(kUnwrap, kAesWrap, CKM_AES_KEY_WRAP)
                            .no_param()
                            .data({})
                            .extra(filled(40, 7))
                            .tail(kTemplateAes));
  save("derive-ecdh", Seed(kDerive, kEcDerive, CKM_ECDH1_DERIVE)
                          .structure()
                          .n_const(CKD_NULL)
                          .n_byte(0)
                          .p_null()
                          .n_len(65)
                          .p(kP256G)
                          .data({})
                          .extra({})
                          .tail(kTemplateSecret));
  save("derive-hkdf", Seed(kDerive, kSecretDerive, CKM_HKDF_DERIVE)
                          .structure()
                          .b(true, true)
                          .n_const(CKM_SHA256)
                          .n_const(CKF_HKDF_SALT_DATA)
                          .p(aad)
                          .n_len(5)
                          .n_byte(0)
                          .p(label)
                          .n_len(5)
                          .data({})
                          .extra({})
                          .tail(kTemplateSecret));
  save("derive-sp800-108", Seed(kDerive, kSecretDerive, CKM_SP800_108_COUNTER_KDF)
                               .structure()
                               .n_const(CKM_SHA256_HMAC)
                               .n_byte(2)
                               .array(2)
                               .n_const(CK_SP800_108_ITERATION_VARIABLE)
                               .p(le_words({0, 32}))
                               .n_len(16)  // CK_SP800_108_COUNTER_FORMAT
                               .n_const(CK_SP800_108_BYTE_ARRAY)
                               .p(label)
                               .n_len(5)
                               .n_byte(0)
                               .array(0)
                               .data({})
                               .extra({})
                               .tail(kTemplateSecret));
  save("derive-aes-ecb-data", Seed(kDerive, kAesDerive, CKM_AES_ECB_ENCRYPT_DATA)
                                  .structure()
                                  .p(iv16)
                                  .n_len(16)
                                  .data({})
                                  .extra({})
                                  .tail(kTemplateAesNoSize));
  save("generate-aes", Seed(kGenerateKey, kAesData, CKM_AES_KEY_GEN)
                           .no_param()
                           .data({})
                           .extra({})
                           .tail(kTemplateAes));
  save("message-aes-gcm", Seed(kEncryptMessage, kAesData, CKM_AES_GCM)
                              .no_param()
                              .data(msg)
                              .extra(aad)
                              .message()
                              .p(iv12)
                              .n_len(12)
                              .n_byte(0)
                              .n_const(CKG_GENERATE_RANDOM)
                              .p(filled(16, 0))
                              .n_len(128)
                              .tail());
  save("message-parts-chacha20", Seed(kEncryptMessageParts, kChaCha20, CKM_CHACHA20_POLY1305)
                                     .no_param()
                                     .data(msg)
                                     .extra(aad)
                                     .message()
                                     .p(iv12)
                                     .n_len(12)
                                     .p(filled(16, 0))
                                     .tail(kTemplateSecret, 3));
}

}  // namespace twinhsm::fuzz::mechanisms
