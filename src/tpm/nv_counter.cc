#include "tpm/nv_counter.h"

#include <tss2/tss2_esys.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "tpm/error.h"

namespace twinhsm::tpm {

namespace {

constexpr TPMA_NV kAttributes = (TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_AUTHWRITE |
                                TPMA_NV_AUTHREAD | TPMA_NV_NO_DA;

std::string hex_index(uint32_t index) {
  char s[16];
  std::snprintf(s, sizeof s, "0x%08x", index);
  return s;
}

// IndexRef is an ESAPI handle to an NV index, closed (not flushed: the index stays) on
// destruction.
class IndexRef {
 public:
  IndexRef(Context& ctx, uint32_t index) : esys_(ctx.esys()) {
    check(Esys_TR_FromTPMPublic(esys_, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr_),
          "finding the TPM's NV counter " + hex_index(index));
  }
  ~IndexRef() { (void)Esys_TR_Close(esys_, &tr_); }
  IndexRef(const IndexRef&) = delete;
  IndexRef& operator=(const IndexRef&) = delete;
  ESYS_TR tr() const { return tr_; }
  Bytes name() const {
    TPM2B_NAME* name = nullptr;
    check(Esys_TR_GetName(esys_, tr_, &name), "reading an NV index's name");
    Bytes out(name->name, name->name + name->size);
    Esys_Free(name);
    return out;
  }
  void set_auth(std::span<const uint8_t> auth) {
    TPM2B_AUTH value{};
    value.size = static_cast<uint16_t>(auth.size());
    std::copy(auth.begin(), auth.end(), value.buffer);
    TSS2_RC rc = Esys_TR_SetAuth(esys_, tr_, &value);
    crypto::cleanse(&value, sizeof value);
    check(rc, "setting an NV index's authorization");
  }

 private:
  ESYS_CONTEXT* esys_;
  ESYS_TR tr_ = ESYS_TR_NONE;
};

std::set<uint32_t> defined_indexes(Context& ctx, uint32_t base, uint32_t span) {
  std::set<uint32_t> out;
  TPMI_YES_NO more = TPM2_YES;
  uint32_t next = base;
  while (more == TPM2_YES && next < base + span) {
    TPMS_CAPABILITY_DATA* data = nullptr;
    TSS2_RC rc = Esys_GetCapability(ctx.esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    TPM2_CAP_HANDLES, next, TPM2_MAX_CAP_HANDLES, &more, &data);
    if (rc != TSS2_RC_SUCCESS) {
      Esys_Free(data);
      check(rc, "listing the TPM's NV indexes");
    }
    const TPML_HANDLE& h = data->data.handles;
    for (uint32_t i = 0; i < h.count; ++i) {
      out.insert(h.handle[i]);
    }
    next = h.count ? h.handle[h.count - 1] + 1 : base + span;
    Esys_Free(data);
  }
  return out;
}

}  // namespace

NvCounter::NvCounter(uint32_t index, Bytes name, crypto::SecureBytes auth)
    : index_(index), name_(std::move(name)), auth_(std::move(auth)) {}

NvCounter NvCounter::define(Context& ctx, uint32_t base, uint32_t span, uint32_t first,
                            std::span<const uint8_t> auth) {
  if (auth.size() > 32 || span == 0) {
    throw UsageError("an NV counter takes at most 32 bytes of authorization");
  }
  std::set<uint32_t> taken = defined_indexes(ctx, base, span);
  uint32_t index = 0;
  for (uint32_t i = 0; i < span && index == 0; ++i) {
    uint32_t candidate = base + (first - base + i) % span;
    if (!taken.count(candidate)) {
      index = candidate;
    }
  }
  if (index == 0) {
    throw UsageError("the TPM has no free NV index between " + hex_index(base) + " and " +
                     hex_index(base + span - 1));
  }
  TPM2B_AUTH value{};
  value.size = static_cast<uint16_t>(auth.size());
  std::copy(auth.begin(), auth.end(), value.buffer);
  TPM2B_NV_PUBLIC pub{};
  pub.nvPublic.nvIndex = index;
  pub.nvPublic.nameAlg = TPM2_ALG_SHA256;
  pub.nvPublic.attributes = kAttributes;
  pub.nvPublic.dataSize = 8;
  ESYS_TR tr = ESYS_TR_NONE;
  TSS2_RC rc = Esys_NV_DefineSpace(ctx.esys(), ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                   ESYS_TR_NONE, &value, &pub, &tr);
  crypto::cleanse(&value, sizeof value);
  check(rc, "defining an NV counter in the TPM (the owner hierarchy must have no password)");
  (void)Esys_TR_Close(ctx.esys(), &tr);
  NvCounter counter(index, {}, crypto::secure_copy(auth));
  try {
    IndexRef ref(ctx, index);
    ref.set_auth(auth);
    check(Esys_NV_Increment(ctx.esys(), ref.tr(), ref.tr(), ESYS_TR_PASSWORD, ESYS_TR_NONE,
                            ESYS_TR_NONE),
          "starting the TPM's NV counter");
    IndexRef written(ctx, index);  // the name changes once the index is written
    counter.name_ = written.name();
  } catch (...) {
    counter.undefine(ctx);
    throw;
  }
  return counter;
}

uint64_t NvCounter::read(Context& ctx) const {
  IndexRef ref(ctx, index_);
  if (!crypto::ct_equal(ref.name(), name_)) {
    throw IntegrityError("the TPM's NV index " + hex_index(index_) +
                         " is no longer this device's counter (it was deleted and replaced)");
  }
  ref.set_auth(auth_);
  TPM2B_MAX_NV_BUFFER* data = nullptr;
  TSS2_RC rc = Esys_NV_Read(ctx.esys(), ref.tr(), ref.tr(), ESYS_TR_PASSWORD, ESYS_TR_NONE,
                            ESYS_TR_NONE, 8, 0, &data);
  if (rc != TSS2_RC_SUCCESS) {
    Esys_Free(data);
    check(rc, "reading the TPM's NV counter " + hex_index(index_));
  }
  uint64_t value = 0;
  for (uint16_t i = 0; i < data->size && i < 8; ++i) {
    value = value << 8 | data->buffer[i];
  }
  Esys_Free(data);
  return value;
}

void NvCounter::increment(Context& ctx) const {
  IndexRef ref(ctx, index_);
  if (!crypto::ct_equal(ref.name(), name_)) {
    throw IntegrityError("the TPM's NV index " + hex_index(index_) +
                         " is no longer this device's counter (it was deleted and replaced)");
  }
  ref.set_auth(auth_);
  // A TPM may refuse NV writes for a moment to spare its flash (TPM_RC_NV_RATE): wait and retry.
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    TSS2_RC rc = Esys_NV_Increment(ctx.esys(), ref.tr(), ref.tr(), ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                   ESYS_TR_NONE);
    if (rc == TSS2_RC_SUCCESS) {
      return;
    }
    TpmError error("incrementing the TPM's NV counter " + hex_index(index_), rc);
    if (!error.nv_rate() || std::chrono::steady_clock::now() > give_up) {
      throw error;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void NvCounter::undefine(Context& ctx) const {
  IndexRef ref(ctx, index_);
  check(Esys_NV_UndefineSpace(ctx.esys(), ESYS_TR_RH_OWNER, ref.tr(), ESYS_TR_PASSWORD,
                              ESYS_TR_NONE, ESYS_TR_NONE),
        "deleting the TPM's NV counter " + hex_index(index_));
}

}  // namespace twinhsm::tpm
