/*
 * The iterative solvers: `nls` (time of arrival), `rssi` and `hybrid`, one weighted
 * least-squares problem: Gauss-Newton steps first, GSL's Levenberg-Marquardt (trust
 * region) for the frames that need damping.
 *
 * State x = (e, n, u, b): the device in the local frame and b = c * (emission time -
 * earliest reception), all in metres. Residuals, each divided by its standard deviation:
 *   time    (|p - g_i| + b - c (t_i - t_min)) / (c sigma_i)     one per timed gateway
 *   RSSI    (rssi_i - model(|p - g_i|)) / sigma_dB              rssi and hybrid
 *   height  (h(p) - h_device) / 0.1 m                           2D: height assumed
 *   prior   (e, n) / sigma_region                               keeps fixes in range
 * Time of arrival with an unknown emission time is the maximum-likelihood form of TDOA
 * with independent noise per gateway, and each residual belongs to one gateway, which
 * is what robust rejection of non-line-of-sight (late) receptions needs.
 */
#include <gsl/gsl_blas.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/nlos.h"
#include "geo/problem.h"
#include "util/util.h"

#define NP             4   /* unknowns */
#define HEIGHT_SIGMA_M 0.1 /* how tightly a 2D fix holds the assumed height */
#define MAX_RESID      (LG_GEO_MAX_RX * 2 + 4)
#define RADIUS_STEPS   64  /* the radius table over the axis ratio 0..1 */

struct lg_geo_solver {
  gsl_multifit_nlinear_workspace *ws[MAX_RESID + 1]; /* by residual count, made on use */
  gsl_matrix *jac[MAX_RESID + 1];                    /* for the covariance, likewise */
  gsl_matrix *covar;
  double chi2_limit[MAX_RESID + 1]; /* 99.9 % chi-square quantile by degrees of freedom */
  double f1_prior_dof;              /* f1q[d]: 99.9 % quantile of F(1, prior + d) */
  double f1q[MAX_RESID + 1];
  /* radius / major axis sigma holding 68 % and 95 % of a 2-D Gaussian, by axis ratio */
  double radius_tab[2][RADIUS_STEPS + 1];
  /* 2 F(2, nu) quantiles at 68 % and 95 %, for nu = prior_dof + dof (see finish()) */
  double f2_prior_dof;
  double f2q[2][MAX_RESID + 1];
  bool lm_only;                     /* skip the Gauss-Newton first pass (tests compare) */
  uint64_t fits, fits_gn;           /* fits run, and those Gauss-Newton finished */
  double *scratch;                  /* fingerprinting's per-cell likelihoods */
  size_t scratch_cap;
  /* the last time-of-arrival fit's rows for the reflection model (nlos.h), kept for
   * learning it (lg_geo_solver_nlos_rows), with the receptions the reflection test
   * dropped: how many, and their delays' sum */
  bool keep_rows;
  struct geo_nlos_row rows[LG_GEO_MAX_RX];
  size_t n_rows;
  int dropped;
  double dropped_m;
};

double *geo_solver_scratch(struct lg_geo_solver *s, size_t n) {
  if (n > s->scratch_cap) {
    double *p = realloc(s->scratch, n * sizeof(double));
    if (p == NULL) return NULL;
    s->scratch = p;
    s->scratch_cap = n;
  }
  return s->scratch;
}

void geo_solver_counts(const struct lg_geo_solver *s, uint64_t *fits, uint64_t *fits_gn) {
  *fits = s->fits;
  *fits_gn = s->fits_gn;
}

void geo_solver_set_lm_only(struct lg_geo_solver *s, bool lm_only) {
  s->lm_only = lm_only;
}

struct lg_geo_solver *lg_geo_solver_new(void) {
  /* Every failure is reported by return code; GSL's default handler would abort the
   * whole server on one singular frame. */
  gsl_set_error_handler_off();
  struct lg_geo_solver *s = calloc(1, sizeof(*s));
  if (s == NULL) return NULL;
  s->covar = gsl_matrix_alloc(NP, NP);
  if (s->covar == NULL) {
    free(s);
    return NULL;
  }
  for (int dof = 1; dof <= MAX_RESID; dof++) {
    s->chi2_limit[dof] = gsl_cdf_chisq_Pinv(0.999, dof);
  }
  static const double prob[2] = {0.68, 0.95};
  for (int k = 0; k < 2; k++)
    for (int i = 0; i <= RADIUS_STEPS; i++) {
      double q = (double)i / RADIUS_STEPS, cov[3] = {1, 0, q * q};
      s->radius_tab[k][i] = lg_geo_radius_for(cov, prob[k]);
    }
  s->f2_prior_dof = s->f1_prior_dof = -1;
  return s;
}

/* The 99.9 % quantile of F(1, prior + dof) (chi-square(1)'s for a known scale): the
 * reflection test's limit for one reception's excess over the others' noise scale. */
static double f1_limit(struct lg_geo_solver *s, double prior_dof, int dof) {
  if (prior_dof >= 1e6) return gsl_cdf_chisq_Pinv(0.999, 1);
  if (prior_dof != s->f1_prior_dof) {
    for (int d = 0; d <= MAX_RESID; d++)
      s->f1q[d] = prior_dof + d > 0 ? gsl_cdf_fdist_Pinv(0.999, 1, prior_dof + d) : 1e300;
    s->f1_prior_dof = prior_dof;
  }
  return s->f1q[dof];
}

/* The radius holding a zero-mean 2-D Gaussian of covariance cov {ee, en, nn} with
 * probability 0.68 (k = 0) or 0.95 (k = 1), from the table (within 0.1 %). */
static double radius(const struct lg_geo_solver *s, const double cov[3], int k) {
  double tr = cov[0] + cov[2], det = cov[0] * cov[2] - cov[1] * cov[1];
  double disc = sqrt(fmax(tr * tr / 4 - det, 0));
  double s1 = sqrt(fmax(tr / 2 + disc, 0)), s2 = sqrt(fmax(tr / 2 - disc, 0));
  if (!(s1 > 0)) return 0;
  double x = s2 / s1 * RADIUS_STEPS;
  int i = (int)x;
  if (i >= RADIUS_STEPS) return s1 * s->radius_tab[k][RADIUS_STEPS];
  double f = x - i;
  return s1 * ((1 - f) * s->radius_tab[k][i] + f * s->radius_tab[k][i + 1]);
}

double lg_geo_solver_radius(const struct lg_geo_solver *s, const double cov_en[3], bool p95) {
  return radius(s, cov_en, p95 ? 1 : 0);
}

/* 2 F(2, nu) at 68 % and 95 % over the chi-square(2) quantile, nu = prior + dof: how
 * much wider a radius is when the noise scale is estimated with nu degrees of freedom
 * than when it is known (the fix's error over its estimated covariance is then F, not
 * chi-square, distributed). */
