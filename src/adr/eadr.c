/*
 * E-ADR (../shared/seeds/004_*.txt §IV), faithfully, and the pieces it shares with the
 * predictive algorithm: the device's own path-loss model and the geometry.
 *
 * Every n = 3 packets the server
 *   1. predicts the position n packets ahead from the average displacement of the last n
 *      positions (eq. 3), kept inside the device's area by reflecting at its bounds (the
 *      paper adjusts the estimate "according to the mobility model");
 *   2. estimates the RSSI there (RSSI_estim(2n)) from a log-distance model fitted to the
 *      device's own uplinks (the paper calibrates a curve per deployment; we fit per device);
 *   3. computes R_change (eq. 4) against the measured RSSI of the n-th packet and the lower
 *      bound of the current mode; at R_change >= alpha = 0.5 it moves to the mode with the
 *      largest transition rate R_{A->B} (eq. 5, 6).
 * Modes: the paper's Table I for reproduction, the region's LoRaWAN data rates for real
 * networks (the mode is the DR; E-ADR leaves the power alone).
 */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adr/adr_int.h"
#include "util/util.h"

size_t lg_eadr_waspmote_modes(struct lg_eadr_mode *out) {
  static const double b[11] = {-134, -131, -129, -128, -126, -125.5, -123, -120, -117, -114, -94};
  for (int i = 0; i < 10; i++)
    out[i] = (struct lg_eadr_mode){b[i], b[i + 1], i + 1};
  return 10;
}

size_t lg_eadr_lorawan_modes(const struct lg_region *region, struct lg_eadr_mode *out) {
  size_t n = 0;
  for (int dr = 0; dr <= region->max_lora125_dr && n < 16; dr++) {
    const struct lg_datarate *d = lg_region_dr(region, dr);
    double floor_db;
    if (!d || d->mod != LG_MOD_LORA || !d->uplink ||
        lg_lora_snr_floor_db(d->sf, d->bw_hz, &floor_db))
      continue; /* (CN470 DR0: no uplinks in RP002) */
    double b_inf = lg_lora_noise_floor_dbm(d->bw_hz, 6) + floor_db + LG_EADR_MARGIN_DB;
    if (n > 0) out[n - 1].b_sup = b_inf;
    out[n++] = (struct lg_eadr_mode){b_inf, b_inf + 20, dr};
  }
  return n;
}

double lg_eadr_change_rate(double rssi_real, double rssi_estim, double b_inf_current) {
  double den = fabs(b_inf_current - rssi_estim);
  return den > 1e-9 ? fabs(rssi_real - rssi_estim) / den : INFINITY;
}

double lg_eadr_transition_rate(const struct lg_eadr_mode *a, const struct lg_eadr_mode *b,
                               double rssi_estim) {
  double den = fabs(b->b_sup - rssi_estim) + fabs(b->b_inf - rssi_estim);
  return den > 1e-9 ? 0.5 * fabs(b->b_sup - a->b_inf) / den : INFINITY;
}

size_t lg_eadr_choose(const struct lg_eadr_mode *modes, size_t n, size_t a, double rssi_estim) {
  size_t best = a;
  double r_best = -1;
  for (size_t b = 0; b < n; b++) {
    double r = lg_eadr_transition_rate(&modes[a], &modes[b], rssi_estim);
    if (r > r_best) r_best = r, best = b;
  }
  return best;
}

/* ---- shared: geometry and the device's path loss -------------------------------- */

double adr_nearest_gateway_m(const struct lg_adr_input *in, double e, double n, size_t *which) {
  double best = INFINITY;
  for (size_t i = 0; i < in->n_gateways; i++) {
    double d = hypot(in->gateways[i].e_m - e, in->gateways[i].n_m - n);
    if (d < best) best = d, *which = i;
  }
  return best;
}

void adr_reflect(const struct lg_adr_input *in, double *e, double *n) {
  if (!in->has_bounds) return;
  double *v[2] = {e, n};
  for (int k = 0; k < 2; k++) {
    double lo = in->bounds[k], hi = in->bounds[k + 2], w = hi - lo;
    if (w <= 0) continue;
    double x = fmod(*v[k] - lo, 2 * w);
    if (x < 0) x += 2 * w;
    *v[k] = lo + (x <= w ? x : 2 * w - x); /* bounce off the walls */
  }
}

