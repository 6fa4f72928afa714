/*
 * One position from all the frames of a static device (issue 14 item 2).
 *
 * Model: the receive time of frame f at gateway g, less the gateway's known offset, is
 *   t_fg - offset_g = tau_f + |x - p_g| / c + e_fg,
 * with one unknown position x (east, north; the device's height is known) for all
 * frames and one unknown emission time tau_f per frame. The emission times are profiled
 * out (variable projection): for a position and weights, each tau_f is the weighted mean
 * of its frame's t - offset - d / c, so the fit is a 2-parameter problem however many
 * frames there are, and the Gauss-Newton Jacobian is each reception's range gradient
 * less its frame's weighted mean gradient.
 *
 * Legacy gateway times are not Gaussian (a microsecond quantum, heavy late tails, a
 * gateway tens of microseconds off), so the weights come from M-estimation by
 * iteratively reweighted least squares (Huber 1964; Tukey's biweight, Beaton & Tukey
 * 1974): a convex Huber stage from each start point, then redescending Tukey weights
 * that give a reception whose residual exceeds 4.685 scales no weight at all. The
 * noise scale is never assumed: it is 1.4826 x the median absolute residual (MAD, a
 * consistent estimate of a Gaussian sigma that ignores up to half the data), so
 * ordinary noise is never mistaken for a reflection and an offset gateway's receptions
 * are. Per-gateway scales (from a calibration, or from each gateway's own residual MAD
 * when it has enough receptions) weight a noisy gateway less than a clean one.
 *
 * Quality: the covariance is the weighted least-squares one, plus a sandwich term for
 * what more frames cannot average away, a fixed error per gateway (its variance
 * estimated from the spread of the gateways' mean residuals); accuracy_m and
 * accuracy_95_m are the radii holding 68 % / 95 % of that 2-D Gaussian, computed
 * exactly (an integral over the angle), not from a circular approximation.
 */
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"
#include "geo/nlos.h"
#include "util/util.h"

#define HUBER_K      1.345 /* 95 % efficiency at the Gaussian */
#define TUKEY_C      4.685 /* 95 % efficiency at the Gaussian */
#define MAD_TO_SIGMA 1.4826
#define MAX_STARTS   4

struct jctx {
  const struct lg_joint_obs *obs;
  size_t n_obs, n_frames, n_gw;
  struct lg_enu_frame frame;
  double (*gw_ecef)[3];
  double *y_m;      /* c (t - frame's first time - offset), per reception */
  double *rel;      /* per gateway: noise scale relative to the common scale */
  double *w;        /* per reception: robust weight x 1 / rel^2 */
  double *r_m;      /* per reception: residual at the current position */
  double *tau_m;    /* per frame: profiled emission time (m) */
  double *wsum;     /* per frame */
  double (*dgrad)[2]; /* per gateway: d|x - p_g| / d(e, n) */
  double *dist_m;   /* per gateway */
  double *work;     /* n_obs scratch for medians */
  double device_alt_m;
  bool plain; /* unweighted least squares (comparisons): no robust weights */
  double region_m; /* the device is within this of the gateways' centre (LoRa's reach) */
};

/* Ranges and their gradients from the device at (e, n) to every gateway. */
static void ranges(struct jctx *c, const double xy[2]) {
  struct lg_geodetic g;
  double ecef[3];
  lg_enu_to_geodetic(&c->frame, (double[3]){xy[0], xy[1], 0}, &g);
  g.alt_m = c->device_alt_m;
  lg_geo_to_ecef(&g, ecef);
  for (size_t k = 0; k < c->n_gw; k++) {
    double v[3] = {ecef[0] - c->gw_ecef[k][0], ecef[1] - c->gw_ecef[k][1],
                   ecef[2] - c->gw_ecef[k][2]};
    double d = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    c->dist_m[k] = d;
    d = d > 1e-3 ? d : 1e-3;
    /* the device moves along the local east and north axes (rows 0, 1 of rot) */
    for (int a = 0; a < 2; a++)
      c->dgrad[k][a] = (v[0] * c->frame.rot[a][0] + v[1] * c->frame.rot[a][1] +
                        v[2] * c->frame.rot[a][2]) / d;
  }
}

