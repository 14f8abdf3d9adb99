// Encryption and decryption operations (make_cipher, mechanisms.h): block ciphers in ECB, CBC,
// CBC_PAD and (AES) CTR modes, AES-CTS and AES-XTS; RSA PKCS#1 v1.5, OAEP and raw. The AEADs are
// in aead_ciphers.cc. Crypto failures become the CK_RV PKCS#11 names for them here.
#include <limits>

#include "crypto/cipher.h"
#include "crypto/oneshot_cipher.h"
#include "crypto/rsa_encryption.h"
#include "token/attribute_policy.h"
#include "token/cipher_families.h"
#include "token/ck_error.h"
#include "token/key_material.h"
#include "token/mechanisms.h"
#include "token/token.h"

namespace twinhsm::token {

namespace {

using crypto::kAesBlock;

// ---- ECB, CBC, CBC_PAD, CTR: streamed through crypto::SymmetricCipher ----

class BlockOperation : public CipherOperation {
 public:
  // ctr_blocks: how many blocks CTR may process before its counter wraps (other modes: unused).
  BlockOperation(crypto::BlockCipher alg, crypto::CipherMode mode, bool padding,
                 const SecureBytes& key, const Bytes& iv, bool encrypt, uint64_t ctr_blocks)
      : cipher_(alg, mode, key, iv, encrypt, padding),
        mode_(mode),
        block_(crypto::block_size(alg)),
        padding_(padding),
        encrypt_(encrypt),
        ctr_blocks_(ctr_blocks) {}

  std::optional<size_t> output_size(size_t n) const override {
    if (padding_) {
      if (!encrypt_) {
        return std::nullopt;  // the padding's length is known after decryption
      }
      return (n / block_ + 1) * block_;
    }
    return n;
  }
  // run_into: the direct path of bulk data (ECB, CBC, CTR; CBC_PAD when encrypting). Input that
  // run() refuses goes to run(), which says why.
  bool run_into(ByteView in, std::span<uint8_t> out) override {
    if (padding_ ? !encrypt_ : in.size() % block_ != 0 && mode_ != crypto::CipherMode::ctr) {
      return false;
    }
    if (mode_ == crypto::CipherMode::ctr) {
      count_ctr(in.size());
    }
    cipher_.run_into(in, out);
    return true;
  }
  SecureBytes run(ByteView in) override {
    if (mode_ != crypto::CipherMode::ctr) {
      bool whole = in.size() % block_ == 0 && (encrypt_ || !padding_ || !in.empty());
      require(whole || (encrypt_ && padding_),
              encrypt_ ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE,
              "the input must be a whole number of blocks");
    }
    SecureBytes out = update(in);
    return concat(std::move(out), finish());
  }
  std::optional<size_t> update_size(size_t n) const override { return cipher_.update_size(n); }
  SecureBytes update(ByteView in) override {
    if (mode_ == crypto::CipherMode::ctr) {
      count_ctr(in.size());
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
                    "the input was not a whole number of blocks");
    } catch (const IntegrityError&) {
      throw CkError(CKR_ENCRYPTED_DATA_INVALID, "the CBC padding is malformed");
    }
  }

 private:
  void count_ctr(size_t n) {
    seen_ += n;
    require((seen_ + kAesBlock - 1) / kAesBlock <= ctr_blocks_, CKR_DATA_LEN_RANGE,
            "the data is longer than the CTR counter can count");
  }

  crypto::SymmetricCipher cipher_;
  crypto::CipherMode mode_;
  size_t block_;
  bool padding_;
  bool encrypt_;
  uint64_t ctr_blocks_;
  uint64_t seen_ = 0;
};

// ---- AES-CTS, AES-XTS: the whole message at the end (OpenSSL computes them in one call) ----

class OneShotOperation : public CipherOperation {
 public:
  OneShotOperation(bool xts, SecureBytes key, Bytes iv, bool encrypt)
      : xts_(xts), key_(std::move(key)), iv_(std::move(iv)), encrypt_(encrypt) {}

  std::optional<size_t> output_size(size_t n) const override { return n; }
  SecureBytes run(ByteView in) override {
    require(in.size() >= crypto::kAesBlock,
            encrypt_ ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE,
            "AES-CTS and AES-XTS take at least one block (16 bytes)");
    return xts_ ? crypto::aes_xts(key_, iv_, encrypt_, in)
                : crypto::aes_cts(key_, iv_, encrypt_, in);
  }
  std::optional<size_t> update_size(size_t) const override { return 0; }
  SecureBytes update(ByteView in) override {
    buffer_.insert(buffer_.end(), in.begin(), in.end());
    return {};
  }
  std::optional<size_t> finish_size() const override { return buffer_.size(); }
  SecureBytes finish() override { return run(buffer_); }

