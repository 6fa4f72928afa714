/*
 * Reflections in a fix's quality (nlos.h) and the reflection model learned from fits.
 *
 * For one fit, hypothesis H0 (no reception late) against H_i (reception i late by a
 * delay d >= 0, d ~ Exp(mean mu)). To first order about the fit, a delay d on row i moves
 * the normalised residual vector along (I - H) e_i, so the residuals' log-likelihood
 * ratio of H_i with delay d over H0 is a d - b d^2 / 2 (nlos.h), and the fix itself moves
 * by shift_i d. The delay's posterior under H_i is then a Gaussian truncated at 0 with
 * mean m = (a - 1/mu) / b and variance 1/b (the prior exponential when the residuals
 * cannot see the row, b = 0), and H_i's weight against H0 is
 *   share / (1 - share) x (1/mu) x integral_0^inf exp(-d/mu + a d - b d^2 / 2) dd.
 * The radii are those of the mixture: H0's Gaussian, and for each H_i the Gaussian moved
 * by shift_i d over the delay's posterior (eight quantile nodes). A Gaussian moved by v
 * holds within R about the smaller of its own mass within R and Phi((R - |v|) / s_v), s_v
 * its sigma along v: the first for moves within its own spread, the second (the radial
 * distance's normal limit) for moves well beyond it. Both bound the mass from above, so
 * the radii err a little small for moves of about the Gaussian's own size, where the
 * delays are small and the radii's share is measured (docs/geolocation.md).
 *
 * Learning (lg_geo_nlos_learn): expectation-maximisation over many fits' rows, with
 * the receptions left out as late (the reflection test, the gross-error screen) counted
 * as late by what their fit says; adopted only when the residuals support it.
 */
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sf_erf.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "geo/geo.h"
#include "geo/nlos.h"
#include "util/util.h"

#define NODES      8     /* quantile nodes of a delay's posterior */
#define LIGHT      1e-3  /* hypotheses lighter than this get two nodes */
#define RATIO_STEPS 32   /* the Gaussian table: axis ratio s2 / s1 in 0..1 */
#define X_STEPS     192  /* and r / s1 in 0..X_MAX */
#define X_MAX       8.0

/* ---- the 2-D Gaussian's radial distribution ------------------------------------------ */

double geo_gauss_within(double r, double s1, double s2) {
  /* in whitened coordinates the radius along angle phi is r / sqrt(s1^2 cos^2 + s2^2
   * sin^2) and P(|z| < R) = 1 - exp(-R^2 / 2) along every direction; a quarter turn
   * suffices by symmetry (the same 256 directions a whole turn would take) */
  const int n = 64;
  double p = 0;
  for (int k = 0; k < n; k++) {
    double phi = (k + 0.5) * (LG_PI / 2) / n, cs = cos(phi), sn = sin(phi);
    double v = s1 * s1 * cs * cs + s2 * s2 * sn * sn;
    p += v > 0 ? 1 - exp(-r * r / (2 * v)) : 1;
  }
  return p / n;
}

/* Phi(x) tabulated over [-8, 8] (linear, within 1e-5): the radius search calls it a few
 * thousand times a fix. */
#define PHI_STEPS 3200
static double phi_tab[PHI_STEPS + 1];

static double phi(double x) {
  double t = (x + 8.0) * (PHI_STEPS / 16.0);
  if (!(t > 0)) return 0; /* NaN too */
  if (t >= PHI_STEPS) return 1;
  int i = (int)t;
  return phi_tab[i] + (t - i) * (phi_tab[i + 1] - phi_tab[i]);
}

static double gauss_tab[RATIO_STEPS + 1][X_STEPS + 1];
static pthread_once_t gauss_once = PTHREAD_ONCE_INIT;

static void gauss_tab_init(void) {
  for (int i = 0; i <= PHI_STEPS; i++)
    phi_tab[i] = gsl_cdf_ugaussian_P(-8.0 + 16.0 * i / PHI_STEPS);
  for (int i = 0; i <= RATIO_STEPS; i++)
    for (int j = 0; j <= X_STEPS; j++)
      gauss_tab[i][j] = geo_gauss_within(X_MAX * j / X_STEPS, 1.0, (double)i / RATIO_STEPS);
}

