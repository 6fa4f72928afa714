/*
 * Closed-form multilateration in a local east-north-up frame with the device height known
 * (the thesis dropped the third coordinate in ECEF, one reason for its kilometre errors).
 *
 * With d_i = d_r + D_i (D_i = c (t_i - t_r)) and K_j = x_j^2 + y_j^2 + (z - z_j)^2:
 *   2 (x_i - x_r) x + 2 (y_i - y_r) y + 2 D_i d_r = K_i - K_r - D_i^2
 * The thesis (§4.5.2, appendix A) solves this for (x, y, d_r) as three free unknowns,
 * which four gateways determine exactly and without any check: near a gateway or outside
 * their hull the system is close to singular (spot B of the thesis site: a 1.2 km median
 * error on four-gateway frames with 10 ns of noise). Here d_r is what it is, a range:
 * (x, y) = m + k d_r by least squares over the other gateways, and
 * d_r^2 = |(x, y, z) - g_r|^2 gives a quadratic (spherical intersection) with up to two
 * admissible roots; the arrival times pick between them (4+ gateways) or both are start
 * points (3).
 */
#include <math.h>
#include <string.h>

#include "geo/problem.h"
#include "util/util.h"

static double k_term(const struct geo_gw *g, double z) {
  return g->enu[0] * g->enu[0] + g->enu[1] * g->enu[1] + (z - g->enu[2]) * (z - g->enu[2]);
}

/*
 * Spherical intersection with gateway `ref` as the reference, over every other active
 * timed gateway: (x, y) = m + k d_r by least squares, then d_r^2 = |(x, y, z) - g_r|^2,
 * a quadratic with up to two admissible roots. Returns how many (e, n) it wrote.
 */
static size_t sphere_roots(const struct geo_problem *p, size_t ref, double (*xy)[2], size_t cap) {
  const struct geo_gw *r = &p->gw[ref];
  if (!r->timed || !r->active) return 0;
  double z = p->up0;
  double a[LG_GEO_MAX_RX][2], b[LG_GEO_MAX_RX], dd[LG_GEO_MAX_RX];
  size_t rows = 0;
  for (size_t i = 0; i < p->n; i++) {
    const struct geo_gw *g = &p->gw[i];
    if (i == ref || !g->timed || !g->active) continue;
    double d = g->toa_m - r->toa_m;
    a[rows][0] = 2 * (g->enu[0] - r->enu[0]);
    a[rows][1] = 2 * (g->enu[1] - r->enu[1]);
    b[rows] = k_term(g, z) - k_term(r, z) - d * d;
    dd[rows++] = 2 * d;
  }
  if (rows < 2) return 0;
  /* Two rows (three gateways) are solved as they are; more through the normal equations. */
  double ata[2][2] = {{a[0][0], a[0][1]}, {a[1][0], a[1][1]}}, atb[2] = {b[0], b[1]},
         atd[2] = {dd[0], dd[1]};
  if (rows > 2) {
    memset(ata, 0, sizeof(ata));
    atb[0] = atb[1] = atd[0] = atd[1] = 0;
    for (size_t k = 0; k < rows; k++)
      for (int i = 0; i < 2; i++) {
        for (int j = 0; j < 2; j++)
          ata[i][j] += a[k][i] * a[k][j];
        atb[i] += a[k][i] * b[k];
        atd[i] += a[k][i] * dd[k];
      }
  }
  double det = ata[0][0] * ata[1][1] - ata[0][1] * ata[1][0];
  if (rows == 2 ? fabs(det) < 1e-9 : !(fabs(det) > 1e-12 * fabs(ata[0][0] * ata[1][1]))) return 0;
  double m[2] = {(ata[1][1] * atb[0] - ata[0][1] * atb[1]) / det,
                 (-ata[1][0] * atb[0] + ata[0][0] * atb[1]) / det};
  double kv[2] = {-(ata[1][1] * atd[0] - ata[0][1] * atd[1]) / det,
                  -(-ata[1][0] * atd[0] + ata[0][0] * atd[1]) / det};
  double u[2] = {m[0] - r->enu[0], m[1] - r->enu[1]};
  double dz = z - r->enu[2];
  double qa = kv[0] * kv[0] + kv[1] * kv[1] - 1.0;
  double qb = 2.0 * (kv[0] * u[0] + kv[1] * u[1]);
  double qc = u[0] * u[0] + u[1] * u[1] + dz * dz;
  double roots[2];
  size_t nroots = 0;
  if (fabs(qa) < 1e-12) {
    if (fabs(qb) > 1e-12) roots[nroots++] = -qc / qb;
  } else {
    double disc = qb * qb - 4 * qa * qc;
    if (disc < 0) disc = 0; /* noise can push a double root slightly negative */
    double s = sqrt(disc);
    roots[nroots++] = (-qb + s) / (2 * qa);
    roots[nroots++] = (-qb - s) / (2 * qa);
  }
  size_t out = 0;
  for (size_t i = 0; i < nroots && out < cap; i++) {
    if (!(roots[i] >= 0) || !isfinite(roots[i])) continue;
    xy[out][0] = m[0] + kv[0] * roots[i];
    xy[out][1] = m[1] + kv[1] * roots[i];
    out++;
  }
  return out;
}

