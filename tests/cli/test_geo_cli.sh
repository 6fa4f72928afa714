#!/usr/bin/env bash
# `lorageo solve`, `calibrate` and `plan` end to end on seeded records from
# gen_records (known truth): accuracy against bounds that follow from the noise, the
# per-device aggregation, NLOS rejection, calibration recovering the generator's
# offsets, the Kalman track, and every bad input answered without stopping.
# Usage: test_geo_cli.sh path/to/lorageo path/to/gen_records
set -u
BIN=${1:?lorageo}
GEN=${2:?gen_records}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 checks=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
# check NAME JQ-FILTER FILE : the filter (over the whole file, slurped) is true.
check() {
  checks=$((checks + 1))
  jq -e -s "$2" "$3" >/dev/null || fail "$1: '$2' is false; $(tail -n 1 "$3")"
}

# --- one frame at a time: 6 gateways, 50 ns noise. The CRLB there is ~12 m DRMS.
"$GEN" --frames 2000 --gateways 6 --sigma-ns 50 > "$tmp/r.jsonl"
"$BIN" solve -i "$tmp/r.jsonl" > "$tmp/nls.jsonl" || fail "solve exit $?"
check "one line per record + summary" 'length == 2001' "$tmp/nls.jsonl"
check "all located by nls" '[.[] | select(.method == "nls")] | length == 2000' "$tmp/nls.jsonl"
check "median error" '.[-1].summary.median_error_m < 15' "$tmp/nls.jsonl"
check "accuracy estimate honest (>= 90 % within 2 DRMS)" \
  '[.[0:2000][] | select(.error_m <= 2 * .accuracy_m)] | length >= 1800' "$tmp/nls.jsonl"
check "contract keys" '.[0] | has("id") and has("lat") and has("lon") and has("method") and has("accuracy_m") and has("gdop") and has("gateways_used")' "$tmp/nls.jsonl"
# stdin and one thread give the same answers
"$BIN" solve --threads 1 < "$tmp/r.jsonl" > "$tmp/nls1.jsonl"
checks=$((checks + 1)); cmp -s "$tmp/nls.jsonl" "$tmp/nls1.jsonl" || fail "threads change the output"

# the thesis' methods on the same frames: nls is better than both
head -n 300 "$tmp/r.jsonl" > "$tmp/r300.jsonl"
"$BIN" solve -i "$tmp/r300.jsonl" --method lls > "$tmp/lls.jsonl"
head -n 40 "$tmp/r.jsonl" > "$tmp/r40.jsonl" # the grid search is slow by design
"$BIN" solve -i "$tmp/r40.jsonl" --method grid --grid-step 10 > "$tmp/grid.jsonl"
"$BIN" solve -i "$tmp/r40.jsonl" --method nls > "$tmp/nls40.jsonl"
"$BIN" solve -i "$tmp/r300.jsonl" --method nls > "$tmp/nls300.jsonl"
"$BIN" solve -i "$tmp/r300.jsonl" --method rssi > "$tmp/rssi.jsonl"
check "lls ran" '.[-1].summary.fixes == 300' "$tmp/lls.jsonl"
check "grid ran" '.[-1].summary.fixes == 40 and .[-1].summary.median_error_m < 60' "$tmp/grid.jsonl"
jq -s '.[-1].summary.mean_error_m' "$tmp/nls300.jsonl" > "$tmp/m_nls"
check "nls beats lls" ".[-1].summary.mean_error_m > $(cat "$tmp/m_nls")" "$tmp/lls.jsonl"
jq -s '.[-1].summary.mean_error_m' "$tmp/nls40.jsonl" > "$tmp/m_nls40"
check "nls beats grid" ".[-1].summary.mean_error_m > $(cat "$tmp/m_nls40")" "$tmp/grid.jsonl"
check "rssi is km-class, not wild" '.[-1].summary.median_error_m < 3000' "$tmp/rssi.jsonl"

