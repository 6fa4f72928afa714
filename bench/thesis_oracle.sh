#!/usr/bin/env bash
# How far a single-frame method can go on the simulated thesis site (issue 14: "no method's
# mean error more than 3x its median"). The simulator knows which receptions came by a
# reflected path (transmissions.csv: each reception's timestamp error); a solver does not.
# For each spot and method this prints the mean / median of the single-frame error as it is,
# then as an oracle would have it: every four-gateway frame with a late reception refused
# (a residual shows that one is late, not always which), then also every three-gateway
# frame with one (no residual can show it: three times always meet). What is left over
# after the oracle is the geometry's and the noise's share, which no single-frame method
# removes. A reception counts as late when its timestamp error exceeds 40 ns (4x the
# jitter).
# Usage: bench/thesis_oracle.sh [build/lorageo] [scenario]   (prints Markdown)
set -eu
BIN=${1:-build/lorageo}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCN=${2:-$ROOT/scenarios/thesis-dtu.json}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN" sim "$SCN" --out "$tmp" --quiet --no-plots > /dev/null
echo "| spot | method | frames | as solved: mean / median | 4-gw late refused | and 3-gw late refused |"
echo "|---|---|---|---|---|---|"
awk -F, '
  function ratio(n, sum, arr,   m, med, i, j, t) {
    if (n == 0) return "-"
    for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j + 1] = arr[j]; arr[j + 1] = t }
    med = n % 2 ? arr[(n + 1) / 2] : (arr[n / 2] + arr[n / 2 + 1]) / 2
    m = sum / n
    return sprintf("%.1f / %.1f m (%.1fx), %d", m, med, med > 0 ? m / med : 0, n)
  }
  NR == FNR {
    if (FNR > 1 && $17 == 1) {
      k = split($18, rx, "|"); late[$1 "," $2] = 0
      for (i = 1; i <= k; i++) { split(rx[i], f, ":"); if (f[4] + 0 > 40) late[$1 "," $2] = 1 }
    }
    next
  }
  FNR > 1 && $2 < 3 {
    key = $2 " " $3; if (!(key in seen)) { seen[key] = 1; order[++nk] = key }
    l = late[$1 "," $2]; e = $8 + 0
    a[key, ++na[key]] = e; sa[key] += e
    if (!(l && $9 >= 4)) { b[key, ++nb[key]] = e; sb[key] += e }
    if (!l) { c[key, ++nc[key]] = e; sc[key] += e }
  }
  END {
    spot[0] = "A"; spot[1] = "B"; spot[2] = "C"
    for (o = 1; o <= nk; o++) {
      key = order[o]; split(key, kk, " ")
      delete x; for (i = 1; i <= na[key]; i++) x[i] = a[key, i]; r1 = ratio(na[key], sa[key], x)
      delete x; for (i = 1; i <= nb[key]; i++) x[i] = b[key, i]; r2 = ratio(nb[key], sb[key], x)
      delete x; for (i = 1; i <= nc[key]; i++) x[i] = c[key, i]; r3 = ratio(nc[key], sc[key], x)
      printf "| %s | %s | %d | %s | %s | %s |\n", spot[kk[1]], kk[2], na[key], r1, r2, r3
    }
  }' "$tmp/transmissions.csv" "$tmp/positions.csv" | sort -t'|' -k2,2 -k3,3
