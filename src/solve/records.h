/*
 * `solve` records (design.md, "solve records"): parsing one JSON line into receptions,
 * and the calibration file written by `lorageo calibrate`. Shared by `solve` and
 * `calibrate`.
 */
#ifndef LG_SOLVE_RECORDS_H
#define LG_SOLVE_RECORDS_H

#include <jansson.h>
#include <stdbool.h>

#include "geo/geo.h"

#define LG_NAME_MAX 64

struct lg_record {
  char id[LG_NAME_MAX];
  bool has_id;
  char device[LG_NAME_MAX];
  bool has_device;
  size_t n;
  struct lg_geo_rx rx[LG_GEO_MAX_RX];
  char gateway[LG_GEO_MAX_RX][LG_NAME_MAX];
  bool has_truth;
  struct lg_geodetic truth;
  int64_t t_ns; /* earliest reception time (frame time), 0 when none is timed */
};

/*
 * Fills *r from one JSON line of `len` bytes. Returns 0, or LG_EINVAL with a reason in `why`
 * (an id, if it was read, is already in r->id so the error record can name it).
 * Names are the raw JSON string contents (escapes kept), at most LG_NAME_MAX - 1 bytes.
 */
int lg_record_parse(const char *line, size_t len, struct lg_record *r, char *why, size_t why_len);

/* Subtracts each gateway's timing offset (`lorageo calibrate`) from its receptions. */
void lg_record_calibrate(const struct lg_calibration *c, struct lg_record *r);

#endif