# --- reflections: 1 reception in 6 late by 200-600 ns
"$GEN" --frames 1000 --gateways 6 --sigma-ns 20 --nlos-rate 0.167 --nlos-ns 400 --seed 7 > "$tmp/nlos.jsonl"
"$BIN" solve -i "$tmp/nlos.jsonl" > "$tmp/robust.jsonl"
"$BIN" solve -i "$tmp/nlos.jsonl" --no-robust > "$tmp/plain.jsonl"
jq -s '.[-1].summary.median_error_m' "$tmp/plain.jsonl" > "$tmp/m_plain"
check "robust median <= half of plain" ".[-1].summary.median_error_m <= 0.5 * $(cat "$tmp/m_plain")" "$tmp/robust.jsonl"
check "late receptions named" '[.[0:1000][] | select((.excluded | length) > 0)] | length > 300' "$tmp/robust.jsonl"
# reflections four gateways cannot always show: the pilot learns their share and delay
# (gen_records: 5 % late by 150-450 ns) and the 95 % radius holds again. These delays end
# at 450 ns where the model's exponential goes on, so the radii may err wide by a little
# here (up to 0.99); test_geo_honesty holds 0.98 with exponential delays.
"$GEN" --frames 3000 --gateways 4 --sigma-ns 10 --nlos-rate 0.05 --nlos-ns 300 --seed 9 > "$tmp/refl.jsonl"
"$BIN" solve -i "$tmp/refl.jsonl" > "$tmp/refl_model.jsonl"
"$BIN" solve -i "$tmp/refl.jsonl" --nlos-share 0 > "$tmp/refl_off.jsonl"
check "reflection model learned" '.[-1].summary | (.nlos_share > 0.03 and .nlos_share < 0.08 and .nlos_delay_ns > 200 and .nlos_delay_ns < 400)' "$tmp/refl_model.jsonl"
check "--nlos-share 0: no model" '.[-1].summary | has("nlos_share") | not' "$tmp/refl_off.jsonl"
share95() { jq -s '[.[0:-1][] | select(has("error_m"))] | ([.[] | select(.error_m <= .accuracy_95_m)] | length) / length' "$1"; }
check "95 % radius holds with the model" "$(share95 "$tmp/refl_model.jsonl") >= 0.9 and $(share95 "$tmp/refl_model.jsonl") <= 0.99" "$tmp/refl_model.jsonl"
check "and fell short without it" "$(share95 "$tmp/refl_off.jsonl") < 0.9" "$tmp/refl_off.jsonl"
"$BIN" solve -i "$tmp/refl.jsonl" --nlos-share 0.05 --nlos-delay-ns 300 > "$tmp/refl_given.jsonl"
check "a given model is used, not learned" '.[-1].summary | has("nlos_share") | not' "$tmp/refl_given.jsonl"
r95() { jq -s '[.[0:-1][] | select(has("accuracy_95_m")) | .accuracy_95_m] | add / length' "$1"; }
check "a given model widens the radii" "$(r95 "$tmp/refl_given.jsonl") > 1.2 * $(r95 "$tmp/refl_off.jsonl")" "$tmp/refl_given.jsonl"
check "a given model holds its radii" "$(share95 "$tmp/refl_given.jsonl") >= 0.9" "$tmp/refl_given.jsonl"

# --- static devices: 10 devices x 200 frames, GESD + sample mean (thesis 5.1)
"$BIN" solve -i "$tmp/r.jsonl" --per-device > "$tmp/dev.jsonl"
check "one line per device" '[.[] | select(has("device"))] | length == 10' "$tmp/dev.jsonl"
check "per-device error < 5 m" '[.[] | select(has("device")) | .error_m < 5] | all' "$tmp/dev.jsonl"
check "frames counted" '[.[] | select(has("device")) | .frames == 200] | all' "$tmp/dev.jsonl"
"$BIN" solve -i "$tmp/nlos.jsonl" --per-device > "$tmp/devnlos.jsonl"
check "outliers removed under NLOS" '[.[] | select(has("device")) | .outliers_removed] | add > 50' "$tmp/devnlos.jsonl"
check "per-device under NLOS < 10 m" '[.[] | select(has("device")) | .error_m < 10] | all' "$tmp/devnlos.jsonl"

# --- calibration: offsets of +-150 ns, found again
"$GEN" --frames 3000 --gateways 6 --sigma-ns 30 --offsets --seed 11 > "$tmp/off.jsonl" 2> "$tmp/truth.json"
"$BIN" calibrate -i "$tmp/off.jsonl" -o "$tmp/cal.json" || fail "calibrate exit $?"
checks=$((checks + 1))
jq -e -n --slurpfile c "$tmp/cal.json" --slurpfile t "$tmp/truth.json" \
  '[$t[0].gateway_offsets_ns | to_entries[] | (.value - $c[0].gateway_offsets_ns[.key]) | fabs < 3] | all' >/dev/null \
  || fail "calibrated offsets differ from the generator's by 3 ns or more"
check "path loss recovered" '.[0].path_loss | (.exponent - 2.32 | fabs) < 0.1 and (.pl0_db - 128.95 | fabs) < 1' "$tmp/cal.json"
"$BIN" solve -i "$tmp/off.jsonl" > "$tmp/uncal.jsonl"
"$BIN" solve -i "$tmp/off.jsonl" --calibration "$tmp/cal.json" > "$tmp/cal_solve.jsonl"
jq -s '.[-1].summary.mean_error_m' "$tmp/uncal.jsonl" > "$tmp/m_uncal"
check "calibration improves the mean error by 30 %" ".[-1].summary.mean_error_m < 0.7 * $(cat "$tmp/m_uncal")" "$tmp/cal_solve.jsonl"

