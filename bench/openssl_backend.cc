// The raw OpenSSL baseline of pkcs11_bench (bench_backends.h: OpenSslBackend) and the check of the
// modules' outputs against it.
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <string>

#include "bench_backends.h"
#include "openssl_util.h"
#include "small_ops.h"

namespace bench {

[[noreturn]] void openssl_failed(const char* what) {
  char buf[256] = "";
  ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
  throw std::runtime_error(std::string("OpenSSL: ") + what + ": " + buf);
}

void ossl(int ok, const char* what) {
  if (ok != 1) {
    openssl_failed(what);
  }
}

Bytes random_bytes(size_t n) {
  Bytes b(n);
  ossl(RAND_bytes(b.data(), static_cast<int>(n)), "RAND_bytes");
  return b;
}

const Fetched& fetched() {
  static Fetched f;
  return f;
}

// ---- raw OpenSSL ----

Op OpenSslBackend::make_op(Work w) {
  if (is_small_op(w)) {
    return openssl_small_op(w, data_);
  }
  const Fetched& alg = fetched();
  auto out = std::make_shared<Bytes>();
  Op op{nullptr, out};
  switch (w) {
    case Work::rsa2048_sign:
    case Work::ecdsa_p256_sign:
    case Work::ed25519_sign: {
      EVP_PKEY* key = w == Work::rsa2048_sign      ? data_.rsa.get()
                      : w == Work::ecdsa_p256_sign ? data_.ec.get()
                                                   : data_.ed.get();
      const EVP_MD* md = w == Work::ed25519_sign ? nullptr : alg.sha256;
      std::shared_ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
      const Bytes& msg = data_.message;
      op.run = [ctx, key, md, out, &msg] {
        out->resize(512);
        EVP_MD_CTX_reset(ctx.get());
        ossl(EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key), "EVP_DigestSignInit");
        size_t len = out->size();
        ossl(EVP_DigestSign(ctx.get(), out->data(), &len, msg.data(), msg.size()),
             "EVP_DigestSign");
        out->resize(len);
      };
      return op;
    }
    case Work::aes256_gcm_1m:
    case Work::aes256_cbc_pad_1m: {
      bool gcm = w == Work::aes256_gcm_1m;
      const EVP_CIPHER* cipher = gcm ? alg.gcm : alg.cbc;
      std::shared_ptr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
      out->resize(kBulkSize + 16);
      const Bytes& in = data_.bulk;
      const Bytes& key = data_.aes_key;
      const Bytes& iv = gcm ? data_.gcm_iv : data_.cbc_iv;
      op.run = [ctx, cipher, out, gcm, &in, &key, &iv] {
        ossl(EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.data(), iv.data()),
             "EVP_EncryptInit_ex");
        int len = 0, fin = 0;
        ossl(
            EVP_EncryptUpdate(ctx.get(), out->data(), &len, in.data(), static_cast<int>(in.size())),
            "EVP_EncryptUpdate");
        ossl(EVP_EncryptFinal_ex(ctx.get(), out->data() + len, &fin), "EVP_EncryptFinal_ex");
        if (gcm) {
          ossl(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, out->data() + len + fin),
               "GCM tag");
          fin += 16;
        }
        if (static_cast<size_t>(len + fin) != out->size()) {
          throw std::runtime_error("OpenSSL: unexpected output length");
        }
      };
      return op;
    }
    case Work::hmac_sha256_1k: {
      std::shared_ptr<EVP_MAC_CTX> ctx(EVP_MAC_CTX_new(alg.hmac), EVP_MAC_CTX_free);
      const Bytes& key = data_.hmac_key;
      const Bytes& in = data_.hmac_data;
      out->resize(32);
      op.run = [ctx, out, &key, &in] {
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
        ossl(EVP_MAC_init(ctx.get(), key.data(), key.size(), params), "EVP_MAC_init");
        ossl(EVP_MAC_update(ctx.get(), in.data(), in.size()), "EVP_MAC_update");
        size_t len = 0;
        ossl(EVP_MAC_final(ctx.get(), out->data(), &len, out->size()), "EVP_MAC_final");
      };
      return op;
    }
    default:
      break;
  }
  throw Unsupported("unknown work");
}

void pbkdf2_sha256(const std::string& pin, unsigned iterations) {
  static const Bytes salt = random_bytes(32);
  unsigned char out[32];
  ossl(PKCS5_PBKDF2_HMAC(pin.data(), static_cast<int>(pin.size()), salt.data(),
                         static_cast<int>(salt.size()), static_cast<int>(iterations),
                         fetched().sha256, sizeof out, out),
       "PKCS5_PBKDF2_HMAC");
}

void OpenSslBackend::pbkdf2() const {
  pbkdf2_sha256(data_.user_pin, data_.pbkdf2_iterations);
}

std::string check_output(Work w, const TestData& data, const Bytes& out, const Bytes& openssl_out) {
  if (w != Work::ecdsa_p256_sign) {
    return out == openssl_out ? "" : "output differs from OpenSSL's on the same key and data";
  }
  if (out.size() != 64) {
    return "ECDSA signature of " + std::to_string(out.size()) + " bytes (expected r || s, 64)";
  }
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(out.data(), 32, nullptr), BN_bin2bn(out.data() + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  int ok = EVP_DigestVerifyInit(ctx, nullptr, fetched().sha256, nullptr, data.ec.get()) == 1 &&
           EVP_DigestVerify(ctx, der, static_cast<size_t>(der_len), data.message.data(),
                            data.message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok ? "" : "the ECDSA signature does not verify with OpenSSL";
}
}  // namespace bench
