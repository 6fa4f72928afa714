#!/usr/bin/env bash
# `lorageo solve` when one of six gateways has a clock microseconds off (a drifting or
# jumping clock, a forged timestamp): records per second, one thread, against the same
# records with every clock right, in one run (the ratio is what counts on a shared
# machine), with the median error and how often the bad gateway was excluded.
# Usage: bench/gross_timing.sh [build dir]
set -euo pipefail
B=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=20000
"$B/tests/gen_records" --frames "$n" --gateways 6 --sigma-ns 50 > "$tmp/clean.jsonl"
base=
for off in 0 2000 20000 200000 2000000; do
  jq -c --argjson o "$off" '.rx[0].time_ns += $o' "$tmp/clean.jsonl" > "$tmp/in.jsonl"
  best=999
  for run in 1 2 3; do
    s=$(date +%s%N)
    "$B/lorageo" solve -i "$tmp/in.jsonl" --threads 1 > "$tmp/out.jsonl"
    e=$(date +%s%N)
    best=$(awk -v d="$((e - s))" -v b="$best" 'BEGIN { t = d / 1e9; print (t < b) ? t : b }')
  done
  rate=$(awk -v t="$best" -v n="$n" 'BEGIN { printf "%.0f", n / t }')
  [ -n "$base" ] || base=$rate
  jq -rs --arg off "$off" --arg rate "$rate" --arg base "$base" '
    [.[] | select(.error_m != null)] as $f | ($f | map(.error_m) | sort) as $e |
    "gateway gw0 \($off | tonumber / 1000) us off: \($rate) records/s (\(($rate | tonumber) / ($base | tonumber) * 100 | floor) % of all clocks right), " +
    "median error \($e[($e | length / 2 | floor)]) m, gw0 excluded in \([$f[] | select((.excluded // []) | index("gw0"))] | length) of \($f | length)"' \
    "$tmp/out.jsonl"
done
