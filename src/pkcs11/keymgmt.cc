// Key management and random numbers (PKCS#11 3.0 sections 5.14-5.15): generation, wrapping and
// unwrapping (token/wrapping.h), derivation (token/derivation.h).
#include "crypto/random.h"
#include "pkcs11/guard.h"
#include "pkcs11/library.h"
#include "pkcs11/marshal.h"
#include "pkcs11/objects.h"
#include "token/derivation.h"
#include "token/mechanisms.h"
#include "token/wrapping.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;
using token::CkError;
using token::require;

namespace {

std::string h(CK_ULONG v) { return std::to_string(v); }

// mechanism_for parses the mechanism and checks it can do what the flag names.
token::Mechanism mechanism_for(CK_MECHANISM_PTR mechanism, CK_FLAGS flag, const char* what) {
  token::Mechanism mech = parse_mechanism(mechanism);
  require(token::mechanism_info(mech.type)->flags & flag, CKR_MECHANISM_INVALID, what);
  return mech;
}

// key_for finds the key an operation uses, checks its usage attribute and
// CKA_ALLOWED_MECHANISMS; an unknown handle gives invalid_rv.
token::ObjectPtr key_for(const SessionRef& ref, CK_OBJECT_HANDLE handle, CK_RV invalid_rv,
                         CK_ATTRIBUTE_TYPE usage, const token::Mechanism& mech) {
  token::ObjectPtr key;
  try {
    key = find_key(ref, handle);
  } catch (const CkError& e) {
    if (e.rv() == CKR_KEY_HANDLE_INVALID) {
      throw CkError(invalid_rv, "no such key");
    }
    throw;
  }
  require(key->attrs.get_bool(usage, false), CKR_KEY_FUNCTION_NOT_PERMITTED,
          "the key's usage attribute (CKA_WRAP, CKA_UNWRAP or CKA_DERIVE) is false");
  token::check_allowed(key->attrs, mech.type);
  return key;
}

}  // namespace

extern "C" {

CK_RV C_GenerateKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_ATTRIBUTE_PTR tmpl,
                    CK_ULONG count, CK_OBJECT_HANDLE_PTR key) {
  return guard("C_GenerateKey", h(session), [&] {
    SessionRef ref = library().session(session);
    require_arg(key != nullptr);
    token::Mechanism mech =
        mechanism_for(mechanism, CKF_GENERATE, "the mechanism does not generate keys");
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
    token::Mechanism mech =
        mechanism_for(mechanism, CKF_GENERATE_KEY_PAIR, "the mechanism cannot generate key pairs");
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

CK_RV C_WrapKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key, CK_BYTE_PTR wrapped,
                CK_ULONG_PTR wrapped_len) {
  return guard("C_WrapKey", h(session) + ", wrapping=" + h(wrapping_key) + ", key=" + h(key), [&] {
    SessionRef ref = library().session(session);
    require_arg(wrapped_len != nullptr);
    token::Mechanism mech = mechanism_for(mechanism, CKF_WRAP, "the mechanism cannot wrap keys");
    token::ObjectPtr wrapper =
        key_for(ref, wrapping_key, CKR_WRAPPING_KEY_HANDLE_INVALID, CKA_WRAP, mech);
    token::ObjectPtr target = find_key(ref, key);
    // Wrapping is deterministic in length: the size query wraps too and discards the result.
    copy_output(wrapped, wrapped_len, token::wrap_key(mech, *wrapper, *target));
  });
}

CK_RV C_UnwrapKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                  CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped, CK_ULONG wrapped_len,
                  CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key) {
  return guard("C_UnwrapKey", h(session) + ", unwrapping=" + h(unwrapping_key), [&] {
    SessionRef ref = library().session(session);
    require_arg(key != nullptr);
    token::Mechanism mech =
        mechanism_for(mechanism, CKF_UNWRAP, "the mechanism cannot unwrap keys");
    token::ObjectPtr unwrapper =
        key_for(ref, unwrapping_key, CKR_UNWRAPPING_KEY_HANDLE_INVALID, CKA_UNWRAP, mech);
    ByteView data = input(wrapped, wrapped_len);
    token::AttributeMap request = parse_template(tmpl, count);
    *key = store_new_object(ref, token::unwrap_key(mech, *unwrapper, data, request))->handle;
  });
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE base_key,
                  CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key) {
  return guard("C_DeriveKey", h(session) + ", base=" + h(base_key), [&] {
    SessionRef ref = library().session(session);
    require_arg(key != nullptr);
    token::Mechanism mech =
        mechanism_for(mechanism, CKF_DERIVE, "the mechanism cannot derive keys");
    token::ObjectPtr base = key_for(ref, base_key, CKR_KEY_HANDLE_INVALID, CKA_DERIVE, mech);
    token::AttributeMap request = parse_template(tmpl, count);
    *key = store_new_object(ref, token::derive_key(mech, *base, request))->handle;
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
    check_output_length(out, len);
    crypto::random_fill(std::span<uint8_t>(out, len));
  });
}

}  // extern "C"
