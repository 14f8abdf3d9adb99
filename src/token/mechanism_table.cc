// The mechanism table (mechanism_table.h). Key sizes as PKCS#11 defines them per mechanism: RSA,
// DSA, DH, EC and generic secret key generation in bits; AES, HMAC, ChaCha20, HKDF keys in bytes;
// DES and Triple DES 0 ("not used"), as SoftHSMv2 reports them; digests 0. Every entry has CKF_HW:
// the device performs the mechanism, keys never leave it.
#include "token/mechanism_table.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>

namespace twinhsm::token {

namespace {

constexpr CK_FLAGS kEcFlags = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;
// Every mechanism that signs or verifies does so message-based too (C_MessageSignInit, ...), and
// the AEADs encrypt and decrypt messages (C_MessageEncryptInit, ...); a message may come in parts
// (C_*MessageBegin and C_*MessageNext: CKF_MULTI_MESSAGE).
constexpr CK_FLAGS kSignVerify =
    CKF_HW | CKF_SIGN | CKF_VERIFY | CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY | CKF_MULTI_MESSAGE;
constexpr CK_FLAGS kVerifyUse = CKF_VERIFY | CKF_MESSAGE_VERIFY | CKF_MULTI_MESSAGE;
constexpr CK_FLAGS kAead = CKF_HW | CKF_ENCRYPT | CKF_DECRYPT | CKF_MESSAGE_ENCRYPT |
                           CKF_MESSAGE_DECRYPT | CKF_MULTI_MESSAGE;
constexpr CK_FLAGS kEncryptDecrypt = CKF_HW | CKF_ENCRYPT | CKF_DECRYPT;
constexpr CK_FLAGS kWrapUnwrap = CKF_HW | CKF_WRAP | CKF_UNWRAP;
constexpr CK_FLAGS kDerive = CKF_HW | CKF_DERIVE;
constexpr CK_FLAGS kGenerate = CKF_HW | CKF_GENERATE;
constexpr CK_FLAGS kGeneratePair = CKF_HW | CKF_GENERATE_KEY_PAIR;
constexpr CK_FLAGS kDigest = CKF_HW | CKF_DIGEST;
constexpr CK_ULONG kMaxHmacKey = 512;  // bytes; also the limit of CKM_GENERIC_SECRET_KEY_GEN
constexpr CK_ULONG kRsaMax = 16384;
constexpr Tier L = Tier::legacy;
constexpr Tier M = Tier::modern;

// A constant array, not a std::vector: no destructor runs at exit (docs/architecture.md, Teardown).
constexpr auto kMechanisms = std::to_array<MechanismInfo>({
    // Key generation.
    {CKM_RSA_PKCS_KEY_PAIR_GEN, 2048, 4096, kGeneratePair, M, 1024},
    {CKM_EC_KEY_PAIR_GEN, 256, 521, kGeneratePair | kEcFlags, M, 192},
    {CKM_EC_EDWARDS_KEY_PAIR_GEN, 255, 448, kGeneratePair},
    {CKM_EC_MONTGOMERY_KEY_PAIR_GEN, 255, 448, kGeneratePair},
    {CKM_DSA_KEY_PAIR_GEN, 1024, 3072, kGeneratePair, L},
    {CKM_DSA_PARAMETER_GEN, 1024, 3072, kGenerate, L},
    {CKM_DH_PKCS_KEY_PAIR_GEN, 512, 8192, kGeneratePair, L},
    {CKM_DH_PKCS_PARAMETER_GEN, 512, 8192, kGenerate, L},
    {CKM_AES_KEY_GEN, 16, 32, kGenerate},
    {CKM_AES_XTS_KEY_GEN, 32, 64, kGenerate},
    {CKM_CHACHA20_KEY_GEN, 32, 32, kGenerate},
    {CKM_GENERIC_SECRET_KEY_GEN, 8, 8 * kMaxHmacKey, kGenerate},
    {CKM_HKDF_KEY_GEN, 1, kMaxHmacKey, kGenerate},
    {CKM_DES_KEY_GEN, 0, 0, kGenerate, L},
    {CKM_DES2_KEY_GEN, 0, 0, kGenerate, L},
    {CKM_DES3_KEY_GEN, 0, 0, kGenerate, L},
    // RSA.
    {CKM_RSA_PKCS, 1024, kRsaMax, kSignVerify | kEncryptDecrypt},
    {CKM_RSA_X_509, 1024, kRsaMax, kSignVerify | kEncryptDecrypt},
    {CKM_MD5_RSA_PKCS, 1024, kRsaMax, kSignVerify, L},
    {CKM_SHA1_RSA_PKCS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA224_RSA_PKCS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA256_RSA_PKCS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA384_RSA_PKCS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA512_RSA_PKCS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA3_224_RSA_PKCS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA3_256_RSA_PKCS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA3_384_RSA_PKCS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA3_512_RSA_PKCS, 1024, kRsaMax, kSignVerify},
    {CKM_RSA_PKCS_PSS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA1_RSA_PKCS_PSS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA224_RSA_PKCS_PSS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA256_RSA_PKCS_PSS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA384_RSA_PKCS_PSS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA512_RSA_PKCS_PSS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA3_224_RSA_PKCS_PSS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA3_256_RSA_PKCS_PSS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA3_384_RSA_PKCS_PSS, 1024, kRsaMax, kSignVerify},
    {CKM_SHA3_512_RSA_PKCS_PSS, 1024, kRsaMax, kSignVerify},
    {CKM_RSA_PKCS_OAEP, 1024, kRsaMax, kEncryptDecrypt | kWrapUnwrap},
    // DSA.
    {CKM_DSA, 1024, 3072, kSignVerify, L, 0, kVerifyUse},
    {CKM_DSA_SHA1, 1024, 3072, kSignVerify, L, 0, kVerifyUse},
    {CKM_DSA_SHA224, 1024, 3072, kSignVerify, L, 0, kVerifyUse},
    {CKM_DSA_SHA256, 1024, 3072, kSignVerify, L, 0, kVerifyUse},
    {CKM_DSA_SHA384, 1024, 3072, kSignVerify, L, 0, kVerifyUse},
    {CKM_DSA_SHA512, 1024, 3072, kSignVerify, L, 0, kVerifyUse},
    // EC, Edwards and Montgomery curves; finite-field Diffie-Hellman.
    {CKM_ECDSA, 256, 521, kSignVerify | kEcFlags, M, 192},
    {CKM_ECDSA_SHA1, 256, 521, kSignVerify | kEcFlags, M, 192},
    {CKM_ECDSA_SHA224, 256, 521, kSignVerify | kEcFlags, M, 192},
    {CKM_ECDSA_SHA256, 256, 521, kSignVerify | kEcFlags, M, 192},
    {CKM_ECDSA_SHA384, 256, 521, kSignVerify | kEcFlags, M, 192},
    {CKM_ECDSA_SHA512, 256, 521, kSignVerify | kEcFlags, M, 192},
    {CKM_ECDSA_SHA3_224, 256, 521, kSignVerify | kEcFlags, M, 192},
    {CKM_ECDSA_SHA3_256, 256, 521, kSignVerify | kEcFlags, M, 192},
    {CKM_ECDSA_SHA3_384, 256, 521, kSignVerify | kEcFlags, M, 192},
    {CKM_ECDSA_SHA3_512, 256, 521, kSignVerify | kEcFlags, M, 192},
    {CKM_EDDSA, 255, 448, kSignVerify},
    {CKM_ECDH1_DERIVE, 255, 521, kDerive | kEcFlags, M, 192},
    {CKM_DH_PKCS_DERIVE, 512, 8192, kDerive, L},
    // MACs with secret keys.
    {CKM_SHA_1_HMAC, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA_1_HMAC_GENERAL, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA224_HMAC, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA224_HMAC_GENERAL, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA256_HMAC, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA256_HMAC_GENERAL, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA384_HMAC, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA384_HMAC_GENERAL, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA512_HMAC, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA512_HMAC_GENERAL, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA3_224_HMAC, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA3_224_HMAC_GENERAL, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA3_256_HMAC, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA3_256_HMAC_GENERAL, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA3_384_HMAC, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA3_384_HMAC_GENERAL, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA3_512_HMAC, 1, kMaxHmacKey, kSignVerify},
    {CKM_SHA3_512_HMAC_GENERAL, 1, kMaxHmacKey, kSignVerify},
    {CKM_MD5_HMAC, 1, kMaxHmacKey, kSignVerify, L},
    {CKM_MD5_HMAC_GENERAL, 1, kMaxHmacKey, kSignVerify, L},
    {CKM_AES_CMAC, 16, 32, kSignVerify},
    {CKM_AES_CMAC_GENERAL, 16, 32, kSignVerify},
    {CKM_DES3_CMAC, 0, 0, kSignVerify, L, 0, kVerifyUse},
    {CKM_DES3_CMAC_GENERAL, 0, 0, kSignVerify, L, 0, kVerifyUse},
    // AES, ChaCha20.
    {CKM_AES_ECB, 16, 32, kEncryptDecrypt},
    {CKM_AES_CBC, 16, 32, kEncryptDecrypt},
    {CKM_AES_CBC_PAD, 16, 32, kEncryptDecrypt | kWrapUnwrap},
    {CKM_AES_CTR, 16, 32, kEncryptDecrypt},
    {CKM_AES_CTS, 16, 32, kEncryptDecrypt},
    {CKM_AES_XTS, 32, 64, kEncryptDecrypt},
    {CKM_AES_GCM, 16, 32, kAead},
    {CKM_AES_CCM, 16, 32, kAead},
    {CKM_CHACHA20_POLY1305, 32, 32, kAead},
    {CKM_AES_KEY_WRAP, 16, 32, kWrapUnwrap},
    {CKM_AES_KEY_WRAP_PAD, 16, 32, kWrapUnwrap},
    {CKM_AES_KEY_WRAP_KWP, 16, 32, kWrapUnwrap},
    {CKM_AES_KEY_WRAP_PKCS7, 16, 32, kWrapUnwrap},
    // DES and Triple DES.
    {CKM_DES_ECB, 0, 0, kEncryptDecrypt, L},
    {CKM_DES_CBC, 0, 0, kEncryptDecrypt, L},
    {CKM_DES_CBC_PAD, 0, 0, kEncryptDecrypt, L},
    {CKM_DES3_ECB, 0, 0, kEncryptDecrypt, L, 0, CKF_DECRYPT},
    {CKM_DES3_CBC, 0, 0, kEncryptDecrypt, L, 0, CKF_DECRYPT},
    {CKM_DES3_CBC_PAD, 0, 0, kEncryptDecrypt, L, 0, CKF_DECRYPT},
    // Key derivation from secret keys.
    {CKM_AES_ECB_ENCRYPT_DATA, 16, 32, kDerive},
    {CKM_AES_CBC_ENCRYPT_DATA, 16, 32, kDerive},
    {CKM_DES_ECB_ENCRYPT_DATA, 0, 0, kDerive, L},
    {CKM_DES_CBC_ENCRYPT_DATA, 0, 0, kDerive, L},
    {CKM_DES3_ECB_ENCRYPT_DATA, 0, 0, kDerive, L},
    {CKM_DES3_CBC_ENCRYPT_DATA, 0, 0, kDerive, L},
    {CKM_HKDF_DERIVE, 1, kMaxHmacKey, kDerive},
    {CKM_HKDF_DATA, 1, kMaxHmacKey, kDerive},
    {CKM_SP800_108_COUNTER_KDF, 1, kMaxHmacKey, kDerive},
    {CKM_SP800_108_FEEDBACK_KDF, 1, kMaxHmacKey, kDerive},
    // Digests.
    {CKM_SHA_1, 0, 0, kDigest},
    {CKM_SHA224, 0, 0, kDigest},
    {CKM_SHA256, 0, 0, kDigest},
    {CKM_SHA384, 0, 0, kDigest},
    {CKM_SHA512, 0, 0, kDigest},
    {CKM_SHA3_224, 0, 0, kDigest},
    {CKM_SHA3_256, 0, 0, kDigest},
    {CKM_SHA3_384, 0, 0, kDigest},
    {CKM_SHA3_512, 0, 0, kDigest},
    {CKM_MD5, 0, 0, kDigest, L},
});

// for_policy is an entry as the policy offers it: with the legacy minimum on legacy devices.
MechanismInfo for_policy(MechanismInfo m, AlgorithmPolicy policy) {
  if (policy == AlgorithmPolicy::legacy && m.legacy_min_key_size != 0) {
    m.min_key_size = m.legacy_min_key_size;
  }
  return m;
}

bool offers(AlgorithmPolicy policy, const MechanismInfo& m) {
  return m.tier == Tier::modern || policy == AlgorithmPolicy::legacy;
}

// The entries' types, sorted, with each one's index in kMechanisms: a binary search through a
// few cache lines.
struct TypeIndex {
  std::array<CK_MECHANISM_TYPE, kMechanisms.size()> types{};
  std::array<uint16_t, kMechanisms.size()> index{};
};

const TypeIndex& type_index() {
  static const TypeIndex kIndex = [] {
    std::array<uint16_t, kMechanisms.size()> order{};
    for (size_t i = 0; i < order.size(); ++i) {
      order[i] = static_cast<uint16_t>(i);
    }
    std::stable_sort(order.begin(), order.end(), [](uint16_t a, uint16_t b) {
      return kMechanisms[a].type < kMechanisms[b].type;
    });
    TypeIndex t;
    for (size_t i = 0; i < order.size(); ++i) {
      t.types[i] = kMechanisms[order[i]].type;
      t.index[i] = order[i];
    }
    return t;
  }();
  return kIndex;
}

// The last entry found, as (type << 16 | index + 1): an operation's init asks for the same
// mechanism three or four times (the parameters, the operation, the algorithm policy).
std::atomic<uint64_t> g_last_found{0};

}  // namespace

const MechanismInfo* mechanism_info(CK_MECHANISM_TYPE type) {
  uint64_t last = g_last_found.load(std::memory_order_relaxed);
  if (last != 0 && (last >> 16) == type) {
    return &kMechanisms[(last & 0xffff) - 1];
  }
  const TypeIndex& t = type_index();
  auto it = std::lower_bound(t.types.begin(), t.types.end(), type);
  if (it == t.types.end() || *it != type) {
    return nullptr;
  }
  uint16_t i = t.index[static_cast<size_t>(it - t.types.begin())];
  if (type < (uint64_t{1} << 48)) {
    g_last_found.store(static_cast<uint64_t>(type) << 16 | (i + 1u), std::memory_order_relaxed);
  }
  return &kMechanisms[i];
}

std::vector<MechanismInfo> mechanisms(AlgorithmPolicy policy) {
  std::vector<MechanismInfo> out;
  for (const auto& m : kMechanisms) {
    if (offers(policy, m)) {
      out.push_back(for_policy(m, policy));
    }
  }
  return out;
}

std::optional<MechanismInfo> offered_info(AlgorithmPolicy policy, CK_MECHANISM_TYPE type) {
  const MechanismInfo* m = mechanism_info(type);
  if (m == nullptr) {
    return std::nullopt;
  }
  if (offers(policy, *m)) {
    return for_policy(*m, policy);
  }
  if (m->legacy_use == 0) {
    return std::nullopt;
  }
  MechanismInfo restricted = *m;
  restricted.flags = CKF_HW | m->legacy_use;
  return restricted;
}

}  // namespace twinhsm::token
