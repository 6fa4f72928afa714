#!/bin/sh
# The packet path's promises (issue 15), against the real `lorageo serve` over UDP with a
# real SQLite database, driven by push_load (gateways that count their PUSH_ACKs):
#  - under 3,000 uplinks/s (x 4 gateways), SIGTERM and SIGKILL, restart: every acknowledged
#    uplink is stored, none twice; frames sent again after the restart are not stored;
#  - `lorageo replay JOURNAL` into a fresh database stores the same uplinks;
#  - 2,000 copies of one frame from one gateway: one uplink with one reception;
#  - (as root, with tmpfs) a full disk: /api/health 503, lorageo_store_errors_total counts,
#    and once space returns every acknowledged uplink is stored; the journal's disk full:
#    no PUSH_ACK at all.
# usage: test_journal.sh path/to/lorageo path/to/push_load   (RUNS=3 for three runs each)
set -u
BIN=$1
LOAD=$2
RUNS=${RUNS:-1}
RATE=${RATE:-3000}
DEVICES=1000
dir=$(mktemp -d /tmp/lg_journal.XXXXXX)
fail=0
pid=
base=$((20000 + $$ % 20000))
udp=127.0.0.1:$base
http=127.0.0.1:$((base + 1))

cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  if [ -n "${mnt:-}" ]; then umount "$mnt" 2>/dev/null; umount "$dir/jsmall" 2>/dev/null; fi
  rm -rf "$dir"
}
trap cleanup EXIT; [ -n "${KEEP:-}" ] && trap "" EXIT

ok() { echo "ok: $1"; }
ko() { echo "FAIL: $1"; fail=1; }
metric() { # the value of one metric line (exact name with labels), empty when absent
  curl -sf "http://$http/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
started=  # the ports are kept once a server has started on them (restarts reuse them)
start() { # start DB [extra env...]
  db=$1
  shift
  for attempt in 1 2 3 4 5; do
    lines=$(cat "$dir/serve.log" 2>/dev/null | wc -l)
    env LORAGEO_SERVER_UDP_BIND=$udp LORAGEO_SERVER_HTTP_BIND=$http LORAGEO_SERVER_DATABASE="$db" \
      "$@" "$BIN" serve 2>>"$dir/serve.log" &
    pid=$!
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      curl -sf "http://$http/metrics" > /dev/null && { started=1; return 0; }
      sleep 0.1
    done
    # another process holds a port (tests run side by side): other ports, before the first start
    if [ -z "$started" ] && tail -n +$((lines + 1)) "$dir/serve.log" | grep -q "Address already in use"; then
      wait "$pid" 2>/dev/null
      base=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 30000))
      udp=127.0.0.1:$base http=127.0.0.1:$((base + 1))
      continue
    fi
    break
  done
  ko "the server did not start"; tail -5 "$dir/serve.log"; return 1
}
caught_up() { # waits until the journal holds nothing unstored
  for _ in $(seq 300); do
    [ "$(metric lorageo_journal_lag_records)" = 0 ] && [ "$(metric lorageo_dedup_open_windows)" = 0 ] &&
      [ "$(metric lorageo_store_down)" = 0 ] && return 0
    sleep 0.1
  done
  ko "the journal was not caught up in 30 s (lag $(metric lorageo_journal_lag_records))"
}
stop() { # stop SIGNAL
  kill "-$1" "$pid"
  wait "$pid" 2>/dev/null
  pid=
}
sql() { sqlite3 "$1" "$2"; }
# check DB ACKED LABEL: every acknowledged uplink stored, none twice
check() {
  twice=$(sql "$1" "SELECT COUNT(*) FROM (SELECT 1 FROM uplinks GROUP BY dev_eui, f_cnt HAVING COUNT(*) > 1)")
  sql "$1" "CREATE TEMP TABLE acked (dev_eui TEXT, f_cnt INTEGER);" > /dev/null
  missing=$(printf '.mode list\n.separator |\nCREATE TABLE IF NOT EXISTS acked_t (dev_eui TEXT, f_cnt INTEGER);\nDELETE FROM acked_t;\n.import %s acked_t\nSELECT COUNT(*) FROM acked_t a WHERE NOT EXISTS (SELECT 1 FROM uplinks u WHERE u.dev_eui = a.dev_eui AND u.f_cnt = a.f_cnt);\n' "$2" | sqlite3 "$1")
  acked=$(wc -l < "$2")
  stored=$(sql "$1" "SELECT COUNT(*) FROM uplinks")
  recs=$(sql "$1" "SELECT COUNT(*) FROM receptions")
  if [ "$missing" = 0 ] && [ "$twice" = 0 ]; then
    ok "$3: $acked uplinks acknowledged, all stored ($stored uplinks, $recs receptions), none twice"
  else
    ko "$3: $acked acknowledged, $missing of them not stored, $twice stored twice"
  fi
}

