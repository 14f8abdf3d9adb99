#include "tpm/context.h"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_sys.h>
#include <tss2/tss2_tctildr.h>

#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

#include "tpm/error.h"

namespace twinhsm::tpm {

namespace {

// tpm2-tss logs every failed command on stderr, expected ones too (a wrong PIN is a failed
// authorization). twinhsm reports its own errors, and the PKCS#11 module must print nothing, so
// its logging is off unless the user asked for it with TSS2_LOG.
void quiet_tss_logging() {
  static std::once_flag once;
  std::call_once(once, [] { ::setenv("TSS2_LOG", "all+NONE", 0); });
}

}  // namespace

bool Context::has_resource_manager(const std::string& tcti) {
  return tcti.rfind("tabrmd", 0) == 0 || tcti.find("tpmrm") != std::string::npos;
}

Context::Context(const std::string& tcti) : tcti_name_(tcti) {
  quiet_tss_logging();
  check(Tss2_TctiLdr_Initialize(tcti.c_str(), &tcti_), "connecting to the TPM (TCTI \"" + tcti + "\")");
  TSS2_RC rc = Esys_Initialize(&esys_, tcti_, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    Tss2_TctiLdr_Finalize(&tcti_);
    throw TpmError("starting ESAPI on the TPM (TCTI \"" + tcti + "\")", rc);
  }
  if (!has_resource_manager(tcti)) {
    try {
      flush_leftovers();
    } catch (...) {
      Esys_Finalize(&esys_);
      Tss2_TctiLdr_Finalize(&tcti_);
      throw;
    }
  }
}

Context::~Context() {
  Esys_Finalize(&esys_);
  Tss2_TctiLdr_Finalize(&tcti_);
}

void Context::flush_leftovers() {
  TSS2_SYS_CONTEXT* sys = nullptr;
  check(Esys_GetSysContext(esys_, &sys), "reaching the TPM's system API");
  for (TPM2_HANDLE first : {TPM2_HR_TRANSIENT, TPM2_HR_HMAC_SESSION, TPM2_HR_POLICY_SESSION}) {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA data{};
    check(Tss2_Sys_GetCapability(sys, nullptr, TPM2_CAP_HANDLES, first, TPM2_MAX_CAP_HANDLES,
                                 &more, &data, nullptr),
          "listing the TPM's loaded handles");
    const TPML_HANDLE& handles = data.data.handles;
    for (uint32_t i = 0; i < handles.count; ++i) {
      // Another flush may have removed it meanwhile (a session ends with its object): ignore.
      (void)Tss2_Sys_FlushContext(sys, handles.handle[i]);
    }
  }
}

Object::Object(Object&& o) noexcept
    : esys_(std::exchange(o.esys_, nullptr)), handle_(std::exchange(o.handle_, 0)) {}

Object& Object::operator=(Object&& o) noexcept {
  if (this != &o) {
    reset();
    esys_ = std::exchange(o.esys_, nullptr);
    handle_ = std::exchange(o.handle_, 0);
  }
  return *this;
}

void Object::reset() {
  if (esys_) {
    (void)Esys_FlushContext(esys_, handle_);
    esys_ = nullptr;
    handle_ = 0;
  }
}

}  // namespace twinhsm::tpm
