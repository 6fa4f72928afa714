/*
 * Dwell time (ns/dwell.c, issue 16) through the network server's packet path with a fake
 * clock: in US915 an uplink longer than 400 ms is counted, a downlink never goes out
 * longer than 400 ms (RX2 at SF12/500 kHz is skipped for a payload that would), and a
 * queued downlink larger than the data rate allows is discarded and counted; in AS923
 * ADR never goes below DR2 while uplink dwell applies, and with uplink_dwell_time = false
 * each device gets a TxParamSetupReq until its TxParamSetupAns, after which DR0 is open.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdlib.h>

#include "lg_test.h"
#include "lorawan/lorawan.h"
#include "ns/ns.h"
#include "ns/ns_int.h"
#include "store/store.h"

static int64_t fake_now = 1700000000000000000LL;
static int64_t now_ns(void *ctx) {
  (void)ctx;
  return fake_now;
}

/* Every PULL_RESP's txpk, kept. */
static json_t *sent[64];
static size_t n_sent;
static void on_send(void *ctx, const struct sockaddr *to, socklen_t len, const uint8_t *buf,
                    size_t n) {
  (void)ctx, (void)to, (void)len;
  if (n > 4 && buf[3] == 3 && n_sent < 64) {
    json_t *o = json_loadb((const char *)buf + 4, n - 4, 0, NULL);
    sent[n_sent++] = json_incref(json_object_get(o, "txpk"));
    json_decref(o);
  }
}

static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
#define GW   0xaa555a0000000100ull
#define DEV  0x0102030400000001ull
#define ADDR 0x26000001u

static struct lg_store *store;

static struct lg_ns *server(const char *region, const char *up_dwell) {
  struct lg_config cfg;
  char why[256], text[200];
  snprintf(text, sizeof(text), "[network]\nregion = %s\n%s%s\n[server]\ndatabase = :memory:\n",
           region, up_dwell ? "uplink_dwell_time = " : "", up_dwell ? up_dwell : "");
  if (lg_config_parse_text(&cfg, "test.ini", text, strlen(text), why, sizeof(why))) {
    fprintf(stderr, "config: %s\n", why);
    return NULL;
  }
  cfg.journal[0] = '\0';
  cfg.geo_learned[0] = '\0';
  cfg.geo_learned_set = true;
  cfg.adr_learned[0] = '\0';
  cfg.adr_learned_set = true;
  if (lg_store_open(&store, ":memory:", why, sizeof(why))) return NULL;
  struct lg_gateway_rec gw = {.eui = GW, .has_position = true, .lat_deg = 1, .lon_deg = 2};
  struct lg_device_rec d = {.dev_eui = DEV, .has_session = true, .dev_addr = ADDR};
  memcpy(d.nwk_s_key, key, 16);
  memcpy(d.app_s_key, key, 16);
  snprintf(d.adr, sizeof(d.adr), "off");
  if (lg_store_gateway_put(store, &gw) || lg_store_device_put(store, &d)) return NULL;
  struct lg_ns_io io = {.now_ns = now_ns, .send = on_send};
  struct lg_ns *ns = lg_ns_new(&cfg, store, &io, why, sizeof(why));
  if (ns == NULL) fprintf(stderr, "lg_ns_new: %s\n", why);
  return ns;
}

static void datagram(struct lg_ns *ns, const uint8_t *b, size_t n) {
  struct sockaddr_in from = {.sin_family = AF_INET};
  lg_ns_datagram(ns, (struct sockaddr *)&from, sizeof(from), b, n);
  lg_ns_flush(ns);
}