static double f2_widen(struct lg_geo_solver *s, double prior_dof, int dof, int k) {
  if (prior_dof >= 1e6 || dof < 0 || dof > MAX_RESID) return 1.0;
  if (prior_dof != s->f2_prior_dof) {
    static const double prob[2] = {0.68, 0.95};
    for (int j = 0; j < 2; j++)
      for (int d = 0; d <= MAX_RESID; d++) {
        double nu = prior_dof + d;
        s->f2q[j][d] = nu > 0 ? 2 * gsl_cdf_fdist_Pinv(prob[j], 2, nu) /
                                    gsl_cdf_chisq_Pinv(prob[j], 2)
                              : 1.0;
      }
    s->f2_prior_dof = prior_dof;
  }
  return s->f2q[k][dof];
}

void lg_geo_solver_free(struct lg_geo_solver *s) {
  if (s == NULL) return;
  for (size_t i = 0; i <= MAX_RESID; i++) {
    if (s->ws[i]) gsl_multifit_nlinear_free(s->ws[i]);
    if (s->jac[i]) gsl_matrix_free(s->jac[i]);
  }
  gsl_matrix_free(s->covar);
  free(s->scratch);
  free(s);
}

static size_t residual_count(const struct geo_problem *p) {
  size_t m = (p->use_prior ? 2u : 0u) + (p->fix_alt ? 1u : 0u) + (p->use_toa ? 0u : 1u);
  for (size_t i = 0; i < p->n; i++) {
    const struct geo_gw *g = &p->gw[i];
    if (!g->active) continue;
    if (p->use_toa && g->timed) m++;
    if (p->use_rssi && g->has_rssi) m++;
  }
  return m;
}

/* Height of a local point above the ellipsoid and the local up direction there, from
 * Bowring's closed form (thesis eq. 4.8-4.10) without a trigonometric call: every sine
 * and cosine is a ratio of the point's coordinates. One step is good to well under a
 * millimetre for heights below 10 km (Bowring 1976), the solver's whole domain. */
static double height_at(const struct geo_problem *p, const double enu[3], double up_enu[3]) {
  static const double a = LG_WGS84_A, f = LG_WGS84_F;
  const double e2 = f * (2 - f), b = a * (1 - f), ep2 = e2 / (1 - e2);
  double x[3];
  lg_enu_to_ecef(&p->frame, enu, x);
  /* sqrt rather than hypot: Earth-sized values cannot overflow, and hypot's care costs
   * a tenth of a fix. */
  double pr = sqrt(x[0] * x[0] + x[1] * x[1]);
  double tn = x[2] * a, td = pr * b, tr = sqrt(tn * tn + td * td); /* theta = atan2(z a, p b) */
  double st = tn / tr, ct = td / tr;
  double num = x[2] + ep2 * b * st * st * st, den = pr - e2 * a * ct * ct * ct;
  double r = sqrt(num * num + den * den);
  double sp = num / r, cp = den / r; /* sin, cos of the latitude */
  double cl = pr > 0 ? x[0] / pr : 1.0, sl = pr > 0 ? x[1] / pr : 0.0;
  double up_ecef[3] = {cp * cl, cp * sl, sp};
  for (int i = 0; i < 3; i++)
    up_enu[i] = p->frame.rot[i][0] * up_ecef[0] + p->frame.rot[i][1] * up_ecef[1] +
                p->frame.rot[i][2] * up_ecef[2];
  return pr * cp + x[2] * sp - a * sqrt(1.0 - e2 * sp * sp);
}

/* Element writes straight into GSL's storage: gsl_vector_set and gsl_matrix_set are
 * out-of-line calls in the shared library, one per element, a fifth of a fix. */
static inline void set_f(gsl_vector *f, size_t row, double v) {
  f->data[row * f->stride] = v;
}

static inline void set_j(gsl_matrix *J, size_t row, size_t col, double v) {
  J->data[row * J->tda + col] = v;
}

/* Evaluates residuals f (if non-NULL) and the Jacobian J (if non-NULL) at x. */
static void evaluate(const struct geo_problem *p, const double *x, gsl_vector *f, gsl_matrix *J) {
  size_t row = 0;
  const double ln10 = log(10.0);
  for (size_t i = 0; i < p->n; i++) {
    const struct geo_gw *g = &p->gw[i];
    if (!g->active) continue;
    double d[3] = {x[0] - g->enu[0], x[1] - g->enu[1], x[2] - g->enu[2]};
    double r = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    double rr = fmax(r, 1e-3);
    if (p->use_toa && g->timed) {
      double w = 1.0 / g->sigma_m;
      if (f) set_f(f, row, (r + x[3] - g->toa_m) * w);
      if (J) {
        double wr = w / rr;
        for (size_t k = 0; k < 3; k++)
          set_j(J, row, k, d[k] * wr);
        set_j(J, row, 3, w);
      }
      row++;
    }
    if (p->use_rssi && g->has_rssi) {
      const struct lg_pathloss *m = &p->opts->pathloss;
      double dist = fmax(r, 1.0);
      if (f) set_f(f, row, (g->rssi_dbm - lg_pathloss_rssi(m, dist)) / p->rssi_sigma_db);
      if (J) {
        double k10 = 10.0 * m->exponent / ln10 / (dist * dist) / p->rssi_sigma_db;
        for (size_t k = 0; k < 3; k++)
          set_j(J, row, k, k10 * d[k]);
        set_j(J, row, 3, 0.0);
      }
      row++;
    }
  }
  if (p->fix_alt) {
    double up[3];
    double h = height_at(p, x, up);
    if (f) set_f(f, row, (h - p->device_alt_m) / HEIGHT_SIGMA_M);
    if (J) {
      for (size_t k = 0; k < 3; k++)
        set_j(J, row, k, up[k] / HEIGHT_SIGMA_M);
      set_j(J, row, 3, 0.0);
    }
    row++;
  }
  for (size_t k = 0; k < 2 && p->use_prior; k++) {
    if (f) set_f(f, row, (x[k] - p->prior_center[k]) / p->prior_sigma_m);
    if (J) {
      for (size_t c = 0; c < NP; c++)
        set_j(J, row, c, c == k ? 1.0 / p->prior_sigma_m : 0.0);
    }
    row++;
  }
  if (!p->use_toa) { /* b is unobservable without times: pin it */
    if (f) set_f(f, row, x[3] / 1000.0);
    if (J)
      for (size_t c = 0; c < NP; c++)
        set_j(J, row, c, c == 3 ? 1e-3 : 0.0);
    row++;
  }
}

static int cb_f(const gsl_vector *x, void *params, gsl_vector *f) {
  evaluate(params, x->data, f, NULL);
  return GSL_SUCCESS;
}

static int cb_df(const gsl_vector *x, void *params, gsl_matrix *J) {
  evaluate(params, x->data, NULL, J);
  return GSL_SUCCESS;
}

/* Result of one fit. */
struct fit {
  double x[NP];
  double chi2; /* sum of squared measurement residuals (no prior) */
  int dof;     /* measurement residuals minus unknowns */
  bool ok;
};

static gsl_multifit_nlinear_workspace *workspace(struct lg_geo_solver *s, size_t m) {
  if (m > MAX_RESID) return NULL;
  if (s->ws[m] == NULL) {
    gsl_multifit_nlinear_parameters params = gsl_multifit_nlinear_default_parameters();
    params.trs = gsl_multifit_nlinear_trs_lm;
    params.scale = gsl_multifit_nlinear_scale_more;
    params.solver = gsl_multifit_nlinear_solver_cholesky;
    s->ws[m] = gsl_multifit_nlinear_alloc(gsl_multifit_nlinear_trust, &params, m, NP);
  }
  return s->ws[m];
}

