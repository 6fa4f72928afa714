/*
 * gw/station_msg.c: the LNS protocol of LoRa Basics Station — frames rebuilt byte for
 * byte from updf/jreq fields, gpstime + fts into the UDP path's tmms + ftime (across a
 * second boundary too), the journal's rxpk round trip, EUI forms (ID6), router_config from
 * the region table, dnmsg for Class A and C, and malformed messages refused with a reason.
 */
#include <jansson.h>

#include "gw/gw.h"
#include "lg_test.h"
#include "lora/lora.h"

#define UPDF_FMT \
    "{\"msgtype\":\"updf\",\"MHdr\":64,\"DevAddr\":%s,\"FCtrl\":128,\"FCnt\":5,\"FOpts\":\"\","  \
    "\"FPort\":1,\"FRMPayload\":\"a1b2\",\"MIC\":-1,\"RefTime\":0.0,\"DR\":5,\"Freq\":868100000,"  \
    "\"upinfo\":{\"rctx\":3,\"xtime\":%s,\"gpstime\":%s,\"fts\":%s,\"rssi\":-97.5,\"snr\":7.25,"  \
    "\"rxtime\":1700000000.5}}"

static int parse_updf(const char *addr, const char *xtime, const char *gps, const char *fts,
                      struct lg_station_up *m, char *why) {
  char msg[1024];
  snprintf(msg, sizeof(msg), UPDF_FMT, addr, xtime, gps, fts);
  return lg_station_parse(msg, strlen(msg), lg_region_find("EU868"), m, why, 160);
}

static void test_updf(void) {
  struct lg_station_up m;
  char why[160];
  LG_EQ_INT(parse_updf("16909060", "12384898975268864", "1400000000123456", "123456789", &m, why),
            0);
  LG_EQ_INT(m.type, LG_STATION_UPDF);
  LG_EQ_INT(m.dr, 5);
  LG_EQ_INT(m.rx.size, 15);
  /* MHdr | DevAddr 01020304 (LE) | FCtrl | FCnt 5 | FPort 1 | a1b2 | MIC -1 */
  LG_EQ_HEX(m.rx.data, "40040302018005000" "1a1b2ffffffff", 15);
  LG_EQ_INT(m.rx.freq_hz, 868100000);
  LG_EQ_INT(m.rx.sf, 7);
  LG_EQ_INT(m.rx.bw_hz, 125000);
  LG_EQ_INT(m.rx.crc, 1);
  LG_CHECK(m.rx.has_xtime && m.rx.has_tmst);
  LG_EQ_INT(m.rx.xtime, 12384898975268864LL);
  LG_EQ_INT(m.rx.tmst, (uint32_t)12384898975268864LL);
  LG_EQ_INT(m.rx.rctx, 3);
  LG_NEAR(m.rx.rssi_dbm, -97.5, 1e-9);
  LG_NEAR(m.rx.snr_db, 7.25, 1e-9);
  /* gpstime 1400000000.123456 s, fts 123456789 ns: the same second */
  LG_CHECK(m.rx.has_tmms && m.rx.has_ftime);
  LG_EQ_INT(m.rx.tmms_ms, 1400000000123LL);
  LG_EQ_INT(m.rx.ftime_ns, 123456789);
  int64_t t;
  double sigma;
  LG_CHECK(lg_gw_best_time(&m.rx, 50, &t, &sigma));
  LG_EQ_INT(t, lg_gw_gps_to_unix_ns(1400000000123456789LL));
  LG_EQ_INT(m.rx.time_ns, t);
  LG_EQ_INT(m.rx.time_digits, 9);
  LG_NEAR(sigma, 50, 1e-9);
  /* gpstime just before a PPS edge, fts just after it: the next second */
  LG_EQ_INT(parse_updf("1", "5", "1400000000999999", "5000", &m, why), 0);
  LG_CHECK(lg_gw_best_time(&m.rx, 50, &t, &sigma));
  LG_EQ_INT(t, lg_gw_gps_to_unix_ns(1400000001000005000LL));
  /* ... and the other way round */
  LG_EQ_INT(parse_updf("1", "5", "1400000001000001", "999999000", &m, why), 0);
  LG_CHECK(lg_gw_best_time(&m.rx, 50, &t, &sigma));
  LG_EQ_INT(t, lg_gw_gps_to_unix_ns(1400000000999999000LL));
  /* no fine timestamp: a microsecond GPS time, as a UDP gateway's 6-digit `time` */
  LG_EQ_INT(parse_updf("1", "5", "1400000000123456", "-1", &m, why), 0);
  LG_CHECK(!m.rx.has_ftime);
  LG_CHECK(lg_gw_best_time(&m.rx, 50, &t, &sigma));
  LG_EQ_INT(t, lg_gw_gps_to_unix_ns(1400000000123456000LL));
  LG_NEAR(sigma, 1000 / sqrt(12.0), 1e-6);
  /* no GPS at all: the station's own clock, not a TDOA time */
  LG_EQ_INT(parse_updf("1", "5", "0", "-1", &m, why), 0);
  LG_CHECK(!m.rx.has_tmms && m.rx.has_time);
  LG_CHECK(!lg_gw_best_time(&m.rx, 50, &t, &sigma));
  /* a DevAddr written as a signed 32-bit number */
  LG_EQ_INT(parse_updf("-2147483648", "5", "0", "-1", &m, why), 0);
  LG_EQ_HEX(m.rx.data + 1, "00000080", 4);
}

