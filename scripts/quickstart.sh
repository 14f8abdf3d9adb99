#!/usr/bin/env bash
# The quick start: installs what is missing, builds, then makes a device and uses it the way an
# application does: personalize a device, initialize its token, generate an EC key through the
# PKCS#11 module with pkcs11-tool, sign a file with it and verify the signature with openssl.
# Then the seed's scheme: the factory makes the device's twin, the device backs itself up after
# a button press (pressed from a second command), the twin restores the backup, and a signature
# made on the twin verifies with the original's public key.
# Everything lives under .local/ in the repository (ignored by git); each run starts afresh.
# The test suite runs it too, with TWINHSM_QUICKSTART_DIR set and the setup step skipped.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z ${TWINHSM_QUICKSTART_SKIP_SETUP:-} ]]; then
  "$REPO/scripts/setup.sh"
fi

BUILD=${TWINHSM_BUILD_DIR:-$REPO/build}
TWINHSM="$BUILD/src/cli/twinhsm"
MODULE="$BUILD/src/pkcs11/libtwinhsm.so"
WORK=${TWINHSM_QUICKSTART_DIR:-$REPO/.local/quickstart}
export XDG_DATA_HOME="$WORK/data"  # the default device is $XDG_DATA_HOME/twinhsm
DEVICE="$XDG_DATA_HOME/twinhsm"
SO_PIN=quickstart-so
USER_PIN=quickstart-user

step() { printf '\n== %s\n' "$*"; }

# press DIR PID: press DIR's button once the process PID waits for it, then wait for PID.
press() {
  local dir=$1 pid=$2
  for _ in $(seq 200); do
    [[ -S "$dir/button.sock" ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  "$TWINHSM" button press --device "$dir"
  wait "$pid"
}

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

step "The factory makes a master key and personalizes a device with it"
"$TWINHSM" factory new-master-key -o master.key
"$TWINHSM" factory personalize --device "$DEVICE" --master-key master.key --diversifier quickstart-pair

step "The admin initializes the token (SO PIN and user PIN)"
"$TWINHSM" token init --device "$DEVICE" --label quickstart --so-pin "$SO_PIN" --pin "$USER_PIN"
"$TWINHSM" device info --device "$DEVICE"

step "An application generates an EC P-256 key through the PKCS#11 module"
P11=(pkcs11-tool --module "$MODULE")
"${P11[@]}" --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 --id 01 --label signing-key

step "It signs a file with the key, which never leaves the device"
echo "twinhsm quick start $(date -u +%FT%TZ)" > document.txt
"${P11[@]}" --login --pin "$USER_PIN" --sign --id 01 --mechanism ECDSA-SHA256 \
  --signature-format openssl --input-file document.txt --output-file document.sig

step "Anyone verifies the signature with openssl and the exported public key"
"${P11[@]}" --read-object --type pubkey --id 01 --output-file public.der
openssl pkey -pubin -inform DER -in public.der -out public.pem
openssl dgst -sha256 -verify public.pem -signature document.sig document.txt

step "The factory makes the device's twin: same master key, same diversifier"
TWIN="$WORK/twin"
"$TWINHSM" factory personalize --device "$TWIN" --master-key master.key --diversifier quickstart-pair

step "The device makes a backup once its button is pressed (here: from a second command)"
"$TWINHSM" backup create --device "$DEVICE" -o device.twb &
press "$DEVICE" $!
"$TWINHSM" backup inspect device.twb

step "The twin restores it after its own button press"
"$TWINHSM" backup restore --device "$TWIN" device.twb &
press "$TWIN" $!

step "The twin signs with the restored key (same user PIN); the original's public key verifies it"
printf '[[slot]]\ndevice = "%s"\n' "$TWIN" > twin.toml
echo "signed on the twin $(date -u +%FT%TZ)" > twin-document.txt
TWINHSM_CONF="$WORK/twin.toml" "${P11[@]}" --login --pin "$USER_PIN" --sign --id 01 \
  --mechanism ECDSA-SHA256 --signature-format openssl \
  --input-file twin-document.txt --output-file twin-document.sig
openssl dgst -sha256 -verify public.pem -signature twin-document.sig twin-document.txt

step "Done: the device is in $DEVICE, its twin in $TWIN; the twin's objects:"
"$TWINHSM" objects list --device "$TWIN" --pin "$USER_PIN"
