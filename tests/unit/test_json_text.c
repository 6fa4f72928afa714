/*
 * lg_json_text (util/json_text.c) against jansson's own json_dumps with the flags the
 * MQTT and webhook paths used (JSON_COMPACT | JSON_REAL_PRECISION(15)): the same bytes for
 * every value kind — reals of every shape (radio readings, coordinates, integers held as
 * reals, tiny and huge ones, negative zero, random bit patterns), integers to the 64-bit
 * limits, strings with every control character, quotes, backslashes and UTF-8 — in
 * random nested trees.
 */
#include <float.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "integ/integ.h"
#include "lg_rng.h"
#include "lg_test.h"

static int same(const json_t *v) {
  if (!json_is_object(v) && !json_is_array(v)) { /* json_dumps writes containers only */
    json_t *a = json_pack("[O]", v);
    int ok = same(a);
    json_decref(a);
    return ok;
  }
  char *want = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15));
  size_t n = 0;
  char *got = lg_json_text(v, &n);
  int ok = want && got && strcmp(want, got) == 0 && n == strlen(want);
  if (!ok) fprintf(stderr, "jansson: %s\nours:    %s\n", want ? want : "(null)", got ? got : "(null)");
  free(want);
  free(got);
  return ok;
}

static double real_of(struct lg_rng *r) {
  switch ((int)(lg_rng_uniform(r) * 10)) {
  case 0: return -140 + (double)(int)(lg_rng_uniform(r) * 1000) / 10; /* an RSSI */
  case 1: return -20 + (double)(int)(lg_rng_uniform(r) * 400) / 10;   /* an SNR */
  case 2: return 51 + lg_rng_uniform(r);                               /* a coordinate */
  case 3: return (double)(long long)(lg_rng_uniform(r) * 1e7) / 1e6 - 5; /* six places */
  case 4: return (double)(long long)((lg_rng_gauss(r)) * 1e6);         /* an integer */
  case 5: return lg_rng_gauss(r) * pow(10, (int)(lg_rng_uniform(r) * 40) - 20);
  case 6: {
    uint64_t bits = (uint64_t)(lg_rng_uniform(r) * 18446744073709551615.0);
    double d;
    memcpy(&d, &bits, sizeof(d));
    return isfinite(d) ? d : 1.5;
  }
  case 7: return (double)(long long)(lg_rng_uniform(r) * 2e9) / 1e6 * (lg_rng_uniform(r) < 0.5 ? -1 : 1);
  case 8: return lg_rng_uniform(r) < 0.5 ? 0.1 * (int)(lg_rng_uniform(r) * 30) - 1.5
                                         : (double)(long long)(lg_rng_uniform(r) * 3.6e11) / 1e9 - 180; /* to the nanodegree */
  default: return lg_rng_uniform(r) < 0.5 ? 1e-4 : 999999999.999999;
  }
}

static json_t *tree(struct lg_rng *r, int depth) {
  double u = lg_rng_uniform(r);
  if (depth < 4 && u < 0.25) {
    json_t *o = json_object();
    int n = (int)(lg_rng_uniform(r) * 6);
    for (int i = 0; i < n; i++) {
      char key[16];
      snprintf(key, sizeof(key), "k%d%s", i, i == 2 ? "\"q" : "");
      json_object_set_new(o, key, tree(r, depth + 1));
    }
    return o;
  }
  if (depth < 4 && u < 0.4) {
    json_t *a = json_array();
    int n = (int)(lg_rng_uniform(r) * 5);
    for (int i = 0; i < n; i++)
      json_array_append_new(a, tree(r, depth + 1));
    return a;
  }
  if (u < 0.65) return json_real(real_of(r));
  if (u < 0.8) return json_integer((json_int_t)(lg_rng_gauss(r) * 1e12));
  if (u < 0.95) {
    char s[24];
    int n = (int)(lg_rng_uniform(r) * 20);
    for (int i = 0; i < n; i++)
      s[i] = (char)(1 + (int)(lg_rng_uniform(r) * 126)); /* every ASCII character but NUL */
    s[n] = '\0';
    return json_string(s);
  }
  return lg_rng_uniform(r) < 0.5 ? json_null() : json_boolean(lg_rng_uniform(r) < 0.5);
}

int main(void) {
  /* the shapes one by one */
  static const double reals[] = {0.0,    -0.0,     1.0,     -117.0,  9.2,     -0.5,     0.000123,
                                 1e-4,   9.9e-5,   1e-5,    868.1,   55.7819, 12.5106,  0.1 + 0.2,
                                 1e9,    999999999.999999, 123456789.123456, 1e15, 1e16, 1.5e300,
                                 -2.5e-300, DBL_MIN, DBL_MAX, 5e-324, 1.0 / 3, 2.0 / 3 * 1e8,
                                 55.7751900, 12.4829619, -0.000123456, 999999.999999999, 51.2136573791504};
  for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
    json_t *v = json_pack("{s:f}", "v", reals[i]);
    LG_CHECK(same(v));
    json_decref(v);
  }
  static const json_int_t ints[] = {0, 1, -1, 9, 10, -10, INT64_MAX, INT64_MIN, 1767225604945154187LL};
  for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
    json_t *v = json_pack("[I]", ints[i]);
    LG_CHECK(same(v));
    json_decref(v);
  }
  json_t *s = json_pack("{s:s, s:s, s:s}", "utf8", "\xc3\xa9t\xc3\xa9 \xe2\x82\xac", "ctl",
                        "\x01\b\f\n\r\t\x1f\x7f/", "q\"", "a\\b\"c");
  LG_CHECK(same(s));
  json_decref(s);
  /* random trees */
  struct lg_rng r = {0x9E3779B97F4A7C15ULL};
  int bad = 0;
  for (int i = 0; i < 20000; i++) {
    json_t *v = tree(&r, 0);
    bad += !same(v);
    json_decref(v);
  }
  LG_EQ_INT(bad, 0);
  LG_CHECK(lg_json_text(NULL, NULL) == NULL); /* (jansson holds no real that is not finite) */
  printf("test_json_text: %d checks, %d failed\n", lg_test_checks, lg_test_failures);
  return lg_test_failures ? 1 : 0;
}