static void test_jreq_and_others(void) {
  struct lg_station_up m;
  char why[160];
  const char *j =
      "{\"msgtype\":\"jreq\",\"MHdr\":0,\"JoinEui\":\"70-B3-D5-7E-D0-00-00-01\","
      "\"DevEui\":\"00-04-A3-0B-00-1B-B0-DF\",\"DevNonce\":4660,\"MIC\":287454020,\"DR\":0,"
      "\"Freq\":868300000,\"upinfo\":{\"rctx\":0,\"xtime\":77,\"gpstime\":0,\"rssi\":-120,"
      "\"snr\":-12}}";
  LG_EQ_INT(lg_station_parse(j, strlen(j), lg_region_find("EU868"), &m, why, sizeof(why)), 0);
  LG_EQ_INT(m.type, LG_STATION_JREQ);
  LG_EQ_INT(m.rx.size, 23);
  LG_EQ_HEX(m.rx.data, "00010000d07ed5b370dfb01b000ba30400341244332211", 23);
  LG_EQ_INT(m.rx.sf, 12);
  const char *t = "{\"msgtype\":\"timesync\",\"txtime\":123456789}";
  LG_EQ_INT(lg_station_parse(t, strlen(t), lg_region_find("EU868"), &m, why, sizeof(why)), 0);
  LG_EQ_INT(m.type, LG_STATION_TIMESYNC);
  LG_EQ_INT(m.txtime_us, 123456789);
  const char *d = "{\"msgtype\":\"dntxed\",\"diid\":42,\"DevEui\":\"00-00-00-00-00-00-00-01\","
                  "\"rctx\":0,\"xtime\":1,\"txtime\":2.0,\"gpstime\":0}";
  LG_EQ_INT(lg_station_parse(d, strlen(d), lg_region_find("EU868"), &m, why, sizeof(why)), 0);
  LG_EQ_INT(m.type, LG_STATION_DNTXED);
  LG_EQ_INT(m.diid, 42);
  const char *v = "{\"msgtype\":\"version\",\"station\":\"2.0.6\",\"protocol\":2,"
                  "\"features\":\"rmtsh gps\"}";
  LG_EQ_INT(lg_station_parse(v, strlen(v), lg_region_find("EU868"), &m, why, sizeof(why)), 0);
  LG_EQ_INT(m.type, LG_STATION_VERSION);
  LG_EQ_STR(m.station, "2.0.6");
  LG_EQ_INT(m.protocol, 2);
  const char *p = "{\"msgtype\":\"propdf\",\"FRMPayload\":\"e0aabb\",\"DR\":3,\"Freq\":868500000,"
                  "\"upinfo\":{\"xtime\":9}}";
  LG_EQ_INT(lg_station_parse(p, strlen(p), lg_region_find("EU868"), &m, why, sizeof(why)), 0);
  LG_EQ_INT(m.type, LG_STATION_PROPDF);
  LG_EQ_INT(m.rx.size, 3);
  const char *u = "{\"msgtype\":\"rmtsh\",\"rmtsh\":[]}";
  LG_EQ_INT(lg_station_parse(u, strlen(u), lg_region_find("EU868"), &m, why, sizeof(why)), 0);
  LG_EQ_INT(m.type, LG_STATION_UNKNOWN);
}

