#!/usr/bin/env bash
# Runs lorageo's whole test suite: builds with warnings as errors and runs CTest (unit
# tests with published vectors, the CLI contract, the lora-packet cross-check, the
# fuzz corpora). `scripts/test.sh --sanitize` does the same in an ASan+UBSan build
# (clang) in ./build-asan. Expects scripts/setup.sh to have run once.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build-test
args=(-DLG_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  args=(-DLG_WERROR=ON -DLG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # the sanitizers slow the server 2-3x: the live simulator compresses time less, so the
  # RX1 window (1 s / speed) keeps the margin it has in the normal build
  export LORAGEO_TEST_SPEED=2
  # the fleet's week: its scores are not asserted under the sanitizers, only its paths run
  # (LORAGEO_TEST_*: the one prefix the server does not take for a configuration key)
  export LORAGEO_TEST_FLEET_SPEED=5000
fi
# PostgreSQL: the end-to-end tests run a second time against it (scripts/pg.sh starts it)
pg=$(scripts/pg.sh | tail -n 1)
case "$pg" in postgresql://*|"") ;; *) echo "scripts/pg.sh printed '$pg', not a URI" >&2; exit 1 ;; esac
cmake -S . -B "$dir" "${args[@]}" -DLORAGEO_TEST_PG="$pg" >/dev/null
cmake --build "$dir" -j"$(nproc)"
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"
