/*
 * `solve`'s output (solve_devices.h): a fix's JSON keys, an error line, and the errors
 * against truth collected for the summary line. Shared by the per-record path
 * (cmd_solve.c) and the per-device one (solve_devices.c); calls neither.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "geo/geo.h"
#include "solve/devices.h"
#include "util/outbuf.h"
#include "util/util.h"

void lg_solve_fix_fields(struct lg_outbuf *b, const struct lg_geo_fix *fix,
                         const char (*gateway)[LG_NAME_MAX], size_t n) {
  lg_out_printf(b, "\"lat\":%.9f,\"lon\":%.9f,\"alt\":%.2f,\"method\":\"%s\",\"accuracy_m\":",
                fix->lat_deg, fix->lon_deg, fix->alt_m, lg_geo_method_name(fix->method));
  lg_out_number(b, 3, fix->accuracy_m);
  lg_out_printf(b, ",\"accuracy_95_m\":");
  lg_out_number(b, 3, fix->accuracy_95_m);
  lg_out_printf(b, ",\"gdop\":");
  lg_out_number(b, 4, fix->gdop);
  lg_out_printf(b, ",\"gateways_used\":%d,\"residual_m\":", fix->gateways_used);
  lg_out_number(b, 3, fix->residual_m);
  if (fix->n_alternatives > 0) /* the other root three gateways allow (design.md) */
    lg_out_printf(b, ",\"alternatives\":[{\"lat\":%.9f,\"lon\":%.9f}]",
                  fix->alternatives[0].lat_deg, fix->alternatives[0].lon_deg);
  if (gateway == NULL) return;
  lg_out_printf(b, ",\"excluded\":[");
  bool first = true;
  for (size_t i = 0; i < n; i++)
    if (fix->excluded & (1ull << i)) {
      lg_out_printf(b, "%s\"%s\"", first ? "" : ",", gateway[i]);
      first = false;
    }
  lg_out_printf(b, "]");
}

void lg_solve_error_line(struct lg_outbuf *b, const struct lg_record *r, long line,
                         const char *why) {
  if (r && r->has_id)
    lg_out_printf(b, "{\"id\":\"%s\",\"error\":", r->id);
  else
    lg_out_printf(b, "{\"id\":null,\"line\":%ld,\"error\":", line);
  lg_out_json_string(b, why);
  lg_out_printf(b, "}\n");
}

void lg_errors_add(struct lg_errors *e, double err_m, double haversine_m) {
  if (e->n == e->cap) {
    size_t cap = e->cap ? 2 * e->cap : 1024;
    double *v = realloc(e->v, cap * sizeof(double));
    if (v == NULL) return;
    e->v = v;
    e->cap = cap;
  }
  e->v[e->n++] = err_m;
  e->male_sum += haversine_m;
}

void lg_errors_merge(struct lg_errors *to, const struct lg_errors *from) {
  for (size_t i = 0; i < from->n; i++)
    lg_errors_add(to, from->v[i], 0);
  to->male_sum += from->male_sum;
}

void lg_solve_summary_line(struct lg_outbuf *b, struct lg_errors *e, long records, long fixes) {
  lg_out_printf(b, "{\"summary\":{\"records\":%ld,\"fixes\":%ld,\"with_truth\":%zu", records, fixes,
                e->n);
  if (e->n > 0) {
    qsort(e->v, e->n, sizeof(double), lg_cmp_double);
    double sum = 0;
    for (size_t i = 0; i < e->n; i++)
      sum += e->v[i];
    lg_out_printf(b,
                  ",\"mean_error_m\":%.3f,\"median_error_m\":%.3f,\"p90_error_m\":%.3f,"
                  "\"max_error_m\":%.3f,\"male_m\":%.3f",
                  sum / (double)e->n, e->v[e->n / 2], e->v[(size_t)floor(0.9 * (double)(e->n - 1))],
                  e->v[e->n - 1], e->male_sum / (double)e->n);
  }
  lg_out_printf(b, "}}\n");
}