/* Sum of squares of the measurement residuals (time, RSSI, height), and their count. */
static double measurement_chi2(const struct geo_problem *p, const gsl_vector *f, int *count) {
  size_t m = f->size - (p->use_prior ? 2u : 0u) - (p->use_toa ? 0u : 1u);
  double chi2 = 0;
  for (size_t i = 0; i < m; i++)
    chi2 += gsl_vector_get(f, i) * gsl_vector_get(f, i);
  *count = (int)m;
  return chi2;
}

/*
 * First pass: plain Gauss-Newton steps, each the normal equations J^T J dx = -J^T f solved
 * by GSL's Cholesky factorisation. From the closed-form start of a well-heard frame it
 * converges in two or three steps, a fifth of the trust-region driver's cost, to the
 * same minimum. It gives up, leaving the frame to Levenberg-Marquardt from the same
 * start, as soon as a step fails to lower the cost or the normal matrix is not positive
 * definite; tests/unit/test_geo.c checks both passes agree.
 */
#define GN_MAX_STEPS 8

static bool gauss_newton(const struct geo_problem *p, size_t m, const double start[NP],
                         struct fit *out) {
  double x[NP], xn[NP], a[NP * NP], g[NP], dx[NP];
  double fbuf[2][MAX_RESID], jbuf[2][MAX_RESID * NP];
  int cur = 0; /* fbuf/jbuf[cur] hold f and J at x, [1 - cur] the trial point's */
  gsl_vector_view fv[2] = {gsl_vector_view_array(fbuf[0], m), gsl_vector_view_array(fbuf[1], m)};
  gsl_matrix_view jv[2] = {gsl_matrix_view_array(jbuf[0], m, NP),
                           gsl_matrix_view_array(jbuf[1], m, NP)};
  gsl_matrix_view A = gsl_matrix_view_array(a, NP, NP);
  gsl_vector_view gv = gsl_vector_view_array(g, NP), dv = gsl_vector_view_array(dx, NP);
  memcpy(x, start, sizeof(x));
  evaluate(p, x, &fv[cur].vector, &jv[cur].matrix);
  double cost = 0;
  for (size_t i = 0; i < m; i++)
    cost += fbuf[cur][i] * fbuf[cur][i];
  for (int step = 0; step < GN_MAX_STEPS; step++) {
    const double *f = fbuf[cur], *jx = jbuf[cur];
    for (size_t r = 0; r < NP; r++) {
      g[r] = 0;
      for (size_t i = 0; i < m; i++)
        g[r] -= jx[i * NP + r] * f[i];
      for (size_t c = 0; c <= r; c++) {
        double sum = 0;
        for (size_t i = 0; i < m; i++)
          sum += jx[i * NP + r] * jx[i * NP + c];
        a[r * NP + c] = a[c * NP + r] = sum;
      }
    }
    if (gsl_linalg_cholesky_decomp1(&A.matrix) ||
        gsl_linalg_cholesky_solve(&A.matrix, &gv.vector, &dv.vector))
      return false;
    bool small = true;
    for (size_t k = 0; k < NP; k++) {
      xn[k] = x[k] + dx[k];
      small = small && fabs(dx[k]) <= 1e-6 * (fabs(xn[k]) + 1e-6);
    }
    int nxt = 1 - cur;
    evaluate(p, xn, &fv[nxt].vector, &jv[nxt].matrix);
    double next = 0;
    for (size_t i = 0; i < m; i++)
      next += fbuf[nxt][i] * fbuf[nxt][i];
    /* A step that does not lower the cost ends the pass: at the minimum already when
     * the step was below the tolerance (rounding), otherwise a case for LM. */
    bool better = next <= cost;
    if (!better && !small) return false;
    if (better) {
      memcpy(x, xn, sizeof(x));
      cost = next;
      cur = nxt;
    }
    if (small) {
      memcpy(out->x, x, sizeof(x));
      int count = 0;
      out->chi2 = measurement_chi2(p, &fv[cur].vector, &count);
      out->dof = count - (p->use_toa ? NP : NP - 1);
      out->ok = true;
      return true;
    }
  }
  return false;
}

static void fit_from(struct lg_geo_solver *s, struct geo_problem *p, const double start[NP],
                     struct fit *out) {
  size_t m = residual_count(p);
  out->ok = false;
  if (m > MAX_RESID) return;
  s->fits++;
  if (!s->lm_only && m >= NP && gauss_newton(p, m, start, out)) {
    s->fits_gn++;
    return;
  }
  gsl_multifit_nlinear_workspace *w = workspace(s, m);
  if (w == NULL) return;
  gsl_multifit_nlinear_fdf fdf = {
      .f = cb_f, .df = cb_df, .fvv = NULL, .n = m, .p = NP, .params = p};
  double x0[NP];
  memcpy(x0, start, sizeof(x0));
  gsl_vector_view xv = gsl_vector_view_array(x0, NP);
  if (gsl_multifit_nlinear_init(&xv.vector, &fdf, w) != GSL_SUCCESS) return;
  int info = 0;
  int status = gsl_multifit_nlinear_driver(60, 1e-6, 1e-10, 0.0, NULL, NULL, &info, w);
  const gsl_vector *x = gsl_multifit_nlinear_position(w);
  for (int k = 0; k < NP; k++)
    out->x[k] = gsl_vector_get(x, (size_t)k);
  if (status != GSL_SUCCESS && status != GSL_EMAXITER) return;
  for (int k = 0; k < NP; k++)
    if (!isfinite(out->x[k])) return;
  int count = 0;
  out->chi2 = measurement_chi2(p, gsl_multifit_nlinear_residual(w), &count);
  out->dof = count - (p->use_toa ? NP : NP - 1);
  out->ok = true;
}

/* b that best fits a start position: mean of c t_i - |p - g_i|. */
static double start_bias(const struct geo_problem *p, const double pos[3]) {
  double sum = 0;
  int k = 0;
  for (size_t i = 0; i < p->n; i++) {
    const struct geo_gw *g = &p->gw[i];
    if (!g->active || !g->timed) continue;
    double d[3] = {pos[0] - g->enu[0], pos[1] - g->enu[1], pos[2] - g->enu[2]};
    sum += g->toa_m - sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    k++;
  }
  return k ? sum / k : 0.0;
}

static double chi2_limit(const struct lg_geo_solver *s, int dof) {
  return dof > 0 && dof <= MAX_RESID ? s->chi2_limit[dof] : 0.0;
}

static bool in_region(const struct geo_problem *p, const struct fit *f) {
  return f->ok &&
         hypot(f->x[0] - p->prior_center[0], f->x[1] - p->prior_center[1]) <= p->prior_sigma_m;
}

/* Best fit over the closed-form and centroid starts; when that leaves the region the
 * gateways can hear (poor geometry and noise can send least squares off along a
 * hyperbola), the fits are repeated with the weak prior. */