/* A Gaussian's axis sigmas from its covariance {ee, en, nn}. */
static void axes(const double cov[3], double *s1, double *s2) {
  double tr = cov[0] + cov[2], det = cov[0] * cov[2] - cov[1] * cov[1];
  double disc = sqrt(fmax(tr * tr / 4 - det, 0));
  *s1 = sqrt(fmax(tr / 2 + disc, 0));
  *s2 = sqrt(fmax(tr / 2 - disc, 0));
}

/* geo_gauss_within from the table (bilinear, within 0.3 %). */
static double within(double r, double s1, double ratio) {
  if (r <= 0) return 0;
  if (!(s1 > 0)) return 1;
  double x = r / s1 / X_MAX * X_STEPS, y = ratio * RATIO_STEPS;
  if (!(x < X_STEPS)) return 1;
  if (!(y >= 0)) y = 0;
  int i = (int)x, j = (int)y;
  if (j >= RATIO_STEPS) j = RATIO_STEPS - 1;
  double fx = x - i, fy = y - j;
  double lo = gauss_tab[j][i] + fx * (gauss_tab[j][i + 1] - gauss_tab[j][i]);
  double hi = gauss_tab[j + 1][i] + fx * (gauss_tab[j + 1][i + 1] - gauss_tab[j + 1][i]);
  return lo + fy * (hi - lo);
}

/* ---- one row's delay posterior --------------------------------------------------------- */

struct delay_post {
  double log_z; /* log of integral_0^inf exp(-d/mu + a d - b d^2 / 2) dd */
  double mean;  /* the posterior mean delay */
  bool expo;    /* an exponential of rate `rate` (b negligible), else a truncated Gaussian */
  double rate, m, sd;
};

/* log Phi(x), accurate far into the lower tail */
static double log_phi(double x) {
  return gsl_sf_log_erfc(-x * 0.70710678118654752440) - 0.69314718055994530942;
}

static void delay_posterior(double a, double b, double mu, struct delay_post *d) {
  d->expo = false;
  if (!(b * mu * mu > 1e-6)) { /* the residuals cannot see this row: the prior alone */
    d->expo = true;
    d->rate = 1.0 / mu;
    d->log_z = log(mu);
    d->mean = mu;
    return;
  }
  double lin = a - 1.0 / mu; /* the exponent's linear coefficient */
  d->m = lin / b;
  d->sd = 1.0 / sqrt(b);
  double alpha = d->m / d->sd; /* the truncation point 0 is -alpha sd from the mean */
  if (alpha > -30) {
    d->log_z = 0.5 * log(2 * LG_PI / b) + 0.5 * b * d->m * d->m + log_phi(alpha);
    /* E[d] = m + sd phi(alpha) / Phi(alpha), the ratio being the hazard of -alpha (which
     * vanishes, and would underflow, far above the truncation) */
    d->mean = alpha > 30 ? d->m : d->m + d->sd * gsl_sf_hazard(-alpha);
    return;
  }
  /* the mean far below 0 (lin < 0): b d^2 / 2 negligible where the mass is, an
   * exponential of rate -lin */
  d->expo = true;
  d->rate = -lin;
  d->log_z = -log(d->rate);
  d->mean = 1.0 / d->rate;
}

/* The delay at posterior quantile u. */
static double delay_quantile(const struct delay_post *d, double u) {
  if (d->expo) return -log1p(-u) / d->rate;
  /* P(D > x) = Q((x - m) / sd) / Q(-alpha), alpha = m / sd */
  double qa = gsl_cdf_ugaussian_Q(-d->m / d->sd);
  return fmax(0.0, d->m + d->sd * gsl_cdf_ugaussian_Qinv((1 - u) * qa));
}

/* Posterior weights of H0 (w[0]) and each H_i (w[1 + i]), and the delays' posteriors.
 * Returns the log of P(residuals | mixture) / P(residuals | H0), the priors normalised over
 * "none or one late". */
static double weigh(const struct geo_nlos_row *rows, size_t n, double share, double mu,
                    double *w, struct delay_post *post) {
  /* independent receptions, at most one late: H_i over H0 is share / (1 - share) */
  double lr = log(share) - log1p(-share) - log(mu), top = 0;
  w[0] = 0;
  for (size_t i = 0; i < n; i++) {
    delay_posterior(rows[i].a, rows[i].b, mu, &post[i]);
    w[1 + i] = lr + post[i].log_z;
    if (w[1 + i] > top) top = w[1 + i];
  }
  double sum = 0;
  for (size_t i = 0; i <= n; i++)
    sum += w[i] = exp(w[i] - top);
  for (size_t i = 0; i <= n; i++)
    w[i] /= sum;
  /* sum exp(w_i) = (1 + q/(1-q) sum LR_i) x e^-top; over the prior's 1 + n q/(1-q) */
  return top + log(sum) - log1p((double)n * share / (1 - share));
}