static void expect_bad(const char *msg, const char *reason_part) {
  struct lg_station_up m;
  char why[160] = "";
  LG_EQ_INT(lg_station_parse(msg, strlen(msg), lg_region_find("EU868"), &m, why, sizeof(why)),
            LG_EINVAL);
  if (!strstr(why, reason_part)) LG_FAIL_AT("reason '%s' lacks '%s'", why, reason_part);
}

static void test_malformed(void) {
  expect_bad("not json", "not a JSON object");
  expect_bad("[1,2]", "not a JSON object");
  expect_bad("{\"x\":1}", "msgtype");
  expect_bad("{\"msgtype\":\"updf\",\"DR\":5,\"Freq\":868100000}", "upinfo");
  expect_bad("{\"msgtype\":\"updf\",\"DR\":14,\"Freq\":868100000,\"upinfo\":{\"xtime\":1}}", "DR");
  expect_bad("{\"msgtype\":\"updf\",\"DR\":5,\"Freq\":868100000,\"upinfo\":{\"xtime\":1,"
             "\"fts\":1000000000}}",
             "fts");
  expect_bad("{\"msgtype\":\"updf\",\"MHdr\":64,\"DevAddr\":1,\"FCtrl\":0,\"FCnt\":1,"
             "\"FOpts\":\"00112233445566778899aabbccddeeff\",\"FPort\":1,\"FRMPayload\":\"\","
             "\"MIC\":1,\"DR\":5,\"Freq\":868100000,\"upinfo\":{\"xtime\":1}}",
             "FOpts");
  expect_bad("{\"msgtype\":\"updf\",\"MHdr\":64,\"DevAddr\":1,\"FCtrl\":0,\"FCnt\":1,"
             "\"FOpts\":\"\",\"FPort\":-1,\"FRMPayload\":\"aa\",\"MIC\":1,\"DR\":5,"
             "\"Freq\":868100000,\"upinfo\":{\"xtime\":1}}",
             "FPort");
  expect_bad("{\"msgtype\":\"jreq\",\"MHdr\":0,\"JoinEui\":\"nope\",\"DR\":0,\"Freq\":868100000,"
             "\"upinfo\":{\"xtime\":1}}",
             "JoinEui");
  expect_bad("{\"msgtype\":\"timesync\"}", "txtime");
  expect_bad("{\"msgtype\":\"dntxed\",\"diid\":\"x\"}", "diid");
}