static void best_fit_once(struct lg_geo_solver *s, struct geo_problem *p, struct fit *best);

static void best_fit(struct lg_geo_solver *s, struct geo_problem *p, struct fit *best) {
  p->use_prior = false;
  best_fit_once(s, p, best);
  if (in_region(p, best)) return;
  /* The prior's sigma is half the region's radius: a fit pulled outside even so has
   * no support in the data and is refused rather than reported. */
  double radius = p->prior_sigma_m;
  p->use_prior = true;
  p->prior_sigma_m = radius / 2;
  best_fit_once(s, p, best);
  p->prior_sigma_m = radius;
  if (!in_region(p, best)) best->ok = false;
}

static void best_fit_once(struct lg_geo_solver *s, struct geo_problem *p, struct fit *best) {
  double starts[4][2];
  /* The first (closed-form) start alone, as it almost always fits; the rest only when
   * it does not (they begin with the same first point). */
  size_t ns = geo_start_points(p, starts, 1);
  bool all = false;
  best->ok = false;
  for (size_t k = 0;; k++) {
    if (k == ns) {
      if (all) break;
      all = true;
      if ((ns = geo_start_points(p, starts, 4)) <= k) break;
    }
    double x0[NP] = {starts[k][0], starts[k][1], geo_device_up(p, starts[k][0], starts[k][1]), 0};
    x0[3] = start_bias(p, x0);
    struct fit f;
    fit_from(s, p, x0, &f);
    if (f.ok && (!best->ok || f.chi2 < best->chi2)) *best = f;
    /* A start that already fits the noise needs no other. */
    if (best->ok && (best->dof <= 0 ? best->chi2 < 1e-6 : best->chi2 < chi2_limit(s, best->dof)))
      break;
  }
}

/*
 * Non-line-of-sight rejection: while the fit is statistically inconsistent and enough
 * redundancy remains, drop the timed reception whose removal lowers chi^2 the most
 * (a reflection only ever arrives late). Marks dropped ones in *excluded.
 *
 * A reception is only dropped when its share of chi^2 stands out against the noise
 * scale the other receptions show: with s^2 = (nu0 + chi2_rest) / (nu0 + dof_rest) (the
 * configured sigma as a prior of nu0 degrees of freedom, as in finish()), the excess
 * (chi2 - chi2_rest) / s^2 must pass the 99.9 % quantile of F(1, nu0 + dof_rest); with a
 * known sigma that is chi-square(1)'s. Noise merely larger than the configured sigma
 * raises every residual alike and drops nothing: the fix keeps its receptions and
 * finish() widens its covariance instead.
 */
/*
 * How far one reception's share of chi^2 (chi2_with - rest->chi2, rest being the fit
 * without it) stands out against the noise scale the others show, as a multiple of the
 * 99.9 % quantile of F(1, nu0 + dof_rest): above 1 it is an outlier (see reject_nlos).
 */
static double excess_over_noise(struct lg_geo_solver *s, const struct geo_problem *p,
                                double chi2_with, const struct fit *rest) {
  bool known = p->sigma_known || p->opts->sigma_prior_dof >= 1e6;
  double nu0 = known ? 1e9 : p->opts->sigma_prior_dof;
  double s2 = known ? 1.0 : (nu0 + rest->chi2) / (nu0 + rest->dof);
  if (rest->dof < 1 || rest->dof > MAX_RESID) return 0.0;
  return (chi2_with - rest->chi2) / s2 / f1_limit(s, nu0, rest->dof);
}

static void reject_nlos(struct lg_geo_solver *s, struct geo_problem *p, struct fit *best,
                        uint64_t *excluded) {
  while (best->ok && best->dof >= 2 && best->chi2 > chi2_limit(s, best->dof)) {
    struct fit cand = {.ok = false};
    size_t drop = p->n;
    for (size_t i = 0; i < p->n; i++) {
      struct geo_gw *g = &p->gw[i];
      if (!g->active || !g->timed) continue;
      double d[3] = {best->x[0] - g->enu[0], best->x[1] - g->enu[1], best->x[2] - g->enu[2]};
      double late = g->toa_m - (sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) + best->x[3]);
      if (late < 0 && best->dof >= 3) continue; /* early receptions are not reflections */
      g->active = false;
      struct fit f;
      fit_from(s, p, best->x, &f);
      g->active = true;
      if (f.ok && (!cand.ok || f.chi2 < cand.chi2)) {
        cand = f;
        drop = i;
      }
    }
    if (!cand.ok || drop == p->n || cand.chi2 > 0.5 * best->chi2) break;
    if (excess_over_noise(s, p, best->chi2, &cand) <= 1.0) break;
    p->gw[drop].active = false;
    *excluded |= 1ull << drop;
    *best = cand;
  }
}

static int cholesky_covariance(const gsl_matrix *J, gsl_matrix *covar);

/* (J^T J)^-1 through GSL's Cholesky factorisation: the normal matrix is 4 x 4, so this is
 * a tenth of the cost of the pivoted QR in gsl_multifit_nlinear_covar. Forming J^T J
 * squares the condition number, so an ill-conditioned frame (three gateways, exactly
 * determined) goes to the pivoted QR, which also tells a truly singular one. */
static int covariance(const gsl_matrix *J, gsl_matrix *covar) {
  if (J->size1 > NP && cholesky_covariance(J, covar) == GSL_SUCCESS) return GSL_SUCCESS;
  return gsl_multifit_nlinear_covar(J, 1e-12, covar);
}

static int cholesky_covariance(const gsl_matrix *J, gsl_matrix *covar) {
  for (size_t a = 0; a < NP; a++)
    for (size_t b = 0; b <= a; b++) {
      double sum = 0;
      for (size_t r = 0; r < J->size1; r++)
        sum += J->data[r * J->tda + a] * J->data[r * J->tda + b];
      covar->data[a * covar->tda + b] = covar->data[b * covar->tda + a] = sum;
    }
  int rc = gsl_linalg_cholesky_decomp1(covar);
  return rc ? rc : gsl_linalg_cholesky_invert(covar);
}

/* How finish() treats reflections (nlos.h), when the options give them a share. */
enum nlos_use {
  NLOS_OFF,      /* Gaussian radii whatever the options say */
  NLOS_RADII,    /* the mixture's radii about the fit */
  NLOS_RELOCATE, /* and the likeliest late reception taken out of the position */
};

static size_t nlos_rows(struct lg_geo_solver *s, const struct geo_problem *p, const gsl_matrix *J,
                        const double *f, struct geo_nlos_row *rows, size_t *gw_of);

/* Fills accuracy, GDOP, residual and the fix position from a converged state. With a
 * reflection model (o->nlos_share > 0, time of arrival alone) the radii are the
 * mixture's and, under NLOS_RELOCATE, *late (if not NULL) gets the reception taken out as
 * late, or p->n, and moved[] the state with its delay taken out (to first order). */
