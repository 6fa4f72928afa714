/*
 * geo/fingerprint: a seeded synthetic city — 12 gateways, a log-distance path loss with
 * a shadowing field fixed in space per gateway (buildings do not move) and 2 dB of
 * per-frame noise, frames heard only above -125 dBm. A map learned from 3,000 frames
 * with truth (6,000 frames on 25 streets) must locate 1,000 new frames better than the kNN baseline on the same map
 * and far better than the RSSI-weighted centroid; its stated accuracies must hold as
 * often as they say; the file must round-trip exactly; bad files and frames must be
 * refused with a reason. And fusion: frames whose three strongest gateways also give a
 * GPS time (two candidate positions) are settled by the map under `auto`. And a common
 * offset: when each frame is louder or quieter at every gateway at once (a device's
 * antenna, its vehicle), cross-validation must see it (offset_db > 0) and integrating
 * it out must locate better than ignoring it.
 */
#include <stdlib.h>

#include "geo/geo.h"
#include "lg_rng.h"
#include "lg_test.h"

#define N_GW    12
#define N_TRAIN 6000
#define N_TEST  1000
#define SIDE_M  6000.0

static const struct lg_geodetic origin = {51.2, 4.42, 0};
static char gw_name[N_GW][16];
static double gw_en[N_GW][2];
/* the shadowing field: a few plane waves per gateway, seeded */
static double wave[N_GW][6][3];
/* standard deviation of a frame's common RSSI offset at all gateways (dB; 0: none) */
static double common_sd_db;

static double shadowing_db(int g, double e, double n) {
  double s = 0;
  for (int k = 0; k < 6; k++)
    s += 2.5 * sin(wave[g][k][0] * e + wave[g][k][1] * n + wave[g][k][2]);
  return s; /* about 6 dB standard deviation */
}

static void setup(struct lg_rng *r) {
  for (int g = 0; g < N_GW; g++) {
    snprintf(gw_name[g], sizeof(gw_name[g]), "gw%02d", g);
    gw_en[g][0] = (lg_rng_uniform(r) - 0.5) * SIDE_M * 1.2;
    gw_en[g][1] = (lg_rng_uniform(r) - 0.5) * SIDE_M * 1.2;
    for (int k = 0; k < 6; k++) {
      double len_m = 300 + 1200 * lg_rng_uniform(r), dir = 2 * LG_PI * lg_rng_uniform(r);
      wave[g][k][0] = 2 * LG_PI / len_m * cos(dir);
      wave[g][k][1] = 2 * LG_PI / len_m * sin(dir);
      wave[g][k][2] = 2 * LG_PI * lg_rng_uniform(r);
    }
  }
}

/* A frame sent at a random point on one of 40 seeded streets; returns its receptions. */
static size_t frame(struct lg_rng *r, struct lg_enu_frame *f, struct lg_geodetic *truth,
                    struct lg_geo_rx *rx) {
  int street = (int)(lg_rng_uniform(r) * 25);
  struct lg_rng sr = {0x9e3779b97f4a7c15ull ^ (uint64_t)(unsigned)(street + 1) * 0x100000001b3ull};
  double a[2] = {(lg_rng_uniform(&sr) - 0.5) * SIDE_M, (lg_rng_uniform(&sr) - 0.5) * SIDE_M};
  double b[2] = {(lg_rng_uniform(&sr) - 0.5) * SIDE_M, (lg_rng_uniform(&sr) - 0.5) * SIDE_M};
  double t = lg_rng_uniform(r);
  double en[3] = {a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), 0};
  lg_enu_to_geodetic(f, en, truth);
  size_t n = 0;
  double common_db = common_sd_db > 0 ? common_sd_db * lg_rng_gauss(r) : 0.0;
  for (int g = 0; g < N_GW; g++) {
    double d_m = fmax(10.0, hypot(en[0] - gw_en[g][0], en[1] - gw_en[g][1]));
    double rssi = 14 - 128.95 - 23.2 * log10(d_m / 1000.0) + shadowing_db(g, en[0], en[1]) +
                  2.0 * lg_rng_gauss(r) + common_db;
    if (rssi < -125) continue;
    double gen[3] = {gw_en[g][0], gw_en[g][1], 30};
    struct lg_geodetic gg;
    lg_enu_to_geodetic(f, gen, &gg);
    rx[n++] = (struct lg_geo_rx){.lat_deg = gg.lat_deg, .lon_deg = gg.lon_deg, .alt_m = 30,
                                 .has_rssi = true, .rssi_dbm = round(rssi), .name = gw_name[g]};
  }
  return n;
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

