#include "tpm/context.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_sys.h>
#include <tss2/tss2_tctildr.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "common/bytes.h"
#include "crypto/digest.h"
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

// lock_tpm takes the host-wide lock of the TPM that tcti names: binding an abstract Unix socket
// name succeeds for one socket at a time, whatever process or thread, and the name is free again
// when the socket is closed, by its owner or by the kernel at its death. Returns the socket.
int lock_tpm(const std::string& tcti) {
  std::string name =
      "twinhsm-tpm-" +
      to_hex(ByteView(crypto::digest(crypto::DigestAlg::sha256, as_bytes(tcti))).first(16));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());  // sun_path[0] = 0: abstract
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (true) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      throw Error(std::string("cannot make the TPM's lock: ") + std::strerror(errno));
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0) {
      return fd;
    }
    ::close(fd);
    if (std::chrono::steady_clock::now() > give_up) {
      throw Error("the TPM at \"" + tcti +
                  "\" stayed busy for 2 minutes (another process holds it)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

bool Context::has_resource_manager(const std::string& tcti) {
  return tcti.rfind("tabrmd", 0) == 0 || tcti.find("tpmrm") != std::string::npos;
}

Context::Context(const std::string& tcti) : tcti_name_(tcti) {
  quiet_tss_logging();
  bool shared = !has_resource_manager(tcti);
  if (shared) {
    host_lock_ = lock_tpm(tcti);
  }
  try {
    check(Tss2_TctiLdr_Initialize(tcti.c_str(), &tcti_),
          "connecting to the TPM (TCTI \"" + tcti + "\")");
    check(Esys_Initialize(&esys_, tcti_, nullptr),
          "starting ESAPI on the TPM (TCTI \"" + tcti + "\")");
    if (shared) {
      flush_leftovers();
    }
  } catch (...) {
    close();
    throw;
  }
}

Context::~Context() {
  close();
}

void Context::close() noexcept {
  if (esys_) {
    Esys_Finalize(&esys_);
  }
  if (tcti_) {
    Tss2_TctiLdr_Finalize(&tcti_);
  }
  if (host_lock_ >= 0) {
    ::close(host_lock_);
    host_lock_ = -1;
  }
}

void Context::flush_leftovers() {
  TSS2_SYS_CONTEXT* sys = nullptr;
  check(Esys_GetSysContext(esys_, &sys), "reaching the TPM's system API");
  for (TPM2_HANDLE first : {TPM2_HR_TRANSIENT, TPM2_HR_HMAC_SESSION, TPM2_HR_POLICY_SESSION}) {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA data{};
    check(Tss2_Sys_GetCapability(sys, nullptr, TPM2_CAP_HANDLES, first, TPM2_MAX_CAP_HANDLES, &more,
                                 &data, nullptr),
          "listing the TPM's loaded handles");
    const TPML_HANDLE& handles = data.data.handles;
    for (uint32_t i = 0; i < handles.count; ++i) {
      // Another flush may have removed it meanwhile (a session ends with its object): ignore.
      (void)Tss2_Sys_FlushContext(sys, handles.handle[i]);
    }
  }
}

Object::Object(Object&& o) noexcept
    : esys_(std::exchange(o.esys_, nullptr)),
      handle_(std::exchange(o.handle_, 0)),
      kind_(o.kind_) {}

Object& Object::operator=(Object&& o) noexcept {
  if (this != &o) {
    reset();
    esys_ = std::exchange(o.esys_, nullptr);
    handle_ = std::exchange(o.handle_, 0);
    kind_ = o.kind_;
  }
  return *this;
}

void Object::reset() {
  if (esys_) {
    if (kind_ == Kind::persistent) {
      (void)Esys_TR_Close(esys_, &handle_);
    } else {
      (void)Esys_FlushContext(esys_, handle_);
    }
    esys_ = nullptr;
    handle_ = 0;
  }
}

}  // namespace twinhsm::tpm
