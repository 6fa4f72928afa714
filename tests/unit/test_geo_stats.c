/*
 * geo, statistically: seeded random layouts and Gaussian timing noise.
 *   - nls reaches the Cramér-Rao bound: at 10, 50 and 200 ns the RMS horizontal error
 *     is within 10 % of the RMS of the bound over the same layouts;
 *   - at 1 us it never leaves the region the gateways can hear (the thesis' km
 *     failures);
 *   - with one gateway in six delayed by a reflection (200-800 ns), the robust fit's
 *     median error is at most half of plain least squares'.
 * Deterministic: the same seed gives the same draws on every machine.
 */
#include <stdlib.h>

#include "lg_rng.h"

#include "geo/geo.h"
#include "lg_test.h"

static struct lg_rng rng = {0x9e3779b97f4a7c15ull};
static double uniform(void) {
  return lg_rng_uniform(&rng);
}
static double gauss(void) {
  return lg_rng_gauss(&rng);
}

struct layout {
  struct lg_geodetic dev;
  struct lg_geo_rx rx[8];
  double dist_m[8];
  size_t n;
};

/* Gateways uniform in a 6 km disc, the device in the inner 3 km; heights 0-80 m. */
static void random_layout(struct layout *l, size_t n) {
  struct lg_geodetic origin = {50.0 + 10 * uniform(), -5.0 + 20 * uniform(), 0};
  struct lg_enu_frame f;
  lg_enu_init(&f, &origin);
  double r = 3000 * sqrt(uniform()), th = 2 * LG_PI * uniform();
  double dev_enu[3] = {r * cos(th), r * sin(th), 0};
  lg_enu_to_geodetic(&f, dev_enu, &l->dev);
  l->dev.alt_m = 1.5;
  double dev_ecef[3];
  lg_geo_to_ecef(&l->dev, dev_ecef);
  l->n = n;
  for (size_t i = 0; i < n; i++) {
    double rr = 6000 * sqrt(uniform()), tt = 2 * LG_PI * uniform();
    double enu[3] = {rr * cos(tt), rr * sin(tt), 80 * uniform()};
    struct lg_geodetic g;
    lg_enu_to_geodetic(&f, enu, &g);
    double e[3];
    lg_geo_to_ecef(&g, e);
    l->dist_m[i] =
        sqrt(pow(e[0] - dev_ecef[0], 2) + pow(e[1] - dev_ecef[1], 2) + pow(e[2] - dev_ecef[2], 2));
    l->rx[i] = (struct lg_geo_rx){
        .lat_deg = g.lat_deg, .lon_deg = g.lon_deg, .alt_m = g.alt_m, .has_time = true};
  }
}

/* Arrival times with Gaussian noise sigma_ns plus an extra delay for gateway `late`. */
static void draw_times(struct layout *l, double sigma_ns, size_t late, double late_ns) {
  const int64_t t0 = 1790000000123456789LL;
  for (size_t i = 0; i < l->n; i++) {
    double t = l->dist_m[i] / LG_GEO_C_MPS * 1e9 + sigma_ns * gauss() + (i == late ? late_ns : 0);
    l->rx[i].time_ns = t0 + llround(t);
  }
}

