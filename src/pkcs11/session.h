// Session is one PKCS#11 session: its flags and the operations active in it (at most one of
// each kind, as PKCS#11 allows).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "common/pkcs11.h"
#include "crypto/digest.h"
#include "pkcs11/operation.h"
#include "token/mechanisms.h"
#include "token/message_cipher.h"
#include "token/signatures.h"

namespace twinhsm::pkcs11 {

struct FindOperation {
  std::vector<CK_OBJECT_HANDLE> results;
  size_t next = 0;
};

struct SignOperation {
  std::unique_ptr<token::SignatureOperation> op;
  bool single_part = false;  // C_Sign/C_Verify was called (a size query): only it continues
  bool multi_part = false;   // C_*Update was called: only C_*Update and C_*Final continue
  KeyUse key_use;
};

struct CipherOperationState {
  std::unique_ptr<token::CipherOperation> cipher;
  bool single_part = false;  // as SignOperation's
  bool multi_part = false;
  KeyUse key_use;
  // Output computed for a call whose length could not be known beforehand (decryption with
  // padding, RSA decryption) and not yet collected: the size query or a buffer too small keeps it
  // here for the caller's next call of the same step, which must pass the same input.
  enum class Step { run, update, finish };
  struct Pending {
    Step step;
    crypto::SecureBytes data;
    crypto::SecureBytes input;  // the step's input, to tell a retry from another call
  };
  std::optional<Pending> pending;
};

struct DigestOperation {
  crypto::DigestAlg alg = crypto::DigestAlg::sha256;
  // The mechanism, when a later C_DigestInit of it needs none of the checks again (no parameters,
  // a modern mechanism: every algorithm policy offers it).
  std::optional<CK_MECHANISM_TYPE> repeatable;
  std::optional<crypto::Digester> digester;
  bool single_part = false;  // C_Digest was called (a size query): only C_Digest continues
  bool multi_part = false;   // C_DigestUpdate or C_DigestKey was called
};

// DigestOperation's digester, once a digest is delivered, waits here (fresh: nothing of the data
// stays in it) for the session's next C_DigestInit of the same algorithm: no new OpenSSL context.
// A C_DigestInit of its operation's repeatable mechanism takes it without a lookup.
struct SpareDigester {
  std::optional<crypto::Digester> digester;
  std::optional<CK_MECHANISM_TYPE> repeatable;
};

// MessageCipherState: a message-based encryption or decryption (C_Message{En,De}cryptInit).
struct MessageCipherState {
  std::unique_ptr<token::MessageCipher> cipher;
  KeyUse key_use;
};

// MessageSignState: a message-based signature or verification (C_Message{Sign,Verify}Init): the
// mechanism and key of every message, and the message being signed in parts, if any.
struct MessageSignState {
  token::Mechanism mechanism;
  token::ObjectPtr key;
  uint64_t login_epoch = 0;
  std::unique_ptr<token::SignatureOperation> message;
  KeyUse key_use;
};

class Slot;

// SessionState is everything a session is but its lock: assigning SessionState{} to a session
// ends it whole (every operation, every key state), whatever fields are added here later.
struct SessionState {
  CK_SESSION_HANDLE handle = 0;  // 0: closed (a Session waiting in the library's pool)
  CK_SLOT_ID slot = 0;
  Slot* slot_object = nullptr;  // the library's Slot of that id, while the session is open
  CK_FLAGS flags = 0;           // CKF_SERIAL_SESSION, CKF_RW_SESSION

  std::optional<FindOperation> find;
  std::optional<SignOperation> sign;
  std::optional<SignOperation> verify;
  std::optional<CipherOperationState> encrypt;
  std::optional<CipherOperationState> decrypt;
  std::optional<DigestOperation> digest;
  SpareDigester spare_digester;
  std::optional<MessageCipherState> message_encrypt;
  std::optional<MessageCipherState> message_decrypt;
  std::optional<MessageSignState> message_sign;
  std::optional<MessageSignState> message_verify;

  // The last private key made ready to sign in this session (token/signatures.h): dropped with
  // the login, like the operations on private keys.
  std::optional<token::SigningKeyCache> signing_key;

  bool read_write() const { return (flags & CKF_RW_SESSION) != 0; }
  // end_operations drops every active operation (logout, token changes).
  void end_operations() {
    find.reset();
    cancel_operations(CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT | CKF_DECRYPT | CKF_DIGEST |
                      CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT | CKF_MESSAGE_SIGN |
                      CKF_MESSAGE_VERIFY);
    signing_key.reset();
  }
  // end_private_operations wipes what holds a private key: the key state of the operations on
  // private keys (each stays, ended: its next step says CKR_USER_NOT_LOGGED_IN, as KeyUse would
  // anyway) and the signing key kept for reuse. At logout, in every session of the token, so
  // that no parsed private key outlives the login in memory.
  void end_private_operations() {
    for (auto* op : {&sign, &verify}) {
      if (*op && (*op)->key_use.login_epoch) {
        (*op)->key_use.wiped = true;
        (*op)->op.reset();
      }
    }
    for (auto* op : {&encrypt, &decrypt}) {
      if (*op && (*op)->key_use.login_epoch) {
        (*op)->key_use.wiped = true;
        (*op)->cipher.reset();
        (*op)->pending.reset();
      }
    }
    for (auto* op : {&message_encrypt, &message_decrypt}) {
      if (*op && (*op)->key_use.login_epoch) {
        (*op)->key_use.wiped = true;
        (*op)->cipher.reset();
      }
    }
    for (auto* op : {&message_sign, &message_verify}) {
      if (*op && (*op)->key_use.login_epoch) {
        (*op)->key_use.wiped = true;
        (*op)->key.reset();
        (*op)->message.reset();
      }
    }
    signing_key.reset();
  }
  // cancel_operations ends the operations C_SessionCancel's flags name: CKF_FIND_OBJECTS,
  // CKF_SIGN, CKF_VERIFY, CKF_ENCRYPT, CKF_DECRYPT, CKF_DIGEST, CKF_MESSAGE_*. Other flags name
  // operations that are never left active (a single call) and are ignored.
  void cancel_operations(CK_FLAGS which) {
    if (which & CKF_FIND_OBJECTS) {
      find.reset();
    }
    if (which & CKF_SIGN) {
      sign.reset();
    }
    if (which & CKF_VERIFY) {
      verify.reset();
    }
    if (which & CKF_ENCRYPT) {
      encrypt.reset();
    }
    if (which & CKF_DECRYPT) {
      decrypt.reset();
    }
    if (which & CKF_DIGEST) {
      digest.reset();
    }
    if (which & CKF_MESSAGE_ENCRYPT) {
      message_encrypt.reset();
    }
    if (which & CKF_MESSAGE_DECRYPT) {
      message_decrypt.reset();
    }
    if (which & CKF_MESSAGE_SIGN) {
      message_sign.reset();
    }
    if (which & CKF_MESSAGE_VERIFY) {
      message_verify.reset();
    }
  }
};

// Session is a session's state and the lock a call holds on it (SessionRef). The library keeps
// its Session objects until C_Finalize and reuses a closed one for the next C_OpenSession: a
// thread's cached pointer (Library::session) stays safe to lock after a close, and the handle
// under the lock tells whether it is still the session asked for.
struct Session : SessionState {
  std::mutex mutex;
};

}  // namespace twinhsm::pkcs11
