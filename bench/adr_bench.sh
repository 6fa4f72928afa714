#!/usr/bin/env bash
# Issue 6's comparison, seeded, pooled over seeds (each farm case is one or two devices
# and 17-55 messages: one run says little).
#  1. The E-ADR paper's setting: its four farm cases (scenarios/eadr-*.json; the drone also
#     in line of sight, eadr-drone-los.json) with the
#     Waspmote modes of its Table I ("modes": "waspmote"), every device starting in mode 1,
#     `standard` as the paper's basic ADR (Semtech's algorithm deciding on each set of 20
#     frames, "adr_standard": "semtech"), eadr and predictive; off = mode 1 throughout;
#     predictive's devices with a profile target of 0.94 (`adr_target`: the paper accepts
#     their losses; the default for a mover, 0.985, buys more delivery with more air).
#  2. The same cases as a LoRaWAN network runs them today: EU868 data rates, `standard` as
#     ChirpStack runs it (deciding from the first uplink).
#  3. A static fleet (200 meters, 12 h), LoRaWAN, ChirpStack's standard; predictive once
#     more without being told the fleet is static ("adr_mobility": "classify", the server's
#     case).
#  4. The city of issue 20 (scenarios/adr-city.json: meters, walkers, vehicles, a drone),
#     predictive classifying each device's mobility; the last column scores its verdicts
#     against the simulator's mobility models.
# Columns: time on air (what was sent), time on air needed (the paper's count: every
# message at the settings of its moment, also those the duty cycle held back), energy
# (TX + receive windows at 3.3 V, the paper's eq. 7 without sleep), messages delivered,
# lost on the air, overwritten while waiting for the duty cycle (the farm counts it as the
# paper does: 36 s per hour), air time and energy per delivered message, and the ADR
# decisions (each is a LinkADRReq downlink).
# With a fourth argument, a directory: the DR over time of one run (the first seed) per
# case and algorithm in the paper's setting, as CASE-ADR.png (the simulator's dr.png).
# Usage: bench/adr_bench.sh [build/lorageo] [first-seed] [seeds] [plot-dir]
set -eu
BIN=${1:-build/lorageo}
S0=${2:-31}
NS=${3:-20}
PLOTS=${4:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run SCENARIO ADR EDIT FIRST-SEED SEEDS -> one table row, pooled over the seeds
run() {
  local s=$1 a=$2 edit=$3 k
  for ((k = $4; k < $4 + $5; k++)); do
    jq ".groups[].adr = \"$a\" | .seed = $k | $edit" "$s" > "$tmp/run.json"
    "$BIN" sim "$tmp/run.json" --quiet |
      jq -r '"\(.air_time_s) \(.energy_j) \(.messages_delivered) \(.messages) \(.messages_overwritten) \(.adr_decisions) \(.air_time_needed_s) \(.adr_mobility.verdicts // 0) \((.adr_mobility.static_correct // 0) + (.adr_mobility.moving_correct // 0))"'
  done | awk -v c="$(basename "$s" .json)" -v a="$a" '
    { air += $1; e += $2; d += $3; m += $4; o += $5; dec += $6; need += $7; v += $8; ok += $9 }
    END { printf "| %s | %s | %.1f | %.1f | %.2f | %d / %d (%.1f %%) | %d | %d | %.3f | %.4f | %d | %s |\n",
          c, a, air, need, e, d, m, 100 * d / m, m - d - o, o, air / d, e / d, dec,
          v ? sprintf("%.1f %% of %d", 100 * ok / v, v) : "-" }'
}

header() {
  echo "| case | ADR | air time (s) | air time needed (s) | energy (J) | delivered / messages | lost | overwritten | air time / delivered (s) | energy / delivered (J) | ADR decisions | mobility classified right |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
}

# farm TITLE EDIT: the four farm cases x the four algorithms
farm() {
  echo "### $1, seeds $S0-$((S0 + NS - 1)) pooled"
  echo
  header
  for s in "$ROOT"/scenarios/eadr-*.json; do
    for a in off standard eadr predictive; do
      run "$s" "$a" "$2" "$S0" "$NS"
    done
  done
  echo
}
farm "1. The paper's setting (Waspmote modes, mode 1 at the start, standard = Semtech's each 20 frames, predictive's profile target 0.94)" \
  '.modes = "waspmote" | .adr_standard = "semtech" | .groups[].dr = 0 | .groups[].adr_target = 0.94'
farm "2. The same cases on LoRaWAN data rates, standard = ChirpStack's" '.'
if [ -n "$PLOTS" ]; then
  mkdir -p "$PLOTS"
  for s in "$ROOT"/scenarios/eadr-*.json; do
    for a in off standard eadr predictive; do
      jq ".groups[].adr = \"$a\" | .seed = $S0 | .modes = \"waspmote\" | .adr_standard = \"semtech\" | .groups[].dr = 0 | .groups[].adr_target = 0.94" \
        "$s" > "$tmp/run.json"
      rm -rf "$tmp/out"
      "$BIN" sim "$tmp/run.json" --quiet --out "$tmp/out" > /dev/null
      cp "$tmp/out/dr.png" "$PLOTS/$(basename "$s" .json | sed 's/^eadr-//')-$a.png"
    done
  done
fi
echo "### 3. A static fleet: 200 meters in a 2.5 km disc, 4 gateways, 12 h, LoRaWAN, seeds $S0-$((S0 + 2)) pooled"
echo
header
for a in off standard eadr predictive; do
  run "$ROOT/scenarios/adr-static-fleet.json" "$a" '.' "$S0" 3
done
run "$ROOT/scenarios/adr-static-fleet.json" predictive '.adr_mobility = "classify"' "$S0" 3 |
  sed 's/| predictive |/| predictive, not told it is static |/'
echo
echo "### 4. The city (scenarios/adr-city.json): 361 devices, 9 gateways, 24 h, LoRaWAN; predictive classifies who moves; seed $S0"
echo
header
for a in off standard eadr predictive; do
  run "$ROOT/scenarios/adr-city.json" "$a" '.' "$S0" 1
done
