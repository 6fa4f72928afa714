/*
 * What `lorageo calibrate` learns from `solve` records that carry `truth` (solve/calibrate.h):
 *  - per-gateway timing offsets (cable, LNA and GPS antenna delays): with the device
 *    known, t_i - |x - g_i| / c = t_emit + offset_i. Alternating least squares over all
 *    frames estimates every frame's t_emit and every gateway's offset; offsets are
 *    relative (their mean is zero), since a delay common to all gateways changes no
 *    time difference;
 *  - the log-distance path-loss model (PL0 at d0 and exponent n, with the shadowing
 *    sigma) by linear regression of RSSI on 10 log10(d / d0), the transmit power held;
 *  - the radio map's points for fingerprinting (geo/fingerprint.c): every record's
 *    position and what each gateway heard there.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"
#include "solve/calibrate.h"
#include "util/util.h"

struct obs {
  uint32_t frame;
  uint32_t gw;
  double r_ns; /* t_i - d_i / c, relative to the frame's earliest time */
};

struct lg_calibrator {
  double alt_m, tx_power_dbm, d0_m;
  char (*names)[LG_NAME_MAX];
  size_t n_gw, cap_gw;
  struct obs *obs;
  size_t n_obs, cap_obs;
  uint32_t frames;
  struct reading {
    double x, y;
  } * pl; /* 10 log10(d / d0), RSSI */
  size_t n_pl, cap_pl;
  struct lg_fp_builder *fp; /* the radio map's points */
};

static int gw_index(struct lg_calibrator *c, const char *name) {
  for (size_t i = 0; i < c->n_gw; i++)
    if (strcmp(c->names[i], name) == 0) return (int)i;
  if (c->n_gw == c->cap_gw) {
    size_t cap = c->cap_gw ? 2 * c->cap_gw : 16;
    char(*n)[LG_NAME_MAX] = realloc(c->names, cap * sizeof(*n));
    if (n == NULL) return -1;
    c->names = n;
    c->cap_gw = cap;
  }
  snprintf(c->names[c->n_gw], LG_NAME_MAX, "%s", name);
  return (int)c->n_gw++;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? 2 * *cap : 1024;
  while (n < need)
    n *= 2;
  void *q = realloc(*p, n * elem);
  if (q == NULL) return LG_ENOMEM;
  *p = q;
  *cap = n;
  return 0;
}

int lg_calibrator_add(struct lg_calibrator *c, const struct lg_record *r) {
  double alt_m = c->alt_m, d0_m = c->d0_m;
  struct lg_geodetic truth = r->truth;
  if (truth.alt_m == 0) truth.alt_m = alt_m;
  double dev[3];
  lg_geo_to_ecef(&truth, dev);
  int timed = 0;
  for (size_t i = 0; i < r->n; i++)
    timed += r->rx[i].has_time;
  for (size_t i = 0; i < r->n; i++) {
    const struct lg_geo_rx *x = &r->rx[i];
    struct lg_geodetic g = {x->lat_deg, x->lon_deg, x->alt_m};
    double e[3];
    lg_geo_to_ecef(&g, e);
    double d = sqrt(pow(e[0] - dev[0], 2) + pow(e[1] - dev[1], 2) + pow(e[2] - dev[2], 2));
    if (x->has_time && timed >= 2) {
      int k = gw_index(c, r->gateway[i]);
      if (k < 0 || grow((void **)&c->obs, &c->cap_obs, c->n_obs + 1, sizeof(struct obs)))
        return LG_ENOMEM;
      c->obs[c->n_obs++] = (struct obs){c->frames, (uint32_t)k,
                                        (double)(x->time_ns - r->t_ns) - d / LG_GEO_C_MPS * 1e9};
    }
    if (x->has_rssi && d > 1.0) {
      if (grow((void **)&c->pl, &c->cap_pl, c->n_pl + 1, sizeof(*c->pl))) return LG_ENOMEM;
      c->pl[c->n_pl++] = (struct reading){10.0 * log10(d / d0_m), x->rssi_dbm};
    }
  }
  if (timed >= 2) c->frames++;
  int rc = lg_fp_builder_add(c->fp, &r->truth, r->rx, r->n);
  return rc == LG_ENOMEM ? LG_ENOMEM : 0; /* a record without named RSSI teaches the map nothing */
}

/* Alternating least squares for frame emission times and gateway offsets. */
static void solve_offsets(const struct lg_calibrator *c, double *off, double *resid_sd,
                          size_t *count) {
  double *emit = calloc(c->frames, sizeof(double));
  size_t *fn = calloc(c->frames, sizeof(size_t));
  double *acc = calloc(c->n_gw, sizeof(double));
  if (!emit || !fn || !acc) goto out;
  memset(off, 0, c->n_gw * sizeof(double));
  for (int iter = 0; iter < 50; iter++) {
    memset(emit, 0, c->frames * sizeof(double));
    memset(fn, 0, c->frames * sizeof(size_t));
    for (size_t i = 0; i < c->n_obs; i++) {
      emit[c->obs[i].frame] += c->obs[i].r_ns - off[c->obs[i].gw];
      fn[c->obs[i].frame]++;
    }
    for (uint32_t f = 0; f < c->frames; f++)
      emit[f] = fn[f] ? emit[f] / (double)fn[f] : 0;
    memset(acc, 0, c->n_gw * sizeof(double));
    memset(count, 0, c->n_gw * sizeof(size_t));
    for (size_t i = 0; i < c->n_obs; i++) {
      acc[c->obs[i].gw] += c->obs[i].r_ns - emit[c->obs[i].frame];
      count[c->obs[i].gw]++;
    }
    double mean = 0;
    for (size_t g = 0; g < c->n_gw; g++) {
      off[g] = count[g] ? acc[g] / (double)count[g] : 0;
      mean += off[g];
    }
    mean /= (double)(c->n_gw ? c->n_gw : 1);
    for (size_t g = 0; g < c->n_gw; g++)
      off[g] -= mean;
  }
  memset(resid_sd, 0, c->n_gw * sizeof(double));
  for (size_t i = 0; i < c->n_obs; i++) {
    double e = c->obs[i].r_ns - emit[c->obs[i].frame] - off[c->obs[i].gw];
    resid_sd[c->obs[i].gw] += e * e;
  }
  for (size_t g = 0; g < c->n_gw; g++)
    resid_sd[g] = count[g] > 1 ? sqrt(resid_sd[g] / (double)(count[g] - 1)) : NAN;
out:
  free(emit);
  free(fn);
  free(acc);
}

