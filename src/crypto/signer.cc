// Signing and verification: the data is hashed with EVP_Digest* (a digest named: hash-then-sign)
// and the hash, or the raw input (CKM_RSA_PKCS, CKM_RSA_PKCS_PSS, CKM_RSA_X_509, CKM_ECDSA,
// CKM_DSA), is signed with EVP_PKEY_sign/verify; EdDSA over EVP_DigestSign/Verify, one-shot. ECDSA
// and DSA signatures cross this API as r || s (PKCS#11), OpenSSL's as DER.
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include <string>

#include "crypto/pkey.h"
#include "crypto/pkey_impl.h"

namespace twinhsm::crypto {

struct SignContext::Impl {
  PKey key;
  SignatureScheme scheme;
  detail::PkeyCtxPtr ctx;  // null for Ed25519 (one-shot: nothing to prepare)
};

namespace {

enum class Op { sign, verify };

PKey::Type key_type_for(SignatureScheme::Kind kind) {
  switch (kind) {
    case SignatureScheme::Kind::rsa_pkcs1:
    case SignatureScheme::Kind::rsa_pss:
    case SignatureScheme::Kind::rsa_raw:
      return PKey::Type::rsa;
    case SignatureScheme::Kind::ecdsa:
      return PKey::Type::ec;
    case SignatureScheme::Kind::eddsa:
      return PKey::Type::eddsa;
    case SignatureScheme::Kind::dsa:
      return PKey::Type::dsa;
  }
  throw UsageError("unknown signature scheme");
}

// check_fit throws UsageError if the key cannot be used with the scheme.
void check_fit(const PKey& key, const SignatureScheme& scheme) {
  if (key.type() != key_type_for(scheme.kind)) {
    throw UsageError("the key does not fit the signature scheme");
  }
  if (scheme.kind == SignatureScheme::Kind::eddsa && scheme.digest) {
    throw UsageError("EdDSA hashes the message itself: the scheme must not name a digest");
  }
  if (scheme.kind == SignatureScheme::Kind::rsa_pss && scheme.digest &&
      *scheme.digest != scheme.pss_hash) {
    throw UsageError("RSA-PSS: the message digest and the PSS hash differ");
  }
}

// rs_width is the length of r and of s in a signature r || s: the field's (ECDSA), q's (DSA).
size_t rs_width(const PKey& key) {
  if (key.type() == PKey::Type::dsa) {
    return key.ffc_params().q.size();
  }
  if (!key.curve()) {
    throw UsageError("the key has no curve");
  }
  return detail::field_bytes(*key.curve());
}

bool is_rs(SignatureScheme::Kind kind) {
  return kind == SignatureScheme::Kind::ecdsa || kind == SignatureScheme::Kind::dsa;
}

// configure sets, on a context for EVP_PKEY_sign/verify, what the scheme needs: RSA padding;
// for PKCS#1 v1.5 with a digest the hash whose DigestInfo wraps the input; for PSS the hash,
// MGF1 hash and salt length. The input is then a hash (or, without a digest, formatted data).
void configure(EVP_PKEY_CTX* ctx, const SignatureScheme& scheme) {
  const char* what = "signature setup failed";
  if (scheme.kind == SignatureScheme::Kind::rsa_pkcs1) {
    detail::check(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), what);
    if (scheme.digest) {
      detail::check(EVP_PKEY_CTX_set_signature_md(ctx, detail::fetched_md(*scheme.digest)), what);
    }
  } else if (scheme.kind == SignatureScheme::Kind::rsa_raw) {
    detail::check(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), what);
  } else if (scheme.kind == SignatureScheme::Kind::rsa_pss) {
    detail::check(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), what);
    detail::check(EVP_PKEY_CTX_set_signature_md(ctx, detail::fetched_md(scheme.pss_hash)), what);
    detail::check(EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, digest_name(scheme.mgf1), nullptr), what);
    detail::check(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, detail::checked_int(scheme.salt_len, what)),
                  what);
  }
}

