/*
 * `solve`'s engine: locating a stream of `solve` records (design.md, "solve records"),
 * for `lorageo solve` and anything else that has records to locate. The records
 * themselves are in solve/records.h, the per-device aggregation in solve/devices.h.
 */
#ifndef LG_SOLVE_SOLVE_H
#define LG_SOLVE_SOLVE_H

#include <stdbool.h>
#include <stdio.h>

#include "geo/geo.h"
#include "solve/devices.h"

struct lg_solve_args {
  bool sigma_given;         /* the timing noise is known (opts.sigma_ns): no pilot */
  double timing_sigma_ns;   /* set by the pilot when it measured the noise (0: not) */
  bool nlos_given;          /* the reflection model is given (opts.nlos_*): not learned */
  bool nlos_learned;        /* the pilot learned it (into opts.nlos_share, nlos_delay_ns) */
  bool per_device, track;   /* in order, in the calling thread */
  enum lg_device_mode mode; /* --per-device's */
  double alpha;             /* --per-device's GESD significance */
  long threads;             /* worker threads, 1..64 */
  struct lg_geo_opts opts;
  struct lg_calibration *cal; /* applied to every record; NULL: none */
};

/* Locates every record of `in`, a line of output each to `to`, then the summary line
 * when records carried truth. 0; LG_ENOMEM (memory, or no worker thread could start);
 * LG_EIO when the output could not be written. */
int lg_solve_run(struct lg_solve_args *a, FILE *in, FILE *to);

#endif
