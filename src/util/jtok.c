/*
 * jsmn tokens, checked and read (util/jtok.h). jsmn in strict mode refuses most malformed
 * text but lets some through — a key without a value (`{"id"}`), a literal that only starts
 * right (`nope`, `1.2.3`) — so lg_jt_parse checks the shape and every literal before any
 * field is read.
 */
#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/jtok.h"
#include "util/util.h"

/* true, false, null, or a number as JSON writes one: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? */
static bool literal_ok(const char *s, size_t n) {
  if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0) ||
      (n == 4 && memcmp(s, "null", 4) == 0))
    return true;
  size_t i = 0;
  if (i < n && s[i] == '-') i++;
  if (i < n && s[i] == '0') {
    i++;
  } else if (i < n && s[i] >= '1' && s[i] <= '9') {
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    size_t d = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    if (i == d) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    if (i == d) return false;
  }
  return i == n;
}

static bool shape_ok(const struct lg_jt *c) {
  for (int i = 0; i < c->n; i++) {
    const jsmntok_t *t = &c->t[i];
    if (t->end < t->start) return false; /* never closed */
    if (t->type == JSMN_PRIMITIVE && !literal_ok(c->js + t->start, (size_t)(t->end - t->start)))
      return false;
    if (t->type != JSMN_OBJECT && t->type != JSMN_ARRAY) continue;
    int j = i + 1;
    for (int k = 0; k < t->size; k++) {
      if (j >= c->n) return false;
      if (t->type == JSMN_OBJECT) {
        if (c->t[j].type != JSMN_STRING || c->t[j].size != 1 || j + 1 >= c->n) return false;
        j++;
      }
      j = lg_jt_skip(c, j);
    }
  }
  return true;
}

static int tokenize(const char *js, size_t len, jsmntok_t *t, unsigned cap) {
  jsmn_parser p;
  jsmn_init(&p);
  int n = jsmn_parse(&p, js, len, t, cap);
  if (n == JSMN_ERROR_NOMEM) return LG_JT_ENOMEM;
  if (n == JSMN_ERROR_PART || n == 0) return LG_JT_EPART;
  if (n < 0) return LG_JT_EINVAL;
  return n;
}

/* Nested no deeper than LG_JT_MAX_DEPTH: jsmn closes a container by walking back over the
 * tokens before it, so a datagram of 30,000 '[' would cost it ~10^9 steps. One pass over
 * the bytes, strings skipped. */
static bool depth_ok(const char *js, size_t len) {
  int depth = 0;
  bool in_string = false;
  for (size_t k = 0; k < len && js[k] != '\0'; k++) {
    char ch = js[k];
    if (in_string) {
      if (ch == '\\')
        k++;
      else if (ch == '"')
        in_string = false;
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '{' || ch == '[') {
      if (++depth > LG_JT_MAX_DEPTH) return false;
    } else if (ch == '}' || ch == ']') {
      depth--;
    }
  }
  return true;
}

int lg_jt_count(const char *js, size_t len) {
  return depth_ok(js, len) ? tokenize(js, len, NULL, 0) : LG_JT_EDEEP;
}

int lg_jt_parse(const char *js, size_t len, jsmntok_t *t, unsigned cap, struct lg_jt *c) {
  if (!depth_ok(js, len)) return LG_JT_EDEEP;
  int n = tokenize(js, len, t, cap);
  if (n < 0) return n;
  *c = (struct lg_jt){js, t, n};
  if (!shape_ok(c)) return LG_JT_ESHAPE;
  for (size_t k = (size_t)t[0].end; k < len; k++)
    if (!strchr(" \t\r\n", js[k]) || js[k] == '\0') return LG_JT_ETRAIL;
  return 0;
}

const char *lg_jt_strerror(int err) {
  switch (err) {
  case LG_JT_ENOMEM: return "too many values";
  case LG_JT_EINVAL: return "invalid character";
  case LG_JT_EPART: return "truncated";
  case LG_JT_ESHAPE: return "a key without a value, an unclosed container or a bad literal";
  case LG_JT_ETRAIL: return "text after the value";
  case LG_JT_EDEEP: return "nested too deep";
  default: return "not JSON";
  }
}

int lg_jt_skip(const struct lg_jt *c, int i) {
  int end = c->t[i].end, j = i + 1;
  while (j < c->n && c->t[j].start < end)
    j++;
  return j;
}

