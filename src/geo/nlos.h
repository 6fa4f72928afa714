/*
 * Internal to geo/: reflections in a fix's quality (nlos.c).
 *
 * A timed reception arrives by a reflected path with probability `share`, late by an
 * exponential delay of mean `delay_m` (metres of range); otherwise only its Gaussian
 * noise moves it. A fit whose residuals leave it no room (three gateways, or a fourth
 * that cannot tell which one is late) hides the delay, and Gaussian radii then hold far
 * less often than they say. nlos.c weighs, for one fit, "no reception late" against
 * "reception i late by some delay" (at most one per frame: the share is small), each
 * with its evidence in the residuals, and gives the radii of that mixture and, when one
 * late reception is more likely than none, the position with its delay taken out.
 */
#ifndef LG_GEO_NLOS_H
#define LG_GEO_NLOS_H

#include <stddef.h>

/* One timed reception of a fit, to first order about the fitted position:
 * a = -f / sigma and b = (1 - h) / sigma^2 (f its normalised residual, h its leverage,
 * sigma its noise in metres), so that a delay d adds a d - b d^2 / 2 to the
 * log-likelihood of the residuals; shift: how far (east, north) a delay of 1 m moves
 * the fix. */
struct geo_nlos_row {
  double a, b;
  double shift[2];
};

/* What a fit's mixture says. */
struct geo_nlos_verdict {
  double move[2];       /* to add to the fix (east, north): the likeliest late one taken out */
  int late;             /* that reception's row, or -1 */
  double r68, r95;      /* the mixture's radii about the moved fix */
};

/*
 * The verdict for a fit's `n` rows under the model (share, delay_m) with Gaussian
 * covariances cov68 and cov95 (east-north, m^2: the fit's, each widened as its radius
 * would be). `relocate` false keeps the fix where it is (lls, grid).
 */
void geo_nlos_assess(const struct geo_nlos_row *rows, size_t n, double share, double delay_m,
                     const double cov68[3], const double cov95[3], int relocate,
                     struct geo_nlos_verdict *v);

/* Adds one fit's rows to a learning set (lg_geo_nlos_learn). */
struct lg_geo_nlos_frames;
int geo_nlos_frames_add(struct lg_geo_nlos_frames *f, const struct geo_nlos_row *rows, size_t n,
                        int dropped, double dropped_m, double scale);

/* Beyond this "delay" (2 us of range) a late reception is a clock, not a path: neither
 * counted as a reflection (solver.c) nor learned as one's mean. */
#define GEO_NLOS_LATE_MAX_M 600.0

/* The probability that a 2-D zero-mean Gaussian of axis sigmas s1 >= s2 lies within r
 * (also lg_geo_radius_for's, joint.c). */
double geo_gauss_within(double r, double s1, double s2);

#endif