static double err_m(const struct lg_geo_fix *f, const struct lg_geodetic *d) {
  return lg_geo_distance_m(f->lat_deg, f->lon_deg, d->lat_deg, d->lon_deg);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void test_crlb_efficiency(struct lg_geo_solver *s) {
  static const double sigmas[] = {10, 50, 200};
  for (size_t k = 0; k < LG_ARRAY_LEN(sigmas); k++) {
    double sum_err2 = 0, sum_crlb2 = 0;
    int fixes = 0, failures = 0;
    for (int lay = 0; lay < 40; lay++) {
      struct layout l;
      random_layout(&l, 4 + (size_t)(lay % 4));
      struct lg_geo_opts o = lg_geo_opts_default();
      o.method = LG_GEO_NLS;
      o.sigma_ns = sigmas[k];
      o.device_alt_m = l.dev.alt_m;
      double crlb = 0;
      if (lg_geo_crlb(l.rx, l.n, &l.dev, &o, &crlb) != 0) continue;
      for (int draw = 0; draw < 50; draw++) {
        draw_times(&l, sigmas[k], l.n, 0);
        struct lg_geo_fix fix;
        if (lg_geo_solve(s, l.rx, l.n, &o, &fix, NULL, 0) != 0) {
          failures++;
          continue;
        }
        double e = err_m(&fix, &l.dev);
        sum_err2 += e * e;
        sum_crlb2 += crlb * crlb;
        fixes++;
      }
    }
    double ratio = sqrt(sum_err2 / sum_crlb2);
    printf("sigma %4.0f ns: %d fixes, RMS error / RMS CRLB = %.3f (RMS error %.2f m)\n", sigmas[k],
           fixes, ratio, sqrt(sum_err2 / fixes));
    LG_EQ_INT(failures, 0);
    LG_CHECK(ratio > 0.9 && ratio < 1.1);
  }
}

static void test_no_divergence(struct lg_geo_solver *s) {
  int outside = 0, fixes = 0, undetermined = 0, other = 0;
  double worst = 0;
  for (int lay = 0; lay < 200; lay++) {
    struct layout l;
    random_layout(&l, 3 + (size_t)(lay % 4));
    struct lg_geo_opts o = lg_geo_opts_default();
    o.method = LG_GEO_NLS;
    o.sigma_ns = 1000;
    o.device_alt_m = l.dev.alt_m;
    for (int draw = 0; draw < 10; draw++) {
      draw_times(&l, 1000, l.n, 0);
      struct lg_geo_fix fix;
      char why[200];
      if (lg_geo_solve(s, l.rx, l.n, &o, &fix, why, sizeof(why)) != 0) {
        /* a fix whose 95 % radius exceeds 50 km is refused, saying so */
        if (strstr(why, "undetermined"))
          undetermined++;
        else
          other++;
        continue;
      }
      fixes++;
      LG_CHECK(fix.accuracy_95_m < 50000);
      /* The region: within 15 km of the farthest gateway from the centre (6 km). */
      double e = err_m(&fix, &l.dev);
      worst = fmax(worst, e);
      if (e > 3000 + 6000 + 15000) outside++;
    }
  }
  printf("sigma 1000 ns: %d fixes, worst error %.0f m, %d outside the region, %d refused as "
         "undetermined\n",
         fixes, worst, outside, undetermined);
  LG_CHECK(fixes >= 1800);
  LG_CHECK(other <= 20); /* the solver's own "no position within range" */
  LG_EQ_INT(outside, 0);
}

static void test_nlos(struct lg_geo_solver *s) {
  enum { N = 600 };
  static double robust[N], plain[N];
  int excluded_right = 0;
  for (int k = 0; k < N; k++) {
    struct layout l;
    random_layout(&l, 6);
    size_t late = (size_t)(uniform() * 6);
    draw_times(&l, 20, late, 200 + 600 * uniform());
    struct lg_geo_opts o = lg_geo_opts_default();
    o.method = LG_GEO_NLS;
    o.sigma_ns = 20;
    o.device_alt_m = l.dev.alt_m;
    struct lg_geo_fix fix;
    o.robust = false;
    plain[k] = lg_geo_solve(s, l.rx, l.n, &o, &fix, NULL, 0) == 0 ? err_m(&fix, &l.dev) : 1e9;
    o.robust = true;
    robust[k] = lg_geo_solve(s, l.rx, l.n, &o, &fix, NULL, 0) == 0 ? err_m(&fix, &l.dev) : 1e9;
    if (fix.excluded == (1ull << late)) excluded_right++;
  }
  qsort(robust, N, sizeof(double), cmp_double);
  qsort(plain, N, sizeof(double), cmp_double);
  printf("NLOS 1 in 6 (200-800 ns late): median error robust %.1f m, plain %.1f m; late gateway "
         "excluded in %d of %d\n",
         robust[N / 2], plain[N / 2], excluded_right, N);
  LG_CHECK(robust[N / 2] <= 0.5 * plain[N / 2]);
  /* and it is the late gateway the test drops, alone (518 of 600 with this seed) */
  LG_CHECK(excluded_right >= 8 * N / 10);
}

int main(void) {
  struct lg_geo_solver *s = lg_geo_solver_new();
  test_crlb_efficiency(s);
  test_no_divergence(s);
  test_nlos(s);
  lg_geo_solver_free(s);
  return lg_test_report("test_geo_stats");
}