bool lg_jt_is(const struct lg_jt *c, int i, const char *s) {
  size_t len = (size_t)(c->t[i].end - c->t[i].start);
  return c->t[i].type == JSMN_STRING && strlen(s) == len &&
         memcmp(c->js + c->t[i].start, s, len) == 0;
}

bool lg_jt_null(const struct lg_jt *c, int i) {
  return c->t[i].type == JSMN_PRIMITIVE && c->js[c->t[i].start] == 'n';
}

int lg_jt_field(const struct lg_jt *c, int obj, const char *key) {
  int i = obj + 1;
  for (int k = 0; k < c->t[obj].size && i + 1 < c->n; k++) {
    if (lg_jt_is(c, i, key)) return i + 1;
    i = lg_jt_skip(c, i + 1);
  }
  return -1;
}

int lg_jt_fields(const struct lg_jt *c, int obj, const char *const *names, int n, int *idx) {
  for (int k = 0; k < n; k++)
    idx[k] = -1;
  int i = obj + 1;
  for (int k = 0; k < c->t[obj].size && i + 1 < c->n; k++) {
    for (int m = 0; m < n; m++) {
      if (!lg_jt_is(c, i, names[m])) continue;
      if (idx[m] >= 0) return LG_EINVAL;
      idx[m] = i + 1;
      break;
    }
    i = lg_jt_skip(c, i + 1);
  }
  return 0;
}

/* Token i as a number's text (lg_jt_parse checked its grammar, and a delimiter follows it
 * in the text, so strtod and strtoll stop at its end), or NULL. */
static const char *number(const struct lg_jt *c, int i) {
  if (i < 0 || i >= c->n || c->t[i].type != JSMN_PRIMITIVE) return NULL;
  const char *s = c->js + c->t[i].start;
  return s[0] == '-' || (s[0] >= '0' && s[0] <= '9') ? s : NULL;
}

bool lg_jt_int(const struct lg_jt *c, int i, int64_t lo, int64_t hi, int64_t *out) {
  const char *s = number(c, i);
  size_t len = s ? (size_t)(c->t[i].end - c->t[i].start) : 0;
  if (s == NULL || memchr(s, '.', len) || memchr(s, 'e', len) || memchr(s, 'E', len)) return false;
  errno = 0;
  char *end;
  long long x = strtoll(s, &end, 10);
  if (errno == ERANGE || end != s + len || x < lo || x > hi) return false;
  *out = (int64_t)x;
  return true;
}

bool lg_jt_num(const struct lg_jt *c, int i, double lo, double hi, double *out) {
  const char *s = number(c, i);
  if (s == NULL) return false;
  char *end;
  double x = strtod(s, &end);
  if (end != s + (c->t[i].end - c->t[i].start) || !isfinite(x) || !(x >= lo && x <= hi))
    return false;
  *out = x;
  return true;
}

bool lg_jt_text(const struct lg_jt *c, int i, char *buf, size_t cap, const char **s, size_t *len) {
  if (i < 0 || i >= c->n || c->t[i].type != JSMN_STRING) return false;
  const char *p = c->js + c->t[i].start;
  size_t n = (size_t)(c->t[i].end - c->t[i].start), k = 0;
  if (n >= cap) return false; /* (escapes shorten a string; nothing read here is that long) */
  if (memchr(p, '\\', n) == NULL) return *s = p, *len = n, true;
  for (size_t j = 0; j < n; j++) {
    char ch = p[j];
    if (ch == '\\') {
      if (++j == n) return false;
      const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
      const char *e = strchr(from, p[j]);
      if (e != NULL && p[j] != '\0') {
        ch = to[e - from];
      } else if (p[j] == 'u' && j + 4 < n) {
        char hex[5] = {p[j + 1], p[j + 2], p[j + 3], p[j + 4], 0};
        char *end;
        unsigned long u = strtoul(hex, &end, 16);
        if (end != hex + 4 || u == 0 || u >= 0x80) return false; /* ASCII only */
        ch = (char)u;
        j += 4;
      } else {
        return false;
      }
    }
    if (k + 1 >= cap) return false;
    buf[k++] = ch;
  }
  buf[k] = '\0';
  return *s = buf, *len = k, true;
}
