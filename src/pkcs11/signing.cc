// Signing and verification (PKCS#11 3.0 sections 5.12-5.13), single- and multi-part: signatures
// with key pairs, and MACs (HMAC, AES-CMAC) with secret keys.
#include "pkcs11/guard.h"
#include "pkcs11/library.h"
#include "pkcs11/marshal.h"
#include "token/attribute_policy.h"
#include "token/key_material.h"
#include "token/token.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;
using token::CkError;
using token::require;

namespace {

// start_mac makes the state of an HMAC or CMAC operation: a secret key signs and verifies.
SignOperation start_mac(const token::Mechanism& mech, const token::Object& key) {
  require(token::object_class(key.attrs) == CKO_SECRET_KEY, CKR_KEY_TYPE_INCONSISTENT,
          "a MAC mechanism needs a secret key");
  SignOperation op;
  op.mechanism = mech.type;
  op.mac = token::make_mac(mech, key.attrs);
  op.signature_size = op.mac->size();
  return op;
}

// signing_context gives the session's prepared signing key for obj and scheme, prepared anew
// unless the last C_SignInit of the session used the same key object, scheme and login (epoch:
// the login epoch read before obj was looked up).
std::shared_ptr<const crypto::SignContext> signing_context(const SessionRef& ref,
                                                           const token::ObjectPtr& obj,
                                                           const crypto::PKey& pkey,
                                                           const crypto::SignatureScheme& scheme,
                                                           uint64_t epoch) {
  auto& kept = ref->signing_key;
  if (!kept || kept->object != obj || kept->login_epoch != epoch ||
      !(kept->context->scheme() == scheme)) {
    kept.reset();  // the previous key leaves memory first
    kept = Session::SigningKey{obj, epoch,
                               std::make_shared<const crypto::SignContext>(pkey, scheme)};
  }
  return kept->context;
}

// start_signature makes the state of a signature with a key pair.
SignOperation start_signature(const SessionRef& ref, const token::Mechanism& mech,
                              const token::ObjectPtr& obj, bool sign, uint64_t epoch) {
  const token::Object& key = *obj;
  CK_OBJECT_CLASS cls = token::object_class(key.attrs);
  require(cls == (sign ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY) || (!sign && cls == CKO_PRIVATE_KEY),
          CKR_KEY_TYPE_INCONSISTENT, "the key's class does not fit the operation");
  crypto::SignatureScheme scheme = token::signature_scheme(mech, key.attrs);
  const crypto::PKey& pkey = token::object_pkey(key);
  SignOperation op;
  op.mechanism = mech.type;
  op.signature_size = crypto::signature_size(pkey, scheme);
  if (scheme.kind == crypto::SignatureScheme::Kind::rsa_pkcs1 && !scheme.digest) {
    op.max_input = op.signature_size - 11;
  }
  if (scheme.kind == crypto::SignatureScheme::Kind::rsa_pss) {
    size_t hash_len = crypto::digest_size(scheme.pss_hash);
    require(op.signature_size >= hash_len + 2 &&
                scheme.salt_len <= op.signature_size - hash_len - 2,
            CKR_MECHANISM_PARAM_INVALID, "the PSS salt is too long for the key");
    op.exact_input = scheme.digest ? 0 : hash_len;
  }
  if (sign) {
    op.signer.emplace(signing_context(ref, obj, pkey, scheme, epoch));
  } else {
    op.verifier.emplace(pkey, scheme);
  }
  return op;
}

// start makes the operation state for C_SignInit / C_VerifyInit.
SignOperation start(const SessionRef& ref, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key,
                    bool sign) {
  token::Mechanism mech = parse_mechanism(mechanism);
  uint64_t epoch = ref.token().login_epoch();  // before the key: see KeyUse::for_key
  token::ObjectPtr obj =
      token::key_for(ref.token(), sign ? token::Use::sign : token::Use::verify, key, mech);
  SignOperation op = token::is_mac_mechanism(mech.type)
                         ? start_mac(mech, *obj)
                         : start_signature(ref, mech, obj, sign, epoch);
  op.key_use = KeyUse::for_key(epoch, *obj, sign);
  return op;
}

void feed(SignOperation& op, ByteView data) {
  op.input_seen += data.size();
  require(op.max_input == 0 || op.input_seen <= op.max_input, CKR_DATA_LEN_RANGE,
          "the data is too long for the mechanism");
  if (op.mac) {
    op.mac->update(data);
  } else if (op.signer) {
    op.signer->update(data);
  } else {
    op.verifier->update(data);
  }
}

void check_input_complete(const SignOperation& op) {
  require(op.exact_input == 0 || op.input_seen == op.exact_input, CKR_DATA_LEN_RANGE,
          "the input must be a hash of the mechanism's size");
}

void finish_signature(std::optional<SignOperation>& op, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len) {
  if (!give_output(sig, sig_len, op->signature_size)) {
    return;
  }
  check_input_complete(*op);
  if (op->mac) {
    copy_output(sig, sig_len, op->mac->finish());
  } else {
    copy_output(sig, sig_len, op->signer->finish());
  }
  op.reset();
}

void finish_verify(std::optional<SignOperation>& op, ByteView sig) {
  check_input_complete(*op);
  bool length_ok = sig.size() == op->signature_size;
  bool ok;
  if (op->mac) {
    // Constant time: the comparison does not tell how much of a forged MAC was right.
    crypto::SecureBytes mac = op->mac->finish();
    ok = length_ok && crypto::ct_equal(mac, sig);
  } else {
    ok = op->verifier->finish(sig);
  }
  op.reset();
  require(length_ok, CKR_SIGNATURE_LEN_RANGE, "the signature has the wrong length");
  require(ok, CKR_SIGNATURE_INVALID, "the signature does not verify");
}

}  // namespace