 private:
  bool xts_;
  SecureBytes key_;
  Bytes iv_;
  bool encrypt_;
  SecureBytes buffer_;
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
      try {
        return crypto::secure_copy(crypto::rsa_encrypt(key_, padding_, in));
      } catch (const CryptoError&) {
        throw CkError(CKR_DATA_INVALID, "the data is not below the modulus (raw RSA)");
      }
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

// BlockFamily: what a block cipher mechanism runs.
struct BlockFamily {
  CK_MECHANISM_TYPE type;
  crypto::BlockCipher alg;
  crypto::CipherMode mode;
  bool padding;
};

constexpr BlockFamily kBlockMechanisms[] = {
    {CKM_AES_ECB, crypto::BlockCipher::aes, crypto::CipherMode::ecb, false},
    {CKM_AES_CBC, crypto::BlockCipher::aes, crypto::CipherMode::cbc, false},
    {CKM_AES_CBC_PAD, crypto::BlockCipher::aes, crypto::CipherMode::cbc, true},
    {CKM_AES_CTR, crypto::BlockCipher::aes, crypto::CipherMode::ctr, false},
    {CKM_DES_ECB, crypto::BlockCipher::des, crypto::CipherMode::ecb, false},
    {CKM_DES_CBC, crypto::BlockCipher::des, crypto::CipherMode::cbc, false},
    {CKM_DES_CBC_PAD, crypto::BlockCipher::des, crypto::CipherMode::cbc, true},
    {CKM_DES3_ECB, crypto::BlockCipher::des3, crypto::CipherMode::ecb, false},
    {CKM_DES3_CBC, crypto::BlockCipher::des3, crypto::CipherMode::cbc, false},
    {CKM_DES3_CBC_PAD, crypto::BlockCipher::des3, crypto::CipherMode::cbc, true},
};

std::unique_ptr<CipherOperation> make_block(const BlockFamily& f, const Mechanism& mechanism,
                                            const AttributeMap& key, bool encrypt) {
  const SecureBytes& value = block_cipher_key(key, f.alg);
  if (f.mode == crypto::CipherMode::ecb) {
    return std::make_unique<BlockOperation>(f.alg, f.mode, false, value, Bytes(), encrypt, 0);
  }
  if (f.mode == crypto::CipherMode::ctr) {
    const auto* p = std::get_if<CtrParams>(&mechanism.params);
    require(p != nullptr && p->block.size() == kAesBlock && p->bits >= 1 && p->bits <= 128,
            CKR_MECHANISM_PARAM_INVALID,
            "AES-CTR needs CK_AES_CTR_PARAMS with a counter of 1 to 128 bits");
    uint64_t blocks = crypto::ctr_blocks_left(p->block, static_cast<unsigned>(p->bits));
    return std::make_unique<BlockOperation>(f.alg, f.mode, false, value, p->block, encrypt, blocks);
  }
  const auto* p = std::get_if<IvParams>(&mechanism.params);
  require(p != nullptr && p->iv.size() == crypto::block_size(f.alg), CKR_MECHANISM_PARAM_INVALID,
          "CBC needs an IV of one block as its parameter");
  return std::make_unique<BlockOperation>(f.alg, f.mode, f.padding, value, p->iv, encrypt, 0);
}

std::unique_ptr<CipherOperation> make_oneshot(const Mechanism& mechanism, const AttributeMap& key,
                                              bool encrypt) {
  bool xts = mechanism.type == CKM_AES_XTS;
  const SecureBytes& value = xts ? secret_key_value(key, CKK_AES_XTS, {32, 64})
                                 : secret_key_value(key, CKK_AES, {16, 24, 32});
  const auto* p = std::get_if<IvParams>(&mechanism.params);
  require(p != nullptr && p->iv.size() == kAesBlock, CKR_MECHANISM_PARAM_INVALID,
          "AES-CTS needs a 16-byte IV, AES-XTS a 16-byte tweak, as its parameter");
  if (xts) {
    require(!crypto::ct_equal(std::span(value).first(value.size() / 2),
                              std::span(value).subspan(value.size() / 2)),
            CKR_KEY_TYPE_INCONSISTENT, "an AES-XTS key's two halves must differ");
  }
  return std::make_unique<OneShotOperation>(xts, value, p->iv, encrypt);
}

}  // namespace

const SecureBytes& block_cipher_key(const AttributeMap& key, crypto::BlockCipher alg) {
  switch (alg) {
    case crypto::BlockCipher::aes:
      return secret_key_value(key, CKK_AES, {16, 24, 32});
    case crypto::BlockCipher::des:
      return secret_key_value(key, CKK_DES, {8});
    case crypto::BlockCipher::des3:
      break;
  }
  CK_KEY_TYPE kt = key_type(key) == CKK_DES2 ? CKK_DES2 : CKK_DES3;
  return secret_key_value(key, kt, {kt == CKK_DES2 ? size_t{16} : size_t{24}});
}

crypto::RsaPadding rsa_padding(const Mechanism& mechanism) {
  if (mechanism.type == CKM_RSA_PKCS || mechanism.type == CKM_RSA_X_509) {
    return crypto::RsaPadding{mechanism.type == CKM_RSA_PKCS ? crypto::RsaPadding::Kind::pkcs1
                                                             : crypto::RsaPadding::Kind::raw,
                              crypto::DigestAlg::sha1,
                              crypto::DigestAlg::sha1,
                              {}};
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
  for (const auto& f : kBlockMechanisms) {
    if (f.type == mechanism.type) {
      return make_block(f, mechanism, key.attrs, encrypt);
    }
  }
  switch (mechanism.type) {
    case CKM_AES_GCM:
    case CKM_AES_CCM:
    case CKM_CHACHA20_POLY1305:
      return make_aead(mechanism, key.attrs, encrypt);
    case CKM_AES_CTS:
    case CKM_AES_XTS:
      return make_oneshot(mechanism, key.attrs, encrypt);
    case CKM_RSA_PKCS:
    case CKM_RSA_X_509:
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