/* The fix of uplink f_cnt, or NULL. */
static const struct lg_adr_fix *fix_of(const struct lg_adr_input *in, uint32_t f_cnt) {
  for (size_t i = in->n_fixes; i-- > 0;)
    if (in->fixes[i].f_cnt == f_cnt) return &in->fixes[i];
  return NULL;
}

/* Least squares of y = a - 10 n x over the points with use[i]; n free when the x spread
 * allows (else 2.7). */
static void lsq(const double *xs, const double *ys, const bool *use, size_t k,
                struct lg_adr_pathloss *m) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  size_t c = 0;
  for (size_t i = 0; i < k; i++)
    if (use[i]) sx += xs[i], sy += ys[i], sxx += xs[i] * xs[i], sxy += xs[i] * ys[i], c++;
  double mx = sx / (double)c, var = sxx / (double)c - mx * mx;
  m->points = c;
  if (c >= 3 && var > 0.01) { /* distances spread by > ~26 %: fit the exponent too */
    double slope = (sxy / (double)c - mx * (sy / (double)c)) / var;
    m->n = fmin(fmax(-slope / 10, 1.5), 6);
  } else {
    m->n = 2.7;
  }
  m->a_dbm = sy / (double)c + 10 * m->n * mx;
  double ss = 0;
  for (size_t i = 0; i < k; i++) {
    double r = ys[i] - (m->a_dbm - 10 * m->n * xs[i]);
    if (use[i]) ss += r * r;
  }
  /* residual spread, never below 2 dB; few points: a wide prior (6 dB) */
  m->sigma_db = c >= 5 ? fmax(sqrt(ss / (double)(c - 2)), 2.0) : 6.0;
}

/*
 * The Tobit fit: the points heard (xs, ys) and, for each gateway that did not hear a
 * positioned uplink, its distance cx and the level ct below which it must have been (the
 * sensitivity of the uplink's data rate). Expectation-maximisation from the fit to what
 * was heard: each miss is replaced by its expected level below ct under the current model
 * (weighted by the chance that a fade, not a collision, caused it), then least squares
 * again. Fitting only what was heard flattens the slope (far gateways are heard only on
 * kind fades) and promises reach where there is none.
 */
static void tobit(const double *xs, const double *ys, size_t k, const double *cx, const double *ct,
                  size_t nc, struct lg_adr_pathloss *m) {
  enum { MAXC = LG_ADR_HISTORY * 16 };
  double w[MAXC], e1[MAXC], e2[MAXC];
  for (int it = 0; it < 100; it++) {
    double sw = (double)k, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < k; i++)
      sx += xs[i], sy += ys[i], sxx += xs[i] * xs[i], sxy += xs[i] * ys[i];
    for (size_t j = 0; j < nc && j < MAXC; j++) { /* E-step: each miss's expected level */
      adr_censored_moments(m->a_dbm - 10 * m->n * cx[j], m->sigma_db, ct[j], &w[j], &e1[j], &e2[j]);
      sw += w[j], sx += w[j] * cx[j], sy += w[j] * e1[j], sxx += w[j] * cx[j] * cx[j];
      sxy += w[j] * cx[j] * e1[j];
    }
    double mx = sx / sw, var = sxx / sw - mx * mx, slope = (sxy / sw - mx * (sy / sw)) / var;
    double n = var > 0.01 ? fmin(fmax(-slope / 10, 1.5), 6) : m->n;
    double a0 = sy / sw + 10 * n * mx, ss = 0;
    for (size_t i = 0; i < k; i++)
      ss += pow(ys[i] - (a0 - 10 * n * xs[i]), 2);
    for (size_t j = 0; j < nc && j < MAXC; j++) { /* E[(X - fit)^2 | X < t] */
      double f = a0 - 10 * n * cx[j];
      ss += w[j] * (e2[j] - 2 * f * e1[j] + f * f);
    }
    double sigma = k >= 5 ? fmax(sqrt(ss / fmax(sw - 2, 1)), 2.0) : m->sigma_db;
    bool done = fabs(a0 - m->a_dbm) < 0.01 && fabs(n - m->n) < 0.001;
    m->a_dbm = a0, m->n = n, m->sigma_db = sigma;
    if (done) break;
  }
}

