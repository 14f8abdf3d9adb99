// run_step: one step of a session's cryptographic operation (sign, verify, encrypt, decrypt,
// digest) under PKCS#11's rules: no active operation is CKR_OPERATION_NOT_INITIALIZED; an error
// other than CKR_BUFFER_TOO_SMALL ends the operation. Operations on keys carry KeyUse, checked
// before each step: a key with CKA_ALWAYS_AUTHENTICATE needs its context-specific login, and an
// operation on a private key ends when the user logs out (in any session of the application).
#pragma once

#include <optional>

#include "token/ck_error.h"
#include "token/token.h"

namespace twinhsm::pkcs11 {

struct KeyUse {
  bool needs_context_login = false;
  bool context_authenticated = false;
  std::optional<uint64_t> login_epoch;  // set when the key is a private object
  bool wiped = false;  // a logout wiped its key state (Session::end_private_operations)

  // for_key fills the use of key by an operation started now; epoch is the token's login epoch
  // read before the key was looked up (a logout in between then ends the operation).
  static KeyUse for_key(uint64_t epoch, const token::Object& key, bool context_login) {
    KeyUse use;
    use.needs_context_login = context_login && key.attrs.get_bool(CKA_ALWAYS_AUTHENTICATE, false);
    if (key.is_private()) {
      use.login_epoch = epoch;
    }
    return use;
  }

  void check(const token::Token& token) const {
    token::require(!wiped && (!login_epoch || *login_epoch == token.login_epoch()),
                   CKR_USER_NOT_LOGGED_IN,
                   "the user logged out: the operation on a private key ended");
    token::require(!needs_context_login || context_authenticated, CKR_USER_NOT_LOGGED_IN,
                   "the key needs C_Login(CKU_CONTEXT_SPECIFIC) before each use");
  }
};

// ended_by_null_mechanism: PKCS#11 3.0 lets C_*Init with a NULL mechanism end the active
// operation of its kind (CKR_OK). True when it did; without an active operation the NULL is a
// bad argument.
template <class Op>
bool ended_by_null_mechanism(CK_MECHANISM_PTR mechanism, std::optional<Op>& op) {
  if (mechanism != nullptr) {
    return false;
  }
  token::require(op.has_value(), CKR_ARGUMENTS_BAD,
                 "the mechanism is NULL and no operation is active");
  op.reset();
  return true;
}

// Part is the kind of call a step is: the single-part function (C_Encrypt, C_Sign, ...) or the
// multi-part ones (C_*Update, C_*Final, C_DigestKey).
enum class Part { single, multi };

// run_step runs one step of the active operation. An operation is single-part or multi-part from
// its first step on (PKCS#11 3.0 5.2: a size query of C_Encrypt leaves a single-part encryption
// that only C_Encrypt continues): a call of the other kind gets CKR_OPERATION_ACTIVE and, as every
// error but CKR_BUFFER_TOO_SMALL does, ends the operation (pkcs11-tool ends an operation so).
template <class Op, class Body>
void run_step(std::optional<Op>& op, const token::Token* token, Part part, Body&& body) {
  token::require(op.has_value(), CKR_OPERATION_NOT_INITIALIZED, "no operation is active");
  if (part == Part::single ? op->multi_part : op->single_part) {
    op.reset();
    throw token::CkError(
        CKR_OPERATION_ACTIVE,
        part == Part::single
            ? "a multi-part operation was active: only C_*Update/C_*Final continue it"
            : "a single-part operation was active: only its single-part function "
              "continues it");
  }
  (part == Part::single ? op->single_part : op->multi_part) = true;
  try {
    if constexpr (requires { op->key_use; }) {
      op->key_use.check(*token);
    }
    body(*op);
  } catch (const token::CkError& e) {
    if (e.rv() != CKR_BUFFER_TOO_SMALL) {
      op.reset();
    }
    throw;
  } catch (...) {
    op.reset();
    throw;
  }
}

// An operation with a key checks its KeyUse against the token first; one without (a digest) is
// run by the overload that takes no token.
template <class Op, class Body>
void run_step(std::optional<Op>& op, const token::Token& token, Part part, Body&& body) {
  run_step(op, &token, part, std::forward<Body>(body));
}
template <class Op, class Body>
requires(!requires(Op o) { o.key_use; }) void run_step(std::optional<Op>& op, Part part,
                                                       Body&& body) {
  run_step(op, static_cast<const token::Token*>(nullptr), part, std::forward<Body>(body));
}

}  // namespace twinhsm::pkcs11
