#!/usr/bin/env bash
# Configuration that never guesses (issue 16): every refusal of `lorageo serve` names the
# file, line and key (or the variable and the closest valid name, or the address and the
# OS error), exits non-zero, and no server starts on defaults.
# Usage: test_config.sh path/to/lorageo
set -u
BIN=${1:?usage: test_config.sh path/to/lorageo}
fails=0
checks=0
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
for v in $(env | grep -o '^LORAGEO_[A-Z_]*' | grep -v '^LORAGEO_TEST_'); do unset "$v"; done
export LORAGEO_SERVER_DATABASE=$dir/db.sqlite LORAGEO_SERVER_JOURNAL=$dir/journal

# refused NAME PATTERN ARGS...: serve exits 2 (WANT_RC) within 10 s, stderr matches PATTERN.
refused() {
  local name=$1 pattern=$2; shift 2
  checks=$((checks + 1))
  timeout 10 "$BIN" serve "$@" >"$dir/out" 2>"$dir/err"
  local rc=$?
  [ "$rc" -eq "${WANT_RC:-2}" ] || { fail "$name: exit $rc, want 2 ($(cat "$dir/err"))"; return; }
  grep -qE -e "$pattern" "$dir/err" || fail "$name: stderr '$(cat "$dir/err")' does not match /$pattern/"
}

refused "a directory" "^lorageo serve: $dir: not a configuration file \(a directory\)$" -c "$dir"
head -c 4096 "$BIN" >"$dir/binary.ini"
refused "a binary file" "binary.ini:[0-9]+: not a configuration file \(binary" -c "$dir/binary.ini"
refused "not a regular file" "/dev/null: not a configuration file \(not a regular file\)" -c /dev/null
printf '[server]\nudp_bind = 127.0.0.1:1\n\n[network]\nregion = EU868\n[server]\nudp_bind = 127.0.0.1:2\n' >"$dir/dup.ini"
refused "a duplicate key" "dup.ini:7: \[server\] udp_bind given twice \(first on line 2\)" -c "$dir/dup.ini"
printf '; comment\n[geo]\nmethod = nls\nmin_gateways = 1\n' >"$dir/value.ini"
refused "a bad value" "value.ini:4: \[geo\] min_gateways = '1': expected 2\.\.64" -c "$dir/value.ini"
printf '[server]\n\nudp_bnd = 0.0.0.0:1700\n' >"$dir/key.ini"
refused "an unknown key" "key.ini:3: unknown key \[server\] udp_bnd" -c "$dir/key.ini"
printf '[server]\nthis is no INI\n' >"$dir/syntax.ini"
refused "bad syntax" "syntax.ini:2: not INI syntax" -c "$dir/syntax.ini"
refused "a missing file" "nothing.ini: cannot read the file: No such file" -c "$dir/nothing.ini"
# issue 16, second part: keys that go together, networks, dwell time where it is a setting
printf '[api]\nread_token = ro\n' >"$dir/ro.ini"
refused "read_token alone" "read_token needs \[api\] token" -c "$dir/ro.ini"
printf '[api]\ntoken = same\nread_token = same\n' >"$dir/same.ini"
refused "read_token = token" "read_token must differ from \[api\] token" -c "$dir/same.ini"
printf '[api]\ntls_cert_file = %s/cert.pem\n' "$dir" >"$dir/tls.ini"
refused "a certificate without its key" "tls_cert_file and tls_key_file go together" -c "$dir/tls.ini"
printf '[api]\ntls_cert_file = %s/none.pem\ntls_key_file = %s/none.pem\n' "$dir" "$dir" >"$dir/tls2.ini"
WANT_RC=1 LORAGEO_SERVER_UDP_BIND=127.0.0.1:0 LORAGEO_SERVER_HTTP_BIND=127.0.0.1:0 \
  refused "a missing certificate" "\[api\] tls_cert_file '.*none.pem': No such file" -c "$dir/tls2.ini"
# what ADR learned, in a file that is not a link map: the server does not start on it
echo '{"format": "something else"}' >"$dir/bad.adr.json"
WANT_RC=1 LORAGEO_SERVER_UDP_BIND=127.0.0.1:0 LORAGEO_SERVER_HTTP_BIND=127.0.0.1:0 LORAGEO_ADR_LEARNED=$dir/bad.adr.json \
  refused "a broken link map" "\[adr\] learned: .*bad.adr.json: not a link map"
WANT_RC=1 LORAGEO_SERVER_UDP_BIND=127.0.0.1:0 LORAGEO_SERVER_HTTP_BIND=127.0.0.1:0 LORAGEO_ADR_LEARNED=$dir/none/x.adr.json \
  refused "a link map it cannot write" "\[adr\] learned: cannot write .*none/x.adr.json.tmp: No such file or directory"
printf '[security]\ngateway_networks = 10.0.0.0/8, 192.168.1.1/24\n' >"$dir/nets.ini"
refused "host bits in a network" "nets.ini:2: \[security\] gateway_networks = .*expected CIDR networks" -c "$dir/nets.ini"
LORAGEO_SECURITY_GATEWAY_NETWORKS=10.0.0/8 \
  refused "a network that is not one" "LORAGEO_SECURITY_GATEWAY_NETWORKS: \[security\] gateway_networks = '10.0.0/8'"
