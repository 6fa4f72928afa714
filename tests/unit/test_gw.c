/*
 * gw: the Semtech UDP protocol (PROTOCOL.TXT v1.4/v1.5 layouts), receive-time parsing
 * with any number of fractional digits, GPS to Unix time across leap seconds, the choice
 * of a reception's best timestamp and the patent's antenna combination.
 */
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw/gw.h"
#include "lg_test.h"

static void test_header(void) {
  struct lg_gw_header h;
  uint8_t push[] = {2, 0xab, 0xcd, 0, 0xaa, 0x55, 0x5a, 0, 0, 0, 0, 1, '{', '}'};
  LG_EQ_INT(lg_gw_parse_header(push, sizeof(push), &h), 0);
  LG_EQ_INT(h.version, 2);
  LG_EQ_INT(h.token, 0xabcd);
  LG_EQ_INT(h.type, LG_GW_PUSH_DATA);
  LG_EQ_INT(h.gateway_eui, 0xaa555a0000000001ll);
  LG_EQ_INT(h.body_off, 12);
  uint8_t ack[4];
  lg_gw_build_ack(&h, ack);
  LG_EQ_HEX(ack, "02abcd01", 4);
  push[3] = LG_GW_PULL_DATA;
  LG_EQ_INT(lg_gw_parse_header(push, 12, &h), 0);
  lg_gw_build_ack(&h, ack);
  LG_EQ_HEX(ack, "02abcd04", 4);
  push[0] = 1; /* version 1 still in the field */
  LG_EQ_INT(lg_gw_parse_header(push, 12, &h), 0);
  LG_EQ_INT(lg_gw_parse_header(push, 3, &h), LG_GW_ESHORT);
  LG_EQ_INT(lg_gw_parse_header(push, 11, &h), LG_GW_ESHORT);
  push[0] = 3;
  LG_EQ_INT(lg_gw_parse_header(push, 12, &h), LG_GW_EVERSION);
  push[0] = 2;
  push[3] = LG_GW_PULL_ACK; /* a server-to-gateway type */
  LG_EQ_INT(lg_gw_parse_header(push, 12, &h), LG_GW_ETYPE);
  push[3] = 9;
  LG_EQ_INT(lg_gw_parse_header(push, 12, &h), LG_GW_ETYPE);
  push[3] = LG_GW_TX_ACK;
  memset(push + 4, 0, 8);
  LG_EQ_INT(lg_gw_parse_header(push, 12, &h), LG_GW_EEUI);
  LG_EQ_STR(lg_gw_strerror(LG_GW_EEUI), "zero_eui");
}

