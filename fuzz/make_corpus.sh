#!/usr/bin/env bash
# Regenerates the generated seed corpora under fuzz/corpus/ (the TOML seeds of fuzz_config are
# kept by hand):
#   fuzz_backup/small.twb   a real backup made by the `twinhsm` command of a device personalized
#                           with the fuzzers' fixed master key and pair id (fuzz/fuzz_util.h), whose
#                           token holds a data object, an AES key and an EC key pair made through
#                           the PKCS#11 module with pkcs11-tool
#   the rest                fuzz_seedgen (fuzz/seedgen.cc), from that backup and from code
# Needs the normal build (TWINHSM_BUILD_DIR, default build/) and the fuzz build (build-fuzz/,
# scripts/fuzz.sh makes it). Run it after a change of a format, then review and commit the seeds.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${TWINHSM_BUILD_DIR:-$REPO/build}
FUZZ_BUILD=${TWINHSM_FUZZ_BUILD_DIR:-$REPO/build-fuzz}
TWINHSM=$BUILD/src/cli/twinhsm
MODULE=$BUILD/src/pkcs11/libtwinhsm.so
CORPUS=$REPO/fuzz/corpus

WORK=$(mktemp -d "${TMPDIR:-/tmp}/twinhsm-corpus.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export XDG_DATA_HOME=$WORK/xdg
unset TWINHSM_LOG TWINHSM_LOG_FILE

# The fuzzers' master key: bytes 00 01 ... 1f.
printf '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n' > "$WORK/master.key"
DEV=$WORK/device
"$TWINHSM" factory personalize --device "$DEV" --master-key "$WORK/master.key" \
  --diversifier fuzz-pair --serial FUZZ0001 --pbkdf2-iterations 1000 --button insecure-auto \
  2>/dev/null
"$TWINHSM" token init --device "$DEV" --label fuzz --so-pin fuzz-so-pin --pin fuzz-user-pin
printf '[[slot]]\ndevice = "%s"\n' "$DEV" > "$WORK/twinhsm.toml"
export TWINHSM_CONF=$WORK/twinhsm.toml
P11=(pkcs11-tool --module "$MODULE" --login --pin fuzz-user-pin)
printf 'fuzz data\n' > "$WORK/data.txt"
"${P11[@]}" --write-object "$WORK/data.txt" --type data --label fuzz-data --application-label fuzz >/dev/null
"${P11[@]}" --keygen --key-type aes:16 --id 01 --label fuzz-aes >/dev/null
"${P11[@]}" --keypairgen --key-type EC:prime256v1 --id 02 --label fuzz-ec >/dev/null

mkdir -p "$CORPUS/fuzz_backup"
rm -f "$CORPUS/fuzz_backup/"*.twb
"$TWINHSM" backup create --device "$DEV" -o "$CORPUS/fuzz_backup/small.twb"
"$TWINHSM" backup inspect "$CORPUS/fuzz_backup/small.twb"

rm -rf "$CORPUS/fuzz_backup_records" "$CORPUS/fuzz_stored_object" "$CORPUS/fuzz_templates"
"$FUZZ_BUILD/fuzz/fuzz_seedgen" "$CORPUS"