static int finish(struct lg_geo_solver *s, struct geo_problem *p, const struct fit *fit,
                  struct lg_geo_fix *out, enum nlos_use use, size_t *late, double moved[NP]) {
  size_t m = residual_count(p);
  if (m > MAX_RESID) return LG_EINVAL;
  if (s->jac[m] == NULL && (s->jac[m] = gsl_matrix_alloc(m, NP)) == NULL) return LG_ENOMEM;
  gsl_matrix *J = s->jac[m];
  double fres[MAX_RESID];
  gsl_vector_view fv = gsl_vector_view_array(fres, m);
  evaluate(p, fit->x, &fv.vector, J);
  if (covariance(J, s->covar) != GSL_SUCCESS) return LG_ENOTFOUND;
  /*
   * The noise scale. A known sigma (every reception carries its own) is kept, only
   * widened when the residuals say it is too small. Otherwise the configured sigma is a
   * prior worth `sigma_prior_dof` degrees of freedom and the residuals bring `dof`
   * more: s^2 = (nu0 + chi2) / (nu0 + dof) in units of the assumed variance, in both
   * directions, and the radii use the F(2, nu0 + dof) quantiles that an estimated scale
   * calls for instead of chi-square(2)'s.
   */
  bool known = p->use_toa && (p->sigma_known || p->opts->sigma_prior_dof >= 1e6);
  double nu0 = known ? 1e9 : p->opts->sigma_prior_dof;
  int dof = fit->dof > 0 ? fit->dof : 0;
  double scale = known ? (dof >= 1 ? fmax(1.0, fit->chi2 / dof) : 1.0)
                       : (nu0 + fit->chi2) / (nu0 + dof > 0 ? nu0 + dof : 1);
  out->cov_en[0] = gsl_matrix_get(s->covar, 0, 0) * scale;
  out->cov_en[1] = gsl_matrix_get(s->covar, 0, 1) * scale;
  out->cov_en[2] = gsl_matrix_get(s->covar, 1, 1) * scale;
  out->chi2 = fit->chi2;
  out->dof = dof;
  double w68 = f2_widen(s, nu0, dof, 0), w95 = f2_widen(s, nu0, dof, 1);
  out->accuracy_m = radius(s, out->cov_en, 0) * sqrt(w68);
  out->accuracy_95_m = radius(s, out->cov_en, 1) * sqrt(w95);
  double trace = 0;
  for (size_t k = 0; k < NP; k++)
    trace += gsl_matrix_get(s->covar, k, k);
  out->gdop = p->use_toa ? sqrt(trace) / p->sigma_ref_m : NAN;

  double x[NP];
  memcpy(x, fit->x, sizeof(x));
  if (late) *late = p->n;
  bool model = use != NLOS_OFF && p->opts->nlos_share > 0 && p->opts->nlos_delay_ns > 0;
  if (p->use_toa && !p->use_rssi && (model || s->keep_rows)) {
    struct geo_nlos_row rows[LG_GEO_MAX_RX];
    size_t gw_of[LG_GEO_MAX_RX];
    size_t n = nlos_rows(s, p, J, fres, rows, gw_of);
    if (s->keep_rows && use == NLOS_RELOCATE) {
      memcpy(s->rows, rows, n * sizeof(*rows));
      s->n_rows = n;
    }
    if (model && n > 0) {
      double c68[3], c95[3];
      for (int k = 0; k < 3; k++) {
        c68[k] = out->cov_en[k] * w68;
        c95[k] = out->cov_en[k] * w95;
      }
      struct geo_nlos_verdict v;
      geo_nlos_assess(rows, n, p->opts->nlos_share, p->opts->nlos_delay_ns * 1e-9 * LG_GEO_C_MPS,
                      c68, c95, use == NLOS_RELOCATE && p->opts->robust, &v);
      out->accuracy_m = v.r68;
      out->accuracy_95_m = v.r95;
      if (v.late >= 0) {
        x[0] += v.move[0];
        x[1] += v.move[1];
        if (p->fix_alt) x[2] = geo_device_up(p, x[0], x[1]);
        if (late) *late = gw_of[v.late];
        if (moved) memcpy(moved, x, sizeof(x));
      }
    }
  }

  struct lg_geodetic g;
  lg_enu_to_geodetic(&p->frame, x, &g);
  out->lat_deg = g.lat_deg;
  out->lon_deg = g.lon_deg;
  if (out->lon_deg > 180.0) out->lon_deg -= 360.0;
  if (out->lon_deg < -180.0) out->lon_deg += 360.0;
  out->alt_m = p->fix_alt ? p->device_alt_m : g.alt_m;

  double sum = 0;
  int used = 0;
  for (size_t i = 0; i < p->n; i++) {
    const struct geo_gw *gw = &p->gw[i];
    if (!gw->active) continue;
    bool counts = (p->use_toa && gw->timed) || (p->use_rssi && gw->has_rssi);
    if (!counts) continue;
    double d[3] = {x[0] - gw->enu[0], x[1] - gw->enu[1], x[2] - gw->enu[2]};
    double r = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    double e = (p->use_toa && gw->timed)
                   ? r + x[3] - gw->toa_m
                   : lg_pathloss_distance(&p->opts->pathloss, gw->rssi_dbm) - r;
    sum += e * e;
    used++;
  }
  out->residual_m = used ? sqrt(sum / used) : 0.0;
  out->gateways_used = used;
  return 0;
}

/*
 * The reflection model's rows (nlos.h) of the timed receptions of a fit with weighted
 * Jacobian J, normalised residuals f and s->covar = (J^T J)^-1 already computed; gw_of[k]
 * is row k's reception. Returns the row count.
 */
static size_t nlos_rows(struct lg_geo_solver *s, const struct geo_problem *p, const gsl_matrix *J,
                        const double *f, struct geo_nlos_row *rows, size_t *gw_of) {
  size_t row = 0, n = 0;
  const double *c = s->covar->data;
  size_t tc = s->covar->tda;
  /* the residuals projected off the fit's span, (I - H) f: f itself at a least-squares
   * optimum, but lls and grid positions are not one (their f has a part the fit would
   * have absorbed, and a row the fit fixes alone must show no evidence) */
  double jtf[NP] = {0}, cf[NP];
  for (size_t r = 0; r < J->size1; r++)
    for (size_t a = 0; a < NP; a++)
      jtf[a] += J->data[r * J->tda + a] * f[r];
  for (size_t a = 0; a < NP; a++) {
    cf[a] = 0;
    for (size_t b = 0; b < NP; b++)
      cf[a] += c[a * tc + b] * jtf[b];
  }
  for (size_t i = 0; i < p->n; i++) {
    const struct geo_gw *g = &p->gw[i];
    if (!g->active) continue;
    if (p->use_toa && g->timed) {
      const double *j = J->data + row * J->tda;
      double y[NP], h = 0, fitted = 0;
      for (size_t a = 0; a < NP; a++) {
        y[a] = 0;
        for (size_t b = 0; b < NP; b++)
          y[a] += c[a * tc + b] * j[b];
        h += j[a] * y[a];
        fitted += j[a] * cf[a];
      }
      double sig = g->sigma_m;
      rows[n] = (struct geo_nlos_row){.a = -(f[row] - fitted) / sig,
                                      .b = fmax(1.0 - h, 0.0) / (sig * sig),
                                      .shift = {y[0] / sig, y[1] / sig}};
      gw_of[n++] = i;
      row++;
    }
    if (p->use_rssi && g->has_rssi) row++;
  }
  return n;
}