static void test_time(void) {
  int64_t ns;
  int d;
  LG_EQ_INT(lg_gw_parse_time("2013-03-31T16:21:17.528002Z", 27, &ns, &d), 0);
  LG_EQ_INT(ns, 1364746877528002000LL);
  LG_EQ_INT(d, 6);
  const char *s9 = "2013-03-31T16:21:17.528002123Z";
  LG_EQ_INT(lg_gw_parse_time(s9, strlen(s9), &ns, &d), 0);
  LG_EQ_INT(ns, 1364746877528002123LL);
  LG_EQ_INT(d, 9);
  const char *s12 = "2013-03-31T16:21:17.528002123456Z"; /* sub-ns digits dropped */
  LG_EQ_INT(lg_gw_parse_time(s12, strlen(s12), &ns, &d), 0);
  LG_EQ_INT(ns, 1364746877528002123LL);
  const char *s0 = "2013-03-31T16:21:17Z";
  LG_EQ_INT(lg_gw_parse_time(s0, strlen(s0), &ns, &d), 0);
  LG_EQ_INT(ns, 1364746877000000000LL);
  LG_EQ_INT(d, 0);
  const char *off = "2013-03-31T17:21:17.5+01:00";
  LG_EQ_INT(lg_gw_parse_time(off, strlen(off), &ns, &d), 0);
  LG_EQ_INT(ns, 1364746877500000000LL);
  const char *leap = "2024-02-29T00:00:00Z";
  LG_EQ_INT(lg_gw_parse_time(leap, strlen(leap), &ns, NULL), 0);
  static const char *bad[] = {"2013-03-31T16:21:17.528002", "2013-13-31T16:21:17Z",
                              "2013-02-29T00:00:00Z",       "2013-03-31T16:21:17.Z",
                              "2013-03-31X16:21:17Z",       "2013-03-31T16:21:17Zjunk",
                              "2013-03-31T25:21:17Z",       "13-03-31T16:21:17Z"};
  for (size_t i = 0; i < LG_ARRAY_LEN(bad); i++)
    if (lg_gw_parse_time(bad[i], strlen(bad[i]), &ns, &d) != LG_EINVAL)
      LG_FAIL_AT("accepted bad time %s", bad[i]);

  /* GPS to Unix: 18 leap seconds since 2017, 17 during 2016. */
  int64_t unix_2026 = 1795000000LL;
  LG_EQ_INT(lg_gw_gps_to_unix_ns((unix_2026 - 315964800 + 18) * 1000000000LL),
            unix_2026 * 1000000000LL);
  int64_t unix_2016 = 1483185600LL; /* 2016-12-31T12:00:00Z */
  LG_EQ_INT(lg_gw_gps_to_unix_ns((unix_2016 - 315964800 + 17) * 1000000000LL),
            unix_2016 * 1000000000LL);
  LG_EQ_INT(lg_gw_gps_to_unix_ns(0), 315964800LL * 1000000000LL);
  /* and back (DeviceTimeAns), on both sides of a leap second and at the epoch */
  LG_EQ_INT(lg_gw_unix_to_gps_ns(unix_2026 * 1000000000LL + 5),
            (unix_2026 - 315964800 + 18) * 1000000000LL + 5);
  LG_EQ_INT(lg_gw_unix_to_gps_ns(unix_2016 * 1000000000LL), (unix_2016 - 315964800 + 17) * 1000000000LL);
  LG_EQ_INT(lg_gw_unix_to_gps_ns(315964800LL * 1000000000LL), 0);
  for (int64_t u = 1400000000LL; u < 1800000000LL; u += 7777777)
    if (lg_gw_gps_to_unix_ns(lg_gw_unix_to_gps_ns(u * 1000000000LL)) != u * 1000000000LL)
      LG_FAIL_AT("unix %lld does not come back from GPS time", (long long)u);
}

static void test_best_time(void) {
  struct lg_gw_rxpk r;
  int64_t t;
  double sigma;
  memset(&r, 0, sizeof(r));
  /* tmms (GPS ms) + ftime: whole GPS second + ns since the PPS. */
  int64_t gps_s = 1795000000LL - 315964800 + 18;
  r.has_tmms = true;
  r.tmms_ms = gps_s * 1000 + 123;
  r.has_ftime = true;
  r.ftime_ns = 123456789;
  LG_CHECK(lg_gw_best_time(&r, 20, &t, &sigma));
  LG_EQ_INT(t, 1795000000123456789LL);
  LG_NEAR(sigma, 20, 1e-12);
  /* time with microseconds only: quantisation noise 1000/sqrt(12) = 288.7 ns */
  memset(&r, 0, sizeof(r));
  r.has_time = true;
  r.time_ns = 1795000000123456000LL;
  r.time_digits = 6;
  LG_CHECK(lg_gw_best_time(&r, 20, &t, &sigma));
  LG_EQ_INT(t, 1795000000123456000LL);
  LG_NEAR(sigma, 288.675, 1e-3);
  r.time_digits = 9;
  LG_CHECK(lg_gw_best_time(&r, 20, &t, &sigma));
  LG_NEAR(sigma, 20, 1e-12);
  r.time_digits = 3; /* milliseconds: not usable for TDOA */
  LG_CHECK(!lg_gw_best_time(&r, 20, &t, &sigma));
  memset(&r, 0, sizeof(r));
  r.has_tmms = true; /* tmms alone: 1 ms = 300 km */
  r.tmms_ms = gps_s * 1000;
  LG_CHECK(!lg_gw_best_time(&r, 20, &t, &sigma));

  /* Antennas: -100 and -103 dBm kept (within 6 dB), -110 dropped; times averaged. */
  r.n_ant = 3;
  r.ant[0] = (struct lg_gw_antenna){
      .ant = 0, .has_rssi = true, .rssi_dbm = -103, .has_ftime = true, .ftime_ns = 1000};
  r.ant[1] = (struct lg_gw_antenna){
      .ant = 1, .has_rssi = true, .rssi_dbm = -100, .has_ftime = true, .ftime_ns = 1100};
  r.ant[2] = (struct lg_gw_antenna){
      .ant = 2, .has_rssi = true, .rssi_dbm = -110, .has_ftime = true, .ftime_ns = 5000};
  int64_t f;
  double best;
  LG_EQ_INT(lg_gw_combine_antennas(&r, &f, &best), 2);
  LG_EQ_INT(f, 1050);
  LG_NEAR(best, -100, 0);
  LG_CHECK(lg_gw_best_time(&r, 20, &t, &sigma)); /* tmms + combined fine time */
  LG_EQ_INT(t, 1795000000000001050LL);
  /* Across a second boundary the average stays at the boundary, not half a second off. */
  r.ant[0].ftime_ns = 999999990;
  r.ant[1].ftime_ns = 10;
  LG_EQ_INT(lg_gw_combine_antennas(&r, &f, NULL), 2);
  LG_EQ_INT(f, 0);
  r.n_ant = 0;
  LG_EQ_INT(lg_gw_combine_antennas(&r, &f, NULL), 0);
}

