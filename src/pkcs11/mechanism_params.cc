// parse_mechanism (marshal.h): a CK_MECHANISM's parameter copied out of the caller's memory at
// once, each pointer and length checked against the structure PKCS#11 3.0 defines for the
// mechanism; anything malformed is CKR_MECHANISM_PARAM_INVALID.
#include "pkcs11/marshal.h"
#include "token/ck_error.h"

namespace twinhsm::pkcs11 {

using token::CkError;
using token::require;

namespace {

// Caps on what a parameter may hold: far above any real use.
constexpr CK_ULONG kMaxParamData = CK_ULONG{1} << 20;  // labels, AAD of CCM/ChaCha, HKDF info
constexpr CK_ULONG kMaxDataParams = 16;                // SP 800-108 data parameters

template <class T>
const T& param_as(const CK_MECHANISM* m) {
  require(m->pParameter != nullptr && m->ulParameterLen == sizeof(T), CKR_MECHANISM_PARAM_INVALID,
          "the mechanism parameter has the wrong size");
  return *static_cast<const T*>(m->pParameter);
}

// bytes_of copies a caller's (pointer, length) pair; NULL with a length, or more than max bytes,
// is CKR_MECHANISM_PARAM_INVALID.
Bytes bytes_of(const void* p, CK_ULONG len, CK_ULONG max) {
  require((p != nullptr || len == 0) && len <= max, CKR_MECHANISM_PARAM_INVALID,
          "a pointer or length in the mechanism parameter is invalid");
  const auto* b = static_cast<const uint8_t*>(p);
  return len == 0 ? Bytes() : Bytes(b, b + len);
}

// The CK_GCM_PARAMS of PKCS#11 2.40 before its errata had no ulIvBits; some applications still
// pass that layout. Accept both.
struct GcmParamsV240 {
  CK_BYTE_PTR pIv;
  CK_ULONG ulIvLen;
  CK_BYTE_PTR pAAD;
  CK_ULONG ulAADLen;
  CK_ULONG ulTagBits;
};

token::GcmParams parse_gcm(const CK_MECHANISM* m) {
  require(m->pParameter != nullptr, CKR_MECHANISM_PARAM_INVALID, "AES-GCM needs CK_GCM_PARAMS");
  token::GcmParams out;
  if (m->ulParameterLen == sizeof(CK_GCM_PARAMS)) {
    const auto& p = *static_cast<const CK_GCM_PARAMS*>(m->pParameter);
    out = {bytes_of(p.pIv, p.ulIvLen, 256), bytes_of(p.pAAD, p.ulAADLen, 1u << 24), p.ulTagBits};
  } else if (m->ulParameterLen == sizeof(GcmParamsV240)) {
    const auto& p = *static_cast<const GcmParamsV240*>(m->pParameter);
    out = {bytes_of(p.pIv, p.ulIvLen, 256), bytes_of(p.pAAD, p.ulAADLen, 1u << 24), p.ulTagBits};
  } else {
    throw CkError(CKR_MECHANISM_PARAM_INVALID, "CK_GCM_PARAMS has the wrong size");
  }
  return out;
}

token::CcmParams parse_ccm(const CK_MECHANISM* m) {
  const auto& p = param_as<CK_CCM_PARAMS>(m);
  return {p.ulDataLen, bytes_of(p.pNonce, p.ulNonceLen, 13), bytes_of(p.pAAD, p.ulAADLen, 1u << 24),
          p.ulMACLen};
}

token::ChaChaPolyParams parse_chacha(const CK_MECHANISM* m) {
  const auto& p = param_as<CK_SALSA20_CHACHA20_POLY1305_PARAMS>(m);
  return {bytes_of(p.pNonce, p.ulNonceLen, 12), bytes_of(p.pAAD, p.ulAADLen, 1u << 24)};
}

// iv_of copies a parameter that is the IV itself, of exactly len bytes.
token::IvParams iv_of(const CK_MECHANISM* m, CK_ULONG len) {
  require(m->pParameter != nullptr && m->ulParameterLen == len, CKR_MECHANISM_PARAM_INVALID,
          "the mechanism's parameter must be its IV, of one block");
  return {bytes_of(m->pParameter, m->ulParameterLen, len)};
}

token::Ecdh1Params parse_ecdh1(const CK_MECHANISM* m) {
  const auto& p = param_as<CK_ECDH1_DERIVE_PARAMS>(m);
  return token::Ecdh1Params{p.kdf, bytes_of(p.pSharedData, p.ulSharedDataLen, 1u << 16),
                            bytes_of(p.pPublicData, p.ulPublicDataLen, 1u << 12)};
}

token::HkdfParams parse_hkdf(const CK_MECHANISM* m) {
  const auto& p = param_as<CK_HKDF_PARAMS>(m);
  return {p.bExtract != CK_FALSE,
          p.bExpand != CK_FALSE,
          p.prfHashMechanism,
          p.ulSaltType,
          bytes_of(p.pSalt, p.ulSaltLen, kMaxParamData),
          p.hSaltKey,
          bytes_of(p.pInfo, p.ulInfoLen, kMaxParamData)};
}

token::Sp800DataParam parse_data_param(const CK_PRF_DATA_PARAM& d) {
  token::Sp800DataParam out;
  out.type = d.type;
  switch (d.type) {
    case CK_SP800_108_ITERATION_VARIABLE:
    case CK_SP800_108_COUNTER:
      if (d.pValue == nullptr && d.ulValueLen == 0) {
        break;  // feedback mode's iteration variable: K(i-1), no format
      }
      require(d.pValue != nullptr && d.ulValueLen == sizeof(CK_SP800_108_COUNTER_FORMAT),
              CKR_MECHANISM_PARAM_INVALID, "a counter's format is CK_SP800_108_COUNTER_FORMAT");
      out.has_format = true;
      out.little_endian = static_cast<const CK_SP800_108_COUNTER_FORMAT*>(d.pValue)->bLittleEndian;
      out.width_bits = static_cast<const CK_SP800_108_COUNTER_FORMAT*>(d.pValue)->ulWidthInBits;
      break;
    case CK_SP800_108_DKM_LENGTH: {
      require(d.pValue != nullptr && d.ulValueLen == sizeof(CK_SP800_108_DKM_LENGTH_FORMAT),
              CKR_MECHANISM_PARAM_INVALID, "L's format is CK_SP800_108_DKM_LENGTH_FORMAT");
      const auto& f = *static_cast<const CK_SP800_108_DKM_LENGTH_FORMAT*>(d.pValue);
      out.has_format = true;
      out.dkm_method = f.dkmLengthMethod;
      out.little_endian = f.bLittleEndian;
      out.width_bits = f.ulWidthInBits;
      break;
    }
    case CK_SP800_108_BYTE_ARRAY:
      out.bytes = bytes_of(d.pValue, d.ulValueLen, kMaxParamData);
      break;
    default:
      throw CkError(CKR_MECHANISM_PARAM_INVALID,
                    "an SP 800-108 data parameter has an unknown type");
  }
  return out;
}

template <class P>
token::Sp800Params sp800_common(const P& p, bool feedback) {
  require(p.ulNumberOfDataParams <= kMaxDataParams &&
              (p.pDataParams != nullptr || p.ulNumberOfDataParams == 0),
          CKR_MECHANISM_PARAM_INVALID, "the SP 800-108 data parameters are invalid");
  token::Sp800Params out;
  out.feedback = feedback;
  out.prf = p.prfType;
  for (CK_ULONG i = 0; i < p.ulNumberOfDataParams; ++i) {
    out.data.push_back(parse_data_param(p.pDataParams[i]));
  }
  out.additional_keys = p.ulAdditionalDerivedKeys;
  return out;
}

token::Sp800Params parse_sp800(const CK_MECHANISM* m) {
  if (m->mechanism == CKM_SP800_108_COUNTER_KDF) {
    return sp800_common(param_as<CK_SP800_108_KDF_PARAMS>(m), false);
  }
  const auto& p = param_as<CK_SP800_108_FEEDBACK_KDF_PARAMS>(m);
  token::Sp800Params out = sp800_common(p, true);
  out.iv = bytes_of(p.pIV, p.ulIVLen, 1024);
  return out;
}

template <class P>
token::EncryptDataParams encrypt_data(const CK_MECHANISM* m) {
  const auto& p = param_as<P>(m);
  return {Bytes(p.iv, p.iv + sizeof p.iv), bytes_of(p.pData, p.length, 4096)};
}

}  // namespace

token::Mechanism parse_mechanism(const CK_MECHANISM* m) {
  require(m != nullptr, CKR_ARGUMENTS_BAD, "the mechanism is NULL");
  require(token::mechanism_info(m->mechanism) != nullptr, CKR_MECHANISM_INVALID,
          "twinhsm does not support the mechanism");
  token::Mechanism out;
  out.type = m->mechanism;
  switch (m->mechanism) {
    case CKM_AES_GCM:
      out.params = parse_gcm(m);
      break;
    case CKM_AES_CCM:
      out.params = parse_ccm(m);
      break;
    case CKM_CHACHA20_POLY1305:
      out.params = parse_chacha(m);
      break;
    case CKM_AES_CBC:
    case CKM_AES_CBC_PAD:
    case CKM_AES_CTS:
    case CKM_AES_XTS:
      out.params = iv_of(m, 16);
      break;
    case CKM_DES_CBC:
    case CKM_DES_CBC_PAD:
    case CKM_DES3_CBC:
    case CKM_DES3_CBC_PAD:
      out.params = iv_of(m, 8);
      break;
    case CKM_AES_KEY_WRAP:
    case CKM_AES_KEY_WRAP_PAD:
    case CKM_AES_KEY_WRAP_KWP:
    case CKM_AES_KEY_WRAP_PKCS7:
      if (m->pParameter != nullptr || m->ulParameterLen != 0) {
        out.params = token::IvParams{bytes_of(m->pParameter, m->ulParameterLen, 8)};
      }
      break;
    case CKM_AES_CTR: {
      const auto& p = param_as<CK_AES_CTR_PARAMS>(m);
      out.params = token::CtrParams{p.ulCounterBits, Bytes(p.cb, p.cb + sizeof p.cb)};
      break;
    }
    case CKM_RSA_PKCS_OAEP: {
      const auto& p = param_as<CK_RSA_PKCS_OAEP_PARAMS>(m);
      out.params = token::OaepParams{p.hashAlg, p.mgf, p.source,
                                     bytes_of(p.pSourceData, p.ulSourceDataLen, kMaxParamData)};
      break;
    }
    case CKM_ECDH1_DERIVE:
      out.params = parse_ecdh1(m);
      break;
    case CKM_DH_PKCS_DERIVE:
      out.params = token::DataParams{bytes_of(m->pParameter, m->ulParameterLen, 8192 / 8)};
      break;
    case CKM_AES_ECB_ENCRYPT_DATA:
    case CKM_DES_ECB_ENCRYPT_DATA:
    case CKM_DES3_ECB_ENCRYPT_DATA: {
      const auto& p = param_as<CK_KEY_DERIVATION_STRING_DATA>(m);
      out.params = token::DataParams{bytes_of(p.pData, p.ulLen, 4096)};
      break;
    }
    case CKM_AES_CBC_ENCRYPT_DATA:
      out.params = encrypt_data<CK_AES_CBC_ENCRYPT_DATA_PARAMS>(m);
      break;
    case CKM_DES_CBC_ENCRYPT_DATA:
    case CKM_DES3_CBC_ENCRYPT_DATA:
      out.params = encrypt_data<CK_DES_CBC_ENCRYPT_DATA_PARAMS>(m);
      break;
    case CKM_HKDF_DERIVE:
    case CKM_HKDF_DATA:
      out.params = parse_hkdf(m);
      break;
    case CKM_SP800_108_COUNTER_KDF:
    case CKM_SP800_108_FEEDBACK_KDF:
      out.params = parse_sp800(m);
      break;
    case CKM_EDDSA:
      if (m->pParameter != nullptr) {
        const auto& p = param_as<CK_EDDSA_PARAMS>(m);
        require(!p.phFlag && p.ulContextDataLen == 0, CKR_MECHANISM_PARAM_INVALID,
                "only pure EdDSA (no prehash, no context) is supported");
      }
      break;
    default:
      if (m->pParameter == nullptr) {
        break;  // the common case: no parameters to look at
      }
      if (m->ulParameterLen == sizeof(CK_MAC_GENERAL_PARAMS) &&
          token::is_mac_mechanism(m->mechanism)) {
        out.params = token::MacGeneralParams{param_as<CK_MAC_GENERAL_PARAMS>(m)};
        break;
      }
      if (const auto* info = token::mechanism_info(m->mechanism);
          info->flags & (CKF_SIGN | CKF_VERIFY) &&
          m->ulParameterLen == sizeof(CK_RSA_PKCS_PSS_PARAMS)) {
        const auto& p = param_as<CK_RSA_PKCS_PSS_PARAMS>(m);
        out.params = token::PssParams{p.hashAlg, p.mgf, p.sLen};
      }
      break;
  }
  return out;
}

token::Mechanism parse_message_mechanism(const CK_MECHANISM* m) {
  if (m != nullptr && m->pParameter == nullptr && m->ulParameterLen == 0 &&
      (m->mechanism == CKM_AES_GCM || m->mechanism == CKM_AES_CCM ||
       m->mechanism == CKM_CHACHA20_POLY1305)) {
    return token::Mechanism{m->mechanism, {}};
  }
  return parse_mechanism(m);
}

}  // namespace twinhsm::pkcs11
