#!/usr/bin/env bash
# Fingerprinting on real data: the Antwerp LoRaWAN 2019 development split
# (../shared/data/antwerp-2019/, Aernouts et al., Data 3(2):13, 2018, CC BY 4.0; read in
# place, never copied). Two folds — odd lines train and even lines test, then the
# reverse — and every method on the same test frames in the same run: `fingerprint`,
# its kNN baseline on the same map, the RSSI-weighted centroid, and path-loss ranging
# (`rssi`) with the model calibrate fits. Prints one JSON line per method (pooled over
# both folds): median/mean/p90 error, and the shares of fixes within accuracy_m and
# accuracy_95_m; then fingerprint's median and mean over kNN's, from the unrounded errors
# (a ratio of rounded figures can claim a percent that is not there).
# Usage: bench/fingerprint_antwerp.sh [build/lorageo] [DATA.jsonl]
set -euo pipefail
BIN=${1:-build/lorageo}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${2:-$ROOT/../shared/data/antwerp-2019/val.jsonl}
[ -r "$DATA" ] || { echo "fingerprint_antwerp: no data at $DATA" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk 'NR % 2 == 1' "$DATA" > "$tmp/odd.jsonl"
awk 'NR % 2 == 0' "$DATA" > "$tmp/even.jsonl"
for fold in odd:even even:odd; do
  train=${fold%%:*} test=${fold##*:}
  "$BIN" calibrate -i "$tmp/$train.jsonl" -o "$tmp/cal-$train.json" > /dev/null
  for m in fingerprint knn centroid rssi; do
    "$BIN" solve -i "$tmp/$test.jsonl" --method $m --calibration "$tmp/cal-$train.json" |
      jq -c 'select(.error_m != null) | [.error_m, .accuracy_m, .accuracy_95_m]' >> "$tmp/$m.err"
  done
done
for m in fingerprint knn centroid rssi; do
  jq -s -c --arg m "$m" '
    (map(.[0]) | sort) as $e | length as $n |
    {method: $m, fixes: $n,
     median_m: ($e[($n / 2) | floor] | . * 10 | round / 10),
     mean_m: (($e | add) / $n | . * 10 | round / 10),
     p90_m: ($e[($n * 0.9) | floor] | . * 10 | round / 10),
     within_accuracy_m: (map(select(.[0] <= .[1])) | length / $n * 1000 | round / 1000),
     within_accuracy_95_m: (map(select(.[0] <= .[2])) | length / $n * 1000 | round / 1000)}' "$tmp/$m.err"
done
jq -n -c --slurpfile f "$tmp/fingerprint.err" --slurpfile k "$tmp/knn.err" '
  def med: sort | .[length / 2 | floor];
  def mean: add / length;
  ($f | map(.[0])) as $fe | ($k | map(.[0])) as $ke |
  {compare: "fingerprint / knn", median_ratio: (($fe | med) / ($ke | med)),
   mean_ratio: (($fe | mean) / ($ke | mean))}'
