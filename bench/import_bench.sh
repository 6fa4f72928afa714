#!/bin/sh
# Bulk import of a fleet's inventory (issue 19): N devices (default 10,000; OTAA and ABP
# alternating, tags, hardware and firmware) in ONE call of POST /api/devices/import against
# a fresh `lorageo serve` on SQLite, as JSON and as CSV; then the same file again (every row
# refused: nothing written), and the export back. Prints one JSON line per run with the
# wall time of the call (curl's time_total). Target: 10,000 devices under 10 s.
# Usage: bench/import_bench.sh path/to/lorageo [N]
set -eu
BIN=${1:?usage: import_bench.sh path/to/lorageo [N]}
N=${2:-10000}
DIR=$(mktemp -d)
PORT=$((22000 + $$ % 2000))
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
python3 - "$N" "$DIR" <<'EOF'
import json, sys
n, d = int(sys.argv[1]), sys.argv[2]
rows, lines = [], ["dev_eui,name,join_eui,app_key,dev_addr,nwk_s_key,app_s_key,hardware,firmware,tags"]
for i in range(n):
    for base, out in ((0x70b3d5e7a0000000, rows), (0x70b3d5e7b0000000, None)):
        eui = "%016x" % (base + i)
        key = "%032x" % (0x2b7e151628aed2a6abf7158809cf4f3c + i)
        tags = {"site": "site-%d" % (i % 50), "batch": "b%d" % (i // 1000)}
        if out is not None:
            o = {"dev_eui": eui, "name": "m-%d" % i, "hardware": "meter-v2", "firmware": "1.4.%d" % (i % 7), "tags": tags}
            if i % 2: o.update(join_eui="70b3d5e75e0000ff", app_key=key)
            else: o.update(dev_addr="%08x" % (0x26000000 + i), nwk_s_key=key, app_s_key=key)
            out.append(o)
        else:
            t = ";".join("%s=%s" % kv for kv in tags.items())
            if i % 2: lines.append("%s,m-%d,70b3d5e75e0000ff,%s,,,,meter-v2,1.4.%d,%s" % (eui, i, key, i % 7, t))
            else: lines.append("%s,m-%d,,,%08x,%s,%s,meter-v2,1.4.%d,%s" % (eui, i, 0x27000000 + i, key, key, i % 7, t))
json.dump({"devices": rows}, open(d + "/fleet.json", "w"))
open(d + "/fleet.csv", "w").write("\n".join(lines) + "\n")
EOF
LORAGEO_SERVER_DATABASE=$DIR/bench.db LORAGEO_SERVER_HTTP_BIND=127.0.0.1:$PORT \
  LORAGEO_SERVER_UDP_BIND=127.0.0.1:$((PORT + 1)) LORAGEO_SERVER_JOURNAL= \
  LORAGEO_GEO_LEARNED= "$BIN" serve 2>"$DIR/serve.log" &
PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null && break; sleep 0.1; done
run() { # what, content type, file
  out=$(curl -s -o "$DIR/answer" -w '%{http_code} %{time_total} %{size_upload}' -X POST \
        -H "Content-Type: $2" --data-binary "@$3" "http://127.0.0.1:$PORT/api/devices/import")
  set -- "$1" $out
  echo "{\"run\": \"$1\", \"devices\": $N, \"status\": $2, \"seconds\": $3, \"bytes\": $4, \"answer\": $(head -c 300 "$DIR/answer" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}"
}
run json application/json "$DIR/fleet.json"
run csv text/csv "$DIR/fleet.csv"
run json_again_refused application/json "$DIR/fleet.json"
t=$(curl -s -o "$DIR/export.csv" -w '%{time_total}' "http://127.0.0.1:$PORT/api/devices/export?format=csv")
echo "{\"run\": \"export_csv\", \"devices\": $(($(wc -l < "$DIR/export.csv") - 1)), \"seconds\": $t}"
