# shellcheck shell=bash
# Helpers of the client tests (tests/clients/*_test.sh), on top of tests/e2e/lib.sh: a fresh
# device with an initialized token, free TCP ports, background processes that the EXIT trap
# ends, and certificate helpers. A test script does:
#   set -euo pipefail
#   source "$(dirname "$(realpath "$0")")/clientlib.sh"
#   client_init "$@"          # CLI=twinhsm, MODULE=libtwinhsm.so (absolute), $WORK, the trap
#   client_device main        # $DEV, $TWINHSM_CONF, $SO_PIN, $USER_PIN, token label "main"
#   ...
#   e2e_finish

# shellcheck source=../e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

CLIENTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "${CLIENTS_DIR}/../.." && pwd)"
SO_PIN=so-secret-1
USER_PIN=user-secret-1
BG_PIDS=()
CLEANUPS=()

# The EXIT trap: run the registered cleanups (newest first), end the background processes,
# then e2e_cleanup (which removes $WORK and exits with the script's status).
client_cleanup() {
  local rc=$? i p
  set +e # (errexit would end the trap at the first failing cleanup, or at the "(exit rc)" below)
  for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${CLEANUPS[i]}" >/dev/null 2>&1 || true
  done
  for p in "${BG_PIDS[@]}"; do
    kill "${p}" 2>/dev/null || true
  done
  for p in "${BG_PIDS[@]}"; do
    wait "${p}" 2>/dev/null || true
  done
  (exit "${rc}")
  e2e_cleanup
}

# at_exit COMMAND: a shell command the EXIT trap runs (e.g. "kill 123", "dpkg -r twinhsm").
at_exit() { CLEANUPS+=("$1"); }

# client_init CLI MODULE [BUILD_DIR]: absolute paths of the command and the module (and the build
# directory, for the install and package tests), the work directory and the trap.
client_init() {
  CLI="$(realpath -m "$1")"
  MODULE="$(realpath -m "$2")"
  BUILD_DIR="${3:+$(realpath -m "$3")}"
  e2e_init
  trap client_cleanup EXIT
  e2e_require_built "${CLI}" "${MODULE}"
}

# need TOOL...: stops with one failure when a tool is missing (scripts/setup.sh installs them).
need() {
  local t
  for t in "$@"; do
    command -v "${t}" >/dev/null || { fail "${t} is needed (run scripts/setup.sh)"; exit 1; }
  done
}

# The system's library directory (Debian multiarch), where p11-kit's modules and OpenSSL's engines
# are.
MULTIARCH="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"

# need_file FILE...: stops with one failure when a file the test uses is missing.
need_file() {
  local f
  for f in "$@"; do
    [[ -f "${f}" ]] || { fail "${f} is missing (run scripts/setup.sh)"; exit 1; }
  done
}

# client_device LABEL [DIR]: a new device (fast PBKDF2) in DIR (default $WORK/LABEL) whose
# token is initialized with label LABEL, the SO PIN $SO_PIN and the user PIN $USER_PIN;
# exports TWINHSM_CONF naming it alone. Sets $DEV.
client_device() {
  local label="$1"
  DEV="${2:-${WORK}/${label}}"
  [[ -f "${WORK}/master.key" ]] || must "${CLI}" factory new-master-key -o "${WORK}/master.key"
  must "${CLI}" factory personalize --device "${DEV}" --master-key "${WORK}/master.key" \
    --diversifier "clients-${label}" --pbkdf2-iterations 1000
  must "${CLI}" token init --device "${DEV}" --label "${label}" --so-pin "${SO_PIN}" --pin "${USER_PIN}"
  export TWINHSM_CONF="${WORK}/${label}.toml"
  write_conf "${TWINHSM_CONF}" "${DEV}"
}

# p11 ARGS...: pkcs11-tool on the module under test, through run.
p11() { run pkcs11-tool --module "${MODULE}" "$@"; }

# keypair ID LABEL KEY-TYPE: a key pair on the token (pkcs11-tool, logged in as the user).
keypair() {
  must pkcs11-tool --module "${MODULE}" --login --pin "${USER_PIN}" --keypairgen \
    --key-type "$3" --id "$1" --label "$2"
}

