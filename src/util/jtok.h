/*
 * jtok — reading JSON the fast way: jsmn tokenises a text in place (no allocation, no
 * tree) and these helpers check its shape and read the few fields a hot path needs
 * (`solve` records, 100,000 a second; PUSH_DATA bodies, four per uplink). Strings are read
 * as they stand in the text (lg_jt_str) or unescaped into a buffer (lg_jt_text); keys are
 * compared as they stand. Less strict than a full parser in what does not change a
 * message's meaning: jsmn lets a missing or doubled comma through, and raw control bytes
 * or invalid UTF-8 inside strings; values nobody reads are not range-checked.
 */
#ifndef LG_UTIL_JTOK_H
#define LG_UTIL_JTOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef JSMN_H
#define JSMN_HEADER
#include <jsmn.h>
#undef JSMN_HEADER
#endif

/* A tokenised text: js the text, t its n tokens in document order. */
struct lg_jt {
  const char *js;
  const jsmntok_t *t;
  int n;
};

enum lg_jt_err {
  LG_JT_ENOMEM = -1, /* more tokens than cap */
  LG_JT_EINVAL = -2, /* not JSON: a character out of place */
  LG_JT_EPART = -3,  /* not JSON: truncated */
  LG_JT_ESHAPE = -4, /* not JSON: a key without a value, a bad literal or number */
  LG_JT_ETRAIL = -5, /* text after the value */
  LG_JT_EDEEP = -6,  /* nested deeper than LG_JT_MAX_DEPTH */
};

/* Containers inside containers: more than any message these paths read needs. */
#define LG_JT_MAX_DEPTH 32

/* Tokenises len bytes of js into t (cap tokens) and checks what jsmn lets through: every
 * object's keys strings each with a value, every literal true/false/null or a number in
 * JSON's grammar, nothing but whitespace after the value. 0 with *c set, or LG_JT_E*. */
int lg_jt_parse(const char *js, size_t len, jsmntok_t *t, unsigned cap, struct lg_jt *c);
/* Tokens len bytes of js needs (for a buffer when cap was too small), or LG_JT_E*. */
int lg_jt_count(const char *js, size_t len);
/* A short reason for an LG_JT_E* code ("truncated", ...). */
const char *lg_jt_strerror(int err);

/* Index of the token after the value at i. */
int lg_jt_skip(const struct lg_jt *c, int i);
/* Token i is the string s. */
bool lg_jt_is(const struct lg_jt *c, int i, const char *s);
/* Token i is null. */
bool lg_jt_null(const struct lg_jt *c, int i);
/* The value of `key` in the object at obj, or -1. */
int lg_jt_field(const struct lg_jt *c, int obj, const char *key);
/* The values of n keys of the object at obj in one pass: idx[k] the value token of
 * names[k], or -1. LG_EINVAL when one of the names is there twice (as jansson's
 * JSON_REJECT_DUPLICATES: which one counts would be a guess). */
int lg_jt_fields(const struct lg_jt *c, int obj, const char *const *names, int n, int *idx);

/* Token i (may be -1: absent) as an integer (no fraction, no exponent) within [lo, hi]. */
bool lg_jt_int(const struct lg_jt *c, int i, int64_t lo, int64_t hi, int64_t *out);
/* Token i (may be -1) as a number within [lo, hi]. */
bool lg_jt_num(const struct lg_jt *c, int i, double lo, double hi, double *out);
/* Token i (may be -1) as a string of fewer than cap bytes: its bytes in the text when it
 * has no escape, else unescaped into buf (\uXXXX only for ASCII); false when it is not a
 * string or does not fit (so *len < cap either way). */
bool lg_jt_text(const struct lg_jt *c, int i, char *buf, size_t cap, const char **s, size_t *len);

#endif
