#include "tpm/objects.h"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>

#include <algorithm>
#include <memory>

#include "tpm/error.h"

namespace twinhsm::tpm {

namespace {

// ESAPI returns results it allocated; Owned frees them (wiping those that may hold secrets).
template <class T>
struct EsysFree {
  void operator()(T* p) const {
    crypto::cleanse(p, sizeof(T));
    Esys_Free(p);
  }
};
template <class T>
using Owned = std::unique_ptr<T, EsysFree<T>>;

// The TCG's storage root key template (TCG TPM v2.0 Provisioning Guidance, ECC P-256 SRK).
TPM2B_PUBLIC primary_template() {
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_ECC;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                  TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                  TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  auto& ecc = t.publicArea.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_AES;
  ecc.symmetric.keyBits.aes = 128;
  ecc.symmetric.mode.aes = TPM2_ALG_CFB;
  ecc.scheme.scheme = TPM2_ALG_NULL;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

template <class T, size_t N>
void fill(T (&buffer)[N], uint16_t& size, std::span<const uint8_t> data, const char* what) {
  if (data.size() > N) {
    throw UsageError(std::string(what) + " is too long for the TPM");
  }
  std::copy(data.begin(), data.end(), buffer);
  size = static_cast<uint16_t>(data.size());
}

Blob create(Context& ctx, Session& s, const Object& parent, const TPM2B_PUBLIC& in_public,
            const TPM2B_SENSITIVE_CREATE& in_sensitive, const char* what) {
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION pcrs{};
  TPM2B_PRIVATE* out_private = nullptr;
  TPM2B_PUBLIC* out_public = nullptr;
  TSS2_RC rc = Esys_Create(ctx.esys(), parent.handle(), s.use(true, false), ESYS_TR_NONE,
                           ESYS_TR_NONE, &in_sensitive, &in_public, &outside, &pcrs, &out_private,
                           &out_public, nullptr, nullptr, nullptr);
  Owned<TPM2B_PRIVATE> priv(out_private);
  Owned<TPM2B_PUBLIC> pub(out_public);
  check(rc, what);
  Blob blob;
  blob.public_area.resize(sizeof(TPM2B_PUBLIC));
  blob.private_area.resize(sizeof(TPM2B_PRIVATE));
  size_t pub_len = 0, priv_len = 0;
  check(Tss2_MU_TPM2B_PUBLIC_Marshal(pub.get(), blob.public_area.data(), blob.public_area.size(),
                                     &pub_len),
        "encoding a TPM public area");
  check(Tss2_MU_TPM2B_PRIVATE_Marshal(priv.get(), blob.private_area.data(),
                                      blob.private_area.size(), &priv_len),
        "encoding a TPM private area");
  blob.public_area.resize(pub_len);
  blob.private_area.resize(priv_len);
  return blob;
}

}  // namespace

Session::Session(Context& ctx, const Object& primary) : ctx_(ctx) {
  TPMT_SYM_DEF symmetric{};
  symmetric.algorithm = TPM2_ALG_AES;
  symmetric.keyBits.aes = 128;
  symmetric.mode.aes = TPM2_ALG_CFB;
  ESYS_TR handle = ESYS_TR_NONE;
  check(Esys_StartAuthSession(ctx.esys(), primary.handle(), ESYS_TR_NONE, ESYS_TR_NONE,
                              ESYS_TR_NONE, ESYS_TR_NONE, nullptr, TPM2_SE_HMAC, &symmetric,
                              TPM2_ALG_SHA256, &handle),
        "starting a TPM session");
  session_ = Object(ctx, handle);
}

uint32_t Session::use(bool decrypt, bool encrypt) {
  TPMA_SESSION attributes = TPMA_SESSION_CONTINUESESSION;
  attributes |= decrypt ? TPMA_SESSION_DECRYPT : 0;
  attributes |= encrypt ? TPMA_SESSION_ENCRYPT : 0;
  check(Esys_TRSess_SetAttributes(ctx_.esys(), session_.handle(), attributes, 0xff),
        "setting the TPM session's attributes");
  return session_.handle();
}

Object create_primary(Context& ctx) {
  TPM2B_SENSITIVE_CREATE sensitive{};
  TPM2B_PUBLIC in_public = primary_template();
  TPM2B_DATA outside{};
  TPML_PCR_SELECTION pcrs{};
  ESYS_TR handle = ESYS_TR_NONE;
  TPM2B_PUBLIC* out_public = nullptr;
  TSS2_RC rc = Esys_CreatePrimary(ctx.esys(), ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, &sensitive, &in_public, &outside, &pcrs, &handle,
                                  &out_public, nullptr, nullptr, nullptr);
  Owned<TPM2B_PUBLIC> pub(out_public);
  check(rc, "making the TPM's primary storage key (the owner hierarchy must have no password)");
  return Object(ctx, handle);
}

Object primary_key(Context& ctx, ByteView srk_name) {
  if (!srk_name.empty()) {
    ESYS_TR handle = ESYS_TR_NONE;
    if (Esys_TR_FromTPMPublic(ctx.esys(), kSrkHandle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                              &handle) == TSS2_RC_SUCCESS) {
      Object persistent(ctx, handle, Object::Kind::persistent);
      if (crypto::ct_equal(name(ctx, persistent), srk_name)) {
        return persistent;
      }
    }
  }
  return create_primary(ctx);
}

Bytes name(Context& ctx, const Object& object) {
  TPM2B_NAME* n = nullptr;
  check(Esys_TR_GetName(ctx.esys(), object.handle(), &n), "reading a TPM object's name");
  Bytes out(n->name, n->name + n->size);
  Esys_Free(n);
  return out;
}

Blob create_hmac_key(Context& ctx, Session& s, const Object& parent, std::span<const uint8_t> key) {
  TPM2B_PUBLIC in_public{};
  in_public.publicArea.type = TPM2_ALG_KEYEDHASH;
  in_public.publicArea.nameAlg = TPM2_ALG_SHA256;
  // No sensitiveDataOrigin: the key is the one given. noDA: it has no authorization value to
  // guess, and using it must never count towards, or be stopped by, a PIN lockout.
  in_public.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                          TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA |
                                          TPMA_OBJECT_SIGN_ENCRYPT;
  auto& scheme = in_public.publicArea.parameters.keyedHashDetail.scheme;
  scheme.scheme = TPM2_ALG_HMAC;
  scheme.details.hmac.hashAlg = TPM2_ALG_SHA256;
  if (key.empty() || key.size() > 128) {
    throw UsageError("an HMAC key for the TPM must be 1 to 128 bytes");
  }
  TPM2B_SENSITIVE_CREATE sensitive{};
  fill(sensitive.sensitive.data.buffer, sensitive.sensitive.data.size, key, "the HMAC key");
  try {
    Blob blob =
        create(ctx, s, parent, in_public, sensitive, "programming the HMAC key into the TPM");
    crypto::cleanse(&sensitive, sizeof sensitive);
    return blob;
  } catch (...) {
    crypto::cleanse(&sensitive, sizeof sensitive);
    throw;
  }
}

Blob create_sealed(Context& ctx, Session& s, const Object& parent, std::span<const uint8_t> auth,
                   std::span<const uint8_t> data) {
  TPM2B_PUBLIC in_public{};
  in_public.publicArea.type = TPM2_ALG_KEYEDHASH;
  in_public.publicArea.nameAlg = TPM2_ALG_SHA256;
  in_public.publicArea.objectAttributes =
      TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_USERWITHAUTH;
  in_public.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
  TPM2B_SENSITIVE_CREATE sensitive{};
  if (auth.size() > 32 || data.size() > 128) {
    throw UsageError("a sealed TPM object takes at most 32 bytes of authorization and 128 of data");
  }
  fill(sensitive.sensitive.userAuth.buffer, sensitive.sensitive.userAuth.size, auth,
       "the authorization");
  fill(sensitive.sensitive.data.buffer, sensitive.sensitive.data.size, data, "the sealed data");
  try {
    Blob blob = create(ctx, s, parent, in_public, sensitive, "sealing data in the TPM");
    crypto::cleanse(&sensitive, sizeof sensitive);
    return blob;
  } catch (...) {
    crypto::cleanse(&sensitive, sizeof sensitive);
    throw;
  }
}

Object load(Context& ctx, Session& s, const Object& parent, const Blob& blob) {
  TPM2B_PUBLIC pub{};
  TPM2B_PRIVATE priv{};
  size_t offset = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Unmarshal(blob.public_area.data(), blob.public_area.size(),
                                              &offset, &pub);
  if (rc != TSS2_RC_SUCCESS || offset != blob.public_area.size()) {
    throw IntegrityError("a TPM object's public area is malformed");
  }
  offset = 0;
  rc = Tss2_MU_TPM2B_PRIVATE_Unmarshal(blob.private_area.data(), blob.private_area.size(), &offset,
                                       &priv);
  if (rc != TSS2_RC_SUCCESS || offset != blob.private_area.size()) {
    throw IntegrityError("a TPM object's private area is malformed");
  }
  ESYS_TR handle = ESYS_TR_NONE;
  check(Esys_Load(ctx.esys(), parent.handle(), s.use(false, false), ESYS_TR_NONE, ESYS_TR_NONE,
                  &priv, &pub, &handle),
        "loading a key into the TPM (was it made by another TPM, or was the TPM cleared?)");
  return Object(ctx, handle);
}

crypto::SecureBytes hmac_sha256(Context& ctx, Session& s, const Object& key, ByteView data) {
  TPM2B_MAX_BUFFER buffer{};
  fill(buffer.buffer, buffer.size, data, "the data to MAC");
  TPM2B_DIGEST* out = nullptr;
  TSS2_RC rc = Esys_HMAC(ctx.esys(), key.handle(), s.use(false, true), ESYS_TR_NONE, ESYS_TR_NONE,
                         &buffer, TPM2_ALG_SHA256, &out);
  Owned<TPM2B_DIGEST> mac(out);
  check(rc, "TPM2_HMAC");
  return crypto::SecureBytes(mac->buffer, mac->buffer + mac->size);
}

crypto::SecureBytes unseal(Context& ctx, Session& s, const Object& sealed,
                           std::span<const uint8_t> auth) {
  TPM2B_AUTH value{};
  fill(value.buffer, value.size, auth, "the authorization");
  TSS2_RC rc = Esys_TR_SetAuth(ctx.esys(), sealed.handle(), &value);
  crypto::cleanse(&value, sizeof value);
  check(rc, "setting a TPM object's authorization");
  TPM2B_SENSITIVE_DATA* out = nullptr;
  rc = Esys_Unseal(ctx.esys(), sealed.handle(), s.use(false, true), ESYS_TR_NONE, ESYS_TR_NONE,
                   &out);
  Owned<TPM2B_SENSITIVE_DATA> data(out);
  check(rc, "TPM2_Unseal");
  return crypto::SecureBytes(data->buffer, data->buffer + data->size);
}

}  // namespace twinhsm::tpm
