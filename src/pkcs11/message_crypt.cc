// Message-based encryption and decryption (PKCS#11 3.0 sections 5.11-5.12) with the AEADs:
// arguments checked and each message's parameter copied here (and the generated IV and the tag
// written back into it); token/message_cipher.h does the work. A failed message ends that
// message, not the operation: the next one may begin.
#include "pkcs11/entry.h"
#include "pkcs11/guard.h"
#include "pkcs11/library.h"
#include "pkcs11/marshal.h"
#include "pkcs11/session_call.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;
using token::require;

namespace {

// MessageParamsIn: a message's parameter copied, and where the IV and tag go back to.
struct MessageParamsIn {
  token::MessageParams params;
  CK_BYTE_PTR iv_out = nullptr;
  CK_BYTE_PTR tag_out = nullptr;
};

template <class T>
const T& message_param(CK_VOID_PTR p, CK_ULONG len) {
  require(p != nullptr && len == sizeof(T), CKR_MECHANISM_PARAM_INVALID,
          "the message's parameter has the wrong size for the mechanism");
  return *static_cast<const T*>(p);
}

Bytes copied(const CK_BYTE* p, CK_ULONG len, CK_ULONG max) {
  require(p != nullptr && len >= 1 && len <= max, CKR_MECHANISM_PARAM_INVALID,
          "an IV, nonce or tag pointer or length in the message's parameter is invalid");
  return Bytes(p, p + len);
}

// parse_message reads the parameter of one message (CK_GCM_MESSAGE_PARAMS,
// CK_CCM_MESSAGE_PARAMS, CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS). Decrypting, the tag is read
// when the pointer is given.
MessageParamsIn parse_message(CK_MECHANISM_TYPE m, CK_VOID_PTR p, CK_ULONG len, bool encrypt) {
  MessageParamsIn in;
  token::MessageParams& out = in.params;
  CK_BYTE_PTR tag = nullptr;
  switch (m) {
    case CKM_AES_GCM: {
      const auto& g = message_param<CK_GCM_MESSAGE_PARAMS>(p, len);
      out.iv = copied(g.pIv, g.ulIvLen, 256);
      in.iv_out = g.pIv;
      out.fixed_bits = g.ulIvFixedBits;
      out.generator = g.ivGenerator;
      require(g.ulTagBits % 8 == 0 && g.ulTagBits >= 32 && g.ulTagBits <= 128,
              CKR_MECHANISM_PARAM_INVALID, "the GCM tag must be 32 to 128 bits, whole bytes");
      out.tag_len = g.ulTagBits / 8;
      tag = g.pTag;
      break;
    }
    case CKM_AES_CCM: {
      const auto& c = message_param<CK_CCM_MESSAGE_PARAMS>(p, len);
      out.iv = copied(c.pNonce, c.ulNonceLen, 13);
      in.iv_out = c.pNonce;
      out.fixed_bits = c.ulNonceFixedBits;
      out.generator = c.nonceGenerator;
      // Checked before the tag is read: ulMACLen bytes are copied from pMAC.
      require(c.ulMACLen >= 4 && c.ulMACLen <= 16 && c.ulMACLen % 2 == 0,
              CKR_MECHANISM_PARAM_INVALID, "the CCM MAC must be 4, 6, ... 16 bytes");
      out.tag_len = c.ulMACLen;
      out.data_len = c.ulDataLen;
      tag = c.pMAC;
      break;
    }
    default: {
      const auto& c = message_param<CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS>(p, len);
      out.iv = copied(c.pNonce, c.ulNonceLen, 12);
      in.iv_out = c.pNonce;
      tag = c.pTag;
      break;
    }
  }
  require(tag != nullptr, CKR_MECHANISM_PARAM_INVALID, "the message's tag pointer is NULL");
  in.tag_out = tag;
  if (!encrypt) {
    out.tag.assign(tag, tag + out.tag_len);
    out.generator = CKG_NO_GENERATE;
  }
  return in;
}

using Slot = std::optional<MessageCipherState> Session::*;

// with_op runs body on the session's active message-based operation of the kind.
template <class Body>
CK_RV with_op(const char* name, CK_SESSION_HANDLE session, Slot slot, Body&& body) {
  return in_session(name, session, [&](SessionRef& ref) {
    auto& op = (*ref).*slot;
    require(op.has_value(), CKR_OPERATION_NOT_INITIALIZED, "no message-based operation is active");
    op->key_use.check(ref.token());
    body(*op->cipher);
  });
}

CK_RV init(const char* name, CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
           CK_OBJECT_HANDLE key, bool encrypt) {
  auto slot = [&](Session & s) -> auto& {
    return encrypt ? s.message_encrypt : s.message_decrypt;
  };
  return init_operation(name, session, mechanism, key, slot, [&](const SessionRef& ref) {
    token::Mechanism mech = parse_message_mechanism(mechanism);
    auto [obj, epoch] =
        operation_key(ref, encrypt ? token::Use::encrypt : token::Use::decrypt, key, mech);
    auto cipher = std::make_unique<token::MessageCipher>(mech, *obj, encrypt);
    if (!encrypt) {
      cipher->set_may_make_tags(token::may_use(ref.token(), token::Use::encrypt, obj->attrs, mech));
    }
    return MessageCipherState{std::move(cipher), KeyUse::for_key(epoch, *obj, false)};
  });
}

// begin starts a message and writes a generated IV back into the caller's parameter.
void begin(token::MessageCipher& c, const MessageParamsIn& in, CK_BYTE_PTR aad, CK_ULONG aad_len) {
  Bytes iv = c.begin(in.params, input(aad, aad_len));
  if (in.params.generator != CKG_NO_GENERATE) {
    std::memcpy(in.iv_out, iv.data(), iv.size());
  }
}

// deliver ends the message: its output into out (two-call convention: a size query or a buffer
// too small keeps the message and its parts), the tag into the parameter.
void deliver(token::MessageCipher& c, const MessageParamsIn& in, ByteView last, CK_BYTE_PTR out,
             CK_ULONG_PTR out_len) {
  if (!give_output(out, out_len, c.output_size(last.size()))) {
    return;
  }
  c.add(last);
  token::MessageCipher::Result r = c.finish();
  copy_output(out, out_len, r.data);
  if (!r.tag.empty()) {
    std::memcpy(in.tag_out, r.tag.data(), r.tag.size());
  }
}

// one_message is C_EncryptMessage / C_DecryptMessage: begin, the whole message, end. A size
// query begins nothing.
CK_RV one_message(const char* name, CK_SESSION_HANDLE session, bool encrypt, CK_VOID_PTR param,
                  CK_ULONG param_len, CK_BYTE_PTR aad, CK_ULONG aad_len, CK_BYTE_PTR data,
                  CK_ULONG data_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  Slot slot = encrypt ? &Session::message_encrypt : &Session::message_decrypt;
  return with_op(name, session, slot, [&](token::MessageCipher& c) {
    require(!c.in_message(), CKR_OPERATION_ACTIVE, "a message is being processed in parts");
    ByteView in = input(data, data_len);
    MessageParamsIn p = parse_message(c.mechanism(), param, param_len, encrypt);
    c.check(p.params);
    if (!give_output(out, out_len, in.size())) {
      return;
    }
    begin(c, p, aad, aad_len);
    try {
      deliver(c, p, in, out, out_len);
    } catch (...) {
      c.abort();
      throw;
    }
  });
}

CK_RV message_begin(const char* name, CK_SESSION_HANDLE session, bool encrypt, CK_VOID_PTR param,
                    CK_ULONG param_len, CK_BYTE_PTR aad, CK_ULONG aad_len) {
  Slot slot = encrypt ? &Session::message_encrypt : &Session::message_decrypt;
  return with_op(name, session, slot, [&](token::MessageCipher& c) {
    begin(c, parse_message(c.mechanism(), param, param_len, encrypt), aad, aad_len);
  });
}

// message_next takes a part; with CKF_END_OF_MESSAGE the last, and the message's whole output
// comes then (the parts before give none).
CK_RV message_next(const char* name, CK_SESSION_HANDLE session, bool encrypt, CK_VOID_PTR param,
                   CK_ULONG param_len, CK_BYTE_PTR part, CK_ULONG part_len, CK_BYTE_PTR out,
                   CK_ULONG_PTR out_len, CK_FLAGS flags) {
  Slot slot = encrypt ? &Session::message_encrypt : &Session::message_decrypt;
  return with_op(name, session, slot, [&](token::MessageCipher& c) {
    require(c.in_message(), CKR_OPERATION_NOT_INITIALIZED, "no message has begun");
    try {
      require((flags & ~CKF_END_OF_MESSAGE) == 0, CKR_ARGUMENTS_BAD, "unknown flags");
      ByteView in = input(part, part_len);
      if (!(flags & CKF_END_OF_MESSAGE)) {
        if (give_output(out, out_len, 0)) {
          c.add(in);
        }
        return;
      }
      MessageParamsIn p = parse_message(c.mechanism(), param, param_len, encrypt);
      // The tag is written (encrypting) or read (decrypting) at the last part's pointer: its
      // length must be the one the message began with.
      require(p.params.tag_len == c.tag_len(), CKR_MECHANISM_PARAM_INVALID,
              "the last part's tag length is not the one the message began with");
      if (!encrypt) {
        c.set_tag(p.params.tag);
      }
      deliver(c, p, in, out, out_len);
    } catch (...) {
      c.abort();  // the failed call ends its message; the next may begin
      throw;
    }
  });
}

CK_RV message_final(const char* name, CK_SESSION_HANDLE session, bool encrypt) {
  return end_operation(
      name, session, [&](Session & s) -> auto& {
        return encrypt ? s.message_encrypt : s.message_decrypt;
      });
}

}  // namespace

