// Entry points twinhsm does not implement: each checks its session (so that an invalid handle
// still gets CKR_SESSION_HANDLE_INVALID) and returns CKR_FUNCTION_NOT_SUPPORTED. docs/pkcs11.md
// lists them. (The message-based functions are in message_crypt.cc and message_sign.cc.)
#include "pkcs11/entry.h"
#include "pkcs11/guard.h"
#include "pkcs11/library.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;

namespace {

CK_RV not_supported(const char* name, CK_SESSION_HANDLE session) {
  return guard(name, arg(session), [&] {
    library().session(session);
    throw token::CkError(CKR_FUNCTION_NOT_SUPPORTED, "not supported");
  });
}

}  // namespace

extern "C" {

// Signatures with recovery.
CK_RV C_SignRecoverInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
  return not_supported("C_SignRecoverInit", s);
}
CK_RV C_SignRecover(CK_SESSION_HANDLE s, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported("C_SignRecover", s);
}
CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
  return not_supported("C_VerifyRecoverInit", s);
}
CK_RV C_VerifyRecover(CK_SESSION_HANDLE s, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported("C_VerifyRecover", s);
}

// Saving and restoring an operation's state.
CK_RV C_GetOperationState(CK_SESSION_HANDLE s, CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported("C_GetOperationState", s);
}
CK_RV C_SetOperationState(CK_SESSION_HANDLE s, CK_BYTE_PTR, CK_ULONG, CK_OBJECT_HANDLE,
                          CK_OBJECT_HANDLE) {
  return not_supported("C_SetOperationState", s);
}

// The dual-function cryptographic functions.
CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE s, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported("C_DigestEncryptUpdate", s);
}
CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE s, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported("C_DecryptDigestUpdate", s);
}
CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE s, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported("C_SignEncryptUpdate", s);
}
CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE s, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported("C_DecryptVerifyUpdate", s);
}

// Legacy functions: PKCS#11 says they return CKR_FUNCTION_NOT_PARALLEL.
CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE s) {
  return guard("C_GetFunctionStatus", arg(s), [&] {
    library().session(s);
    throw token::CkError(CKR_FUNCTION_NOT_PARALLEL, "no parallel functions");
  });
}
CK_RV C_CancelFunction(CK_SESSION_HANDLE s) {
  return guard("C_CancelFunction", arg(s), [&] {
    library().session(s);
    throw token::CkError(CKR_FUNCTION_NOT_PARALLEL, "no parallel functions");
  });
}

}  // extern "C"
