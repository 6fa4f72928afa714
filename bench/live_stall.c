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
#include "live_site.h"

static struct live_site site;

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  size_t max_points = argc > 1 ? (size_t)atol(argv[1]) : 5000;
  size_t refs = argc > 2 ? (size_t)atol(argv[2]) : 11000;
  if (max_points < 100 || refs <= max_points) {
    fprintf(stderr, "usage: live_stall [max_points >= 100 [references > max_points]]\n");
    return 2;
  }
  live_site_init(&site, 0x5a11ull);
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
  double worst_fill = 0, t_start = live_site_now_s();
  for (size_t i = 0; i < refs; i++) {
    live_site_frame(&site, &truth[i], rx[i], 20, 0);
    double t0 = live_site_now_s();
    (void)lg_geo_live_reference(l, s, rx[i], 6, &truth[i], &o);
    double dt = live_site_now_s() - t0;
    if (i >= max_points)
      full[n_full++] = dt;
    else if (dt > worst_fill)
      worst_fill = dt;
  }
  double total = live_site_now_s() - t_start;
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
         live_site_rebuild_s(truth + first, rx + first, max_points, false) * 1e3,
         live_site_rebuild_s(truth + first, rx + first, max_points, true) * 1e3);
  char why[256] = "";
  lg_geo_live_wait_idle(l);
  double t0 = live_site_now_s();
  int rc = lg_geo_live_save_soon(l, "/tmp/live_stall.json", why, sizeof(why));
  printf("lg_geo_live_save_soon (the periodic save; rebuilds write the map file): %.2f ms%s%s\n",
         (live_site_now_s() - t0) * 1e3, rc ? ", failed: " : "", why);
  t0 = live_site_now_s();
  rc = lg_geo_live_save(l, "/tmp/live_stall.json", why, sizeof(why));
  printf("lg_geo_live_save (at stop: builds the map here): %.0f ms%s%s\n",
         (live_site_now_s() - t0) * 1e3, rc ? ", failed: " : "", why);
  remove("/tmp/live_stall.json");
  remove("/tmp/live_stall.json.radiomap.json");
  t0 = live_site_now_s();
  lg_geo_live_free(l);
  printf("lg_geo_live_free: %.1f ms\n", (live_site_now_s() - t0) * 1e3);
  lg_geo_solver_free(s);
  free(full);
  free(rx);
  free(truth);
  return 0;
}
