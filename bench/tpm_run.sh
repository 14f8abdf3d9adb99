#!/usr/bin/env bash
# Runs bench/tpm_bench against a swtpm started here (on a free loopback port, its own state,
# stopped on exit): the file and the TPM secure element side by side (docs/performance.md).
#
#   bench/tpm_run.sh [--persistent-srk] [--rounds N] [--objects N] [--pbkdf2-iterations N]
#
# --persistent-srk first keeps the TPM's storage key at 0x81000001 (docs/key-hierarchy.md), as
# its owner may, so that twinhsm does not make it at each connection.
#
# For a real TPM run the benchmark itself: build/bench/tpm_bench --tcti device:/dev/tpmrm0
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${TWINHSM_BUILD_DIR:-$REPO/build}
ninja -C "$BUILD" -j 2 tpm_bench >&2
persistent_srk=0
if [[ ${1:-} == --persistent-srk ]]; then
  persistent_srk=1
  shift
fi

state=$(mktemp -d)
port=$(python3 -c 'import socket
while True:
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close()
    t = socket.socket()
    try:
        t.bind(("127.0.0.1", p + 1)); t.close(); print(p); break
    except OSError:
        t.close()')
setpriv --pdeathsig KILL swtpm socket --tpm2 --tpmstate dir="$state" --flags not-need-init,startup-clear \
  --server type=tcp,port="$port",bindaddr=127.0.0.1 --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
  2>"$state/swtpm.log" &
swtpm_pid=$!
trap 'kill $swtpm_pid 2>/dev/null; wait $swtpm_pid 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done
tcti="swtpm:host=127.0.0.1,port=$port"
if ((persistent_srk)); then
  TPM2TOOLS_TCTI=$tcti tpm2_createprimary -C o -g sha256 -G ecc256:null:aes128cfb \
    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' \
    -c "$state/srk.ctx" >/dev/null
  TPM2TOOLS_TCTI=$tcti tpm2_evictcontrol -C o -c "$state/srk.ctx" 0x81000001 >/dev/null
fi
"$BUILD/bench/tpm_bench" --tcti "$tcti" "$@"