extern "C" {

CK_RV C_SignInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  return guard("C_SignInit", arg(session) + ", key=" + arg(key), [&] {
    SessionRef ref = library().session(session);
    if (ended_by_null_mechanism(mechanism, ref->sign)) {
      return;
    }
    require(!ref->sign.has_value(), CKR_OPERATION_ACTIVE, "a signing operation is active");
    ref->sign = start(ref, mechanism, key, true);
  });
}

CK_RV C_Sign(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
             CK_ULONG_PTR sig_len) {
  return guard("C_Sign", arg(session), [&] {
    SessionRef ref = library().session(session);
    run_step(ref->sign, ref.token(), [&](SignOperation& op) {
      require(!op.multi_part, CKR_OPERATION_ACTIVE, "a multi-part signature must end with C_SignFinal");
      ByteView in = input(data, data_len);
      if (!give_output(sig, sig_len, op.signature_size)) {
        return;
      }
      feed(op, in);
      finish_signature(ref->sign, sig, sig_len);
    });
  });
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len) {
  return guard("C_SignUpdate", arg(session), [&] {
    SessionRef ref = library().session(session);
    run_step(ref->sign, ref.token(), [&](SignOperation& op) {
      op.multi_part = true;
      feed(op, input(part, part_len));
    });
  });
}

CK_RV C_SignFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len) {
  return guard("C_SignFinal", arg(session), [&] {
    SessionRef ref = library().session(session);
    run_step(ref->sign, ref.token(), [&](SignOperation&) { finish_signature(ref->sign, sig, sig_len); });
  });
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE key) {
  return guard("C_VerifyInit", arg(session) + ", key=" + arg(key), [&] {
    SessionRef ref = library().session(session);
    if (ended_by_null_mechanism(mechanism, ref->verify)) {
      return;
    }
    require(!ref->verify.has_value(), CKR_OPERATION_ACTIVE, "a verification is active");
    ref->verify = start(ref, mechanism, key, false);
  });
}

CK_RV C_Verify(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
               CK_ULONG sig_len) {
  return guard("C_Verify", arg(session), [&] {
    SessionRef ref = library().session(session);
    run_step(ref->verify, ref.token(), [&](SignOperation& op) {
      require(!op.multi_part, CKR_OPERATION_ACTIVE, "a multi-part verification must end with C_VerifyFinal");
      feed(op, input(data, data_len));
      finish_verify(ref->verify, input(sig, sig_len));
    });
  });
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len) {
  return guard("C_VerifyUpdate", arg(session), [&] {
    SessionRef ref = library().session(session);
    run_step(ref->verify, ref.token(), [&](SignOperation& op) {
      op.multi_part = true;
      feed(op, input(part, part_len));
    });
  });
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR sig, CK_ULONG sig_len) {
  return guard("C_VerifyFinal", arg(session), [&] {
    SessionRef ref = library().session(session);
    run_step(ref->verify, ref.token(), [&](SignOperation&) { finish_verify(ref->verify, input(sig, sig_len)); });
  });
}

CK_RV C_SignRecoverInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
  return guard("C_SignRecoverInit", arg(session), [&] {
    library().session(session);
    throw CkError(CKR_FUNCTION_NOT_SUPPORTED, "signatures with recovery are not supported");
  });
}

CK_RV C_SignRecover(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
  return guard("C_SignRecover", arg(session), [&] {
    library().session(session);
    throw CkError(CKR_FUNCTION_NOT_SUPPORTED, "signatures with recovery are not supported");
  });
}

CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
  return guard("C_VerifyRecoverInit", arg(session), [&] {
    library().session(session);
    throw CkError(CKR_FUNCTION_NOT_SUPPORTED, "signatures with recovery are not supported");
  });
}

CK_RV C_VerifyRecover(CK_SESSION_HANDLE session, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                      CK_ULONG_PTR) {
  return guard("C_VerifyRecover", arg(session), [&] {
    library().session(session);
    throw CkError(CKR_FUNCTION_NOT_SUPPORTED, "signatures with recovery are not supported");
  });
}

}  // extern "C"