struct result {
  double median_m, mean_m, in68, in95;
  size_t fixes;
};

static struct result run(struct lg_geo_solver *s, const struct lg_geo_opts *o,
                         struct lg_rng rng, struct lg_enu_frame *f) {
  static double err[N_TEST];
  struct result res = {0};
  size_t in68 = 0, in95 = 0;
  for (int i = 0; i < N_TEST; i++) {
    struct lg_geo_rx rx[N_GW];
    struct lg_geodetic truth;
    size_t n = frame(&rng, f, &truth, rx);
    struct lg_geo_fix fix;
    if (n == 0 || lg_geo_solve(s, rx, n, o, &fix, NULL, 0) != 0) continue;
    double e = lg_geo_distance_m(fix.lat_deg, fix.lon_deg, truth.lat_deg, truth.lon_deg);
    err[res.fixes++] = e;
    res.mean_m += e;
    in68 += e <= fix.accuracy_m;
    in95 += e <= fix.accuracy_95_m;
  }
  qsort(err, res.fixes, sizeof(double), cmp_dbl);
  res.median_m = err[res.fixes / 2];
  res.mean_m /= (double)res.fixes;
  res.in68 = (double)in68 / (double)res.fixes;
  res.in95 = (double)in95 / (double)res.fixes;
  fprintf(stderr, "%-12s %zu fixes: median %.0f m, mean %.0f m, within accuracy_m %.3f, 95: %.3f\n",
          lg_geo_method_name(o->method), res.fixes, res.median_m, res.mean_m, res.in68, res.in95);
  return res;
}

/* Three-gateway time of arrival (50 ns) on the city's frames, without and with the map. */
static void test_fusion(struct lg_geo_solver *s, const struct lg_radio_map *m,
                        struct lg_enu_frame *f) {
  struct lg_rng r = {31337};
  int plain_alt = 0, fused_alt = 0, settled = 0, fixes = 0, in95 = 0, beyond = 0;
  double plain_err = 0, fused_err = 0, plain_r95 = 0, fused_r95 = 0;
  for (int i = 0; i < 2000; i++) {
    struct lg_geo_rx rx[N_GW];
    struct lg_geodetic truth;
    size_t n = frame(&r, f, &truth, rx);
    if (n < 3) continue;
    double dev[3];
    lg_geo_to_ecef(&truth, dev);
    for (size_t k = 0; k < 3; k++) { /* the first three heard give a GPS time too */
      struct lg_geodetic g = {rx[k].lat_deg, rx[k].lon_deg, rx[k].alt_m};
      double e[3];
      lg_geo_to_ecef(&g, e);
      double d = sqrt(pow(e[0] - dev[0], 2) + pow(e[1] - dev[1], 2) + pow(e[2] - dev[2], 2));
      rx[k].has_time = true;
      rx[k].time_ns = 1790000000000000000LL + llround(d / LG_GEO_C_MPS * 1e9 + 50 * lg_rng_gauss(&r));
      rx[k].sigma_ns = 50;
    }
    struct lg_geo_opts o = lg_geo_opts_default();
    struct lg_geo_fix a, b;
    if (lg_geo_solve(s, rx, n, &o, &a, NULL, 0) != 0) continue; /* no map: nls */
    o.radio_map = m;
    if (lg_geo_solve(s, rx, n, &o, &b, NULL, 0) != 0) continue;
    LG_EQ_INT(b.method, LG_GEO_NLS);
    fixes++;
    double ea = lg_geo_distance_m(a.lat_deg, a.lon_deg, truth.lat_deg, truth.lon_deg);
    double eb = lg_geo_distance_m(b.lat_deg, b.lon_deg, truth.lat_deg, truth.lon_deg);
    plain_err += ea;
    fused_err += eb;
    plain_r95 += a.accuracy_95_m;
    fused_r95 += b.accuracy_95_m;
    plain_alt += a.n_alternatives;
    fused_alt += b.n_alternatives;
    settled += b.n_alternatives && b.accuracy_95_m < a.accuracy_95_m;
    in95 += eb <= b.accuracy_95_m;
    beyond += eb > 3 * b.accuracy_95_m;
  }
  printf("fusion: %d three-gateway fixes, %d with two roots; the map settled %d; mean error %.0f m "
         "-> %.0f m, mean 95 %% radius %.0f m -> %.0f m; within it %.3f, beyond 3x %d\n",
         fixes, plain_alt, settled, plain_err / fixes, fused_err / fixes, plain_r95 / fixes,
         fused_r95 / fixes, (double)in95 / fixes, beyond);
  LG_EQ_INT(fused_alt, plain_alt); /* the other root is still reported */
  LG_CHECK(plain_alt > 50 && settled > plain_alt / 2);
  LG_CHECK(fused_err < plain_err);
  LG_CHECK(fused_r95 < 0.8 * plain_r95);
  LG_CHECK((double)in95 / fixes >= 0.9 && (double)in95 / fixes <= 0.99);
  LG_CHECK(beyond <= fixes / 50);
}

