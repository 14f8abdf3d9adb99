// Context is one connection to a TPM 2.0 through tpm2-tss: a TCTI loaded from a TCTI string
// (Tss2_TctiLdr_Initialize) and an ESAPI context on it (Esys_Initialize); the destructor finalizes
// both. Object is a transient object (or session) loaded in the TPM, flushed on destruction.
//
// Connections are short: open one for a group of commands and close it. A TPM reached without a
// resource manager (swtpm, mssim, /dev/tpm0) mixes the commands of every process that talks to
// it, in its three or so object slots, and keeps what a killed process left loaded. On such a
// TCTI a Context therefore holds a host-wide lock for that TPM while it lives (an abstract Unix
// socket named after the TCTI: released by the kernel when its process dies), and first flushes
// every transient object and session: nobody else can be using them.
//
// Not thread safe: one Context per thread at a time, and never two at once in one thread (the
// second would wait for the first's lock).
#pragma once

#include <cstdint>
#include <string>

struct ESYS_CONTEXT;
struct TSS2_TCTI_OPAQUE_CONTEXT_BLOB;  // TSS2_TCTI_CONTEXT

namespace twinhsm::tpm {

class Context {
 public:
  // Connects to the TPM that tcti names: a tpm2-tss TCTI string such as "device:/dev/tpmrm0",
  // "tabrmd" or "swtpm:host=127.0.0.1,port=2321". Throws TpmError if it cannot be reached.
  explicit Context(const std::string& tcti);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  ESYS_CONTEXT* esys() const { return esys_; }
  const std::string& tcti() const { return tcti_name_; }

  // has_resource_manager tells whether the TCTI string names an access broker or the kernel's
  // resource manager (tabrmd, /dev/tpmrm*), which isolate connections from each other.
  static bool has_resource_manager(const std::string& tcti);

 private:
  void flush_leftovers();
  void close() noexcept;

  std::string tcti_name_;
  int host_lock_ = -1;  // without a resource manager: the socket that holds the TPM's lock
  TSS2_TCTI_OPAQUE_CONTEXT_BLOB* tcti_ = nullptr;
  ESYS_CONTEXT* esys_ = nullptr;
};

// Object owns an ESAPI handle to something loaded in the TPM (a transient object or a session)
// and flushes it when destroyed; to a persistent object, whose handle it only closes. Move-only.
class Object {
 public:
  enum class Kind { transient, persistent };
  Object() = default;
  Object(Context& ctx, uint32_t handle, Kind kind = Kind::transient)
      : esys_(ctx.esys()), handle_(handle), kind_(kind) {}
  ~Object() { reset(); }
  Object(Object&& o) noexcept;
  Object& operator=(Object&& o) noexcept;
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  uint32_t handle() const { return handle_; }
  Kind kind() const { return kind_; }
  explicit operator bool() const { return esys_ != nullptr; }
  void reset();

 private:
  ESYS_CONTEXT* esys_ = nullptr;
  uint32_t handle_ = 0;
  Kind kind_ = Kind::transient;
};

}  // namespace twinhsm::tpm
