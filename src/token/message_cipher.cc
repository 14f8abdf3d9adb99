// Message-based AEAD (message_cipher.h).
#include "token/message_cipher.h"

#include <cstring>

#include "crypto/aead.h"
#include "crypto/random.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/key_policy.h"

namespace twinhsm::token {

namespace {

crypto::AeadAlg alg_of(CK_MECHANISM_TYPE m) {
  switch (m) {
    case CKM_AES_GCM:
      return crypto::AeadAlg::aes_gcm;
    case CKM_AES_CCM:
      return crypto::AeadAlg::aes_ccm;
    default:
      return crypto::AeadAlg::chacha20_poly1305;
  }
}

// At least this many generated bits (kryoptic's and NIST SP 800-38D's 64 for random GCM IVs).
// A counter needs as many: it starts at a random value in each operation, since the token keeps
// no count across operations, and only a 64-bit space makes two operations' runs of IVs under
// one key meet with negligible probability. A caller that must count in fewer bits keeps its own
// counter and gives the IV (CKG_NO_GENERATE).
constexpr size_t kMinGeneratedBits = 64;

}  // namespace

MessageCipher::MessageCipher(const Mechanism& m, const Object& key, bool encrypt)
    : mechanism_(m.type), encrypt_(encrypt) {
  switch (m.type) {
    case CKM_AES_GCM:
    case CKM_AES_CCM:
      key_ = secret_key_value(key.attrs, CKK_AES, {16, 24, 32});
      break;
    case CKM_CHACHA20_POLY1305:
      key_ = secret_key_value(key.attrs, CKK_CHACHA20, {32});
      break;
    default:
      throw CkError(CKR_MECHANISM_INVALID,
                    "message-based encryption takes AES-GCM, AES-CCM or ChaCha20-Poly1305");
  }
  require(std::holds_alternative<std::monostate>(m.params), CKR_MECHANISM_PARAM_INVALID,
          "message-based encryption takes its parameters with each message, none at init");
}

void MessageCipher::check(const MessageParams& p) const {
  try {
    crypto::aead_check(alg_of(mechanism_), key_.size(), p.iv.size(), p.tag_len,
                       p.data_len.value_or(0));
  } catch (const CryptoError& e) {
    throw CkError(CKR_MECHANISM_PARAM_INVALID, e.what());
  }
  require(mechanism_ != CKM_AES_CCM || p.data_len.has_value(), CKR_MECHANISM_PARAM_INVALID,
          "AES-CCM needs the message's length");
  require(mechanism_ != CKM_AES_GCM || p.iv.size() <= 256, CKR_MECHANISM_PARAM_INVALID,
          "the GCM IV must be 1 to 256 bytes");
  if (!encrypt_) {
    if (mechanism_ == CKM_AES_GCM) {  // CCM's tag length is part of its MAC's input
      check_tag_length(p.tag_len, may_make_tags_);
    }
    return;
  }
  size_t bits = p.iv.size() * 8;
  bool known = p.generator == CKG_NO_GENERATE || p.generator == CKG_GENERATE ||
               p.generator == CKG_GENERATE_COUNTER || p.generator == CKG_GENERATE_COUNTER_XOR ||
               p.generator == CKG_GENERATE_RANDOM;
  require(known && p.fixed_bits <= bits, CKR_MECHANISM_PARAM_INVALID,
          "the IV generator or its fixed bits are invalid");
  require(p.generator == CKG_NO_GENERATE || p.fixed_bits < bits, CKR_MECHANISM_PARAM_INVALID,
          "a generated IV needs bits that are not fixed");
  require(p.generator == CKG_NO_GENERATE || bits - p.fixed_bits >= kMinGeneratedBits,
          CKR_MECHANISM_PARAM_INVALID, "a generated IV needs at least 64 bits that are not fixed");
}

Bytes MessageCipher::next_iv(const MessageParams& p) {
  Bytes iv = p.iv;
  if (p.generator == CKG_NO_GENERATE) {
    return iv;
  }
  size_t free_bits = iv.size() * 8 - p.fixed_bits;
  // bit i (0: the IV's last bit) is free when i < free_bits.
  auto set_free_bits = [&](uint64_t value, bool xor_in) {
    for (size_t i = 0; i < std::min<size_t>(free_bits, 64); ++i) {
      uint8_t& byte = iv[iv.size() - 1 - i / 8];
      uint8_t mask = static_cast<uint8_t>(1u << (i % 8));
      bool bit = (value >> i) & 1;
      if (!xor_in) {
        byte = static_cast<uint8_t>(byte & ~mask);
      }
      byte = static_cast<uint8_t>(byte ^ (bit ? mask : 0));
    }
  };
  if (p.generator == CKG_GENERATE_RANDOM || p.generator == CKG_GENERATE) {  // CKG_GENERATE: ours
    Bytes random = crypto::random_bytes(iv.size());
    for (size_t i = 0; i < free_bits; ++i) {
      uint8_t mask = static_cast<uint8_t>(1u << (i % 8));
      uint8_t& byte = iv[iv.size() - 1 - i / 8];
      byte = static_cast<uint8_t>((byte & ~mask) | (random[iv.size() - 1 - i / 8] & mask));
    }
    return iv;
  }
  if (!counter_start_) {
    Bytes start = crypto::random_bytes(sizeof counter_);
    std::memcpy(&counter_, start.data(), sizeof counter_);
    counter_start_ = counter_;
  } else {
    require(counter_ != *counter_start_, CKR_DATA_LEN_RANGE,
            "the IV counter is exhausted: a next IV would repeat one");
  }
  set_free_bits(counter_, p.generator == CKG_GENERATE_COUNTER_XOR);
  ++counter_;
  return iv;
}

Bytes MessageCipher::begin(const MessageParams& params, ByteView aad) {
  require(!open_, CKR_OPERATION_ACTIVE, "a message is being processed: end it first");
  check(params);
  params_ = params;
  iv_ = encrypt_ ? next_iv(params) : params.iv;
  aad_.assign(aad.begin(), aad.end());
  buffer_.clear();
  open_ = true;
  return iv_;
}

void MessageCipher::abort() {
  open_ = false;
  buffer_.clear();
  aad_.clear();
}

void MessageCipher::add(ByteView part) {
  require(open_, CKR_OPERATION_NOT_INITIALIZED, "no message has begun");
  buffer_.insert(buffer_.end(), part.begin(), part.end());
}

MessageCipher::Result MessageCipher::finish() {
  require(open_, CKR_OPERATION_NOT_INITIALIZED, "no message has begun");
  open_ = false;
  SecureBytes input = std::move(buffer_);
  buffer_.clear();
  if (params_.data_len) {
    require(input.size() == *params_.data_len,
            encrypt_ ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE,
            "the message is not as long as its parameter announced");
  }
  crypto::AeadAlg alg = alg_of(mechanism_);
  if (encrypt_) {
    Bytes out = crypto::aead_encrypt(alg, key_, iv_, aad_, input, params_.tag_len);
    Result r;
    r.tag.assign(out.end() - static_cast<long>(params_.tag_len), out.end());
    r.data.assign(out.begin(), out.end() - static_cast<long>(params_.tag_len));
    return r;
  }
  require(params_.tag.size() == params_.tag_len, CKR_MECHANISM_PARAM_INVALID,
          "the message's tag is missing");
  input.insert(input.end(), params_.tag.begin(), params_.tag.end());
  try {
    return Result{crypto::aead_decrypt(alg, key_, iv_, aad_, input, params_.tag_len), {}};
  } catch (const IntegrityError&) {
    throw CkError(CKR_AEAD_DECRYPT_FAILED, "the tag does not verify");
  }
}

}  // namespace twinhsm::token
