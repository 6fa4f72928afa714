/*
 * live_stall: how long the packet thread's lg_geo_live_reference() call takes while the
 * live radio map is rebuilt at max_points (issue 15: the packet path never stalls).
 *
 * Six gateways on a 3 km ring, reference frames from random spots within 2 km (times
 * with 20 ns noise, RSSI from the Oulu model with a fixed field per gateway), fed one
 * after another as the packet thread would. Once the ring holds max_points, a rebuild
 * is due every fifth of them; the program prints the longest call and the percentiles
 * of the calls from then on, and, for scale, the rebuild's own cost on the same points
 * (the fingerprint builder, cross-validation and the build, timed directly), and the two
 * saves: the periodic one (lg_geo_live_save_soon, what the packet thread pays; the worker's
 * rebuilds write the map file, as in a server) and the one at stop. Deterministic frames (fixed seed); the times are the machine's.
 *
 *   live_stall [max_points [references]]     (5000, 11000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "geo/geo.h"
#include "lg_rng.h"

static struct lg_rng rng = {0x5a11ull};
static const struct lg_geodetic origin = {55.78, 12.46, 0};
static struct lg_geodetic gw[6];
static char gw_name[6][8];

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void frame(struct lg_geodetic *dev, struct lg_geo_rx *rx) {
  struct lg_enu_frame fr;
  lg_enu_init(&fr, &origin);
  double r = 2000 * sqrt(lg_rng_uniform(&rng)), th = 2 * LG_PI * lg_rng_uniform(&rng);
  double de[3] = {r * cos(th), r * sin(th), 0};
  lg_enu_to_geodetic(&fr, de, dev);
  dev->alt_m = 0;
  double dx[3];
  lg_geo_to_ecef(dev, dx);
  struct lg_pathloss pl = lg_pathloss_default();
  for (int i = 0; i < 6; i++) {
    double e[3];
    lg_geo_to_ecef(&gw[i], e);
    double d = sqrt(pow(e[0] - dx[0], 2) + pow(e[1] - dx[1], 2) + pow(e[2] - dx[2], 2));
    double t = d / LG_GEO_C_MPS * 1e9 + 20 * lg_rng_gauss(&rng);
    double field = 6 * sin(de[0] / 300.0 + i) * cos(de[1] / 400.0 - i);
    rx[i] = (struct lg_geo_rx){.lat_deg = gw[i].lat_deg, .lon_deg = gw[i].lon_deg,
                               .alt_m = gw[i].alt_m, .has_time = true,
                               .time_ns = 1790000000000000000LL + llround(t), .has_rssi = true,
                               .rssi_dbm = round(lg_pathloss_rssi(&pl, d) + field),
                               .name = gw_name[i]};
  }
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* What a rebuild at n points costs by itself (lg_geo_live_build_map, what the worker runs). */
static double rebuild_s(const struct lg_geodetic *truth, struct lg_geo_rx (*rx)[6], size_t n,
                        bool choose) {
  size_t *first = malloc(n * sizeof(*first)), *count = malloc(n * sizeof(*count));
  for (size_t i = 0; first && count && i < n; i++)
    first[i] = 6 * i, count[i] = 6;
  struct lg_fp_params p = lg_fp_params_default();
  struct lg_radio_map *m = NULL;
  bool chosen;
  double t0 = now_s();
  if (first && count)
    lg_geo_live_build_map(truth, &rx[0][0], first, count, n, choose, &p, &chosen, &m);
  double t = now_s() - t0;
  lg_radio_map_free(m);
  free(first);
  free(count);
  return t;
}

