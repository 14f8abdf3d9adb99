// The two shapes most entry points have, written once: a call on one session (guarded, the
// session found and locked for the whole call), and C_*Init of an operation that uses a key.
#pragma once

#include <optional>

#include "pkcs11/guard.h"
#include "pkcs11/library.h"
#include "pkcs11/operation.h"
#include "token/key_management.h"

namespace twinhsm::pkcs11 {

// in_session runs body(ref) for the call name on session, under guard.
template <class Body>
CK_RV in_session(const char* name, CK_SESSION_HANDLE session, Body&& body) noexcept {
  return guard(name, arg(session), [&] {
    SessionRef ref = library().session(session);
    body(ref);
  });
}

// init_operation is C_*Init with a key: slot_of(session) is the operation's place in the
// session; a NULL mechanism ends the active operation (ended_by_null_mechanism); otherwise an
// active one is CKR_OPERATION_ACTIVE and start(ref) makes the new one.
template <class SlotOf, class Start>
CK_RV init_operation(const char* name, CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                     CK_OBJECT_HANDLE key, SlotOf&& slot_of, Start&& start) noexcept {
  return guard(name, arg(session) + ", key=" + arg(key), [&] {
    SessionRef ref = library().session(session);
    auto& op = slot_of(*ref);
    if (ended_by_null_mechanism(mechanism, op)) {
      return;
    }
    token::require(!op.has_value(), CKR_OPERATION_ACTIVE, "an operation of this kind is active");
    op = start(ref);
  });
}

// end_operation ends the active operation at slot_of(session) with no output (C_Message*Final).
template <class SlotOf>
CK_RV end_operation(const char* name, CK_SESSION_HANDLE session, SlotOf&& slot_of) noexcept {
  return in_session(name, session, [&](SessionRef& ref) {
    auto& op = slot_of(*ref);
    token::require(op.has_value(), CKR_OPERATION_NOT_INITIALIZED, "no operation is active");
    op.reset();
  });
}

// OperationKey is the key an operation starts with (token::key_for: found, its use and the
// mechanism allowed) and the token's login epoch read before it was found (KeyUse::for_key).
struct OperationKey {
  token::ObjectPtr object;
  uint64_t login_epoch;
};
inline OperationKey operation_key(const SessionRef& ref, token::Use use, CK_OBJECT_HANDLE key,
                                  const token::Mechanism& mechanism) {
  uint64_t epoch = ref.token().login_epoch();  // before the key: a logout between ends it
  return {token::key_for(ref.token(), use, key, mechanism), epoch};
}

}  // namespace twinhsm::pkcs11
