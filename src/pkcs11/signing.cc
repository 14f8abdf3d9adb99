// Signing and verification (PKCS#11 3.0 sections 5.12-5.13), single- and multi-part: arguments
// checked and buffers marshalled here; token/signatures.h makes the operations.
#include "pkcs11/marshal.h"
#include "pkcs11/session_call.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;

namespace {

// start makes the operation state for C_SignInit / C_VerifyInit.
SignOperation start(const SessionRef& ref, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key,
                    bool sign) {
  token::Mechanism mech = parse_mechanism(mechanism);
  auto [obj, epoch] = operation_key(ref, sign ? token::Use::sign : token::Use::verify, key, mech);
  SignOperation op;
  op.op = sign ? token::make_signer(mech, obj, epoch, ref->signing_key)
               : token::make_verifier(ref.token(), mech, *obj);
  op.key_use = KeyUse::for_key(epoch, *obj, sign);
  return op;
}

void finish_signature(Session& s, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len) {
  std::optional<SignOperation>& op = s.sign;
  if (!give_output(sig, sig_len, op->op->size())) {
    return;
  }
  copy_output(sig, sig_len, op->op->sign());
  token::keep_hmac(*op->op, s.signing_key);  // an HMAC's context, for the next MAC
  op.reset();
}

void finish_verify(std::optional<SignOperation>& op, ByteView sig) {
  auto verifying = std::move(op->op);
  op.reset();
  verifying->verify(sig);
}

// init is C_SignInit (sign) or C_VerifyInit.
CK_RV init(const char* name, CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
           CK_OBJECT_HANDLE key, bool sign) {
  return init_operation(
      name, session, mechanism, key, [&](Session & s) -> auto& { return sign ? s.sign : s.verify; },
      [&](const SessionRef& ref) { return start(ref, mechanism, key, sign); });
}

// update is C_SignUpdate (sign) or C_VerifyUpdate.
CK_RV update(const char* name, CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len,
             bool sign) {
  return in_session(name, session, [&](SessionRef& ref) {
    run_step(sign ? ref->sign : ref->verify, ref.token(), Part::multi,
             [&](SignOperation& op) { op.op->update(input(part, part_len)); });
  });
}

}  // namespace

extern "C" {

CK_RV C_SignInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  return init("C_SignInit", session, mechanism, key, true);
}

CK_RV C_Sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
             CK_ULONG_PTR sig_len) {
  return in_session("C_Sign", session, [&](SessionRef& ref) {
    run_step(ref->sign, ref.token(), Part::single, [&](SignOperation& op) {
      ByteView in = input(data, data_len);
      if (!give_output(sig, sig_len, op.op->size())) {
        return;
      }
      op.op->update(in);
      finish_signature(*ref, sig, sig_len);
    });
  });
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len) {
  return update("C_SignUpdate", session, part, part_len, true);
}

CK_RV C_SignFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len) {
  return in_session("C_SignFinal", session, [&](SessionRef& ref) {
    run_step(ref->sign, ref.token(), Part::multi,
             [&](SignOperation&) { finish_signature(*ref, sig, sig_len); });
  });
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  return init("C_VerifyInit", session, mechanism, key, false);
}

CK_RV C_Verify(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
               CK_ULONG sig_len) {
  return in_session("C_Verify", session, [&](SessionRef& ref) {
    run_step(ref->verify, ref.token(), Part::single, [&](SignOperation& op) {
      op.op->update(input(data, data_len));
      finish_verify(ref->verify, input(sig, sig_len));
    });
  });
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len) {
  return update("C_VerifyUpdate", session, part, part_len, false);
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR sig, CK_ULONG sig_len) {
  return in_session("C_VerifyFinal", session, [&](SessionRef& ref) {
    run_step(ref->verify, ref.token(), Part::multi,
             [&](SignOperation&) { finish_verify(ref->verify, input(sig, sig_len)); });
  });
}

}  // extern "C"