static void test_city(void) {
  struct lg_rng rng = {20261206};
  setup(&rng);
  struct lg_enu_frame f;
  lg_enu_init(&f, &origin);
  struct lg_fp_builder *b = lg_fp_builder_new();
  LG_CHECK(b != NULL);
  for (int i = 0; i < N_TRAIN; i++) {
    struct lg_geo_rx rx[N_GW];
    struct lg_geodetic truth;
    size_t n = frame(&rng, &f, &truth, rx);
    int rc = lg_fp_builder_add(b, &truth, rx, n);
    LG_CHECK(rc == 0 || (n == 0 && rc == LG_EINVAL));
  }
  struct lg_fp_params p = lg_fp_params_default();
  LG_EQ_INT(lg_fp_cross_validate(b, &p), 0);
  LG_CHECK(p.k68 > 0.3 && p.k68 < 5 && p.k95 > p.k68);
  struct lg_radio_map *m = NULL;
  LG_EQ_INT(lg_fp_build(b, &p, &m), 0);
  LG_CHECK(m != NULL && lg_radio_map_cells(m) > 100);

  struct lg_geo_solver *s = lg_geo_solver_new();
  struct lg_geo_opts o = lg_geo_opts_default();
  o.radio_map = m;
  struct lg_rng test_rng = {777};
  o.method = LG_GEO_FINGERPRINT;
  struct result fp = run(s, &o, test_rng, &f);
  o.method = LG_GEO_KNN;
  struct result knn = run(s, &o, test_rng, &f);
  o.method = LG_GEO_CENTROID;
  struct result cen = run(s, &o, test_rng, &f);
  o.method = LG_GEO_AUTO; /* untimed receptions and a map: fingerprint */
  struct result au = run(s, &o, test_rng, &f);

  LG_CHECK(fp.fixes > N_TEST * 9 / 10);
  LG_CHECK(fp.median_m < 0.8 * knn.median_m); /* learned model beats nearest neighbours */
  LG_CHECK(fp.mean_m < knn.mean_m);
  LG_CHECK(fp.median_m < 0.3 * cen.median_m);
  LG_CHECK(fp.median_m < 150);
  LG_NEAR(au.median_m, fp.median_m, 1e-9);
  /* honest accuracy: the 68 % and 95 % radii hold about as often as they say */
  LG_CHECK(fp.in68 >= 0.6 && fp.in68 <= 0.8);
  LG_CHECK(fp.in95 >= 0.9 && fp.in95 <= 0.98);
  LG_CHECK(knn.in68 >= 0.6 && knn.in68 <= 0.8);
  LG_CHECK(knn.in95 >= 0.9 && knn.in95 <= 0.98);

  /* The file round-trips: the same fixes from the map read back. */
  const char *path = "test_fingerprint.radiomap.json";
  LG_EQ_INT(lg_radio_map_save(m, path), 0);
  struct lg_radio_map *m2 = NULL;
  char why[256] = "";
  LG_EQ_INT(lg_radio_map_load(path, &m2, why, sizeof(why)), 0);
  LG_EQ_INT(lg_radio_map_cells(m2), lg_radio_map_cells(m));
  o.method = LG_GEO_FINGERPRINT;
  struct lg_rng r2 = {4242};
  for (int i = 0; i < 50 && m2; i++) {
    struct lg_geo_rx rx[N_GW];
    struct lg_geodetic truth;
    size_t n = frame(&r2, &f, &truth, rx);
    struct lg_geo_fix a, c;
    o.radio_map = m;
    int ra = lg_geo_solve(s, rx, n, &o, &a, NULL, 0);
    o.radio_map = m2;
    int rc = lg_geo_solve(s, rx, n, &o, &c, NULL, 0);
    LG_EQ_INT(ra, rc);
    if (ra == 0) LG_CHECK(lg_geo_distance_m(a.lat_deg, a.lon_deg, c.lat_deg, c.lon_deg) < 0.05);
  }
  /* A frame heard only by gateways the map does not know is refused with its reason. */
  struct lg_geo_rx stranger = {.lat_deg = 51.2, .lon_deg = 4.42, .has_rssi = true,
                               .rssi_dbm = -100, .name = "not-in-map"};
  struct lg_geo_fix fix;
  LG_EQ_INT(lg_geo_solve(s, &stranger, 1, &o, &fix, why, sizeof(why)), LG_EINVAL);
  LG_CHECK(strstr(why, "radio map") != NULL);
  o.radio_map = NULL;
  LG_EQ_INT(lg_geo_solve(s, &stranger, 1, &o, &fix, why, sizeof(why)), LG_EINVAL);
  LG_CHECK(strstr(why, "needs a radio map") != NULL);

  test_fusion(s, m, &f);
  remove(path);
  lg_radio_map_free(m2);
  lg_radio_map_free(m);
  lg_geo_solver_free(s);
  lg_fp_builder_free(b);
}