int adr_fit(const struct lg_adr_input *in, const double (*pos)[2], const bool *has_pos,
            bool censored, struct lg_adr_pathloss *m) {
  enum { MAXP = LG_ADR_HISTORY * LG_ADR_MAX_RX, MAXC = LG_ADR_HISTORY * 16 };
  double xs[MAXP], ys[MAXP], floors[MAXP], cx[MAXC], ct[MAXC];
  bool use[MAXP];
  size_t k = 0, nc = 0;
  for (size_t i = 0; i < in->n; i++) {
    const struct lg_adr_uplink *u = &in->history[i];
    if (!has_pos[i]) continue;
    double tx = adr_tx_power_dbm(in, u->tx_power_index), snr_floor = -20;
    /* every gateway's reception when the history has them, else the best one */
    struct lg_adr_rx best = {u->best_gateway, u->max_rssi_dbm};
    const struct lg_adr_rx *rx = u->n_rx > 0 ? u->rx : &best;
    int n_rx = u->n_rx > 0 ? u->n_rx : 1;
    const struct lg_datarate *dr = lg_region_dr(in->region, u->dr);
    if (dr && dr->mod == LG_MOD_LORA) lg_lora_snr_floor_db(dr->sf, dr->bw_hz, &snr_floor);
    double floor_db = lg_lora_noise_floor_dbm(dr ? dr->bw_hz : 125000, 6) + snr_floor - tx;
    bool heard[LG_ADR_MAX_GW] = {false};
    for (int j = 0; j < n_rx && k < MAXP; j++) {
      if (rx[j].gateway < 0 || (size_t)rx[j].gateway >= in->n_gateways) continue;
      const struct lg_adr_gateway *g = &in->gateways[rx[j].gateway];
      xs[k] = log10(fmax(hypot(g->e_m - pos[i][0], g->n_m - pos[i][1]), 1.0));
      ys[k] = rx[j].rssi_dbm - tx;
      floors[k] = floor_db;
      use[k++] = true;
      if (rx[j].gateway < LG_ADR_MAX_GW) heard[rx[j].gateway] = true;
    }
    /* misses: the gateways that did not hear it, when every one that did is known */
    if (!censored || u->n_rx == 0 || u->gateways > u->n_rx) continue;
    for (size_t g = 0; g < in->n_gateways && g < LG_ADR_MAX_GW && nc < MAXC; g++)
      if (!heard[g]) {
        cx[nc] = log10(
            fmax(hypot(in->gateways[g].e_m - pos[i][0], in->gateways[g].n_m - pos[i][1]), 1.0));
        ct[nc++] = floor_db;
      }
  }
  if (k == 0) return LG_ENOTFOUND;
  lsq(xs, ys, use, k, m);
  if (nc > 0) {
    tobit(xs, ys, k, cx, ct, nc, m);
    return 0;
  }
  /* Only the frames that made it are here: where the model expects a gateway near its
   * demodulation floor, the ones it heard were the lucky fades, which pull the fit up.
   * Those points are dropped (by the expected value, not the observed one) and the model
   * refitted, when enough remain. */
  if (in->history[0].n_rx > 0 || k > in->n) {
    size_t left = 0;
    for (size_t i = 0; i < k; i++) {
      use[i] = m->a_dbm - 10 * m->n * xs[i] >= floors[i] + 2 * m->sigma_db;
      left += use[i];
    }
    if (left >= 5) lsq(xs, ys, use, k, m);
  }
  return 0;
}

int lg_adr_fit_pathloss(const struct lg_adr_input *in, struct lg_adr_pathloss *m) {
  double pos[LG_ADR_HISTORY][2];
  bool has[LG_ADR_HISTORY] = {false};
  for (size_t i = 0; i < in->n && i < LG_ADR_HISTORY; i++) {
    const struct lg_adr_fix *f = fix_of(in, in->history[i].f_cnt);
    if (f) pos[i][0] = f->e_m, pos[i][1] = f->n_m, has[i] = true;
  }
  return adr_fit(in, pos, has, false, m);
}

