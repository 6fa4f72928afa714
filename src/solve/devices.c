/*
 * Per-device aggregation for static devices, as the thesis did (§4.3-4.4, §5.1) but
 * per gateway: each device's frames are reduced to one time difference per gateway
 * against a reference gateway (the one that heard the device most often), each series
 * is cleaned with the Generalized ESD test and averaged; the means, with the standard
 * error of each as its timing noise, are located once. RSSI is averaged per gateway
 * (in dB) for devices without enough timed receptions.
 *
 * With a time-of-arrival method (auto, nls, hybrid) and the outlier test on, a static
 * device is instead solved jointly (geo/joint.c: one position, one emission time per
 * frame, Huber/Tukey weights with the noise scale from the residuals), which survives
 * what the per-gateway mean does not: legacy microsecond timing, heavy tails and a
 * gateway tens of microseconds off (issue 14 item 2, bench/legacy_timing.sh).
 */
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "solve/devices.h"
#include "util/util.h"

struct obs {
  uint32_t frame;
  uint16_t gw;
  bool has_time, has_rssi;
  int64_t t_ns;
  float rssi;
};

struct gateway {
  char name[LG_NAME_MAX];
  uint16_t index;
  double lat, lon, alt;
  double sigma_ns; /* calibrated noise scale (lg_devices_set_noise), 0: unknown */
  UT_hash_handle hh;
};

struct device {
  char name[LG_NAME_MAX];
  uint32_t frames;
  bool has_truth;
  struct lg_geodetic truth;      /* the first frame's (static devices) */
  struct lg_geodetic last_truth; /* the last frame's (moving devices) */
  struct obs *obs;
  size_t n, cap;
  UT_hash_handle hh;
};

struct lg_devices {
  struct gateway *gw_by_name;
  struct gateway **gw; /* by index */
  size_t n_gw;
  struct device *dev_by_name;
  size_t n_dev;
};

struct lg_devices *lg_devices_new(void) {
  return calloc(1, sizeof(struct lg_devices));
}

void lg_devices_free(struct lg_devices *d) {
  if (d == NULL) return;
  struct gateway *g, *gt;
  HASH_ITER(hh, d->gw_by_name, g, gt) {
    HASH_DEL(d->gw_by_name, g);
    free(g);
  }
  struct device *v, *vt;
  HASH_ITER(hh, d->dev_by_name, v, vt) {
    HASH_DEL(d->dev_by_name, v);
    free(v->obs);
    free(v);
  }
  free(d->gw);
  free(d);
}

size_t lg_devices_count(const struct lg_devices *d) {
  return d->n_dev;
}

static struct gateway *gateway_for(struct lg_devices *d, const char *name,
                                   const struct lg_geo_rx *rx) {
  struct gateway *g;
  HASH_FIND_STR(d->gw_by_name, name, g);
  if (g) return g;
  if (d->n_gw == UINT16_MAX) return NULL;
  struct gateway **idx = realloc(d->gw, (d->n_gw + 1) * sizeof(*idx));
  g = calloc(1, sizeof(*g));
  if (idx == NULL || g == NULL) {
    free(g);
    if (idx) d->gw = idx;
    return NULL;
  }
  d->gw = idx;
  snprintf(g->name, LG_NAME_MAX, "%s", name);
  g->index = (uint16_t)d->n_gw;
  g->lat = rx->lat_deg;
  g->lon = rx->lon_deg;
  g->alt = rx->alt_m;
  d->gw[d->n_gw++] = g;
  HASH_ADD_STR(d->gw_by_name, name, g);
  return g;
}

