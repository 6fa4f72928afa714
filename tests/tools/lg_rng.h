/*
 * The seeded random source of lorageo's tests, benchmarks and generators: xorshift64
 * and Box-Muller. The same seed gives the same draws on every machine, so statistical
 * tests and benchmark inputs are reproducible.
 */
#ifndef LG_TEST_RNG_H
#define LG_TEST_RNG_H

#include <math.h>
#include <stdint.h>

struct lg_rng {
  uint64_t s; /* never 0 */
};

/* Uniform in (0, 1). */
static inline double lg_rng_uniform(struct lg_rng *r) {
  r->s ^= r->s << 13;
  r->s ^= r->s >> 7;
  r->s ^= r->s << 17;
  return ((double)(r->s >> 11) + 0.5) / 9007199254740992.0;
}

/* Standard normal. */
static inline double lg_rng_gauss(struct lg_rng *r) {
  double u = lg_rng_uniform(r), v = lg_rng_uniform(r);
  return sqrt(-2.0 * log(u)) * cos(2 * 3.14159265358979323846 * v);
}

#endif