static void test_push(void) {
  /* Data: the V1 uplink of lorawan-vectors.md, base64. */
  const char *body =
      "{\"rxpk\":[{\"time\":\"2026-11-21T10:00:00.000123456Z\",\"tmms\":1479035218000,"
      "\"tmst\":3512348611,\"ftime\":123456,\"chan\":2,\"rfch\":0,\"freq\":868.100000,\"stat\":1,"
      "\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/5\",\"rssi\":-35,\"lsnr\":5.1,"
      "\"foff\":-123,\"size\":17,\"data\":\"QPF9vkkAAgABlUN4disR/w0=\","
      "\"rsig\":[{\"ant\":0,\"chan\":2,\"rssic\":-36,\"lsnr\":5.0,\"ftime\":123450},"
      "{\"ant\":1,\"chan\":2,\"rssic\":-40,\"lsnr\":4.0,\"ftime\":123462}]},"
      "{\"tmst\":1,\"freq\":868.3,\"stat\":-1,\"datr\":\"SF7BW125\",\"size\":1,\"data\":\"AA==\"},"
      "{\"tmst\":2,\"freq\":868.3,\"stat\":1,\"datr\":\"SF7BW125\",\"size\":1,\"data\":\"!!!\"},"
      "{\"tmst\":3,\"freq\":868.5,\"stat\":1,\"datr\":50000,\"size\":3,\"data\":\"AQID\"}],"
      "\"stat\":{\"time\":\"2014-01-12 08:59:28 "
      "GMT\",\"lati\":55.78191,\"long\":12.51783,\"alti\":58,"
      "\"rxnb\":2,\"rxok\":2,\"rxfw\":2,\"ackr\":100.0,\"dwnb\":2,\"txnb\":2}}";
  static struct lg_gw_push p;
  char why[128];
  LG_EQ_INT(lg_gw_parse_push(body, strlen(body), &p, why, sizeof(why)), 0);
  LG_EQ_INT(p.n_rxpk, 2);
  LG_EQ_INT(p.n_rejected, 2);
  LG_EQ_INT(p.n_crc_bad, 1);
  LG_CHECK(strstr(why, "CRC") != NULL);
  const struct lg_gw_rxpk *r = &p.rxpk[0];
  LG_CHECK(r->has_time && r->time_digits == 9);
  LG_EQ_INT(r->time_ns % 1000000000, 123456);
  LG_EQ_INT(r->tmms_ms, 1479035218000LL);
  LG_EQ_INT(r->tmst, 3512348611u);
  LG_EQ_INT(r->ftime_ns, 123456);
  LG_EQ_INT(r->freq_hz, 868100000);
  LG_EQ_INT(r->sf, 7);
  LG_EQ_INT(r->bw_hz, 125000);
  LG_EQ_STR(r->codr, "4/5");
  LG_NEAR(r->rssi_dbm, -35, 0);
  LG_NEAR(r->snr_db, 5.1, 1e-12);
  LG_NEAR(r->foff_hz, -123, 0);
  LG_EQ_INT(r->size, 17);
  LG_EQ_HEX(r->data, "40f17dbe4900020001954378762b11ff0d", 17);
  LG_EQ_INT(r->n_ant, 2);
  LG_EQ_INT(r->ant[1].ftime_ns, 123462);
  LG_EQ_INT(p.rxpk[1].mod, LG_GW_MOD_FSK);
  LG_EQ_INT(p.rxpk[1].fsk_bps, 50000);
  LG_EQ_HEX(p.rxpk[1].data, "010203", 3);
  LG_CHECK(p.has_stat && p.stat.has_position);
  LG_NEAR(p.stat.lat_deg, 55.78191, 1e-12);
  LG_NEAR(p.stat.alt_m, 58, 0);
  LG_EQ_INT(p.stat.rxnb, 2);

  static const char *bad[] = {"[]", "not json", "{\"rxpk\":{}}", ""};
  for (size_t i = 0; i < LG_ARRAY_LEN(bad); i++)
    LG_EQ_INT(lg_gw_parse_push(bad[i], strlen(bad[i]), &p, why, sizeof(why)), LG_GW_EJSON);
  const char *only_stat = "{\"stat\":{\"lati\":0,\"long\":0}}"; /* 0,0: no GPS fix */
  LG_EQ_INT(lg_gw_parse_push(only_stat, strlen(only_stat), &p, why, sizeof(why)), 0);
  LG_CHECK(p.has_stat && !p.stat.has_position && p.n_rxpk == 0);
  const char *size_mismatch =
      "{\"rxpk\":[{\"freq\":868.1,\"stat\":1,\"datr\":\"SF7BW125\",\"size\":5,\"data\":\"AA==\"}]}";
  LG_EQ_INT(lg_gw_parse_push(size_mismatch, strlen(size_mismatch), &p, why, sizeof(why)), 0);
  LG_EQ_INT(p.n_rxpk, 0);
  LG_CHECK(strstr(why, "size") != NULL);
}

