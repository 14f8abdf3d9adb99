// The device's algorithm policy (the setting device.algorithms, mechanism_table.h): which
// mechanisms and key kinds a device offers, and what keys of legacy kinds may still do on a
// modern device. Applied where keys are made (key_management.cc) and where an operation starts
// (key_for, C_DigestInit); docs/pkcs11.md, "Algorithm policy", has the rules and their reasons.
//
// Legacy key kinds: DES, two- and three-key Triple DES, DSA, DH and their domain parameters, MD5
// HMAC keys, RSA keys under 2048 bits, EC keys on P-192 or with explicitly given curve parameters.
// On a modern device no such key is made (a public key excepted: it can only verify), and those
// that exist (made while the device was legacy) keep only the uses NIST SP 800-131A calls "legacy
// use": RSA-1024, P-192 and DSA public keys verify; Triple DES keys decrypt and verify CMACs.
#pragma once

#include <optional>
#include <string_view>

#include "token/attributes.h"
#include "token/mechanism_table.h"

namespace twinhsm::token {

class Token;

std::optional<AlgorithmPolicy> algorithm_policy_from_name(std::string_view name);
const char* algorithm_policy_name(AlgorithmPolicy policy);

// algorithm_policy is the device's policy (settings::kAlgorithms; modern when absent). Throws
// IntegrityError for a value twinhsm does not know.
AlgorithmPolicy algorithm_policy(Token& token);

// legacy_key_uses: for a key (or domain parameters) of a legacy kind, the operations (CKF_VERIFY,
// CKF_DECRYPT) it keeps on a modern device, possibly none; nullopt for a key of a modern kind.
std::optional<CK_FLAGS> legacy_key_uses(const AttributeMap& key);

// check_use checks that the device offers an operation (CKF_SIGN, CKF_DECRYPT, CKF_DIGEST, ...)
// with the mechanism and, when there is one, the key: a legacy mechanism or key on a modern device
// only for its legacy use. Reads the policy only then: modern mechanisms with modern keys cost
// nothing. Throws CkError(CKR_MECHANISM_INVALID) for the mechanism, CKR_KEY_FUNCTION_NOT_PERMITTED
// for the key.
void check_use(Token& token, CK_MECHANISM_TYPE mechanism, CK_FLAGS operation,
               const AttributeMap* key);

// check_new_key checks that the device makes a key (or domain parameters) of this kind: on a
// modern device no legacy kind, public keys excepted. Throws CkError(rv) otherwise.
void check_new_key_kind(Token& token, const AttributeMap& key, CK_RV rv);

}  // namespace twinhsm::token
