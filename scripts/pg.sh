#!/usr/bin/env bash
# Starts the machine's PostgreSQL (Debian's cluster, installed by scripts/setup.sh) for
# the test suite if it is not running, gives the current user a role that may create
# databases, and prints the URI the tests use (each test creates its own database).
# Prints nothing (and the PostgreSQL runs are skipped) where PostgreSQL is not installed.
set -euo pipefail
command -v pg_lsclusters >/dev/null 2>&1 || exit 0
read -r ver name _ status _ < <(pg_lsclusters -h | head -n 1) || exit 0
[ -n "${ver:-}" ] || exit 0
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}
if [ "$status" != "online" ]; then
  if [ "$(id -u)" -eq 0 ]; then pg_ctlcluster "$ver" "$name" start >&2; else sudo pg_ctlcluster "$ver" "$name" start >&2; fi
fi
# wait until it accepts connections (a fresh start takes a moment)
for _ in $(seq 50); do pg_isready -q && break; sleep 0.2; done
user=$(id -un)
as_postgres psql -qAtc "SELECT 1 FROM pg_roles WHERE rolname = '$user'" | grep -q 1 ||
  as_postgres psql -qc "CREATE ROLE \"$user\" LOGIN CREATEDB" >&2
echo "postgresql:///"
