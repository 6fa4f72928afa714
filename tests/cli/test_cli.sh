#!/usr/bin/env bash
# Command-line contract of `lorageo decode` and `lorageo airtime` (design.md):
# JSON on stdout and exit 0 on success; a one-line reason on stderr and a non-zero
# exit for every bad input. Usage: test_cli.sh path/to/lorageo
set -u
BIN=${1:?usage: test_cli.sh path/to/lorageo}
fails=0
checks=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# ok NAME JQ-FILTER ARGS... : command succeeds, prints one JSON line, filter is true.
ok() {
  local name=$1 filter=$2; shift 2
  checks=$((checks + 1))
  if ! "$BIN" "$@" >"$out" 2>"$err"; then fail "$name: exit $? ($(cat "$err"))"; return; fi
  [ "$(wc -l <"$out")" -eq 1 ] || { fail "$name: expected one output line"; return; }
  jq -e "$filter" "$out" >/dev/null || fail "$name: '$filter' is not true for $(cat "$out")"
}

# bad NAME STATUS PATTERN ARGS... : command exits STATUS with one stderr line matching PATTERN.
bad() {
  local name=$1 want=$2 pattern=$3; shift 3
  checks=$((checks + 1))
  "$BIN" "$@" >"$out" 2>"$err"
  local rc=$?
  [ "$rc" -eq "$want" ] || { fail "$name: exit $rc, want $want ($(cat "$err"))"; return; }
  [ "$rc" -lt 128 ] || { fail "$name: crashed"; return; }
  [ "$(wc -l <"$err")" -eq 1 ] || fail "$name: want exactly one stderr line, got: $(cat "$err")"
  grep -qE -e "$pattern" "$err" || fail "$name: stderr '$(cat "$err")' does not match /$pattern/"
  [ ! -s "$out" ] || fail "$name: printed to stdout on error"
}

NWK=44024241ed4ce9a68c6a8bc055233fd3
APP=ec925802ae430ca77fd3dd73cb2cc588
UP=40F17DBE4900020001954378762B11FF0D

# --- help and dispatch
ok_help() { checks=$((checks + 1)); "$BIN" "$@" >"$out" 2>"$err" && grep -q usage "$out" || fail "help: $*"; }
ok_help --help
ok_help decode --help
ok_help airtime --help
bad "unknown command" 2 "unknown command" frobnicate
bad "no command" 2 "no command given"

# --- decode: the contract's keys (V1: lora-packet mic_test/decrypt_test)
ok "decode V1" '.mtype == "unconfirmed_data_up" and .dev_addr == "49be7df1" and .f_cnt == 2
  and .f_port == 1 and .frm_payload == "95437876" and .mic == "2b11ff0d" and .f_opts == ""
  and .fctrl.adr == false and .fctrl.f_opts_len == 0 and (has("mic_ok") | not) and (has("data") | not)' \
  decode $UP
ok "decode V1 keys" '.mic_ok == true and .data == "74657374"' decode $UP --nwkskey $NWK --appskey $APP
ok "decode V1 wrong key" '.mic_ok == false' decode $UP --nwkskey $APP
ok "decode V1 fcnt-msb" '.f_cnt == 65538 and .mic_ok == false' decode $UP --nwkskey $NWK --fcnt-msb 1
ok "decode lower case" '.dev_addr == "49be7df1"' decode 40f17dbe4900020001954378762b11ff0d
# V12 (ChirpStack): FOpts with DevStatusAns
ok "decode FOpts" '.mtype == "confirmed_data_up" and .f_opts == "067307"
  and .mac_commands[0].name == "DevStatusAns" and .mac_commands[0].battery == 115
  and .mac_commands[0].margin_db == 7 and .mic_ok == true and .data == "01020304"' \
  decode 80040302010300000673070ae264d4f7e117d2c0 --nwkskey 0102030405060708090a0b0c0d0e0f10 \
  --appskey 100f0e0d0c0b0a090807060504030201
# V4: join-request
ok "decode join-request" '.mtype == "join_request" and .join_eui == "aa13693363343639"
  and .dev_eui == "3331383274356905" and .dev_nonce == 35076 and .mic_ok == true' \
  decode 0039363463336913AA05693574323831330489C65B1304 --appkey 98929b92c49edba9676d646d3b612456
