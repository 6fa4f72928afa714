/*
 * The link map's cost (issue 20 item 3): learning, a law's lookup, the copy the server's
 * packet thread takes every 1,000 learned uplinks and the save a worker then runs, and
 * the load at start, for a city's worth of
 * links (2,000, about what scenarios/adr-city.json learns) and a full map (65,536, the
 * server's cap). Prints one JSON line per size.
 * Usage: linkmap_bench [DIR]   (the file is written there; default /tmp)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "adr/adr.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  static const size_t sizes[] = {2000, 65536};
  for (size_t s = 0; s < 2; s++) {
    size_t want = sizes[s];
    struct lg_linkmap *m = lg_linkmap_new(250, 65536);
    if (m == NULL) return 1;
    /* 16 gateways; cells on a square around the origin, 20 observations each */
    size_t side = (size_t)ceil(sqrt((double)want / 16));
    double t0 = now_s();
    size_t obs = 0;
    for (uint64_t g = 0; g < 16; g++)
      for (size_t i = 0; i < side * side && lg_linkmap_size(m, NULL) < want; i++)
        for (int k = 0; k < 20; k++, obs++) {
          double e = 250.0 * (double)(i % side) + 10, n = 250.0 * (double)(i / side) + 10;
          if (k % 4 == 3)
            lg_linkmap_missed(m, g, e, n, -150);
          else
            lg_linkmap_heard(m, g, e, n, -140 + k % 7);
        }
    double learn = now_s() - t0;
    t0 = now_s();
    double mu, sg;
    size_t found = 0, asks = 0;
    for (int rep = 0; rep < 2; rep++) /* the first fits, the second reads the fit */
      for (uint64_t g = 0; g < 16; g++)
        for (size_t i = 0; i < side * side; i++, asks++)
          found += lg_linkmap_law(m, g, 250.0 * (double)(i % side) + 10, 250.0 * (double)(i / side) + 10, &mu, &sg);
    double law = now_s() - t0;
    char path[512], why[300];
    snprintf(path, sizeof(path), "%s/linkmap_bench.adr.json", dir);
    const double origin[2] = {55.78, 12.51};
    t0 = now_s();
    if (lg_linkmap_save(m, origin, path, why, sizeof(why)) != 0) return fprintf(stderr, "%s\n", why), 1;
    double save = now_s() - t0;
    FILE *f = fopen(path, "rb");
    long bytes = 0;
    if (f && fseek(f, 0, SEEK_END) == 0) bytes = ftell(f);
    if (f) fclose(f);
    struct lg_linkmap *back = NULL;
    double o2[2];
    t0 = now_s();
    if (lg_linkmap_load(path, 65536, &back, o2, why, sizeof(why)) != 0) return fprintf(stderr, "%s\n", why), 1;
    double load = now_s() - t0;
    t0 = now_s();
    struct lg_linkmap *copy = lg_linkmap_clone(m); /* what the server's packet thread does */
    double clone = now_s() - t0;
    if (copy == NULL) return 1;
    lg_linkmap_free(copy);
    printf("{\"links\": %zu, \"observations\": %zu, \"learn_ns_per_obs\": %.0f, \"law_ns\": %.0f, "
           "\"laws_found\": %zu, \"save_ms\": %.2f, \"file_bytes\": %ld, \"load_ms\": %.2f, "
           "\"loaded\": %zu, \"clone_ms\": %.2f}\n",
           lg_linkmap_size(m, NULL), obs, learn / (double)obs * 1e9, law / (double)asks * 1e9, found,
           save * 1e3, bytes, load * 1e3, lg_linkmap_size(back, NULL), clone * 1e3);
    remove(path);
    lg_linkmap_free(back);
    lg_linkmap_free(m);
  }
  return 0;
}