/* What a token reader gets wrong that a tree does not: many tokens, keys twice, escapes,
 * deep nesting, long numbers. */
static void test_push_edges(void) {
  static struct lg_gw_push p;
  char why[160];
  const char *one =
      "{\"tmst\":7,\"freq\":868.10000000000000000000000000000000000000000000000000000000000001,"
      "\"stat\":1,\"datr\":\"SF7BW125\",\"codr\":\"4\\/5\",\"data\":\"QP\\/\\u0041\",\"size\":3,"
      "\"rsig\":[{\"ant\":0,\"rssic\":-50},{\"ant\":1,\"rssic\":-51}]}";
  /* 30 of them (over 500 tokens: the reader's second, allocated buffer) */
  char body[8192] = "{\"rxpk\":[";
  for (int i = 0; i < 30; i++) {
    strcat(body, one);
    strcat(body, i < 29 ? "," : "]}");
  }
  LG_EQ_INT(lg_gw_parse_push(body, strlen(body), &p, why, sizeof(why)), 0);
  LG_EQ_INT(p.n_rxpk, 30);
  LG_EQ_INT(p.rxpk[29].tmst, 7);
  LG_EQ_INT(p.rxpk[29].freq_hz, 868100000);
  LG_EQ_STR(p.rxpk[29].codr, "4/5");
  LG_EQ_INT(p.rxpk[29].size, 3);
  LG_EQ_HEX(p.rxpk[29].data, "40ffc0", 3); /* "QP/A" */
  LG_EQ_INT(p.rxpk[29].n_ant, 2);

  const char *twice = "{\"rxpk\":[{\"tmst\":1,\"tmst\":2,\"freq\":868.1,\"stat\":1,"
                      "\"datr\":\"SF7BW125\",\"data\":\"AA==\"}]}";
  LG_EQ_INT(lg_gw_parse_push(twice, strlen(twice), &p, why, sizeof(why)), 0);
  LG_CHECK(p.n_rxpk == 0 && p.n_rejected == 1 && p.n_crc_bad == 0); /* refused, not as a CRC */
  LG_CHECK(strstr(why, "twice") != NULL);
  const char *top_twice = "{\"rxpk\":[],\"rxpk\":[]}";
  LG_EQ_INT(lg_gw_parse_push(top_twice, strlen(top_twice), &p, why, sizeof(why)), LG_GW_EJSON);

  /* 30,000 nested arrays in one datagram: refused at once, not walked (jsmn would spend
   * ~10^9 steps closing them) */
  static char deep[60001];
  memset(deep, '[', 30000);
  memset(deep + 30000, ']', 30000);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  LG_EQ_INT(lg_gw_parse_push(deep, 60000, &p, why, sizeof(why)), LG_GW_EJSON);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  LG_CHECK(strstr(why, "deep") != NULL);
  LG_CHECK((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9 < 0.05);

  /* a data rate's name longer than any buffer for it (the fuzzer's first find: it was
   * copied whole into 64 bytes): kept as another modulation, nothing overwritten */
  char long_datr[600] = "{\"rxpk\":[{\"freq\":868.1,\"stat\":1,\"data\":\"AA==\",\"datr\":\"";
  memset(long_datr + strlen(long_datr), 'S', 500);
  strcpy(long_datr + strlen(long_datr), "SF7BW125\"}]}");
  LG_EQ_INT(lg_gw_parse_push(long_datr, strlen(long_datr), &p, why, sizeof(why)), 0);
  LG_CHECK(p.n_rxpk == 1 && p.rxpk[0].mod == LG_GW_MOD_OTHER);

  static const char *not_json[] = {"{\"rxpk\":[1.]}", "{\"rxpk\":[01]}", "{\"rxpk\":[nul]}",
                                   "{\"rxpk\"}",      "{\"rxpk\":[]} x", "{\"rxpk\":[]}\0"};
  for (size_t i = 0; i < LG_ARRAY_LEN(not_json); i++)
    LG_EQ_INT(lg_gw_parse_push(not_json[i], strlen(not_json[i]) + (i == 5), &p, why, sizeof(why)),
              LG_GW_EJSON);
}

static void test_txack_pull_resp(void) {
  char err[32];
  LG_EQ_INT(lg_gw_parse_txack("", 0, err, sizeof(err)), 0);
  LG_EQ_STR(err, "NONE");
  const char *late = "{\"txpk_ack\":{\"error\":\"TOO_LATE\"}}";
  LG_EQ_INT(lg_gw_parse_txack(late, strlen(late), err, sizeof(err)), 0);
  LG_EQ_STR(err, "TOO_LATE");
  const char *ok = "{\"txpk_ack\":{\"error\":\"NONE\"}}";
  LG_EQ_INT(lg_gw_parse_txack(ok, strlen(ok), err, sizeof(err)), 0);
  LG_EQ_STR(err, "NONE");
  LG_EQ_INT(lg_gw_parse_txack("{oops", 5, err, sizeof(err)), LG_GW_EJSON);

  uint8_t data[12] = {0x60, 1, 2, 3, 4, 0x20, 0, 0, 1, 2, 3, 4};
  struct lg_gw_txpk tx = {.has_tmst = true,
                          .tmst = 3513348611u,
                          .freq_hz = 869525000,
                          .rfch = 0,
                          .power_dbm = 27,
                          .sf = 12,
                          .bw_hz = 125000,
                          .codr = "4/5",
                          .ipol = true,
                          .size = 12,
                          .data = data};
  uint8_t out[1000];
  int n = lg_gw_build_pull_resp(2, 0x1234, &tx, out, sizeof(out));
  LG_CHECK(n > 4);
  LG_EQ_HEX(out, "02123403", 4);
  json_error_t e;
  json_t *root = json_loadb((const char *)out + 4, (size_t)n - 4, 0, &e);
  json_t *t = json_object_get(root, "txpk");
  LG_CHECK(json_is_object(t));
  LG_EQ_INT(json_integer_value(json_object_get(t, "tmst")), 3513348611LL);
  LG_NEAR(json_number_value(json_object_get(t, "freq")), 869.525, 1e-9);
  LG_EQ_STR(json_string_value(json_object_get(t, "datr")), "SF12BW125");
  LG_CHECK(json_is_true(json_object_get(t, "ipol")));
  LG_EQ_INT(json_integer_value(json_object_get(t, "size")), 12);
  LG_EQ_STR(json_string_value(json_object_get(t, "data")), "YAECAwQgAAABAgME");
  json_decref(root);
  LG_EQ_INT(lg_gw_build_pull_resp(2, 1, &tx, out, 40), LG_ENOSPC);
  tx.has_tmst = false;
  LG_EQ_INT(lg_gw_build_pull_resp(2, 1, &tx, out, sizeof(out)), LG_EINVAL);
}

/* ---- the PUSH_DATA reader against jansson ------------------------------------------ */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

/* A value for one field: mostly a good one, sometimes out of range, of the wrong type,
 * null, a real where an integer belongs, or nested. */
static json_t *field_value(json_int_t lo, json_int_t hi, bool real) {
  switch (rnd(12)) {
  case 0: return json_null();
  case 1: return json_string("12");
  case 2: return json_integer(hi + 1 + rnd(1000));
  case 3: return json_real((double)lo - 0.5);
  case 4: return json_pack("[i,{s:i}]", 1, "x", 2);
  case 5: return json_real(1e-7 * rnd(5)); /* 1e-07 as jansson writes it: an exponent */
  default:
    if (real) return json_real((double)lo + (double)(hi - lo) * rnd(10000) / 10000.0);
    return json_integer(lo +
                        (json_int_t)rnd((uint32_t)(hi - lo < 4000000000 ? hi - lo : 4000000000)));
  }
}

/* What the reader must make of one rxpk, decided with jansson's getters on the tree. */
static bool oracle_int(json_t *o, const char *k, json_int_t lo, json_int_t hi, json_int_t *v) {
  json_t *x = json_object_get(o, k);
  if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi) return false;
  *v = json_integer_value(x);
  return true;
}
static bool oracle_num(json_t *o, const char *k, double lo, double hi, double *v) {
  json_t *x = json_object_get(o, k);
  if (!json_is_number(x) || !(json_number_value(x) >= lo && json_number_value(x) <= hi))
    return false;
  *v = json_number_value(x);
  return true;
}