int lg_devices_add(struct lg_devices *d, const struct lg_record *r, char *why, size_t why_len) {
  if (!r->has_device) {
    snprintf(why, why_len, "--per-device needs a \"device\" in every record");
    return LG_EINVAL;
  }
  struct device *v;
  HASH_FIND_STR(d->dev_by_name, r->device, v);
  if (v == NULL) {
    if ((v = calloc(1, sizeof(*v))) == NULL) goto nomem;
    snprintf(v->name, LG_NAME_MAX, "%s", r->device);
    HASH_ADD_STR(d->dev_by_name, name, v);
    d->n_dev++;
  }
  if (r->has_truth) {
    if (!v->has_truth) v->truth = r->truth;
    v->has_truth = true;
    v->last_truth = r->truth;
  }
  for (size_t i = 0; i < r->n; i++) {
    struct gateway *g = gateway_for(d, r->gateway[i], &r->rx[i]);
    if (g == NULL) goto nomem;
    if (lg_geo_distance_m(g->lat, g->lon, r->rx[i].lat_deg, r->rx[i].lon_deg) > 1.0) {
      snprintf(why, why_len, "gateway \"%s\" moved; --per-device needs fixed gateways", g->name);
      return LG_EINVAL;
    }
    if (v->n == v->cap) {
      size_t cap = v->cap ? 2 * v->cap : 64;
      struct obs *o = realloc(v->obs, cap * sizeof(*o));
      if (o == NULL) goto nomem;
      v->obs = o;
      v->cap = cap;
    }
    v->obs[v->n++] = (struct obs){.frame = v->frames,
                                  .gw = g->index,
                                  .has_time = r->rx[i].has_time,
                                  .t_ns = r->rx[i].time_ns,
                                  .has_rssi = r->rx[i].has_rssi,
                                  .rssi = (float)r->rx[i].rssi_dbm};
  }
  v->frames++;
  return 0;
nomem:
  snprintf(why, why_len, "out of memory");
  return LG_ENOMEM;
}

/* One gateway's aggregated series for one device. */
struct series {
  double *tdoa_ns; /* t_gw - t_ref per frame heard by both */
  size_t n, outliers;
  double rssi_sum;
  size_t rssi_n;
};

/* Builds the device's synthetic frame: mean TDOA per gateway against `ref`. */
static size_t aggregate(const struct lg_devices *d, const struct device *v, double alpha,
                        struct lg_geo_rx *rx, size_t *outliers) {
  size_t ng = d->n_gw, out = 0;
  int64_t *ref_t = malloc(v->frames * sizeof(int64_t));
  bool *ref_has = calloc(v->frames, sizeof(bool));
  size_t *heard = calloc(ng, sizeof(size_t));
  struct series *s = calloc(ng, sizeof(*s));
  *outliers = 0;
  if (!ref_t || !ref_has || !heard || !s) goto done;
  for (size_t i = 0; i < v->n; i++)
    if (v->obs[i].has_time) heard[v->obs[i].gw]++;
  size_t ref = 0;
  for (size_t g = 1; g < ng; g++)
    if (heard[g] > heard[ref]) ref = g;
  for (size_t i = 0; i < v->n; i++)
    if (v->obs[i].has_time && v->obs[i].gw == ref) {
      ref_t[v->obs[i].frame] = v->obs[i].t_ns;
      ref_has[v->obs[i].frame] = true;
    }
  for (size_t g = 0; g < ng; g++)
    if (heard[g] && (s[g].tdoa_ns = malloc(heard[g] * sizeof(double))) == NULL) goto done;
  for (size_t i = 0; i < v->n; i++) {
    const struct obs *o = &v->obs[i];
    struct series *se = &s[o->gw];
    if (o->has_rssi) {
      se->rssi_sum += o->rssi;
      se->rssi_n++;
    }
    if (o->has_time && ref_has[o->frame] && se->n < heard[o->gw])
      se->tdoa_ns[se->n++] = (double)(o->t_ns - ref_t[o->frame]);
  }
  for (size_t g = 0; g < ng; g++) {
    struct series *se = &s[g];
    if (se->n == 0 && se->rssi_n == 0) continue;
    struct lg_geo_rx *x = &rx[out];
    memset(x, 0, sizeof(*x));
    x->lat_deg = d->gw[g]->lat;
    x->lon_deg = d->gw[g]->lon;
    x->alt_m = d->gw[g]->alt;
    if (se->rssi_n) {
      x->has_rssi = true;
      x->rssi_dbm = se->rssi_sum / (double)se->rssi_n;
    }
    if (se->n > 0) {
      bool *is_out = calloc(se->n, sizeof(bool));
      size_t count = 0;
      if (is_out && se->n >= 3 && g != ref && alpha > 0)
        lg_gesd(se->tdoa_ns, se->n, se->n / 4 + 1, alpha, &count, is_out, NULL, NULL);
      double sum = 0, sum2 = 0;
      size_t k = 0;
      for (size_t i = 0; i < se->n; i++)
        if (!is_out || !is_out[i]) {
          sum += se->tdoa_ns[i];
          k++;
        }
      double mean = sum / (double)k;
      for (size_t i = 0; i < se->n; i++)
        if (!is_out || !is_out[i]) sum2 += (se->tdoa_ns[i] - mean) * (se->tdoa_ns[i] - mean);
      free(is_out);
      *outliers += count;
      x->has_time = true;
      x->time_ns = 1000000000000000000LL + llround(mean);
      /* The standard error of the mean; a single sample keeps the default noise. */
      x->sigma_ns = k >= 2 ? fmax(sqrt(sum2 / (double)(k - 1) / (double)k), 0.3) : 0;
    }
    if (++out == LG_GEO_MAX_RX) break;
  }
done:
  for (size_t g = 0; s && g < ng; g++)
    free(s[g].tdoa_ns);
  free(s);
  free(heard);
  free(ref_t);
  free(ref_has);
  return out;
}