/* Residuals at the current ranges with the current weights (emission times profiled). */
static void residuals(struct jctx *c) {
  memset(c->tau_m, 0, c->n_frames * sizeof(double));
  memset(c->wsum, 0, c->n_frames * sizeof(double));
  for (size_t i = 0; i < c->n_obs; i++) {
    uint32_t f = c->obs[i].frame;
    c->tau_m[f] += c->w[i] * (c->y_m[i] - c->dist_m[c->obs[i].gw]);
    c->wsum[f] += c->w[i];
  }
  for (size_t f = 0; f < c->n_frames; f++)
    c->tau_m[f] = c->wsum[f] > 0 ? c->tau_m[f] / c->wsum[f] : 0;
  for (size_t i = 0; i < c->n_obs; i++)
    c->r_m[i] = c->y_m[i] - c->dist_m[c->obs[i].gw] - c->tau_m[c->obs[i].frame];
}

/* 1.4826 x the median of |r| / rel over the receptions of frames with 2+ receptions. */
static double mad_scale(struct jctx *c) {
  size_t n = 0;
  for (size_t i = 0; i < c->n_obs; i++)
    c->work[n++] = fabs(c->r_m[i]) / c->rel[c->obs[i].gw];
  if (n == 0) return 0;
  gsl_sort(c->work, 1, n);
  return MAD_TO_SIGMA * gsl_stats_median_from_sorted_data(c->work, 1, n);
}

static double weight_of(double u, bool tukey) {
  u = fabs(u);
  if (tukey) {
    if (u >= TUKEY_C) return 0;
    double q = 1 - (u / TUKEY_C) * (u / TUKEY_C);
    return q * q;
  }
  return u <= HUBER_K ? 1 : HUBER_K / u;
}

/* Tukey's rho (the biweight's objective), for comparing the ends of several starts. */
static double tukey_rho(double u) {
  double a = fabs(u) / TUKEY_C;
  if (a >= 1) return TUKEY_C * TUKEY_C / 6;
  double q = 1 - a * a;
  return TUKEY_C * TUKEY_C / 6 * (1 - q * q * q);
}

static void reweight(struct jctx *c, double scale_m, bool tukey) {
  for (size_t i = 0; i < c->n_obs; i++) {
    double rel = c->rel[c->obs[i].gw];
    double wr = c->plain ? 1 : weight_of(c->r_m[i] / (rel * scale_m), tukey);
    c->w[i] = wr / (rel * rel);
  }
}

static double wcost(const struct jctx *c) {
  double s = 0;
  for (size_t i = 0; i < c->n_obs; i++)
    s += c->w[i] * c->r_m[i] * c->r_m[i];
  return s;
}

/* The weighted normal matrix of the profiled problem (and, with g, its gradient), and
 * per gateway the sum of w x Jacobian rows (the sandwich term of a per-gateway bias). */
