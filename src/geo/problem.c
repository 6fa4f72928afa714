/*
 * Preparing a frame for the solvers: receptions in a local east-north-up frame centred
 * on the gateways, times as metres relative to the earliest one (differences of int64
 * ns, so no precision is lost to the epoch), and the weak prior that keeps a fix
 * inside the region the gateways can hear.
 */
#include <math.h>
#include <string.h>

#include "geo/problem.h"
#include "util/util.h"

/* The methods' names, as `solve --method` and the records say them. */
static const char *const method_names[] = {"auto",   "nls",         "lls", "grid",    "rssi",
                                           "hybrid", "fingerprint", "knn", "centroid"};

const char *lg_geo_method_name(enum lg_geo_method m) {
  return (unsigned)m < LG_ARRAY_LEN(method_names) ? method_names[m] : "unknown";
}

int lg_geo_method_parse(const char *name, enum lg_geo_method *m) {
  for (size_t i = 0; i < LG_ARRAY_LEN(method_names); i++)
    if (strcmp(name, method_names[i]) == 0) {
      *m = (enum lg_geo_method)i;
      return 0;
    }
  return LG_EINVAL;
}

/* Co-located antennas (within this) are one place: their times say nothing new about
 * where the device is, and counting them twice would claim geometry that is not there. */
#define COLOCATED_M 1.0

/* Folds reception i into an earlier one of the same gateway (same name) or at the same
 * place: the pair counts once, with the earlier time (a later copy is a reflection or a
 * retransmission) and the stronger RSSI. */
static void merge_duplicate(struct geo_problem *p, const struct lg_geo_rx *rx, size_t i,
                            const double (*ecef)[3]) {
  for (size_t j = 0; j < i; j++) {
    struct geo_gw *a = &p->gw[j], *b = &p->gw[i];
    if (a->duplicate) continue;
    bool same_name = rx[i].name && rx[j].name && strcmp(rx[i].name, rx[j].name) == 0;
    double d2 = 0;
    for (int k = 0; k < 3; k++)
      d2 += (ecef[i][k] - ecef[j][k]) * (ecef[i][k] - ecef[j][k]);
    if (!same_name && d2 > COLOCATED_M * COLOCATED_M) continue;
    if (b->timed && (!a->timed || b->toa_m < a->toa_m)) {
      if (!a->timed) p->n_timed++;
      a->timed = true;
      a->toa_m = b->toa_m;
      a->sigma_m = b->sigma_m;
    }
    if (b->has_rssi && (!a->has_rssi || b->rssi_dbm > a->rssi_dbm)) {
      if (!a->has_rssi) p->n_rssi++;
      a->has_rssi = true;
      a->rssi_dbm = b->rssi_dbm;
    }
    if (b->timed) p->n_timed--;
    if (b->has_rssi) p->n_rssi--;
    b->timed = b->has_rssi = b->active = false;
    b->duplicate = true;
    p->n_duplicates++;
    return;
  }
}

int geo_problem_init(struct geo_problem *p, const struct lg_geo_rx *rx, size_t n,
                     const struct lg_geo_opts *o) {
  memset(p, 0, sizeof(*p));
  if (n > LG_GEO_MAX_RX) return LG_ETOOLONG;
  if (n == 0) return LG_EINVAL;
  double sum[3] = {0, 0, 0}, ecef[LG_GEO_MAX_RX][3];
  int64_t t_min = INT64_MAX;
  for (size_t i = 0; i < n; i++) {
    if (!(fabs(rx[i].lat_deg) <= 90.0) || !(fabs(rx[i].lon_deg) <= 360.0) ||
        !(fabs(rx[i].alt_m) < 1e5))
      return LG_EINVAL;
    if (rx[i].has_ecef) {
      memcpy(ecef[i], rx[i].ecef, sizeof(ecef[i]));
    } else {
      struct lg_geodetic g = {rx[i].lat_deg, rx[i].lon_deg, rx[i].alt_m};
      lg_geo_to_ecef(&g, ecef[i]);
    }
    for (int k = 0; k < 3; k++)
      sum[k] += ecef[i][k];
    if (rx[i].has_time && rx[i].time_ns < t_min) t_min = rx[i].time_ns;
  }
  double mean[3] = {sum[0] / (double)n, sum[1] / (double)n, sum[2] / (double)n};
  struct lg_geodetic origin;
  lg_geo_from_ecef(mean, &origin);
  origin.alt_m = o->device_alt_m;
  lg_enu_init(&p->frame, &origin);

  double spread = 0.0;
  bool sigma_all = true;
  for (size_t i = 0; i < n; i++) {
    struct geo_gw *g = &p->gw[i];
    lg_enu_from_ecef(&p->frame, ecef[i], g->enu);
    spread = fmax(spread, sqrt(g->enu[0] * g->enu[0] + g->enu[1] * g->enu[1]));
    g->timed = rx[i].has_time;
    if (g->timed) {
      /* Receptions more than 1 s apart are not one frame's: reject them. */
      int64_t dt = rx[i].time_ns - t_min;
      if (dt > 1000000000LL) return LG_EINVAL;
      g->toa_m = (double)dt * 1e-9 * LG_GEO_C_MPS;
      double s = rx[i].sigma_ns > 0 ? rx[i].sigma_ns : o->sigma_ns;
      g->sigma_m = s * 1e-9 * LG_GEO_C_MPS;
      p->n_timed++;
    }
    g->has_rssi = rx[i].has_rssi && isfinite(rx[i].rssi_dbm);
    g->rssi_dbm = rx[i].rssi_dbm;
    if (g->has_rssi) p->n_rssi++;
    g->active = true;
    if (g->timed && !(rx[i].sigma_ns > 0)) sigma_all = false;
    merge_duplicate(p, rx, i, ecef);
  }
  p->sigma_known = p->n_timed > 0 && sigma_all;
  p->n = n;
  p->opts = o;
  p->fix_alt = !o->solve_altitude;
  p->device_alt_m = o->device_alt_m;
  p->rssi_sigma_db = o->pathloss.sigma_db > 0 ? o->pathloss.sigma_db : 8.0;
  p->sigma_ref_m = o->sigma_ns * 1e-9 * LG_GEO_C_MPS;
  /* LoRa reaches ~15 km beyond its gateways. A fit that lands farther out is refitted
   * with a weak Gaussian prior of this width around the gateways (solver.c). */
  p->prior_center[0] = p->prior_center[1] = 0.0;
  p->prior_sigma_m = spread + 15000.0;
  p->up0 = geo_device_up(p, 0.0, 0.0);
  return 0;
}

double geo_device_up(const struct geo_problem *p, double e, double n) {
  /* The frame's origin sits at the device height; the ellipsoid drops away from the
   * tangent plane by about d^2 / 2R. One correction step is exact to well under 1 mm
   * within 100 km. */
  double enu[3] = {e, n, 0.0};
  struct lg_geodetic g;
  lg_enu_to_geodetic(&p->frame, enu, &g);
  return enu[2] + (p->device_alt_m - g.alt_m);
}
