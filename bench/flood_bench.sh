#!/bin/sh
# A flood of worthless frames beside good traffic (issue 15): peak resident memory of the
# server, good uplinks stored, work shed by reason.
# usage: bench/flood_bench.sh BUILD_DIR KIND FLOOD_RATE GOOD_RATE SECONDS
#   KIND: mic (provisioned DevAddrs, wrong MIC), unknown (DevAddrs nobody has), join
#   e.g. bench/flood_bench.sh build mic 15000 3000 15
set -u
B=$(cd "$1" && pwd)
kind=$2 flood=$3 good=$4 secs=$5
d=$(mktemp -d /tmp/flood.XXXXXX)
port=$((30000 + $(od -An -N2 -tu2 /dev/urandom) % 20000))
cd "$d" || exit 1
"$B/tests/push_load" provision ./l.db 1000
LORAGEO_SERVER_UDP_BIND=127.0.0.1:$port LORAGEO_SERVER_HTTP_BIND=127.0.0.1:$((port + 1)) \
  LORAGEO_SERVER_DATABASE=./l.db "$B/lorageo" serve 2> serve.log &
pid=$!
sleep 0.5
echo "idle: $(grep VmRSS /proc/$pid/status)"
"$B/tests/push_load" flood 127.0.0.1:$port "$flood" "$secs" "$kind" > flood.json &
f=$!
"$B/tests/push_load" send 127.0.0.1:$port "$good" "$secs" 1000 0 acked.txt > good.json
wait $f
sleep 2.5
echo "flood $(cat flood.json); good $(cat good.json)"
grep -E "VmHWM" /proc/$pid/status
curl -s 127.0.0.1:$((port + 1))/metrics |
  grep -E '^lorageo_(shed|uplinks|rx_dropped_total\{reason="(mic|unknown_device)|gateway_datagrams)' |
  grep -v " 0$"
kill $pid
wait $pid
echo "good uplinks stored: $(sqlite3 l.db 'select count(*) from uplinks') of $((good * secs))"
cd /
rm -rf "$d"