static void normal(struct jctx *c, double h[4], double g[2], double (*per_gw)[2]) {
  memset(h, 0, 4 * sizeof(double));
  if (g) g[0] = g[1] = 0;
  if (per_gw) memset(per_gw, 0, c->n_gw * sizeof(*per_gw));
  /* each frame's weighted mean gradient (the profiled emission time's), in work */
  double *me = c->work, *mn = c->work + c->n_frames;
  memset(me, 0, 2 * c->n_frames * sizeof(double));
  for (size_t i = 0; i < c->n_obs; i++) {
    uint32_t f = c->obs[i].frame;
    me[f] += c->w[i] * c->dgrad[c->obs[i].gw][0];
    mn[f] += c->w[i] * c->dgrad[c->obs[i].gw][1];
  }
  for (size_t f = 0; f < c->n_frames; f++)
    if (c->wsum[f] > 0) me[f] /= c->wsum[f], mn[f] /= c->wsum[f];
  for (size_t i = 0; i < c->n_obs; i++) {
    uint32_t f = c->obs[i].frame;
    double j0 = -(c->dgrad[c->obs[i].gw][0] - me[f]), j1 = -(c->dgrad[c->obs[i].gw][1] - mn[f]);
    double w = c->w[i];
    h[0] += w * j0 * j0, h[1] += w * j0 * j1, h[3] += w * j1 * j1;
    if (g) g[0] += w * j0 * c->r_m[i], g[1] += w * j1 * c->r_m[i];
    if (per_gw) per_gw[c->obs[i].gw][0] += w * j0, per_gw[c->obs[i].gw][1] += w * j1;
  }
  h[2] = h[1];
}

/* Solves the 2x2 SPD system h x = b (GSL Cholesky); false when h is not positive. */
static bool solve2(const double h[4], const double b[2], double x[2]) {
  double a[4] = {h[0], h[1], h[2], h[3]}, bb[2] = {b[0], b[1]};
  gsl_matrix_view m = gsl_matrix_view_array(a, 2, 2);
  gsl_vector_view vb = gsl_vector_view_array(bb, 2), vx = gsl_vector_view_array(x, 2);
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  int rc = gsl_linalg_cholesky_decomp1(&m.matrix);
  if (rc == 0) rc = gsl_linalg_cholesky_solve(&m.matrix, &vb.vector, &vx.vector);
  gsl_set_error_handler(old);
  return rc == 0 && isfinite(x[0]) && isfinite(x[1]);
}

/* IRLS with the scale re-estimated (Huber) or held (Tukey); Gauss-Newton steps with
 * halving when the weighted cost grows. Returns the iterations used. */
static int irls(struct jctx *c, double xy[2], double *scale_m, bool tukey, int max_iter) {
  int it;
  for (it = 0; it < max_iter; it++) {
    ranges(c, xy);
    residuals(c);
    if (!tukey) {
      double s = mad_scale(c);
      if (s > 0) *scale_m = s;
    }
    reweight(c, *scale_m, tukey);
    residuals(c);
    double h[4], g[2], step[2];
    normal(c, h, g, NULL);
    if (!solve2(h, (double[2]){-g[0], -g[1]}, step)) break;
    double len = hypot(step[0], step[1]); /* no jump across the region in one step */
    if (len > c->region_m / 4) step[0] *= c->region_m / 4 / len, step[1] *= c->region_m / 4 / len;
    double cost0 = wcost(c), t = 1;
    double next[2];
    for (int k = 0; k < 20; k++, t /= 2) {
      next[0] = xy[0] + t * step[0], next[1] = xy[1] + t * step[1];
      ranges(c, next);
      residuals(c);
      if (wcost(c) <= cost0 * (1 + 1e-12)) break;
    }
    xy[0] = next[0], xy[1] = next[1];
    double from_centre = hypot(xy[0], xy[1]);
    if (from_centre > c->region_m) /* a hyperbola's asymptote: held at the region's edge */
      xy[0] *= c->region_m / from_centre, xy[1] *= c->region_m / from_centre;
    if (hypot(t * step[0], t * step[1]) < 1e-3) break;
  }
  ranges(c, xy);
  residuals(c);
  return it + 1;
}

/* Per gateway: 1.4826 x the median |residual| (about zero, so a gateway whose times are
 * all off by the same amount earns a large scale too), relative to the common scale,
 * never below half of it; gateways with fewer than `min_obs` receptions keep 1. */
static void gateway_scales(struct jctx *c, double scale_m, size_t min_obs) {
  for (size_t k = 0; k < c->n_gw; k++) {
    size_t n = 0;
    for (size_t i = 0; i < c->n_obs; i++)
      if (c->obs[i].gw == k) c->work[n++] = fabs(c->r_m[i]);
    if (n < min_obs || !(scale_m > 0)) continue;
    gsl_sort(c->work, 1, n);
    double s = MAD_TO_SIGMA * gsl_stats_median_from_sorted_data(c->work, 1, n);
    c->rel[k] = fmax(s / scale_m, 0.5);
  }
}

