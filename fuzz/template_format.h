// The input format of fuzz_templates, shared by the target (which decodes it) and the seed
// generator (which encodes the seeds):
//
//   byte 0   flags
//            0x01  the search uses the create template (else a third template follows)
//            0x02  C_CreateObject gets a NULL template pointer (with the template's count)
//            0x04  C_GetAttributeValue gets a NULL template pointer
//            0x08  C_FindObjectsInit gets a NULL template pointer
//            0x10  C_FindObjects gets a NULL handle array
//            0x20  C_FindObjects returns one handle per call (else up to 16)
//   then the create template, the get template and (without 0x01) the find template, each:
//     byte n: n % 33 attributes, each
//       type   byte t < 0xf0: kTypes[t % std::size(kTypes)]; else 8 bytes BE: any type
//       value  create and find templates: byte m, by m % 8
//                0  1 length byte L, then L bytes (fewer at the input's end: the length given
//                   is always the size of the buffer)
//                1  NULL pValue, ulValueLen 0
//                2  NULL pValue, ulValueLen from 4 bytes BE (a length without a buffer)
//                3  a CK_ULONG from 1 byte          4  a CK_BBOOL from 1 byte
//                5  a CK_ULONG from 8 bytes BE      6  2 length bytes (BE), then the bytes
//                7  a non-NULL pValue with ulValueLen 0
//              get template: byte m, by m % 4
//                0  NULL pValue, ulValueLen from 4 bytes BE (a size query)
//                1  a buffer of L bytes (1 byte), ulValueLen L
//                2  a buffer of L bytes (1 byte), ulValueLen (1 byte) % (L + 1): less than it has
//                3  a buffer of L bytes (2 bytes BE), ulValueLen L
//   A template attribute (CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE) whose value
//   comes as bytes (m % 8 = 0 or 6) in a create or find template: those bytes are a nested
//   template in this same format, passed as the array of CK_ATTRIBUTE PKCS#11 asks for (once:
//   nested deeper, bytes are bytes, and the module refuses a template in a template). In a get
//   template, such an attribute's buffer holds CK_ATTRIBUTEs asking for sizes.
// Every value and buffer is a heap block of exactly its size, so that AddressSanitizer sees any
// access past it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>

#include "common/pkcs11.h"

namespace twinhsm::fuzz {

inline constexpr CK_ATTRIBUTE_TYPE kTypes[] = {
    CKA_CLASS,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LABEL,
    CKA_APPLICATION,
    CKA_VALUE,
    CKA_OBJECT_ID,
    CKA_CERTIFICATE_TYPE,
    CKA_ISSUER,
    CKA_SERIAL_NUMBER,
    CKA_AC_ISSUER,
    CKA_OWNER,
    CKA_ATTR_TYPES,
    CKA_TRUSTED,
    CKA_CERTIFICATE_CATEGORY,
    CKA_JAVA_MIDP_SECURITY_DOMAIN,
    CKA_URL,
    CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
    CKA_HASH_OF_ISSUER_PUBLIC_KEY,
    CKA_NAME_HASH_ALGORITHM,
    CKA_CHECK_VALUE,
    CKA_KEY_TYPE,
    CKA_SUBJECT,
    CKA_ID,
    CKA_SENSITIVE,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_SIGN,
    CKA_SIGN_RECOVER,
    CKA_VERIFY,
    CKA_VERIFY_RECOVER,
    CKA_DERIVE,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_MODULUS,
    CKA_MODULUS_BITS,
    CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
    CKA_PUBLIC_KEY_INFO,
    CKA_PRIME,
    CKA_SUBPRIME,
    CKA_BASE,
    CKA_VALUE_BITS,
    CKA_VALUE_LEN,
    CKA_EXTRACTABLE,
    CKA_LOCAL,
    CKA_NEVER_EXTRACTABLE,
    CKA_ALWAYS_SENSITIVE,
    CKA_KEY_GEN_MECHANISM,
    CKA_MODIFIABLE,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_ALWAYS_AUTHENTICATE,
    CKA_WRAP_WITH_TRUSTED,
    CKA_WRAP_TEMPLATE,
    CKA_UNWRAP_TEMPLATE,
    CKA_DERIVE_TEMPLATE,
    CKA_OTP_FORMAT,
    CKA_HW_FEATURE_TYPE,
    CKA_RESET_ON_INIT,
    CKA_ALLOWED_MECHANISMS,
    CKA_UNIQUE_ID,
    CKA_VENDOR_DEFINED,
};

// The index of type in kTypes (for the seed generator); std::size(kTypes) when absent.
constexpr size_t type_index(CK_ATTRIBUTE_TYPE type) {
  for (size_t i = 0; i < std::size(kTypes); ++i) {
    if (kTypes[i] == type) {
      return i;
    }
  }
  return std::size(kTypes);
}

enum Flags : uint8_t {
  kFindUsesCreate = 0x01,
  kNullCreate = 0x02,
  kNullGet = 0x04,
  kNullFind = 0x08,
  kNullFoundArray = 0x10,
  kOneHandlePerCall = 0x20,
};

inline constexpr size_t kMaxAttributes = 33;

}  // namespace twinhsm::fuzz
