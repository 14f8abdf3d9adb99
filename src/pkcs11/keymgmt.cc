// Key management and random numbers (PKCS#11 3.0 sections 5.14-5.15).
#include "crypto/random.h"
#include "pkcs11/guard.h"
#include "pkcs11/library.h"
#include "pkcs11/marshal.h"
#include "pkcs11/objects.h"
#include "token/mechanisms.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;
using token::CkError;
using token::require;

namespace {
std::string h(CK_ULONG v) { return std::to_string(v); }
}  // namespace

extern "C" {

CK_RV C_GenerateKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_ATTRIBUTE_PTR tmpl,
                    CK_ULONG count, CK_OBJECT_HANDLE_PTR key) {
  return guard("C_GenerateKey", h(session), [&] {
    SessionRef ref = library().session(session);
    require_arg(key != nullptr);
    token::Mechanism mech = parse_mechanism(mechanism);
    require(token::mechanism_info(mech.type)->flags & CKF_GENERATE, CKR_MECHANISM_INVALID,
            "the mechanism does not generate keys");
    token::AttributeMap request = parse_template(tmpl, count);
    *key = store_new_object(ref, token::generate_secret_key(mech, request))->handle;
  });
}

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                        CK_ATTRIBUTE_PTR public_tmpl, CK_ULONG public_count,
                        CK_ATTRIBUTE_PTR private_tmpl, CK_ULONG private_count,
                        CK_OBJECT_HANDLE_PTR public_key, CK_OBJECT_HANDLE_PTR private_key) {
  return guard("C_GenerateKeyPair", h(session), [&] {
    SessionRef ref = library().session(session);
    require_arg(public_key != nullptr && private_key != nullptr);
    token::Mechanism mech = parse_mechanism(mechanism);
    require(token::mechanism_info(mech.type)->flags & CKF_GENERATE_KEY_PAIR, CKR_MECHANISM_INVALID,
            "the mechanism does not generate key pairs");
    token::AttributeMap pub_request = parse_template(public_tmpl, public_count);
    token::AttributeMap priv_request = parse_template(private_tmpl, private_count);
    auto [pub, priv] = token::generate_key_pair(mech, pub_request, priv_request);
    token::ObjectPtr pub_obj = store_new_object(ref, std::move(pub));
    try {
      *private_key = store_new_object(ref, std::move(priv))->handle;
    } catch (...) {
      ref.token().destroy(*pub_obj);  // no half pair left behind
      throw;
    }
    *public_key = pub_obj->handle;
  });
}

CK_RV C_WrapKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE,
                CK_BYTE_PTR, CK_ULONG_PTR) {
  return guard("C_WrapKey", h(session), [&] {
    library().session(session);
    throw CkError(CKR_FUNCTION_NOT_SUPPORTED, "key wrapping is not supported yet");
  });
}

CK_RV C_UnwrapKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR, CK_OBJECT_HANDLE, CK_BYTE_PTR,
                  CK_ULONG, CK_ATTRIBUTE_PTR, CK_ULONG, CK_OBJECT_HANDLE_PTR) {
  return guard("C_UnwrapKey", h(session), [&] {
    library().session(session);
    throw CkError(CKR_FUNCTION_NOT_SUPPORTED, "key unwrapping is not supported yet");
  });
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR, CK_OBJECT_HANDLE, CK_ATTRIBUTE_PTR,
                  CK_ULONG, CK_OBJECT_HANDLE_PTR) {
  return guard("C_DeriveKey", h(session), [&] {
    library().session(session);
    throw CkError(CKR_FUNCTION_NOT_SUPPORTED, "key derivation is not supported yet");
  });
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE session, CK_BYTE_PTR seed, CK_ULONG seed_len) {
  return guard("C_SeedRandom", h(session), [&] {
    library().session(session);
    crypto::seed_random(input(seed, seed_len));
  });
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG len) {
  return guard("C_GenerateRandom", h(session), [&] {
    library().session(session);
    require(out != nullptr || len == 0, CKR_ARGUMENTS_BAD, "the output pointer is NULL");
    crypto::random_fill(std::span<uint8_t>(out, len));
  });
}

}  // extern "C"