/* ---- a fit's verdict -------------------------------------------------------------------- */

struct component {
  double weight, dist;
  double along[2]; /* the Gaussian's sigma along the move, under cov68 and cov95 */
};

/* A covariance's sigma along (e, n). */
static double sigma_along(const double cov[3], double e, double n) {
  double d2 = e * e + n * n;
  if (!(d2 > 0)) return 0;
  return sqrt(fmax((cov[0] * e * e + 2 * cov[1] * e * n + cov[2] * n * n) / d2, 0));
}

/* The radius holding probability p of the mixture (a Gaussian of axes s1, s1 * ratio,
 * moved by each component's distance), by bisection between the Gaussian's own and
 * that plus the largest move. */
static double mixture_radius(const struct component *c, size_t nc, int k, double s1,
                             double ratio, double r_gauss, double p) {
  double far = 0;
  for (size_t j = 0; j < nc; j++)
    far = fmax(far, c[j].dist + 4 * c[j].along[k]);
  double lo = r_gauss, hi = r_gauss + far;
  for (int it = 0; it < 24 && hi - lo > 2e-3 * lo; it++) {
    double mid = 0.5 * (lo + hi), mass = 0;
    double own = within(mid, s1, ratio);
    for (size_t j = 0; j < nc; j++) {
      double moved = c[j].along[k] > 0 ? phi((mid - c[j].dist) / c[j].along[k]) : 1;
      mass += c[j].weight * (moved < own ? moved : own);
    }
    if (mass < p)
      lo = mid;
    else
      hi = mid;
  }
  return hi;
}

void geo_nlos_assess(const struct geo_nlos_row *rows, size_t n, double share, double mu,
                     const double cov68[3], const double cov95[3], int relocate,
                     struct geo_nlos_verdict *v) {
  pthread_once(&gauss_once, gauss_tab_init);
  memset(v, 0, sizeof(*v));
  v->late = -1;
  if (n == 0 || n > LG_GEO_MAX_RX) return;
  double w[LG_GEO_MAX_RX + 1];
  struct delay_post post[LG_GEO_MAX_RX];
  weigh(rows, n, share, mu, w, post);
  size_t best = 0;
  for (size_t i = 0; i < n; i++)
    if (w[1 + i] > w[best]) best = 1 + i;
  if (relocate && best > 0) {
    v->late = (int)best - 1;
    v->move[0] = -rows[best - 1].shift[0] * post[best - 1].mean;
    v->move[1] = -rows[best - 1].shift[1] * post[best - 1].mean;
  }
  struct component c[1 + LG_GEO_MAX_RX * NODES];
  size_t nc = 0;
  c[nc++] = (struct component){w[0], hypot(v->move[0], v->move[1]),
                               {sigma_along(cov68, v->move[0], v->move[1]),
                                sigma_along(cov95, v->move[0], v->move[1])}};
  for (size_t i = 0; i < n; i++) {
    int nodes = w[1 + i] < LIGHT ? 2 : NODES; /* a light hypothesis, coarsely */
    for (int k = 0; k < nodes; k++) {
      double d = delay_quantile(&post[i], (k + 0.5) / nodes);
      double e = rows[i].shift[0] * d + v->move[0], nn = rows[i].shift[1] * d + v->move[1];
      c[nc++] = (struct component){w[1 + i] / nodes, sqrt(e * e + nn * nn),
                                   {sigma_along(cov68, e, nn), sigma_along(cov95, e, nn)}};
    }
  }
  const double *cov[2] = {cov68, cov95};
  const double prob[2] = {0.68, 0.95};
  double *out[2] = {&v->r68, &v->r95};
  for (int k = 0; k < 2; k++) {
    double s1, s2;
    axes(cov[k], &s1, &s2);
    double ratio = s1 > 0 ? s2 / s1 : 1;
    /* the Gaussian's own radius, from the table by bisection */
    double lo = 0, hi = s1 * X_MAX;
    for (int it = 0; it < 40 && hi - lo > 1e-4 * hi; it++) {
      double mid = 0.5 * (lo + hi);
      if (within(mid, s1, ratio) < prob[k])
        lo = mid;
      else
        hi = mid;
    }
    *out[k] = mixture_radius(c, nc, k, s1, ratio, hi, prob[k]);
  }
}