/* The arrival times' misfit at (e, n) in units of their sigmas (chi-square), the emission
 * time profiled out (their weighted mean): the same for every choice of reference. */
static double toa_misfit(const struct geo_problem *p, const double xy[2]) {
  double z = geo_device_up(p, xy[0], xy[1]);
  double res[LG_GEO_MAX_RX], w[LG_GEO_MAX_RX], mean = 0, w_sum = 0;
  size_t k = 0;
  for (size_t i = 0; i < p->n; i++) {
    const struct geo_gw *g = &p->gw[i];
    if (!g->timed || !g->active) continue;
    double d[3] = {xy[0] - g->enu[0], xy[1] - g->enu[1], z - g->enu[2]};
    res[k] = g->toa_m - sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    w[k] = 1.0 / fmax(g->sigma_m * g->sigma_m, 1e-6);
    mean += w[k] * res[k];
    w_sum += w[k++];
  }
  mean /= w_sum;
  double s = 0;
  for (size_t i = 0; i < k; i++)
    s += w[i] * (res[i] - mean) * (res[i] - mean);
  return s;
}

size_t geo_n_active_timed(const struct geo_problem *p) {
  size_t k = 0;
  for (size_t i = 0; i < p->n; i++)
    k += p->gw[i].timed && p->gw[i].active;
  return k;
}

int geo_lls_ref(const struct geo_problem *p, size_t ref, double xy[2], double *misfit) {
  if (geo_n_active_timed(p) < 4) return LG_EINVAL;
  double roots[2][2];
  size_t n = sphere_roots(p, ref, roots, 2);
  if (n == 0) return LG_EINVAL;
  double best = INFINITY;
  for (size_t i = 0; i < n; i++) {
    /* a root beyond the region the gateways can hear (problem.c) is no candidate */
    if (hypot(roots[i][0] - p->prior_center[0], roots[i][1] - p->prior_center[1]) >
        p->prior_sigma_m)
      continue;
    double c = toa_misfit(p, roots[i]);
    if (c < best) {
      best = c;
      xy[0] = roots[i][0];
      xy[1] = roots[i][1];
    }
  }
  if (!isfinite(best)) return LG_EINVAL;
  if (misfit) *misfit = best;
  return 0;
}

size_t geo_start_points(const struct geo_problem *p, double (*xy)[2], size_t cap) {
  size_t out = 0, nt = 0, first = 0;
  for (size_t i = 0; i < p->n; i++) {
    if (!p->gw[i].timed || !p->gw[i].active) continue;
    if (nt == 0 || p->gw[i].toa_m < p->gw[first].toa_m) first = i;
    nt++;
  }
  if (p->use_toa && nt >= 4 && out < cap && geo_lls_ref(p, first, xy[out], NULL) == 0) out++;
  if (p->use_toa && nt == 3 && out < cap) out += sphere_roots(p, first, xy + out, cap - out);
  /* Centroid of the active gateways, weighted towards the loudest when RSSI is known. */
  if (out < cap) {
    double w_sum = 0, e = 0, n = 0;
    for (size_t i = 0; i < p->n; i++) {
      const struct geo_gw *g = &p->gw[i];
      if (!g->active) continue;
      double w = 1.0;
      if (g->has_rssi) {
        double d = lg_pathloss_distance(&p->opts->pathloss, g->rssi_dbm);
        w = 1.0 / fmax(d * d, 1.0);
      }
      w_sum += w;
      e += w * g->enu[0];
      n += w * g->enu[1];
    }
    if (w_sum > 0) {
      xy[out][0] = e / w_sum;
      xy[out][1] = n / w_sum;
      out++;
    }
  }
  return out;
}
