// Message-based signing and verification (PKCS#11 3.0 sections 5.13-5.14): every mechanism that
// signs or verifies, one key and mechanism for any number of messages, each whole or in parts.
// The per-message parameter of these mechanisms is none (CKR_MECHANISM_PARAM_INVALID otherwise).
// Each message is an operation of token/signatures.h; a failed message ends that message only.
#include "pkcs11/entry.h"
#include "pkcs11/guard.h"
#include "pkcs11/library.h"
#include "pkcs11/marshal.h"
#include "pkcs11/session_call.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;
using token::require;

namespace {

using Slot = std::optional<MessageSignState> Session::*;

Slot slot_of(bool sign) {
  return sign ? &Session::message_sign : &Session::message_verify;
}

void no_parameter(CK_VOID_PTR param, CK_ULONG len) {
  require(param == nullptr && len == 0, CKR_MECHANISM_PARAM_INVALID,
          "signature mechanisms take no per-message parameter");
}

// new_message makes the operation of one message.
std::unique_ptr<token::SignatureOperation> new_message(const SessionRef& ref, MessageSignState& s,
                                                       bool sign) {
  return sign ? token::make_signer(s.mechanism, s.key, s.login_epoch, ref->signing_key)
              : token::make_verifier(ref.token(), s.mechanism, *s.key);
}

template <class Body>
CK_RV with_op(const char* name, CK_SESSION_HANDLE session, bool sign, Body&& body) {
  return in_session(name, session, [&](SessionRef& ref) {
    auto& op = (*ref).*slot_of(sign);
    require(op.has_value(), CKR_OPERATION_NOT_INITIALIZED, "no message-based operation is active");
    op->key_use.check(ref.token());
    body(ref, *op);
  });
}

// Signature is where a call's signature goes (signing: the two-call convention's buffer and
// length) or comes from (verifying: the signature and its length).
struct Signature {
  CK_BYTE_PTR out = nullptr;
  CK_ULONG_PTR out_len = nullptr;
  const CK_BYTE* in = nullptr;
  CK_ULONG in_len = 0;
};

// finish_message ends the message in parts: signing, the signature by the two-call convention
// (a size query keeps the message); verifying, the check.
void finish_message(MessageSignState& s, bool sign, ByteView data, const Signature& sig) {
  ByteView signature = sign ? ByteView() : input(sig.in, sig.in_len);
  if (sign && !give_output(sig.out, sig.out_len, s.message->size())) {
    return;
  }
  auto message = std::move(s.message);
  message->update(data);
  if (sign) {
    copy_output(sig.out, sig.out_len, message->sign());
  } else {
    message->verify(signature);
  }
}

CK_RV init(const char* name, CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
           CK_OBJECT_HANDLE key, bool sign) {
  auto slot = [&](Session & session_state) -> auto& {
    return session_state.*slot_of(sign);
  };
  return init_operation(name, session, mechanism, key, slot, [&](const SessionRef& ref) {
    MessageSignState s;
    s.mechanism = parse_mechanism(mechanism);
    auto [obj, epoch] =
        operation_key(ref, sign ? token::Use::sign : token::Use::verify, key, s.mechanism);
    s.key = std::move(obj);
    s.login_epoch = epoch;
    // C_Login(CKU_CONTEXT_SPECIFIC) authorizes one C_Sign, not a run of messages.
    require(!s.key->attrs.get_bool(CKA_ALWAYS_AUTHENTICATE, false), CKR_KEY_FUNCTION_NOT_PERMITTED,
            "a key that needs a login before each use does not sign messages");
    new_message(ref, s, sign);  // the mechanism's and key's checks, now
    s.key_use = KeyUse::for_key(s.login_epoch, *s.key, false);
    return s;
  });
}

CK_RV one_message(const char* name, CK_SESSION_HANDLE session, bool sign, CK_VOID_PTR param,
                  CK_ULONG param_len, CK_BYTE_PTR data, CK_ULONG data_len, const Signature& sig) {
  return with_op(name, session, sign, [&](const SessionRef& ref, MessageSignState& s) {
    require(!s.message, CKR_OPERATION_ACTIVE, "a message is being processed in parts");
    no_parameter(param, param_len);
    ByteView in = input(data, data_len);
    s.message = new_message(ref, s, sign);
    try {
      finish_message(s, sign, in, sig);
    } catch (...) {
      s.message.reset();
      throw;
    }
    s.message.reset();  // a size query begins no message
  });
}

CK_RV message_begin(const char* name, CK_SESSION_HANDLE session, bool sign, CK_VOID_PTR param,
                    CK_ULONG param_len) {
  return with_op(name, session, sign, [&](const SessionRef& ref, MessageSignState& s) {
    require(!s.message, CKR_OPERATION_ACTIVE, "a message is being processed in parts");
    no_parameter(param, param_len);
    s.message = new_message(ref, s, sign);
  });
}

// message_next: a part; the last one when the signature's length pointer (signing) or the
// signature (verifying) is given.
CK_RV message_next(const char* name, CK_SESSION_HANDLE session, bool sign, CK_VOID_PTR param,
                   CK_ULONG param_len, CK_BYTE_PTR data, CK_ULONG data_len, const Signature& sig,
                   bool last) {
  return with_op(name, session, sign, [&](const SessionRef&, MessageSignState& s) {
    require(s.message != nullptr, CKR_OPERATION_NOT_INITIALIZED, "no message has begun");
    try {
      no_parameter(param, param_len);
      ByteView in = input(data, data_len);
      if (!last) {
        s.message->update(in);
        return;
      }
      finish_message(s, sign, in, sig);
    } catch (...) {
      s.message.reset();  // the failed call ends its message; the next may begin
      throw;
    }
  });
}

CK_RV message_final(const char* name, CK_SESSION_HANDLE session, bool sign) {
  return end_operation(
      name, session, [&](Session & s) -> auto& { return s.*slot_of(sign); });
}

}  // namespace