double adr_expected_rssi(const struct lg_adr_pathloss *m, double tx_dbm, double dist_m) {
  return tx_dbm + m->a_dbm - 10 * m->n * log10(fmax(dist_m, 1.0));
}

/* ---- the algorithm ------------------------------------------------------------- */

void adr_eadr(const struct lg_adr_input *in, struct lg_adr_decision *out) {
  const struct lg_adr_uplink *last = &in->history[in->n - 1];
  if (last->f_cnt % LG_EADR_N != 0) {
    snprintf(out->reason, sizeof(out->reason), "E-ADR adapts every %d packets (FCnt %u)", LG_EADR_N,
             last->f_cnt);
    return;
  }
  /* the last n positions: average displacement (eq. 3) */
  size_t k = in->n_fixes < LG_EADR_N ? in->n_fixes : LG_EADR_N;
  if (k < 2 || in->n_gateways == 0) {
    snprintf(out->reason, sizeof(out->reason),
             "E-ADR needs 2 positions and the gateways (%zu fixes)", in->n_fixes);
    return;
  }
  const struct lg_adr_fix *p = in->fixes + in->n_fixes - k;
  double de = (p[k - 1].e_m - p[0].e_m) / (double)(k - 1),
         dn = (p[k - 1].n_m - p[0].n_m) / (double)(k - 1);
  double e = p[k - 1].e_m + LG_EADR_N * de, n = p[k - 1].n_m + LG_EADR_N * dn;
  adr_reflect(in, &e, &n);
  struct lg_adr_pathloss m;
  if (lg_adr_fit_pathloss(in, &m)) {
    snprintf(out->reason, sizeof(out->reason), "E-ADR: no uplink with a position to calibrate on");
    return;
  }
  size_t gw = 0;
  double dist = adr_nearest_gateway_m(in, e, n, &gw);
  double estim = adr_expected_rssi(&m, adr_tx_power_dbm(in, in->current.tx_power_index), dist);
  struct lg_eadr_mode modes[16];
  size_t nm = 0, a = 0;
  if (in->waspmote_modes) {
    nm = lg_eadr_waspmote_modes(modes);
    for (size_t i = 0; i < nm; i++)
      modes[i].dr -= 1; /* mode m is data rate m - 1 */
  } else {
    nm = lg_eadr_lorawan_modes(in->region, modes);
  }
  for (size_t i = 0; i < nm; i++)
    if (modes[i].dr == in->current.dr) a = i;
  /* Eq. 4 takes the RSSI to sit in the current mode's interval, which E-ADR keeps true
   * once it runs; a device whose RSSI is outside it (the join's mode 1 near a gateway) is
   * in another mode's zone already, and that zone is "the current mode" of eq. 4-5. */
  double real = last->max_rssi_dbm;
  if (real < modes[a].b_inf || real >= modes[a].b_sup) {
    size_t z = real < modes[0].b_inf ? 0 : nm - 1;
    for (size_t i = 0; i < nm; i++)
      if (real >= modes[i].b_inf && real < modes[i].b_sup) z = i;
    a = z;
  }
  double r_change = lg_eadr_change_rate(real, estim, modes[a].b_inf);
  out->snr_margin_db = estim - modes[a].b_inf;
  size_t b = a;
  if (estim < modes[0].b_inf)
    b = 0; /* below every mode: the most robust */
  else if (r_change >= LG_EADR_ALPHA)
    b = lg_eadr_choose(modes, nm, a, estim);
  out->next = in->current;
  out->next.dr = modes[b].dr;
  out->next.nb_trans = 1;
  out->change = memcmp(&out->next, &in->current, sizeof(out->next)) != 0;
  snprintf(
      out->reason, sizeof(out->reason),
      "E-ADR: predicted (%.0f, %.0f) m, %.0f m from a gateway, RSSI %.1f dBm (n=%.2f, %zu pts); "
      "R_change %.2f -> DR%d",
      e, n, dist, estim, m.n, m.points, r_change, out->next.dr);
}
