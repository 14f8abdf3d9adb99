// p11_teardown_app MODE PIN: an application that uses libtwinhsm.so (TWINHSM_MODULE_PATH, slot 0
// of TWINHSM_CONF, user PIN PIN) and then calls it at some point of its own exit, the way real
// ones do. It exits with status 0 when every call returned what the module promises
// (docs/architecture.md, Teardown), else prints why and exits with status 3. teardown_test.cc
// runs each mode. Modes:
//   atexit-before    its atexit handler, registered before C_Initialize, closes the session and
//                    finalizes: it runs after the module's teardown -> CKR_CRYPTOKI_NOT_INITIALIZED
//   atexit-after     the same handler registered after C_Initialize: it runs first -> CKR_OK
//   openssl-atexit   the handler is an OPENSSL_atexit one, as the pkcs11-provider's clean-up
//                    calls C_Finalize from inside OPENSSL_cleanup -> CKR_CRYPTOKI_NOT_INITIALIZED
//   openssl-cleanup  the application calls OPENSSL_cleanup() itself, then the module
//                    -> CKR_CRYPTOKI_NOT_INITIALIZED, OpenSSL left alone (a session's signing
//                    and digesting too)
//   fork-quiet       forks; the child exits at once; the parent then signs again and finalizes
//   fork-calls       forks; the child calls the parent's session (not initialized), initializes
//                    anew, signs, and exits without C_Finalize; the parent as above
//   unload           dlclose() without C_Finalize, then load, initialize and finalize again
#include <dlfcn.h>
#include <openssl/crypto.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/ck_rv_name.h"
#include "common/pkcs11.h"

namespace {

void* g_handle = nullptr;
CK_FUNCTION_LIST* g_p11 = nullptr;
CK_SESSION_HANDLE g_session = CK_INVALID_HANDLE;
CK_RV g_expected_at_exit = CKR_OK;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "p11_teardown_app: %s\n", what.c_str());
  std::fflush(stderr);
  _exit(3);
}

void expect(CK_RV expected, CK_RV got, const char* call) {
  std::printf("%d: %s -> %s\n", static_cast<int>(getpid()), call, twinhsm::rv_name(got).c_str());
  std::fflush(stdout);
  if (got != expected) {
    fail(std::string(call) + " returned " + twinhsm::rv_name(got) + ", expected " +
         twinhsm::rv_name(expected));
  }
}

void load() {
  const char* path = std::getenv("TWINHSM_MODULE_PATH");
  g_handle = dlopen(path ? path : TWINHSM_MODULE_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!g_handle) {
    fail(std::string("dlopen: ") + dlerror());
  }
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(g_handle, "C_GetFunctionList"));
  if (!get || get(&g_p11) != CKR_OK) {
    fail("no function list");
  }
}

// start initializes, opens a session, logs the user in and signs once with a new session EC
// key: the module then holds a device, a login and a prepared signing key.
void start(const char* pin) {
  expect(CKR_OK, g_p11->C_Initialize(nullptr), "C_Initialize");
  expect(CKR_OK,
         g_p11->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &g_session),
         "C_OpenSession");
  expect(
      CKR_OK,
      g_p11->C_Login(g_session, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin)),
                     std::strlen(pin)),
      "C_Login");
}

CK_OBJECT_HANDLE g_key = CK_INVALID_HANDLE;

void generate_key() {
  static const CK_BYTE kP256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  CK_BBOOL yes = CK_TRUE;
  CK_ATTRIBUTE pub[] = {{CKA_EC_PARAMS, const_cast<CK_BYTE*>(kP256), sizeof kP256},
                        {CKA_VERIFY, &yes, sizeof yes}};
  CK_ATTRIBUTE priv[] = {{CKA_SIGN, &yes, sizeof yes}};
  CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE pub_key = CK_INVALID_HANDLE;
  expect(CKR_OK, g_p11->C_GenerateKeyPair(g_session, &mech, pub, 2, priv, 1, &pub_key, &g_key),
         "C_GenerateKeyPair");
}

