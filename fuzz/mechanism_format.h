// The input format of fuzz_mechanisms, shared by the target (which decodes it) and the seed
// generator (which encodes the seeds):
//
//   byte   operation: Op, by value % kOpCount
//   byte   flags: kRoundTrip, kSizeQuery (below)
//   byte   key a, byte key b: the keys the operation uses (indexes into the target's keys,
//          modulo their number; b is the key wrapped, or ignored)
//   mechanism   byte m < 0xf8: the module's mechanism list[m % its length];
//               else 4 bytes BE: any mechanism type
//   parameter   (a Param, below) the mechanism's pParameter and ulParameterLen
//   data        2 bytes BE L % 4097, then L bytes: what the operation processes
//   extra       2 bytes BE L % 4097, then L bytes: the signature C_Verify checks, the blob
//               C_UnwrapKey unwraps, the additional data of a message operation
//   message parameter   (a Param) the pParameter of C_EncryptMessage / C_DecryptMessage
//   byte   template: kTemplate* for C_UnwrapKey, C_DeriveKey and C_GenerateKey, by value % count
//   byte   parts: multi-part operations split the data in (value % 8) + 1 parts
//   2 bytes BE   output buffer size % 8193 (unless kSizeQuery)
//
// A Param: byte f, by f % 4
//   0  NULL, ulParameterLen 0
//   1  the structure the mechanism takes (layout_of, below), ulParameterLen its exact size; for
//      a mechanism whose parameter holds no pointer (or that the module does not know): 2 bytes
//      BE L % 4097, then L bytes
//   2  as 1, ulParameterLen 1 to 7 bytes less, in a heap block of exactly that size (the
//      module must check the size before it reads)
//   3  NULL with ulParameterLen from 1 byte
// A structure is filled word by word (CK_ULONG-sized) by its layout, a string of:
//   n  a number: byte s by s % 4: 0 one byte, 1 2 bytes BE % 1025, 2 kConstants[byte % count],
//      3 a key handle: the target's keys[byte % count]
//   p  a pointer: byte s by s % 2: 0 to a data block (2 bytes BE L % 4097, then L bytes at its
//      start, zeros after), 1 NULL
//   r  8 bytes from the input (inline byte arrays: an IV, a counter block)
//   b  two CK_BBOOLs from two bytes (& 1 each): CK_HKDF_PARAMS's bExtract and bExpand, a
//      CK_EDDSA_PARAMS's phFlag
//   [...] a pointer to a block holding byte % 9 structures of the bracketed layout, one after
//      the other (CK_PRF_DATA_PARAM, CK_DERIVED_KEY, CK_ATTRIBUTE arrays), zeros after
// Every pointed-to block is kBlockSize bytes (zeros past what the input gave), and no number
// exceeds kMaxSlotNumber, so no length or count the module takes from a structure makes it read
// past the caller's memory; a number is never where the module expects a pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "common/pkcs11.h"

