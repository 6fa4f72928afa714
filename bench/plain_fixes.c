/*
 * plain_fixes: every `solve` record located by plain, unweighted least squares (one
 * frame: position and emission time, every timed reception weighted alike, no outlier
 * test), the baseline issue 14 measures the solvers against. It runs the geo library's
 * joint solver on one frame with its robust weights off (lg_joint_opts.robust), so the
 * comparison in bench/legacy_timing.sh shares the model, the geodesy and the stopping
 * rule with the method it judges.
 * Usage: plain_fixes < RECORDS > FIXES   ({"id", "device", "lat", "lon", "error_m"} lines)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solve/records.h"
#include "geo/geo.h"

int main(void) {
  struct lg_record *r = malloc(sizeof(*r));
  char *line = NULL, why[256];
  size_t cap = 0;
  ssize_t len;
  long failed = 0;
  if (r == NULL) return 1;
  struct lg_joint_opts o = lg_joint_opts_default();
  o.robust = false;
  while ((len = getline(&line, &cap, stdin)) != -1) {
    if (lg_record_parse(line, (size_t)len, r, why, sizeof(why))) continue;
    struct lg_joint_gateway gw[LG_GEO_MAX_RX];
    struct lg_joint_obs obs[LG_GEO_MAX_RX];
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
      if (!r->rx[i].has_time) continue;
      gw[n] = (struct lg_joint_gateway){r->rx[i].lat_deg, r->rx[i].lon_deg, r->rx[i].alt_m, 0, 0};
      obs[n] = (struct lg_joint_obs){0, (uint32_t)n, r->rx[i].time_ns};
      n++;
    }
    struct lg_joint_fix fix;
    if (lg_geo_joint_solve(gw, n, obs, n, 1, &o, NULL, 0, &fix, why, sizeof(why)) != 0) {
      failed++;
      continue;
    }
    printf("{\"id\":\"%s\",\"device\":\"%s\",\"lat\":%.9f,\"lon\":%.9f", r->id, r->device,
           fix.lat_deg, fix.lon_deg);
    if (r->has_truth)
      printf(",\"error_m\":%.3f",
             lg_geo_distance_m(fix.lat_deg, fix.lon_deg, r->truth.lat_deg, r->truth.lon_deg));
    printf("}\n");
  }
  fprintf(stderr, "plain_fixes: %ld records not located\n", failed);
  free(line);
  free(r);
  return 0;
}