void lg_geo_solver_keep_rows(struct lg_geo_solver *s, bool keep) {
  s->keep_rows = keep;
}

int lg_geo_solver_nlos_rows(const struct lg_geo_solver *s, struct lg_geo_nlos_frames *frames,
                            double scale) {
  return geo_nlos_frames_add(frames, s->rows, s->n_rows, s->dropped, s->dropped_m, scale);
}

int geo_quality_at(struct lg_geo_solver *s, struct geo_problem *p, double e, double n,
                   struct lg_geo_fix *out) {
  struct fit f = {.ok = true};
  double res[MAX_RESID];
  f.x[0] = e;
  f.x[1] = n;
  f.x[2] = geo_device_up(p, e, n);
  f.x[3] = start_bias(p, f.x);
  size_t m = residual_count(p);
  gsl_vector_view fv = gsl_vector_view_array(res, m);
  evaluate(p, f.x, &fv.vector, NULL);
  int count = 0;
  f.chi2 = measurement_chi2(p, &fv.vector, &count);
  f.dof = count - NP;
  return finish(s, p, &f, out, NLOS_RADII, NULL, NULL);
}

int lg_geo_crlb(const struct lg_geo_rx *rx, size_t n, const struct lg_geodetic *dev,
                const struct lg_geo_opts *o, double *drms_m) {
  struct geo_problem p;
  struct lg_geo_opts opts = *o;
  opts.device_alt_m = dev->alt_m;
  int rc = geo_problem_init(&p, rx, n, &opts);
  if (rc) return rc;
  for (size_t i = 0; i < p.n; i++) {
    double sig = rx[i].sigma_ns > 0 ? rx[i].sigma_ns : o->sigma_ns;
    p.gw[i].timed = true;
    p.gw[i].sigma_m = sig * 1e-9 * LG_GEO_C_MPS;
  }
  if (p.n < (p.fix_alt ? 3u : 4u)) return LG_EINVAL;
  p.use_toa = true;
  p.use_prior = false; /* the bound of the measurements alone */
  double x[NP];
  lg_enu_from_geodetic(&p.frame, dev, x);
  x[3] = 0;
  size_t m = residual_count(&p);
  gsl_matrix *J = gsl_matrix_alloc(m, NP);
  gsl_matrix *C = gsl_matrix_alloc(NP, NP);
  rc = LG_ENOMEM;
  if (J && C) {
    evaluate(&p, x, NULL, J);
    rc = gsl_multifit_nlinear_covar(J, 1e-14, C) == GSL_SUCCESS ? 0 : LG_EINVAL;
    double var = gsl_matrix_get(C, 0, 0) + gsl_matrix_get(C, 1, 1);
    if (rc == 0 && !(var > 0 && var < 1e16)) rc = LG_EINVAL;
    if (rc == 0) *drms_m = sqrt(var);
  }
  gsl_matrix_free(J);
  gsl_matrix_free(C);
  return rc;
}

/* A reception this many times beyond the outlier test's limit is a gross error: a clock
 * off by microseconds, not a reflection the search should weigh. */
#define GROSS_EXCESS 100.0

/* Plain Gauss-Newton from the closed-form start of the active receptions, no fallback. */
static bool quick_fit_from(struct lg_geo_solver *s, const struct geo_problem *p,
                           const double x0[NP], struct fit *out) {
  out->ok = false;
  size_t m = residual_count(p);
  if (m > MAX_RESID || m < NP) return false;
  if (!gauss_newton(p, m, x0, out)) return false;
  s->fits++; /* counted as the other fits are: when it finished (never LM) */
  s->fits_gn++;
  return in_region(p, out);
}

static bool quick_fit(struct lg_geo_solver *s, const struct geo_problem *p, struct fit *out) {
  double start[1][2];
  out->ok = false;
  if (geo_start_points(p, start, 1) < 1) return false;
  double x0[NP] = {start[0][0], start[0][1], geo_device_up(p, start[0][0], start[0][1]), 0};
  x0[3] = start_bias(p, x0);
  return quick_fit_from(s, p, x0, out);
}

/*
 * What a left-out timed reception g would add to the chi^2 of the active ones' fit `sub`
 * if it were fitted with them, to first order: its prediction error at sub's position
 * over that error's variance, 1 + j C j^T in noise units (C the fit's covariance, j g's
 * Jacobian row): regression's deleted residual. A reception that alone fixes a direction
 * the others leave open (a distant gateway, the device near it) has a large j C j^T, and
 * its prediction error, however large, is no evidence against it. 0 when C is singular.
 */
static double deleted_share(const struct geo_problem *p, const struct fit *sub,
                            const struct geo_gw *g) {
  size_t m = residual_count(p);
  if (m > MAX_RESID) return 0.0;
  double jb[MAX_RESID * NP], a[NP * NP], y[NP];
  gsl_matrix_view J = gsl_matrix_view_array(jb, m, NP);
  evaluate(p, sub->x, NULL, &J.matrix);
  for (size_t r = 0; r < NP; r++)
    for (size_t c = 0; c <= r; c++) {
      double sum = 0;
      for (size_t i = 0; i < m; i++)
        sum += jb[i * NP + r] * jb[i * NP + c];
      a[r * NP + c] = a[c * NP + r] = sum;
    }
  const double *x = sub->x;
  double d[3] = {x[0] - g->enu[0], x[1] - g->enu[1], x[2] - g->enu[2]};
  double dist = fmax(sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]), 1e-3), w = 1.0 / g->sigma_m;
  double j[NP] = {d[0] / dist * w, d[1] / dist * w, d[2] / dist * w, w};
  double res = (dist + x[3] - g->toa_m) * w;
  gsl_matrix_view A = gsl_matrix_view_array(a, NP, NP);
  gsl_vector_view jv = gsl_vector_view_array(j, NP), yv = gsl_vector_view_array(y, NP);
  if (gsl_linalg_cholesky_decomp1(&A.matrix) ||
      gsl_linalg_cholesky_solve(&A.matrix, &jv.vector, &yv.vector))
    return 0.0;
  double h = 0;
  for (size_t k = 0; k < NP; k++)
    h += j[k] * y[k];
  return res * res / (1.0 + h);
}

/* chi^2 of the active receptions at x, and its degrees of freedom. */
static double chi2_at(const struct geo_problem *p, const double x[NP], int *dof) {
  double res[MAX_RESID];
  size_t m = residual_count(p);
  *dof = 0;
  if (m > MAX_RESID) return INFINITY;
  gsl_vector_view fv = gsl_vector_view_array(res, m);
  evaluate(p, x, &fv.vector, NULL);
  int count = 0;
  double chi2 = measurement_chi2(p, &fv.vector, &count);
  *dof = count - NP;
  return chi2;
}

/* Active receptions with a usable time. */
static size_t active_timed(const struct geo_problem *p) {
  size_t timed = 0;
  for (size_t i = 0; i < p->n; i++)
    timed += p->gw[i].active && p->gw[i].timed;
  return timed;
}

