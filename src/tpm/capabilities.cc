#include "tpm/capabilities.h"

#include <tss2/tss2_esys.h>

#include <cstdio>
#include <map>

#include "tpm/error.h"

namespace twinhsm::tpm {

namespace {

// properties reads count TPM properties from first (fixed or variable ones).
std::map<uint32_t, uint32_t> properties(Context& ctx, uint32_t first, uint32_t count) {
  std::map<uint32_t, uint32_t> out;
  TPMI_YES_NO more = TPM2_YES;
  uint32_t next = first;
  while (more == TPM2_YES && next < first + count) {
    TPMS_CAPABILITY_DATA* data = nullptr;
    TSS2_RC rc =
        Esys_GetCapability(ctx.esys(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                           TPM2_CAP_TPM_PROPERTIES, next, first + count - next, &more, &data);
    if (rc != TSS2_RC_SUCCESS) {
      Esys_Free(data);
      check(rc, "reading the TPM's properties");
    }
    const TPML_TAGGED_TPM_PROPERTY& props = data->data.tpmProperties;
    for (uint32_t i = 0; i < props.count; ++i) {
      out[props.tpmProperty[i].property] = props.tpmProperty[i].value;
    }
    next = props.count ? props.tpmProperty[props.count - 1].property + 1 : first + count;
    Esys_Free(data);
  }
  return out;
}

// Four characters packed big-endian in a property, without the NULs and trailing blanks.
std::string chars(uint32_t v) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) {
    char c = static_cast<char>((v >> shift) & 0xff);
    if (c != '\0') {
      s.push_back(c);
    }
  }
  return s;
}

std::string trimmed(std::string s) {
  while (!s.empty() && s.back() == ' ') {
    s.pop_back();
  }
  return s;
}

}  // namespace

Identity identity(Context& ctx) {
  auto p =
      properties(ctx, TPM2_PT_MANUFACTURER, TPM2_PT_FIRMWARE_VERSION_2 - TPM2_PT_MANUFACTURER + 1);
  Identity id;
  id.manufacturer = trimmed(chars(p[TPM2_PT_MANUFACTURER]));
  id.vendor = trimmed(chars(p[TPM2_PT_VENDOR_STRING_1]) + chars(p[TPM2_PT_VENDOR_STRING_2]) +
                      chars(p[TPM2_PT_VENDOR_STRING_3]) + chars(p[TPM2_PT_VENDOR_STRING_4]));
  uint32_t v1 = p[TPM2_PT_FIRMWARE_VERSION_1], v2 = p[TPM2_PT_FIRMWARE_VERSION_2];
  char firmware[48];
  std::snprintf(firmware, sizeof firmware, "%u.%u.%u.%u", v1 >> 16, v1 & 0xffff, v2 >> 16,
                v2 & 0xffff);
  id.firmware = firmware;
  return id;
}

LockoutState lockout_state(Context& ctx) {
  auto p = properties(ctx, TPM2_PT_PERMANENT, TPM2_PT_LOCKOUT_RECOVERY - TPM2_PT_PERMANENT + 1);
  LockoutState s;
  s.in_lockout = (p[TPM2_PT_PERMANENT] & TPMA_PERMANENT_INLOCKOUT) != 0;
  s.failures = p[TPM2_PT_LOCKOUT_COUNTER];
  s.max_tries = p[TPM2_PT_MAX_AUTH_FAIL];
  s.recovery_seconds = p[TPM2_PT_LOCKOUT_INTERVAL];
  s.lockout_recovery_seconds = p[TPM2_PT_LOCKOUT_RECOVERY];
  return s;
}

void set_lockout_parameters(Context& ctx, uint32_t max_tries, uint32_t recovery_seconds,
                            uint32_t lockout_recovery_seconds) {
  check(Esys_DictionaryAttackParameters(ctx.esys(), ESYS_TR_RH_LOCKOUT, ESYS_TR_PASSWORD,
                                        ESYS_TR_NONE, ESYS_TR_NONE, max_tries, recovery_seconds,
                                        lockout_recovery_seconds),
        "setting the TPM's dictionary-attack parameters (the lockout hierarchy must have no "
        "password)");
}

}  // namespace twinhsm::tpm