/* Frames with a 5 dB common offset: chosen by cross-validation, and better integrated
 * out than ignored on the same map. */
static void test_common_offset(void) {
  struct lg_rng rng = {20261207};
  setup(&rng);
  common_sd_db = 5.0;
  struct lg_enu_frame f;
  lg_enu_init(&f, &origin);
  struct lg_fp_builder *b = lg_fp_builder_new();
  LG_CHECK(b != NULL);
  for (int i = 0; i < N_TRAIN; i++) {
    struct lg_geo_rx rx[N_GW];
    struct lg_geodetic truth;
    size_t n = frame(&rng, &f, &truth, rx);
    if (n > 0) LG_EQ_INT(lg_fp_builder_add(b, &truth, rx, n), 0);
  }
  struct lg_fp_params p = lg_fp_params_default();
  LG_EQ_INT(lg_fp_cross_validate(b, &p), 0);
  fprintf(stderr, "common offset 5 dB: cross-validation chose offset_db %.1f, sharpen %.1f\n",
          p.offset_db, p.sharpen);
  LG_CHECK(p.offset_db >= 2.0);
  LG_CHECK(p.sharpen >= 1.0 && p.sharpen <= 3.0);
  struct lg_fp_params ignored = p;
  ignored.offset_db = 0;
  struct lg_radio_map *m = NULL, *m0 = NULL;
  LG_EQ_INT(lg_fp_build(b, &p, &m), 0);
  LG_EQ_INT(lg_fp_build(b, &ignored, &m0), 0);
  struct lg_geo_solver *s = lg_geo_solver_new();
  struct lg_geo_opts o = lg_geo_opts_default();
  o.method = LG_GEO_FINGERPRINT;
  struct lg_rng test_rng = {778};
  o.radio_map = m;
  struct result with = run(s, &o, test_rng, &f);
  o.radio_map = m0;
  struct result without = run(s, &o, test_rng, &f);
  LG_CHECK(with.mean_m < 0.95 * without.mean_m);
  LG_CHECK(with.median_m < without.median_m);
  /* both round-trip through the file */
  const char *path = "test_fingerprint.offset.json";
  LG_EQ_INT(lg_radio_map_save(m, path), 0);
  struct lg_radio_map *m2 = NULL;
  char why[256] = "";
  LG_EQ_INT(lg_radio_map_load(path, &m2, why, sizeof(why)), 0);
  if (m2) {
    LG_NEAR(lg_radio_map_params(m2).offset_db, p.offset_db, 1e-3);
    LG_NEAR(lg_radio_map_params(m2).sharpen, p.sharpen, 1e-3);
  }
  remove(path);
  common_sd_db = 0;
  lg_radio_map_free(m2);
  lg_radio_map_free(m0);
  lg_radio_map_free(m);
  lg_geo_solver_free(s);
  lg_fp_builder_free(b);
}

