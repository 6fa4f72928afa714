/*
 * The thesis' iterative algorithm (§4.6.2, eq. 4.19-4.25), reproduced: a latitude /
 * longitude grid over the gateways' area; at every node the haversine distances to the
 * gateways; for each reference gateway r the error sum_i |(d_r - d_i) - c (t_r - t_i)|;
 * the node of least error per reference, and the reference of least error overall.
 * It is kept for comparison with the thesis and as a brute-force cross-check of `nls`. Two
 * changes from the thesis, both for devices outside the gateways' area (spot A of the
 * thesis site, where they made `grid` 14x worse in the mean than in the median): the
 * antennas' heights count (each haversine distance d becomes sqrt(d^2 + dz^2) with dz the
 * antenna's height over the device's assumed one; on the thesis' 20-80 m masts, ignoring
 * them biased range differences by metres, which outside the hull became hundreds of
 * metres), and a least error on the search area's border moves the area (geo_grid_search).
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "geo/problem.h"
#include "util/util.h"

#define GRID_MAX_NODES 4000000 /* the step grows past this, bounding the work */
#define GRID_MAX_SIDE  4096
#define GRID_MOVES     4 /* the box moves at most this often after its border */

/* The search box: latitudes and longitudes (relative to the frame origin's) in degrees. */
struct box {
  double lat_lo, lat_hi, lon_lo, lon_hi;
};

/* The node of least error in box b (eq. 4.25); *edge: it lies on the box's border, so the
 * least error may lie beyond. LG_ENOMEM. */
static int search_box(const struct geo_problem *p, const struct lg_geo_rx *rx, const size_t *idx,
                      size_t nt, const struct box *bx, double *best_lat, double *best_lon,
                      double *least, bool *edge) {
  double lat_lo = bx->lat_lo, lat_hi = bx->lat_hi, lon_lo = bx->lon_lo, lon_hi = bx->lon_hi;
  double step_m = p->opts->grid_step_m > 0 ? p->opts->grid_step_m : 10.0;
  double coslat = fmax(cos(0.5 * (lat_lo + lat_hi) * LG_PI / 180), 1e-6);
  double step_lat = step_m / 111320.0, step_lon = step_m / (111320.0 * coslat);
  double nlat = ceil((lat_hi - lat_lo) / step_lat) + 1,
         nlon = ceil((lon_hi - lon_lo) / step_lon) + 1;
  while (nlat * nlon > GRID_MAX_NODES || nlat > GRID_MAX_SIDE || nlon > GRID_MAX_SIDE) {
    step_lat *= 1.5;
    step_lon *= 1.5;
    nlat = ceil((lat_hi - lat_lo) / step_lat) + 1;
    nlon = ceil((lon_hi - lon_lo) / step_lon) + 1;
  }
  /* Haversine terms split by row and column so each node costs one asin per gateway:
   * k = sin^2(dphi/2) + cos(phi) cos(phi_i) sin^2(dlambda/2), d = R 2 asin(sqrt(k)), the
   * same value as eq. 4.17's 2 atan2(sqrt(k), sqrt(1 - k)). */
  size_t ncol = (size_t)nlon;
  double *col = malloc(ncol * nt * sizeof(double));
  if (col == NULL) return LG_ENOMEM;
  for (size_t b = 0; b < ncol; b++) {
    double lon = p->frame.origin.lon_deg + lon_lo + step_lon * (double)b;
    for (size_t k = 0; k < nt; k++) {
      double s = sin((lon - rx[idx[k]].lon_deg) * LG_PI / 360.0);
      col[b * nt + k] = s * s;
    }
  }
  double best_err = INFINITY;
  long best_a = 0;
  size_t best_b = 0;
  double dist[LG_GEO_MAX_RX], row_s[LG_GEO_MAX_RX], row_c[LG_GEO_MAX_RX], row_r[LG_GEO_MAX_RX];
  double dz2[LG_GEO_MAX_RX]; /* each antenna's height over the device's, squared */
  for (size_t k = 0; k < nt; k++)
    dz2[k] = (rx[idx[k]].alt_m - p->device_alt_m) * (rx[idx[k]].alt_m - p->device_alt_m);
  for (long a = 0; a < (long)nlat; a++) {
    double lat = lat_lo + step_lat * (double)a;
    for (size_t k = 0; k < nt; k++) {
      double s = sin((lat - rx[idx[k]].lat_deg) * LG_PI / 360.0);
      row_s[k] = s * s;
      row_c[k] = cos(lat * LG_PI / 180) * cos(rx[idx[k]].lat_deg * LG_PI / 180);
      row_r[k] = lg_geo_earth_radius_m(0.5 * (lat + rx[idx[k]].lat_deg));
    }
    for (size_t b = 0; b < ncol; b++) {
      const double *cs = &col[b * nt];
      for (size_t k = 0; k < nt; k++) {
        double h = fmin(row_s[k] + row_c[k] * cs[k], 1.0);
        double d = row_r[k] * 2.0 * asin(sqrt(h));
        dist[k] = sqrt(d * d + dz2[k]);
      }
      /* Every reference in turn; eq. 4.25 keeps the least error of all. */
      for (size_t r = 0; r < nt; r++) {
        double err = 0;
        for (size_t k = 0; k < nt; k++) {
          if (k == r) continue;
          double tdoa_m = p->gw[idx[r]].toa_m - p->gw[idx[k]].toa_m;
          err += fabs((dist[r] - dist[k]) - tdoa_m);
        }
        if (err < best_err) {
          best_err = err;
          best_a = a;
          best_b = b;
        }
      }
    }
  }
  free(col);
  *best_lat = lat_lo + step_lat * (double)best_a;
  *best_lon = p->frame.origin.lon_deg + lon_lo + step_lon * (double)best_b;
  *least = best_err;
  *edge = best_a == 0 || best_a == (long)nlat - 1 || best_b == 0 || best_b == ncol - 1;
  return 0;
}