/* The radius by bisection on geo_gauss_within (nlos.c). */
double lg_geo_radius_for(const double cov_en[3], double prob) {
  double tr = cov_en[0] + cov_en[2], det = cov_en[0] * cov_en[2] - cov_en[1] * cov_en[1];
  double disc = sqrt(fmax(tr * tr / 4 - det, 0));
  double l1 = fmax(tr / 2 + disc, 0), l2 = fmax(tr / 2 - disc, 0);
  double s1 = sqrt(l1), s2 = sqrt(l2);
  if (!(s1 > 0) || !(prob > 0 && prob < 1)) return 0;
  double lo = 0, hi = 4 * (s1 + s2);
  while (geo_gauss_within(hi, s1, s2) < prob)
    hi *= 2;
  for (int k = 0; k < 60; k++) {
    double mid = (lo + hi) / 2;
    if (geo_gauss_within(mid, s1, s2) < prob)
      lo = mid;
    else
      hi = mid;
  }
  return (lo + hi) / 2;
}

struct lg_joint_opts lg_joint_opts_default(void) {
  return (struct lg_joint_opts){
      .device_alt_m = 0, .robust = true, .gateway_scales = true, .max_iter = 50};
}

/* From one start: Huber with the MAD scale, per-gateway scales (unless calibrated),
 * Huber again, then Tukey's biweight at the scale Huber ended with. */
static void fit_from(struct jctx *c, const struct lg_joint_gateway *gw, const struct lg_joint_opts *o,
                     double xy[2], double *scale_m, int *iters) {
  /* calibrated noise scales, relative to their median; a gateway without one gets it */
  size_t nk = 0;
  for (size_t k = 0; k < c->n_gw; k++)
    if (gw[k].sigma_ns > 0) c->work[nk++] = gw[k].sigma_ns;
  double med = 1;
  if (nk > 0) {
    gsl_sort(c->work, 1, nk);
    med = gsl_stats_median_from_sorted_data(c->work, 1, nk);
  }
  for (size_t k = 0; k < c->n_gw; k++)
    c->rel[k] = gw[k].sigma_ns > 0 ? gw[k].sigma_ns / med : 1;
  for (size_t i = 0; i < c->n_obs; i++)
    c->w[i] = 1 / (c->rel[c->obs[i].gw] * c->rel[c->obs[i].gw]);
  *iters = irls(c, xy, scale_m, false, o->max_iter);
  if (c->plain) return;
  if (o->gateway_scales && nk == 0) {
    gateway_scales(c, *scale_m, 20);
    *iters += irls(c, xy, scale_m, false, o->max_iter);
  }
  *iters += irls(c, xy, scale_m, true, o->max_iter);
}

static double objective(struct jctx *c, double scale_m) {
  double s = 0;
  for (size_t i = 0; i < c->n_obs; i++)
    s += tukey_rho(c->r_m[i] / (c->rel[c->obs[i].gw] * scale_m));
  return s;
}