# export_pubkey ID OUT.pem [MODULE]: the public key with CKA_ID ID (hex) as PEM, read by GnuTLS's
# p11tool. (pkcs11-tool 0.23 --read-object sometimes fails on valid EC public keys with "cannot
# create EVP_PKEY": OpenSSL reports EC_R_INVALID_ENCODING for the point it is given, depending on
# the process's memory layout; p11tool has no such problem.)
export_pubkey() {
  local id_uri
  id_uri="$(sed 's/../%&/g' <<<"$1")"
  must env GNUTLS_PIN="${USER_PIN}" p11tool --provider "${3:-${MODULE}}" --login --export-pubkey \
    "pkcs11:id=${id_uri}" --outfile "$2"
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  "${PY}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_port PORT [SECONDS]: until something accepts connections on 127.0.0.1:PORT.
wait_for_port() {
  local i
  for ((i = 0; i < ${2:-20} * 10; i++)); do
    if "${PY}" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' "$1" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# wait_for FILE-TEST PATH [SECONDS]: until `test FILE-TEST PATH` holds (e.g. wait_for -S sock).
wait_for() {
  local i
  for ((i = 0; i < ${3:-20} * 10; i++)); do
    if test "$1" "$2"; then return 0; fi
    sleep 0.1
  done
  return 1
}

# background LOG CMD...: starts CMD in the background (stdout and stderr to LOG); the EXIT trap
# ends it. Sets $BG_PID.
background() {
  local log="$1"
  shift
  "$@" >"${log}" 2>&1 </dev/null &
  BG_PID=$!
  BG_PIDS+=("${BG_PID}")
}

# start_sshd DIR: an sshd (openssh-server; it must run as root to accept logins) on 127.0.0.1,
# port $SSHD_PORT, with its own host key, configuration, pid file and log (DIR/sshd.log), all in
# DIR, which the caller's DIR/authorized_keys completes (public keys only, StrictModes off, no
# PAM); the EXIT trap ends it. Writes DIR/known_hosts, the line a client needs to trust it.
start_sshd() {
  local dir="$1"
  mkdir -p "${dir}" /run/sshd
  must ssh-keygen -q -t ed25519 -N '' -f "${dir}/host_key"
  SSHD_PORT="$(free_port)"
  cat >"${dir}/sshd_config" <<EOF
ListenAddress 127.0.0.1:${SSHD_PORT}
HostKey ${dir}/host_key
PidFile ${dir}/sshd.pid
AuthorizedKeysFile ${dir}/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel VERBOSE
EOF
  touch "${dir}/authorized_keys"
  run /usr/sbin/sshd -t -f "${dir}/sshd_config"
  assert_ok "sshd -t accepts the test configuration"
  background "${dir}/sshd.log" /usr/sbin/sshd -D -e -f "${dir}/sshd_config"
  wait_for_port "${SSHD_PORT}" 10 || { fail "sshd did not start"; cat "${dir}/sshd.log" >&2; exit 1; }
  echo "[127.0.0.1]:${SSHD_PORT} $(cut -d' ' -f1,2 "${dir}/host_key.pub")" >"${dir}/known_hosts"
}

# cert_parts CERT.pem PREFIX: splits an X.509 certificate into what its signature covers
# (PREFIX.tbs, the DER TBSCertificate) and the signature (PREFIX.sig, the BIT STRING's bytes), so
# that `openssl dgst -verify PUB -signature PREFIX.sig PREFIX.tbs` checks the signature with a
# public key obtained elsewhere.
cert_parts() {
  openssl x509 -in "$1" -outform DER -out "$2.der" || return 1
  "${PY}" - "$2" <<'EOF'
import sys
prefix = sys.argv[1]
der = open(prefix + ".der", "rb").read()
def tlv(b, off):
    """-> (start of value, end of value) of the TLV at off"""
    n = b[off + 1]
    if n < 0x80:
        return off + 2, off + 2 + n
    k = n & 0x7F
    length = int.from_bytes(b[off + 2:off + 2 + k], "big")
    return off + 2 + k, off + 2 + k + length
start, end = tlv(der, 0)              # Certificate ::= SEQUENCE {
tbs_start = start
_, tbs_end = tlv(der, tbs_start)      #   tbsCertificate
_, alg_end = tlv(der, tbs_end)        #   signatureAlgorithm
sig_start, sig_end = tlv(der, alg_end)  # signatureValue BIT STRING }
assert der[alg_end] == 0x03 and der[sig_start] == 0
open(prefix + ".tbs", "wb").write(der[tbs_start:tbs_end])
open(prefix + ".sig", "wb").write(der[sig_start + 1:sig_end])
EOF
}

# same_pubkey A.pem B.pem: both files hold the same public key (compared as DER).
same_pubkey() {
  local a b
  a="$(openssl pkey -pubin -in "$1" -outform DER 2>/dev/null | sha256sum)"
  b="$(openssl pkey -pubin -in "$2" -outform DER 2>/dev/null | sha256sum)"
  [[ -n "${a}" && "${a}" == "${b}" && "${a}" != "$(: | sha256sum)" ]]
}

# recipe NAME: marks the start of a block that docs/clients.md copies (for readers of the test).
recipe() { section "recipe: $*"; }
