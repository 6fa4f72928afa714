/*
 * Does this device move? Told from what a network server sees of it, nothing else (the
 * question Vangelista et al. answer on a real network: a device's mobility class from
 * network-server data alone). Three witnesses, strongest first:
 *   - its positions: a static device's fixes scatter about one point by their stated
 *     accuracy; a mover's spread far beyond it (the median distance from the median
 *     point against the median accuracy);
 *   - its RSSI at each gateway, in time order: for a static device every uplink draws a
 *     fresh fade about a fixed mean, so successive values differ as much as any two do
 *     (von Neumann's ratio of the mean squared successive difference to twice the
 *     variance is 1); a mover's mean drifts, so successive values are closer than the
 *     spread (the ratio falls, by more than the sampling noise 1/sqrt(k) allows), or the
 *     spread is more than fading gives;
 *   - which gateways hear it: a static device's gateways come and go at random (fades at
 *     the edge of reach); a mover's come and go in runs (Wald-Wolfowitz: fewer runs of
 *     heard / not heard than chance makes).
 * Too little to go on (fewer than LG_ADR_MOB_MIN uplinks, no gateway heard often enough):
 * unknown, and the caller keeps what it knew.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "adr/adr_int.h"
#include "util/util.h"

#define FIX_MIN        4   /* fixes for the position test */
#define FIX_SPREAD     1.5 /* median distance > this x the median accuracy + FIX_SLACK_M */
#define FIX_SLACK_M    25.0
#define RSSI_MIN       5    /* receptions of a gateway for its RSSI to count */
#define Z_MOVING       3.0  /* the tests together below -this sigmas: moving */
#define RSSI_SPREAD_DB 12.0 /* a gateway's RSSI spread above this: more than fading gives */

/* One test's verdict as a z-score: negative says motion; `valid` false when it had too
 * little to go on. */
struct ztest {
  bool valid;
  double z;
};

/*
 * The positions. A static device's fixes scatter about one point, each fix's error drawn
 * afresh (a reflection or a three-gateway frame's wrong root now and then): the median
 * distance from the median point stays within the median accuracy, and successive fixes
 * differ as much as any two (von Neumann's ratio on the coordinates is 1). A mover's
 * fixes spread beyond their accuracy (*far), or follow each other (the ratio falls).
 */
static struct ztest by_fixes(const struct lg_adr_input *in, bool *far, char *why, size_t len) {
  size_t n = in->n_fixes < LG_ADR_HISTORY ? in->n_fixes : LG_ADR_HISTORY;
  const struct lg_adr_fix *f = in->fixes + (in->n_fixes - n);
  if (n < FIX_MIN) return (struct ztest){false, 0};
  double e[LG_ADR_HISTORY], no[LG_ADR_HISTORY], d[LG_ADR_HISTORY], acc[LG_ADR_HISTORY];
  size_t na = 0;
  for (size_t i = 0; i < n; i++) {
    e[i] = f[i].e_m, no[i] = f[i].n_m;
    if (f[i].accuracy_m > 0) acc[na++] = f[i].accuracy_m;
  }
  double me = lg_median(e, n), mn = lg_median(no, n), ss = 0, succ = 0;
  for (size_t i = 0; i < n; i++) {
    d[i] = hypot(f[i].e_m - me, f[i].n_m - mn);
    ss += d[i] * d[i];
    if (i) succ += pow(f[i].e_m - f[i - 1].e_m, 2) + pow(f[i].n_m - f[i - 1].n_m, 2);
  }
  double md = lg_median(d, n), ma = na ? lg_median(acc, na) : 50,
         limit = FIX_SPREAD * ma + FIX_SLACK_M;
  *far = md > limit;
  double k = 2.0 * (double)(n - 1), z = ss > 0 ? (succ / 2 / ss - 1) * sqrt(k) : 0;
  snprintf(why, len,
           "%zu fixes %.0f m from their median point (moving above %.0f), successive z %.1f", n, md,
           limit, z);
  return (struct ztest){true, z};
}

/* The RSSI at each gateway and which gateways hear it (above); *wide: a gateway's spread
 * is more than fading gives. */
