// Session management, login and PIN functions (PKCS#11 3.0 sections 5.5-5.6).
#include "pkcs11/entry.h"
#include "pkcs11/guard.h"
#include "pkcs11/library.h"
#include "pkcs11/marshal.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;
using token::CkError;
using token::require;

namespace {

// pin_view: twinhsm has no protected authentication path, so a NULL PIN is a bad argument (as
// CKR_PIN_LEN_RANGE it would be a code C_Login may not return); so is a length over kMaxDataLen.
ByteView pin_view(CK_UTF8CHAR_PTR pin, CK_ULONG len) {
  require(pin != nullptr, CKR_ARGUMENTS_BAD, "the PIN pointer is NULL (no protected path)");
  return input(pin, len);
}

CK_STATE session_state(const Session& s, token::Token& t) {
  auto role = t.logged_in();
  if (role == token::Role::so) {
    return CKS_RW_SO_FUNCTIONS;
  }
  if (role == token::Role::user) {
    return s.read_write() ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
  }
  return s.read_write() ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
}

void login(SessionRef& ref, CK_USER_TYPE user_type, ByteView pin) {
  token::Token& t = ref.token();
  auto current = t.logged_in();
  if (user_type == CKU_CONTEXT_SPECIFIC) {
    // Re-authentication for keys with CKA_ALWAYS_AUTHENTICATE: the user must be logged in
    // already; the PIN is checked (and counted) again.
    require(current == token::Role::user, CKR_USER_NOT_LOGGED_IN, "the user is not logged in");
    bool sign_waits = ref->sign && ref->sign->key_use.needs_context_login;
    bool decrypt_waits = ref->decrypt && ref->decrypt->key_use.needs_context_login;
    require(sign_waits || decrypt_waits, CKR_OPERATION_NOT_INITIALIZED,
            "no operation awaits context-specific login");
    t.verify_pin(token::Role::user, pin);
    if (sign_waits) {
      ref->sign->key_use.context_authenticated = true;
    }
    if (decrypt_waits) {
      ref->decrypt->key_use.context_authenticated = true;
    }
    return;
  }
  require(user_type == CKU_SO || user_type == CKU_USER, CKR_USER_TYPE_INVALID,
          "the user type must be CKU_SO or CKU_USER");
  token::Role role = user_type == CKU_SO ? token::Role::so : token::Role::user;
  if (current) {
    throw CkError(
        *current == role ? CKR_USER_ALREADY_LOGGED_IN : CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
        "a user is already logged in");
  }
  if (role == token::Role::so) {
    require(!library().has_read_only_session(ref.slot()), CKR_SESSION_READ_ONLY_EXISTS,
            "the SO cannot log in while read-only sessions are open");
  }
  t.login(role, pin);
}

}  // namespace

extern "C" {

CK_RV C_OpenSession(CK_SLOT_ID slot_id, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                    CK_SESSION_HANDLE_PTR session) {
  (void)app;
  (void)notify;
  return guard("C_OpenSession", arg(slot_id), [&] {
    require_arg(session != nullptr);
    Slot& slot = library().slot(slot_id);
    require(flags & CKF_SERIAL_SESSION, CKR_SESSION_PARALLEL_NOT_SUPPORTED,
            "CKF_SERIAL_SESSION must be set");
    token::Token& t = slot.token();
    if (!(flags & CKF_RW_SESSION)) {
      require(t.logged_in() != token::Role::so, CKR_SESSION_READ_WRITE_SO_EXISTS,
              "the SO is logged in: only read-write sessions may be opened");
    }
    *session = library().open_session(slot, flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION));
  });
}