// pkey_context makes a context for EVP_PKEY_sign (or verify) with the key and the scheme.
detail::PkeyCtxPtr pkey_context(const PKey& key, const SignatureScheme& scheme, Op op) {
  const char* what = op == Op::sign ? "sign init failed" : "verify init failed";
  detail::PkeyCtxPtr ctx(detail::not_null(
      EVP_PKEY_CTX_new_from_pkey(detail::libctx(), key.impl().pkey.get(), nullptr), what));
  detail::check(op == Op::sign ? EVP_PKEY_sign_init(ctx.get()) : EVP_PKEY_verify_init(ctx.get()),
                what);
  configure(ctx.get(), scheme);
  return ctx;
}

// ecdsa_der_to_rs turns OpenSSL's DER ECDSA-Sig-Value (or Dss-Sig-Value, the same SEQUENCE of
// two INTEGERs) into r || s, each fb bytes.
Bytes ecdsa_der_to_rs(ByteView der, size_t fb) {
  const char* what = "ECDSA signature conversion failed";
  const unsigned char* p = der.data();
  detail::EcdsaSigPtr sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(detail::checked_int(der.size(), what))));
  if (!sig) {
    detail::throw_openssl(what);
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  Bytes out(2 * fb);
  int width = static_cast<int>(fb);
  if (BN_bn2binpad(r, out.data(), width) != width ||
      BN_bn2binpad(s, out.data() + fb, width) != width) {
    detail::throw_openssl(what);
  }
  return out;
}

// ecdsa_rs_to_der turns r || s into DER; an empty result means the signature has the wrong length.
Bytes ecdsa_rs_to_der(ByteView rs, size_t fb) {
  const char* what = "ECDSA signature conversion failed";
  if (rs.size() != 2 * fb) {
    return {};
  }
  int width = static_cast<int>(fb);
  detail::BnPtr r(detail::not_null(BN_bin2bn(rs.data(), width, nullptr), what));
  detail::BnPtr s(detail::not_null(BN_bin2bn(rs.data() + fb, width, nullptr), what));
  detail::EcdsaSigPtr sig(detail::not_null(ECDSA_SIG_new(), what));
  detail::check(ECDSA_SIG_set0(sig.get(), r.get(), s.get()), what);
  (void)r.release();  // owned by sig now
  (void)s.release();
  unsigned char* raw = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &raw);
  if (len <= 0) {
    detail::throw_openssl(what);
  }
  detail::OpenSslBufPtr buf(raw);
  return Bytes(raw, raw + len);
}

// SignatureOp is what Signer and Verifier share: the key, the scheme, and either a running hash
// of the input (a digest is named: hash-then-sign, streamed, and the hash is signed with
// EVP_PKEY_sign) or a buffer of the input (raw input, and Ed25519, whose one-shot API needs the
// whole message). A signer may borrow a SignContext's prepared EVP_PKEY_CTX.
class SignatureOp {
 public:
  SignatureOp(const PKey& key, const SignatureScheme& scheme, Op op,
              std::shared_ptr<const SignContext> context = nullptr)
      : key_(key), scheme_(scheme), op_(op), context_(std::move(context)) {
    check_fit(key, scheme);
    if (op == Op::sign && !key.has_private()) {
      throw UsageError("signing needs a private key");
    }
    if (scheme.digest) {
      const char* what = op == Op::sign ? "sign init failed" : "verify init failed";
      md_.reset(detail::not_null(EVP_MD_CTX_new(), what));
      detail::check(EVP_DigestInit_ex2(md_.get(), detail::fetched_md(*scheme.digest), nullptr),
                    what);
    }
  }

  void update(ByteView data) {
    if (finished_) {
      throw UsageError("signature operation already finished");
    }
    if (data.empty()) {
      return;
    }
    if (md_) {
      detail::check(EVP_DigestUpdate(md_.get(), data.data(), data.size()),
                    "signature update failed");
    } else {
      append(buffer_, data);
    }
  }