/* ---- learning the model ------------------------------------------------------------------ */

struct lg_geo_nlos_frames {
  struct geo_nlos_row *rows; /* every frame's rows, one after another */
  size_t *start;             /* frame k: rows[start[k] .. start[k + 1]) */
  double *dropped_m;         /* per frame: the dropped receptions' delays, summed */
  int *dropped;              /* and their count */
  size_t n, cap, n_rows, rows_cap;
};

struct lg_geo_nlos_frames *lg_geo_nlos_frames_new(void) {
  return calloc(1, sizeof(struct lg_geo_nlos_frames));
}

void lg_geo_nlos_frames_free(struct lg_geo_nlos_frames *f) {
  if (f == NULL) return;
  free(f->rows);
  free(f->start);
  free(f->dropped_m);
  free(f->dropped);
  free(f);
}

size_t lg_geo_nlos_frames_count(const struct lg_geo_nlos_frames *f) {
  return f->n;
}

int geo_nlos_frames_add(struct lg_geo_nlos_frames *f, const struct geo_nlos_row *rows, size_t n,
                        int dropped, double dropped_m, double scale) {
  if (n > LG_GEO_MAX_RX) return LG_EINVAL;
  if (f->n + 2 > f->cap) {
    size_t cap = f->cap ? 2 * f->cap : 256;
    size_t *st = realloc(f->start, cap * sizeof(*st));
    if (st == NULL) return LG_ENOMEM;
    f->start = st;
    double *dm = realloc(f->dropped_m, cap * sizeof(*dm));
    if (dm == NULL) return LG_ENOMEM;
    f->dropped_m = dm;
    int *dr = realloc(f->dropped, cap * sizeof(*dr));
    if (dr == NULL) return LG_ENOMEM;
    f->dropped = dr;
    f->cap = cap;
  }
  if (f->n_rows + n > f->rows_cap) {
    size_t cap = f->rows_cap ? 2 * f->rows_cap : 1024;
    while (cap < f->n_rows + n)
      cap *= 2;
    struct geo_nlos_row *r = realloc(f->rows, cap * sizeof(*r));
    if (r == NULL) return LG_ENOMEM;
    f->rows = r;
    f->rows_cap = cap;
  }
  f->start[f->n] = f->n_rows;
  /* a and b go as 1 / sigma^2: a set's rows weighed at one noise scale */
  for (size_t i = 0; i < n; i++) {
    f->rows[f->n_rows + i] = rows[i];
    f->rows[f->n_rows + i].a *= scale;
    f->rows[f->n_rows + i].b *= scale;
  }
  f->n_rows += n;
  f->dropped[f->n] = dropped;
  f->dropped_m[f->n] = dropped_m;
  f->n++;
  f->start[f->n] = f->n_rows;
  return 0;
}

#define LEARN_MAX_ITER 300
#define SHARE_MIN      1e-4
#define SHARE_MAX      0.2
#define MIN_VISIBLE    50     /* rows whose residuals would show a delay of the mean */
#define LLR_MIN        6.9    /* half the 99.9 % quantile of chi-square(2) */
#define DROP_LLR_MAX   6.9    /* log 1000: what one left-out reception can weigh */

/* One EM pass over the set at (q, mu): the expected late count and delay sum, the rows
 * that could show a delay of mu, and the log-likelihood ratio of the mixture over
 * Gaussian noise alone. */
struct em_pass {
  double late, late_m, visible, llr;
};

