// The mechanism table: every mechanism twinhsm implements, its CK_MECHANISM_INFO, and which
// device algorithm policy offers it (algorithm_policy.h). C_GetMechanismList and
// C_GetMechanismInfo answer from here for the slot's device; every operation looks its mechanism
// up here first.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/pkcs11.h"

namespace twinhsm::token {

// AlgorithmPolicy is the device's choice of algorithms (the setting device.algorithms): modern
// (the default: what NIST SP 800-131A accepts, and PKCS#11 3.0's modern set), or legacy (modern
// and what SoftHSMv2 2.6.1 has besides: DES, Triple DES, DSA, DH, MD5, RSA keys from 1024 bits,
// EC on P-192 and on explicitly given parameters).
enum class AlgorithmPolicy { modern, legacy };

// Tier: the policies that offer a mechanism (modern: both; legacy: legacy devices only).
enum class Tier : uint8_t { modern, legacy };

struct MechanismInfo {
  CK_MECHANISM_TYPE type;
  CK_ULONG min_key_size;
  CK_ULONG max_key_size;
  CK_FLAGS flags;
  Tier tier = Tier::modern;
  // legacy_min_key_size: a smaller minimum on legacy devices (RSA and EC key sizes); 0: none.
  CK_ULONG legacy_min_key_size = 0;
  // legacy_use: what a legacy mechanism still does on a modern device, with the keys made when
  // it was legacy (NIST SP 800-131A "legacy use": Triple DES decryption, DSA and Triple DES CMAC
  // verification). Such a mechanism is not listed there; C_GetMechanismInfo shows these flags.
  CK_FLAGS legacy_use = 0;
};

// mechanism_info returns the entry for type whatever the policy, or nullptr if twinhsm does not
// implement it: the operations a mechanism does (the key policy asks), its parameter's form.
const MechanismInfo* mechanism_info(CK_MECHANISM_TYPE type);

// mechanisms lists what the policy offers, in C_GetMechanismList order, with the key sizes of
// that policy.
std::vector<MechanismInfo> mechanisms(AlgorithmPolicy policy);

// offered_info is what C_GetMechanismInfo answers under the policy: the listed entry, or for a
// legacy mechanism on a modern device that keeps a legacy use, the entry with only those flags;
// nullopt otherwise (CKR_MECHANISM_INVALID).
std::optional<MechanismInfo> offered_info(AlgorithmPolicy policy, CK_MECHANISM_TYPE type);

}  // namespace twinhsm::token
