#include "device/tpm_pin_guard.h"

#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "token/ck_error.h"
#include "token/token.h"
#include "tpm/capabilities.h"
#include "tpm/error.h"
#include "tpm/objects.h"

namespace twinhsm::device {

namespace {

std::string role_name(token::Role role) {
  return role == token::Role::so ? "so" : "user";
}

std::string record_key(token::Role role) {
  return "pin_guard." + role_name(role);
}

// binding ties a record to the roles row it was made for.
Bytes binding(token::Role role, const store::RoleRow& row) {
  Bytes input(as_bytes("twinhsm pin guard binding v1").begin(),
              as_bytes("twinhsm pin guard binding v1").end());
  input.push_back(static_cast<uint8_t>(role));
  append_be(input, row.iterations, 4);
  append_be(input, row.salt.size(), 4);
  append(input, row.salt);
  append(input, row.wrapped_sk);
  return crypto::digest(crypto::DigestAlg::sha256, input);
}

crypto::SecureBytes pin_auth(token::Role role, const crypto::SecureBytes& stretched) {
  return crypto::kbkdf_counter_hmac_sha256(stretched, "twinhsm tpm pin auth v1",
                                           as_bytes(role_name(role)), 32);
}

// A record: binding (32) || public length (2) || public || private length (2) || private.
Bytes encode(const Bytes& bound_to, const tpm::Blob& blob) {
  Bytes out = bound_to;
  append_be(out, blob.public_area.size(), 2);
  append(out, blob.public_area);
  append_be(out, blob.private_area.size(), 2);
  append(out, blob.private_area);
  return out;
}

std::optional<tpm::Blob> decode(ByteView record, const Bytes& bound_to) {
  if (record.size() < 36 || !crypto::ct_equal(record.first(32), bound_to)) {
    return std::nullopt;  // no record of this row
  }
  auto take = [&](size_t& at) {
    if (at + 2 > record.size()) {
      throw IntegrityError("a TPM PIN record is truncated");
    }
    size_t n = size_t{record[at]} << 8 | record[at + 1];
    if (at + 2 + n > record.size()) {
      throw IntegrityError("a TPM PIN record is truncated");
    }
    Bytes part(record.begin() + static_cast<long>(at + 2),
               record.begin() + static_cast<long>(at + 2 + n));
    at += 2 + n;
    return part;
  };
  size_t at = 32;
  tpm::Blob blob;
  blob.public_area = take(at);
  blob.private_area = take(at);
  return blob;
}

}  // namespace

token::PinGuard::Verdict TpmPinGuard::check(token::Role role, const store::RoleRow& row,
                                            const crypto::SecureBytes& stretched) {
  auto record = store_.device_state(record_key(role));
  std::optional<tpm::Blob> blob = record ? decode(*record, binding(role, row)) : std::nullopt;
  if (!blob) {
    return Verdict::unknown;
  }
  try {
    tpm::Link link(tcti_, srk_name_);
    tpm::Object sealed = tpm::load(link.ctx, link.session, link.primary, *blob);
    tpm::unseal(link.ctx, link.session, sealed, pin_auth(role, stretched));
    return Verdict::right;
  } catch (const tpm::TpmError& e) {
    if (e.auth_failed()) {
      return Verdict::wrong;
    }
    if (!e.locked_out()) {
      throw;
    }
  }
  throw token::CkError(CKR_PIN_LOCKED, lockout_advice());  // the connection is closed: ask anew
}

void TpmPinGuard::enroll(token::Role role, const store::RoleRow& row,
                         const crypto::SecureBytes& stretched) {
  tpm::Link link(tcti_, srk_name_);
  tpm::Blob blob = tpm::create_sealed(link.ctx, link.session, link.primary,
                                      pin_auth(role, stretched), crypto::random_secret(32));
  store_.put_device_state(record_key(role), encode(binding(role, row), blob));
}

uint32_t TpmPinGuard::remaining() {
  tpm::Context ctx(tcti_);
  return tpm::lockout_state(ctx).remaining();
}

std::string TpmPinGuard::lockout_advice() {
  tpm::Context ctx(tcti_);
  tpm::LockoutState s = tpm::lockout_state(ctx);
  return "the TPM refuses every PIN after " + std::to_string(s.failures) +
         " wrong ones (of either role, or of other programs using it); it forgives one every " +
         std::to_string(s.recovery_seconds) +
         " s, or its owner can reset it (tpm2_dictionarylockout -c)";
}

}  // namespace twinhsm::device
