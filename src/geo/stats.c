/*
 * Many frames of one device: the Generalized ESD outlier test (Rosner 1983, thesis
 * §4.4), the number of samples a target accuracy needs (thesis eq. 5.6), and a
 * constant-velocity Kalman filter for moving devices.
 */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"
#include "util/util.h"

int lg_gesd(const double *x, size_t n, size_t max_outliers, double alpha, size_t *count,
            bool *is_outlier, double *r_out, double *lambda_out) {
  if (n < 3 || !(alpha > 0 && alpha < 1)) return LG_EINVAL;
  if (max_outliers > n - 2) max_outliers = n - 2;
  bool *removed = calloc(n, sizeof(bool));
  size_t *order = calloc(max_outliers + 1, sizeof(size_t));
  if (removed == NULL || order == NULL) {
    free(removed);
    free(order);
    return LG_ENOMEM;
  }
  size_t found = 0;
  for (size_t i = 1; i <= max_outliers; i++) {
    /* R_i: the most extreme studentized deviate of what remains. */
    double sum = 0, sum2 = 0;
    size_t m = n - i + 1;
    for (size_t k = 0; k < n; k++)
      if (!removed[k]) sum += x[k];
    double mean = sum / (double)m;
    for (size_t k = 0; k < n; k++)
      if (!removed[k]) sum2 += (x[k] - mean) * (x[k] - mean);
    double sd = sqrt(sum2 / (double)(m - 1));
    size_t worst = n;
    double r = -1;
    for (size_t k = 0; k < n; k++) {
      if (removed[k]) continue;
      double dev = fabs(x[k] - mean);
      if (dev > r) {
        r = dev;
        worst = k;
      }
    }
    r = sd > 0 ? r / sd : 0.0;
    /* lambda_i = (n-i) t_{p,n-i-1} / sqrt((n-i-1 + t^2)(n-i+1)), p = 1 - alpha/(2(n-i+1)) */
    double p = 1.0 - alpha / (2.0 * (double)m);
    double df = (double)(n - i - 1);
    double t = gsl_cdf_tdist_Pinv(p, df);
    double lambda = (double)(n - i) * t / sqrt((df + t * t) * (double)m);
    if (r_out) r_out[i - 1] = r;
    if (lambda_out) lambda_out[i - 1] = lambda;
    removed[worst] = true;
    order[i - 1] = worst;
    if (r > lambda) found = i; /* the largest i with R_i > lambda_i */
  }
  if (is_outlier) {
    memset(is_outlier, 0, n * sizeof(bool));
    for (size_t i = 0; i < found; i++)
      is_outlier[order[i]] = true;
  }
  *count = found;
  free(removed);
  free(order);
  return 0;
}

double lg_plan_samples(double sigma, double tolerance, double confidence) {
  double z = gsl_cdf_ugaussian_Pinv(0.5 + confidence / 2.0);
  double k = z * sigma / tolerance;
  return k * k;
}

/* Predict to t_ns: x' = F x, P' = F P F^T + Q, F = [I dt I; 0 I], Q from white
 * acceleration. */
static void predict(const struct lg_track *t, int64_t t_ns, double x[4], double p[4][4]) {
  double dt = (double)(t_ns - t->t_ns) * 1e-9;
  double f[4][4] = {{1, 0, dt, 0}, {0, 1, 0, dt}, {0, 0, 1, 0}, {0, 0, 0, 1}};
  double q = t->accel_sigma * t->accel_sigma;
  double q11 = q * dt * dt * dt * dt / 4, q12 = q * dt * dt * dt / 2, q22 = q * dt * dt;
  double qm[4][4] = {{q11, 0, q12, 0}, {0, q11, 0, q12}, {q12, 0, q22, 0}, {0, q12, 0, q22}};
  double fp[4][4] = {{0}};
  for (int i = 0; i < 4; i++) {
    x[i] = 0;
    for (int k = 0; k < 4; k++)
      x[i] += f[i][k] * t->x[k];
  }
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++)
      for (int k = 0; k < 4; k++)
        fp[i][j] += f[i][k] * t->p[k][j];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      p[i][j] = qm[i][j];
      for (int k = 0; k < 4; k++)
        p[i][j] += fp[i][k] * f[j][k];
    }
}