static struct ztest by_rssi(const struct lg_adr_input *in, bool *wide, char *why, size_t len) {
  double sum_sq = 0, sum_succ = 0, spread_max = 0;
  size_t k = 0, gws = 0;
  double runs = 0, runs_mean = 0, runs_var = 0; /* Wald-Wolfowitz, pooled over gateways */
  /* only the uplinks sent at the latest settings: at another data rate or power other
   * gateways hear it, and other fades are heard (an ADR change is not motion) */
  size_t from = in->n;
  while (from > 0 && in->history[from - 1].dr == in->history[in->n - 1].dr &&
         in->history[from - 1].tx_power_index == in->history[in->n - 1].tx_power_index)
    from--;
  if (in->n - from < LG_ADR_MOB_MIN) {
    snprintf(why, len, "%zu uplinks at the latest settings (%d needed for the RSSI)", in->n - from,
             LG_ADR_MOB_MIN);
    return (struct ztest){false, 0};
  }
  for (int g = 0; g < LG_ADR_MAX_GW; g++) {
    double x[LG_ADR_HISTORY];
    bool heard[LG_ADR_HISTORY];
    size_t m = 0, n = 0;
    for (size_t i = from; i < in->n && n < LG_ADR_HISTORY; i++, n++) {
      const struct lg_adr_uplink *u = &in->history[i];
      heard[n] = false;
      for (int j = 0; j < u->n_rx; j++)
        if (u->rx[j].gateway == g) {
          x[m++] = u->rx[j].rssi_dbm - adr_tx_power_dbm(in, u->tx_power_index);
          heard[n] = true;
          break;
        }
    }
    if (m == 0) continue;
    if (m < n && m > 0) { /* heard in some uplinks only: count its runs */
      double n1 = (double)m, n0 = (double)(n - m), nn = (double)n;
      double r = 1;
      for (size_t i = 1; i < n; i++)
        r += heard[i] != heard[i - 1];
      runs += r;
      runs_mean += 2 * n1 * n0 / nn + 1;
      runs_var += 2 * n1 * n0 * (2 * n1 * n0 - nn) / (nn * nn * (nn - 1));
    }
    if (m < RSSI_MIN) continue;
    double mean = 0, ss = 0, succ = 0;
    for (size_t i = 0; i < m; i++)
      mean += x[i] / (double)m;
    for (size_t i = 0; i < m; i++)
      ss += (x[i] - mean) * (x[i] - mean);
    for (size_t i = 1; i < m; i++)
      succ += (x[i] - x[i - 1]) * (x[i] - x[i - 1]);
    sum_sq += ss, sum_succ += succ / 2, k += m - 1, gws++;
    double sd = sqrt(ss / (double)(m - 1));
    if (sd > spread_max) spread_max = sd;
  }
  *wide = spread_max > RSSI_SPREAD_DB;
  if (gws == 0 && runs_var <= 0) return (struct ztest){false, 0};
  /* each test as a z-score, combined as Stouffer's */
  double z_ratio = k && sum_sq > 0 ? (sum_succ / sum_sq - 1) * sqrt((double)k) : 0;
  double z_runs = runs_var > 0 ? (runs - runs_mean) / sqrt(runs_var) : 0;
  int tests = (k && sum_sq > 0) + (runs_var > 0);
  double z = (z_ratio + z_runs) / sqrt((double)tests);
  snprintf(why, len,
           "RSSI at %zu gateway(s): successive/overall z %.1f, gateway runs z %.1f; spread up to "
           "%.1f dB (moving above %.0f)",
           gws, z_ratio, z_runs, spread_max, RSSI_SPREAD_DB);
  return (struct ztest){true, z};
}

int lg_adr_classify_mobility(const struct lg_adr_input *in, struct lg_adr_mobility *out) {
  out->cls = LG_ADR_MOB_UNKNOWN;
  out->classified = true;
  out->why[0] = '\0';
  if (in->n < LG_ADR_MOB_MIN) {
    snprintf(out->why, sizeof(out->why), "%zu uplinks (%d needed)", in->n, LG_ADR_MOB_MIN);
    return 0;
  }
  char a[96] = "", b[128] = "";
  bool wide = false, far = false;
  struct ztest f = by_fixes(in, &far, a, sizeof(a)), r = by_rssi(in, &wide, b, sizeof(b));
  int tests = f.valid + r.valid;
  double z = tests ? ((f.valid ? f.z : 0) + (r.valid ? r.z : 0)) / sqrt((double)tests) : 0;
  if (far || wide || (tests && z < -Z_MOVING))
    out->cls = LG_ADR_MOB_MOBILE;
  else if (tests)
    out->cls = LG_ADR_MOB_STATIC;
  if (tests) {
    snprintf(out->why, sizeof(out->why), "z %.1f (moving below -%.0f)%s; %s%s%s", z, Z_MOVING,
             far    ? ", fixes far apart"
             : wide ? ", RSSI spread beyond fading"
                    : "",
             a, *a && *b ? "; " : "", b);
    return 0;
  }
  snprintf(out->why, sizeof(out->why), "%s%s%s", a, *a && *b ? "; " : "", b);
  return 0;
}

const char *lg_adr_mobility_name(enum lg_adr_mobility_class c) {
  return c == LG_ADR_MOB_STATIC ? "static" : c == LG_ADR_MOB_MOBILE ? "mobile" : "unknown";
}
