#!/usr/bin/env bash
# Runs the libFuzzer harnesses (clang, ASan+UBSan) for SECONDS each (default 60) and
# merges new coverage into tests/fuzz/corpus/, which every test run replays (ctest's
# fuzz_corpus_* tests). The harnesses: phy (PHYPayload), mac (MAC commands), record
# (`solve` records), udp (Semtech UDP datagrams), ns (datagrams through the whole network
# server), http (raw HTTP requests through libmicrohttpd into the API), config (the INI
# configuration), station (LoRa Basics Station messages), fleet (a device's configuration
# report, a desired configuration, alarm thresholds). Usage: scripts/fuzz.sh [SECONDS] [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(phy mac record udp ns http config station fleet)
cmake -S . -B build-fuzz -DLG_FUZZ=ON -DLG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${harnesses[@]/#/fuzz_}"
for h in "${harnesses[@]}"; do
  work=$(mktemp -d)
  case $h in http | config | station) max_len=4096 ;; *) max_len=256 ;; esac # requests and files are longer
  ./build-fuzz/tests/fuzz_$h -max_total_time="$secs" -max_len=$max_len "$work" tests/fuzz/corpus/$h
  ./build-fuzz/tests/fuzz_$h -merge=1 tests/fuzz/corpus/$h "$work"
  rm -rf "$work"
done