static void test_eui(void) {
  uint64_t e = 1;
  LG_EQ_INT(lg_station_parse_eui("::0", 3, &e), 0);
  LG_EQ_INT(e, 0);
  LG_EQ_INT(lg_station_parse_eui("1::", 3, &e), 0);
  LG_EQ_INT(e, 0x0001000000000000LL);
  LG_EQ_INT(lg_station_parse_eui("::a:b", 5, &e), 0);
  LG_EQ_INT(e, 0xa000bLL);
  LG_EQ_INT(lg_station_parse_eui("b827:ebff:fe61:51ab", 19, &e), 0);
  LG_EQ_INT(e, (int64_t)0xb827ebfffe6151abULL);
  LG_EQ_INT(lg_station_parse_eui("B8-27-EB-FF-FE-61-51-AB", 23, &e), 0);
  LG_EQ_INT(e, (int64_t)0xb827ebfffe6151abULL);
  LG_EQ_INT(lg_station_parse_eui("b827ebfffe6151ab", 16, &e), 0);
  LG_EQ_INT(e, (int64_t)0xb827ebfffe6151abULL);
  LG_EQ_INT(lg_station_parse_eui("1:2:3:4:5", 9, &e), LG_EINVAL);
  LG_EQ_INT(lg_station_parse_eui("1:::2", 5, &e), LG_EINVAL);
  LG_EQ_INT(lg_station_parse_eui("1:2:3", 5, &e), LG_EINVAL);
  LG_EQ_INT(lg_station_parse_eui("xyz", 3, &e), LG_EINVAL);
  LG_EQ_INT(lg_station_parse_eui("b827ebfffe6151ag", 16, &e), LG_EINVAL);
  char why[80];
  LG_EQ_INT(lg_station_parse_router("{\"router\":\"::1\"}", 16, &e, why, sizeof(why)), 0);
  LG_EQ_INT(e, 1);
  LG_EQ_INT(lg_station_parse_router("{\"router\":12}", 13, &e, why, sizeof(why)), 0);
  LG_EQ_INT(e, 12);
  LG_EQ_INT(lg_station_parse_router("{\"routr\":12}", 12, &e, why, sizeof(why)), LG_EINVAL);
}

static void test_push_roundtrip(void) {
  struct lg_station_up m;
  char why[160];
  LG_EQ_INT(parse_updf("16909060", "12384898975268864", "1400000000123456", "123456789", &m, why),
            0);
  uint8_t dg[2048];
  int n = lg_station_push_datagram(0x0102030405060708ULL, &m.rx, dg, sizeof(dg));
  LG_CHECK(n > 12);
  struct lg_gw_header h;
  LG_EQ_INT(lg_gw_parse_header(dg, (size_t)n, &h), 0);
  LG_EQ_INT(h.type, LG_GW_PUSH_DATA);
  LG_EQ_INT(h.gateway_eui, 0x0102030405060708LL);
  static struct lg_gw_push p;
  LG_EQ_INT(lg_gw_parse_push((const char *)dg + 12, (size_t)n - 12, &p, why, sizeof(why)), 0);
  LG_EQ_INT(p.n_rxpk, 1);
  const struct lg_gw_rxpk *a = &m.rx, *b = &p.rxpk[0];
  LG_EQ_INT(b->size, a->size);
  LG_CHECK(memcmp(a->data, b->data, a->size) == 0);
  LG_EQ_INT(b->freq_hz, a->freq_hz);
  LG_EQ_INT(b->sf, a->sf);
  LG_EQ_INT(b->bw_hz, a->bw_hz);
  LG_EQ_INT(b->tmst, a->tmst);
  LG_EQ_INT(b->tmms_ms, a->tmms_ms);
  LG_EQ_INT(b->ftime_ns, a->ftime_ns);
  LG_EQ_INT(b->time_ns, a->time_ns);
  LG_CHECK(b->has_xtime);
  LG_EQ_INT(b->xtime, a->xtime);
  LG_EQ_INT(b->rctx, a->rctx);
  LG_NEAR(b->rssi_dbm, a->rssi_dbm, 1e-9);
  LG_NEAR(b->snr_db, a->snr_db, 1e-9);
  int64_t ta = 0, tb = 1;
  double sa, sb;
  LG_CHECK(lg_gw_best_time(a, 50, &ta, &sa) && lg_gw_best_time(b, 50, &tb, &sb));
  LG_EQ_INT(ta, tb);
  LG_EQ_INT(lg_station_push_datagram(1, &m.rx, dg, 40), LG_ENOSPC);
  /* GPS <-> Unix both ways */
  int64_t u = 1700000000123456789LL;
  LG_EQ_INT(lg_gw_gps_to_unix_ns(lg_gw_unix_to_gps_ns(u)), u);
}

static json_t *load(const char *s) {
  json_t *o = json_loads(s, 0, NULL);
  LG_CHECK(o != NULL);
  return o;
}

