/*
 * lg_geo_solve(): one frame's receptions in, one fix out. Chooses the solver for
 * `auto` per frame: time of arrival (`nls`) when at least min_gateways receptions carry
 * a GPS time; `hybrid` when fewer are timed but RSSI completes the picture; `rssi`
 * otherwise.
 */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/problem.h"
#include "util/util.h"

struct lg_geo_opts lg_geo_opts_default(void) {
  struct lg_geo_opts o = {
      .method = LG_GEO_AUTO,
      .min_gateways = 3,
      .device_alt_m = 0.0,
      .solve_altitude = false,
      .sigma_ns = 50.0,
      .sigma_prior_dof = 2.0,
      .robust = true,
      .grid_step_m = 10.0,
      .pathloss = lg_pathloss_default(),
  };
  return o;
}

static enum lg_geo_method pick_auto(const struct geo_problem *p, const struct lg_geo_opts *o) {
  size_t need = p->fix_alt ? 3 : 4;
  size_t min_timed = o->min_gateways > 0 ? (size_t)o->min_gateways : need;
  if (p->n_timed >= min_timed && p->n_timed >= need) return LG_GEO_NLS;
  /* A radio map learned on the site beats ranging with a path-loss model several times
   * over (docs/geolocation.md, the Antwerp split). */
  if (o->radio_map && p->n_rssi > 0) return LG_GEO_FINGERPRINT;
  if (p->n_timed >= 2 && p->n_rssi >= need) return LG_GEO_HYBRID;
  return LG_GEO_RSSI;
}

/* The RSSI-weighted centroid of the hearing gateways (weights in amplitude,
 * 10^(rssi/20)): the plainest RSSI method, and the baseline any other must beat. */
static int solve_centroid(const struct geo_problem *p, struct lg_geo_fix *fix, char *why,
                          size_t why_len) {
  double w = 0, e = 0, n = 0, wmax = -1e300;
  for (size_t i = 0; i < p->n; i++)
    if (p->gw[i].has_rssi && p->gw[i].rssi_dbm > wmax) wmax = p->gw[i].rssi_dbm;
  for (size_t i = 0; i < p->n; i++) {
    if (!p->gw[i].has_rssi) {
      fix->excluded |= 1ull << i;
      continue;
    }
    double wi = pow(10.0, (p->gw[i].rssi_dbm - wmax) / 20.0);
    w += wi;
    e += wi * p->gw[i].enu[0];
    n += wi * p->gw[i].enu[1];
    fix->gateways_used++;
  }
  if (fix->gateways_used == 0) {
    snprintf(why, why_len, "centroid needs receptions with an RSSI");
    return LG_EINVAL;
  }
  double en[3] = {e / w, n / w, p->device_alt_m};
  double spread = 0;
  for (size_t i = 0; i < p->n; i++)
    if (p->gw[i].has_rssi) {
      double de = p->gw[i].enu[0] - en[0], dn = p->gw[i].enu[1] - en[1];
      spread += pow(10.0, (p->gw[i].rssi_dbm - wmax) / 20.0) * (de * de + dn * dn);
    }
  spread = sqrt(spread / w);
  struct lg_geodetic g;
  lg_enu_to_geodetic(&p->frame, en, &g);
  fix->lat_deg = g.lat_deg;
  fix->lon_deg = g.lon_deg;
  fix->alt_m = p->device_alt_m;
  fix->method = LG_GEO_CENTROID;
  /* No model of its error: a share of the gateways' weighted spread stands for it, with
   * a floor of 500 m (one hearing gateway). The shares are the 68th and 95th percentiles
   * of error / spread on the Antwerp development split (docs/geolocation.md). */
  fix->accuracy_m = 0.45 * fmax(spread, 500.0);
  fix->accuracy_95_m = 0.95 * fmax(spread, 500.0);
  fix->cov_en[0] = fix->cov_en[2] = 0.5 * fix->accuracy_m * fix->accuracy_m;
  return 0;
}

/* Three timed gateways leave two candidate positions; the radio map's fix of the same
 * frame, when it has one, says which (solver.c, add_alternative). */
