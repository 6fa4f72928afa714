/*
 * The offline run: the engine with the in-process network, a progress line on stderr,
 * and the outputs.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/sim_int.h"
#include "util/util.h"

static double wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int lg_sim_run(const struct lg_sim_scenario *sc, const struct lg_sim_options *o,
               char **summary_json, char *why, size_t why_len) {
  struct sim s;
  *summary_json = NULL;
  int rc = sim_init(&s, sc, (struct sim_network){NULL, sim_offline_uplink, NULL});
  if (rc) {
    snprintf(why, why_len, "out of memory setting up %zu devices", s.n_dev);
    sim_free(&s);
    return rc;
  }
  if (o->out_dir && (rc = sim_outputs_open(&s, o->out_dir, o->transmissions, why, why_len))) {
    sim_free(&s);
    return rc;
  }
  double t0 = wall_s(), last = t0;
  const int64_t slice = 60LL * 1000000000LL; /* one simulated minute between progress checks */
  for (int64_t t = slice;; t += slice) {
    bool more = sim_run_until(&s, t < sc->duration_ns ? t : sc->duration_ns + 10LL * 1000000000LL);
    double now = wall_s();
    if (o->progress && now - last >= 2) {
      last = now;
      fprintf(stderr, "sim: %5.1f%%  %.2f h simulated  %llu transmissions  %.0f/s\n",
              100.0 * (double)(t < sc->duration_ns ? t : sc->duration_ns) / (double)sc->duration_ns,
              (double)t / 3.6e12, (unsigned long long)s.tot.tx, (double)s.tot.tx / (now - t0));
    }
    if (!more || t >= sc->duration_ns + 10LL * 1000000000LL) break;
  }
  double wall = wall_s() - t0;
  sim_finish(&s);
  *summary_json = sim_summary(&s);
  if (o->progress)
    fprintf(stderr, "sim: done: %llu transmissions in %.2f s wall (%.0f/s)\n",
            (unsigned long long)s.tot.tx, wall, (double)s.tot.tx / (wall > 0 ? wall : 1e-9));
  rc = sim_outputs_close(&s, o->out_dir, o->plots, *summary_json ? *summary_json : "{}", why,
                         why_len);
  sim_free(&s);
  return rc;
}