static void test_router_config(void) {
  char out[8192];
  int n = lg_station_router_config(lg_region_find("EU868"), 1700000000.25, out, sizeof(out));
  LG_CHECK(n > 0);
  json_t *o = load(out);
  LG_EQ_STR(json_string_value(json_object_get(o, "msgtype")), "router_config");
  LG_EQ_STR(json_string_value(json_object_get(o, "region")), "EU863");
  LG_EQ_STR(json_string_value(json_object_get(o, "hwspec")), "sx1301/1");
  json_t *drs = json_object_get(o, "DRs");
  LG_EQ_INT(json_array_size(drs), 16);
  LG_EQ_INT(json_integer_value(json_array_get(json_array_get(drs, 0), 0)), 12);
  LG_EQ_INT(json_integer_value(json_array_get(json_array_get(drs, 0), 1)), 125);
  LG_EQ_INT(json_integer_value(json_array_get(json_array_get(drs, 6), 1)), 250);
  LG_EQ_INT(json_integer_value(json_array_get(json_array_get(drs, 7), 0)), 0); /* FSK */
  LG_EQ_INT(json_integer_value(json_array_get(json_array_get(drs, 15), 0)), -1);
  LG_EQ_INT(json_integer_value(json_array_get(json_object_get(o, "freq_range"), 0)), 863000000);
  json_t *b = json_array_get(json_object_get(o, "sx1301_conf"), 0);
  LG_EQ_INT(json_integer_value(json_object_get(json_object_get(b, "radio_0"), "freq")),
            868300000);
  LG_EQ_INT(json_integer_value(json_object_get(json_object_get(b, "chan_multiSF_0"), "if")),
            -200000);
  LG_EQ_INT(json_integer_value(json_object_get(json_object_get(b, "chan_multiSF_2"), "if")),
            200000);
  LG_CHECK(json_is_false(json_object_get(json_object_get(b, "chan_multiSF_3"), "enable")));
  LG_CHECK(json_is_false(json_object_get(o, "nodc"))); /* EU868 has a duty cycle */
  LG_CHECK(json_is_true(json_object_get(o, "nocca")));
  json_decref(o);

  n = lg_station_router_config(lg_region_find("US915"), 0, out, sizeof(out));
  LG_CHECK(n > 0);
  o = load(out);
  LG_EQ_STR(json_string_value(json_object_get(o, "region")), "US902");
  drs = json_object_get(o, "DRs");
  LG_EQ_INT(json_integer_value(json_array_get(json_array_get(drs, 4), 1)), 500);
  LG_EQ_INT(json_integer_value(json_array_get(json_array_get(drs, 8), 0)), 12);
  LG_EQ_INT(json_integer_value(json_array_get(json_array_get(drs, 8), 2)), 1); /* down only */
  b = json_array_get(json_object_get(o, "sx1301_conf"), 0);
  LG_EQ_INT(json_integer_value(json_object_get(json_object_get(b, "radio_0"), "freq")),
            902700000);
  LG_EQ_INT(json_integer_value(json_object_get(json_object_get(b, "radio_1"), "freq")),
            903500000);
  json_t *std = json_object_get(b, "chan_Lora_std");
  LG_CHECK(json_is_true(json_object_get(std, "enable")));
  LG_EQ_INT(json_integer_value(json_object_get(std, "if")), 300000);
  LG_CHECK(json_is_true(json_object_get(json_object_get(b, "chan_multiSF_7"), "enable")));
  json_decref(o);
  LG_EQ_INT(lg_station_router_config(lg_region_find("EU868"), 0, out, 100), LG_ENOSPC);
  /* every region builds one */
  for (int i = 0; i < lg_region_count(); i++)
    LG_CHECK(lg_station_router_config(lg_region_at(i), 0, out, sizeof(out)) > 0);
}