int geo_grid_search(const struct geo_problem *p, const struct lg_geo_rx *rx, double xy[2]) {
  size_t idx[LG_GEO_MAX_RX], nt = 0;
  struct box bx = {90, -90, 1e9, -1e9};
  for (size_t i = 0; i < p->n; i++) {
    if (!p->gw[i].timed || !p->gw[i].active) continue;
    idx[nt++] = i;
    bx.lat_lo = fmin(bx.lat_lo, rx[i].lat_deg);
    bx.lat_hi = fmax(bx.lat_hi, rx[i].lat_deg);
    /* Longitudes relative to the frame origin, so the antimeridian is no edge. */
    double dl = remainder(rx[i].lon_deg - p->frame.origin.lon_deg, 360.0);
    bx.lon_lo = fmin(bx.lon_lo, dl);
    bx.lon_hi = fmax(bx.lon_hi, dl);
  }
  if (nt < 3) return LG_EINVAL;
  /* The area delimited by the gateways, widened by a fifth on each side (fig. 5.7). */
  double dlat = (bx.lat_hi - bx.lat_lo) * 0.2 + 0.002, dlon = (bx.lon_hi - bx.lon_lo) * 0.2 + 0.002;
  bx.lat_lo = fmax(bx.lat_lo - dlat, -90.0);
  bx.lat_hi = fmin(bx.lat_hi + dlat, 90.0);
  bx.lon_lo -= dlon;
  bx.lon_hi += dlon;
  /* A device outside that area (three gateways on one side of it) has its least error on
   * the area's border, a kilometre from it on the thesis site: the box then moves to be
   * centred on that node and the search runs again, while the node stays within the region
   * the gateways can hear (problem.c's prior) and for at most GRID_MOVES moves. Only when
   * the times disagree with the border node by more than their noise explains (three times
   * the mean |error| of eq. 4.25's sum under it): with microsecond timing the border holds
   * the fix where the noise would carry it kilometres away (the thesis site's mean errors
   * rose by 20-60 % when the area always moved). */
  double var = 0;
  for (size_t k = 0; k < nt; k++)
    var += p->gw[idx[k]].sigma_m * p->gw[idx[k]].sigma_m;
  double noise_l1 = (double)(nt - 1) * sqrt(2.0 * var / (double)nt) * sqrt(2.0 / LG_PI);
  double best_lat = 0, best_lon = 0;
  for (int move = 0;; move++) {
    bool edge;
    double least;
    int rc = search_box(p, rx, idx, nt, &bx, &best_lat, &best_lon, &least, &edge);
    if (rc) return rc;
    struct lg_geodetic g = {best_lat, best_lon, p->device_alt_m};
    double enu[3];
    lg_enu_from_geodetic(&p->frame, &g, enu);
    xy[0] = enu[0];
    xy[1] = enu[1];
    bool inside = hypot(enu[0] - p->prior_center[0], enu[1] - p->prior_center[1]) <= p->prior_sigma_m;
    if (!edge || !inside || move == GRID_MOVES || !(least > 3 * noise_l1)) break;
    double half_lat = 0.5 * (bx.lat_hi - bx.lat_lo), half_lon = 0.5 * (bx.lon_hi - bx.lon_lo);
    double lon_rel = remainder(best_lon - p->frame.origin.lon_deg, 360.0);
    bx = (struct box){fmax(best_lat - half_lat, -90.0), fmin(best_lat + half_lat, 90.0),
                      lon_rel - half_lon, lon_rel + half_lon};
  }
  return 0;
}