  Bytes sign() {
    start_finish();
    const char* what = "signing failed";
    Bytes sig;
    size_t len = 0;
    if (scheme_.kind == SignatureScheme::Kind::eddsa) {
      EVP_PKEY* pkey = key_.impl().pkey.get();
      detail::MdCtxPtr md(detail::not_null(EVP_MD_CTX_new(), what));
      detail::check(EVP_DigestSignInit_ex(md.get(), nullptr, nullptr, detail::libctx(), nullptr,
                                          pkey, nullptr),
                    what);
      detail::check(EVP_DigestSign(md.get(), nullptr, &len, buffer_.data(), buffer_.size()), what);
      sig.resize(len);
      detail::check(EVP_DigestSign(md.get(), sig.data(), &len, buffer_.data(), buffer_.size()),
                    what);
    } else {
      ByteView input = finish_input();
      detail::PkeyCtxPtr own;
      EVP_PKEY_CTX* ctx = context_ ? context_->impl().ctx.get() : nullptr;
      if (!ctx) {
        own = pkey_context(key_, scheme_, Op::sign);
        ctx = own.get();
      }
      detail::check(EVP_PKEY_sign(ctx, nullptr, &len, input.data(), input.size()), what);
      sig.resize(len);
      detail::check(EVP_PKEY_sign(ctx, sig.data(), &len, input.data(), input.size()), what);
    }
    sig.resize(len);
    if (is_rs(scheme_.kind)) {
      return ecdsa_der_to_rs(sig, rs_width(key_));
    }
    if (sig.size() != signature_size(key_, scheme_)) {
      throw CryptoError("signing failed: unexpected signature length");
    }
    return sig;
  }

  bool verify(ByteView signature) {
    start_finish();
    Bytes der;
    if (is_rs(scheme_.kind)) {
      der = ecdsa_rs_to_der(signature, rs_width(key_));
      if (der.empty()) {
        return false;
      }
      signature = der;
    } else if (signature.size() != signature_size(key_, scheme_)) {
      return false;
    }
    // From here on any failure, including one OpenSSL reports as an error rather than as a bad
    // signature (e.g. a PSS hash of the wrong length), means "does not verify".
    int rc = 0;
    try {
      rc = verify_openssl(signature);
    } catch (const Error&) {
      rc = 0;
    }
    ERR_clear_error();
    return rc == 1;
  }

 private:
  void start_finish() {
    if (finished_) {
      throw UsageError("signature operation already finished");
    }
    finished_ = true;
  }

  // finish_input is what EVP_PKEY_sign/verify gets: the hash of the data, or the raw input
  // (raw RSA: left-padded with zeros to the modulus' length, the number it stands for).
  ByteView finish_input() {
    if (md_) {
      unsigned int len = 0;
      detail::check(EVP_DigestFinal_ex(md_.get(), hash_, &len), "signature hash failed");
      return ByteView(hash_, len);
    }
    check_raw_length();
    if (scheme_.kind == SignatureScheme::Kind::rsa_raw) {
      buffer_.insert(buffer_.begin(), signature_size(key_, scheme_) - buffer_.size(), 0);
    }
    return buffer_;
  }

  // check_raw_length rejects raw input that cannot be right, with a clearer message than OpenSSL's.
  void check_raw_length() const {
    if (scheme_.kind == SignatureScheme::Kind::rsa_pss &&
        buffer_.size() != digest_size(scheme_.pss_hash)) {
      throw CryptoError("RSA-PSS: the input must be a " +
                        std::string(digest_name(scheme_.pss_hash)) + " hash");
    }
    if (scheme_.kind == SignatureScheme::Kind::rsa_pkcs1 &&
        buffer_.size() + 11 > signature_size(key_, scheme_)) {
      throw CryptoError("RSA PKCS#1 v1.5: the input is longer than the modulus allows");
    }
    if (scheme_.kind == SignatureScheme::Kind::rsa_raw &&
        buffer_.size() > signature_size(key_, scheme_)) {
      throw CryptoError("raw RSA: the input is longer than the modulus");
    }
  }

