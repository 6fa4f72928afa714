#!/usr/bin/env bash
# Issue 6's comparison: the E-ADR paper's four farm cases (scenarios/eadr-*.json) and a
# static fleet, each run with ADR off (fixed at the scenario's initial DR, as the paper
# starts), standard, eadr and predictive, seeded. Prints a Markdown table: time on air,
# energy (TX + receive windows, ns-3 currents at 3.3 V), messages delivered, lost, and
# overwritten while the device waited for its duty cycle.
# Usage: bench/adr_bench.sh [build/lorageo]
set -eu
BIN=${1:-build/lorageo}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/static.json" <<'JSON'
{"name": "static fleet", "region": "EU868", "seed": 5, "duration_s": 43200,
 "origin": {"lat": 55.78, "lon": 12.52},
 "gateways": [{"east_m": -1500, "north_m": -1500}, {"east_m": 1500, "north_m": -1500},
              {"east_m": 1500, "north_m": 1500}, {"east_m": -1500, "north_m": 1500}],
 "groups": [{"name": "meters", "count": 200, "activation": "abp", "dr": 0, "adr": "standard",
             "payload_bytes": 12, "traffic": {"kind": "periodic", "period_s": 900, "jitter_s": 60},
             "placement": {"kind": "disc", "radius_m": 2500}}],
 "channel": {"path_loss": {"sigma_db": 4}}, "collisions": {"model": "ns3"}}
JSON
echo "| case | ADR | air time (s) | energy (J) | delivered / messages | lost | overwritten (duty cycle) | ADR decisions |"
echo "|---|---|---|---|---|---|---|---|"
for s in "$ROOT"/scenarios/eadr-*.json "$tmp/static.json"; do
  for a in off standard eadr predictive; do
    jq ".groups[].adr = \"$a\"" "$s" > "$tmp/run.json"
    "$BIN" sim "$tmp/run.json" --quiet > "$tmp/out.json"
    jq -r --arg c "$(basename "$s" .json)" --arg a "$a" \
      '"| \($c) | \($a) | \(.air_time_s) | \(.energy_j) | \(.messages_delivered) / \(.messages) | \(.messages - .messages_delivered - .messages_overwritten) | \(.messages_overwritten) | \(.adr_decisions) |"' "$tmp/out.json"
  done
done
