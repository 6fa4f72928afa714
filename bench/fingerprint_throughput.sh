#!/usr/bin/env bash
# `lorageo solve --method fingerprint` end to end on a 70-gateway map of 10,000 training
# points (bench/fp_records.c, a seeded synthetic city): records per second on 1 thread
# and on all cores, best of 3 over 100,000 records, with the map's cells and the test
# set's median error. Target (issue 14): >= 20,000 records/s on 2 threads.
# Usage: bench/fingerprint_throughput.sh [build dir]
set -euo pipefail
B=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$B/bench/fp_records" --frames 10000 --seed 1 > "$tmp/train.jsonl"
"$B/bench/fp_records" --frames 100000 --seed 2 > "$tmp/test.jsonl"
"$B/lorageo" calibrate -i "$tmp/train.jsonl" -o "$tmp/cal.json" > /dev/null
n=$(wc -l < "$tmp/test.jsonl")
echo "map: $(jq -c '{radio_map_points, radio_map_cells}' "$tmp/cal.json"), test records: $n"
for th in 1 $(nproc); do
  best=999
  for run in 1 2 3; do
    s=$(date +%s%N)
    "$B/lorageo" solve -i "$tmp/test.jsonl" --method fingerprint --calibration "$tmp/cal.json" \
      --threads "$th" > "$tmp/out"
    e=$(date +%s%N)
    best=$(awk -v d="$((e - s))" -v b="$best" 'BEGIN { t = d / 1e9; print (t < b) ? t : b }')
  done
  awk -v th="$th" -v t="$best" -v n="$n" \
    'BEGIN { printf "solve --method fingerprint, %d thread(s): %.0f records/s (best of 3)\n", th, n / t }'
done
tail -n 1 "$tmp/out" | jq -c '.summary | {median_error_m, mean_error_m}'
