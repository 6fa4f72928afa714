#!/usr/bin/env bash
# The simulator's figures (issue 5): offline speed without geolocation, the city scenario
# (100 gateways, 100,000 devices, 24 h, 14.4 M uplinks) with geolocation, memory per
# simulated device, and live mode into one `lorageo serve`.
# Usage: bench/sim_bench.sh [build/lorageo] [--quick]
# --quick: the city for 2 simulated hours instead of 24 (the same per-uplink cost).
set -eu
BIN=${1:-build/lorageo}
QUICK=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
rss_kb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1; }

# 1. offline, no geolocation: 10,000 static devices, 4 gateways, one uplink per 10 min, 1 day
cat > "$tmp/speed.json" <<'EOF'
{"region": "EU868", "seed": 7, "duration_s": 86400, "origin": {"lat": 55.78, "lon": 12.52},
 "gateways": {"grid": {"rows": 2, "cols": 2, "spacing_m": 3000}},
 "groups": [{"count": 10000, "activation": "abp", "dr": "auto", "payload_bytes": 12,
             "traffic": {"kind": "periodic", "period_s": 600, "jitter_s": 30},
             "placement": {"kind": "disc", "radius_m": 3000}}]}
EOF
t0=$(now)
"$BIN" sim "$tmp/speed.json" --quiet > "$tmp/speed.out"
t1=$(now)
tx=$(jq .transmissions "$tmp/speed.out")
awk -v n="$tx" -v a="$t0" -v b="$t1" 'BEGIN { printf "offline, no geolocation: %d uplinks in %.2f s = %.2f M uplinks/s (target 1 M/s)\n", n, b - a, n / (b - a) / 1e6 }'

# 2. memory per simulated device: peak RSS at 100,000 vs 10,000 devices (one simulated minute)
jq '.duration_s = 60' "$tmp/speed.json" > "$tmp/m10k.json"
jq '.duration_s = 60 | .groups[0].count = 100000 | .groups[0].placement.radius_m = 3000' "$tmp/speed.json" > "$tmp/m100k.json"
a=$(rss_kb "$BIN" sim "$tmp/m10k.json" --quiet)
b=$(rss_kb "$BIN" sim "$tmp/m100k.json" --quiet)
awk -v a="$a" -v b="$b" 'BEGIN { printf "memory: %.0f bytes per simulated device (peak RSS %d kB at 10k, %d kB at 100k devices)\n", (b - a) * 1024 / 90000, a, b }'

# 3. the city scenario with geolocation (nls for every uplink heard by 3+ gateways)
hours=24
[ "$QUICK" = "--quick" ] && hours=2
t0=$(now)
"$BIN" sim "$ROOT/scenarios/city.json" --duration-s $((hours * 3600)) --quiet > "$tmp/city.out"
t1=$(now)
jq -c '{transmissions, delivery_ratio, fixes: .geolocation.nls.fixes, median_m: .geolocation.nls.median_m, p90_m: .geolocation.nls.p90_m}' "$tmp/city.out"
awk -v n="$(jq .transmissions "$tmp/city.out")" -v f="$(jq .geolocation.nls.fixes "$tmp/city.out")" -v a="$t0" -v b="$t1" -v h=$hours \
  'BEGIN { printf "city (100 gateways, 100,000 devices, %d h): %d uplinks, %d located, in %.1f s wall = %.0f uplinks/s (target: 14.4 M in 120 s)\n", h, n, f, b - a, n / (b - a) }'

# 4. live mode into one server: 6,000 ABP devices every 2.5 s (2,400 uplinks/s offered) (a class A device waits out its
#    RX2 window, ~2.3 s, before sending again) through 4 gateways, 20 s
port=$((30000 + RANDOM % 20000))
LORAGEO_SERVER_UDP_BIND=127.0.0.1:$port LORAGEO_SERVER_HTTP_BIND=127.0.0.1:$((port + 1)) \
  LORAGEO_SERVER_DATABASE="$tmp/live.db" "$BIN" serve > "$tmp/serve.log" 2>&1 &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$((port + 1))/api/health" > /dev/null && break; sleep 0.1; done
cat > "$tmp/live.json" <<'EOF'
{"region": "EU868", "seed": 9, "duration_s": 20, "origin": {"lat": 55.78, "lon": 12.52},
 "gateways": {"grid": {"rows": 2, "cols": 2, "spacing_m": 2000, "paths": 0}},
 "groups": [{"count": 6000, "activation": "abp", "dr": 5, "payload_bytes": 10,
             "traffic": {"kind": "periodic", "period_s": 2.5}, "placement": {"kind": "disc", "radius_m": 800}}],
 "collisions": {"model": "none"}, "duty_cycle": false}
EOF
"$BIN" sim "$tmp/live.json" --server 127.0.0.1:$port --api http://127.0.0.1:$((port + 1)) --quiet > "$tmp/live.out"
sleep 1
stored=$(curl -s "http://127.0.0.1:$((port + 1))/metrics" | awk '$1 == "lorageo_uplinks_total" { print $2 }')
jq -c '{transmissions, delivered: .transmissions_delivered, live: {push_data_sent: .live.push_data_sent, push_acks: .live.push_acks}}' "$tmp/live.out"
awk -v n="$(jq .transmissions_delivered "$tmp/live.out")" -v s="$stored" \
  'BEGIN { printf "live: %d uplinks in 20 simulated = wall seconds: %.0f uplinks/s sent, server stored %d (%.1f %%) (target 2,000/s)\n", n, n / 20, s, 100 * s / n }'
