#!/usr/bin/env bash
# Runs the libFuzzer harnesses (clang, ASan+UBSan) for SECONDS each (default 60) and
# merges new coverage into tests/fuzz/corpus/, which every test run replays.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
cmake -S . -B build-fuzz -DLG_FUZZ=ON -DLG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_phy fuzz_mac
for h in phy mac; do
  work=$(mktemp -d)
  ./build-fuzz/tests/fuzz_$h -max_total_time="$secs" -max_len=256 "$work" tests/fuzz/corpus/$h
  ./build-fuzz/tests/fuzz_$h -merge=1 tests/fuzz/corpus/$h "$work"
  rm -rf "$work"
done