void sign() {
  CK_MECHANISM mech = {CKM_ECDSA_SHA256, nullptr, 0};
  CK_BYTE data[] = "to be signed";
  CK_BYTE sig[64];
  CK_ULONG len = sizeof sig;
  expect(CKR_OK, g_p11->C_SignInit(g_session, &mech, g_key), "C_SignInit");
  expect(CKR_OK, g_p11->C_Sign(g_session, data, sizeof data, sig, &len), "C_Sign");
}

// digest hashes a short message with SHA-256; returns C_Digest's result (C_DigestInit's is only
// printed: after OPENSSL_cleanup, a repeated C_DigestInit that makes no OpenSSL call may start).
CK_RV digest() {
  CK_MECHANISM mech = {CKM_SHA256, nullptr, 0};
  CK_BYTE data[] = "to be digested";
  CK_BYTE out[32];
  CK_ULONG len = sizeof out;
  CK_RV init = g_p11->C_DigestInit(g_session, &mech);
  std::printf("%d: C_DigestInit -> %s\n", static_cast<int>(getpid()),
              twinhsm::rv_name(init).c_str());
  return g_p11->C_Digest(g_session, data, sizeof data, out, &len);
}

// close_and_finalize is what the applications' exit handlers do.
void close_and_finalize() {
  expect(g_expected_at_exit, g_p11->C_CloseSession(g_session), "exit handler: C_CloseSession");
  expect(g_expected_at_exit, g_p11->C_Finalize(nullptr), "exit handler: C_Finalize");
}

void wait_for(pid_t child) {
  int status = 0;
  if (waitpid(child, &status, 0) != child) {
    fail("waitpid failed");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fail("the child did not exit with status 0 (status " + std::to_string(status) + ")");
  }
}

void fork_then(bool child_calls, const char* pin) {
  pid_t child = fork();
  if (child < 0) {
    fail("fork failed");
  }
  if (child == 0) {
    if (child_calls) {
      expect(CKR_CRYPTOKI_NOT_INITIALIZED, g_p11->C_CloseSession(g_session),
             "child: C_CloseSession of the parent's session");
      start(pin);
      generate_key();
      sign();
    }
    std::exit(0);  // the exit handlers run in the child too
  }
  wait_for(child);
  sign();  // the child left the parent's device and session alone
  expect(CKR_OK, g_p11->C_Finalize(nullptr), "C_Finalize");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: p11_teardown_app MODE PIN\n");
    return 2;
  }
  std::string mode = argv[1];
  const char* pin = argv[2];
  if (mode == "atexit-before") {
    g_expected_at_exit = CKR_CRYPTOKI_NOT_INITIALIZED;
    std::atexit(close_and_finalize);
  } else if (mode == "openssl-atexit") {
    g_expected_at_exit = CKR_CRYPTOKI_NOT_INITIALIZED;
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
    OPENSSL_atexit(close_and_finalize);
  }
  load();
  start(pin);
  generate_key();
  sign();
  if (mode == "atexit-after") {
    std::atexit(close_and_finalize);
  } else if (mode == "openssl-cleanup") {
    expect(CKR_OK, digest(), "C_Digest");  // the session's spare digester is ready now
    OPENSSL_cleanup();
    CK_MECHANISM mech = {CKM_ECDSA_SHA256, nullptr, 0};
    expect(CKR_CRYPTOKI_NOT_INITIALIZED, g_p11->C_SignInit(g_session, &mech, g_key),
           "C_SignInit after OPENSSL_cleanup");
    expect(CKR_CRYPTOKI_NOT_INITIALIZED, digest(), "C_Digest after OPENSSL_cleanup");
    g_expected_at_exit = CKR_CRYPTOKI_NOT_INITIALIZED;
    close_and_finalize();
  } else if (mode == "fork-quiet" || mode == "fork-calls") {
    fork_then(mode == "fork-calls", pin);
  } else if (mode == "unload") {
    dlclose(g_handle);
    load();
    expect(CKR_OK, g_p11->C_Initialize(nullptr), "C_Initialize after reloading");
    expect(CKR_OK, g_p11->C_Finalize(nullptr), "C_Finalize after reloading");
  } else if (mode != "atexit-before" && mode != "openssl-atexit") {
    std::fprintf(stderr, "p11_teardown_app: unknown mode %s\n", mode.c_str());
    return 2;
  }
  return 0;
}
