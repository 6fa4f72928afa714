#!/usr/bin/env bash
# scripts/pg.sh uses the port pg_lsclusters reports (issue 18: a Debian cluster on 5433,
# beside another PostgreSQL, failed every PostgreSQL test): with stand-ins for the
# PostgreSQL tools on PATH, it waits on and talks to that port and prints a URI that names
# it; on 5432 it prints postgresql:/// as before; a cluster it cannot read is an error.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pg=$here/../../scripts/pg.sh
checks=0 fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fake() { printf '#!/bin/sh\n%s\n' "$2" >"$tmp/bin/$1"; chmod +x "$tmp/bin/$1"; }
mkdir -p "$tmp/bin"
# every tool logs its arguments; the server "listens" only on the port in $tmp/port
fake pg_lsclusters 'echo "15 main $(cat '"$tmp"'/port) online postgres /var/lib/postgresql/15/main /var/log/x.log"'
fake pg_isready 'echo "pg_isready $*" >>'"$tmp"'/log; [ "$3" = "$(cat '"$tmp"'/port)" ]'
fake psql 'echo "psql $*" >>'"$tmp"'/log; case "$*" in *"-p $(cat '"$tmp"'/port) "*) echo 1 ;; *) exit 2 ;; esac'
fake runuser 'while [ "$1" != "--" ]; do shift; done; shift; exec "$@"'
fake sudo 'while [ "${1#-}" != "$1" ]; do shift 2; done; exec "$@"'
fake pg_ctlcluster 'exit 0'
for port in 5433 5432; do
  echo "$port" >"$tmp/port"
  : >"$tmp/log"
  out=$(PATH="$tmp/bin:$PATH" bash "$pg" 2>"$tmp/err")
  rc=$?
  want="postgresql://%2Fvar%2Frun%2Fpostgresql:$port/"
  [ "$port" = 5432 ] && want="postgresql:///"
  checks=$((checks + 1))
  [ "$rc" -eq 0 ] && [ "$out" = "$want" ] || fail "port $port: exit $rc, printed '$out', want '$want' ($(cat "$tmp/err"))"
  checks=$((checks + 1))
  grep -q "pg_isready -q -p $port" "$tmp/log" && ! grep -v -- "-p $port" "$tmp/log" | grep -q . ||
    fail "port $port: a tool was not pointed at the port: $(cat "$tmp/log")"
done
echo "x" >"$tmp/port"
checks=$((checks + 1))
PATH="$tmp/bin:$PATH" bash "$pg" >/dev/null 2>"$tmp/err" && fail "a cluster without a port was accepted"
grep -q "no port" "$tmp/err" || fail "no reason given: $(cat "$tmp/err")"
echo "test_pg_sh: $checks checks, $fails failed"
[ "$fails" -eq 0 ]
