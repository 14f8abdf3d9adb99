// Key management and random numbers (PKCS#11 3.0 sections 5.14-5.15): arguments checked, the
// token's key_management.h does the work.
#include "crypto/random.h"
#include "pkcs11/guard.h"
#include "pkcs11/library.h"
#include "pkcs11/marshal.h"
#include "pkcs11/session_call.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;

extern "C" {

CK_RV C_GenerateKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_ATTRIBUTE_PTR tmpl,
                    CK_ULONG count, CK_OBJECT_HANDLE_PTR key) {
  return in_session("C_GenerateKey", session, [&](SessionRef& ref) {
    require_arg(key != nullptr);
    token::Mechanism mech = parse_mechanism(mechanism);
    token::AttributeMap request = parse_template(tmpl, count);
    *key = token::generate_key(ref.token(), ref.caller(), mech, request)->handle;
  });
}

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                        CK_ATTRIBUTE_PTR public_tmpl, CK_ULONG public_count,
                        CK_ATTRIBUTE_PTR private_tmpl, CK_ULONG private_count,
                        CK_OBJECT_HANDLE_PTR public_key, CK_OBJECT_HANDLE_PTR private_key) {
  return in_session("C_GenerateKeyPair", session, [&](SessionRef& ref) {
    require_arg(public_key != nullptr && private_key != nullptr);
    token::Mechanism mech = parse_mechanism(mechanism);
    token::AttributeMap pub_request = parse_template(public_tmpl, public_count);
    token::AttributeMap priv_request = parse_template(private_tmpl, private_count);
    auto [pub, priv] =
        token::generate_key_pair(ref.token(), ref.caller(), mech, pub_request, priv_request);
    *public_key = pub->handle;
    *private_key = priv->handle;
  });
}

CK_RV C_WrapKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                CK_OBJECT_HANDLE wrapping_key, CK_OBJECT_HANDLE key, CK_BYTE_PTR wrapped,
                CK_ULONG_PTR wrapped_len) {
  return guard(
      "C_WrapKey", arg(session) + ", wrapping=" + arg(wrapping_key) + ", key=" + arg(key), [&] {
        SessionRef ref = library().session(session);
        require_arg(wrapped_len != nullptr);
        token::Mechanism mech = parse_mechanism(mechanism);
        // Wrapping is deterministic in length: the size query wraps too and discards
        // the result.
        copy_output(wrapped, wrapped_len, token::wrap_key(ref.token(), mech, wrapping_key, key));
      });
}

CK_RV C_UnwrapKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism,
                  CK_OBJECT_HANDLE unwrapping_key, CK_BYTE_PTR wrapped, CK_ULONG wrapped_len,
                  CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key) {
  return guard("C_UnwrapKey", arg(session) + ", unwrapping=" + arg(unwrapping_key), [&] {
    SessionRef ref = library().session(session);
    require_arg(key != nullptr);
    token::Mechanism mech = parse_mechanism(mechanism);
    ByteView data = input(wrapped, wrapped_len);
    token::AttributeMap request = parse_template(tmpl, count);
    *key =
        token::unwrap_key(ref.token(), ref.caller(), mech, unwrapping_key, data, request)->handle;
  });
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism, CK_OBJECT_HANDLE base_key,
                  CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR key) {
  return guard("C_DeriveKey", arg(session) + ", base=" + arg(base_key), [&] {
    SessionRef ref = library().session(session);
    require_arg(key != nullptr);
    token::Mechanism mech = parse_mechanism(mechanism);
    token::AttributeMap request = parse_template(tmpl, count);
    *key = token::derive_key(ref.token(), ref.caller(), mech, base_key, request)->handle;
  });
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE session, CK_BYTE_PTR seed, CK_ULONG seed_len) {
  return guard("C_SeedRandom", arg(session), [&] {
    library().session(session);
    crypto::seed_random(input(seed, seed_len));
  });
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG len) {
  return guard("C_GenerateRandom", arg(session), [&] {
    library().session(session);
    check_output_length(out, len);
    crypto::random_fill(std::span<uint8_t>(out, len));
  });
}

}  // extern "C"