static json_t *path_loss_json(const struct lg_calibrator *c, char *why, size_t why_len) {
  double tx_power = c->tx_power_dbm, d0 = c->d0_m;
  if (c->n_pl < 3) {
    snprintf(why, why_len, "fewer than 3 RSSI readings with truth");
    return NULL;
  }
  double sx = 0, sy = 0, sxx = 0, sxy = 0, n = (double)c->n_pl;
  for (size_t i = 0; i < c->n_pl; i++) {
    sx += c->pl[i].x;
    sy += c->pl[i].y;
    sxx += c->pl[i].x * c->pl[i].x;
    sxy += c->pl[i].x * c->pl[i].y;
  }
  double var = sxx - sx * sx / n;
  if (!(var > 1e-6 * n)) {
    snprintf(why, why_len, "all RSSI readings at one distance: the exponent is not observable");
    return NULL;
  }
  double slope = (sxy - sx * sy / n) / var, icept = (sy - slope * sx) / n;
  double exponent = -slope, pl0 = tx_power - icept, ss = 0;
  for (size_t i = 0; i < c->n_pl; i++) {
    double e = c->pl[i].y - (icept + slope * c->pl[i].x);
    ss += e * e;
  }
  if (!(exponent >= 0.5 && exponent <= 10)) {
    snprintf(why, why_len, "fitted exponent %.2f is not physical (0.5..10)", exponent);
    return NULL;
  }
  json_t *o = json_object();
  json_object_set_new(o, "tx_power_dbm", json_real(tx_power));
  json_object_set_new(o, "pl0_db", json_real(pl0));
  json_object_set_new(o, "d0_m", json_real(d0));
  json_object_set_new(o, "exponent", json_real(exponent));
  json_object_set_new(o, "sigma_db", json_real(sqrt(ss / (n > 2 ? n - 2 : 1))));
  json_object_set_new(o, "readings", json_integer((json_int_t)c->n_pl));
  return o;
}

struct lg_calibrator *lg_calibrator_new(double alt_m, double tx_power_dbm, double d0_m) {
  struct lg_calibrator *c = calloc(1, sizeof(*c));
  if (c == NULL) return NULL;
  *c = (struct lg_calibrator){.alt_m = alt_m, .tx_power_dbm = tx_power_dbm, .d0_m = d0_m};
  if ((c->fp = lg_fp_builder_new()) == NULL) {
    free(c);
    return NULL;
  }
  return c;
}

void lg_calibrator_free(struct lg_calibrator *c) {
  if (c == NULL) return;
  free(c->names);
  free(c->obs);
  free(c->pl);
  lg_fp_builder_free(c->fp);
  free(c);
}

bool lg_calibrator_empty(const struct lg_calibrator *c) {
  return c->frames == 0 && c->n_pl == 0 && lg_fp_builder_count(c->fp) == 0;
}

struct lg_fp_builder *lg_calibrator_radio_points(struct lg_calibrator *c) {
  return c->fp;
}

json_t *lg_calibrator_result(const struct lg_calibrator *c) {
  double *off = calloc(c->n_gw + 1, sizeof(double)), *sd = calloc(c->n_gw + 1, sizeof(double));
  size_t *count = calloc(c->n_gw + 1, sizeof(size_t));
  json_t *o = json_object(), *offs = json_object(), *stats = json_object();
  if (off && sd && count) solve_offsets(c, off, sd, count);
  for (size_t g = 0; off && sd && count && g < c->n_gw; g++) {
    json_object_set_new(offs, c->names[g], json_real(round(off[g] * 10) / 10));
    json_t *st = json_object();
    json_object_set_new(st, "receptions", json_integer((json_int_t)count[g]));
    json_object_set_new(st, "residual_ns",
                        isfinite(sd[g]) ? json_real(round(sd[g] * 10) / 10) : json_null());
    json_object_set_new(stats, c->names[g], st);
  }
  free(off);
  free(sd);
  free(count);
  json_object_set_new(o, "gateway_offsets_ns", offs);
  json_object_set_new(o, "gateway_stats", stats);
  char why[256];
  json_t *pl = path_loss_json(c, why, sizeof(why));
  if (pl)
    json_object_set_new(o, "path_loss", pl);
  else
    json_object_set_new(o, "path_loss_error", json_string(why));
  return o;
}

unsigned lg_calibrator_frames(const struct lg_calibrator *c) {
  return c->frames;
}
