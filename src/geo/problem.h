/*
 * Internal to geo/: one frame's receptions prepared in a local east-north-up frame, as
 * the solvers (solver.c, linear.c, grid.c) share them.
 */
#ifndef LG_GEO_PROBLEM_H
#define LG_GEO_PROBLEM_H

#include "geo/geo.h"

struct geo_gw {
  double enu[3];
  bool timed;     /* has a usable GPS time */
  double toa_m;   /* c * (t - t_min), metres */
  double sigma_m; /* c * sigma */
  bool has_rssi;
  double rssi_dbm;
  bool active;    /* used by the current fit */
  bool duplicate; /* another reception of the same gateway, or a co-located one */
};

struct geo_problem {
  struct lg_enu_frame frame;
  struct geo_gw gw[LG_GEO_MAX_RX];
  size_t n;
  size_t n_timed, n_rssi;
  bool use_toa, use_rssi;
  double rssi_sigma_db; /* per RSSI residual (inflated in hybrid) */
  bool fix_alt;         /* 2D: hold the height at device_alt_m */
  double device_alt_m;
  double up0;     /* geo_device_up(p, 0, 0): the device's up at the frame's origin */
  bool use_prior; /* weak prior keeping fixes in the region: */
  double prior_center[2], prior_sigma_m; /* only used when a fit leaves the region */
  double sigma_ref_m;                    /* c * default sigma, for GDOP */
  bool sigma_known;                      /* every timed reception carries its sigma */
  /* a position from other evidence (the radio map) that chooses between the two roots of
   * a three-gateway frame, with its 95 % radius (solve.c sets it under auto) */
  bool has_prefer;
  double prefer_en[2], prefer_r95_m;
  size_t n_duplicates;
  const struct lg_geo_opts *opts;
};

/* Sets up *p from the receptions; LG_EINVAL for bad coordinates. */
int geo_problem_init(struct geo_problem *p, const struct lg_geo_rx *rx, size_t n,
                     const struct lg_geo_opts *o);

/* How many gateways the current fit uses with a GPS time (timed and active). */
size_t geo_n_active_timed(const struct geo_problem *p);

/* Closed-form multilateration (spherical intersection, linear.c) in the local frame with
 * the device height known, gateway `ref` as the reference; uses active timed gateways.
 * Writes (e, n) to xy and, when misfit is not NULL, the arrival times' chi-square there
 * (the same whatever the reference). Needs 4 active timed gateways and a root within
 * the region the gateways can hear; LG_EINVAL otherwise. */
int geo_lls_ref(const struct geo_problem *p, size_t ref, double xy[2], double *misfit);

/* Candidate start points from the closed forms (up to `cap`); returns how many. With 3
 * timed gateways the quadratic of the spherical intersection gives up to two. */
size_t geo_start_points(const struct geo_problem *p, double (*xy)[2], size_t cap);

/* Local up-coordinate of a point at (e, n) with the device's assumed height. */
double geo_device_up(const struct geo_problem *p, double e, double n);

/* solver.c: the iterative solvers (nls, rssi, hybrid) on a prepared problem. */
struct lg_geo_solver;
int geo_solve_iterative(struct lg_geo_solver *s, struct geo_problem *p, enum lg_geo_method method,
                        struct lg_geo_fix *out, char *why, size_t why_len);
/* Solves with Levenberg-Marquardt alone, without the Gauss-Newton first pass (tests). */
void geo_solver_set_lm_only(struct lg_geo_solver *s, bool lm_only);
/* A buffer of at least n doubles owned by the solver (grown on demand); NULL when out of
 * memory. */
double *geo_solver_scratch(struct lg_geo_solver *s, size_t n);
/* How many fits the solver has run, and how many the Gauss-Newton pass finished. */
void geo_solver_counts(const struct lg_geo_solver *s, uint64_t *fits, uint64_t *fits_gn);
/* Fills the quality figures (and position) of *out for a 2D position found otherwise
 * (lls, grid), as if the time-of-arrival fit had stopped there. */
int geo_quality_at(struct lg_geo_solver *s, struct geo_problem *p, double e, double n,
                   struct lg_geo_fix *out);
/* grid.c: the thesis' grid search; writes (e, n). */
int geo_grid_search(const struct geo_problem *p, const struct lg_geo_rx *rx, double xy[2]);

#endif
