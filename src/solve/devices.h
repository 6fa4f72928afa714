/*
 * `solve` output and aggregation helpers: the JSON lines of fixes and errors, the
 * summary against truth, and the per-device aggregation of static devices
 * (`--per-device`: thesis §4.4 GESD outlier test and §5.1 sample mean of each TDOA).
 */
#ifndef LG_SOLVE_DEVICES_H
#define LG_SOLVE_DEVICES_H

#include <stdio.h>

#include "solve/records.h"
#include "util/outbuf.h"

/* Errors against truth, collected for the summary line. */
struct lg_errors {
  double *v;
  size_t n, cap;
  double male_sum; /* haversine distances, as the thesis computed MALE (§5.4) */
};

void lg_errors_add(struct lg_errors *e, double err_m, double haversine_m);
/* Appends all of `from` to `to`. */
void lg_errors_merge(struct lg_errors *to, const struct lg_errors *from);

/* Appends the fix's keys (no braces): "lat", "lon", "alt", "method", "accuracy_m",
 * "gdop", "gateways_used", "residual_m", and "excluded" when gateway names are given. */
void lg_solve_fix_fields(struct lg_outbuf *b, const struct lg_geo_fix *fix,
                         const char (*gateway)[LG_NAME_MAX], size_t n);
/* Appends {"id": .., "error": ..} (with "line" when there is no id) and a newline. */
void lg_solve_error_line(struct lg_outbuf *b, const struct lg_record *r, long line,
                         const char *why);
/* Appends {"summary": {...}} and a newline; sorts err. */
void lg_solve_summary_line(struct lg_outbuf *b, struct lg_errors *e, long records, long fixes);

struct lg_devices;

struct lg_devices *lg_devices_new(void);
void lg_devices_free(struct lg_devices *d); /* NULL is fine */

/* Adds a record's receptions to its device's series; LG_EINVAL with a reason when the record
 * has no "device" or a gateway moved. */
int lg_devices_add(struct lg_devices *d, const struct lg_record *r, char *why, size_t why_len);
size_t lg_devices_count(const struct lg_devices *d);

enum lg_device_mode {
  LG_MODE_STATIC, /* one position from all frames (GESD + sample mean) */
  LG_MODE_MOBILE, /* frames located one by one, Kalman-tracked; the last state */
  LG_MODE_AUTO,   /* static when the single fixes agree with one position, else mobile */
};

/* Locates every device and appends one JSON line each ({"device", "frames", "lat",
 * "lon", "accuracy_m", "method", "mode", ...} or {"device", "error"}); errors against
 * truth go to *errs. Returns the number of devices located. */
long lg_devices_solve(struct lg_devices *d, struct lg_geo_solver *s, const struct lg_geo_opts *o,
                      double alpha, enum lg_device_mode mode, struct lg_outbuf *out,
                      struct lg_errors *errs);

#endif
