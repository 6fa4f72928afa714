/*
 * libFuzzer harness for the `solve` record parser (cli/records.c): any bytes as one
 * input line. Properties: no crash or out-of-bounds read (sanitizers), and a parsed
 * record keeps its fields in range, so the solver can trust them.
 */
#include <math.h>
#include <stdlib.h>

#include "solve/records.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct lg_record r;
  char why[256];
  if (lg_record_parse((const char *)data, size, &r, why, sizeof(why)) != 0) return 0;
  if (r.n > LG_GEO_MAX_RX) abort();
  for (size_t i = 0; i < r.n; i++)
    if (!(fabs(r.rx[i].lat_deg) <= 90) || !(fabs(r.rx[i].lon_deg) <= 180)) abort();
  if (r.has_truth && !(fabs(r.truth.lat_deg) <= 90)) abort();
  return 0;
}
