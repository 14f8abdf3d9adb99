// The isolated mode in pkcs11_bench (issue 16): twinhsm served by `p11-kit server` to
// p11-kit-client.so, as scripts/isolated-mode.sh does, measured beside twinhsm loaded in-process
// on the same token. p11-kit's RPC is not twinhsm's; what is measured is what it costs and that
// nothing of twinhsm adds round trips (the client's write system calls per operation).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "bench_backends.h"

namespace bench {

// p11_kit_client_path: p11-kit's client module (/usr/lib/<multiarch>/pkcs11/p11-kit-client.so,
// the multiarch from dpkg-architecture as isolated-mode.sh finds it), or "" when it is missing.
std::string p11_kit_client_path();

// IsolatedServer runs `p11-kit server --foreground --name SOCKET --provider MODULE
// pkcs11:token=LABEL` as a child in its own process group (the module reads the environment this
// process has: TWINHSM_CONF), waits for its socket and sets P11_KIT_SERVER_ADDRESS for the client
// module. The destructor ends the group (SIGTERM, then SIGKILL after 5 s) and waits for the
// server; stop_isolated_server_from_signal does the same from a signal handler. The server dies
// with this process too (PR_SET_PDEATHSIG), and the processes it forks per connection end when
// the connection closes.
class IsolatedServer {
 public:
  IsolatedServer(const std::string& module, const std::string& token_label,
                 const std::filesystem::path& socket);
  ~IsolatedServer();
  IsolatedServer(const IsolatedServer&) = delete;
  IsolatedServer& operator=(const IsolatedServer&) = delete;
  pid_t pid() const { return pid_; }

 private:
  void stop();
  pid_t pid_ = -1;
  std::filesystem::path socket_;
};

// Async-signal-safe: ends the running server's process group, if any (SIGTERM, SIGKILL after
// 2 s) and reaps the server.
void stop_isolated_server_from_signal();

// One round of the isolated group: each work in-process then isolated (or the reverse when
// isolated_first), samples of seconds each.
struct IsolatedRound {
  double sign_in = 0, sign_iso = 0;  // ECDSA P-256 signatures/s (C_SignInit + C_Sign)
  double find_in = 0, find_iso = 0;  // finds by CKA_LABEL among n private objects, lookups/s
  double call_in = 0, call_iso = 0;  // C_GetAttributeValue(CKA_LABEL), calls/s: one call
};
IsolatedRound isolated_round(P11Backend& in_process, P11Backend& isolated, size_t n, double seconds,
                             bool isolated_first);

// Round trips per operation through the client: the write system calls this thread makes per
// operation (/proc/thread-self/io syscw), divided by those of one C_GetAttributeValue (one
// PKCS#11 call, one request and one reply). NaN when /proc gives no count.
struct RoundTrips {
  double writes_per_call = 0;  // of one C_GetAttributeValue
  double sign = 0;             // per C_SignInit + C_Sign
  double find = 0;             // per C_FindObjectsInit + C_FindObjects + C_FindObjectsFinal
};
RoundTrips count_round_trips(P11Backend& isolated, size_t n);

}  // namespace bench
