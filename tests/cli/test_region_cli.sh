#!/usr/bin/env bash
# `lorageo region` and every region through the commands that take one (issue 17):
# the list, one region's JSON keys, an unknown name (exit 2, one line), airtime/decode
# --region, serve's [network] region, and a short offline simulation per region.
# Usage: test_region_cli.sh path/to/lorageo
set -u
BIN=${1:?usage: test_region_cli.sh path/to/lorageo}
fails=0
checks=0
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); "$@" > /dev/null || fail "$*"; }
for v in $(env | grep -o '^LORAGEO_[A-Z_]*' | grep -v '^LORAGEO_TEST_'); do unset "$v"; done

REGIONS="EU868 US915 AU915 AS923-1 AS923-2 AS923-3 AS923-4 KR920 IN865 RU864 EU433 CN470"

# --- the list: one JSON object per line, the twelve names in order
"$BIN" region > "$dir/list" 2> "$dir/err" || fail "region list: exit $?"
ok test "$(jq -r .name "$dir/list" | tr '\n' ' ')" = "$REGIONS "
ok test ! -s "$dir/err"
"$BIN" region --help | grep -q usage || fail "region --help"

# --- one region: the contract's keys and types
keys='.name and (.frequency_range_hz | length == 2) and (.default_channels_hz | length > 0)
  and (.data_rates | length > 0) and (.uplink_drs | length > 0) and (.downlink_drs | length > 0)
  and (.rx1_dr | length > 0) and (.rx2 | has("frequency_hz") and has("dr"))
  and (.max_eirp_dbm | type == "number") and (.tx_power_offsets_db[0] == 0)
  and .receive_delay1_s == 1 and .join_accept_delay1_s == 5
  and (.cflist_type == "frequencies" or .cflist_type == "channel_mask")
  and all(.data_rates[]; has("dr") and has("modulation") and has("sf") and has("bw_khz")
          and has("bitrate_bps") and has("max_mac_payload") and has("max_app_payload"))
  and (.rx1_dr_offsets as $n | all(.rx1_dr[]; (.rx1_dr | length) == $n))'
for r in $REGIONS; do
  checks=$((checks + 1))
  "$BIN" region "$r" > "$dir/r.json" 2> "$dir/err" || { fail "region $r: exit $?"; continue; }
  [ "$(wc -l < "$dir/r.json")" -eq 1 ] || fail "region $r: want one line"
  jq -e --arg r "$r" ".name == \$r and $keys" "$dir/r.json" > /dev/null ||
    fail "region $r: keys missing in $(head -c 300 "$dir/r.json")"
done
# lower case and the AS923 alias
ok test "$("$BIN" region eu868 | jq -r .name)" = EU868
ok test "$("$BIN" region AS923 | jq -r .name)" = AS923-1
# EU868 (RP002 §2.4): the numbers an operator checks first
ok jq -e '.default_channels_hz == [868100000, 868300000, 868500000] and .rx2 == {"frequency_hz": 869525000, "dr": 0}
  and .max_eirp_dbm == 16 and (.tx_power_offsets_db | length == 8) and .cflist_type == "frequencies"
  and .data_rates[3] == {"dr": 3, "modulation": "LORA", "sf": 9, "bw_khz": 125, "bitrate_bps": 1760,
     "max_mac_payload": 123, "max_app_payload": 115, "uplink": true, "downlink": true}
  and (.data_rates[8].modulation == "LR-FHSS") and (.data_rates[0] | has("max_mac_payload_dwell") | not)' \
  <("$BIN" region EU868)
# dwell time: AS923 and AU915 carry both columns, null where the DR is not allowed
ok jq -e '.data_rates[0].max_mac_payload_dwell == null and .data_rates[2].max_app_payload_dwell == 11
  and .data_rates[2].max_app_payload == 115 and (.rx1_dr[0].rx1_dr | length == 8) and (.rx1_dr_dwell | length == 8)' \
  <("$BIN" region AS923-3)
ok jq -e '.data_rates[0].max_app_payload_dwell == null and .data_rates[4].max_mac_payload_dwell == 133
  and .cflist_type == "channel_mask" and (.sub_bands | length == 8) and .sub_bands[1].channel_500khz_hz == 917500000' \
  <("$BIN" region AU915)
ok jq -e '.rx1_dr[0].rx1_dr == [10, 9, 8, 8] and .rx1_channels.base_hz == 923300000' <("$BIN" region US915)
ok jq -e '.data_rates[0].max_mac_payload == null and .max_eirp_dbm == 19.15' <("$BIN" region CN470)
# RX1 tables and DR use as checked against RP002-1.0.4 implementations (docs/regions.md):
# AS923 reaches DR7, IN865 skips the RFU DR6, CN470 carries nothing at DR0 (RX2 DR1)
ok jq -e '(.rx1_dr[] | select(.uplink_dr == 5) | .rx1_dr) == [5, 4, 3, 2, 1, 0, 6, 7]
  and (.rx1_dr_dwell[] | select(.uplink_dr == 1) | .rx1_dr) == [2, 2, 2, 2, 2, 2, 2, 3]' \
  <("$BIN" region AS923-2)