/* Each active timed reception left out in turn, the rest fitted (quick: one Gauss-Newton
 * pass; else the full search): the fit with the least chi^2 per degree of freedom, at least
 * one, in *best, and the index of the reception it left out (p->n: no fit). */
static size_t best_left_out(struct lg_geo_solver *s, struct geo_problem *p, bool quick,
                            struct fit *best) {
  size_t drop = p->n;
  for (size_t i = 0; i < p->n; i++) {
    struct geo_gw *g = &p->gw[i];
    if (!g->active || !g->timed) continue;
    g->active = false;
    struct fit f;
    bool ok = quick ? quick_fit(s, p, &f) : (best_fit(s, p, &f), f.ok);
    g->active = true;
    if (ok && f.dof >= 1 && (drop == p->n || f.chi2 / f.dof < best->chi2 / best->dof)) {
      *best = f;
      drop = i;
    }
  }
  return drop;
}

/*
 * A gateway whose clock is off by far more than the noise (it drifts or jumps, or the
 * frame is forged) makes every fit of the whole set inconsistent, and the search below
 * (every start, then the prior, then each reception left out with all of that again)
 * costs tens of fits a frame, most of them Levenberg-Marquardt grinding against it: a
 * server hearing one such gateway located 30-60 times slower (bench/gross_timing.sh).
 * The screen asks cheaply first. When the closed-form start of the whole set is grossly
 * inconsistent, each timed reception is left out in turn with one Gauss-Newton pass from
 * that subset's own closed-form start. The best subset's reception is excluded before the
 * search only when the test reject_nlos would apply passes GROSS_EXCESS times over: the
 * whole set fails the chi^2 test, and the reception's share of it stands out against the
 * noise. Its share is its deleted residual (deleted_share), not its bare prediction error:
 * a gateway that alone fixes one direction (a distant one, the device near it) shows a
 * prediction error many times its share of a joint fit, and plain noise would exclude it
 * (review, 2026-12-06: 0.8 % of such frames, put 5-6 km off). Frames whose closed-form
 * start is consistent pay one residual evaluation; others n Gauss-Newton passes.
 */
static void screen_gross(struct lg_geo_solver *s, struct geo_problem *p, uint64_t *excluded) {
  if (active_timed(p) < (p->fix_alt ? 3u : 4u) + 2) return;
  p->use_prior = false;
  double start[1][2];
  if (geo_start_points(p, start, 1) < 1) return;
  double x0[NP] = {start[0][0], start[0][1], geo_device_up(p, start[0][0], start[0][1]), 0};
  x0[3] = start_bias(p, x0);
  int dof;
  double chi2 = chi2_at(p, x0, &dof);
  if (!(chi2 > GROSS_EXCESS * chi2_limit(s, dof))) return;
  struct fit cand = {.ok = false};
  size_t drop = best_left_out(s, p, true, &cand);
  if (drop == p->n) return;
  p->gw[drop].active = false;
  double share = deleted_share(p, &cand, &p->gw[drop]);
  double chi2_all = cand.chi2 + share; /* the whole set's minimum, to first order */
  if (!(chi2_all > chi2_limit(s, cand.dof + 1)) ||
      excess_over_noise(s, p, chi2_all, &cand) <= GROSS_EXCESS) {
    p->gw[drop].active = true;
    return;
  }
  *excluded |= 1ull << drop;
}

/*
 * One gross timing error (a gateway tens of microseconds off, kilometres of range) can
 * pull every fit out of range, before the reflection test ever runs. With two receptions
 * to spare, each timed one is left out in turn; the in-range fit with the least chi^2
 * per degree of freedom wins, and the left-out reception is marked excluded.
 */
static void leave_one_out(struct lg_geo_solver *s, struct geo_problem *p, struct fit *best,
                          uint64_t *excluded) {
  if (active_timed(p) < (p->fix_alt ? 3u : 4u) + 2) return;
  size_t drop = best_left_out(s, p, false, best);
  if (drop == p->n) return;
  p->gw[drop].active = false;
  *excluded |= 1ull << drop;
}

/* A fix whose 95 % radius is wider than this says nothing (LoRa reaches ~15 km): it is
 * refused with its reason rather than reported. */
#define MAX_ACCURACY_M 50000.0

/*
 * Three timed gateways and a known height: as many equations as unknowns, and the two
 * roots of the intersection (geo_start_points) can both fit exactly. When the other root
 * also lies within range, the frame cannot tell them apart: *other gets its fit.
 */
static bool other_root(struct lg_geo_solver *s, struct geo_problem *p, const struct fit *best,
                       struct fit *other) {
  if (!best->ok || !p->use_toa || p->use_rssi || !p->fix_alt || active_timed(p) != 3 ||
      best->dof > 0)
    return false;
  double starts[4][2];
  size_t ns = geo_start_points(p, starts, 4);
  for (size_t k = 0; k < ns; k++) {
    if (hypot(starts[k][0] - best->x[0], starts[k][1] - best->x[1]) < 1.0) continue;
    double x0[NP] = {starts[k][0], starts[k][1], geo_device_up(p, starts[k][0], starts[k][1]), 0};
    x0[3] = start_bias(p, x0);
    fit_from(s, p, x0, other);
    if (other->ok && other->chi2 < 1e-6 && in_region(p, other) &&
        hypot(other->x[0] - best->x[0], other->x[1] - best->x[1]) > 1.0)
      return true;
  }
  return false;
}

/*
 * Reports the other root: as `alternatives`, and in the radii, which then hold both
 * candidates (with nothing to prefer one, each is as likely; a radius that covered only
 * the chosen one would be right half the time). The chosen fix is the one nearer the
 * gateways (devices are mostly heard from among them) — or, when the radio map placed the
 * frame (p->has_prefer), the one nearer that place; and when only the chosen root lies
 * within the map's 95 % radius, the map has settled it: the radii are the root's own.
 */
static int add_alternative(struct lg_geo_solver *s, struct geo_problem *p, const struct fit *other,
                           struct lg_geo_fix *out) {
  struct lg_geo_fix alt;
  if (finish(s, p, other, &alt, NLOS_RADII, NULL, NULL) != 0) return 0; /* singular there: keep the first alone */
  struct lg_enu_frame *f = &p->frame;
  struct lg_geodetic g = {out->lat_deg, out->lon_deg, out->alt_m};
  double here[3], there[3];
  lg_enu_from_geodetic(f, &g, here);
  g = (struct lg_geodetic){alt.lat_deg, alt.lon_deg, alt.alt_m};
  lg_enu_from_geodetic(f, &g, there);
  double c[2] = {p->has_prefer ? p->prefer_en[0] : 0, p->has_prefer ? p->prefer_en[1] : 0};
  double d_here = hypot(here[0] - c[0], here[1] - c[1]);
  double d_there = hypot(there[0] - c[0], there[1] - c[1]);
  if (d_there < d_here) {
    struct lg_geo_fix t = *out;
    *out = alt;
    alt = t;
    double tmp = d_here;
    d_here = d_there;
    d_there = tmp;
  }
  bool settled = p->has_prefer && d_here <= p->prefer_r95_m && d_there > p->prefer_r95_m;
  double d = lg_geo_distance_m(out->lat_deg, out->lon_deg, alt.lat_deg, alt.lon_deg);
  if (!settled) {
    out->accuracy_m = fmax(out->accuracy_m, d + alt.accuracy_m);
    out->accuracy_95_m = fmax(out->accuracy_95_m, d + alt.accuracy_95_m);
  }
  out->n_alternatives = 1;
  out->alternatives[0] = (struct lg_geodetic){alt.lat_deg, alt.lon_deg, alt.alt_m};
  return 0;
}