static void em_pass(const struct lg_geo_nlos_frames *f, double q, double mu, double sigma_m,
                    struct em_pass *e) {
  double w[LG_GEO_MAX_RX + 1];
  struct delay_post post[LG_GEO_MAX_RX];
  memset(e, 0, sizeof(*e));
  for (size_t k = 0; k < f->n; k++) {
    const struct geo_nlos_row *r = f->rows + f->start[k];
    size_t n = f->start[k + 1] - f->start[k];
    int dropped = f->dropped[k];
    e->late += dropped;
    e->late_m += f->dropped_m[k];
    if (dropped > 0) {
      /* each: an exponential's density against the Gaussian's, but never more than the
       * reflection test's false alarms (0.1 %) allow a left-out reception to weigh */
      double mean = f->dropped_m[k] / dropped;
      double one = log(q / mu) - mean / mu + 0.5 * (mean / sigma_m) * (mean / sigma_m) +
                   log(sigma_m * sqrt(2 * LG_PI));
      e->llr += dropped * fmin(one, DROP_LLR_MAX);
    }
    if (n == 0) continue;
    e->llr += weigh(r, n, q, mu, w, post);
    for (size_t i = 0; i < n; i++) {
      e->visible += r[i].b * mu * mu >= 1;
      e->late += w[1 + i];
      e->late_m += w[1 + i] * post[i].mean;
    }
  }
}

/* The share q at which the model ("none or one late" per frame, a frame of m receptions
 * holding one with probability m q / (1 - q + m q)) expects `late` late receptions over
 * the set: the M-step's share (late / receptions would be low by about (m - 1) q). */
static double share_for(const struct lg_geo_nlos_frames *f, double late) {
  double lo = SHARE_MIN, hi = SHARE_MAX;
  for (int it = 0; it < 40; it++) {
    double q = 0.5 * (lo + hi), expect = 0;
    for (size_t k = 0; k < f->n; k++) {
      double m = (double)(f->start[k + 1] - f->start[k]) + f->dropped[k];
      expect += m * q / (1 - q + m * q);
    }
    if (expect < late)
      lo = q;
    else
      hi = q;
  }
  return 0.5 * (lo + hi);
}

void lg_geo_nlos_fit_start(struct lg_geo_nlos_fit *fit, double sigma_m, double share,
                           double delay_m) {
  bool warm = share > 0 && delay_m > 0;
  *fit = (struct lg_geo_nlos_fit){.sigma_m = sigma_m,
                                  .share = warm ? share : 0.02,
                                  .delay_m = warm ? delay_m : 10 * sigma_m};
}

bool lg_geo_nlos_fit_step(const struct lg_geo_nlos_frames *f, struct lg_geo_nlos_fit *fit) {
  if (fit->done) return true;
  struct em_pass e;
  em_pass(f, fit->share, fit->delay_m, fit->sigma_m, &e);
  double q1 = f->n > 0 ? share_for(f, e.late) : fit->share;
  double mu1 = e.late > 0 ? fmin(fmax(e.late_m / e.late, fit->sigma_m), GEO_NLOS_LATE_MAX_M) : fit->delay_m;
  bool still = fabs(q1 - fit->share) <= 1e-4 * fit->share &&
               fabs(mu1 - fit->delay_m) <= 1e-4 * fit->delay_m;
  fit->share = q1;
  fit->delay_m = mu1;
  fit->done = still || !isfinite(q1) || !isfinite(mu1) || ++fit->iterations >= LEARN_MAX_ITER;
  return fit->done;
}

int lg_geo_nlos_fit_verdict(const struct lg_geo_nlos_frames *f, const struct lg_geo_nlos_fit *fit,
                            double *share, double *delay_m) {
  if (f->n < 50 || !(fit->sigma_m > 0)) return LG_EINVAL;
  /* Only a model the residuals support: enough receptions that could have shown such
   * delays, and a likelihood clearly above Gaussian noise alone's. A share at its bound
   * fits nothing: more than one reception in five "late" is noise misjudged (a gateway
   * far noisier than the sigma given, a clock off), not reflections. */
  struct em_pass e;
  em_pass(f, fit->share, fit->delay_m, fit->sigma_m, &e);
  if (e.visible < MIN_VISIBLE || !(e.llr > LLR_MIN) || !isfinite(fit->share) ||
      !isfinite(fit->delay_m) || fit->share >= 0.999 * SHARE_MAX)
    return LG_ENOTFOUND;
  *share = fit->share;
  *delay_m = fit->delay_m;
  return 0;
}

int lg_geo_nlos_learn(const struct lg_geo_nlos_frames *f, double sigma_m, double *share,
                      double *delay_m) {
  if (f->n < 50 || !(sigma_m > 0)) return LG_EINVAL;
  struct lg_geo_nlos_fit fit;
  lg_geo_nlos_fit_start(&fit, sigma_m, 0, 0);
  while (!lg_geo_nlos_fit_step(f, &fit)) {
  }
  return lg_geo_nlos_fit_verdict(f, &fit, share, delay_m);
}
