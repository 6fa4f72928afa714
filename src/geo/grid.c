/*
 * The thesis' iterative algorithm (§4.6.2, eq. 4.19-4.25), reproduced: a latitude /
 * longitude grid over the gateways' area; at every node the haversine distances to the
 * gateways; for each reference gateway r the error sum_i |(d_r - d_i) - c (t_r - t_i)|;
 * the node of least error per reference, and the reference of least error overall.
 * It is kept for comparison with the thesis (its 2D haversine distances ignore heights)
 * and as a brute-force cross-check of `nls`.
 */
#include <math.h>
#include <stdlib.h>

#include "geo/problem.h"
#include "util/util.h"

#define GRID_MAX_NODES 4000000 /* the step grows past this, bounding the work */
#define GRID_MAX_SIDE  4096

int geo_grid_search(const struct geo_problem *p, const struct lg_geo_rx *rx, double xy[2]) {
  size_t idx[LG_GEO_MAX_RX], nt = 0;
  double lat_lo = 90, lat_hi = -90, lon_lo = 1e9, lon_hi = -1e9;
  for (size_t i = 0; i < p->n; i++) {
    if (!p->gw[i].timed || !p->gw[i].active) continue;
    idx[nt++] = i;
    lat_lo = fmin(lat_lo, rx[i].lat_deg);
    lat_hi = fmax(lat_hi, rx[i].lat_deg);
    /* Longitudes relative to the frame origin, so the antimeridian is no edge. */
    double dl = remainder(rx[i].lon_deg - p->frame.origin.lon_deg, 360.0);
    lon_lo = fmin(lon_lo, dl);
    lon_hi = fmax(lon_hi, dl);
  }
  if (nt < 3) return LG_EINVAL;
  /* The area delimited by the gateways, widened by a fifth on each side (fig. 5.7). */
  double dlat = (lat_hi - lat_lo) * 0.2 + 0.002, dlon = (lon_hi - lon_lo) * 0.2 + 0.002;
  lat_lo = fmax(lat_lo - dlat, -90.0);
  lat_hi = fmin(lat_hi + dlat, 90.0);
  lon_lo -= dlon;
  lon_hi += dlon;
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
  double best_err = INFINITY, best_lat = 0, best_lon = 0;
  double dist[LG_GEO_MAX_RX], row_s[LG_GEO_MAX_RX], row_c[LG_GEO_MAX_RX], row_r[LG_GEO_MAX_RX];
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
        dist[k] = row_r[k] * 2.0 * asin(sqrt(h));
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
          best_lat = lat;
          best_lon = p->frame.origin.lon_deg + lon_lo + step_lon * (double)b;
        }
      }
    }
  }
  free(col);
  struct lg_geodetic g = {best_lat, best_lon, p->device_alt_m};
  double enu[3];
  lg_enu_from_geodetic(&p->frame, &g, enu);
  xy[0] = enu[0];
  xy[1] = enu[1];
  return 0;
}
