/* Growable printf buffer for the JSON lines `solve` writes (see outbuf.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/outbuf.h"
#include "util/util.h"

static int reserve(struct lg_outbuf *b, size_t more) {
  if (b->len + more + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more + 1)
    cap *= 2;
  char *p = realloc(b->p, cap);
  if (p == NULL) {
    b->failed = 1;
    return LG_ENOMEM;
  }
  b->p = p;
  b->cap = cap;
  return 0;
}

void lg_out_printf(struct lg_outbuf *b, const char *fmt, ...) {
  va_list ap;
  for (int attempt = 0; attempt < 2; attempt++) {
    size_t room = b->cap > b->len ? b->cap - b->len : 0;
    va_start(ap, fmt);
    int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    if (reserve(b, (size_t)n)) return;
  }
}

void lg_out_json_string(struct lg_outbuf *b, const char *s) {
  lg_out_printf(b, "\"");
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      lg_out_printf(b, "\\%c", ch);
    else if (ch < 0x20)
      lg_out_printf(b, "\\u%04x", ch);
    else
      lg_out_printf(b, "%c", ch);
  }
  lg_out_printf(b, "\"");
}

void lg_out_number(struct lg_outbuf *b, int decimals, double v) {
  if (isfinite(v))
    lg_out_printf(b, "%.*f", decimals, v);
  else
    lg_out_printf(b, "null");
}

void lg_out_free(struct lg_outbuf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}
