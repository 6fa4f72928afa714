/*
 * Typed assertions for lorageo's unit tests: each failure prints both values and
 * the location, and the test program's exit status is the failure count (capped).
 * One test program per module, registered with CTest.
 */
#ifndef LG_TEST_H
#define LG_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

static int lg_test_failures;
static int lg_test_checks;

#define LG_FAIL_AT(...)                                                                            \
  do {                                                                                             \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                                \
    fprintf(stderr, __VA_ARGS__);                                                                  \
    fputc('\n', stderr);                                                                           \
    lg_test_failures++;                                                                            \
  } while (0)

#define LG_CHECK(cond)                                                                             \
  do {                                                                                             \
    lg_test_checks++;                                                                              \
    if (!(cond)) LG_FAIL_AT("check failed: %s", #cond);                                            \
  } while (0)

#define LG_EQ_INT(a, b)                                                                            \
  do {                                                                                             \
    long long lg_a_ = (long long)(a), lg_b_ = (long long)(b);                                      \
    lg_test_checks++;                                                                              \
    if (lg_a_ != lg_b_) LG_FAIL_AT("%s == %s: %lld != %lld", #a, #b, lg_a_, lg_b_);                \
  } while (0)

#define LG_EQ_STR(a, b)                                                                            \
  do {                                                                                             \
    const char *lg_a_ = (a), *lg_b_ = (b);                                                         \
    lg_test_checks++;                                                                              \
    if (lg_a_ == NULL || lg_b_ == NULL || strcmp(lg_a_, lg_b_) != 0)                               \
      LG_FAIL_AT("%s == %s: \"%s\" != \"%s\"", #a, #b, lg_a_ ? lg_a_ : "(null)",                   \
                 lg_b_ ? lg_b_ : "(null)");                                                        \
  } while (0)

#define LG_NEAR(a, b, tol)                                                                         \
  do {                                                                                             \
    double lg_a_ = (a), lg_b_ = (b);                                                               \
    lg_test_checks++;                                                                              \
    if (!(fabs(lg_a_ - lg_b_) <= (tol)))                                                           \
      LG_FAIL_AT("%s ~ %s: %.9g vs %.9g (tolerance %g)", #a, #b, lg_a_, lg_b_, (double)(tol));     \
  } while (0)

/* Compares `n` bytes at `buf` with the hex string `hex` (2n digits). */
#define LG_EQ_HEX(buf, hex, n)                                                                     \
  do {                                                                                             \
    char lg_got_[2 * 256 + 1];                                                                     \
    lg_test_checks++;                                                                              \
    lg_hex_encode((const uint8_t *)(buf), (n), lg_got_, sizeof(lg_got_));                          \
    if (strcasecmp(lg_got_, (hex)) != 0)                                                           \
      LG_FAIL_AT("%s == %s: %s != %s", #buf, #hex, lg_got_, (hex));                                \
  } while (0)

/* Decodes a hex literal into a buffer for a test; aborts the test run on bad input. */
static inline size_t lg_test_hex(const char *hex, uint8_t *out, size_t cap) {
  size_t n = 0;
  if (lg_hex_decode(hex, strlen(hex), out, cap, &n) != 0) {
    fprintf(stderr, "bad hex literal in test: %s\n", hex);
    lg_test_failures++;
  }
  return n;
}

static inline int lg_test_report(const char *name) {
  if (lg_test_failures == 0)
    printf("%s: %d checks passed\n", name, lg_test_checks);
  else
    printf("%s: %d of %d checks FAILED\n", name, lg_test_failures, lg_test_checks);
  return lg_test_failures > 100 ? 100 : lg_test_failures;
}

#endif
