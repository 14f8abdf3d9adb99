// Encryption and decryption (PKCS#11 3.0 sections 5.9-5.10), single- and multi-part.
#include <algorithm>

#include "pkcs11/marshal.h"
#include "pkcs11/session_call.h"
#include "token/attribute_policy.h"
#include "token/key_policy.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;
using token::require;

namespace {

CipherOperationState start(const SessionRef& ref, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key,
                           bool encrypt) {
  token::Mechanism mech = parse_mechanism(mechanism);
  auto [obj, epoch] =
      operation_key(ref, encrypt ? token::Use::encrypt : token::Use::decrypt, key, mech);
  if (const auto* gcm = std::get_if<token::GcmParams>(&mech.params); gcm && !encrypt) {
    token::check_tag_length(gcm->tag_bits / 8,
                            token::may_use(ref.token(), token::Use::encrypt, obj->attrs, mech));
  }
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
// The retry must pass the input of the call it retries: output computed from other input is
// never handed out (CKR_ARGUMENTS_BAD, which ends the operation as any error but a short buffer
// does). Returns true when the output was delivered (the step is complete).
template <class Produce>
bool deliver(CipherOperationState& s, Step step, ByteView in, std::optional<size_t> size,
             CK_BYTE_PTR out, CK_ULONG_PTR out_len, Produce&& produce) {
  require(out_len != nullptr, CKR_ARGUMENTS_BAD, "the output length pointer is NULL");
  if (s.pending) {
    require(s.pending->step == step, CKR_OPERATION_ACTIVE,
            "the output of the previous call has not been collected");
    require(s.pending->input.size() == in.size() &&
                std::equal(in.begin(), in.end(), s.pending->input.begin()),
            CKR_ARGUMENTS_BAD,
            "the call after a size query (or a buffer too small) passed other input than that "
            "call: its output was computed from the first input");
  } else if (size) {
    if (!give_output(out, out_len, *size)) {
      return false;
    }
    crypto::SecureBytes data = produce();
    copy_output(out, out_len, data);
    return true;
  } else {
    s.pending =
        CipherOperationState::Pending{step, produce(), crypto::SecureBytes(in.begin(), in.end())};
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
    if (deliver(s, Step::run, data, size, out, out_len, [&] { return s.cipher->run(data); })) {
      op.reset();
    }
  });
}

void update(std::optional<CipherOperationState>& op, const token::Token& token, CK_BYTE_PTR in,
            CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  run_step(op, token, Part::multi, [&](CipherOperationState& s) {
    ByteView data = input(in, in_len);
    deliver(s, Step::update, data, s.cipher->update_size(data.size()), out, out_len,
            [&] { return s.cipher->update(data); });
  });
}

void final(std::optional<CipherOperationState>& op, const token::Token& token, CK_BYTE_PTR out,
           CK_ULONG_PTR out_len) {
  run_step(op, token, Part::multi, [&](CipherOperationState& s) {
    if (deliver(s, Step::finish, {}, s.cipher->finish_size(), out, out_len,
                [&] { return s.cipher->finish(); })) {
      op.reset();
    }
  });
}

// Each entry point, for encryption (encrypt true) and decryption.
std::optional<CipherOperationState>& slot_of(Session& s, bool encrypt) {
  return encrypt ? s.encrypt : s.decrypt;
}

CK_RV init(const char* name, CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
           CK_OBJECT_HANDLE key, bool encrypt) {
  return init_operation(
      name, session, mechanism, key, [&](Session & s) -> auto& { return slot_of(s, encrypt); },
      [&](const SessionRef& ref) { return start(ref, mechanism, key, encrypt); });
}

CK_RV single(const char* name, CK_SESSION_HANDLE session, bool encrypt, CK_BYTE_PTR in,
             CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return in_session(name, session, [&](SessionRef& ref) {
    one_shot(slot_of(*ref, encrypt), ref.token(), in, in_len, out, out_len);
  });
}

CK_RV part(const char* name, CK_SESSION_HANDLE session, bool encrypt, CK_BYTE_PTR in,
           CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return in_session(name, session, [&](SessionRef& ref) {
    update(slot_of(*ref, encrypt), ref.token(), in, in_len, out, out_len);
  });
}

CK_RV last(const char* name, CK_SESSION_HANDLE session, bool encrypt, CK_BYTE_PTR out,
           CK_ULONG_PTR out_len) {
  return in_session(name, session, [&](SessionRef& ref) {
    final(slot_of(*ref, encrypt), ref.token(), out, out_len);
  });
}

}  // namespace

extern "C" {

CK_RV C_EncryptInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  return init("C_EncryptInit", session, mechanism, key, true);
}
CK_RV C_Encrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR out,
                CK_ULONG_PTR out_len) {
  return single("C_Encrypt", session, true, data, data_len, out, out_len);
}
CK_RV C_EncryptUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part_in, CK_ULONG part_len,
                      CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return part("C_EncryptUpdate", session, true, part_in, part_len, out, out_len);
}
CK_RV C_EncryptFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return last("C_EncryptFinal", session, true, out, out_len);
}

CK_RV C_DecryptInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  return init("C_DecryptInit", session, mechanism, key, false);
}
CK_RV C_Decrypt(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR out,
                CK_ULONG_PTR out_len) {
  return single("C_Decrypt", session, false, data, data_len, out, out_len);
}
CK_RV C_DecryptUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part_in, CK_ULONG part_len,
                      CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return part("C_DecryptUpdate", session, false, part_in, part_len, out, out_len);
}
CK_RV C_DecryptFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return last("C_DecryptFinal", session, false, out, out_len);
}

}  // extern "C"