namespace twinhsm::fuzz::mechanisms {

enum Op : uint8_t {
  kEncrypt,         // C_EncryptInit + C_Encrypt (kRoundTrip: then decrypt with the partner key)
  kDecrypt,         // C_DecryptInit + C_Decrypt of the data
  kEncryptParts,    // C_EncryptInit + C_EncryptUpdate... + C_EncryptFinal
  kDecryptParts,    // C_DecryptInit + C_DecryptUpdate... + C_DecryptFinal
  kSign,            // C_SignInit + C_Sign (kRoundTrip: then verify with the partner key)
  kSignParts,       // C_SignInit + C_SignUpdate... + C_SignFinal
  kVerify,          // C_VerifyInit + C_Verify(data, extra)
  kVerifyParts,     // C_VerifyInit + C_VerifyUpdate... + C_VerifyFinal(extra)
  kDigest,          // C_DigestInit + C_Digest
  kDigestParts,     // C_DigestInit + C_DigestUpdate... (+ C_DigestKey of key a) + C_DigestFinal
  kWrap,            // C_WrapKey(key a wraps key b) (kRoundTrip: then unwrap and compare)
  kUnwrap,          // C_UnwrapKey(extra) under key a
  kDerive,          // C_DeriveKey from key a
  kGenerateKey,     // C_GenerateKey
  kEncryptMessage,  // C_MessageEncryptInit + C_EncryptMessage (kRoundTrip: then decrypt it)
  kDecryptMessage,  // C_MessageDecryptInit + C_DecryptMessage
  kEncryptMessageParts,  // C_EncryptMessageBegin + C_EncryptMessageNext...
  kOpCount,
};

inline constexpr uint8_t kRoundTrip = 0x01;  // undo with the partner key; a mismatch is a finding
inline constexpr uint8_t kSizeQuery = 0x02;  // ask the output's size first (NULL buffer)

inline constexpr uint8_t kRawMechanism = 0xf8;  // a mechanism byte from here: 4 bytes BE follow

enum ParamForm : uint8_t { kParamNull, kParamStructure, kParamShort, kParamNullWithLength };
enum NumberForm : uint8_t { kNumberByte, kNumberLength, kNumberConstant, kNumberKey };
enum PointerForm : uint8_t { kPointerData, kPointerNull };

inline constexpr size_t kMaxElements = 8;  // in a [...] array
inline constexpr size_t kMaxData = 4096;
inline constexpr size_t kBlockSize = size_t{1} << 20;
inline constexpr CK_ULONG kMaxSlotLength = 1024;    // number form 1
inline constexpr CK_ULONG kMaxSlotNumber = 0x4100;  // any number

// The values mechanism parameters name: hashes, MGFs, KDFs, HKDF salt types, IV generators,
// SP 800-108 data parameter types, attribute types and classes (each below kMaxSlotNumber).
inline constexpr CK_ULONG kConstants[] = {
    CKM_SHA_1,
    CKM_SHA256,
    CKM_SHA384,
    CKM_SHA512,
    CKM_SHA3_256,
    CKM_SHA256_HMAC,
    CKM_SHA512_HMAC,
    CKM_AES_CMAC,
    CKG_MGF1_SHA1,
    CKG_MGF1_SHA256,
    CKG_MGF1_SHA512,
    CKZ_DATA_SPECIFIED,
    CKD_NULL,
    CKD_SHA256_KDF,
    CKD_SHA1_KDF,
    CKF_HKDF_SALT_NULL,
    CKF_HKDF_SALT_DATA,
    CKF_HKDF_SALT_KEY,
    CKG_NO_GENERATE,
    CKG_GENERATE,
    CKG_GENERATE_COUNTER,
    CKG_GENERATE_RANDOM,
    CK_SP800_108_ITERATION_VARIABLE,
    CK_SP800_108_COUNTER,
    CK_SP800_108_DKM_LENGTH,
    CK_SP800_108_BYTE_ARRAY,
    CKA_CLASS,
    CKA_KEY_TYPE,
    CKA_VALUE_LEN,
    CKA_TOKEN,
    CKA_SENSITIVE,
    CKA_EXTRACTABLE,
    CKA_ENCRYPT,
    CKA_SIGN,
    CKO_SECRET_KEY,
    CKK_AES,
    CKK_GENERIC_SECRET,
    32,
    16,
    12,
    96,
    128,
};

// layouts_of gives the layouts (above) of the parameter structures the module reads for a
// mechanism (as a message's parameter, for message), one or two (CK_GCM_PARAMS with and without
// the ulIvBits of PKCS#11 2.40's errata); none for a parameter without pointers.
struct Layouts {
  const char* first = nullptr;
  const char* second = nullptr;
};
inline Layouts layouts_of(CK_MECHANISM_TYPE m, bool message) {
  switch (m) {
    case CKM_AES_GCM:
      return message ? Layouts{"pnnnpn"} : Layouts{"pnnpnn", "pnpnn"};
    case CKM_AES_CCM:
      return {message ? "npnnnpn" : "npnpnn"};
    case CKM_CHACHA20_POLY1305:
      return {message ? "pnp" : "pnpn"};
    case CKM_RSA_PKCS_OAEP:
      return {"nnnpn"};
    case CKM_ECDH1_DERIVE:
      return {"nnpnp"};
    case CKM_AES_ECB_ENCRYPT_DATA:
    case CKM_DES_ECB_ENCRYPT_DATA:
    case CKM_DES3_ECB_ENCRYPT_DATA:
      return {"pn"};
    case CKM_AES_CBC_ENCRYPT_DATA:
      return {"rrpn"};
    case CKM_DES_CBC_ENCRYPT_DATA:
    case CKM_DES3_CBC_ENCRYPT_DATA:
      return {"rpn"};
    case CKM_HKDF_DERIVE:
    case CKM_HKDF_DATA:
      return {"bnnpnnpn"};
    case CKM_SP800_108_COUNTER_KDF:  // data parameters, additional keys (CK_DERIVED_KEY)
      return {"nn[npn]n[[npn]np]"};
    case CKM_SP800_108_FEEDBACK_KDF:
      return {"nn[npn]npn[[npn]np]"};
    case CKM_EDDSA:
      return {"bnp"};
    default:
      return {};
  }
}

// The keys fuzz_mechanisms generates, in this order (a key byte is an index, modulo their
// number); a pair's public half comes first, its private half next.
enum KeyIndex : uint8_t {
  kAesData,       // AES-256: encrypt, decrypt, sign, verify
  kAesWrap,       // AES-256: wrap, unwrap
  kAesDerive,     // AES-256: derive
  kHmac,          // generic secret, 32 bytes: sign, verify
  kSecretDerive,  // generic secret, 32 bytes: derive
  kAesKnown,      // AES-128, readable and extractable (a key to wrap)
  kAesSensitive,  // AES-256, sensitive and extractable (a key to wrap)
  kChaCha20,      // ChaCha20: encrypt, decrypt
  kAesXts,        // AES-XTS, 64 bytes: encrypt, decrypt
  kRsaVerify,
  kRsaSign,
  kRsaEncrypt,
  kRsaDecrypt,
  kRsaWrap,
  kRsaUnwrap,
  kEcVerify,
  kEcSign,
  kEcDerivePublic,
  kEcDerive,
  kEd25519Verify,
  kEd25519Sign,
  kX25519Public,
  kX25519Derive,
  kKeyCount,
};

// mechanism_seeds writes the seed inputs of fuzz_mechanisms into dir (mechanism_seeds.cc, run
// by fuzz_seedgen).
void mechanism_seeds(const std::filesystem::path& dir);

// The templates of the keys C_UnwrapKey, C_DeriveKey and C_GenerateKey make (session objects).
enum TemplateKind : uint8_t {
  kTemplateAes,         // AES-256, sensitive, not extractable, encrypts
  kTemplateSecret,      // generic secret of 32 bytes, readable
  kTemplateAesNoSize,   // AES with no CKA_VALUE_LEN
  kTemplateEmpty,       // no attribute at all
  kTemplateRsaPrivate,  // an RSA private key that signs
  kTemplateCount,
};

}  // namespace twinhsm::fuzz::mechanisms
