#!/usr/bin/env bash
# `lorageo solve` end to end (read JSON lines, parse, locate, write JSON lines):
# records per second for 4 and 6 gateways, 1 thread and all cores, on seeded records.
# Target (issue 4): >= 100,000 records/s. Usage: bench/solve_throughput.sh [build dir]
set -euo pipefail
B=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for gw in 4 6; do
  "$B/tests/gen_records" --frames 100000 --gateways "$gw" --sigma-ns 50 > "$tmp/r$gw.jsonl"
  for th in 1 $(nproc); do
    best=999
    for run in 1 2 3; do
      s=$(date +%s%N)
      "$B/lorageo" solve -i "$tmp/r$gw.jsonl" --threads "$th" > "$tmp/out"
      e=$(date +%s%N)
      best=$(awk -v d="$((e - s))" -v b="$best" 'BEGIN { t = d / 1e9; print (t < b) ? t : b }')
    done
    awk -v gw="$gw" -v th="$th" -v t="$best" \
      'BEGIN { printf "solve: %d gateways, %d thread(s): %.0f records/s (best of 3, 100000 records)\n", gw, th, 100000 / t }'
  done
done
