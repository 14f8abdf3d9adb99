// Encryption and decryption operations (make_cipher, mechanisms.h): AES-ECB/CBC/CBC_PAD/CTR and
// AES-GCM with AES keys; RSA PKCS#1 v1.5 and OAEP with RSA keys. Crypto failures become the
// CK_RV PKCS#11 names for them here.
#include <limits>

#include "crypto/aead.h"
#include "crypto/cipher.h"
#include "crypto/rsa_encryption.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/key_material.h"
#include "token/mechanisms.h"
#include "token/token.h"

namespace twinhsm::token {

namespace {

using crypto::kAesBlock;

SecureBytes concat(SecureBytes a, const SecureBytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// ---- AES-GCM: everything at the end (decryption must authenticate first) ----

class GcmOperation : public CipherOperation {
 public:
  GcmOperation(SecureBytes key, GcmParams params, bool encrypt)
      : key_(std::move(key)), params_(std::move(params)), encrypt_(encrypt) {}

  std::optional<size_t> output_size(size_t n) const override {
    return encrypt_ ? n + tag_len() : (n >= tag_len() ? n - tag_len() : 0);
  }
  SecureBytes run(ByteView in) override {
    if (encrypt_) {
      return crypto::secure_copy(
          crypto::aes_gcm_encrypt(key_, params_.iv, params_.aad, in, tag_len()));
    }
    require(in.size() >= tag_len(), CKR_ENCRYPTED_DATA_LEN_RANGE, "the ciphertext is too short");
    try {
      return crypto::aes_gcm_decrypt(key_, params_.iv, params_.aad, in, tag_len());
    } catch (const IntegrityError&) {
      throw CkError(CKR_ENCRYPTED_DATA_INVALID, "the GCM tag does not verify");
    }
  }
  bool run_into(ByteView in, std::span<uint8_t> out) override {
    if (!encrypt_) {
      return false;  // decryption authenticates before it releases anything: run() buffers
    }
    crypto::aes_gcm_encrypt_into(key_, params_.iv, params_.aad, in, out, tag_len());
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
  size_t tag_len() const { return params_.tag_bits / 8; }
  SecureBytes key_;
  GcmParams params_;
  bool encrypt_;
  SecureBytes buffer_;
};

// ---- AES-ECB, CBC, CBC_PAD, CTR: streamed through crypto::SymmetricCipher ----

class AesOperation : public CipherOperation {
 public:
  // ctr_blocks: how many blocks CTR may process before its counter wraps (other modes: unused).
  AesOperation(crypto::CipherMode mode, bool padding, const SecureBytes& key, const Bytes& iv,
               bool encrypt, uint64_t ctr_blocks)
      : cipher_(mode, key, iv, encrypt, padding),
        mode_(mode),
        padding_(padding),
        encrypt_(encrypt),
        ctr_blocks_(ctr_blocks) {}

  std::optional<size_t> output_size(size_t n) const override {
    if (padding_) {
      if (!encrypt_) {
        return std::nullopt;  // the padding's length is known after decryption
      }
      return (n / kAesBlock + 1) * kAesBlock;
    }
    return n;
  }
  SecureBytes run(ByteView in) override {
    if (mode_ != crypto::CipherMode::ctr) {
      bool whole = in.size() % kAesBlock == 0 && (encrypt_ || !padding_ || !in.empty());
      require(whole || (encrypt_ && padding_),
              encrypt_ ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE,
              "the input must be a whole number of 16-byte blocks");
    }
    SecureBytes out = update(in);
    return concat(std::move(out), finish());
  }
  std::optional<size_t> update_size(size_t n) const override { return cipher_.update_size(n); }
  SecureBytes update(ByteView in) override {
    if (mode_ == crypto::CipherMode::ctr) {
      seen_ += in.size();
      require((seen_ + kAesBlock - 1) / kAesBlock <= ctr_blocks_, CKR_DATA_LEN_RANGE,
              "the data is longer than the CTR counter can count");
    }
    return cipher_.update(in);
  }
  std::optional<size_t> finish_size() const override {
    if (padding_ && !encrypt_) {
      return std::nullopt;
    }
    return cipher_.finish_size();
  }
  SecureBytes finish() override {
    try {
      return cipher_.finish();
    } catch (const UsageError&) {
      throw CkError(encrypt_ ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE,
                    "the input was not a whole number of 16-byte blocks");
    } catch (const IntegrityError&) {
      throw CkError(CKR_ENCRYPTED_DATA_INVALID, "the CBC padding is malformed");
    }
  }

 private:
  crypto::SymmetricCipher cipher_;
  crypto::CipherMode mode_;
  bool padding_;
  bool encrypt_;
  uint64_t ctr_blocks_;
  uint64_t seen_ = 0;
};

// ---- RSA: one block, buffered until the end ----

class RsaOperation : public CipherOperation {
 public:
  RsaOperation(crypto::PKey key, crypto::RsaPadding padding, bool encrypt)
      : key_(std::move(key)), padding_(std::move(padding)), encrypt_(encrypt) {
    modulus_bytes_ = (key_.bits() + 7) / 8;
    max_input_ = encrypt_ ? crypto::rsa_max_plaintext(key_, padding_) : modulus_bytes_;
  }

  std::optional<size_t> output_size(size_t) const override {
    return encrypt_ ? std::optional<size_t>(modulus_bytes_) : std::nullopt;
  }
  SecureBytes run(ByteView in) override {
    if (encrypt_) {
      require(in.size() <= max_input_, CKR_DATA_LEN_RANGE,
              "the data is too long for the key and padding");
      return crypto::secure_copy(crypto::rsa_encrypt(key_, padding_, in));
    }
    require(in.size() == modulus_bytes_, CKR_ENCRYPTED_DATA_LEN_RANGE,
            "the ciphertext must be as long as the modulus");
    try {
      return crypto::rsa_decrypt(key_, padding_, in);
    } catch (const IntegrityError&) {
      throw CkError(CKR_ENCRYPTED_DATA_INVALID, "the ciphertext does not decrypt");
    }
  }
  std::optional<size_t> update_size(size_t) const override { return 0; }
  SecureBytes update(ByteView in) override {
    buffer_.insert(buffer_.end(), in.begin(), in.end());
    require(buffer_.size() <= max_input_,
            encrypt_ ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE,
            "the input is too long for the key");
    return {};
  }
  std::optional<size_t> finish_size() const override { return output_size(buffer_.size()); }
  SecureBytes finish() override { return run(buffer_); }

 private:
  crypto::PKey key_;
  crypto::RsaPadding padding_;
  bool encrypt_;
  size_t modulus_bytes_ = 0;
  size_t max_input_ = 0;
  SecureBytes buffer_;
};

const SecureBytes& aes_key(const AttributeMap& key) {
  require(object_class(key) == CKO_SECRET_KEY && key_type(key) == CKK_AES,
          CKR_KEY_TYPE_INCONSISTENT, "the mechanism needs an AES key");
  const SecureBytes& value = secret_value(key);
  require(value.size() == 16 || value.size() == 24 || value.size() == 32, CKR_KEY_SIZE_RANGE,
          "an AES key must be 16, 24 or 32 bytes");
  return value;
}

std::unique_ptr<CipherOperation> make_gcm(const Mechanism& mechanism, const AttributeMap& key,
                                          bool encrypt) {
  const SecureBytes& value = aes_key(key);
  const auto* p = std::get_if<GcmParams>(&mechanism.params);
  require(p != nullptr, CKR_MECHANISM_PARAM_INVALID, "AES-GCM needs CK_GCM_PARAMS");
  require(!p->iv.empty() && p->iv.size() <= 256, CKR_MECHANISM_PARAM_INVALID,
          "the GCM IV must be 1 to 256 bytes");
  require(p->tag_bits % 8 == 0 && p->tag_bits >= 32 && p->tag_bits <= 128,
          CKR_MECHANISM_PARAM_INVALID, "the GCM tag must be 32 to 128 bits, whole bytes");
  return std::make_unique<GcmOperation>(value, *p, encrypt);
}

std::unique_ptr<CipherOperation> make_aes(const Mechanism& mechanism, const AttributeMap& key,
                                          bool encrypt) {
  const SecureBytes& value = aes_key(key);
  if (mechanism.type == CKM_AES_ECB) {
    return std::make_unique<AesOperation>(crypto::CipherMode::ecb, false, value, Bytes(), encrypt,
                                          0);
  }
  if (mechanism.type == CKM_AES_CTR) {
    const auto* p = std::get_if<CtrParams>(&mechanism.params);
    require(p != nullptr && p->block.size() == kAesBlock && p->bits >= 1 && p->bits <= 128,
            CKR_MECHANISM_PARAM_INVALID,
            "AES-CTR needs CK_AES_CTR_PARAMS with a counter of 1 to 128 bits");
    uint64_t blocks = crypto::ctr_blocks_left(p->block, static_cast<unsigned>(p->bits));
    return std::make_unique<AesOperation>(crypto::CipherMode::ctr, false, value, p->block, encrypt,
                                          blocks);
  }
  const auto* p = std::get_if<IvParams>(&mechanism.params);
  require(p != nullptr && p->iv.size() == kAesBlock, CKR_MECHANISM_PARAM_INVALID,
          "AES-CBC needs a 16-byte IV as its parameter");
  return std::make_unique<AesOperation>(crypto::CipherMode::cbc, mechanism.type == CKM_AES_CBC_PAD,
                                        value, p->iv, encrypt, 0);
}

}  // namespace

crypto::RsaPadding rsa_padding(const Mechanism& mechanism) {
  if (mechanism.type == CKM_RSA_PKCS) {
    return crypto::RsaPadding{
        crypto::RsaPadding::Kind::pkcs1, crypto::DigestAlg::sha1, crypto::DigestAlg::sha1, {}};
  }
  require(mechanism.type == CKM_RSA_PKCS_OAEP, CKR_MECHANISM_INVALID,
          "the mechanism is not an RSA encryption");
  const auto* p = std::get_if<OaepParams>(&mechanism.params);
  require(p != nullptr, CKR_MECHANISM_PARAM_INVALID, "RSA-OAEP needs CK_RSA_PKCS_OAEP_PARAMS");
  auto hash = digest_of_mechanism(p->hash);
  auto mgf = digest_of_mgf(p->mgf);
  require(hash && mgf, CKR_MECHANISM_PARAM_INVALID, "the OAEP parameters name an unknown hash");
  require(*hash == crypto::DigestAlg::sha1 || *hash == crypto::DigestAlg::sha256,
          CKR_MECHANISM_PARAM_INVALID, "OAEP supports SHA-1 and SHA-256");
  require(*mgf == *hash, CKR_MECHANISM_PARAM_INVALID, "the OAEP MGF1 hash must be the OAEP hash");
  require(p->source == CKZ_DATA_SPECIFIED || (p->source == 0 && p->label.empty()),
          CKR_MECHANISM_PARAM_INVALID, "the OAEP source must be CKZ_DATA_SPECIFIED");
  return crypto::RsaPadding{crypto::RsaPadding::Kind::oaep, *hash, *mgf, p->label};
}

std::unique_ptr<CipherOperation> make_cipher(const Mechanism& mechanism, const Object& key,
                                             bool encrypt) {
  switch (mechanism.type) {
    case CKM_AES_GCM:
      return make_gcm(mechanism, key.attrs, encrypt);
    case CKM_AES_ECB:
    case CKM_AES_CBC:
    case CKM_AES_CBC_PAD:
    case CKM_AES_CTR:
      return make_aes(mechanism, key.attrs, encrypt);
    case CKM_RSA_PKCS:
    case CKM_RSA_PKCS_OAEP: {
      require(object_class(key.attrs) == (encrypt ? CKO_PUBLIC_KEY : CKO_PRIVATE_KEY) &&
                  key_type(key.attrs) == CKK_RSA,
              CKR_KEY_TYPE_INCONSISTENT,
              encrypt ? "RSA encryption needs an RSA public key"
                      : "RSA decryption needs an RSA private key");
      crypto::RsaPadding padding = rsa_padding(mechanism);
      return std::make_unique<RsaOperation>(object_pkey(key), std::move(padding), encrypt);
    }
    default:
      throw CkError(CKR_MECHANISM_INVALID, "the mechanism cannot encrypt or decrypt");
  }
}

}  // namespace twinhsm::token
