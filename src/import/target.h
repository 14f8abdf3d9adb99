// What the import asks of twinhsm's token layer, all in one place: the only file of src/import
// that calls it. The caller holds one store::Store::WriteTransaction around every call, so that
// the objects land together or not at all.
#pragma once

#include "import/plan.h"
#include "token/token.h"

namespace twinhsm::import {

// make_object creates one token object in t from a planned candidate through the token's
// attribute rules, as C_CreateObject would (its defaults, required attributes, key validation),
// with the CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE the plan carries over for a secret or
// private key, then the device's key policy (key_policy.h: check_new_key). Needs the user logged
// in for a private object. Throws what the token layer throws (CkError for an attribute or a key
// it refuses, CryptoError for components that are no key).
// With narrow_usage under the strict policy, a hidden key that would both wrap and process data
// loses CKA_WRAP and CKA_UNWRAP; returns whether it did.
bool make_object(token::Token& t, const Candidate& c, bool narrow_usage);

// already_present: t holds an object of the candidate's class with its CKA_ID, CKA_LABEL and (data
// objects) CKA_APPLICATION, among those the logged-in user sees.
bool already_present(token::Token& t, const Candidate& c);

// strict_key_policy: t's device keeps a key's wrapping and data uses apart (key_policy.h).
bool strict_key_policy(token::Token& t);

}  // namespace twinhsm::import