extern "C" {

CK_RV C_MessageSignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  return init("C_MessageSignInit", s, m, key, true);
}
CK_RV C_SignMessage(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR data,
                    CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len) {
  return one_message("C_SignMessage", s, true, param, param_len, data, data_len,
                     Signature{sig, sig_len, nullptr, 0});
}
CK_RV C_SignMessageBegin(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len) {
  return message_begin("C_SignMessageBegin", s, true, param, param_len);
}
CK_RV C_SignMessageNext(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len,
                        CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
                        CK_ULONG_PTR sig_len) {
  return message_next("C_SignMessageNext", s, true, param, param_len, data, data_len,
                      Signature{sig, sig_len, nullptr, 0}, sig_len != nullptr);
}
CK_RV C_MessageSignFinal(CK_SESSION_HANDLE s) {
  return message_final("C_MessageSignFinal", s, true);
}

CK_RV C_MessageVerifyInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  return init("C_MessageVerifyInit", s, m, key, false);
}
CK_RV C_VerifyMessage(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR data,
                      CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG sig_len) {
  return one_message("C_VerifyMessage", s, false, param, param_len, data, data_len,
                     Signature{nullptr, nullptr, sig, sig_len});
}
CK_RV C_VerifyMessageBegin(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len) {
  return message_begin("C_VerifyMessageBegin", s, false, param, param_len);
}
CK_RV C_VerifyMessageNext(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len,
                          CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG sig_len) {
  return message_next("C_VerifyMessageNext", s, false, param, param_len, data, data_len,
                      Signature{nullptr, nullptr, sig, sig_len}, sig != nullptr);
}
CK_RV C_MessageVerifyFinal(CK_SESSION_HANDLE s) {
  return message_final("C_MessageVerifyFinal", s, false);
}

}  // extern "C"