  int verify_openssl(ByteView signature) {
    if (scheme_.kind == SignatureScheme::Kind::eddsa) {
      EVP_PKEY* pkey = key_.impl().pkey.get();
      detail::MdCtxPtr md(EVP_MD_CTX_new());
      if (!md || EVP_DigestVerifyInit_ex(md.get(), nullptr, nullptr, detail::libctx(), nullptr,
                                         pkey, nullptr) != 1) {
        return 0;
      }
      return EVP_DigestVerify(md.get(), signature.data(), signature.size(), buffer_.data(),
                              buffer_.size());
    }
    ByteView input = finish_input();
    if (scheme_.kind == SignatureScheme::Kind::rsa_pkcs1 && !scheme_.digest && input.empty()) {
      return verify_empty_pkcs1(signature);
    }
    detail::PkeyCtxPtr ctx = pkey_context(key_, scheme_, Op::verify);
    return EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), input.data(),
                           input.size());
  }

  // OpenSSL's PKCS#1 v1.5 check takes an empty payload for a failure, so a signature over no
  // data (PKCS#1 allows it, and signing makes it) is checked the way RFC 8017 8.2.2 says: encode
  // (00 01 FF..FF 00, the modulus' length) and compare with the signature raised to e.
  int verify_empty_pkcs1(ByteView signature) {
    size_t k = signature_size(key_, scheme_);
    Bytes encoded(k, 0xff);
    encoded.front() = 0x00;
    encoded[1] = 0x01;
    encoded.back() = 0x00;
    SignatureScheme raw = scheme_;
    raw.kind = SignatureScheme::Kind::rsa_raw;
    detail::PkeyCtxPtr ctx = pkey_context(key_, raw, Op::verify);
    return EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), encoded.data(), k);
  }

  PKey key_;
  SignatureScheme scheme_;
  Op op_;
  std::shared_ptr<const SignContext> context_;
  detail::MdCtxPtr md_;
  unsigned char hash_[EVP_MAX_MD_SIZE] = {};
  Bytes buffer_;
  bool finished_ = false;
};

}  // namespace

size_t signature_size(const PKey& key, const SignatureScheme& scheme) {
  check_fit(key, scheme);
  switch (key.type()) {
    case PKey::Type::rsa:
      return (key.bits() + 7) / 8;
    case PKey::Type::ec:
    case PKey::Type::dsa:
      return 2 * rs_width(key);
    case PKey::Type::eddsa:
      return key.curve() == Curve::ed448 ? 114 : 64;
    default:
      break;
  }
  throw UsageError("the key type does not sign");
}

// ---- Signer ----

// ---- SignContext ----

SignContext::SignContext(const PKey& key, const SignatureScheme& scheme)
    : impl_(std::make_unique<Impl>(Impl{key, scheme, nullptr})) {
  check_fit(key, scheme);
  if (!key.has_private()) {
    throw UsageError("signing needs a private key");
  }
  if (scheme.kind != SignatureScheme::Kind::eddsa) {
    impl_->ctx = pkey_context(key, scheme, Op::sign);
  }
}

SignContext::~SignContext() = default;
const PKey& SignContext::key() const {
  return impl_->key;
}
const SignatureScheme& SignContext::scheme() const {
  return impl_->scheme;
}

// ---- Signer ----

struct Signer::Impl {
  SignatureOp op;
};

Signer::Signer(const PKey& key, const SignatureScheme& scheme)
    : impl_(std::make_unique<Impl>(Impl{SignatureOp(key, scheme, Op::sign)})) {}

Signer::Signer(const std::shared_ptr<const SignContext>& context)
    : impl_(std::make_unique<Impl>(
          Impl{SignatureOp(context->key(), context->scheme(), Op::sign, context)})) {}
Signer::~Signer() = default;
Signer::Signer(Signer&&) noexcept = default;
Signer& Signer::operator=(Signer&&) noexcept = default;

void Signer::update(ByteView data) {
  if (!impl_) {
    throw UsageError("Signer was moved from");
  }
  impl_->op.update(data);
}

Bytes Signer::finish() {
  if (!impl_) {
    throw UsageError("Signer was moved from");
  }
  return impl_->op.sign();
}

// ---- Verifier ----

struct Verifier::Impl {
  SignatureOp op;
};

Verifier::Verifier(const PKey& key, const SignatureScheme& scheme)
    : impl_(std::make_unique<Impl>(Impl{SignatureOp(key, scheme, Op::verify)})) {}
Verifier::~Verifier() = default;
Verifier::Verifier(Verifier&&) noexcept = default;
Verifier& Verifier::operator=(Verifier&&) noexcept = default;

void Verifier::update(ByteView data) {
  if (!impl_) {
    throw UsageError("Verifier was moved from");
  }
  impl_->op.update(data);
}

bool Verifier::finish(ByteView signature) {
  if (!impl_) {
    throw UsageError("Verifier was moved from");
  }
  return impl_->op.verify(signature);
}

}  // namespace twinhsm::crypto