ok jq -e '(.rx1_dr[] | select(.uplink_dr == 7) | .rx1_dr) == [7, 5, 5, 4, 3, 2, 7, 7]
  and .uplink_drs == [0, 1, 2, 3, 4, 5, 7] and .max_eirp_dbm == 30 and (.tx_power_offsets_db | length == 11)' \
  <("$BIN" region IN865)
ok jq -e '.uplink_drs == [1, 2, 3, 4, 5, 6, 7] and .rx2 == {"frequency_hz": 505300000, "dr": 1}
  and (.rx1_dr[0] == {"uplink_dr": 1, "rx1_dr": [1, 1, 1, 1, 1, 1]})
  and (.default_channels | all(.min_dr == 1 and .max_dr == 5))' <("$BIN" region CN470)

# --- unknown name: exit 2, one line naming the choices, nothing on stdout
checks=$((checks + 1))
"$BIN" region XX915 > "$dir/out" 2> "$dir/err"
rc=$?
[ "$rc" -eq 2 ] || fail "unknown region: exit $rc, want 2"
[ "$(wc -l < "$dir/err")" -eq 1 ] || fail "unknown region: want one stderr line"
grep -q "unknown region 'XX915': expected one of EU868, US915" "$dir/err" || fail "unknown region: $(cat "$dir/err")"
[ ! -s "$dir/out" ] || fail "unknown region: printed to stdout"
checks=$((checks + 1))
"$BIN" region EU868 US915 > /dev/null 2>&1
[ $? -eq 2 ] || fail "two names: want exit 2"

# --- airtime and decode take every region
for r in $REGIONS; do
  ok jq -e --arg r "$r" '.region == $r and .dr == 3 and .time_on_air_ms > 0' \
    <("$BIN" airtime --region "$r" --dr 3 --payload 20)
  ok jq -e --arg r "$r" '.region == $r and .dev_addr == "49be7df1"' \
    <("$BIN" decode 40F17DBE4900020001954378762B11FF0D --region "$r")
done
ok jq -e '.sf == 8 and .bw_khz == 500 and .max_phy_payload == 255' <("$BIN" airtime --region US915 --dr 4 --payload 20)
checks=$((checks + 1))
"$BIN" airtime --region US915 --dr 5 --payload 20 > /dev/null 2> "$dir/err"
[ $? -eq 2 ] && grep -q "not a LoRa data rate of US915" "$dir/err" || fail "airtime LR-FHSS DR: $(cat "$dir/err")"
checks=$((checks + 1))
"$BIN" decode 00 --region XX > /dev/null 2> "$dir/err"
[ $? -eq 2 ] && grep -q "unknown region 'XX'" "$dir/err" || fail "decode bad region: $(cat "$dir/err")"

# --- serve: [network] region takes every name (the server comes up and says so)
for r in $REGIONS; do
  checks=$((checks + 1))
  printf '[server]\nudp_bind = 127.0.0.1:0\nhttp_bind = 127.0.0.1:0\ndatabase = %s\njournal =\n[network]\nregion = %s\n' \
    "$dir/db-$r.sqlite" "$r" > "$dir/s.ini"
  "$BIN" serve -c "$dir/s.ini" > /dev/null 2> "$dir/serve.err" &
  pid=$!
  up=0
  for _ in $(seq 1 100); do
    grep -q "serving $r:" "$dir/serve.err" && { up=1; break; }
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  kill "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  pid=
  [ "$up" -eq 1 ] || fail "serve region $r: $(head -3 "$dir/serve.err")"
done

# --- sim: a tiny OTAA fleet per region, offline; every device joins, frames arrive
cat > "$dir/tiny.json" <<'JSON'
{
  "region": "EU868", "seed": 3, "duration_s": 1800,
  "origin": {"lat": 55.7819, "lon": 12.5106},
  "gateways": [{"east_m": -1000, "north_m": -1000}, {"east_m": 1000, "north_m": -1000},
               {"east_m": 1000, "north_m": 1000}, {"east_m": -1000, "north_m": 1000}],
  "groups": [{"name": "g", "count": 5, "activation": "otaa", "dr": 2, "adr": "standard",
     "payload_bytes": 10, "confirmed_share": 0.5,
     "traffic": {"kind": "periodic", "period_s": 300, "jitter_s": 30},
     "placement": {"kind": "disc", "radius_m": 800}}]
}
JSON
for r in $REGIONS; do
  jq --arg r "$r" '.region = $r' "$dir/tiny.json" > "$dir/t.json"
  checks=$((checks + 1))
  timeout 120 "$BIN" sim "$dir/t.json" --quiet > "$dir/t.out" 2> "$dir/err" || { fail "sim $r: exit $? ($(cat "$dir/err"))"; continue; }
  jq -e --arg r "$r" '.region == $r and .joins.accepted == 5 and .delivery_ratio > 0.8
    and .downlinks.confirmed_acked > 0' "$dir/t.out" > /dev/null || fail "sim $r: $(cat "$dir/t.out" | head -c 400)"
done
# the scenario error names the regions
jq '.region = "XX"' "$dir/tiny.json" > "$dir/t.json"
checks=$((checks + 1))
"$BIN" sim "$dir/t.json" --quiet > /dev/null 2> "$dir/err"
[ $? -eq 1 ] && grep -q "region: expected one of EU868, US915, AU915" "$dir/err" || fail "sim bad region: $(cat "$dir/err")"

echo "test_region_cli: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