static void test_push_against_jansson(void) {
  static struct lg_gw_push p;
  char why[160];
  int accepted = 0, refused = 0;
  for (int round = 0; round < 4000; round++) {
    json_t *rx = json_object();
    if (rnd(8))
      json_object_set_new(rx, "stat", rnd(10) ? json_integer(1) : field_value(-1, 1, false));
    if (rnd(3)) json_object_set_new(rx, "tmst", field_value(0, UINT32_MAX, false));
    if (rnd(3)) json_object_set_new(rx, "tmms", field_value(0, 7000000000000LL, false));
    if (rnd(3)) json_object_set_new(rx, "ftime", field_value(0, 999999999, false));
    json_object_set_new(
        rx, "freq", rnd(10) ? json_real(863.0 + rnd(7000) / 1000.0) : field_value(100, 3000, true));
    if (rnd(4)) json_object_set_new(rx, "rssi", field_value(-200, 50, rnd(2)));
    if (rnd(4)) json_object_set_new(rx, "lsnr", field_value(-50, 50, true));
    if (rnd(5) == 0) json_object_set_new(rx, "unknown", json_pack("{s:[i,s,{}]}", "a", 1, "b"));
    char datr[16];
    snprintf(datr, sizeof(datr), "SF%uBW125", 5 + rnd(9));
    json_object_set_new(rx, "datr", rnd(10) ? json_string(datr) : field_value(0, 50000, false));
    uint8_t phy[40];
    size_t n = 1 + rnd(sizeof(phy) - 1);
    for (size_t k = 0; k < n; k++)
      phy[k] = (uint8_t)rnd(256);
    char b64[64];
    EVP_EncodeBlock((unsigned char *)b64, phy, (int)n);
    json_object_set_new(rx, "data", rnd(12) ? json_string(b64) : field_value(0, 9, false));
    if (rnd(2)) json_object_set_new(rx, "size", json_integer((json_int_t)(rnd(8) ? n : n + 1)));
    if (rnd(3) == 0)
      json_object_set_new(rx, "rsig",
                          json_pack("[{s:i,s:o}]", "ant", 0, "rssic", field_value(-200, 50, true)));
    json_t *body = json_pack("{s:[O]}", "rxpk", rx);
    char *text = json_dumps(body, rnd(2) ? JSON_COMPACT : JSON_INDENT(1));

    /* the oracle */
    json_int_t v, tmst = -1, tmms = -1, ftime = -1, size = -1;
    double freq = 0, rssi = 0, snr = 0, rssic = 0;
    json_t *d = json_object_get(rx, "datr");
    unsigned sf = 0, bw = 0;
    bool ok =
        oracle_int(rx, "stat", -1, 1, &v) && v == 1 && oracle_num(rx, "freq", 100, 3000, &freq);
    ok = ok && (!json_object_get(rx, "tmst") || oracle_int(rx, "tmst", 0, UINT32_MAX, &tmst));
    ok = ok && (!json_object_get(rx, "tmms") || oracle_int(rx, "tmms", 0, 7000000000000LL, &tmms));
    ok = ok && (!json_object_get(rx, "ftime") || oracle_int(rx, "ftime", 0, 999999999, &ftime));
    bool lora = json_is_string(d) && sscanf(json_string_value(d), "SF%uBW%u", &sf, &bw) == 2;
    ok = ok && ((json_is_string(d) && (!lora || sf <= 12)) || /* other strings: kept as such */
                (json_is_number(d) && json_number_value(d) > 0 && json_number_value(d) < 1e6));
    ok = ok && json_is_string(json_object_get(rx, "data")) &&
         strcmp(json_string_value(json_object_get(rx, "data")), b64) == 0;
    ok = ok && (!oracle_int(rx, "size", 0, 255, &size) || (size_t)size == n);
    bool has_rssi = oracle_num(rx, "rssi", -200, 50, &rssi);
    bool has_snr = oracle_num(rx, "lsnr", -50, 50, &snr);
    json_t *rsig = json_object_get(rx, "rsig");
    bool has_rssic = rsig && oracle_num(json_array_get(rsig, 0), "rssic", -200, 50, &rssic);

    LG_EQ_INT(lg_gw_parse_push(text, strlen(text), &p, why, sizeof(why)), 0);
    LG_EQ_INT(p.n_rxpk, (size_t)(ok ? 1 : 0));
    LG_EQ_INT(p.n_rejected, (size_t)(ok ? 0 : 1));
    if (ok && p.n_rxpk == 1) {
      const struct lg_gw_rxpk *r = &p.rxpk[0];
      LG_EQ_INT((r->has_tmst ? (json_int_t)r->tmst : -1), tmst);
      LG_EQ_INT((r->has_tmms ? r->tmms_ms : -1), tmms);
      LG_EQ_INT((r->has_ftime ? r->ftime_ns : -1), ftime);
      LG_EQ_INT(r->freq_hz, (int64_t)llround(freq * 1e6));
      LG_EQ_INT(r->has_rssi, has_rssi);
      if (has_rssi) LG_NEAR(r->rssi_dbm, rssi, 0);
      LG_EQ_INT(r->has_snr, has_snr);
      if (has_snr) LG_NEAR(r->snr_db, snr, 0);
      LG_EQ_INT(r->sf, (lora ? (int)sf : 0));
      LG_EQ_INT(r->size, n);
      LG_CHECK(memcmp(r->data, phy, n) == 0);
      LG_EQ_INT(r->n_ant, (size_t)(rsig ? 1 : 0));
      if (rsig) LG_EQ_INT(r->ant[0].has_rssi, has_rssic);
      if (has_rssic) LG_NEAR(r->ant[0].rssi_dbm, rssic, 0);
    }
    accepted += ok, refused += !ok;

    /* A byte changed: whatever jansson takes as an object, the reader takes too, with as
     * many entries; what it refuses is refused with a reason, never a crash. */
    size_t len = strlen(text);
    text[rnd((uint32_t)len)] = "{}[]\",:0 a\\-"[rnd(12)];
    json_error_t e;
    json_t *mutated = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
    int rc = lg_gw_parse_push(text, len, &p, why, sizeof(why));
    json_t *arr = json_object_get(mutated, "rxpk");
    if (json_is_object(mutated) && (arr == NULL || json_is_array(arr))) {
      LG_EQ_INT(rc, 0);
      LG_EQ_INT(p.n_rxpk + p.n_rejected, json_array_size(arr));
    } else if (rc != 0) {
      LG_CHECK(why[0] != '\0');
    }
    json_decref(mutated);
    free(text);
    json_decref(body);
    json_decref(rx);
  }
  printf("push bodies: %d taken, %d refused\n", accepted, refused);
  LG_CHECK(accepted > 400 && refused > 400); /* both sides of every rule exercised */
}

int main(void) {
  test_header();
  test_time();
  test_best_time();
  test_push();
  test_push_against_jansson();
  test_push_edges();
  test_txack_pull_resp();
  return lg_test_report("test_gw");
}