/* The device's frames located one by one, in order; their times in t_ns. */
static size_t frame_fixes(const struct lg_devices *d, const struct device *v,
                          struct lg_geo_solver *solver, const struct lg_geo_opts *o,
                          struct lg_geo_fix *fix, int64_t *t_ns) {
  size_t out = 0, i = 0;
  while (i < v->n) {
    uint32_t frame = v->obs[i].frame;
    struct lg_geo_rx rx[LG_GEO_MAX_RX];
    size_t n = 0;
    int64_t t = INT64_MAX;
    for (; i < v->n && v->obs[i].frame == frame; i++) {
      const struct obs *ob = &v->obs[i];
      if (n == LG_GEO_MAX_RX) continue;
      rx[n++] = (struct lg_geo_rx){.lat_deg = d->gw[ob->gw]->lat,
                                   .lon_deg = d->gw[ob->gw]->lon,
                                   .alt_m = d->gw[ob->gw]->alt,
                                   .has_time = ob->has_time,
                                   .time_ns = ob->t_ns,
                                   .has_rssi = ob->has_rssi,
                                   .rssi_dbm = ob->rssi};
      if (ob->has_time && ob->t_ns < t) t = ob->t_ns;
    }
    if (t != INT64_MAX && lg_geo_solve(solver, rx, n, o, &fix[out], NULL, 0) == 0) t_ns[out++] = t;
  }
  return out;
}

/* Whether a device's single fixes agree with one position, given their covariances:
 * chi-square of the fixes about their weighted mean, per degree of freedom. */
static bool looks_static(const struct lg_geo_fix *fx, size_t n, double *chi2_dof) {
  *chi2_dof = 0;
  if (n < 3) return true;
  struct lg_enu_frame f;
  struct lg_geodetic origin = {fx[0].lat_deg, fx[0].lon_deg, fx[0].alt_m};
  lg_enu_init(&f, &origin);
  double se = 0, sn = 0, we = 0, wn = 0;
  double(*p)[3] = malloc(n * sizeof(*p));
  if (p == NULL) return true;
  for (size_t i = 0; i < n; i++) {
    struct lg_geodetic g = {fx[i].lat_deg, fx[i].lon_deg, fx[i].alt_m};
    lg_enu_from_geodetic(&f, &g, p[i]);
    se += p[i][0] / fx[i].cov_en[0];
    we += 1 / fx[i].cov_en[0];
    sn += p[i][1] / fx[i].cov_en[2];
    wn += 1 / fx[i].cov_en[2];
  }
  double me = se / we, mn = sn / wn, chi2 = 0;
  for (size_t i = 0; i < n; i++)
    chi2 += (p[i][0] - me) * (p[i][0] - me) / fx[i].cov_en[0] +
            (p[i][1] - mn) * (p[i][1] - mn) / fx[i].cov_en[2];
  free(p);
  *chi2_dof = chi2 / (2.0 * (double)(n - 1));
  return *chi2_dof < 4.0; /* generous: fixes' covariances are estimates */
}

/* A moving device: its fixes through the Kalman filter; the line gives the last state. */
static bool print_track(const struct device *v, const struct lg_geo_fix *fx, const int64_t *t,
                        size_t n, struct lg_outbuf *out, struct lg_errors *errs) {
  if (n == 0) return false;
  struct lg_enu_frame f;
  struct lg_geodetic origin = {fx[0].lat_deg, fx[0].lon_deg, fx[0].alt_m};
  lg_enu_init(&f, &origin);
  struct lg_track tr;
  lg_track_init(&tr, 1.0);
  for (size_t i = 0; i < n; i++) {
    struct lg_geodetic g = {fx[i].lat_deg, fx[i].lon_deg, fx[i].alt_m};
    double enu[3];
    lg_enu_from_geodetic(&f, &g, enu);
    lg_track_update(&tr, t[i], enu[0], enu[1], fx[i].cov_en);
  }
  double x[3] = {tr.x[0], tr.x[1], 0};
  struct lg_geodetic g;
  lg_enu_to_geodetic(&f, x, &g);
  lg_out_printf(out,
                "\"lat\":%.9f,\"lon\":%.9f,\"method\":\"%s+track\",\"accuracy_m\":%.3f,"
                "\"speed_mps\":%.3f,\"mode\":\"mobile\"",
                g.lat_deg, g.lon_deg, lg_geo_method_name(fx[n - 1].method),
                sqrt(tr.p[0][0] + tr.p[1][1]), hypot(tr.x[2], tr.x[3]));
  if (v->has_truth) {
    double e =
        lg_geo_distance_m(g.lat_deg, g.lon_deg, v->last_truth.lat_deg, v->last_truth.lon_deg);
    lg_out_printf(out, ",\"error_m\":%.3f", e);
    lg_errors_add(
        errs, e,
        lg_geo_haversine_m(g.lat_deg, g.lon_deg, v->last_truth.lat_deg, v->last_truth.lon_deg));
  }
  return true;
}