/*
 * The reflection model found reception `late` likelier late than not and moved the fix by
 * its delay to first order (moved[]): the fit without it, from there, replaces the
 * position when it lands close (within a tenth of the fix's 68 % radius, the radii the
 * mixture's about the moved point). Far from it, the first order was no guide (the
 * geometry without that gateway is poor): false, and the fix stays where it was.
 */
static bool take_out_late(struct lg_geo_solver *s, struct geo_problem *p, size_t late,
                          const double moved[NP], struct lg_geo_fix *out) {
  struct fit f;
  struct lg_geo_fix refit = *out;
  p->gw[late].active = false;
  fit_from(s, p, moved, &f);
  if (!f.ok || !in_region(p, &f) ||
      hypot(f.x[0] - moved[0], f.x[1] - moved[1]) > 0.1 * out->accuracy_m ||
      finish(s, p, &f, &refit, NLOS_OFF, NULL, NULL) != 0) {
    p->gw[late].active = true;
    return false;
  }
  /* the refit's position, covariance and residuals; the radii the larger of the
   * mixture's (which still weighs "not late after all") and the refit's own */
  double r68 = fmax(out->accuracy_m, refit.accuracy_m);
  double r95 = fmax(out->accuracy_95_m, refit.accuracy_95_m);
  *out = refit;
  out->accuracy_m = r68;
  out->accuracy_95_m = r95;
  p->gw[late].active = true; /* for what follows (the alternative's fit) */
  return true;
}

int geo_solve_iterative(struct lg_geo_solver *s, struct geo_problem *p, enum lg_geo_method method,
                        struct lg_geo_fix *out, char *why, size_t why_len) {
  p->use_toa = method == LG_GEO_NLS || method == LG_GEO_HYBRID;
  p->use_rssi = method == LG_GEO_RSSI || method == LG_GEO_HYBRID;
  if (method == LG_GEO_HYBRID) p->rssi_sigma_db *= 3.0; /* a weak prior, not a peer */
  size_t need = p->fix_alt ? 3 : 4;
  size_t have = 0;
  for (size_t i = 0; i < p->n; i++) {
    const struct geo_gw *g = &p->gw[i];
    if ((p->use_toa && g->timed) || (!p->use_toa && g->has_rssi) ||
        (method == LG_GEO_HYBRID && g->has_rssi))
      have++;
  }
  if (have < need || (p->use_toa && p->n_timed < 2)) {
    snprintf(why, why_len, "%s needs %zu gateways with %s, got %zu", lg_geo_method_name(method),
             need, p->use_toa ? "a GPS time" : "an RSSI", have);
    return LG_EINVAL;
  }
  uint64_t excluded = 0;
  for (size_t i = 0; i < p->n; i++) {
    const struct geo_gw *g = &p->gw[i];
    bool usable = (p->use_toa && g->timed) || (p->use_rssi && g->has_rssi);
    if (!usable) excluded |= 1ull << i;
  }
  uint64_t unusable = excluded; /* what remains excluded beyond these: timing outliers */
  if (p->use_toa && p->opts->robust) screen_gross(s, p, &excluded);
  struct fit best;
  best_fit(s, p, &best);
  if (!best.ok && p->use_toa && p->opts->robust) leave_one_out(s, p, &best, &excluded);
  if (!best.ok) {
    snprintf(why, why_len, "%s: no position within range of these gateways fits the frame",
             lg_geo_method_name(method));
    return LG_ENOTFOUND;
  }
  if (p->use_toa && p->opts->robust) reject_nlos(s, p, &best, &excluded);
  /* As many times as unknowns (three gateways and the height, or four in 3-D) meet at a
   * point (or two) unless a time is wrong: the nearest approach of their hyperbolae is
   * no position, and its radii would be the noise's. Not under the weak prior (which
   * pulls an exact fit) nor with RSSI rows (which may be the ones that miss). */
  bool known = p->sigma_known || p->opts->sigma_prior_dof >= 1e6;
  double limit = known ? chi2_limit(s, 1) : f1_limit(s, p->opts->sigma_prior_dof, 0);
  if (best.dof == 0 && p->use_toa && !p->use_rssi && !p->use_prior && best.chi2 > limit) {
    snprintf(why, why_len,
             "%s: no position meets these arrival times (%.1f sigma apart at the nearest): "
             "one of them is late",
             lg_geo_method_name(method), sqrt(best.chi2));
    return LG_ENOTFOUND;
  }
  /* what the reflection model learns from: the receptions left out as late (by the gross
   * screen, to bring the fit in range, or by the reflection test), with how late the
   * final fit finds them; a delay beyond GEO_NLOS_LATE_MAX_M is a clock, not a path */
  s->n_rows = 0;
  s->dropped = 0;
  s->dropped_m = 0;
  for (size_t i = 0; i < p->n && s->keep_rows; i++) {
    if (!((excluded & ~unusable) >> i & 1)) continue;
    const struct geo_gw *g = &p->gw[i];
    double d[3] = {best.x[0] - g->enu[0], best.x[1] - g->enu[1], best.x[2] - g->enu[2]};
    double late_m = g->toa_m - sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) - best.x[3];
    if (!(late_m > 0 && late_m <= GEO_NLOS_LATE_MAX_M)) continue;
    s->dropped++;
    s->dropped_m += late_m;
  }
  struct fit other;
  bool ambiguous = other_root(s, p, &best, &other);
  size_t late = p->n;
  double moved[NP];
  int rc = finish(s, p, &best, out, NLOS_RELOCATE, &late, moved);
  if (rc == 0 && late < p->n && (ambiguous || !take_out_late(s, p, late, moved, out)))
    rc = finish(s, p, &best, out, NLOS_RADII, NULL, NULL);
  else if (rc == 0 && late < p->n)
    excluded |= 1ull << late; /* taken out as late: a reflection */
  if (rc == 0 && ambiguous) rc = add_alternative(s, p, &other, out);
  if (rc == 0 && !(out->accuracy_95_m < MAX_ACCURACY_M)) {
    snprintf(why, why_len,
             "%s: the geometry leaves the position undetermined (95 %% radius %.3g m)",
             lg_geo_method_name(method), out->accuracy_95_m);
    return LG_ENOTFOUND;
  }
  if (rc) {
    snprintf(why, why_len, "%s: singular geometry", lg_geo_method_name(method));
    return rc;
  }
  out->method = method;
  out->excluded = excluded;
  out->timing_outliers = excluded & ~unusable;
  return 0;
}
