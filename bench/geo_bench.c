/*
 * Geolocation benchmark: fixes per second and median latency per method for 4, 8 and
 * 16 gateways, on seeded random layouts with 50 ns timing noise (and RSSI for `rssi`).
 * Also prints the accuracy reached (median error) so speed is never bought with it.
 * Target (issue 4): nls <= 20 us median per 4-gateway fix.
 * Usage: geo_bench [fixes per case, default 20000]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "lg_rng.h"
#include <time.h>

#include "geo/geo.h"

static struct lg_rng rng = {0x2545f4914f6cdd1dull};
static double uniform(void) {
  return lg_rng_uniform(&rng);
}
static double gauss(void) {
  return lg_rng_gauss(&rng);
}
static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

struct frame {
  struct lg_geodetic dev;
  struct lg_geo_rx rx[16];
};

static void make_frame(struct frame *f, size_t n) {
  struct lg_geodetic origin = {55.78, 12.46, 0};
  struct lg_enu_frame fr;
  lg_enu_init(&fr, &origin);
  double r = 3000 * sqrt(uniform()), th = 2 * LG_PI * uniform();
  double de[3] = {r * cos(th), r * sin(th), 0};
  lg_enu_to_geodetic(&fr, de, &f->dev);
  f->dev.alt_m = 0;
  double dx[3];
  lg_geo_to_ecef(&f->dev, dx);
  struct lg_pathloss pl = lg_pathloss_default();
  for (size_t i = 0; i < n; i++) {
    double rr = 6000 * sqrt(uniform()), tt = 2 * LG_PI * uniform();
    double enu[3] = {rr * cos(tt), rr * sin(tt), 30 * uniform()};
    struct lg_geodetic g;
    lg_enu_to_geodetic(&fr, enu, &g);
    double e[3];
    lg_geo_to_ecef(&g, e);
    double d = sqrt(pow(e[0] - dx[0], 2) + pow(e[1] - dx[1], 2) + pow(e[2] - dx[2], 2));
    f->rx[i] = (struct lg_geo_rx){.lat_deg = g.lat_deg,
                                  .lon_deg = g.lon_deg,
                                  .alt_m = g.alt_m,
                                  .has_time = true,
                                  .time_ns = 1790000000000000000LL +
                                             llround(d / LG_GEO_C_MPS * 1e9 + 50 * gauss()),
                                  .has_rssi = true,
                                  .rssi_dbm = lg_pathloss_rssi(&pl, d) + pl.sigma_db * gauss()};
  }
}

int main(int argc, char **argv) {
  int count = argc > 1 ? atoi(argv[1]) : 20000;
  if (count < 10) count = 10;
  struct lg_geo_solver *s = lg_geo_solver_new();
  struct frame *frames = malloc((size_t)count * sizeof(*frames));
  double *lat = malloc((size_t)count * sizeof(double)),
         *err = malloc((size_t)count * sizeof(double));
  static const enum lg_geo_method methods[] = {LG_GEO_NLS, LG_GEO_LLS, LG_GEO_RSSI, LG_GEO_HYBRID};
  static const size_t sizes[] = {4, 8, 16};
  printf("geo_bench: %d fixes per case, 50 ns timing noise, 7.8 dB shadowing\n", count);
  printf("%-7s %3s %12s %12s %12s %12s %8s\n", "method", "gw", "fixes/s", "median_us", "p99_us",
         "median_err_m", "refused");
  for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
    for (int i = 0; i < count; i++)
      make_frame(&frames[i], sizes[si]);
    for (size_t mi = 0; mi < sizeof(methods) / sizeof(methods[0]); mi++) {
      struct lg_geo_opts o = lg_geo_opts_default();
      o.method = methods[mi];
      int ok = 0;
      int64_t t_all = now_ns();
      for (int i = 0; i < count; i++) {
        struct lg_geo_fix fix;
        int64_t t0 = now_ns();
        int rc = lg_geo_solve(s, frames[i].rx, sizes[si], &o, &fix, NULL, 0);
        lat[i] = (double)(now_ns() - t0) / 1e3;
        err[i] = rc == 0 ? lg_geo_distance_m(fix.lat_deg, fix.lon_deg, frames[i].dev.lat_deg,
                                             frames[i].dev.lon_deg)
                         : 1e9;
        ok += rc == 0;
      }
      double secs = (double)(now_ns() - t_all) / 1e9;
      qsort(lat, (size_t)count, sizeof(double), cmp);
      qsort(err, (size_t)count, sizeof(double), cmp);
      printf("%-7s %3zu %12.0f %12.2f %12.2f %12.1f %8d\n", lg_geo_method_name(methods[mi]),
             sizes[si], count / secs, lat[count / 2], lat[count * 99 / 100], err[count / 2],
             count - ok);
    }
  }
  free(frames);
  free(lat);
  free(err);
  lg_geo_solver_free(s);
  return 0;
}
