// The TPM objects twinhsm uses, under one primary storage key:
//
//   primary   ECC P-256 restricted decryption key made from the owner hierarchy's seed with the
//             TCG's standard storage-key template (the "SRK" of systemd and tpm2-tools): the same
//             TPM always gives the same key, so nothing about it is stored.
//   HMAC key  a keyedHash signing object whose key the caller gives (the factory programs the
//             same key into twin TPMs); usable for TPM2_HMAC only, never readable.
//   sealed    a keyedHash data object with an authorization value: TPM2_Unseal gives its data only
//             for the right value, and a wrong one counts towards the TPM's dictionary-attack
//             lockout.
//
// Every command that carries a secret runs in a Session salted with the primary key, with
// parameter encryption both ways: keys, authorization values and results never cross the bus in
// the clear. The private parts leave the TPM only as Blobs encrypted under the primary key.
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "crypto/secure_bytes.h"
#include "tpm/context.h"

namespace twinhsm::tpm {

// Blob is an object as the TPM exports it: its public area and its private area encrypted under
// the parent (marshalled TPM2B_PUBLIC and TPM2B_PRIVATE). Useless without the TPM that made it.
struct Blob {
  Bytes public_area;
  Bytes private_area;
};

// Session is a salted HMAC session (salt encrypted to the primary key, AES-128-CFB parameter
// encryption, SHA-256), flushed on destruction.
class Session {
 public:
  Session(Context& ctx, const Object& primary);
  // use returns the session's handle for the next command, with parameter encryption of the
  // command's first parameter (decrypt) and of the response's (encrypt): a TPM refuses it for a
  // command that has no such parameter.
  uint32_t use(bool decrypt, bool encrypt);

 private:
  Context& ctx_;
  Object session_;
};

// create_primary makes (or re-makes: it is deterministic) the primary storage key.
Object create_primary(Context& ctx);
// kSrkHandle is where the TCG's provisioning guidance (and systemd) keep the storage key made
// persistent; primary_key returns it when the key there has name, else create_primary: making
// the key costs a hardware TPM a quarter of a second, every time.
inline constexpr uint32_t kSrkHandle = 0x81000001;
Object primary_key(Context& ctx, ByteView name);
// name returns an object's name (nameAlg || hash of its public area).
Bytes name(Context& ctx, const Object& object);

// Link is what most work needs: a connection, the primary key (primary_key with srk_name), and a
// session salted with it.
struct Link {
  explicit Link(const std::string& tcti, ByteView srk_name = {})
      : ctx(tcti), primary(primary_key(ctx, srk_name)), session(ctx, primary) {}
  Context ctx;
  Object primary;
  Session session;
};

// create_hmac_key makes an HMAC-SHA256 key object under parent whose key is key (1 to 128 bytes).
Blob create_hmac_key(Context& ctx, Session& s, const Object& parent, std::span<const uint8_t> key);

// create_sealed makes a data object under parent holding data (at most 128 bytes), released only
// for auth (at most 32 bytes) and subject to the TPM's dictionary-attack protection.
Blob create_sealed(Context& ctx, Session& s, const Object& parent, std::span<const uint8_t> auth,
                   std::span<const uint8_t> data);

// load loads a blob under parent. Throws TpmError when it was not made under this TPM's parent.
Object load(Context& ctx, Session& s, const Object& parent, const Blob& blob);

// hmac_sha256 is TPM2_HMAC with key over data (at most 1024 bytes).
crypto::SecureBytes hmac_sha256(Context& ctx, Session& s, const Object& key, ByteView data);

// unseal is TPM2_Unseal with auth. Throws TpmError: auth_failed() for a wrong auth (counted by
// the TPM), locked_out() while the TPM is in dictionary-attack lockout.
crypto::SecureBytes unseal(Context& ctx, Session& s, const Object& sealed,
                           std::span<const uint8_t> auth);

}  // namespace twinhsm::tpm
