// Encryption and decryption (PKCS#11 3.0 sections 5.9-5.10), single- and multi-part.
#include "pkcs11/guard.h"
#include "pkcs11/library.h"
#include "pkcs11/marshal.h"
#include "token/attribute_policy.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;
using token::CkError;
using token::require;

namespace {

CipherOperationState start(const SessionRef& ref, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key,
                           bool encrypt) {
  token::Mechanism mech = parse_mechanism(mechanism);
  uint64_t epoch = ref.token().login_epoch();  // before the key: see KeyUse::for_key
  token::ObjectPtr obj = token::key_for(
      ref.token(), encrypt ? token::Use::encrypt : token::Use::decrypt, key, mech);
  CipherOperationState op;
  op.cipher = token::make_cipher(mech, *obj, encrypt);
  op.key_use = KeyUse::for_key(epoch, *obj, !encrypt);
  return op;
}

using Step = CipherOperationState::Step;

// deliver gives the output of one step with the two-call convention. When its length is known
// beforehand (size), nothing is computed for a size query or a buffer too small. Otherwise the
// step runs at once and its output waits in the state until a buffer large enough collects it, so
// that the size query answers the exact length and a retry does not run the step twice.
// Returns true when the output was delivered (the step is complete).
template <class Produce>
bool deliver(CipherOperationState& s, Step step, std::optional<size_t> size, CK_BYTE_PTR out,
             CK_ULONG_PTR out_len, Produce&& produce) {
  require(out_len != nullptr, CKR_ARGUMENTS_BAD, "the output length pointer is NULL");
  if (s.pending) {
    require(s.pending->step == step, CKR_OPERATION_ACTIVE,
            "the output of the previous call has not been collected");
  } else if (size) {
    if (!give_output(out, out_len, *size)) {
      return false;
    }
    crypto::SecureBytes data = produce();
    copy_output(out, out_len, data);
    return true;
  } else {
    s.pending = CipherOperationState::Pending{step, produce()};
  }
  if (!copy_output(out, out_len, s.pending->data)) {
    return false;
  }
  s.pending.reset();
  return true;
}

void one_shot(std::optional<CipherOperationState>& op, const token::Token& token, CK_BYTE_PTR in,
              CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  run_step(op, token, Part::single, [&](CipherOperationState& s) {
    ByteView data = input(in, in_len);
    // Bulk data of a known output size goes straight into the caller's buffer.
    std::optional<size_t> size = s.cipher->output_size(data.size());
    if (size && !s.pending && give_output(out, out_len, *size) &&
        s.cipher->run_into(data, std::span<uint8_t>(out, *size))) {
      op.reset();
      return;
    }
    // Otherwise (a size query, an output of unknown size, no direct path): the general path.
    if (deliver(s, Step::run, size, out, out_len,
                [&] { return s.cipher->run(data); })) {
      op.reset();
    }
  });
}

void update(std::optional<CipherOperationState>& op, const token::Token& token, CK_BYTE_PTR in, CK_ULONG in_len,
            CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  run_step(op, token, Part::multi, [&](CipherOperationState& s) {
    ByteView data = input(in, in_len);
    deliver(s, Step::update, s.cipher->update_size(data.size()), out, out_len,
            [&] { return s.cipher->update(data); });
  });
}

void final(std::optional<CipherOperationState>& op, const token::Token& token, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  run_step(op, token, Part::multi, [&](CipherOperationState& s) {
    if (deliver(s, Step::finish, s.cipher->finish_size(), out, out_len,
                [&] { return s.cipher->finish(); })) {
      op.reset();
    }
  });
}

}  // namespace

extern "C" {

CK_RV C_EncryptInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  return guard("C_EncryptInit", arg(session) + ", key=" + arg(key), [&] {
    SessionRef ref = library().session(session);
    if (ended_by_null_mechanism(mechanism, ref->encrypt)) {
      return;
    }
    require(!ref->encrypt.has_value(), CKR_OPERATION_ACTIVE, "an encryption is active");
    ref->encrypt = start(ref, mechanism, key, true);
  });
}

CK_RV C_Encrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR out,
                CK_ULONG_PTR out_len) {
  return guard("C_Encrypt", arg(session), [&] {
    SessionRef ref = library().session(session);
    one_shot(ref->encrypt, ref.token(), data, data_len, out, out_len);
  });
}

CK_RV C_EncryptUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len,
                      CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return guard("C_EncryptUpdate", arg(session), [&] {
    SessionRef ref = library().session(session);
    update(ref->encrypt, ref.token(), part, part_len, out, out_len);
  });
}

CK_RV C_EncryptFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return guard("C_EncryptFinal", arg(session), [&] {
    SessionRef ref = library().session(session);
    final(ref->encrypt, ref.token(), out, out_len);
  });
}

CK_RV C_DecryptInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  return guard("C_DecryptInit", arg(session) + ", key=" + arg(key), [&] {
    SessionRef ref = library().session(session);
    if (ended_by_null_mechanism(mechanism, ref->decrypt)) {
      return;
    }
    require(!ref->decrypt.has_value(), CKR_OPERATION_ACTIVE, "a decryption is active");
    ref->decrypt = start(ref, mechanism, key, false);
  });
}

CK_RV C_Decrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR out,
                CK_ULONG_PTR out_len) {
  return guard("C_Decrypt", arg(session), [&] {
    SessionRef ref = library().session(session);
    one_shot(ref->decrypt, ref.token(), data, data_len, out, out_len);
  });
}

CK_RV C_DecryptUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len,
                      CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return guard("C_DecryptUpdate", arg(session), [&] {
    SessionRef ref = library().session(session);
    update(ref->decrypt, ref.token(), part, part_len, out, out_len);
  });
}

CK_RV C_DecryptFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return guard("C_DecryptFinal", arg(session), [&] {
    SessionRef ref = library().session(session);
    final(ref->decrypt, ref.token(), out, out_len);
  });
}

}  // extern "C"
