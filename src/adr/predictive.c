/*
 * `predictive` — lorageo's own mobility-aware ADR. Where E-ADR extrapolates the last
 * three positions and compares one RSSI with fixed mode bounds, this one asks the
 * question ADR is for: which is the fastest data rate, at the lowest power, at which the
 * next uplink will still be heard with the target probability (0.99)?
 *   - position at the next uplink: a constant-velocity Kalman track of the device's fixes
 *     (geo/), extrapolated by the uplink period, kept inside the device's area;
 *   - RSSI at every gateway from the device's own fitted log-distance model, with its
 *     residual spread plus the position's uncertainty turned into dB;
 *   - P(heard) = Phi((RSSI_best - floor_DR) / sigma), the best gateway's RSSI predicted at
 *     the distance of the nearest one (the model is fitted to best-gateway RSSIs);
 *   - with keep_locatable, a moving device also keeps P(3+ gateways hear) >= 0.9;
 *   - the first (DR, power) from fastest/lowest that reaches the target; none: DR0 at full
 *     power. NbTrans 1.
 * When positions are poor (fewer than two fixes, no gateways, no calibration, or the
 * predicted position uncertain by more than half the distance to the nearest gateway) it
 * falls back to `standard`.
 */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adr/adr_int.h"
#include "geo/geo.h"
#include "util/util.h"

#define ACCEL_SIGMA 0.05 /* m/s^2 of the track; manoeuvres show in its misses (below) */

/* Without usable positions: standard ADR once it has a full history (a static device
 * one gateway hears is still served), otherwise keep the settings. */
static void fallback(const struct lg_adr_input *in, struct lg_adr_decision *out, const char *why) {
  if (in->n < LG_ADR_HISTORY) {
    out->next = in->current;
    out->change = false;
    snprintf(out->reason, sizeof(out->reason), "predictive: %s; keeping the settings (%zu uplinks)",
             why, in->n);
    return;
  }
  adr_standard(in, out);
  char r[sizeof(out->reason)];
  snprintf(r, sizeof(r), "predictive: %.40s; standard: %.180s", why, out->reason);
  memcpy(out->reason, r, sizeof(r));
}

/* P(at least k of the n gateways hear), each independently with probability p[g]
 * (Poisson binomial, by dynamic programming over the gateways). */
static double p_at_least(const double *p, size_t n, size_t k) {
  double dp[LG_ADR_MAX_GW + 1] = {1};
  for (size_t g = 0; g < n; g++) {
    for (size_t j = g + 1; j >= 1; j--)
      dp[j] = dp[j] * (1 - p[g]) + dp[j - 1] * p[g];
    dp[0] *= 1 - p[g];
  }
  double sum = 0;
  for (size_t j = k; j <= n; j++)
    sum += dp[j];
  return sum;
}

/* Folds fix f into the track unless it cannot be right: outside the device's area, or
 * (once the track has settled) far off its prediction; three-gateway TDOA sometimes picks
 * the wrong branch of the hyperbolas. Keeps the statistics of the track's misses. */
static void track_fix(const struct lg_adr_input *in, struct lg_track *t, const struct lg_adr_fix *f,
                      size_t *used, double *innov, size_t *k_innov) {
  if (in->has_bounds && (f->e_m < in->bounds[0] - 20 || f->e_m > in->bounds[2] + 20 ||
                         f->n_m < in->bounds[1] - 20 || f->n_m > in->bounds[3] + 20))
    return;
  if (t->started && *used >= 2) {
    double h = (double)(f->t_ns - t->t_ns) / 1e9;
    double de = f->e_m - (t->x[0] + t->x[2] * h), dn = f->n_m - (t->x[1] + t->x[3] * h);
    double miss2 = de * de + dn * dn,
           spread = t->p[0][0] + t->p[1][1] + h * h * (t->p[2][2] + t->p[3][3]);
    if (*used >= 4 && miss2 > fmax(16 * (spread + (*k_innov ? *innov / (double)*k_innov : 0)), 900))
      return;
    *innov += miss2, (*k_innov)++;
  }
  double v = f->accuracy_m > 0 ? f->accuracy_m * f->accuracy_m / 2 : 400;
  if (lg_track_update(t, f->t_ns, f->e_m, f->n_m, (double[3]){v, 0, v}) == 0) (*used)++;
}