# V10: join-accept
ok "decode join-accept" '.mtype == "join_accept" and .join_nonce == 65793 and .net_id == "020202"
  and .dev_addr == "01020304" and .dl_settings == 0 and .rx_delay == 0 and .cf_list == null
  and .mic == "3449f212" and .mic_ok == true' \
  decode 2023cf335489aae3183c0be0baa8dee5f3 --appkey 0102030405060708090a0b0c0d0e0f10
ok "decode join-accept no key" '.mtype == "join_accept" and .encrypted == "23cf335489aae3183c0be0baa8dee5f3"
  and (has("mic_ok") | not)' decode 2023cf335489aae3183c0be0baa8dee5f3
ok "decode proprietary" '.mtype == "proprietary" and .payload == "deadbeef"' decode e0deadbeef
ok "decode rejoin" '.mtype == "rejoin_request" and .rejoin_type == 0 and .net_id == "ccbbaa"' \
  decode c000aabbcc0102030405060708090a11223344
ok "decode FPort 0 MAC" '.f_port == 0 and (.mac_commands | length) >= 0' decode 40f17dbe490002000095437876aabbccdd --nwkskey $NWK
ok "decode unknown MAC" '.mac_error | test("unknown identifier at byte 0")' decode 40f17dbe4901020080aabbccdd

# --- decode: bad input
bad "empty" 1 "truncated" decode ""
bad "odd hex" 1 "odd number of digits" decode 40F17
bad "non-hex" 1 "non-hex" decode 40F17DBE490002000195437876zz11FF0D
bad "truncated data" 1 "truncated" decode 40F17DBE490002
bad "oversized" 1 "too long" decode "$(printf '40%.0s' $(seq 1 256))"
bad "fopts past end" 1 "truncated" decode 40f17dbe490f02000102aabbccdd
bad "fopts with fport 0" 1 "FOpts present with FPort 0" decode 40f17dbe4901020006000102aabbccdd
bad "major version" 1 "major version" decode 41F17DBE4900020001954378762B11FF0D
bad "join-accept length" 1 "17 or 33" decode 2023cf335489aae3183c0be0baa8dee5f30000
bad "join-request long" 1 "too long" decode 0039363463336913AA05693574323831330489C65B130400
bad "short key" 2 "nwkskey.*32 hex" decode $UP --nwkskey 4402
bad "long key" 2 "appskey.*32 hex" decode $UP --appskey ${APP}00
bad "hex key" 2 "appkey.*32 hex" decode $UP --appkey zz024241ed4ce9a68c6a8bc055233fd3
bad "fcnt-msb range" 2 "fcnt-msb" decode $UP --fcnt-msb 65536
bad "fcnt-msb text" 2 "fcnt-msb" decode $UP --fcnt-msb x
bad "two payloads" 2 "exactly one" decode $UP $UP
bad "no payload" 2 "exactly one" decode
bad "bad option" 2 "unknown option .--frob." decode --frob $UP
bad "missing value" 2 "option .--nwkskey. needs a value" decode $UP --nwkskey

# --- airtime (R1 anchors of phy-sim-adr.md §5)
ok "airtime SF12 64B" '.time_on_air_ms == 2793.472 and .payload_symbols == 73 and .ldro == true' airtime --sf 12 --bw 125 --payload 64
ok "airtime SF7 13B" '.time_on_air_ms == 46.336' airtime --sf 7 --bw 125 --payload 13
ok "airtime SF9 13B" '.time_on_air_ms == 164.864' airtime --sf 9 --bw 125 --payload 13
ok "airtime CR4/8" '.time_on_air_ms == 1712.128' airtime --sf 12 --bw 125 --payload 20 --cr 4
ok "airtime BW500" '.time_on_air_ms == 14.144' airtime --sf 7 --bw 500 --payload 20
ok "airtime downlink" '.time_on_air_ms == 991.232' airtime --sf 12 --bw 125 --payload 12 --no-crc
ok "airtime ldro off" '.ldro == false and .payload_symbols == 53' airtime --sf 12 --bw 125 --payload 51 --ldro off
ok "airtime implicit" '.payload_symbols == 28' airtime --sf 7 --bw 125 --payload 13 --implicit-header
ok "airtime preamble" '(.preamble_ms * 1000 | round) == 16640' airtime --sf 7 --bw 125 --payload 13 --preamble 12 --no-crc --ldro on
bad "airtime sf" 2 "--sf" airtime --sf 13 --bw 125 --payload 10
bad "airtime bw" 2 "--bw" airtime --sf 7 --bw abc --payload 10
bad "airtime payload" 2 "--payload" airtime --sf 7 --bw 125 --payload 256
bad "airtime cr" 2 "--cr" airtime --sf 7 --bw 125 --payload 10 --cr 5
bad "airtime ldro" 2 "--ldro" airtime --sf 7 --bw 125 --payload 10 --ldro maybe
bad "airtime missing" 2 "required" airtime --sf 7