# ---- SIGTERM and SIGKILL under load ---------------------------------------------------------
for sig in TERM KILL; do
  run=1
  while [ "$run" -le "$RUNS" ]; do
    db="$dir/$sig$run.db"
    "$LOAD" provision "$db" $DEVICES || ko "provisioning"
    start "$db" || break
    "$LOAD" send $udp "$RATE" 4 $DEVICES 0 "$dir/acked" > "$dir/load.json" &
    load=$!
    sleep 2
    open=$(metric lorageo_dedup_open_windows)
    stop "$sig"
    wait $load
    echo "  SIG$sig run $run: $(cat "$dir/load.json"), $open windows open at the signal"
    [ "$sig" = TERM ] && { grep "stopping:" "$dir/serve.log" | tail -1 | grep -q "drained" ||
      ko "SIGTERM: no log line saying what was drained"; }
    start "$db" || break
    caught_up
    check "$db" "$dir/acked" "SIG$sig run $run, restarted"
    # the same frames again (a replay of the first second): none may be stored
    before=$(sql "$db" "SELECT COUNT(*) FROM uplinks")
    "$LOAD" send $udp 3000 1 $DEVICES 0 "$dir/acked2" > /dev/null
    sleep 0.5
    after=$(sql "$db" "SELECT COUNT(*) FROM uplinks")
    replays=$(metric 'lorageo_rx_dropped_total{reason="replay"}')
    retrans=$(metric lorageo_retransmissions_total)
    again=$(wc -l < "$dir/acked2")
    if [ "$before" = "$after" ] && [ "$again" -gt 0 ] && [ $((replays + retrans)) -ge "$again" ]; then
      ok "SIG$sig run $run: $again frames sent again after the restart and acknowledged: none stored ($replays replays, $retrans retransmissions refused)"
    else
      ko "SIG$sig run $run: frames sent again: uplinks $before -> $after, $replays replays, $retrans retransmissions"
    fi
    stop TERM
    run=$((run + 1))
  done
done

# ---- one journal, one process -------------------------------------------------------------
start "$dir/TERM1.db" || exit 1
LORAGEO_SERVER_UDP_BIND=127.0.0.1:0 LORAGEO_SERVER_HTTP_BIND=127.0.0.1:0 \
  LORAGEO_SERVER_DATABASE="$dir/TERM1.db" "$BIN" serve 2>"$dir/err" &
second=$!
sleep 1
if ! kill -0 $second 2>/dev/null && grep -q "in use by another lorageo process" "$dir/err"; then
  ok "a second server on the same journal refused: $(cat "$dir/err")"
else
  kill -KILL $second 2>/dev/null
  ko "a second server on the same journal: $(cat "$dir/err")"
fi
stop TERM

# ---- lorageo replay JOURNAL into a fresh database ------------------------------------------
fresh="$dir/fresh.db"
"$LOAD" provision "$fresh" $DEVICES
out=$(LORAGEO_SERVER_DATABASE="$fresh" "$BIN" replay "$dir/TERM1.journal")
want=$(sql "$dir/TERM1.db" "SELECT COUNT(*) FROM uplinks")
got=$(sql "$fresh" "SELECT COUNT(*) FROM uplinks")
twice=$(sql "$fresh" "SELECT COUNT(*) FROM (SELECT 1 FROM uplinks GROUP BY dev_eui, f_cnt HAVING COUNT(*) > 1)")
if [ "$got" = "$want" ] && [ "$twice" = 0 ]; then
  ok "replay JOURNAL into a fresh database: $got uplinks as in the server's ($out)"
else
  ko "replay JOURNAL: $got uplinks (the server stored $want), $twice twice: $out"