int main(int argc, char **argv) {
  size_t max_points = argc > 1 ? (size_t)atol(argv[1]) : 5000;
  size_t refs = argc > 2 ? (size_t)atol(argv[2]) : 11000;
  if (max_points < 100 || refs <= max_points) {
    fprintf(stderr, "usage: live_stall [max_points >= 100 [references > max_points]]\n");
    return 2;
  }
  struct lg_enu_frame fr;
  lg_enu_init(&fr, &origin);
  for (int i = 0; i < 6; i++) {
    double th = 2 * LG_PI * i / 6.0, enu[3] = {3000 * cos(th), 3000 * sin(th), 20};
    lg_enu_to_geodetic(&fr, enu, &gw[i]);
    snprintf(gw_name[i], sizeof(gw_name[i]), "gw%d", i);
  }
  struct lg_geo_live_opts lo = lg_geo_live_opts_default();
  lo.max_points = max_points;
  struct lg_geo_live *l = lg_geo_live_new(&lo);
  lg_geo_live_set_save_path(l, "/tmp/live_stall.json"); /* as a server: each rebuild saved */
  struct lg_geo_solver *s = lg_geo_solver_new();
  struct lg_geodetic *truth = malloc(refs * sizeof(*truth));
  struct lg_geo_rx(*rx)[6] = malloc(refs * sizeof(*rx));
  double *full = malloc(refs * sizeof(double)); /* calls once the ring is full */
  if (!l || !s || !truth || !rx || !full) return 1;
  struct lg_geo_opts o = lg_geo_opts_default();
  o.sigma_ns = 20;
  size_t n_full = 0;
  double worst_fill = 0, t_start = now_s();
  for (size_t i = 0; i < refs; i++) {
    frame(&truth[i], rx[i]);
    double t0 = now_s();
    (void)lg_geo_live_reference(l, s, rx[i], 6, &truth[i], &o);
    double dt = now_s() - t0;
    if (i >= max_points)
      full[n_full++] = dt;
    else if (dt > worst_fill)
      worst_fill = dt;
  }
  double total = now_s() - t_start;
  qsort(full, n_full, sizeof(double), cmp_dbl);
  size_t over = 0;
  for (size_t i = 0; i < n_full; i++)
    over += full[i] > 0.1;
  printf("live_stall: %zu reference frames, max_points %zu, %.1f s in all\n", refs, max_points,
         total);
  printf("filling (< %zu points): longest call %.1f ms\n", max_points, worst_fill * 1e3);
  printf("full (%zu calls, %zu rebuilds due): longest %.1f ms, p99.9 %.2f ms, p99 %.2f ms, "
         "median %.3f ms, %zu calls over 100 ms\n",
         n_full, n_full / (max_points / 5), full[n_full - 1] * 1e3,
         full[(size_t)(0.999 * (double)(n_full - 1))] * 1e3,
         full[(size_t)(0.99 * (double)(n_full - 1))] * 1e3, full[(n_full - 1) / 2] * 1e3, over);
  size_t first = refs - max_points;
  printf("the rebuild itself at %zu points: %.0f ms (radii), %.0f ms (choosing)\n", max_points,
         rebuild_s(truth + first, rx + first, max_points, false) * 1e3,
         rebuild_s(truth + first, rx + first, max_points, true) * 1e3);
  char why[256] = "";
  lg_geo_live_wait_idle(l);
  double t0 = now_s();
  int rc = lg_geo_live_save_soon(l, "/tmp/live_stall.json", why, sizeof(why));
  printf("lg_geo_live_save_soon (the periodic save; rebuilds write the map file): %.2f ms%s%s\n",
         (now_s() - t0) * 1e3, rc ? ", failed: " : "", why);
  t0 = now_s();
  rc = lg_geo_live_save(l, "/tmp/live_stall.json", why, sizeof(why));
  printf("lg_geo_live_save (at stop: builds the map here): %.0f ms%s%s\n",
         (now_s() - t0) * 1e3, rc ? ", failed: " : "", why);
  remove("/tmp/live_stall.json");
  remove("/tmp/live_stall.json.radiomap.json");
  t0 = now_s();
  lg_geo_live_free(l);
  printf("lg_geo_live_free: %.1f ms\n", (now_s() - t0) * 1e3);
  lg_geo_solver_free(s);
  free(full);
  free(rx);
  free(truth);
  return 0;
}