int lg_track_gate(const struct lg_track *t, int64_t t_ns, double e_m, double n_m,
                  const double cov_en[3], double *d2) {
  if (!t->started) {
    *d2 = 0;
    return 0;
  }
  if (t_ns < t->t_ns) return LG_EINVAL;
  double x[4], p[4][4];
  predict(t, t_ns, x, p);
  double s00 = p[0][0] + cov_en[0], s01 = p[0][1] + cov_en[1], s11 = p[1][1] + cov_en[2];
  double det = s00 * s11 - s01 * s01;
  if (!(det > 0)) return LG_EINVAL;
  double y0 = e_m - x[0], y1 = n_m - x[1];
  *d2 = (s11 * y0 * y0 - 2 * s01 * y0 * y1 + s00 * y1 * y1) / det;
  return 0;
}

void lg_track_init(struct lg_track *t, double accel_sigma_mps2) {
  memset(t, 0, sizeof(*t));
  t->accel_sigma = accel_sigma_mps2;
}

int lg_track_update(struct lg_track *t, int64_t t_ns, double e_m, double n_m,
                    const double cov_en[3]) {
  double r00 = cov_en[0], r01 = cov_en[1], r11 = cov_en[2];
  if (!(r00 > 0 && r11 > 0 && r00 * r11 - r01 * r01 > 0)) return LG_EINVAL;
  if (!t->started) {
    memset(t->x, 0, sizeof(t->x));
    memset(t->p, 0, sizeof(t->p));
    t->x[0] = e_m;
    t->x[1] = n_m;
    t->p[0][0] = r00;
    t->p[0][1] = t->p[1][0] = r01;
    t->p[1][1] = r11;
    t->p[2][2] = t->p[3][3] = 100.0; /* speed unknown: (10 m/s)^2 */
    t->t_ns = t_ns;
    t->started = true;
    return 0;
  }
  if (t_ns < t->t_ns) return LG_EINVAL;
  double x[4], p[4][4];
  predict(t, t_ns, x, p);
  t->t_ns = t_ns;
  /* Update with z = (e, n): S = H P H^T + R, K = P H^T S^-1. */
  double s00 = p[0][0] + r00, s01 = p[0][1] + r01, s11 = p[1][1] + r11;
  double det = s00 * s11 - s01 * s01;
  if (!(det > 0)) return LG_EINVAL;
  double si[2][2] = {{s11 / det, -s01 / det}, {-s01 / det, s00 / det}};
  double k[4][2];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 2; j++)
      k[i][j] = p[i][0] * si[0][j] + p[i][1] * si[1][j];
  double y[2] = {e_m - x[0], n_m - x[1]};
  for (int i = 0; i < 4; i++)
    t->x[i] = x[i] + k[i][0] * y[0] + k[i][1] * y[1];
  /* Joseph form, P = (I - K H) P (I - K H)^T + K R K^T: symmetric and positive definite
   * by construction. The short form P - K H P lets rounding break the symmetry, and
   * that error grows from update to update until the filter diverges. */
  double a[4][4], ap[4][4] = {{0}};
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++)
      a[i][j] = (i == j) - (j < 2 ? k[i][j] : 0.0);
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++)
      for (int m = 0; m < 4; m++)
        ap[i][j] += a[i][m] * p[m][j];
  double r[2][2] = {{r00, r01}, {r01, r11}};
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      double v = 0;
      for (int m = 0; m < 4; m++)
        v += ap[i][m] * a[j][m];
      for (int u = 0; u < 2; u++)
        for (int w = 0; w < 2; w++)
          v += k[i][u] * r[u][w] * k[j][w];
      t->p[i][j] = v;
    }
  return 0;
}