extern "C" {

CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  return init("C_MessageEncryptInit", s, m, key, true);
}
CK_RV C_EncryptMessage(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR aad,
                       CK_ULONG aad_len, CK_BYTE_PTR pt, CK_ULONG pt_len, CK_BYTE_PTR ct,
                       CK_ULONG_PTR ct_len) {
  return one_message("C_EncryptMessage", s, true, param, param_len, aad, aad_len, pt, pt_len, ct,
                     ct_len);
}
CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len,
                            CK_BYTE_PTR aad, CK_ULONG aad_len) {
  return message_begin("C_EncryptMessageBegin", s, true, param, param_len, aad, aad_len);
}
CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len,
                           CK_BYTE_PTR pt, CK_ULONG pt_len, CK_BYTE_PTR ct, CK_ULONG_PTR ct_len,
                           CK_FLAGS flags) {
  return message_next("C_EncryptMessageNext", s, true, param, param_len, pt, pt_len, ct, ct_len,
                      flags);
}
CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE s) {
  return message_final("C_MessageEncryptFinal", s, true);
}

CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  return init("C_MessageDecryptInit", s, m, key, false);
}
CK_RV C_DecryptMessage(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len, CK_BYTE_PTR aad,
                       CK_ULONG aad_len, CK_BYTE_PTR ct, CK_ULONG ct_len, CK_BYTE_PTR pt,
                       CK_ULONG_PTR pt_len) {
  return one_message("C_DecryptMessage", s, false, param, param_len, aad, aad_len, ct, ct_len, pt,
                     pt_len);
}
CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len,
                            CK_BYTE_PTR aad, CK_ULONG aad_len) {
  return message_begin("C_DecryptMessageBegin", s, false, param, param_len, aad, aad_len);
}
CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE s, CK_VOID_PTR param, CK_ULONG param_len,
                           CK_BYTE_PTR ct, CK_ULONG ct_len, CK_BYTE_PTR pt, CK_ULONG_PTR pt_len,
                           CK_FLAGS flags) {
  return message_next("C_DecryptMessageNext", s, false, param, param_len, ct, ct_len, pt, pt_len,
                      flags);
}
CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE s) {
  return message_final("C_MessageDecryptFinal", s, false);
}

}  // extern "C"