static void test_dnmsg(void) {
  uint8_t pdu[] = {0x60, 1, 2, 3, 4, 0x20, 0, 0, 0xde, 0xad, 0xbe, 0xef};
  struct lg_gw_dl dl = {.diid = 7,
                        .dev_eui = 0x0004a30b001bb0dfULL,
                        .dev_class = LG_GW_DL_CLASS_A,
                        .pdu = pdu,
                        .len = sizeof(pdu),
                        .has_rx1 = true,
                        .rx_delay_s = 1,
                        .rx1_dr = 5,
                        .rx1_freq_hz = 868100000,
                        .rx2_dr = 0,
                        .rx2_freq_hz = 869525000,
                        .has_xtime = true,
                        .xtime = 12384898975268864LL,
                        .rctx = 3};
  char out[2048];
  LG_CHECK(lg_station_dnmsg(&dl, 1.5, out, sizeof(out)) > 0);
  json_t *o = load(out);
  LG_EQ_STR(json_string_value(json_object_get(o, "msgtype")), "dnmsg");
  LG_EQ_STR(json_string_value(json_object_get(o, "DevEui")), "00-04-A3-0B-00-1B-B0-DF");
  LG_EQ_INT(json_integer_value(json_object_get(o, "dC")), 0);
  LG_EQ_INT(json_integer_value(json_object_get(o, "diid")), 7);
  LG_EQ_STR(json_string_value(json_object_get(o, "pdu")), "6001020304200000deadbeef");
  LG_EQ_INT(json_integer_value(json_object_get(o, "RxDelay")), 1);
  LG_EQ_INT(json_integer_value(json_object_get(o, "RX1DR")), 5);
  LG_EQ_INT(json_integer_value(json_object_get(o, "RX1Freq")), 868100000);
  LG_EQ_INT(json_integer_value(json_object_get(o, "RX2DR")), 0);
  LG_EQ_INT(json_integer_value(json_object_get(o, "RX2Freq")), 869525000);
  LG_EQ_INT(json_integer_value(json_object_get(o, "xtime")), 12384898975268864LL);
  LG_EQ_INT(json_integer_value(json_object_get(o, "rctx")), 3);
  LG_CHECK(json_is_number(json_object_get(o, "MuxTime")));
  json_decref(o);
  /* Class C: send now on the RX2 parameters */
  struct lg_gw_dl c = {.diid = 8, .dev_eui = 1, .dev_class = LG_GW_DL_CLASS_C, .pdu = pdu,
                       .len = sizeof(pdu), .rx2_dr = 0, .rx2_freq_hz = 869525000, .priority = 1};
  LG_CHECK(lg_station_dnmsg(&c, 0, out, sizeof(out)) > 0);
  o = load(out);
  LG_EQ_INT(json_integer_value(json_object_get(o, "dC")), 2);
  LG_CHECK(json_object_get(o, "RxDelay") == NULL && json_object_get(o, "xtime") == NULL);
  LG_EQ_INT(json_integer_value(json_object_get(o, "RX2Freq")), 869525000);
  json_decref(o);
  dl.has_xtime = false; /* Class A needs the uplink's xtime */
  LG_EQ_INT(lg_station_dnmsg(&dl, 0, out, sizeof(out)), LG_EINVAL);
  LG_CHECK(lg_station_timesync(5, 1400000000000000LL, 1.0, out, sizeof(out)) > 0);
  o = load(out);
  LG_EQ_INT(json_integer_value(json_object_get(o, "txtime")), 5);
  LG_EQ_INT(json_integer_value(json_object_get(o, "gpstime")), 1400000000000000LL);
  json_decref(o);
  LG_CHECK(lg_station_router_info(1, "ws://h:1/traffic/0000000000000001", NULL, out,
                                  sizeof(out)) > 0);
  o = load(out);
  LG_EQ_STR(json_string_value(json_object_get(o, "uri")), "ws://h:1/traffic/0000000000000001");
  LG_EQ_STR(json_string_value(json_object_get(o, "router")), "00-00-00-00-00-00-00-01");
  json_decref(o);
}

int main(void) {
  test_updf();
  test_jreq_and_others();
  test_malformed();
  test_eui();
  test_push_roundtrip();
  test_router_config();
  test_dnmsg();
  return lg_test_report("test_station");
}
