// Message digesting functions of PKCS#11 3.0: CKM_SHA_1, the SHA-2 and SHA-3 families (and CKM_MD5
// on legacy devices), single- and multi-part, and C_DigestKey. Digesting needs no login;
// C_DigestKey sees what the session may see.
#include "pkcs11/guard.h"
#include "pkcs11/library.h"
#include "pkcs11/marshal.h"
#include "pkcs11/session_call.h"
#include "token/algorithm_policy.h"
#include "token/key_management.h"
#include "token/key_policy.h"

using namespace twinhsm;
using namespace twinhsm::pkcs11;
using token::require;

namespace {

// finish writes the digest into out (give_output has said it fits) and ends the operation; its
// digester is kept for the session's next digest.
void finish(Session& s, CK_BYTE_PTR out) {
  std::optional<DigestOperation>& op = s.digest;
  op->digester->finish_into(std::span<uint8_t>(out, crypto::digest_size(op->alg)));
  s.spare_digester.digester.swap(op->digester);  // the spare is empty while a digest is active
  s.spare_digester.repeatable = op->repeatable;
  op.reset();
}

// repeats is true when mechanism is the spare's repeatable one, without parameters, and the
// spare digester is restarted for it.
bool repeats(SpareDigester& spare, const CK_MECHANISM& mechanism) {
  return spare.repeatable == mechanism.mechanism && mechanism.pParameter == nullptr &&
         mechanism.ulParameterLen == 0 && spare.digester && spare.digester->restart();
}

}  // namespace

extern "C" {

CK_RV C_DigestInit(CK_SESSION_HANDLE session, CK_MECHANISM_PTR mechanism) {
  return guard("C_DigestInit", arg(session), [&] {
    // The repeat shortcut makes no OpenSSL call (the spare was made ready by the last digest's
    // end), so it skips the check that OpenSSL is still there (about 90 instructions, a call
    // into OpenSSL); everything else here checks it first.
    SessionRef ref = library().session(session, Library::OpenSslCheck::by_caller);
    SpareDigester& spare = ref->spare_digester;
    if (mechanism != nullptr && !ref->digest.has_value() && repeats(spare, *mechanism)) {
      DigestOperation& op = ref->digest.emplace();
      op.alg = spare.digester->alg();
      op.repeatable = mechanism->mechanism;
      op.digester.swap(spare.digester);
      return;
    }
    require_openssl();
    if (ended_by_null_mechanism(mechanism, ref->digest)) {
      return;
    }
    require(!ref->digest.has_value(), CKR_OPERATION_ACTIVE, "a digest is active");
    token::Mechanism mech = parse_mechanism(mechanism);
    auto alg = token::digest_of_mechanism(mech.type);
    const token::MechanismInfo* info = token::mechanism_info(mech.type);
    require(alg.has_value() && (info->flags & CKF_DIGEST), CKR_MECHANISM_INVALID,
            "the mechanism is not a digest");
    token::check_use(ref.token(), mech.type, CKF_DIGEST, nullptr);
    DigestOperation op;
    op.alg = *alg;
    if (info->tier != token::Tier::legacy && mechanism->pParameter == nullptr &&
        mechanism->ulParameterLen == 0) {
      op.repeatable = mech.type;
    }
    if (spare.digester && spare.digester->alg() == *alg && spare.digester->restart()) {
      op.digester.swap(spare.digester);  // the spare, restarted, is the new digest's; none is left
    } else {
      op.digester.emplace(*alg);
    }
    spare.digester.reset();
    spare.repeatable.reset();
    ref->digest = std::move(op);
  });
}

CK_RV C_Digest(CK_SESSION_HANDLE session, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR out,
               CK_ULONG_PTR out_len) {
  return in_session("C_Digest", session, [&](SessionRef& ref) {
    run_step(ref->digest, Part::single, [&](DigestOperation& op) {
      ByteView in = input(data, data_len);
      if (!give_output(out, out_len, crypto::digest_size(op.alg))) {
        return;
      }
      op.digester->update(in);
      finish(*ref, out);
    });
  });
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE session, CK_BYTE_PTR part, CK_ULONG part_len) {
  return in_session("C_DigestUpdate", session, [&](SessionRef& ref) {
    run_step(ref->digest, Part::multi,
             [&](DigestOperation& op) { op.digester->update(input(part, part_len)); });
  });
}

CK_RV C_DigestKey(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key) {
  return guard("C_DigestKey", arg(session) + ", key=" + arg(key), [&] {
    SessionRef ref = library().session(session);
    run_step(ref->digest, Part::multi, [&](DigestOperation& op) {
      token::ObjectPtr obj = token::find_key(ref.token(), key);
      op.digester->update(token::digestible_value(obj->attrs));
    });
  });
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE session, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return in_session("C_DigestFinal", session, [&](SessionRef& ref) {
    run_step(ref->digest, Part::multi, [&](DigestOperation& op) {
      if (give_output(out, out_len, crypto::digest_size(op.alg))) {
        finish(*ref, out);
      }
    });
  });
}

}  // extern "C"