/* A confirmed uplink of `payload` bytes (FOpts `fopts`) at `datr` on `freq_mhz`. */
static void uplink(struct lg_ns *ns, uint32_t fcnt, const char *datr, double freq_mhz,
                   size_t payload, const uint8_t *fopts, size_t fopts_len) {
  struct lg_crypto c;
  struct lg_key k;
  lg_crypto_init(&c);
  lg_key_init(&k, &c, key);
  struct lg_frame f;
  memset(&f, 0, sizeof(f));
  f.mtype = LG_MTYPE_CONFIRMED_UP;
  f.u.data.dev_addr = ADDR;
  f.u.data.f_cnt16 = (uint16_t)fcnt;
  f.u.data.f_opts_len = (uint8_t)fopts_len;
  if (fopts_len) memcpy(f.u.data.f_opts, fopts, fopts_len);
  f.u.data.has_f_port = true;
  f.u.data.f_port = 1;
  f.u.data.frm_payload_len = payload;
  uint8_t plain[64] = {0};
  lg_payload_crypt(&k, ADDR, fcnt, false, plain, payload, f.u.data.frm_payload);
  uint8_t phy[128];
  size_t len = 0;
  lg_frame_encode(&f, phy, sizeof(phy), &len);
  lg_data_mic(&k, phy, len - 4, ADDR, fcnt, false, phy + len - 4);
  lg_key_close(&k);
  lg_crypto_close(&c);
  char b64[200];
  EVP_EncodeBlock((unsigned char *)b64, phy, (int)len);
  uint8_t b[700] = {2, (uint8_t)fcnt, 0, 0};
  for (int i = 0; i < 8; i++)
    b[4 + i] = (uint8_t)(GW >> (56 - 8 * i));
  int n = snprintf((char *)b + 12, sizeof(b) - 12,
                   "{\"rxpk\":[{\"tmst\":%u,\"chan\":0,\"rfch\":0,\"freq\":%.1f,\"stat\":1,"
                   "\"modu\":\"LORA\",\"datr\":\"%s\",\"codr\":\"4/5\",\"rssi\":-90,\"lsnr\":7.5,"
                   "\"size\":%zu,\"data\":\"%s\"}]}",
                   (unsigned)(fake_now / 1000), freq_mhz, datr, len, b64);
  datagram(ns, b, 12 + (size_t)n);
  for (int t = 0; t < 40; t++) { /* the de-duplication window closes */
    fake_now += 10000000;
    lg_ns_tick(ns);
  }
}

static void pull(struct lg_ns *ns) {
  uint8_t b[12] = {2, 0, 1, 2};
  for (int i = 0; i < 8; i++)
    b[4 + i] = (uint8_t)(GW >> (56 - 8 * i));
  datagram(ns, b, sizeof(b));
}

static void tx_ack(struct lg_ns *ns, const char *error) {
  uint8_t b[200] = {2, 0, 0, 5};
  for (int i = 0; i < 8; i++)
    b[4 + i] = (uint8_t)(GW >> (56 - 8 * i));
  uint16_t token = (uint16_t)(ns->next_token - 1); /* the one in flight */
  b[1] = (uint8_t)(token >> 8), b[2] = (uint8_t)token;
  int n = snprintf((char *)b + 12, sizeof(b) - 12, "{\"txpk_ack\":{\"error\":\"%s\"}}", error);
  datagram(ns, b, 12 + (size_t)n);
}

/* A txpk's time on air and its decoded frame. */
static int64_t txpk_airtime_ns(json_t *tx, struct lg_frame *fr) {
  int sf = 0, bw = 0;
  sscanf(json_string_value(json_object_get(tx, "datr")), "SF%dBW%d", &sf, &bw);
  size_t size = (size_t)json_integer_value(json_object_get(tx, "size"));
  uint8_t phy[300];
  const char *d = json_string_value(json_object_get(tx, "data"));
  int n = EVP_DecodeBlock(phy, (const unsigned char *)d, (int)strlen(d));
  if (fr && n > 0) lg_frame_decode(phy, size, fr);
  return ns_airtime_ns(sf, (uint32_t)bw * 1000, size, false);
}

static void reset_sent(void) {
  for (size_t i = 0; i < n_sent; i++)
    json_decref(sent[i]);
  n_sent = 0;
}

static void test_us915(void) {
  struct lg_ns *ns = server("US915", NULL);
  LG_CHECK(ns != NULL);
  if (ns == NULL) return;
  const struct lg_ns_metrics *m = lg_ns_metrics(ns);
  pull(ns);
  /* DR0 (SF10/125 kHz): 24 bytes are 371 ms, within; 40 bytes 493 ms, over */
  uplink(ns, 1, "SF10BW125", 902.3, 11, NULL, 0);
  LG_EQ_INT(atomic_load(&m->dwell_uplinks), 0);
  uplink(ns, 2, "SF10BW125", 902.3, 27, NULL, 0);
  LG_EQ_INT(atomic_load(&m->dwell_uplinks), 1);
  /* a 36-byte downlink: RX1 (SF10/500) is short; RX2 (SF12/500) would be 452 ms */
  uint8_t data[120] = {0};
  LG_EQ_INT(lg_store_queue_push(store, DEV, 5, data, 36, false), 0);
  reset_sent();
  uplink(ns, 3, "SF7BW125", 902.3, 4, NULL, 0);
  LG_EQ_INT(n_sent, 1);
  tx_ack(ns, "TOO_LATE"); /* RX1 missed: RX2 would break the dwell time, so none */
  LG_EQ_INT(n_sent, 1);
  for (size_t i = 0; i < n_sent; i++)
    LG_CHECK(txpk_airtime_ns(sent[i], NULL) <= LG_DWELL_LIMIT_NS);
  /* 120 bytes in RX1 at DR10 (SF10/500 kHz, M 250): sent, well within 400 ms */
  LG_EQ_INT(lg_store_queue_push(store, DEV, 6, data, 120, false), 0);
  reset_sent();
  uplink(ns, 4, "SF10BW125", 902.3, 4, NULL, 0);
  LG_EQ_INT(atomic_load(&m->queue_discarded), 0);
  LG_EQ_INT(n_sent, 1);
  struct lg_frame fr;
  memset(&fr, 0, sizeof(fr));
  if (n_sent) LG_CHECK(txpk_airtime_ns(sent[0], &fr) <= LG_DWELL_LIMIT_NS);
  LG_CHECK(fr.u.data.has_f_port && fr.u.data.frm_payload_len == 120);
  LG_CHECK(ns_downlink_max_phy(ns, 8, false) <= 30 + 5); /* SF12/500: 400 ms holds ~35 */
  LG_CHECK(ns_airtime_ns(12, 500000, ns_downlink_max_phy(ns, 8, false), false) <=
           LG_DWELL_LIMIT_NS);
  reset_sent();
  lg_ns_free(ns);
  lg_store_close(store);
}