static void expect_refused(const char *text, const char *reason) {
  const char *path = "test_fingerprint.bad.json";
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  struct lg_radio_map *m = (struct lg_radio_map *)1;
  char why[256] = "";
  LG_EQ_INT(lg_radio_map_load(path, &m, why, sizeof(why)), LG_EINVAL);
  LG_CHECK(m == NULL);
  if (strstr(why, reason) == NULL) LG_FAIL_AT("reason '%s' lacks '%s'", why, reason);
  remove(path);
}

static void test_bad_files(void) {
  const char *params = "\"params\":{\"cell_m\":50,\"kernel_m\":100,\"sigma_db\":4,"
                       "\"floor_dbm\":-125,\"k68\":1,\"k95\":2,\"knn_k68\":1,\"knn_k95\":2}";
  char buf[1024];
  expect_refused("not json", "test_fingerprint.bad.json:1");
  expect_refused("{\"format\":\"something-else\",\"version\":1}", "not a radio map");
  expect_refused("{\"format\":\"lorageo-radio-map\",\"version\":7}", "version 7");
  snprintf(buf, sizeof(buf),
           "{\"format\":\"lorageo-radio-map\",\"version\":1,%s,\"gateways\":[\"a\"],"
           "\"points\":[[51.2,4.4,[[3,-100]]]]}",
           params);
  expect_refused(buf, "point 0: reception 0");
  snprintf(buf, sizeof(buf),
           "{\"format\":\"lorageo-radio-map\",\"version\":1,%s,\"gateways\":[\"a\"],"
           "\"points\":[[95,4.4,[[0,-100]]]]}",
           params);
  expect_refused(buf, "point 0");
  expect_refused("{\"format\":\"lorageo-radio-map\",\"version\":1,\"params\":{\"cell_m\":0},"
                 "\"gateways\":[\"a\"],\"points\":[[51,4,[]]]}",
                 "cell_m");
  /* a map written before offset_db and sharpen existed: none and the posterior mean */
  const char *path = "test_fingerprint.old.json";
  snprintf(buf, sizeof(buf),
           "{\"format\":\"lorageo-radio-map\",\"version\":1,%s,\"gateways\":[\"a\"],"
           "\"points\":[[51.2,4.4,[[0,-100]]]]}",
           params);
  FILE *f = fopen(path, "w");
  fputs(buf, f);
  fclose(f);
  struct lg_radio_map *m = NULL;
  char why[256] = "";
  LG_EQ_INT(lg_radio_map_load(path, &m, why, sizeof(why)), 0);
  if (m) {
    LG_NEAR(lg_radio_map_params(m).offset_db, 0.0, 0);
    LG_NEAR(lg_radio_map_params(m).sharpen, 1.0, 0);
  }
  lg_radio_map_free(m);
  remove(path);
  snprintf(buf, sizeof(buf),
           "{\"format\":\"lorageo-radio-map\",\"version\":1,\"params\":{\"cell_m\":50,"
           "\"kernel_m\":100,\"sigma_db\":4,\"floor_dbm\":-125,\"offset_db\":2,\"sharpen\":0,"
           "\"k68\":1,\"k95\":2,\"knn_k68\":1,\"knn_k95\":2},\"gateways\":[\"a\"],"
           "\"points\":[[51.2,4.4,[[0,-100]]]]}");
  expect_refused(buf, "sharpen");
}

int main(void) {
  test_city();
  test_common_offset();
  test_bad_files();
  return lg_test_report("test_fingerprint");
}