/* The coordinate-wise median of a device's single fixes: a start for the joint solve
 * that half of the frames being far off does not move. */
static bool median_fix(struct lg_geo_fix *fx, size_t n, double start[2]) {
  if (n == 0) return false;
  double *v = malloc(n * sizeof(double));
  if (v == NULL) return false;
  for (int a = 0; a < 2; a++) {
    for (size_t i = 0; i < n; i++)
      v[i] = a == 0 ? fx[i].lat_deg : fx[i].lon_deg;
    gsl_sort(v, 1, n);
    start[a] = gsl_stats_median_from_sorted_data(v, 1, n);
  }
  free(v);
  return true;
}

/*
 * A static device by the joint solve (geo/joint.c): every timed reception of every
 * frame, one position, one emission time per frame, robust weights. Calibrated offsets
 * are already in the times (lg_record_calibrate); calibrated noise scales come from
 * d->sigma_ns. Starts: the median of the device's single fixes and the gateways' centre.
 * Returns -1 when the device has too few timed receptions (the caller falls back).
 */
static int print_joint(const struct lg_devices *d, const struct device *v,
                       struct lg_geo_solver *solver, const struct lg_geo_opts *o,
                       struct lg_outbuf *out, struct lg_errors *errs) {
  struct lg_joint_obs *obs = malloc((v->n + 1) * sizeof(*obs));
  struct lg_joint_gateway *gw = calloc(d->n_gw + 1, sizeof(*gw));
  uint32_t *gw_map = malloc((d->n_gw + 1) * sizeof(uint32_t));
  struct lg_geo_fix *fx = malloc((v->frames + 1) * sizeof(*fx));
  int64_t *t = malloc((v->frames + 1) * sizeof(*t));
  int rc = -1;
  if (!obs || !gw || !gw_map || !fx || !t) goto done;
  /* only the gateways that timed this device, renumbered */
  size_t n_gw = 0, n = 0;
  for (size_t g = 0; g < d->n_gw; g++)
    gw_map[g] = UINT32_MAX;
  for (size_t i = 0; i < v->n; i++) {
    const struct obs *ob = &v->obs[i];
    if (!ob->has_time) continue;
    if (gw_map[ob->gw] == UINT32_MAX) {
      const struct gateway *g = d->gw[ob->gw];
      gw[n_gw] = (struct lg_joint_gateway){g->lat, g->lon, g->alt, 0, g->sigma_ns};
      gw_map[ob->gw] = (uint32_t)n_gw++;
    }
    obs[n++] = (struct lg_joint_obs){ob->frame, gw_map[ob->gw], ob->t_ns};
  }
  if (n_gw < 3) goto done;
  size_t nf = frame_fixes(d, v, solver, o, fx, t);
  double start[1][2];
  bool has_start = median_fix(fx, nf, start[0]);
  struct lg_joint_opts jo = lg_joint_opts_default();
  jo.device_alt_m = o->device_alt_m;
  struct lg_joint_fix fix;
  char why[160];
  rc = 0;
  if (lg_geo_joint_solve(gw, n_gw, obs, n, v->frames, &jo, has_start ? start : NULL,
                         has_start ? 1 : 0, &fix, why, sizeof(why)) != 0) {
    lg_out_printf(out, "\"error\":");
    lg_out_json_string(out, why);
    goto done;
  }
  rc = 1;
  lg_out_printf(out, "\"lat\":%.9f,\"lon\":%.9f,\"method\":\"joint\",\"accuracy_m\":", fix.lat_deg,
                fix.lon_deg);
  lg_out_number(out, 3, fix.accuracy_m);
  lg_out_printf(out, ",\"accuracy_95_m\":");
  lg_out_number(out, 3, fix.accuracy_95_m);
  lg_out_printf(out,
                ",\"gateways_used\":%zu,\"receptions\":%zu,\"receptions_used\":%zu,"
                "\"outliers_removed\":%zu,\"scale_ns\":%.1f,\"gateway_bias_ns\":%.1f,"
                "\"mode\":\"static\"",
                n_gw, n, fix.receptions_used, n - fix.receptions_used, fix.scale_ns, fix.bias_ns);
  if (v->has_truth) {
    double e = lg_geo_distance_m(fix.lat_deg, fix.lon_deg, v->truth.lat_deg, v->truth.lon_deg);
    lg_out_printf(out, ",\"error_m\":%.3f", e);
    lg_errors_add(errs, e,
                  lg_geo_haversine_m(fix.lat_deg, fix.lon_deg, v->truth.lat_deg, v->truth.lon_deg));
  }
done:
  free(obs);
  free(gw);
  free(gw_map);
  free(fx);
  free(t);
  return rc;
}