printf '[mqtt]\nqos = 2\n' >"$dir/qos.ini"
refused "an MQTT QoS of 2" "qos.ini:2: \[mqtt\] qos = '2': expected 0 or 1" -c "$dir/qos.ini"
printf '[mqtt]\ntopic_prefix = farm/#\n' >"$dir/prefix.ini"
refused "a wildcard in the topic prefix" "prefix.ini:2: \[mqtt\] topic_prefix = 'farm/#': expected a topic prefix \(no \+ or #\)" -c "$dir/prefix.ini"
printf '[network]\nregion = US915\nuplink_dwell_time = false\n' >"$dir/dwell.ini"
refused "dwell time in US915" "uplink_dwell_time: only AS923 and AU915 let it be set.*FCC" -c "$dir/dwell.ini"
printf '[network]\nregion = AS923-1\ndownlink_dwell_time = maybe\n' >"$dir/dwell2.ini"
refused "a dwell time that is no boolean" "dwell2.ini:3: \[network\] downlink_dwell_time = 'maybe': expected auto, true or false" -c "$dir/dwell2.ini"
checks=$((checks + 1))
LORAGEO_SERVER_UDP_BIDN=0.0.0.0:1 timeout 10 "$BIN" serve >"$dir/out" 2>"$dir/err"
rc=$?
[ "$rc" -eq 2 ] && grep -q "LORAGEO_SERVER_UDP_BIDN names no configuration key (did you mean LORAGEO_SERVER_UDP_BIND?)" "$dir/err" ||
  fail "a misspelt variable: exit $rc: $(cat "$dir/err")"
checks=$((checks + 1))
LORAGEO_API_TOKN=x timeout 10 "$BIN" serve >"$dir/out" 2>"$dir/err"
grep -q "did you mean LORAGEO_API_TOKEN?" "$dir/err" || fail "closest name: $(cat "$dir/err")"

# ---- bind failures: a server holds the ports; a second one says the address and why
# (the ports are drawn at random: other tests run alongside; another draw if they are taken)
for attempt in 1 2 3 4 5; do
  port=$((30000 + RANDOM % 20000))
  LORAGEO_SERVER_UDP_BIND=127.0.0.1:$port LORAGEO_SERVER_HTTP_BIND=127.0.0.1:$((port + 1)) \
    "$BIN" serve 2>"$dir/first.log" &
  pid=$!
  up=
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    curl -sf "http://127.0.0.1:$((port + 1))/api/health" >/dev/null && { up=1; break; }
    sleep 0.1
  done
  [ -n "$up" ] && break
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=
  echo "first server did not come up (attempt $attempt): $(cat "$dir/first.log")" >&2
done
[ -n "$pid" ] || fail "the first server never came up"
checks=$((checks + 1))
LORAGEO_SERVER_UDP_BIND=127.0.0.1:$port LORAGEO_SERVER_HTTP_BIND=127.0.0.1:$((port + 2)) \
  LORAGEO_SERVER_DATABASE=$dir/db2.sqlite LORAGEO_SERVER_JOURNAL=$dir/journal2 \
  timeout 10 "$BIN" serve >"$dir/out" 2>"$dir/err"
rc=$?
[ "$rc" -ne 0 ] && grep -q "cannot listen for UDP on 127.0.0.1:$port: address already in use" "$dir/err" ||
  fail "UDP port busy: exit $rc: $(cat "$dir/err")"
checks=$((checks + 1))
LORAGEO_SERVER_UDP_BIND=127.0.0.1:$((port + 3)) LORAGEO_SERVER_HTTP_BIND=127.0.0.1:$((port + 1)) \
  LORAGEO_SERVER_DATABASE=$dir/db3.sqlite LORAGEO_SERVER_JOURNAL=$dir/journal3 \
  timeout 10 "$BIN" serve >"$dir/out" 2>"$dir/err"
rc=$?
[ "$rc" -ne 0 ] && grep -q "cannot listen for HTTP on 127.0.0.1:$((port + 1)): Address already in use" "$dir/err" ||
  fail "HTTP port busy: exit $rc: $(cat "$dir/err")"
kill "$pid"
wait "$pid"
pid=

# serve --help lists every key of the configuration table (storage ones included), by section
src=$(cd "$(dirname "$0")/../.." && pwd)/src/ns/config.c
"$BIN" serve --help >"$dir/help" || fail "serve --help exits non-zero"
n=0
while read -r section key; do
  n=$((n + 1))
  checks=$((checks + 1))
  awk -v s="  [$section]" -v k="$key" '$0 == s { on = 1; next } /^  \[/ { on = 0 } on && $1 == k { found = 1 }
    END { exit !found }' "$dir/help" || fail "serve --help lacks [$section] $key"
done < <(grep -oE '^    \{"[a-z]+", "[a-z_]+"' "$src" | tr -d '{",' | awk '{print $1, $2}')
[ "$n" -gt 60 ] || fail "only $n keys found in $src"
for k in database journal journal_segment_mb journal_retention kek_file allow_plaintext_keys learned; do
  checks=$((checks + 1))
  grep -q "^    $k " "$dir/help" || fail "serve --help lacks the storage option $k"
done

echo "test_config: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
