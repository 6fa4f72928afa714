#!/usr/bin/env bash
# Starts the machine's PostgreSQL (Debian's cluster, installed by scripts/setup.sh) for
# the test suite if it is not running, gives the current user a role that may create
# databases, and prints the URI the tests use (each test creates its own database).
# Prints nothing (and the PostgreSQL runs are skipped) where PostgreSQL is not installed.
# The cluster's port is the one pg_lsclusters reports (Debian gives a second cluster, or a
# cluster installed beside another PostgreSQL, 5433 or above): 5432 gives postgresql:///,
# another port postgresql://%2Fvar%2Frun%2Fpostgresql:PORT/ (the same Unix socket
# directory, that port).
set -euo pipefail
command -v pg_lsclusters >/dev/null 2>&1 || exit 0
read -r ver name port status _ < <(pg_lsclusters -h | head -n 1) || exit 0
[ -n "${ver:-}" ] || exit 0
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}
if [ "$status" != "online" ]; then
  if [ "$(id -u)" -eq 0 ]; then pg_ctlcluster "$ver" "$name" start >&2; else sudo pg_ctlcluster "$ver" "$name" start >&2; fi
fi
# wait until it accepts connections (a fresh start takes a moment)
case "$port" in ''|*[!0-9]*) echo "pg.sh: pg_lsclusters gave no port for $ver/$name" >&2; exit 1 ;; esac
for _ in $(seq 50); do pg_isready -q -p "$port" && break; sleep 0.2; done
user=$(id -un)
as_postgres psql -p "$port" -qAtc "SELECT 1 FROM pg_roles WHERE rolname = '$user'" | grep -q 1 ||
  as_postgres psql -p "$port" -qc "CREATE ROLE \"$user\" LOGIN CREATEDB" >&2
if [ "$port" = 5432 ]; then
  echo "postgresql:///"
else
  echo "postgresql://%2Fvar%2Frun%2Fpostgresql:$port/"
fi
