/*
 * Event payloads as JSON text, in one pass (issue 15: what MQTT costs the server).
 *
 * Every uplink's events go through here on their way to MQTT and the webhooks. jansson's
 * json_dumps spent most of that time in glibc's exact %.15g of each real (an RSSI, an SNR,
 * a coordinate: six or more in each reception) and in its chunked writer. This writes the
 * same text, byte for byte (tests/unit/test_json_text.c compares the two on random trees):
 * compact separators, keys in the object's order, strings escaped as jansson escapes them,
 * integers by hand, and a real that a decimal of at most six places (nine below 10^6) gives
 * back exactly — what a radio reports, coordinates — as that decimal, trimmed as %g trims it and
 * with ".0" when nothing is left after the point (as jansson keeps a real a real). Any other
 * real, and those %g would write with an exponent, go through snprintf's %.15g as in
 * jansson (its exponent without "+" and leading zeros). Not finite: no text, as jansson.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_text.h"

struct text {
  char *p;
  size_t len, cap;
  bool failed;
};

static bool room(struct text *t, size_t more) {
  if (t->failed) return false;
  if (t->len + more + 1 <= t->cap) return true;
  size_t cap = t->cap ? t->cap : 1024;
  while (cap < t->len + more + 1)
    cap *= 2;
  char *p = realloc(t->p, cap);
  if (p == NULL) return t->failed = true, false;
  t->p = p, t->cap = cap;
  return true;
}

static void put(struct text *t, const char *s, size_t n) {
  if (room(t, n)) memcpy(t->p + t->len, s, n), t->len += n;
}

static void put_char(struct text *t, char c) {
  if (room(t, 1)) t->p[t->len++] = c;
}

/* A JSON string literal, escaped as jansson escapes it (UTF-8 kept as it is). */
static void put_string(struct text *t, const char *s, size_t n) {
  put_char(t, '"');
  size_t from = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    put(t, s + from, i - from);
    from = i + 1;
    char esc[8];
    switch (c) {
    case '"': put(t, "\\\"", 2); break;
    case '\\': put(t, "\\\\", 2); break;
    case '\b': put(t, "\\b", 2); break;
    case '\f': put(t, "\\f", 2); break;
    case '\n': put(t, "\\n", 2); break;
    case '\r': put(t, "\\r", 2); break;
    case '\t': put(t, "\\t", 2); break;
    default: snprintf(esc, sizeof(esc), "\\u%04X", c), put(t, esc, 6); break;
    }
  }
  put(t, s + from, n - from);
  put_char(t, '"');
}

static void put_int(struct text *t, long long v) {
  char d[24];
  size_t i = sizeof(d);
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do
    d[--i] = (char)('0' + u % 10);
  while ((u /= 10) > 0);
  if (v < 0) d[--i] = '-';
  put(t, d + i, sizeof(d) - i);
}

/* v as the decimal k / 10^places when that is exactly this double and has at most 15
 * significant digits (so %.15g would write those digits); false otherwise. */
static bool put_decimal(struct text *t, double v, int places, double scale, double below) {
  double a = fabs(v);
  long long k = a >= 1e-4 && a < below ? llround(v * scale) : 0;
  if (k == 0 || (double)k / scale != v) return false;
  long long unit = (long long)scale;
  if (k < 0 && k > -unit)
    put(t, "-0", 2); /* -0.xxx: k / unit alone would lose the sign */
  else
    put_int(t, k / unit);
  long long frac = llabs(k % unit);
  char d[12];
  d[0] = '.';
  for (int i = places; i >= 1; i--, frac /= 10)
    d[i] = (char)('0' + frac % 10);
  size_t n = (size_t)places + 1;
  while (n > 2 && d[n - 1] == '0')
    n--;
  put(t, d, n); /* ".0" at least */
  return true;
}

/* A real as jansson writes it with JSON_REAL_PRECISION(15); false: not finite. */
static bool put_real(struct text *t, double v) {
  if (!isfinite(v)) return false;
  if (v == 0) return put(t, signbit(v) ? "-0.0" : "0.0", signbit(v) ? 4 : 3), true;
  /* six places below 10^9, nine below 10^6 (a coordinate to the nanodegree): 15 digits */
  if (put_decimal(t, v, 6, 1e6, 1e9) || put_decimal(t, v, 9, 1e9, 1e6)) return true;
  char s[40];
  int n = snprintf(s, sizeof(s), "%.15g", v);
  if (n <= 0 || n >= (int)sizeof(s)) return false;
  char *e = strchr(s, 'e');
  if (e) { /* 1e+20 -> 1e20, 1e-05 -> 1e-5 */
    char *x = e + 1, *w = x;
    if (*x == '+')
      x++;
    else if (*x == '-')
      *w++ = *x++;
    while (*x == '0' && x[1])
      x++;
    memmove(w, x, strlen(x) + 1);
    n = (int)strlen(s);
  } else if (!strchr(s, '.')) {
    s[n++] = '.', s[n++] = '0', s[n] = '\0';
  }
  put(t, s, (size_t)n);
  return true;
}

static bool put_value(struct text *t, const json_t *v, int depth) {
  if (depth > 64) return false;
  switch (json_typeof(v)) {
  case JSON_OBJECT: {
    put_char(t, '{');
    const char *key;
    json_t *x;
    bool first = true;
    json_object_foreach((json_t *)v, key, x) {
      if (!first) put_char(t, ',');
      first = false;
      put_string(t, key, strlen(key));
      put_char(t, ':');
      if (!put_value(t, x, depth + 1)) return false;
    }
    put_char(t, '}');
    return true;
  }
  case JSON_ARRAY:
    put_char(t, '[');
    for (size_t i = 0; i < json_array_size(v); i++) {
      if (i) put_char(t, ',');
      if (!put_value(t, json_array_get(v, i), depth + 1)) return false;
    }
    put_char(t, ']');
    return true;
  case JSON_STRING: put_string(t, json_string_value(v), json_string_length(v)); return true;
  case JSON_INTEGER: put_int(t, (long long)json_integer_value(v)); return true;
  case JSON_REAL: return put_real(t, json_real_value(v));
  case JSON_TRUE: put(t, "true", 4); return true;
  case JSON_FALSE: put(t, "false", 5); return true;
  case JSON_NULL: put(t, "null", 4); return true;
  }
  return false;
}

char *lg_json_text(const json_t *v, size_t *len) {
  struct text t = {0};
  if (v == NULL || !put_value(&t, v, 0) || t.failed) {
    free(t.p);
    return NULL;
  }
  t.p[t.len] = '\0';
  if (len) *len = t.len;
  return t.p;
}
