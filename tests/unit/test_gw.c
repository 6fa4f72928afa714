/*
 * gw: the Semtech UDP protocol (PROTOCOL.TXT v1.4/v1.5 layouts), receive-time parsing
 * with any number of fractional digits, GPS to Unix time across leap seconds, the choice
 * of a reception's best timestamp and the patent's antenna combination.
 */
#include <jansson.h>

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

int main(void) {
  test_header();
  test_time();
  test_best_time();
  test_push();
  test_txack_pull_resp();
  return lg_test_report("test_gw");
}