int lg_geo_joint_solve(const struct lg_joint_gateway *gw, size_t n_gw,
                       const struct lg_joint_obs *obs, size_t n_obs, size_t n_frames,
                       const struct lg_joint_opts *o, const double (*starts)[2],
                       size_t n_starts, struct lg_joint_fix *fix, char *why, size_t why_len) {
  memset(fix, 0, sizeof(*fix));
  if (n_gw < 3 || n_obs < 3 || n_frames == 0) {
    snprintf(why, why_len, "joint: needs 3+ gateways and receptions (have %zu, %zu)", n_gw, n_obs);
    return LG_EINVAL;
  }
  struct jctx c = {.obs = obs, .n_obs = n_obs, .n_frames = n_frames, .n_gw = n_gw,
                   .device_alt_m = o->device_alt_m, .plain = !o->robust};
  int rc = LG_ENOMEM;
  size_t nw = n_obs > 2 * n_frames ? n_obs : 2 * n_frames;
  if (nw < n_gw) nw = n_gw;
  c.gw_ecef = malloc(n_gw * sizeof(*c.gw_ecef));
  c.y_m = malloc(n_obs * sizeof(double));
  c.rel = malloc(n_gw * sizeof(double));
  c.w = malloc(n_obs * sizeof(double));
  c.r_m = malloc(n_obs * sizeof(double));
  c.tau_m = malloc(n_frames * sizeof(double));
  c.wsum = malloc(n_frames * sizeof(double));
  c.dgrad = malloc(n_gw * sizeof(*c.dgrad));
  c.dist_m = malloc(n_gw * sizeof(double));
  c.work = malloc(nw * sizeof(double));
  int64_t *t0 = malloc(n_frames * sizeof(int64_t));
  double(*per_gw)[2] = malloc(n_gw * sizeof(*per_gw));
  size_t *heard = calloc(n_frames, sizeof(size_t));
  if (!c.gw_ecef || !c.y_m || !c.rel || !c.w || !c.r_m || !c.tau_m || !c.wsum || !c.dgrad ||
      !c.dist_m || !c.work || !t0 || !per_gw || !heard) {
    snprintf(why, why_len, "joint: out of memory");
    goto out;
  }
  rc = LG_EINVAL;
  /* the local frame at the gateways' centroid; every start point is in it */
  double sum[3] = {0, 0, 0};
  for (size_t k = 0; k < n_gw; k++) {
    struct lg_geodetic g = {gw[k].lat_deg, gw[k].lon_deg, gw[k].alt_m};
    if (!(fabs(g.lat_deg) <= 90) || !(fabs(g.lon_deg) <= 180)) {
      snprintf(why, why_len, "joint: gateway %zu has bad coordinates", k);
      goto out;
    }
    lg_geo_to_ecef(&g, c.gw_ecef[k]);
    for (int a = 0; a < 3; a++)
      sum[a] += c.gw_ecef[k][a] / (double)n_gw;
  }
  struct lg_geodetic centre;
  lg_geo_from_ecef(sum, &centre);
  centre.alt_m = o->device_alt_m;
  lg_enu_init(&c.frame, &centre);
  /* The region a device heard by these gateways can be in: 1.5 x the farthest gateway
   * from their centre, plus 2 km. Where a fit would leave it (the asymptote of a
   * hyperbola that a badly timed frame draws), the position stays on its edge. */
  c.region_m = 0;
  for (size_t k = 0; k < n_gw; k++) {
    double enu[3];
    lg_enu_from_ecef(&c.frame, c.gw_ecef[k], enu);
    c.region_m = fmax(c.region_m, hypot(enu[0], enu[1]));
  }
  c.region_m = 1.5 * c.region_m + 2000;
  /* times relative to each frame's first reception (int64 until the difference is small) */
  for (size_t f = 0; f < n_frames; f++)
    t0[f] = INT64_MAX;
  for (size_t i = 0; i < n_obs; i++) {
    if (obs[i].frame >= n_frames || obs[i].gw >= n_gw) {
      snprintf(why, why_len, "joint: reception %zu names a frame or gateway out of range", i);
      goto out;
    }
    if (obs[i].time_ns < t0[obs[i].frame]) t0[obs[i].frame] = obs[i].time_ns;
    heard[obs[i].frame]++;
  }
  size_t used = 0;
  for (size_t i = 0; i < n_obs; i++) {
    double dt_ns = (double)(obs[i].time_ns - t0[obs[i].frame]) - gw[obs[i].gw].offset_ns;
    c.y_m[i] = dt_ns * 1e-9 * LG_GEO_C_MPS;
    used += heard[obs[i].frame] >= 2;
  }
  if (used < 3) {
    snprintf(why, why_len, "joint: no frame was heard by two gateways");
    goto out;
  }
  /* start points: the caller's, and the gateways' centroid */
  double st[MAX_STARTS][2];
  size_t ns = 0;
  for (size_t k = 0; k < n_starts && ns + 1 < MAX_STARTS; k++) {
    struct lg_geodetic g = {starts[k][0], starts[k][1], o->device_alt_m};
    double enu[3];
    if (!isfinite(g.lat_deg) || !isfinite(g.lon_deg)) continue;
    lg_enu_from_geodetic(&c.frame, &g, enu);
    st[ns][0] = enu[0], st[ns][1] = enu[1], ns++;
  }
  st[ns][0] = st[ns][1] = 0, ns++;
  double best_xy[2] = {0, 0}, best_obj = INFINITY, best_scale = 0;
  int iters = 0;
  double ends[MAX_STARTS][3];
  for (size_t k = 0; k < ns; k++) {
    double xy[2] = {st[k][0], st[k][1]}, scale = 0;
    int it;
    fit_from(&c, gw, o, xy, &scale, &it);
    iters += it;
    ends[k][0] = xy[0], ends[k][1] = xy[1], ends[k][2] = scale;
  }
  /* the starts' ends compared on one scale: the smallest any of them found */
  double ref = INFINITY;
  for (size_t k = 0; k < ns; k++)
    if (ends[k][2] > 0) ref = fmin(ref, ends[k][2]);
  for (size_t k = 0; k < ns; k++) {
    if (!(ends[k][2] > 0)) continue;
    double xy[2] = {ends[k][0], ends[k][1]}, scale = ends[k][2];
    int it;
    if (ns > 1) fit_from(&c, gw, o, xy, &scale, &it); /* state (rel, w) of this end again */
    double obj = objective(&c, ref);
    if (obj < best_obj) best_obj = obj, best_xy[0] = xy[0], best_xy[1] = xy[1], best_scale = scale;
  }
  if (!isfinite(best_obj)) {
    snprintf(why, why_len, "joint: the residuals have no scale (all receptions agree exactly?)");
    goto out;
  }
  double xy[2] = {best_xy[0], best_xy[1]}, scale = best_scale;
  int it;
  fit_from(&c, gw, o, xy, &scale, &it);
  /* quality at the end: weighted LS covariance plus the per-gateway bias sandwich */
  double h[4];
  normal(&c, h, NULL, per_gw);
  double sw = 0, swr2 = 0;
  size_t down = 0, kept = 0;
  for (size_t i = 0; i < n_obs; i++) {
    double rel = c.rel[obs[i].gw];
    double wr = c.plain ? 1 : weight_of(c.r_m[i] / (rel * scale), true);
    sw += wr, swr2 += c.w[i] * c.r_m[i] * c.r_m[i];
    down += wr < 0.5;
    /* set aside: no biweight, or less than 1 % of a typical reception's weight (a
     * gateway whose own scale is ten times the others') */
    kept += wr > 0 && c.w[i] > 0.01;
  }
  double dof = sw - 2 - (double)n_frames;
  /* residual variance per unit relative scale, over the receptions the biweight kept */
  double s2 = dof > 1 ? swr2 / dof : scale * scale;
  /* An M-estimate varies more than least squares on the data it kept: Huber's (1981,
   * 7.6) factor sum psi^2 / (n - p) / (mean psi')^2 at the robust scale, never less. */
  double spsi2 = 0, sdpsi = 0;
  for (size_t i = 0; i < n_obs && !c.plain; i++) {
    double u = c.r_m[i] / (c.rel[obs[i].gw] * scale), a = u / TUKEY_C;
    if (fabs(a) >= 1) continue;
    double q = 1 - a * a;
    spsi2 += u * q * q * u * q * q;
    sdpsi += q * (1 - 5 * a * a);
  }
  double nn = (double)n_obs, pp = 2 + (double)n_frames;
  if (!c.plain && sdpsi > 0 && nn > pp + 1)
    s2 = fmax(s2, scale * scale * spsi2 / (nn - pp) / ((sdpsi / nn) * (sdpsi / nn)));
  double inv[4], det = h[0] * h[3] - h[1] * h[2];
  if (!(det > 0)) {
    snprintf(why, why_len, "joint: the geometry does not fix a position");
    goto out;
  }
  inv[0] = h[3] / det, inv[1] = inv[2] = -h[1] / det, inv[3] = h[0] / det;
  /* Fixed per-gateway errors, which more frames do not average away: each gateway's
   * weighted mean residual, less the variance its own noise gives that mean, is one
   * sample of them; the fit absorbed 3 of the gateways' degrees of freedom (position,
   * common time). A bias b_k moves the position by H^-1 A_k b_k, A_k = sum of w J over
   * gateway k's receptions, hence the sandwich H^-1 (sum A_k A_k^T) H^-1 bias2. */
  /* A gateway the per-gateway scales set apart (an offset of tens of us: its weight is
   * already all but nil) is not a sample of the others' errors. */
  size_t nb = 0;
  for (size_t k = 0; k < n_gw; k++) {
    double s = 0, ww = 0, ww2 = 0, rel2 = c.rel[k] * c.rel[k];
    for (size_t i = 0; i < n_obs; i++)
      if (obs[i].gw == k && c.w[i] > 0)
        s += c.w[i] * c.r_m[i], ww += c.w[i], ww2 += c.w[i] * c.w[i] * rel2;
    if (!(ww > 0) || c.rel[k] > 3) continue; /* a gateway the scales set apart */
    double mean = s / ww;
    c.work[nb++] = mean * mean - s2 * ww2 / (ww * ww);
  }
  double bias2 = 0;
  for (size_t k = 0; k < nb; k++)
    bias2 += c.work[k];
  bias2 = nb > 3 ? fmax(bias2 / (double)(nb - 3), 0) : 0;
  double bcov[4] = {0, 0, 0, 0};
  for (size_t k = 0; k < n_gw; k++) {
    bcov[0] += per_gw[k][0] * per_gw[k][0], bcov[1] += per_gw[k][0] * per_gw[k][1];
    bcov[3] += per_gw[k][1] * per_gw[k][1];
  }
  bcov[2] = bcov[1];
  double cov[4];
  for (int r = 0; r < 2; r++)
    for (int q = 0; q < 2; q++) {
      double m = 0;
      for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
          m += inv[r * 2 + a] * bcov[a * 2 + b] * inv[b * 2 + q];
      cov[r * 2 + q] = s2 * inv[r * 2 + q] + bias2 * m;
    }
  struct lg_geodetic g;
  lg_enu_to_geodetic(&c.frame, (double[3]){xy[0], xy[1], 0}, &g);
  fix->lat_deg = g.lat_deg;
  fix->lon_deg = g.lon_deg;
  fix->cov_en[0] = cov[0], fix->cov_en[1] = cov[1], fix->cov_en[2] = cov[3];
  fix->accuracy_m = lg_geo_radius_for(fix->cov_en, 0.68);
  fix->accuracy_95_m = lg_geo_radius_for(fix->cov_en, 0.95);
  fix->scale_ns = scale / LG_GEO_C_MPS * 1e9;
  fix->bias_ns = sqrt(bias2) / LG_GEO_C_MPS * 1e9;
  fix->receptions_used = kept;
  fix->receptions_downweighted = down;
  fix->frames = n_frames;
  fix->iterations = iters;
  rc = 0;
out:
  free(c.gw_ecef);
  free(c.y_m);
  free(c.rel);
  free(c.w);
  free(c.r_m);
  free(c.tau_m);
  free(c.wsum);
  free(c.dgrad);
  free(c.dist_m);
  free(c.work);
  free(t0);
  free(per_gw);
  free(heard);
  return rc;
}