static bool print_static(const struct lg_devices *d, const struct device *v,
                         struct lg_geo_solver *solver, const struct lg_geo_opts *o, double alpha,
                         struct lg_outbuf *out, struct lg_errors *errs) {
  /* The time-of-arrival methods solve all frames jointly; the closed forms (lls, grid),
   * RSSI and --no-outlier-test keep the thesis' per-gateway sample mean (for reproducing
   * its tables), as does a device heard with times by fewer than three gateways. */
  bool toa = o->method == LG_GEO_AUTO || o->method == LG_GEO_NLS || o->method == LG_GEO_HYBRID;
  if (toa && alpha > 0) {
    int rc = print_joint(d, v, solver, o, out, errs);
    if (rc >= 0) return rc == 1;
  }
  struct lg_geo_rx rx[LG_GEO_MAX_RX];
  size_t outliers = 0;
  size_t n = aggregate(d, v, alpha, rx, &outliers);
  struct lg_geo_fix fix;
  char why[160];
  if (lg_geo_solve(solver, rx, n, o, &fix, why, sizeof(why)) != 0) {
    lg_out_printf(out, "\"error\":");
    lg_out_json_string(out, why);
    return false;
  }
  lg_solve_fix_fields(out, &fix, NULL, 0);
  lg_out_printf(out, ",\"outliers_removed\":%zu,\"mode\":\"static\"", outliers);
  if (v->has_truth) {
    double e = lg_geo_distance_m(fix.lat_deg, fix.lon_deg, v->truth.lat_deg, v->truth.lon_deg);
    lg_out_printf(out, ",\"error_m\":%.3f", e);
    lg_errors_add(errs, e,
                  lg_geo_haversine_m(fix.lat_deg, fix.lon_deg, v->truth.lat_deg, v->truth.lon_deg));
  }
  return true;
}

long lg_devices_solve(struct lg_devices *d, struct lg_geo_solver *solver,
                      const struct lg_geo_opts *o, double alpha, enum lg_device_mode mode,
                      struct lg_outbuf *out, struct lg_errors *errs) {
  long fixes = 0;
  struct device *v, *tmp;
  HASH_ITER(hh, d->dev_by_name, v, tmp) {
    lg_out_printf(out, "{\"device\":\"%s\",\"frames\":%u,", v->name, v->frames);
    bool ok;
    if (mode == LG_MODE_STATIC) {
      ok = print_static(d, v, solver, o, alpha, out, errs);
    } else {
      struct lg_geo_fix *fx = malloc(v->frames * sizeof(*fx));
      int64_t *t = malloc(v->frames * sizeof(*t));
      size_t n = fx && t ? frame_fixes(d, v, solver, o, fx, t) : 0;
      double chi2_dof = 0;
      if (mode == LG_MODE_AUTO && looks_static(fx, n, &chi2_dof)) {
        ok = print_static(d, v, solver, o, alpha, out, errs);
      } else {
        ok = print_track(v, fx, t, n, out, errs);
        if (!ok) lg_out_printf(out, "\"error\":\"no frame of this device could be located\"");
      }
      if (mode == LG_MODE_AUTO) lg_out_printf(out, ",\"spread_chi2_per_dof\":%.2f", chi2_dof);
      free(fx);
      free(t);
    }
    fixes += ok;
    lg_out_printf(out, "}\n");
  }
  return fixes;
}
