#!/usr/bin/env bash
# Fingerprinting on real data (issue 14): the Antwerp development split, read in place from
# ../shared/data/antwerp-2019/ (skipped, exit 77, where a machine does not have it). Runs
# bench/fingerprint_antwerp.sh and holds its figures to the issue's targets: fingerprint
# median <= 160 m and mean <= 280 m, at least 20 % better than the kNN baseline on the
# median and 20 % better on the mean (by the unrounded ratios the benchmark prints: median
# <= 0.6 x kNN's and mean <= 0.8 x kNN's; the map before the frame's common offset and
# the sharpened posterior, 0.586 / 0.808, failed the second, and before the refined
# cross-validation 0.8001 did; the fix over the 20 best cells passed it by 0.001 m at
# 0.548 / 0.79999, the fix over every cell within a thousandth of the best gives 0.589 /
# 0.789), far better than the centroid, and every method's radii holding 0.6-0.8 (68 %)
# and 0.9-0.98 (95 %) of fixes (rssi's 95 % excepted: see docs/geolocation.md).
# Usage: test_fingerprint_antwerp.sh LORAGEO
set -uo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=$ROOT/../shared/data/antwerp-2019/val.jsonl
[ -r "$DATA" ] || { echo "SKIP: no Antwerp data at $DATA"; exit 77; }
out=$("$ROOT/bench/fingerprint_antwerp.sh" "$BIN" "$DATA") || { echo "FAIL: the benchmark"; exit 1; }
echo "$out"
fails=0
check() { # check NAME JQ
  if echo "$out" | jq -s -e "$2" > /dev/null; then echo "ok: $1"; else echo "FAIL: $1"; fails=$((fails + 1)); fi
}
m() { echo "map(select(.method == \"$1\"))[0]"; }
check "fingerprint median <= 160 m" "$(m fingerprint).median_m <= 160"
check "fingerprint mean <= 280 m" "$(m fingerprint).mean_m <= 280"
check "fingerprint median >= 20 % under kNN's" "$(m fingerprint).median_m <= 0.8 * $(m knn).median_m"
check "fingerprint mean under kNN's" "$(m fingerprint).mean_m < $(m knn).mean_m"
check "fingerprint median <= 0.6 x kNN's (unrounded)" "map(select(.compare))[0].median_ratio <= 0.6"
check "fingerprint mean <= 0.8 x kNN's (unrounded)" "map(select(.compare))[0].mean_ratio <= 0.8"
check "fingerprint median under half the centroid's" "$(m fingerprint).median_m < 0.5 * $(m centroid).median_m"
check "every fix located" "$(m fingerprint).fixes == 8306 and $(m knn).fixes == 8306"
for meth in fingerprint knn centroid rssi; do
  check "$meth: 0.6-0.8 within accuracy_m" "$(m $meth).within_accuracy_m | . >= 0.6 and . <= 0.8"
done
for meth in fingerprint knn centroid; do
  check "$meth: 0.9-0.98 within accuracy_95_m" "$(m $meth).within_accuracy_95_m | . >= 0.9 and . <= 0.98"
done
echo "test_fingerprint_antwerp: $fails failed"
exit $((fails > 0))
