#include "pkcs11/marshal.h"

#include "token/ck_error.h"

namespace twinhsm::pkcs11 {

using token::CkError;
using token::require;

void check_template_count(const CK_ATTRIBUTE* attrs, CK_ULONG count) {
  require(attrs != nullptr || count == 0, CKR_ARGUMENTS_BAD, "the template is NULL");
  require(count <= kMaxTemplateCount, CKR_ARGUMENTS_BAD,
          "the template has more attributes than twinhsm accepts");
}

bool is_template_attribute(CK_ATTRIBUTE_TYPE type) {
  return type == CKA_WRAP_TEMPLATE || type == CKA_UNWRAP_TEMPLATE || type == CKA_DERIVE_TEMPLATE;
}

namespace {

// kMaxNested: attributes in a template attribute's value (a template inside a key).
constexpr CK_ULONG kMaxNested = 256;

// parse_attributes copies count attributes into a map; nested (inside a template attribute)
// they may not be templates themselves.
token::AttributeMap parse_attributes(const CK_ATTRIBUTE* attrs, CK_ULONG count, bool nested) {
  token::AttributeMap map;
  for (CK_ULONG i = 0; i < count; ++i) {
    const CK_ATTRIBUTE& a = attrs[i];
    require(a.ulValueLen <= kMaxAttributeLen && (a.pValue != nullptr || a.ulValueLen == 0),
            CKR_ATTRIBUTE_VALUE_INVALID, "an attribute's value pointer or length is invalid");
    crypto::SecureBytes value;
    if (is_template_attribute(a.type)) {
      require(!nested && a.ulValueLen % sizeof(CK_ATTRIBUTE) == 0 &&
                  a.ulValueLen / sizeof(CK_ATTRIBUTE) <= kMaxNested,
              CKR_ATTRIBUTE_VALUE_INVALID,
              "a template attribute's value must be an array of CK_ATTRIBUTE (not nested)");
      value = parse_attributes(static_cast<const CK_ATTRIBUTE*>(a.pValue),
                               a.ulValueLen / sizeof(CK_ATTRIBUTE), true)
                  .encode();
    } else {
      value = crypto::secure_copy(ByteView(static_cast<const uint8_t*>(a.pValue), a.ulValueLen));
    }
    if (const auto* existing = map.find(a.type)) {
      require(existing->size() == value.size() && crypto::ct_equal(*existing, value),
              CKR_TEMPLATE_INCONSISTENT, "the template gives one attribute two values");
      continue;
    }
    map.set(a.type, std::move(value));
  }
  return map;
}

// give_bytes is give_attribute for a plain value.
CK_RV give_bytes(CK_ATTRIBUTE& out, ByteView value) {
  if (out.pValue == nullptr) {
    out.ulValueLen = value.size();
    return CKR_OK;
  }
  if (out.ulValueLen < value.size()) {
    out.ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return CKR_BUFFER_TOO_SMALL;
  }
  if (!value.empty()) {  // an empty value has no data pointer to copy from
    std::memcpy(out.pValue, value.data(), value.size());
  }
  out.ulValueLen = value.size();
  return CKR_OK;
}

}  // namespace

token::AttributeMap parse_template(const CK_ATTRIBUTE* attrs, CK_ULONG count) {
  check_template_count(attrs, count);
  return parse_attributes(attrs, count, false);
}

CK_RV give_attribute(CK_ATTRIBUTE& out, ByteView value) {
  if (!is_template_attribute(out.type)) {
    return give_bytes(out, value);
  }
  // PKCS#11 3.0 5.7.5: the array's length is the number of attributes times
  // sizeof(CK_ATTRIBUTE); given room for them, each element gets its type and, by the same
  // two-call rule, its length or its value.
  token::AttributeMap nested = token::AttributeMap::decode(value);
  CK_ULONG size = nested.size() * sizeof(CK_ATTRIBUTE);
  if (out.pValue == nullptr) {
    out.ulValueLen = size;
    return CKR_OK;
  }
  if (out.ulValueLen < size) {
    out.ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return CKR_BUFFER_TOO_SMALL;
  }
  auto* elements = static_cast<CK_ATTRIBUTE*>(out.pValue);
  CK_RV rv = CKR_OK;
  size_t i = 0;
  for (const auto& [type, v] : nested) {
    elements[i].type = type;
    if (give_bytes(elements[i], v) != CKR_OK) {
      rv = CKR_BUFFER_TOO_SMALL;
    }
    ++i;
  }
  out.ulValueLen = size;
  return rv;
}

namespace {

template <class T>
const T& param_as(const CK_MECHANISM* m) {
  require(m->pParameter != nullptr && m->ulParameterLen == sizeof(T), CKR_MECHANISM_PARAM_INVALID,
          "the mechanism parameter has the wrong size");
  return *static_cast<const T*>(m->pParameter);
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
  const CK_BYTE* iv;
  CK_ULONG iv_len, aad_len;
  const CK_BYTE* aad;
  token::GcmParams out;
  if (m->ulParameterLen == sizeof(CK_GCM_PARAMS)) {
    const auto& p = *static_cast<const CK_GCM_PARAMS*>(m->pParameter);
    iv = p.pIv;
    iv_len = p.ulIvLen;
    aad = p.pAAD;
    aad_len = p.ulAADLen;
    out.tag_bits = p.ulTagBits;
  } else if (m->ulParameterLen == sizeof(GcmParamsV240)) {
    const auto& p = *static_cast<const GcmParamsV240*>(m->pParameter);
    iv = p.pIv;
    iv_len = p.ulIvLen;
    aad = p.pAAD;
    aad_len = p.ulAADLen;
    out.tag_bits = p.ulTagBits;
  } else {
    throw CkError(CKR_MECHANISM_PARAM_INVALID, "CK_GCM_PARAMS has the wrong size");
  }
  require((iv || iv_len == 0) && (aad || aad_len == 0) && iv_len <= 256 && aad_len <= (1u << 24),
          CKR_MECHANISM_PARAM_INVALID, "the GCM IV or AAD pointer or length is invalid");
  out.iv.assign(iv, iv + iv_len);
  out.aad.assign(aad, aad + aad_len);
  return out;
}

// bytes_of copies a caller's (pointer, length) pair; NULL with a length, or more than max bytes,
// is CKR_MECHANISM_PARAM_INVALID.
Bytes bytes_of(const void* p, CK_ULONG len, CK_ULONG max) {
  require((p != nullptr || len == 0) && len <= max, CKR_MECHANISM_PARAM_INVALID,
          "a pointer or length in the mechanism parameter is invalid");
  const auto* b = static_cast<const uint8_t*>(p);
  return len == 0 ? Bytes() : Bytes(b, b + len);
}

// iv_of copies an IV given as the whole parameter (AES-CBC: 16 bytes; AES key wrap: an optional
// initial value of 8 or 4 bytes).
token::IvParams iv_of(const CK_MECHANISM* m) {
  return token::IvParams{bytes_of(m->pParameter, m->ulParameterLen, 256)};
}

token::OaepParams parse_oaep(const CK_MECHANISM* m) {
  const auto& p = param_as<CK_RSA_PKCS_OAEP_PARAMS>(m);
  return token::OaepParams{p.hashAlg, p.mgf, p.source,
                           bytes_of(p.pSourceData, p.ulSourceDataLen, 1u << 20)};
}

token::CtrParams parse_ctr(const CK_MECHANISM* m) {
  const auto& p = param_as<CK_AES_CTR_PARAMS>(m);
  return token::CtrParams{p.ulCounterBits, Bytes(p.cb, p.cb + sizeof p.cb)};
}

token::Ecdh1Params parse_ecdh1(const CK_MECHANISM* m) {
  const auto& p = param_as<CK_ECDH1_DERIVE_PARAMS>(m);
  return token::Ecdh1Params{p.kdf, bytes_of(p.pSharedData, p.ulSharedDataLen, 1u << 16),
                            bytes_of(p.pPublicData, p.ulPublicDataLen, 1u << 12)};
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
    case CKM_AES_CBC:
    case CKM_AES_CBC_PAD:
      require(m->pParameter != nullptr && m->ulParameterLen == 16, CKR_MECHANISM_PARAM_INVALID,
              "AES-CBC needs a 16-byte IV as its parameter");
      out.params = iv_of(m);
      break;
    case CKM_AES_KEY_WRAP:
    case CKM_AES_KEY_WRAP_PAD:
      if (m->pParameter != nullptr || m->ulParameterLen != 0) {
        out.params = iv_of(m);
      }
      break;
    case CKM_AES_CTR:
      out.params = parse_ctr(m);
      break;
    case CKM_RSA_PKCS_OAEP:
      out.params = parse_oaep(m);
      break;
    case CKM_ECDH1_DERIVE:
      out.params = parse_ecdh1(m);
      break;
    case CKM_RSA_PKCS_PSS:
    case CKM_SHA1_RSA_PKCS_PSS:
    case CKM_SHA224_RSA_PKCS_PSS:
    case CKM_SHA256_RSA_PKCS_PSS:
    case CKM_SHA384_RSA_PKCS_PSS:
    case CKM_SHA512_RSA_PKCS_PSS: {
      const auto& p = param_as<CK_RSA_PKCS_PSS_PARAMS>(m);
      out.params = token::PssParams{p.hashAlg, p.mgf, p.sLen};
      break;
    }
    case CKM_EDDSA:
      if (m->pParameter != nullptr) {
        const auto& p = param_as<CK_EDDSA_PARAMS>(m);
        require(!p.phFlag && p.ulContextDataLen == 0, CKR_MECHANISM_PARAM_INVALID,
                "only pure Ed25519 (no prehash, no context) is supported");
      }
      break;
    default:
      break;
  }
  return out;
}

bool give_output(CK_BYTE_PTR out, CK_ULONG_PTR out_len, size_t size) {
  require(out_len != nullptr, CKR_ARGUMENTS_BAD, "the output length pointer is NULL");
  CK_ULONG available = *out_len;
  *out_len = size;
  if (out == nullptr) {
    return false;
  }
  require(available >= size, CKR_BUFFER_TOO_SMALL, "the output buffer is too small");
  return true;
}

bool copy_output(CK_BYTE_PTR out, CK_ULONG_PTR out_len, ByteView data) {
  if (!give_output(out, out_len, data.size())) {
    return false;
  }
  if (!data.empty()) {
    std::memcpy(out, data.data(), data.size());
  }
  return true;
}

ByteView input(const CK_BYTE* data, CK_ULONG len) {
  require(data != nullptr || len == 0, CKR_ARGUMENTS_BAD, "the input pointer is NULL");
  require(len <= kMaxDataLen, CKR_ARGUMENTS_BAD, "the input is longer than twinhsm accepts");
  return ByteView(data, len);
}

void check_output_length(const CK_BYTE* out, CK_ULONG len) {
  require(out != nullptr || len == 0, CKR_ARGUMENTS_BAD, "the output pointer is NULL");
  require(len <= kMaxDataLen, CKR_ARGUMENTS_BAD, "the output is longer than twinhsm accepts");
}

std::string unpad(const CK_UTF8CHAR* field, size_t n) {
  std::string s(reinterpret_cast<const char*>(field), n);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) {
    s.pop_back();
  }
  return s;
}

}  // namespace twinhsm::pkcs11