void adr_predictive(const struct lg_adr_input *in, struct lg_adr_decision *out) {
  struct lg_adr_pathloss m;
  if (in->n_fixes < 2 || in->n_gateways == 0) return fallback(in, out, "fewer than 2 positions");
  struct lg_track t;
  lg_track_init(&t, ACCEL_SIGMA);
  double innov = 0; /* how far each fix fell from the track's prediction: manoeuvres */
  size_t k_innov = 0, used = 0, fi = 0;
  /* Walk the history in time order: the fixes up to each uplink go into the track, and
   * the uplink's receptions are placed where the track then puts the device (smoothed,
   * and available for uplinks only one or two gateways heard). */
  double pos[LG_ADR_HISTORY][2];
  bool has_pos[LG_ADR_HISTORY] = {false};
  for (size_t i = 0; i < in->n && i < LG_ADR_HISTORY; i++) {
    const struct lg_adr_uplink *u = &in->history[i];
    while (fi < in->n_fixes && in->fixes[fi].t_ns <= u->t_ns + 1000000000LL)
      track_fix(in, &t, &in->fixes[fi++], &used, &innov, &k_innov);
    if (used < 2) continue;
    double h = (double)(u->t_ns - t.t_ns) / 1e9;
    if (h > fmax(120, 2.0 * (double)in->period_ns / 1e9)) continue; /* too far from the last fix */
    pos[i][0] = t.x[0] + t.x[2] * h, pos[i][1] = t.x[1] + t.x[3] * h;
    has_pos[i] = true;
  }
  while (fi < in->n_fixes)
    track_fix(in, &t, &in->fixes[fi++], &used, &innov, &k_innov);
  if (used < 2) return fallback(in, out, "fewer than 2 plausible positions");
  if (adr_fit(in, (const double(*)[2])pos, has_pos, &m))
    return fallback(in, out, "no uplink to calibrate on");
  bool all_rx = false; /* the history has every gateway's reception, not only the best */
  for (size_t i = 0; i < in->n; i++)
    all_rx |= in->history[i].n_rx > 0;
  int64_t last_t = in->history[in->n - 1].t_ns, period = in->period_ns;
  if (period <= 0 && in->n >= 2) period = (last_t - in->history[0].t_ns) / (int64_t)(in->n - 1);
  double dt = (double)(last_t + (period > 0 ? period : 0) - t.t_ns) / 1e9;
  if (dt < 0) dt = 0;
  double e = t.x[0] + t.x[2] * dt, n = t.x[1] + t.x[3] * dt;
  adr_reflect(in, &e, &n);
  /* How wrong a one-period prediction is: measured by the track's own misses (each fix
   * against the prediction made before it) once there are a few; before that, the
   * filter's covariance carried dt ahead. */
  double pos_var = t.p[0][0] + t.p[1][1] +
                   (k_innov >= 3 ? innov / (double)k_innov : dt * dt * (t.p[2][2] + t.p[3][3]));
  double pos_sigma = sqrt(pos_var);
  size_t near = 0;
  double d_near = adr_nearest_gateway_m(in, e, n, &near);
  if (pos_sigma > fmax(2 * d_near, 200)) /* the probabilities below carry the rest */
    return fallback(in, out, "the predicted position is too uncertain");
  /* keep_locatable and moving (the track's speed above 0.2 m/s, or its misses above 20 m
   * RMS): the device must stay heard by three gateways */
  bool moving = in->keep_locatable && in->n_gateways >= 3 &&
                (hypot(t.x[2], t.x[3]) > 0.2 || (k_innov >= 3 && innov / (double)k_innov > 400));
  /* RSSI spread: the model's residuals and the position's uncertainty (dRSSI/dd) */
  double target = in->target_delivery > 0 ? in->target_delivery : 0.99;
  const struct lg_region *r = in->region;
  struct lg_adr_settings best = {0, 0, 1};
  bool found = false;
  double p_best = 0;
  for (int dr = r->max_lora125_dr; dr >= 0 && !found; dr--) {
    const struct lg_datarate *d = lg_region_dr(r, dr);
    double floor_db;
    if (!d || d->mod != LG_MOD_LORA || lg_lora_snr_floor_db(d->sf, d->bw_hz, &floor_db)) continue;
    double sens = lg_lora_noise_floor_dbm(d->bw_hz, 6) + floor_db;
    for (int txp = r->tx_power_max_index; txp >= 0 && !found; txp--) {
      double tx = adr_tx_power_dbm(in, txp), p[LG_ADR_MAX_GW], miss = 1;
      size_t np = 0;
      for (size_t g = 0; g < in->n_gateways && np < LG_ADR_MAX_GW; g++) {
        double dist = hypot(in->gateways[g].e_m - e, in->gateways[g].n_m - n);
        double pd = 10 * m.n / log(10) * pos_sigma / fmax(dist, 1);
        p[np] = gsl_cdf_ugaussian_P((adr_expected_rssi(&m, tx, dist) - sens) /
                                    sqrt(m.sigma_db * m.sigma_db + pd * pd));
        miss *= 1 - p[np++];
      }
      /* P(heard): with every gateway's receptions in the fit, the chance that any of them
       * hears; with only the best one's (the server today), the model predicts the best
       * gateway's RSSI, taken at the nearest one (summing the others on a fit to maxima
       * would count their luck twice) */
      double pos_db = 10 * m.n / log(10) * pos_sigma / fmax(d_near, 1);
      double heard = all_rx ? 1 - miss
                            : gsl_cdf_ugaussian_P((adr_expected_rssi(&m, tx, d_near) - sens) /
                                                  sqrt(m.sigma_db * m.sigma_db + pos_db * pos_db));
      /* a moving device that must stay locatable: its positions need three gateways */
      double p3 = moving ? p_at_least(p, np, 3) : 1;
      if (heard >= target && p3 >= LG_ADR_GEO_TARGET)
        found = true, best = (struct lg_adr_settings){dr, txp, 1}, p_best = heard;
    }
  }
  if (!found) best = (struct lg_adr_settings){0, 0, 1};
  out->next = best;
  out->change = memcmp(&out->next, &in->current, sizeof(out->next)) != 0;
  out->snr_margin_db = 0;
  snprintf(out->reason, sizeof(out->reason),
           "predictive: next at (%.0f, %.0f) m +-%.0f m, %.0f m from a gateway; model n=%.2f sigma "
           "%.1f dB "
           "(%zu pts)%s -> DR%d TXPower %d, P(heard) %.3f",
           e, n, pos_sigma, d_near, m.n, m.sigma_db, m.points, moving ? ", moving: 3 gateways" : "",
           best.dr, best.tx_power_index, found ? p_best : 0.0);
}
