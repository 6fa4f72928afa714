/* A growable output buffer for text built with printf (JSON lines, /metrics). */
#ifndef LG_UTIL_OUTBUF_H
#define LG_UTIL_OUTBUF_H

#include <stddef.h>

struct lg_outbuf {
  char *p;
  size_t len, cap;
  int failed; /* an allocation failed: the buffer holds what fit */
};

/* Appends formatted text. */
void lg_out_printf(struct lg_outbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `s` as a JSON string literal (quotes added; ", \ and control characters escaped). */
void lg_out_json_string(struct lg_outbuf *b, const char *s);
/* Appends a number with `decimals` digits after the point, or null when not finite. */
void lg_out_number(struct lg_outbuf *b, int decimals, double v);
void lg_out_free(struct lg_outbuf *b);

#endif