CK_RV C_CloseSession(CK_SESSION_HANDLE session) {
  return guard("C_CloseSession", arg(session), [&] { library().close_session(session); });
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slot_id) {
  return guard("C_CloseAllSessions", arg(slot_id),
               [&] { library().close_all_sessions(library().slot(slot_id)); });
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE session, CK_SESSION_INFO_PTR info) {
  return guard("C_GetSessionInfo", arg(session), [&] {
    SessionRef ref = library().session(session);
    require_arg(info != nullptr);
    info->slotID = ref->slot;
    info->state = session_state(*ref, ref.token());
    info->flags = ref->flags;
    info->ulDeviceError = 0;
  });
}

CK_RV C_Login(CK_SESSION_HANDLE session, CK_USER_TYPE user_type, CK_UTF8CHAR_PTR pin,
              CK_ULONG pin_len) {
  return guard("C_Login", arg(session) + ", user_type=" + arg(user_type), [&] {
    SessionRef ref = library().session(session);
    login(ref, user_type, pin_view(pin, pin_len));
  });
}

CK_RV C_LoginUser(CK_SESSION_HANDLE session, CK_USER_TYPE user_type, CK_UTF8CHAR_PTR pin,
                  CK_ULONG pin_len, CK_UTF8CHAR_PTR username, CK_ULONG username_len) {
  return guard("C_LoginUser", arg(session) + ", user_type=" + arg(user_type), [&] {
    SessionRef ref = library().session(session);
    // twinhsm has one user per role: a user name is accepted only when empty.
    require(username != nullptr || username_len == 0, CKR_ARGUMENTS_BAD, "the user name is NULL");
    require(username_len == 0, CKR_USER_TYPE_INVALID, "twinhsm has no named users");
    login(ref, user_type, pin_view(pin, pin_len));
  });
}

CK_RV C_Logout(CK_SESSION_HANDLE session) {
  return guard("C_Logout", arg(session), [&] {
    SessionRef ref = library().session(session);
    token::Token& t = ref.token();
    require(t.logged_in().has_value(), CKR_USER_NOT_LOGGED_IN, "nobody is logged in");
    ref->end_operations();
    t.logout();
    Slot* slot = &ref.slot();
    ref.lock.unlock();  // the other sessions' locks are taken one at a time, none held
    library().end_private_operations(*slot);
  });
}

CK_RV C_InitToken(CK_SLOT_ID slot_id, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                  CK_UTF8CHAR_PTR label) {
  return guard("C_InitToken", arg(slot_id), [&] {
    Slot& slot = library().slot(slot_id);
    require_arg(label != nullptr);
    ByteView so_pin = pin_view(pin, pin_len);
    token::Token& t = slot.token();
    require(library().session_counts(slot).first == 0, CKR_SESSION_EXISTS,
            "close every session before initializing the token");
    t.init_token(so_pin, unpad(label, 32));
  });
}

CK_RV C_InitPIN(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len) {
  return guard("C_InitPIN", arg(session), [&] {
    SessionRef ref = library().session(session);
    token::Token& t = ref.token();
    require(t.logged_in() == token::Role::so, CKR_USER_NOT_LOGGED_IN, "the SO must be logged in");
    require(ref->read_write(), CKR_SESSION_READ_ONLY, "C_InitPIN needs a read-write session");
    t.init_pin(pin_view(pin, pin_len));
  });
}

CK_RV C_SetPIN(CK_SESSION_HANDLE session, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
               CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len) {
  return guard("C_SetPIN", arg(session), [&] {
    SessionRef ref = library().session(session);
    require(ref->read_write(), CKR_SESSION_READ_ONLY, "C_SetPIN needs a read-write session");
    token::Token& t = ref.token();
    token::Role role = t.logged_in() == token::Role::so ? token::Role::so : token::Role::user;
    t.set_pin(role, pin_view(old_pin, old_len), pin_view(new_pin, new_len));
  });
}

CK_RV C_SessionCancel(CK_SESSION_HANDLE session, CK_FLAGS flags) {
  return guard("C_SessionCancel", arg(session), [&] {
    SessionRef ref = library().session(session);
    ref->cancel_operations(flags);
  });
}

}  // extern "C"
