/*
 * Parsing `solve` records, fast: `solve` is meant to take 100,000 records a second, and
 * a general JSON DOM (jansson: a hash table per object, a copy per string) cost more
 * than the solver itself. Records are tokenised in place with jsmn (no allocation) and
 * only the fields we use are converted. Every field is checked before use: a record
 * with a bad field is answered with an error naming it, and the rest of the input
 * goes on. Names (id, device, gateway) are kept as the raw JSON string contents, so
 * they print back unchanged.
 *
 * time_ns must be a JSON integer: a double cannot hold today's epoch in nanoseconds to
 * better than ~0.25 us (75 m of radio path), so a real number is refused, not rounded.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "solve/records.h"
#include "util/jtok.h"
#include "util/util.h"

#define MAX_LINE (1 << 20)

static int copy_name(const struct lg_jt *c, int i, char *out, const char *what, char *why,
                     size_t why_len) {
  const jsmntok_t *t = &c->t[i];
  size_t len = (size_t)(t->end - t->start);
  bool number = t->type == JSMN_PRIMITIVE &&
                (c->js[t->start] == '-' || (c->js[t->start] >= '0' && c->js[t->start] <= '9'));
  if (t->type != JSMN_STRING && !number) {
    snprintf(why, why_len, "%s must be a string", what);
    return LG_EINVAL;
  }
  if (len >= LG_NAME_MAX) {
    snprintf(why, why_len, "%s longer than %d characters", what, LG_NAME_MAX - 1);
    return LG_EINVAL;
  }
  memcpy(out, c->js + t->start, len);
  out[len] = '\0';
  return 0;
}

/* Number token at i into *x, within [lo, hi]; `where`/`key` name it in errors. */
static int number_at(const struct lg_jt *c, int i, double lo, double hi, double *x,
                     const char *where, const char *key, char *why, size_t why_len) {
  const jsmntok_t *t = &c->t[i];
  char buf[64];
  size_t len = (size_t)(t->end - t->start);
  char *end = NULL;
  if (t->type != JSMN_PRIMITIVE || len >= sizeof(buf) || lg_jt_null(c, i) ||
      c->js[t->start] == 't' || c->js[t->start] == 'f')
    goto bad;
  memcpy(buf, c->js + t->start, len);
  buf[len] = '\0';
  *x = strtod(buf, &end);
  if (end != buf + len || !isfinite(*x)) goto bad;
  if (!(*x >= lo && *x <= hi)) {
    snprintf(why, why_len, "%s: \"%s\" = %g is outside [%g, %g]", where, key, *x, lo, hi);
    return LG_EINVAL;
  }
  return 0;
bad:
  snprintf(why, why_len, "%s: \"%s\" must be a number", where, key);
  return LG_EINVAL;
}

static int get_number(const struct lg_jt *c, int obj, const char *key, bool required, double lo,
                      double hi, double *out, bool *present, const char *where, char *why,
                      size_t why_len) {
  int i = lg_jt_field(c, obj, key);
  bool has = i >= 0 && !lg_jt_null(c, i);
  if (present) *present = has;
  if (!has) {
    if (!required) return 0;
    snprintf(why, why_len, "%s: missing \"%s\"", where, key);
    return LG_EINVAL;
  }
  return number_at(c, i, lo, hi, out, where, key, why, why_len);
}

/* The integer token v as time_ns (JSON integer, int64 range). */
static int time_at(const struct lg_jt *c, int v, struct lg_geo_rx *x, const char *where, char *why,
                   size_t why_len) {
  if (lg_jt_null(c, v)) return 0;
  const jsmntok_t *t = &c->t[v];
  char buf[32];
  size_t len = (size_t)(t->end - t->start);
  size_t digits = strspn(c->js + t->start + (c->js[t->start] == '-'), "0123456789");
  if (t->type != JSMN_PRIMITIVE || len >= sizeof(buf) || digits == 0 ||
      digits + (c->js[t->start] == '-') != len) {
    snprintf(why, why_len, "%s: \"time_ns\" must be an integer (ns since the epoch)", where);
    return LG_EINVAL;
  }
  memcpy(buf, c->js + t->start, len);
  buf[len] = '\0';
  errno = 0;
  long long n = strtoll(buf, NULL, 10);
  if (errno == ERANGE) {
    snprintf(why, why_len, "%s: \"time_ns\" out of the int64 range", where);
    return LG_EINVAL;
  }
  x->has_time = true;
  x->time_ns = (int64_t)n;
  return 0;
}

/* "rx[i]" without printf: this runs for every reception of every record. */
static void where_of(size_t i, char out[24]) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = (char)('0' + i % 10);
    i /= 10;
  } while (i && n < 20);
  size_t o = 0;
  out[o++] = 'r', out[o++] = 'x', out[o++] = '[';
  while (n)
    out[o++] = digits[--n];
  out[o++] = ']', out[o] = '\0';
}