static void prefer_by_map(struct lg_geo_solver *s, struct geo_problem *p,
                          const struct lg_geo_rx *rx, size_t n, const struct lg_geo_opts *o) {
  double *ll = geo_solver_scratch(s, lg_radio_map_cells(o->radio_map));
  struct lg_geo_fix fp;
  char why[8];
  if (ll == NULL || lg_radio_map_locate(o->radio_map, ll, rx, n, &fp, why, sizeof(why)) != 0)
    return;
  struct lg_geodetic g = {fp.lat_deg, fp.lon_deg, p->device_alt_m};
  double enu[3];
  lg_enu_from_geodetic(&p->frame, &g, enu);
  p->has_prefer = true;
  p->prefer_en[0] = enu[0];
  p->prefer_en[1] = enu[1];
  p->prefer_r95_m = fp.accuracy_95_m;
}

/*
 * lls and grid positions are no least-squares optimum: lls is biased by a late reception
 * (it has no test for one), grid by its step. The truth lies about the time-of-arrival
 * fit's position within that fit's radii as often as they say, so a closed form's radii
 * are at least its distance from there plus those: a bound that holds at least as often.
 * (Gaussian radii at the lls point held for 79 % at 95 %, 13 % beyond 3x, on four
 * gateways with 5 % of receptions late.)
 */
static int closed_form_radii(struct lg_geo_solver *s, const struct lg_geo_rx *rx, size_t n,
                             const struct lg_geo_opts *o, struct lg_geo_fix *fix, char *why,
                             size_t why_len) {
  struct geo_problem q;
  if (geo_problem_init(&q, rx, n, o) != 0) return 0; /* the caller's problem was built */
  struct lg_geo_fix ref;
  char nls_why[160];
  memset(&ref, 0, sizeof(ref));
  int rc = geo_solve_iterative(s, &q, LG_GEO_NLS, &ref, nls_why, sizeof(nls_why));
  if (rc == LG_EINVAL) return 0; /* nls cannot run here (3-D with 3 gateways): own radii */
  if (rc) {
    /* no fit to bound the radii by: the closed form's point has no more support (grid's
     * own radii had said 276 m for a fix 1,041 m off on the thesis site) */
    const char *reason = strncmp(nls_why, "nls: ", 5) == 0 ? nls_why + 5 : nls_why;
    snprintf(why, why_len, "%s: %s", lg_geo_method_name(fix->method), reason);
    return rc;
  }
  double d = lg_geo_distance_m(fix->lat_deg, fix->lon_deg, ref.lat_deg, ref.lon_deg);
  fix->accuracy_m = fmax(fix->accuracy_m, d + ref.accuracy_m);
  fix->accuracy_95_m = fmax(fix->accuracy_95_m, d + ref.accuracy_95_m);
  return 0;
}

static int solve_closed_form(struct lg_geo_solver *s, struct geo_problem *p,
                             const struct lg_geo_rx *rx, size_t n, enum lg_geo_method method,
                             struct lg_geo_fix *fix, char *why, size_t why_len) {
  double xy[2] = {0, 0};
  p->use_toa = true;
  if (method == LG_GEO_LLS) {
    /* Each gateway as the reference in turn (thesis §4.5.2, which averaged them); the
     * solution the arrival times fit best is kept, as the thesis' grid search does
     * among its references (eq. 4.25): one ill-conditioned reference cannot spoil it. */
    double best = INFINITY;
    for (size_t r = 0; r < p->n; r++) {
      double one[2], misfit;
      if (geo_lls_ref(p, r, one, &misfit) != 0 || !(misfit < best)) continue;
      best = misfit;
      xy[0] = one[0];
      xy[1] = one[1];
    }
    size_t usable = geo_n_active_timed(p);
    if (!isfinite(best) && usable >= 4) {
      snprintf(why, why_len,
               "lls: no root of the intersection within range of these gateways (a time is "
               "wrong, or the layout is degenerate)");
      return LG_ENOTFOUND;
    }
    if (!isfinite(best)) {
      snprintf(why, why_len, "lls needs 4 gateways with a GPS time, got %zu", usable);
      return LG_EINVAL;
    }
  } else if (geo_grid_search(p, rx, xy) != 0) {
    snprintf(why, why_len, "grid needs 3 gateways with a GPS time, got %zu", p->n_timed);
    return LG_EINVAL;
  }
  int rc = geo_quality_at(s, p, xy[0], xy[1], fix);
  if (rc) {
    snprintf(why, why_len, "%s: singular geometry", lg_geo_method_name(method));
    return rc;
  }
  fix->method = method;
  rc = closed_form_radii(s, rx, n, p->opts, fix, why, why_len);
  if (rc) return rc;
  fix->excluded = 0;
  for (size_t i = 0; i < p->n; i++)
    if (!p->gw[i].timed) fix->excluded |= 1ull << i;
  return 0;
}

