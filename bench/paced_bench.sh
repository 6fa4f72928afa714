#!/bin/sh
# Paced load (issue 15): RATE uplinks a second, each heard by 4 gateways, for SECONDS, from
# tests/tools/push_load (paced every millisecond, every PUSH_ACK matched to its uplink).
# Prints what was sent, acknowledged and stored, what the server shed and why, and the
# server's CPU per stored uplink. Offered more than it can take, the server should keep
# its plateau (no collapse) and count the excess as shed.
# usage: bench/paced_bench.sh BUILD_DIR RATE SECONDS [DATABASE]
#   e.g. bench/paced_bench.sh build 20000 10
#   DATABASE: a fresh SQLite file by default, or an empty PostgreSQL database's URI
#   (dropped and made again: postgresql:///paced).
#   Extra server settings through the environment (LORAGEO_MQTT_URL=..., LORAGEO_STORE_THREAD=0).
set -u
B=$(cd "$1" && pwd)
rate=$2 secs=$3 db=${4:-./l.db}
d=$(mktemp -d /tmp/paced.XXXXXX)
port=$((30000 + $(od -An -N2 -tu2 /dev/urandom) % 20000))
cd "$d" || exit 1
case $db in
postgres*)
  name=${db##*/}
  dropdb --if-exists "$name" >/dev/null 2>&1; createdb "$name" || exit 1 ;;
esac
"$B/tests/push_load" provision "$db" 1000 || exit 1
LORAGEO_SERVER_UDP_BIND=127.0.0.1:$port LORAGEO_SERVER_HTTP_BIND=127.0.0.1:$((port + 1)) \
  LORAGEO_SERVER_DATABASE=$db LORAGEO_SERVER_JOURNAL=$d/j.journal "$B/lorageo" serve 2> serve.log &
pid=$!
sleep 0.7
cpu() { awk '{print $14 + $15}' /proc/$pid/stat; }
c0=$(cpu)
t0=$(date +%s.%N)
"$B/tests/push_load" send 127.0.0.1:$port "$rate" "$secs" 1000 0 acked.txt > good.json
# until every journalled datagram is stored (the journal's lag at 0), at most 60 s
for i in $(seq 600); do
  lag=$(curl -s 127.0.0.1:$((port + 1))/metrics | awk '/^lorageo_journal_lag_records /{print $2}')
  [ "${lag:-1}" = 0 ] && break
  sleep 0.1
done
t1=$(date +%s.%N)
c1=$(cpu)
m=$(curl -s 127.0.0.1:$((port + 1))/metrics)
kill $pid
wait $pid
case $db in
postgres*) stored=$(psql -Atc 'select count(*) from uplinks' "$db") ;;
*) stored=$(sqlite3 "$db" 'select count(*) from uplinks') ;;
esac
hz=$(getconf CLK_TCK)
echo "offered $rate uplinks/s x 4 gateways for $secs s: $(cat good.json)"
echo "$m" | grep -E '^lorageo_(shed_total|rx_dropped_total|uplinks_total)' | grep -v " 0$" | tr '\n' ' '
echo
awk -v s="$stored" -v a="$(wc -l < acked.txt)" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" \
  -v hz="$hz" -v secs="$secs" 'BEGIN {
  printf "stored %d (acknowledged %d); stored per second of load %.0f; until stored %.1f s; server CPU %.0f us per stored uplink\n",
    s, a, s / secs, t1 - t0, (c1 - c0) / hz * 1e6 / (s > 0 ? s : 1) }'
case $db in
postgres*) psql -Atc "select dev_eui || '|' || f_cnt from uplinks" "$db" | sort > stored.txt ;;
*) sqlite3 "$db" "select dev_eui || '|' || f_cnt from uplinks" | sort > stored.txt
   ;;
esac
sort acked.txt > acked.s
echo "acknowledged and not stored: $(comm -23 acked.s stored.txt | wc -l); stored twice: $(uniq -d stored.txt | wc -l)"
cd /
[ -n "${KEEP:-}" ] && echo "kept $d" || rm -rf "$d"