fi
out2=$(LORAGEO_SERVER_DATABASE="$fresh" "$BIN" replay "$dir/TERM1.journal")
again=$(sql "$fresh" "SELECT COUNT(*) FROM uplinks")
[ "$again" = "$got" ] && ok "replay again: nothing stored twice ($out2)" ||
  ko "replay again: $got -> $again uplinks"
"$BIN" replay "$dir/nonexistent" 2>"$dir/err" && ko "replay of a missing journal succeeded" ||
  { grep -q "not a directory" "$dir/err" && ok "replay of a missing journal refused: $(cat "$dir/err")"; }

# ---- one gateway repeating one frame -------------------------------------------------------
db="$dir/repeat.db"
"$LOAD" provision "$db" 1
start "$db" LORAGEO_NETWORK_LATE_HORIZON_MS=1000 || exit 1
"$LOAD" repeat $udp 2000 1 > /dev/null
sleep 1.5
ups=$(sql "$db" "SELECT COUNT(*) FROM uplinks")
rxs=$(sql "$db" "SELECT COUNT(*) FROM receptions")
same=$(metric lorageo_same_gateway_copies_total)
if [ "$ups" = 1 ] && [ "$rxs" = 1 ]; then
  ok "2,000 copies from one gateway: 1 uplink, 1 reception ($same counted as same-gateway copies)"
else
  ko "2,000 copies from one gateway: $ups uplinks, $rxs receptions"
fi
stop TERM

# ---- a full disk (root and tmpfs only) ----------------------------------------------------
mnt=
if [ "$(id -u)" = 0 ] && mkdir -p "$dir/small" && mount -t tmpfs -o size=32m tmpfs "$dir/small" 2>/dev/null; then
  mnt="$dir/small"
  db="$mnt/full.db"
  "$LOAD" provision "$db" $DEVICES
  start "$db" LORAGEO_SERVER_JOURNAL="$dir/full.journal" || exit 1
  dd if=/dev/zero of="$mnt/filler" bs=64k 2>/dev/null # the disk is full now
  "$LOAD" send $udp 1000 3 $DEVICES 0 "$dir/acked" > "$dir/load.json"
  sleep 1.5
  code=$(curl -s -o "$dir/health" -w '%{http_code}' "http://$http/api/health")
  errors=$(metric lorageo_store_errors_total)
  if [ "$code" = 503 ] && grep -q '"error"' "$dir/health" && [ "${errors:-0}" -gt 0 ]; then
    ok "disk full: /api/health $code $(cat "$dir/health"), lorageo_store_errors_total $errors"
  else
    ko "disk full: /api/health $code $(cat "$dir/health"), lorageo_store_errors_total $errors"
  fi
  lines=$(grep -c "storage: .* failed" "$dir/serve.log")
  [ "$lines" -le 5 ] && ok "storage failures logged rate-limited ($lines lines for $errors failures)" ||
    ko "storage failures logged $lines times"
  rm -f "$mnt/filler" # space returns
  caught_up
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://$http/api/health")
  [ "$code" = 200 ] && ok "space back: /api/health 200" || ko "space back: /api/health $code"
  check "$db" "$dir/acked" "disk full, then space back: $(cat "$dir/load.json")"
  stop TERM
  # the journal's own disk full: nothing may be acknowledged
  mkdir -p "$dir/jsmall"
  if mount -t tmpfs -o size=1m tmpfs "$dir/jsmall"; then
    db="$dir/jfull.db"
    "$LOAD" provision "$db" $DEVICES
    start "$db" LORAGEO_SERVER_JOURNAL="$dir/jsmall/j" || exit 1
    dd if=/dev/zero of="$dir/jsmall/filler" bs=4k 2>/dev/null
    "$LOAD" send $udp 1000 1 $DEVICES 0 "$dir/acked" > "$dir/load.json"
    jerr=$(metric lorageo_journal_errors_total)
    acked=$(wc -l < "$dir/acked")
    if [ "$acked" = 0 ] && [ "${jerr:-0}" -gt 0 ]; then
      ok "journal's disk full: no PUSH_ACK sent ($(cat "$dir/load.json")), lorageo_journal_errors_total $jerr"
    else
      ko "journal's disk full: $acked acknowledged, lorageo_journal_errors_total $jerr"
    fi
    stop TERM
    umount "$dir/jsmall"
  fi
else
  echo "skip: the full-disk test needs root and tmpfs"
fi

[ $fail = 0 ] && echo "all journal tests passed"
exit $fail