int lg_geo_solve(struct lg_geo_solver *s, const struct lg_geo_rx *rx, size_t n,
                 const struct lg_geo_opts *o, struct lg_geo_fix *fix, char *why, size_t why_len) {
  char scratch[8];
  if (why == NULL) {
    why = scratch;
    why_len = sizeof(scratch);
  }
  why[0] = '\0';
  struct geo_problem p;
  int rc = geo_problem_init(&p, rx, n, o);
  if (rc == LG_ETOOLONG) {
    snprintf(why, why_len, "too many receptions: %zu, at most %d", n, LG_GEO_MAX_RX);
    return rc;
  }
  if (rc) {
    snprintf(why, why_len,
             n == 0 ? "no receptions" : "bad gateway coordinates, or receptions over 1 s apart");
    return rc;
  }
  memset(fix, 0, sizeof(*fix));
  enum lg_geo_method m = o->method == LG_GEO_AUTO ? pick_auto(&p, o) : o->method;
  if (m == LG_GEO_FINGERPRINT || m == LG_GEO_KNN) {
    if (o->radio_map == NULL) {
      snprintf(why, why_len, "%s needs a radio map (lorageo calibrate on records with truth)",
               lg_geo_method_name(m));
      return LG_EINVAL;
    }
    if (m == LG_GEO_KNN) return lg_radio_map_knn(o->radio_map, rx, n, fix, why, why_len);
    double *ll = geo_solver_scratch(s, lg_radio_map_cells(o->radio_map));
    if (ll == NULL) {
      snprintf(why, why_len, "out of memory");
      return LG_ENOMEM;
    }
    return lg_radio_map_locate(o->radio_map, ll, rx, n, fix, why, why_len);
  }
  if (m == LG_GEO_CENTROID) return solve_centroid(&p, fix, why, why_len);
  if (o->method == LG_GEO_AUTO && m == LG_GEO_NLS && o->radio_map && p.n_timed == 3 &&
      p.n_rssi > 0)
    prefer_by_map(s, &p, rx, n, o);
  rc = m == LG_GEO_LLS || m == LG_GEO_GRID ? solve_closed_form(s, &p, rx, n, m, fix, why, why_len)
                                           : geo_solve_iterative(s, &p, m, fix, why, why_len);
  if (rc == LG_EINVAL && p.n_duplicates > 0) {
    /* say why there are fewer gateways than receptions */
    size_t len = strlen(why);
    snprintf(why + len, why_len - len,
             " (%zu receptions, %zu of them repeat a gateway by name or position)", n,
             p.n_duplicates);
  }
  if (rc == 0)
    for (size_t i = 0; i < p.n; i++)
      if (p.gw[i].duplicate) fix->excluded |= 1ull << i;
  return rc;
}

/* The quantile of the fixes' normalised chi-square that measures the noise: a lower
 * one than the median, because reflections only ever add (a late reception the robust
 * test missed inflates its frame's chi-square); the 25th percentile stays right while up
 * to three frames in four carry one. */
#define NOISE_QUANTILE 0.25
#define NOISE_DOF_TAB  64 /* chi-square's quantile tabulated up to this many dof */

static double noise_q[NOISE_DOF_TAB + 1];
static pthread_once_t noise_q_once = PTHREAD_ONCE_INIT;

static void noise_q_init(void) {
  for (int d = 1; d <= NOISE_DOF_TAB; d++)
    noise_q[d] = gsl_cdf_chisq_Pinv(NOISE_QUANTILE, d);
}

/* The live server measures every 64 fixes over 512: a quantile each was 4 % of its CPU. */
static double chisq_quantile(int dof) {
  pthread_once(&noise_q_once, noise_q_init);
  return dof >= 1 && dof <= NOISE_DOF_TAB ? noise_q[dof] : gsl_cdf_chisq_Pinv(NOISE_QUANTILE, dof);
}

double lg_geo_noise_factor(const struct lg_geo_fix *fixes, size_t n) {
  double *u = malloc((n ? n : 1) * sizeof(double));
  if (u == NULL) return 0;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (fixes[i].dof >= 1 && isfinite(fixes[i].chi2))
      u[k++] = fixes[i].chi2 / chisq_quantile(fixes[i].dof);
  double f = 0;
  if (k >= 20) {
    qsort(u, k, sizeof(double), lg_cmp_double);
    f = sqrt(u[(size_t)(NOISE_QUANTILE * (double)(k - 1))]);
  }
  free(u);
  return f;
}