# --- serve: configuration errors stop it at once with one line naming the problem
ini=$(mktemp)
printf '[server]\nudp_bind = 127.0.0.1:0\n[network]\ndedup_windw_ms = 100\n' > "$ini"
bad "serve unknown key" 2 "unknown key \[network\] dedup_windw_ms" serve -c "$ini"
printf '[network]\nregion = XX999\n' > "$ini"
bad "serve bad region" 2 "region = 'XX999': expected EU868, US915, AU915, AS923-1" serve -c "$ini"
printf 'not ini at all\n' > "$ini"
bad "serve not ini" 2 "not INI syntax|unknown key" serve -c "$ini"
bad "serve missing file" 2 "cannot read" serve -c /nonexistent.ini
LORAGEO_NETWORK_DEDUP_WINDOW_MS=abc bad "serve bad env" 2 "LORAGEO_NETWORK_DEDUP_WINDOW_MS.*expected 10..5000" serve
LORAGEO_SERVER_DATABASE=postgresql://nohost.invalid/x bad "serve postgres unreachable" 1 "cannot connect to PostgreSQL: .*nohost.invalid" serve
LORAGEO_SERVER_JOURNAL_RETENTION=7x bad "serve bad journal retention" 2 "LORAGEO_SERVER_JOURNAL_RETENTION.*expected an age" serve
LORAGEO_SERVER_MAX_OPEN_FRAMES=3 bad "serve bad max_open_frames" 2 "LORAGEO_SERVER_MAX_OPEN_FRAMES.*expected 16..10000000" serve
LORAGEO_ADR_TARGET_DELIVERY=1 bad "serve bad adr target" 2 "LORAGEO_ADR_TARGET_DELIVERY.*expected 0.5..0.9999" serve
LORAGEO_CLUSTER_REDIS=http://cache bad "serve bad redis url" 2 "LORAGEO_CLUSTER_REDIS.*expected redis://HOST\[:PORT\]" serve
db2=$(mktemp -d)
LORAGEO_SERVER_DATABASE=$db2/l.db LORAGEO_SERVER_UDP_BIND=127.0.0.1:0 LORAGEO_SERVER_HTTP_BIND=127.0.0.1:0 \
  LORAGEO_CLUSTER_REDIS=redis://127.0.0.1:1 bad "serve redis unreachable" 1 "\[cluster\] redis redis://127.0.0.1:1: .*refused" serve
rm -rf "$db2"
db=$(mktemp -d)
printf '[server]\nudp_bind = 127.0.0.1:0\nhttp_bind = 127.0.0.1:0\ndatabase = %s/l.db\n[mqtt]\nurl = tcp://broker\n' "$db" > "$ini"
bad "serve bad mqtt url" 2 "url 'tcp://broker': expected mqtt://HOST\[:PORT\] or mqtts://" serve -c "$ini"
printf '[server]\nudp_bind = 127.0.0.1:0\nhttp_bind = 127.0.0.1:0\ndatabase = %s/l.db\n[mqtt]\nurl = mqtts://127.0.0.1:1\nca_file = /nonexistent.pem\n' "$db" > "$ini"
bad "serve missing mqtt CA file" 2 "\[mqtt\] TLS files" serve -c "$ini"
rm -rf "$ini" "$db"

# --- gateway add: a gateway's own GPS (stat) gives its position only when it says so
gdb=$(mktemp -d)
ok "gateway add surveyed" '.position_from_gateway == false and .latitude == 55.8' \
  gateway add --database "$gdb/g.db" --gateway-eui aa555a0000000001 --lat 55.8 --lon 12.45
ok "gateway add --position-from-gateway" '.position_from_gateway == true and .latitude == 55.8' \
  gateway add --database "$gdb/g.db" --gateway-eui aa555a0000000002 --lat 55.8 --lon 12.45 \
  --position-from-gateway
bad "gateway add --position-from-gateway=maybe" 2 "position-from-gateway" \
  gateway add --database "$gdb/g.db" --gateway-eui aa555a0000000003 --position-from-gateway=maybe
rm -rf "$gdb"

echo "test_cli: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
