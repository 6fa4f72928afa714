#!/usr/bin/env bash
# Do the radii hold where reflections hide? The simulated thesis site with fine timestamps
# (scenarios/thesis-dtu.json: 10 ns jitter, 5 % of receptions late by an exponential delay
# of mean 300 ns), each device's frames located by `solve --method nls` with the reflection
# model its pilot learns, and with Gaussian radii (--nlos-share 0), in the same run: the
# shares of fixes within accuracy_m (68 %) and accuracy_95_m, beyond 3x accuracy_95_m
# (issue 14: 0.6-0.8, 0.9-0.98, at most 2 %), mean and median error, what was learned.
# Usage: bench/reflection_honesty.sh [build/lorageo]   (prints Markdown)
set -eu
BIN=${1:-build/lorageo}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN" sim "$ROOT/scenarios/thesis-dtu.json" --out "$tmp/th" --quiet --no-plots > /dev/null
echo "| device | radii | learned share, delay | fixes | within accuracy_m | within accuracy_95_m | beyond 3x | mean / median error |"
echo "|---|---|---|---|---|---|---|---|"
for d in d0 d1 d2 d3; do
  grep "\"device\":\"$d\"" "$tmp/th/frames.jsonl" > "$tmp/$d.jsonl"
  for mode in model gaussian; do
    opt=""
    [ $mode = gaussian ] && opt="--nlos-share 0"
    # shellcheck disable=SC2086
    "$BIN" solve -i "$tmp/$d.jsonl" --method nls $opt |
      jq -rs --arg d "$d" --arg m "$mode" '
        (.[-1].summary) as $s | [.[0:-1][] | select(has("error_m"))] as $f | ($f | length) as $n |
        "| \($d) | \($m) | \(if $s.nlos_share then "\($s.nlos_share), \($s.nlos_delay_ns) ns" else "-" end) | \($n) | " +
        "\([$f[] | select(.error_m <= .accuracy_m)] | length / $n * 1000 | round / 1000) | " +
        "\([$f[] | select(.error_m <= .accuracy_95_m)] | length / $n * 1000 | round / 1000) | " +
        "\([$f[] | select(.error_m > 3 * .accuracy_95_m)] | length / $n * 1000 | round / 10) % | " +
        "\($s.mean_error_m | round) / \($s.median_error_m | round) m |"'
  done
done
