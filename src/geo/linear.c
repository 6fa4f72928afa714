/*
 * Closed-form multilateration, the thesis' non-iterative algorithm (§4.5.2, appendix A)
 * done in a local east-north-up frame with the device height known (the thesis dropped
 * the third coordinate in ECEF, one reason for its kilometre errors).
 *
 * With d_i = d_r + D_i (D_i = c (t_i - t_r)) and K_j = x_j^2 + y_j^2 + (z - z_j)^2:
 *   2 (x_i - x_r) x + 2 (y_i - y_r) y + 2 D_i d_r = K_i - K_r - D_i^2
 * is linear in (x, y, d_r): least squares from 4 gateways up. With 3 gateways, (x, y)
 * is linear in d_r and d_r^2 = |(x, y, z) - g_r|^2 gives a quadratic (spherical
 * intersection), with up to two admissible roots.
 */
#include <math.h>

#include "geo/problem.h"
#include "util/util.h"

/* Solves the symmetric 3x3 system a x = b by Cramer's rule; -1 when singular. */
static int solve3(const double a[3][3], const double b[3], double x[3]) {
  double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
               a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
               a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  double scale = fabs(a[0][0] * a[1][1] * a[2][2]) + 1e-300;
  if (!(fabs(det) > 1e-12 * scale)) return LG_EINVAL;
  for (int k = 0; k < 3; k++) {
    double m[3][3];
    for (int i = 0; i < 3; i++)
      for (int j = 0; j < 3; j++)
        m[i][j] = j == k ? b[i] : a[i][j];
    x[k] = (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
            m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
            m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])) /
           det;
  }
  return 0;
}

static double k_term(const struct geo_gw *g, double z) {
  return g->enu[0] * g->enu[0] + g->enu[1] * g->enu[1] + (z - g->enu[2]) * (z - g->enu[2]);
}

int geo_lls_ref(const struct geo_problem *p, size_t ref, double xy[2]) {
  const struct geo_gw *r = &p->gw[ref];
  if (!r->timed || !r->active) return LG_EINVAL;
  double z = p->up0;
  double ata[3][3] = {{0}}, atb[3] = {0};
  int rows = 0;
  for (size_t i = 0; i < p->n; i++) {
    const struct geo_gw *g = &p->gw[i];
    if (i == ref || !g->timed || !g->active) continue;
    double d = g->toa_m - r->toa_m;
    double row[3] = {2 * (g->enu[0] - r->enu[0]), 2 * (g->enu[1] - r->enu[1]), 2 * d};
    double rhs = k_term(g, z) - k_term(r, z) - d * d;
    for (int a = 0; a < 3; a++) {
      for (int b = 0; b < 3; b++)
        ata[a][b] += row[a] * row[b];
      atb[a] += row[a] * rhs;
    }
    rows++;
  }
  if (rows < 3) return LG_EINVAL;
  double x[3];
  if (solve3(ata, atb, x)) return LG_EINVAL;
  xy[0] = x[0];
  xy[1] = x[1];
  return 0;
}

/* Spherical intersection for exactly three timed gateways: up to two (e, n). */
static size_t three_gateway_roots(const struct geo_problem *p, const size_t idx[3], double (*xy)[2],
                                  size_t cap) {
  const struct geo_gw *r = &p->gw[idx[0]];
  double z = p->up0;
  double a[2][2], b[2], dd[2];
  for (int k = 0; k < 2; k++) {
    const struct geo_gw *g = &p->gw[idx[k + 1]];
    double d = g->toa_m - r->toa_m;
    a[k][0] = 2 * (g->enu[0] - r->enu[0]);
    a[k][1] = 2 * (g->enu[1] - r->enu[1]);
    b[k] = k_term(g, z) - k_term(r, z) - d * d;
    dd[k] = 2 * d;
  }
  double det = a[0][0] * a[1][1] - a[0][1] * a[1][0];
  if (fabs(det) < 1e-9) return 0;
  /* (x, y) = m + k d_r */
  double m[2] = {(a[1][1] * b[0] - a[0][1] * b[1]) / det, (-a[1][0] * b[0] + a[0][0] * b[1]) / det};
  double kv[2] = {-(a[1][1] * dd[0] - a[0][1] * dd[1]) / det,
                  -(-a[1][0] * dd[0] + a[0][0] * dd[1]) / det};
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

size_t geo_start_points(const struct geo_problem *p, double (*xy)[2], size_t cap) {
  size_t out = 0, idx[LG_GEO_MAX_RX], nt = 0, first = 0;
  for (size_t i = 0; i < p->n; i++) {
    if (!p->gw[i].timed || !p->gw[i].active) continue;
    if (nt == 0 || p->gw[i].toa_m < p->gw[first].toa_m) first = i;
    idx[nt++] = i;
  }
  if (p->use_toa && nt >= 4 && out < cap && geo_lls_ref(p, first, xy[out]) == 0) out++;
  if (p->use_toa && nt == 3 && out < cap) {
    size_t tri[3] = {idx[0], idx[1], idx[2]};
    for (int k = 1; k < 3; k++)
      if (tri[k] == first) {
        tri[k] = tri[0];
        tri[0] = first;
      }
    out += three_gateway_roots(p, tri, xy + out, cap - out);
  }
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
