// Authenticated encryption (cipher_families.h): AES-GCM, AES-CCM, ChaCha20-Poly1305. Everything
// happens at the end: decryption must authenticate before it releases anything.
#include "crypto/aead.h"
#include "token/attribute_policy.h"
#include "token/cipher_families.h"
#include "token/ck_error.h"

namespace twinhsm::token {

namespace {

class AeadOperation : public CipherOperation {
 public:
  // data_len: CCM's announced message length (the plaintext's); nullopt for the others.
  AeadOperation(crypto::AeadAlg alg, SecureBytes key, Bytes nonce, Bytes aad, size_t tag_len,
                std::optional<size_t> data_len, bool encrypt)
      : alg_(alg),
        key_(std::move(key)),
        nonce_(std::move(nonce)),
        aad_(std::move(aad)),
        tag_len_(tag_len),
        data_len_(data_len),
        encrypt_(encrypt) {}

  std::optional<size_t> output_size(size_t n) const override {
    return encrypt_ ? n + tag_len_ : (n >= tag_len_ ? n - tag_len_ : 0);
  }
  SecureBytes run(ByteView in) override {
    check_length(in.size());
    if (encrypt_) {
      return crypto::secure_copy(crypto::aead_encrypt(alg_, key_, nonce_, aad_, in, tag_len_));
    }
    try {
      return crypto::aead_decrypt(alg_, key_, nonce_, aad_, in, tag_len_);
    } catch (const IntegrityError&) {
      throw CkError(CKR_ENCRYPTED_DATA_INVALID, "the tag does not verify");
    }
  }
  bool run_into(ByteView in, std::span<uint8_t> out) override {
    if (!encrypt_) {
      return false;  // decryption authenticates before it releases anything: run() buffers
    }
    check_length(in.size());
    crypto::aead_encrypt_into(alg_, key_, nonce_, aad_, in, out, tag_len_);
    return true;
  }
  std::optional<size_t> update_size(size_t) const override { return 0; }
  SecureBytes update(ByteView in) override {
    buffer_.insert(buffer_.end(), in.begin(), in.end());
    return {};
  }
  std::optional<size_t> finish_size() const override { return output_size(buffer_.size()); }
  SecureBytes finish() override { return run(buffer_); }

 private:
  void check_length(size_t n) const {
    if (encrypt_) {
      require(!data_len_ || n == *data_len_, CKR_DATA_LEN_RANGE,
              "the data is not as long as CK_CCM_PARAMS.ulDataLen announced");
    } else {
      require(n >= tag_len_, CKR_ENCRYPTED_DATA_LEN_RANGE, "the ciphertext is too short");
      require(!data_len_ || n - tag_len_ == *data_len_, CKR_ENCRYPTED_DATA_LEN_RANGE,
              "the ciphertext is not as long as CK_CCM_PARAMS.ulDataLen announced");
    }
  }

  crypto::AeadAlg alg_;
  SecureBytes key_;
  Bytes nonce_;
  Bytes aad_;
  size_t tag_len_;
  std::optional<size_t> data_len_;
  bool encrypt_;
  SecureBytes buffer_;
};

// checked throws CKR_MECHANISM_PARAM_INVALID unless the crypto layer takes the lengths.
void checked(crypto::AeadAlg alg, size_t key_len, size_t nonce_len, size_t tag_len,
             size_t data_len) {
  try {
    crypto::aead_check(alg, key_len, nonce_len, tag_len, data_len);
  } catch (const CryptoError& e) {
    throw CkError(CKR_MECHANISM_PARAM_INVALID, e.what());
  }
}

}  // namespace

std::unique_ptr<CipherOperation> make_aead(const Mechanism& mechanism, const AttributeMap& key,
                                           bool encrypt) {
  switch (mechanism.type) {
    case CKM_AES_GCM: {
      const SecureBytes& value = secret_key_value(key, CKK_AES, {16, 24, 32});
      const auto* p = std::get_if<GcmParams>(&mechanism.params);
      require(p != nullptr, CKR_MECHANISM_PARAM_INVALID, "AES-GCM needs CK_GCM_PARAMS");
      require(!p->iv.empty() && p->iv.size() <= 256, CKR_MECHANISM_PARAM_INVALID,
              "the GCM IV must be 1 to 256 bytes");
      require(p->tag_bits % 8 == 0 && p->tag_bits >= 32 && p->tag_bits <= 128,
              CKR_MECHANISM_PARAM_INVALID, "the GCM tag must be 32 to 128 bits, whole bytes");
      return std::make_unique<AeadOperation>(crypto::AeadAlg::aes_gcm, value, p->iv, p->aad,
                                             p->tag_bits / 8, std::nullopt, encrypt);
    }
    case CKM_AES_CCM: {
      const SecureBytes& value = secret_key_value(key, CKK_AES, {16, 24, 32});
      const auto* p = std::get_if<CcmParams>(&mechanism.params);
      require(p != nullptr, CKR_MECHANISM_PARAM_INVALID, "AES-CCM needs CK_CCM_PARAMS");
      checked(crypto::AeadAlg::aes_ccm, value.size(), p->nonce.size(), p->mac_len, p->data_len);
      return std::make_unique<AeadOperation>(crypto::AeadAlg::aes_ccm, value, p->nonce, p->aad,
                                             p->mac_len, p->data_len, encrypt);
    }
    case CKM_CHACHA20_POLY1305: {
      const SecureBytes& value = secret_key_value(key, CKK_CHACHA20, {32});
      const auto* p = std::get_if<ChaChaPolyParams>(&mechanism.params);
      require(p != nullptr, CKR_MECHANISM_PARAM_INVALID,
              "ChaCha20-Poly1305 needs CK_SALSA20_CHACHA20_POLY1305_PARAMS");
      checked(crypto::AeadAlg::chacha20_poly1305, value.size(), p->nonce.size(), 16, 0);
      return std::make_unique<AeadOperation>(crypto::AeadAlg::chacha20_poly1305, value, p->nonce,
                                             p->aad, 16, std::nullopt, encrypt);
    }
    default:
      throw CkError(CKR_MECHANISM_INVALID, "the mechanism is not an AEAD");
  }
}

}  // namespace twinhsm::token