# --- a moving device: 5 m/s, a frame every 5 s (3 km in all); the track finds the speed
"$GEN" --frames 120 --devices 1 --gateways 6 --sigma-ns 30 --speed 5 --period-s 5 --seed 3 > "$tmp/move.jsonl"
"$BIN" solve -i "$tmp/move.jsonl" --track > "$tmp/track.jsonl"
check "all frames located" '.[-1].summary.fixes == 120' "$tmp/track.jsonl"
check "speed tracked" '[.[80:120][] | .speed_mps] | (add / length) | (. > 4.5 and . < 5.5)' "$tmp/track.jsonl"
check "track smoother than fixes" '([.[60:120][] | .error_m] | add) > 0' "$tmp/track.jsonl"

# --- per-device mode auto: three static devices and a car in one file, told apart
"$GEN" --frames 600 --devices 3 --gateways 6 --sigma-ns 50 --seed 5 > "$tmp/mix.jsonl"
"$GEN" --frames 120 --devices 1 --gateways 6 --sigma-ns 50 --speed 5 --period-s 5 --seed 5 \
  --device-prefix car >> "$tmp/mix.jsonl"
"$BIN" solve -i "$tmp/mix.jsonl" --per-device --mode auto > "$tmp/auto.jsonl"
check "static devices found static" '[.[] | select(.device? // "" | startswith("dev")) | .mode == "static" and .error_m < 5] | all and length == 3' "$tmp/auto.jsonl"
check "the car found mobile" '[.[] | select(.device? == "car00") | .mode == "mobile" and .speed_mps > 0] | all and length == 1' "$tmp/auto.jsonl"

# --- planner: the thesis' example (SF7, 14 bytes, LDRO on): 56.576 ms, 5.6576 s a frame
"$BIN" plan --target-m 100 --sigma-ns 1000 --payload 14 --ldro on > "$tmp/plan.json"
check "plan time on air" '.[0].time_on_air_ms == 56.576 and (.[0].seconds_per_frame * 1e4 | round) == 56576' "$tmp/plan.json"
check "plan samples (1.96 * 1000 / 333.56)^2 -> 35" '.[0].samples == 35' "$tmp/plan.json"

# --- bad input: each record answered, nothing stops
printf '%s\n' '{"id":"a","rx":[]}' 'garbage' '{"id":"b","rx":[{"lat":100,"lon":0}]}' \
  '{"id":"c","rx":[{"lat":1,"lon":0,"time_ns":1.5e18}]}' '' '[1,2]' '{"id":"e"} x' \
  "$(head -n 1 "$tmp/r.jsonl")" '{"id":"f","rx":[{"lat":"x","lon":0}]}' > "$tmp/bad.jsonl"
"$BIN" solve -i "$tmp/bad.jsonl" > "$tmp/bad_out.jsonl"; rc=$?
checks=$((checks + 1)); [ $rc -eq 0 ] || fail "bad records changed the exit status ($rc)"
check "one answer per non-blank line" 'length == 9' "$tmp/bad_out.jsonl"
check "errors name the field" '[.[] | select(.id == "b") | .error | test("lat")] | all' "$tmp/bad_out.jsonl"
check "time_ns as real refused" '[.[] | select(.id == "c") | .error | test("integer")] | all' "$tmp/bad_out.jsonl"
check "good record still located" '[.[] | select(.id == "f0") | .method == "nls"] | all' "$tmp/bad_out.jsonl"
check "line numbers for records without id" '[.[] | select(.line == 2)] | length == 1' "$tmp/bad_out.jsonl"

bad_cli() {
  checks=$((checks + 1))
  "$BIN" "$@" > /dev/null 2> "$tmp/err"; local rc=$?
  [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] || fail "$*: exit $rc, stderr $(cat "$tmp/err")"
}
bad_cli solve --method magic
bad_cli solve --sigma-ns -1
bad_cli solve -i /nonexistent
bad_cli solve --calibration /nonexistent
bad_cli solve --per-device --track
bad_cli solve --per-device --mode sometimes
bad_cli solve --nlos-delay-ns 300
bad_cli solve --nlos-share 0.05
bad_cli solve --nlos-share 0.5 --nlos-delay-ns 300
bad_cli calibrate -i /nonexistent
echo '{"id":"x","rx":[]}' > "$tmp/notruth.jsonl"
bad_cli calibrate -i "$tmp/notruth.jsonl"
bad_cli plan --target-m 100
bad_cli plan --target-m 100 --sigma-ns 10 --confidence 1.5

echo "test_geo_cli: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