static void test_as923(void) {
  struct lg_ns *ns = server("AS923-1", NULL); /* the defaults: dwell on both ways */
  LG_CHECK(ns != NULL);
  if (ns == NULL) return;
  LG_EQ_INT(ns_dwell_min_uplink_dr(ns, DEV, 20), 2); /* DR0/DR1 are not allowed under it */
  LG_CHECK(ns_dwell_downlink(ns));
  pull(ns);
  reset_sent();
  uplink(ns, 1, "SF7BW125", 923.2, 4, NULL, 0);
  LG_EQ_INT(n_sent, 1);
  struct lg_frame fr;
  memset(&fr, 0, sizeof(fr));
  if (n_sent) txpk_airtime_ns(sent[0], &fr);
  LG_EQ_INT(fr.u.data.f_opts_len, 0); /* the defaults: no TxParamSetupReq */
  /* uplink DR2 (SF10): RX1 under DownlinkDwellTime = 1 is DR2 (RP002 §2.8.7), where 400 ms
   * and M 19 leave 11 bytes: a queued 40 is discarded, counted; the ACK goes alone */
  uint8_t data[40] = {0};
  LG_EQ_INT(lg_store_queue_push(store, DEV, 6, data, 40, false), 0);
  reset_sent();
  uplink(ns, 2, "SF10BW125", 923.2, 4, NULL, 0);
  LG_EQ_INT(atomic_load(&lg_ns_metrics(ns)->queue_discarded), 1);
  LG_EQ_INT(n_sent, 1);
  memset(&fr, 0, sizeof(fr));
  if (n_sent) {
    LG_EQ_STR(json_string_value(json_object_get(sent[0], "datr")), "SF10BW125");
    LG_CHECK(txpk_airtime_ns(sent[0], &fr) <= LG_DWELL_LIMIT_NS);
  }
  LG_CHECK(!fr.u.data.has_f_port);
  reset_sent();
  lg_ns_free(ns);
  lg_store_close(store);

  ns = server("AS923-1", "false");
  LG_CHECK(ns != NULL);
  if (ns == NULL) return;
  pull(ns);
  LG_EQ_INT(ns_dwell_min_uplink_dr(ns, DEV, 20), 2); /* not yet told */
  uplink(ns, 1, "SF7BW125", 923.2, 4, NULL, 0);
  LG_EQ_INT(n_sent, 1);
  memset(&fr, 0, sizeof(fr));
  if (n_sent) txpk_airtime_ns(sent[0], &fr);
  LG_EQ_INT(fr.u.data.f_opts_len, 2);
  LG_EQ_INT(fr.u.data.f_opts[0], 0x09);      /* TxParamSetupReq */
  LG_EQ_INT(fr.u.data.f_opts[1] & 0x30, 0x20); /* downlink dwell on, uplink off */
  LG_EQ_INT(fr.u.data.f_opts[1] & 0x0f, 5);    /* MaxEIRP 16 dBm */
  static const uint8_t ans[1] = {0x09};        /* TxParamSetupAns */
  reset_sent();
  uplink(ns, 2, "SF7BW125", 923.2, 4, ans, 1);
  LG_EQ_INT(ns_dwell_min_uplink_dr(ns, DEV, 20), 0);
  memset(&fr, 0, sizeof(fr));
  if (n_sent) txpk_airtime_ns(sent[0], &fr);
  LG_EQ_INT(fr.u.data.f_opts_len, 0); /* answered: not asked again */
  reset_sent();
  lg_ns_free(ns);
  lg_store_close(store);
}

int main(void) {
  test_us915();
  test_as923();
  return lg_test_report("test_dwell");
}