/* One pass over the reception's keys; unknown keys are ignored. */
static int parse_rx(const struct lg_jt *c, int obj, struct lg_record *r, size_t i, char *why,
                    size_t why_len) {
  char where[24];
  where_of(i, where);
  struct lg_geo_rx *x = &r->rx[i];
  memset(x, 0, sizeof(*x));
  if (c->t[obj].type != JSMN_OBJECT) {
    snprintf(why, why_len, "%s must be an object", where);
    return LG_EINVAL;
  }
  bool has_lat = false, has_lon = false, has_gw = false;
  double snr;
  int key = obj + 1;
  for (int n = 0; n < c->t[obj].size; n++, key = lg_jt_skip(c, key + 1)) {
    int v = key + 1;
    bool null = lg_jt_null(c, v);
    int rc = 0;
    if (lg_jt_is(c, key, "lat")) {
      rc = number_at(c, v, -90, 90, &x->lat_deg, where, "lat", why, why_len);
      has_lat = true;
    } else if (lg_jt_is(c, key, "lon")) {
      rc = number_at(c, v, -180, 180, &x->lon_deg, where, "lon", why, why_len);
      has_lon = true;
    } else if (lg_jt_is(c, key, "time_ns")) {
      rc = time_at(c, v, x, where, why, why_len);
    } else if (lg_jt_is(c, key, "gateway")) {
      rc = copy_name(c, v, r->gateway[i], "gateway", why, why_len);
      has_gw = true;
    } else if (null) {
      continue; /* an optional field given as null */
    } else if (lg_jt_is(c, key, "alt")) {
      rc = number_at(c, v, -1000, 20000, &x->alt_m, where, "alt", why, why_len);
    } else if (lg_jt_is(c, key, "rssi")) {
      rc = number_at(c, v, -200, 50, &x->rssi_dbm, where, "rssi", why, why_len);
      x->has_rssi = rc == 0;
    } else if (lg_jt_is(c, key, "snr")) {
      rc = number_at(c, v, -50, 50, &snr, where, "snr", why, why_len);
    } else if (lg_jt_is(c, key, "sigma_ns")) {
      rc = number_at(c, v, 0.001, 1e7, &x->sigma_ns, where, "sigma_ns", why, why_len);
    }
    if (rc) return LG_EINVAL;
  }
  if (!has_lat || !has_lon) {
    snprintf(why, why_len, "%s: missing \"%s\"", where, has_lat ? "lon" : "lat");
    return LG_EINVAL;
  }
  if (!has_gw) snprintf(r->gateway[i], LG_NAME_MAX, "#%zu", i); /* unnamed: by position */
  x->name = has_gw ? r->gateway[i] : NULL; /* fingerprinting knows gateways by name only */
  if (x->has_time && (r->t_ns == 0 || x->time_ns < r->t_ns)) r->t_ns = x->time_ns;
  return 0;
}

int lg_record_parse(const char *line, size_t len, struct lg_record *r, char *why, size_t why_len) {
  jsmntok_t toks[64 + LG_GEO_MAX_RX * 24];
  /* Reset the header only: the reception arrays are written before they are read. */
  r->has_id = r->has_device = r->has_truth = false;
  r->id[0] = r->device[0] = '\0';
  r->n = 0;
  r->t_ns = 0;
  if (len > MAX_LINE) {
    snprintf(why, why_len, "record longer than %d bytes", MAX_LINE);
    return LG_EINVAL;
  }
  struct lg_jt c;
  int n = lg_jt_parse(line, len, toks, (unsigned)LG_ARRAY_LEN(toks), &c);
  if (n == LG_JT_ENOMEM) {
    snprintf(why, why_len, "record has too many fields (at most %d receptions)", LG_GEO_MAX_RX);
    return LG_EINVAL;
  }
  if (n < 0) {
    snprintf(why, why_len, "not JSON (%s)", lg_jt_strerror(n));
    return LG_EINVAL;
  }
  if (toks[0].type != JSMN_OBJECT) {
    snprintf(why, why_len, "a record must be a JSON object");
    return LG_EINVAL;
  }
  int i = lg_jt_field(&c, 0, "id");
  if (i >= 0 && !lg_jt_null(&c, i)) {
    if (copy_name(&c, i, r->id, "id", why, why_len)) return LG_EINVAL;
    r->has_id = true;
  }
  i = lg_jt_field(&c, 0, "device");
  if (i >= 0 && !lg_jt_null(&c, i)) {
    if (copy_name(&c, i, r->device, "device", why, why_len)) return LG_EINVAL;
    r->has_device = true;
  }
  int rx = lg_jt_field(&c, 0, "rx");
  if (rx < 0 || toks[rx].type != JSMN_ARRAY) {
    snprintf(why, why_len, "missing \"rx\" array");
    return LG_EINVAL;
  }
  r->n = (size_t)toks[rx].size;
  if (r->n > LG_GEO_MAX_RX) {
    snprintf(why, why_len, "%zu receptions, at most %d", r->n, LG_GEO_MAX_RX);
    return LG_EINVAL;
  }
  int e = rx + 1;
  for (size_t k = 0; k < r->n; k++) {
    if (parse_rx(&c, e, r, k, why, why_len)) return LG_EINVAL;
    e = lg_jt_skip(&c, e);
  }
  int truth = lg_jt_field(&c, 0, "truth");
  if (truth >= 0 && !lg_jt_null(&c, truth)) {
    if (toks[truth].type != JSMN_OBJECT) {
      snprintf(why, why_len, "\"truth\" must be an object");
      return LG_EINVAL;
    }
    if (get_number(&c, truth, "lat", true, -90, 90, &r->truth.lat_deg, NULL, "truth", why,
                   why_len) ||
        get_number(&c, truth, "lon", true, -180, 180, &r->truth.lon_deg, NULL, "truth", why,
                   why_len) ||
        get_number(&c, truth, "alt", false, -1000, 20000, &r->truth.alt_m, NULL, "truth", why,
                   why_len))
      return LG_EINVAL;
    r->has_truth = true;
  }
  return 0;
}

void lg_record_calibrate(const struct lg_calibration *c, struct lg_record *r) {
  for (size_t i = 0; i < r->n; i++)
    if (r->rx[i].has_time) r->rx[i].time_ns -= llround(lg_calibration_offset_ns(c, r->gateway[i]));
}
