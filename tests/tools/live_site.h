/*
 * The synthetic site of the live-learning test and benchmark (test_geo_live.c,
 * bench/live_stall.c): six gateways on a 3 km ring, 20 m up; reference frames from random
 * spots within 2 km, times with Gaussian noise (one gateway optionally offset), RSSI from
 * the Oulu path-loss model plus a smooth field fixed per gateway. Header-only, seeded.
 */
#ifndef LG_TEST_LIVE_SITE_H
#define LG_TEST_LIVE_SITE_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "geo/geo.h"
#include "lg_rng.h"

struct live_site {
  struct lg_rng rng;
  struct lg_geodetic origin, gw[6];
  char gw_name[6][8];
};

static inline void live_site_init(struct live_site *s, uint64_t seed) {
  s->rng.s = seed;
  s->origin = (struct lg_geodetic){55.78, 12.46, 0};
  struct lg_enu_frame fr;
  lg_enu_init(&fr, &s->origin);
  for (int i = 0; i < 6; i++) {
    double th = 2 * LG_PI * i / 6.0, enu[3] = {3000 * cos(th), 3000 * sin(th), 20};
    lg_enu_to_geodetic(&fr, enu, &s->gw[i]);
    snprintf(s->gw_name[i], sizeof(s->gw_name[i]), "gw%d", i);
  }
}

/* One frame heard by all six: the device's true position in *dev, the receptions in rx
 * (named gw0..gw5; gateway 2's time late by offset_ns). */
static inline void live_site_frame(struct live_site *s, struct lg_geodetic *dev,
                                   struct lg_geo_rx *rx, double sigma_ns, double offset_ns) {
  struct lg_enu_frame fr;
  lg_enu_init(&fr, &s->origin);
  double r = 2000 * sqrt(lg_rng_uniform(&s->rng)), th = 2 * LG_PI * lg_rng_uniform(&s->rng);
  double de[3] = {r * cos(th), r * sin(th), 0};
  lg_enu_to_geodetic(&fr, de, dev);
  dev->alt_m = 0;
  double dx[3];
  lg_geo_to_ecef(dev, dx);
  struct lg_pathloss pl = lg_pathloss_default();
  for (int i = 0; i < 6; i++) {
    double e[3];
    lg_geo_to_ecef(&s->gw[i], e);
    double d = sqrt(pow(e[0] - dx[0], 2) + pow(e[1] - dx[1], 2) + pow(e[2] - dx[2], 2));
    double t = d / LG_GEO_C_MPS * 1e9 + sigma_ns * lg_rng_gauss(&s->rng) + (i == 2 ? offset_ns : 0);
    double field = 6 * sin(de[0] / 300.0 + i) * cos(de[1] / 400.0 - i);
    rx[i] = (struct lg_geo_rx){.lat_deg = s->gw[i].lat_deg, .lon_deg = s->gw[i].lon_deg,
                               .alt_m = s->gw[i].alt_m, .has_time = true,
                               .time_ns = 1790000000000000000LL + llround(t), .has_rssi = true,
                               .rssi_dbm = round(lg_pathloss_rssi(&pl, d) + field),
                               .name = s->gw_name[i]};
  }
}

static inline double live_site_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* What a rebuild at n points costs by itself (lg_geo_live_build_map, what the worker
 * runs), in seconds. */
static inline double live_site_rebuild_s(const struct lg_geodetic *truth,
                                         struct lg_geo_rx (*rx)[6], size_t n, bool choose) {
  size_t *first = malloc(n * sizeof(*first)), *count = malloc(n * sizeof(*count));
  for (size_t i = 0; first && count && i < n; i++)
    first[i] = 6 * i, count[i] = 6;
  struct lg_fp_params p = lg_fp_params_default();
  struct lg_radio_map *m = NULL;
  bool chosen;
  double t0 = live_site_now_s();
  if (first && count)
    lg_geo_live_build_map(truth, &rx[0][0], first, count, n, choose, &p, &chosen, &m);
  double t = live_site_now_s() - t0;
  lg_radio_map_free(m);
  free(first);
  free(count);
  return t;
}

#endif
