#!/usr/bin/env bash
# Ingest across engines and instances (issue 8): `ns_load` (every uplink heard by 4 of 8
# gateways, stored with its receptions and located) on SQLite with one instance, then on
# PostgreSQL with one instance alone, and with 1, 2 and 3 instances sharing PostgreSQL and a
# Redis this script starts (each instance holds every n-th gateway, as behind a UDP load
# balancer). Each PostgreSQL run gets a fresh database.
# Usage: bench/cluster_bench.sh [build] [uplinks=20000] [devices=1000]
set -eu
BUILD=${1:-build}
N=${2:-20000}
DEVICES=${3:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
pg=$("$ROOT/scripts/pg.sh" | tail -n 1)
[ -n "$pg" ] || { echo "cluster_bench: PostgreSQL is not installed (scripts/setup.sh)" >&2; exit 1; }
port=$((22000 + RANDOM % 5000))
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
admin="${pg%/}/postgres"
# PostgreSQL instances share one key-encryption key ([security] kek_file, docs/security.md)
if [ -z "${LORAGEO_SECURITY_KEK_FILE:-}" ]; then
  export LORAGEO_SECURITY_KEK_FILE=$(mktemp)
  od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$LORAGEO_SECURITY_KEK_FILE"
fi
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; } # user nice system irq softirq

run() { # label database [instances redis]
  local label=$1 db=$2
  shift 2
  local out b0 b1
  b0=$(busy)
  out=$("$BUILD/bench/ns_load" "$BUILD/lorageo" "$N" "$DEVICES" "$db" "$@")
  b1=$(busy)
  echo "$out" | sed 's/^/    /' >&2
  local ups acc srv
  ups=$(echo "$out" | awk '/^uplinks_per_s/ { print $2 }')
  acc=$(echo "$out" | awk '/^uplinks_accepted/ { print $2 }')
  srv=$(echo "$out" | awk '/^server_cpu_us_per_uplink/ { print $2 }')
  # the machine's CPU over the whole run (load generator, PostgreSQL, Redis included)
  printf "| %-36s | %9s | %5s of %s | %10s | %12s |\n" "$label" "$ups" "$acc" "$N" "$srv" \
    "$(awk -v d=$((b1 - b0)) -v n="$acc" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", d / hz * 1e6 / n }')"
}
fresh_pg() { # a new, empty database; its URI
  local name="lorageo_bench_$$_$1"
  psql "$admin" -qc "DROP DATABASE IF EXISTS $name" >/dev/null
  psql "$admin" -qc "CREATE DATABASE $name" >/dev/null
  echo "${pg%/}/$name"
}
echo "| setup                                | uplinks/s | accepted | lorageo CPU µs/uplink | machine CPU µs/uplink |"
echo "|--------------------------------------|----------:|----------|----------:|----------:|"
run "SQLite, 1 instance" -
run "PostgreSQL, 1 instance (no Redis)" "$(fresh_pg 0)"
for k in 1 2 3; do
  redis-cli -p "$port" flushall >/dev/null
  run "PostgreSQL + Redis, $k instance(s)" "$(fresh_pg "$k")" "$k" "redis://127.0.0.1:$port"
done
for k in 0 1 2 3; do psql "$admin" -qc "DROP DATABASE IF EXISTS lorageo_bench_$$_$k" >/dev/null; done
