// KDF derivations (derivation_parts.h): CKM_HKDF_DERIVE, CKM_HKDF_DATA (RFC 5869) and the
// SP 800-108 KDFs in counter and feedback mode, over OpenSSL's HKDF and KBKDF. PKCS#11 describes
// the SP 800-108 input as a list of data parameters; twinhsm takes the lists that OpenSSL 3.0's
// KBKDF computes: the iteration variable first (counter mode: a 32-bit big-endian counter;
// feedback mode: K(i-1), then that counter), byte arrays, and optionally last the length L in 32
// bits big-endian. Others are CKR_MECHANISM_PARAM_INVALID (docs/pkcs11.md).
#include "crypto/kdf.h"
#include "token/attribute_policy.h"
#include "token/ck_error.h"
#include "token/derivation_parts.h"

namespace twinhsm::token {

namespace {

// kdf_input is the secret value a KDF starts from: a secret key of the types the mechanism
// takes, or for CKM_HKDF_DATA a data object's value.
const SecureBytes& kdf_input(const Mechanism& m, const Object& base) {
  const AttributeMap& a = base.attrs;
  if (m.type == CKM_HKDF_DATA) {
    require(object_class(a) == CKO_DATA, CKR_KEY_TYPE_INCONSISTENT,
            "CKM_HKDF_DATA derives from a data object");
    const SecureBytes* v = a.find(CKA_VALUE);
    require(v != nullptr && !v->empty(), CKR_KEY_TYPE_INCONSISTENT, "the data object has no value");
    return *v;
  }
  const SecureBytes& value = secret_value(a);
  require(!value.empty(), CKR_KEY_SIZE_RANGE, "the base key is empty");
  return value;
}

SecureBytes hkdf_value(const Mechanism& m, const Object& base, const DerivedRequest& request,
                       const Object* salt_key) {
  const auto* p = std::get_if<HkdfParams>(&m.params);
  require(p != nullptr, CKR_MECHANISM_PARAM_INVALID, "HKDF needs CK_HKDF_PARAMS");
  require(p->extract || p->expand, CKR_MECHANISM_PARAM_INVALID, "HKDF extracts, expands or both");
  auto digest = digest_of_mechanism(p->prf);
  require(digest && *digest != crypto::DigestAlg::md5, CKR_MECHANISM_PARAM_INVALID,
          "HKDF's prfHashMechanism must be a SHA-1, SHA-2 or SHA-3 hash");
  if (m.type == CKM_HKDF_DERIVE) {
    CK_KEY_TYPE kt = key_type(base.attrs);
    require(kt == CKK_HKDF || kt == CKK_GENERIC_SECRET, CKR_KEY_TYPE_INCONSISTENT,
            "HKDF derives from a CKK_HKDF or CKK_GENERIC_SECRET key");
  }
  const SecureBytes& ikm = kdf_input(m, base);
  std::optional<Bytes> salt;
  if (p->extract) {
    switch (p->salt_type) {
      case CKF_HKDF_SALT_NULL:
        break;
      case CKF_HKDF_SALT_DATA:
        require(!p->salt.empty(), CKR_MECHANISM_PARAM_INVALID, "CKF_HKDF_SALT_DATA needs pSalt");
        salt = p->salt;
        break;
      case CKF_HKDF_SALT_KEY: {
        require(salt_key != nullptr, CKR_MECHANISM_PARAM_INVALID,
                "CKF_HKDF_SALT_KEY needs hSaltKey");
        const SecureBytes& v = secret_value(salt_key->attrs);
        salt = Bytes(v.begin(), v.end());
        break;
      }
      default:
        throw CkError(CKR_MECHANISM_PARAM_INVALID, "ulSaltType is not a CKF_HKDF_SALT_* value");
    }
  }
  if (!p->expand) {
    SecureBytes prk = crypto::hkdf(*digest, crypto::HkdfMode::extract_only, ikm, salt, {}, 0);
    prk.resize(length_from(request, prk.size()));
    return prk;
  }
  size_t len = length_needed(request);
  require(len <= 255 * crypto::digest_size(*digest), CKR_TEMPLATE_INCONSISTENT,
          "HKDF makes at most 255 hashes of output");
  return crypto::hkdf(
      *digest, p->extract ? crypto::HkdfMode::extract_and_expand : crypto::HkdfMode::expand_only,
      ikm, salt, p->info, len);
}

// counter_is_32_be: a counter or length format OpenSSL's KBKDF computes.
bool counter_is_32_be(const Sp800DataParam& d) {
  return d.has_format && !d.little_endian && d.width_bits == 32;
}

SecureBytes sp800_value(const Mechanism& m, const Object& base, const DerivedRequest& request) {
  const auto* p = std::get_if<Sp800Params>(&m.params);
  require(p != nullptr, CKR_MECHANISM_PARAM_INVALID, "SP 800-108 needs its KDF parameters");
  require(p->additional_keys == 0, CKR_MECHANISM_PARAM_INVALID,
          "additional derived keys are not supported");
  crypto::KbkdfParams kp;
  kp.feedback = p->feedback;
  kp.iv = p->iv;
  if (p->prf == CKM_AES_CMAC) {
    kp.cmac_cipher = crypto::BlockCipher::aes;
  } else if (p->prf == CKM_DES3_CMAC) {
    kp.cmac_cipher = crypto::BlockCipher::des3;
  } else {
    const MechanismInfo* info = mechanism_info(p->prf);
    bool hmac = info && is_mac_mechanism(p->prf) && p->prf != CKM_MD5_HMAC;
    std::optional<crypto::DigestAlg> digest;
    for (CK_MECHANISM_TYPE h : {CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512,
                                CKM_SHA3_224, CKM_SHA3_256, CKM_SHA3_384, CKM_SHA3_512}) {
      if (hmac && h + 1 == p->prf) {  // CKM_<hash>_HMAC is the hash's mechanism + 1
        digest = digest_of_mechanism(h);
      }
    }
    require(digest.has_value(), CKR_MECHANISM_PARAM_INVALID,
            "the PRF must be an HMAC with SHA-1/SHA-2/SHA-3, AES-CMAC or Triple DES CMAC");
    kp.hmac = digest;
  }
  // The data parameters, in the one order OpenSSL's KBKDF computes.
  size_t i = 0;
  const auto& d = p->data;
  require(!d.empty() && d[0].type == CK_SP800_108_ITERATION_VARIABLE &&
              (p->feedback ? !d[0].has_format : counter_is_32_be(d[0])),
          CKR_MECHANISM_PARAM_INVALID,
          "the first data parameter must be the iteration variable (counter mode: a 32-bit "
          "big-endian counter)");
  ++i;
  if (p->feedback) {
    require(i < d.size() && d[i].type == CK_SP800_108_COUNTER && counter_is_32_be(d[i]),
            CKR_MECHANISM_PARAM_INVALID,
            "feedback mode needs a 32-bit big-endian counter after the iteration variable");
    ++i;
  }
  for (; i < d.size() && d[i].type == CK_SP800_108_BYTE_ARRAY; ++i) {
    kp.label.insert(kp.label.end(), d[i].bytes.begin(), d[i].bytes.end());
  }
  size_t len = length_needed(request);
  if (i < d.size()) {
    bool segments = d[i].dkm_method == CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS;
    size_t prf_len = kp.hmac ? crypto::digest_size(*kp.hmac) : (p->prf == CKM_AES_CMAC ? 16 : 8);
    require(d[i].type == CK_SP800_108_DKM_LENGTH && counter_is_32_be(d[i]) &&
                (d[i].dkm_method == CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS ||
                 (segments && len % prf_len == 0)) &&
                i + 1 == d.size(),
            CKR_MECHANISM_PARAM_INVALID,
            "after the byte arrays only the length L may follow, in 32 bits big-endian");
    kp.with_length = true;
  }
  const SecureBytes& key = kdf_input(m, base);
  try {
    return crypto::kbkdf(kp, key, len);
  } catch (const CryptoError&) {
    throw CkError(CKR_KEY_TYPE_INCONSISTENT, "the base key does not fit the PRF");
  }
}

}  // namespace

SecureBytes kdf_value(const Mechanism& m, const Object& base, const DerivedRequest& request,
                      const Object* salt_key) {
  if (m.type == CKM_HKDF_DERIVE || m.type == CKM_HKDF_DATA) {
    return hkdf_value(m, base, request, salt_key);
  }
  return sp800_value(m, base, request);
}

}  // namespace twinhsm::token
