#!/usr/bin/env bash
# Location with legacy gateway timing (issue 14 items 2 and 6): the simulator's
# scenarios/legacy-timing.json (1 us timestamps, us-class noise, a heavy late tail, one
# gateway 30 us off) located four ways in one run:
#   single frame:  plain unweighted least squares (bench/plain_fixes) against `nls`;
#   per device:    the mean of each static device's plain fixes against the joint solve
#                  (`solve --per-device`), uncalibrated and calibrated (`lorageo
#                  calibrate` on the first hour's frames, all devices, with truth; every
#                  figure is on the second hour's frames, which calibration never saw).
# Usage: bench/legacy_timing.sh [build/lorageo] [build/bench/plain_fixes] [SEED]  (Markdown)
set -eu
BIN=${1:-build/lorageo}
PLAIN=${2:-$(dirname "$BIN")/bench/plain_fixes}
SEED=${3:-14}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN" sim "$ROOT/scenarios/legacy-timing.json" --seed "$SEED" --out "$tmp/sim" --quiet --no-plots > /dev/null
# frames.jsonl times count from 2026-01-01T00:00:00Z; the first hour calibrates
split_ns=$((1767225600000000000 + 3600000000000))
jq -c --argjson s "$split_ns" 'select((.rx | map(.time_ns) | min) < $s)' "$tmp/sim/frames.jsonl" > "$tmp/cal.jsonl"
jq -c --argjson s "$split_ns" 'select((.rx | map(.time_ns) | min) >= $s)' "$tmp/sim/frames.jsonl" > "$tmp/test.jsonl"
# the static meters are d0..d11 (the scenario's first group)
jq -c 'select(.device | ltrimstr("d") | tonumber < 12)' "$tmp/test.jsonl" > "$tmp/static.jsonl"
"$BIN" calibrate -i "$tmp/cal.jsonl" -o "$tmp/cal.json" 2> /dev/null

"$PLAIN" < "$tmp/test.jsonl" > "$tmp/plain.jsonl" 2> /dev/null
"$BIN" solve -i "$tmp/test.jsonl" --sigma-ns 1000 > "$tmp/nls.jsonl"
"$BIN" solve -i "$tmp/test.jsonl" > "$tmp/nls_measured.jsonl"
"$BIN" solve -i "$tmp/test.jsonl" --calibration "$tmp/cal.json" > "$tmp/nls_cal.jsonl"
frames=$(wc -l < "$tmp/test.jsonl")
median() { jq -s 'map(select(.error_m != null) | .error_m) | sort | if length == 0 then null else .[length / 2 | floor] end' "$@"; }
located() { jq -s 'map(select(.error_m != null)) | length' "$@"; }
plain_med=$(median "$tmp/plain.jsonl")
nls_med=$(median "$tmp/nls.jsonl")

# per device: mean position of the plain fixes, error against the device's truth
jq -s -c 'map({key: .id, value: .truth}) | from_entries' "$tmp/static.jsonl" > "$tmp/truth_by_id.json"
jq -s -c --slurpfile t "$tmp/truth_by_id.json" '
  map(select(.device | ltrimstr("d") | tonumber < 12)) | group_by(.device) |
  map({device: .[0].device, lat: (map(.lat) | add / length), lon: (map(.lon) | add / length),
       truth: $t[0][.[0].id], frames: length})' "$tmp/plain.jsonl" > "$tmp/plain_mean.json"
# the mean's error by the haversine of the lorageo solve output is not at hand in jq:
# equirectangular over a few km is within centimetres of the geodesic
jq -c '.[] | {device, frames, error_m: ((((.lat - .truth.lat) * 111194.9) as $dn |
       ((.lon - .truth.lon) * 111194.9 * ((.truth.lat * 3.141592653589793 / 180) | cos)) as $de |
       ($dn * $dn + $de * $de) | sqrt))}' "$tmp/plain_mean.json" > "$tmp/plain_dev.jsonl"
"$BIN" solve -i "$tmp/static.jsonl" --per-device --sigma-ns 1000 | jq -c 'select(.device)' > "$tmp/joint.jsonl"
"$BIN" solve -i "$tmp/static.jsonl" --per-device --sigma-ns 1000 --calibration "$tmp/cal.json" |
  jq -c 'select(.device)' > "$tmp/joint_cal.jsonl"
mean() { jq -s 'map(.error_m) | add / length' "$@"; }
within() { jq -s "map(select(.error_m <= .$2)) | length" "$1"; }
pm=$(mean "$tmp/plain_dev.jsonl") jm=$(mean "$tmp/joint.jsonl") cm=$(mean "$tmp/joint_cal.jsonl")
pmed=$(median "$tmp/plain_dev.jsonl") jmed=$(median "$tmp/joint.jsonl") cmed=$(median "$tmp/joint_cal.jsonl")
ndev=$(jq -s length "$tmp/joint.jsonl")
gain() { jq -n "(1 - $2 / $1) * 100 | round"; }

echo "### Legacy gateway timing (scenarios/legacy-timing.json, seed $SEED)"
echo
echo "Test set: the second hour, $frames frames (static and moving); calibration: the first hour."
echo
echo "| single frame | located | median error |"
echo "|---|---|---|"
printf "| plain unweighted least squares | %s / %s | %.0f m |\n" "$(located "$tmp/plain.jsonl")" "$frames" "$plain_med"
printf "| \`nls\` (--sigma-ns 1000) | %s / %s | %.0f m |\n" "$(located "$tmp/nls.jsonl")" "$frames" "${nls_med:-0}"
printf "| \`nls\`, noise measured by solve (%s ns) | %s / %s | %.0f m |\n" \
  "$(jq -s '.[-1].summary.timing_sigma_ns' "$tmp/nls_measured.jsonl")" \
  "$(located "$tmp/nls_measured.jsonl")" "$frames" "$(median "$tmp/nls_measured.jsonl")"
printf "| \`nls\`, calibrated, noise measured | %s / %s | %.0f m |\n" \
  "$(located "$tmp/nls_cal.jsonl")" "$frames" "$(median "$tmp/nls_cal.jsonl")"
echo
echo "| per device ($ndev static meters) | mean error | median error | within accuracy_m | within accuracy_95_m | vs the mean of plain fixes |"
echo "|---|---|---|---|---|---|"
printf "| mean of plain fixes | %.0f m | %.0f m | - | - | - |\n" "$pm" "$pmed"
printf "| joint solve, uncalibrated | %.0f m | %.0f m | %s / %s | %s / %s | %s %% better |\n" "$jm" "$jmed" \
  "$(within "$tmp/joint.jsonl" accuracy_m)" "$ndev" "$(within "$tmp/joint.jsonl" accuracy_95_m)" "$ndev" "$(gain "$pm" "$jm")"
printf "| joint solve, calibrated | %.0f m | %.0f m | %s / %s | %s / %s | %s %% better |\n" "$cm" "$cmed" \
  "$(within "$tmp/joint_cal.jsonl" accuracy_m)" "$ndev" "$(within "$tmp/joint_cal.jsonl" accuracy_95_m)" "$ndev" "$(gain "$pm" "$cm")"
