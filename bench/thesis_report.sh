#!/usr/bin/env bash
# The thesis' tables 5.2-5.7 (../shared/seeds/002_*.txt) re-run on the simulated DTU site:
# single-frame error (MALE) of lls, grid and nls at the three static spots, the
# per-device sample mean with and without GESD outlier rejection, and the samples and
# time needed for 50/100/500/1000 m (eq. 5.6, 5.11), for the microsecond-era gateways the
# thesis had and for modern fine-timestamp gateways.
# Usage: bench/thesis_report.sh [build/lorageo]   (prints Markdown)
set -eu
BIN=${1:-build/lorageo}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
spots=("d0:A Lyngby building" "d1:B Bagsvaerd" "d2:C Lyngby lake")

report() { # report SCENARIO TITLE
  local scn=$1 out="$tmp/$(basename "$1" .json)"
  "$BIN" sim "$scn" --out "$out" --quiet --no-plots > /dev/null
  local jitter=$(jq '.gateways[0].timing_jitter_ns' "$scn") fine=$(jq '.gateways[0].fine_timestamp' "$scn")
  echo "### $2"
  echo
  echo "| | ${spots[0]#*:} | ${spots[1]#*:} | ${spots[2]#*:} |"
  echo "|---|---|---|---|"
  for m in lls grid nls; do
    printf "| one frame, %s: MALE (median) |" "$m"
    for s in "${spots[@]}"; do
      awk -F, -v d="${s%%:*}" -v m=$m 'NR > 1 && $3 == m && "d" $2 == d { print $8 }' "$out/positions.csv" | sort -g |
        awk '{ a[NR] = $1; e += $1 } END { printf " %s |", NR ? sprintf("%.0f m (%.0f m), %d frames", e / NR, a[int((NR + 1) / 2)], NR) : "-" }'
    done
    echo
  done
  for m in lls grid nls; do
    for opt in --no-outlier-test --alpha=0.05; do
      label="all samples"; [ $opt = --alpha=0.05 ] && label="GESD outliers removed"
      what="sample mean of the TDOAs, $label"
      # with a time-of-arrival method and the test on, --per-device is the joint solve
      [ $m = nls ] && [ $opt = --alpha=0.05 ] && what="joint solve (robust weights)"
      printf "| %s, %s |" "$what" "$m"
      for s in "${spots[@]}"; do
        grep "\"device\":\"${s%%:*}\"" "$out/frames.jsonl" > "$tmp/spot.jsonl"
        "$BIN" solve -i "$tmp/spot.jsonl" --per-device --method $m $opt --sigma-ns "$jitter" |
          jq -r 'select(.device) | "\(.error_m | round) m (\(.outliers_removed) out)"' | tr -d '\n' | sed 's/^/ /; s/$/ |/'
      done
      echo
    done
  done
  # required samples and time: one TDOA series has sigma^2 = 2 (jitter^2 + quantisation^2 / 12)
  local sigma=$(awk -v j="$jitter" -v f="$fine" 'BEGIN { q = f == "true" ? 0 : 1000; printf "%.1f", sqrt(2 * (j * j + q * q / 12)) }')
  for d in 50 100 500 1000; do
    "$BIN" plan --target-m $d --sigma-ns "$sigma" --sf 7 --payload 23 --period-s 60 |
      jq -r --arg d $d '"| frames (and time at one a minute) for \($d) m, 95 % | \(.samples) (\(.time_s / 3600 | . * 10 | round / 10) h) | same | same |"'
  done
  echo
  echo "One TDOA series: sigma = $sigma ns. Per-spot frames: $(jq -c '[.groups[0:3][] | .messages_delivered]' "$out/summary.json") delivered."
  echo
}

echo "## Thesis tables on the simulated DTU site ($(date -u +%Y-%m-%d))"
echo
report "$ROOT/scenarios/thesis-dtu-us.json" "Microsecond-era gateways (thesis-dtu-us.json): 1.5 us jitter, fixed clock errors up to 1.2 us"
report "$ROOT/scenarios/thesis-dtu.json" "Fine-timestamp gateways (thesis-dtu.json): 10 ns jitter"
