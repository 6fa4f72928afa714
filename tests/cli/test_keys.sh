#!/usr/bin/env bash
# Keys at rest (issue 16 item 3): device keys are wrapped with a key-encryption key
# (AES key wrap, RFC 3394), so the database and its -wal hold no key (`strings`); SQLite
# makes the KEK beside its database on first use; another KEK is refused; a database
# whose keys are wrapped needs its KEK; without one keys are only stored in clear when
# allow_plaintext_keys says so, and `lorageo keys wrap` wraps them afterwards.
# Usage: test_keys.sh LORAGEO
set -uo pipefail
BIN=$1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
unset LORAGEO_SECURITY_KEK_FILE LORAGEO_SECURITY_ALLOW_PLAINTEXT_KEYS
fails=0 checks=0
check() { checks=$((checks + 1)); if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi; }
K1=0123456789abcdef0123456789abcdef K2=fedcba9876543210fedcba9876543210 K3=00112233445566778899aabbccddeeff
in_db() { cat "$1"* 2>/dev/null | strings | grep -ci "$2"; }

"$BIN" device add --database "$d/a.db" --dev-eui 0004a30b001a2b3c --dev-addr 26011f00 \
  --nwk-s-key $K1 --app-s-key $K2 > "$d/out" 2> "$d/err"
check "ABP device added" 'grep -q "\"dev_eui\":\"0004a30b001a2b3c\"" "$d/out"'
check "the KEK is created beside the database and said so" 'grep -q "created the key-encryption key $d/a.kek" "$d/err" && [ -s "$d/a.kek" ]'
check "the KEK file is its owner's alone" '[ "$(stat -c %a "$d/a.kek")" = 600 ]'
"$BIN" device add --database "$d/a.db" --dev-eui 0004a30b001a2b3d --join-eui 70b3d57ed0000001 \
  --app-key $K3 > /dev/null 2>&1
check "no key in the database or its log (strings)" '[ "$(in_db "$d/a.db" $K1)$(in_db "$d/a.db" $K2)$(in_db "$d/a.db" $K3)" = 000 ]'
check "they are there wrapped" '[ "$(cat "$d"/a.db* | strings | grep -c "w1:")" -ge 1 ]'
check "nothing left to wrap" '[ "$("$BIN" keys wrap --database "$d/a.db")" = "{\"wrapped\":0}" ]'

od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$d/other.kek"
LORAGEO_SECURITY_KEK_FILE=$d/other.kek "$BIN" device add --database "$d/a.db" --dev-eui 0004a30b001a2b3e \
  --dev-addr 26011f01 --nwk-s-key $K1 --app-s-key $K2 > /dev/null 2> "$d/err"
rc=$?
check "another KEK is refused" '[ $rc -ne 0 ] && grep -q "not the one this database" "$d/err"'
LORAGEO_SECURITY_KEK_FILE= LORAGEO_SECURITY_ALLOW_PLAINTEXT_KEYS=true "$BIN" device add --database "$d/a.db" \
  --dev-eui 0004a30b001a2b3f --dev-addr 26011f02 --nwk-s-key $K1 --app-s-key $K2 > /dev/null 2> "$d/err"
check "wrapped keys need their KEK, whatever allow_plaintext_keys says" 'grep -q "device keys are wrapped: give \[security\] kek_file" "$d/err"'
echo "abc" > "$d/bad.kek"
LORAGEO_SECURITY_KEK_FILE=$d/bad.kek "$BIN" keys wrap --database "$d/b.db" > /dev/null 2> "$d/err"
check "a KEK file that is not one is refused with its name" 'grep -q "bad.kek: expected 32 or 64 hex digits" "$d/err"'

# keys in clear only when allowed, wrapped later by `keys wrap`
LORAGEO_SECURITY_KEK_FILE= "$BIN" device add --database "$d/c.db" --dev-eui 0004a30b001a2b3c \
  --dev-addr 26011f00 --nwk-s-key $K1 --app-s-key $K2 > /dev/null 2> "$d/err"
check "no KEK and no allowance: refused" 'grep -q "would be stored in clear" "$d/err"'
LORAGEO_SECURITY_KEK_FILE= LORAGEO_SECURITY_ALLOW_PLAINTEXT_KEYS=true "$BIN" device add --database "$d/c.db" \
  --dev-eui 0004a30b001a2b3c --dev-addr 26011f00 --nwk-s-key $K1 --app-s-key $K2 > /dev/null 2>&1
check "allowed: the keys are in clear" '[ "$(in_db "$d/c.db" $K1)" -ge 1 ]'
check "keys wrap wraps them" '[ "$("$BIN" keys wrap --database "$d/c.db" 2>/dev/null)" = "{\"wrapped\":1}" ]'
check "and then no key is left in the files" '[ "$(in_db "$d/c.db" $K1)$(in_db "$d/c.db" $K2)" = 00 ]'
check "the database and its log are their owner's alone" '[ "$(stat -c %a "$d/c.db")" = 600 ]'

echo "test_keys: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
