/*
 * The network server's core (ns/) driven with a fake clock and real PUSH_DATA datagrams,
 * twice: on SQLite ":memory:" (storage on the packet thread: an in-memory database is one
 * per connection) and on a SQLite file (storage behind the packet path, behind.c, with its
 * own thread and connection). The same checks hold for both: a late copy from a new
 * gateway attached to its uplink, a gateway's second copy not kept, a retransmission and a
 * replay not stored, a counter reset accepted only where allowed, the MQTT `up` event built
 * from memory equal to what the API reads back, and frames journalled but not stored
 * (the process died) stored once after a restart, none twice when recovered again.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <unistd.h>

#include "lg_test.h"
#include "lorawan/lorawan.h"
#include "ns/ns.h"
#include "store/store.h"

static int64_t fake_now;
static int64_t now_ns(void *ctx) {
  (void)ctx;
  return fake_now;
}
static void send_nothing(void *ctx, const struct sockaddr *to, socklen_t len, const uint8_t *buf,
                         size_t n) {
  (void)ctx, (void)to, (void)len, (void)buf, (void)n;
}

/* The `up` events published, and the last one. */
static int ups;
static json_t *last_up;
static void on_event(void *ctx, uint64_t dev_eui, const char *type, json_t *payload) {
  (void)ctx, (void)dev_eui;
  if (strcmp(type, "up") == 0) {
    ups++;
    json_decref(last_up);
    last_up = payload;
  } else {
    json_decref(payload);
  }
}

static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
#define GW(g)     (0xaa555a0000000100ull + (uint64_t)(unsigned)(g))
#define DEV_A     0x0102030400000001ull /* no counter resets */
#define DEV_B     0x0102030400000002ull /* resets allowed */
#define ADDR(dev) (0x26000000u + (uint32_t)((dev) & 0xff))

static void provision(struct lg_store *s) {
  for (int g = 0; g < 4; g++) {
    struct lg_gateway_rec gw = {
        .eui = GW(g), .has_position = true, .lat_deg = 55.78 + 0.01 * g, .lon_deg = 12.46, .alt_m = 30};
    LG_EQ_INT(lg_store_gateway_put(s, &gw), 0);
  }
  uint64_t devs[2] = {DEV_A, DEV_B};
  for (int i = 0; i < 2; i++) {
    struct lg_device_rec d = {.dev_eui = devs[i], .has_session = true, .dev_addr = ADDR(devs[i]),
                              .fcnt_resets_allowed = devs[i] == DEV_B,
                              /* B in its second 16-bit epoch: a low counter from it is told
                               * apart from an old frame (one epoch back) */
                              .fcnt_up_next = devs[i] == DEV_B ? 70000 : 0};
    memcpy(d.nwk_s_key, key, 16);
    memcpy(d.app_s_key, key, 16);
    snprintf(d.adr, sizeof(d.adr), "off");
    LG_EQ_INT(lg_store_device_put(s, &d), 0);
  }
}

/* Gateway g's PUSH_DATA carrying device dev's uplink with counter fcnt (and FOpts). */
static void push_opts(struct lg_ns *ns, int g, uint64_t dev, uint32_t fcnt, const uint8_t *fopts,
                      size_t fopts_len);
static void push(struct lg_ns *ns, int g, uint64_t dev, uint32_t fcnt) {
  push_opts(ns, g, dev, fcnt, NULL, 0);
}
static void push_opts(struct lg_ns *ns, int g, uint64_t dev, uint32_t fcnt, const uint8_t *fopts,
                      size_t fopts_len) {
  struct lg_crypto c;
  struct lg_key k;
  lg_crypto_init(&c);
  lg_key_init(&k, &c, key);
  struct lg_frame f;
  memset(&f, 0, sizeof(f));
  f.mtype = LG_MTYPE_UNCONFIRMED_UP;
  f.u.data.dev_addr = ADDR(dev);
  f.u.data.f_cnt16 = (uint16_t)fcnt;
  f.u.data.has_f_port = true;
  f.u.data.f_port = 1;
  f.u.data.frm_payload_len = 4;
  f.u.data.f_opts_len = (uint8_t)fopts_len;
  if (fopts_len) memcpy(f.u.data.f_opts, fopts, fopts_len);
  uint8_t plain[4] = "test";
  lg_payload_crypt(&k, f.u.data.dev_addr, fcnt, false, plain, 4, f.u.data.frm_payload);
  uint8_t phy[64];
  size_t len = 0;
  lg_frame_encode(&f, phy, sizeof(phy), &len);
  lg_data_mic(&k, phy, len - 4, f.u.data.dev_addr, fcnt, false, phy + len - 4);
  lg_key_close(&k);
  lg_crypto_close(&c);
  char b64[100];
  EVP_EncodeBlock((unsigned char *)b64, phy, (int)len);
  uint8_t b[600];
  b[0] = 2, b[1] = (uint8_t)fcnt, b[2] = (uint8_t)g, b[3] = 0;
  for (int i = 0; i < 8; i++)
    b[4 + i] = (uint8_t)(GW(g) >> (56 - 8 * i));
  int64_t gps = fake_now - 315964800000000000LL + 18000000000LL + 1000 * g;
  int n = snprintf((char *)b + 12, sizeof(b) - 12,
                   "{\"rxpk\":[{\"tmms\":%lld,\"ftime\":%lld,\"tmst\":%u,\"chan\":0,\"rfch\":0,"
                   "\"freq\":868.1,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\","
                   "\"codr\":\"4/5\",\"rssi\":%d,\"lsnr\":7.5,\"size\":%zu,\"data\":\"%s\"}]}",
                   (long long)(gps / 1000000), (long long)(gps % 1000000000),
                   (unsigned)(fake_now / 1000), -90 - g, len, b64);
  struct sockaddr_in from = {.sin_family = AF_INET};
  lg_ns_datagram(ns, (struct sockaddr *)&from, sizeof(from), b, 12 + (size_t)n);
  LG_EQ_INT(lg_ns_flush(ns), 0); /* journalled (with a journal) */
}

/* Time passes by ms, a tick every 10 ms. */
static void wait_ms(struct lg_ns *ns, int ms) {
  for (int t = 0; t < ms; t += 10) {
    fake_now += 10000000;
    lg_ns_tick(ns);
  }
}

static json_t *uplinks(struct lg_store *s, uint64_t dev) {
  json_t *o = lg_store_uplinks_json(s, dev, 0, 100);
  json_t *items = json_incref(json_object_get(o, "items"));
  json_decref(o);
  return items;
}

static size_t n_uplinks(struct lg_store *s, uint64_t dev) {
  json_t *items = uplinks(s, dev);
  size_t n = json_array_size(items);
  json_decref(items);
  return n;
}

static struct lg_ns *server(const char *db, const char *journal, struct lg_store *s) {
  struct lg_config cfg;
  char why[256];
  if (lg_config_load(&cfg, NULL, why, sizeof(why))) return NULL;
  snprintf(cfg.database, sizeof(cfg.database), "%s", db);
  snprintf(cfg.journal, sizeof(cfg.journal), "%s", journal);
  cfg.geo_learned[0] = '\0';
  cfg.geo_learned_set = true;
  cfg.adr_learned[0] = '\0';
  cfg.adr_learned_set = true;
  struct lg_ns_io io = {.now_ns = now_ns, .send = send_nothing, .on_event = on_event};
  struct lg_ns *ns = lg_ns_new(&cfg, s, &io, why, sizeof(why));
  if (ns == NULL) fprintf(stderr, "lg_ns_new: %s\n", why);
  return ns;
}

/* Runs SQL on a PostgreSQL database with psql (what the store does not offer): its status. */
static int psql(const char *uri, const char *sql) {
  char path[] = "/tmp/lg_ns_core_sql.XXXXXX", cmd[600];
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  ssize_t n = write(fd, sql, strlen(sql));
  close(fd);
  snprintf(cmd, sizeof(cmd), "psql '%s' -v ON_ERROR_STOP=1 -qf %s", uri, path);
  int rc = n == (ssize_t)strlen(sql) ? system(cmd) : -1;
  unlink(path);
  return rc;
}

static void run(const char *db, const char *journal) {
  fprintf(stderr, "-- %s\n", db);
  struct lg_store *s;
  char why[256];
  /* opened as the server opens its stores: device keys wrapped with the key-encryption key
   * beside the database (the storage thread's connection uses the same) */
  struct lg_config cfg;
  char note[512];
  if (lg_config_load(&cfg, NULL, why, sizeof(why)) == 0)
    snprintf(cfg.database, sizeof(cfg.database), "%s", db);
  if (strncmp(db, "postgresql:", 11) == 0) { /* a key of its own beside the journal */
    snprintf(cfg.kek_file, sizeof(cfg.kek_file), "%s.kek", journal);
    FILE *f = fopen(cfg.kek_file, "w");
    if (f) fprintf(f, "%064d\n", 7);
    if (f) fclose(f);
    cfg.kek_file_set = true;
  }
  bool mem = strcmp(db, ":memory:") == 0; /* one connection: nothing to wrap keys for */
  if (mem ? lg_store_open(&s, db, why, sizeof(why))
          : lg_config_open_store(&cfg, db, &s, NULL, note, sizeof(note), why, sizeof(why))) {
    LG_FAIL_AT("%s", why);
    return;
  }
  provision(s);
  fake_now = 1800000000000000000LL;
  ups = 0;
  struct lg_ns *ns = server(db, journal, s);
  LG_CHECK(ns != NULL);
  if (ns == NULL) return;
  struct lg_ns_metrics *m = lg_ns_metrics(ns);

  /* one frame, two gateways; then a late copy from a third, a second copy from the first */
  push(ns, 0, DEV_A, 0);
  push(ns, 1, DEV_A, 0);
  wait_ms(ns, 300);
  push(ns, 2, DEV_A, 0);
  push(ns, 0, DEV_A, 0);
  lg_ns_drain(ns); /* everything closed and written */
  json_t *items = uplinks(s, DEV_A);
  LG_EQ_INT(json_array_size(items), 1);
  json_t *rx = json_object_get(json_array_get(items, 0), "rx_info");
  LG_EQ_INT(json_array_size(rx), 3);
  LG_CHECK(json_is_true(json_object_get(json_array_get(rx, 2), "late")));
  LG_EQ_INT(atomic_load(&m->dup_same_gateway), 1);
  /* the MQTT `up` event, built from memory, is the API's uplink as it was first stored */
  LG_EQ_INT(ups, 1);
  json_t *first = json_deep_copy(json_array_get(items, 0));
  json_array_remove(json_object_get(first, "rx_info"), 2); /* the late one came after */
  LG_CHECK(last_up && json_equal(last_up, first));
  json_decref(first);
  json_decref(items);

  /* the same counter again after the horizon: a retransmission, not stored */
  wait_ms(ns, 2500);
  push(ns, 3, DEV_A, 0);
  wait_ms(ns, 300);
  /* counter 5, then 3: a replay */
  push(ns, 0, DEV_A, 5);
  wait_ms(ns, 300);
  push(ns, 0, DEV_A, 3);
  wait_ms(ns, 300);
  /* a high counter, then 0: refused for A (a replay), a reset for B (allowed) */
  push(ns, 0, DEV_A, 10);
  push(ns, 0, DEV_B, 70000);
  wait_ms(ns, 300);
  push(ns, 1, DEV_A, 0);
  push(ns, 1, DEV_B, 0);
  wait_ms(ns, 300);
  lg_ns_drain(ns);
  LG_EQ_INT(atomic_load(&m->retransmissions), 1);
  LG_EQ_INT(n_uplinks(s, DEV_A), 3); /* 0, 5, 10 */
  LG_EQ_INT(n_uplinks(s, DEV_B), 2); /* 70000, 0 (reset) */
  /* FCnt 3 after 5 (A's 0 after 10 carries the bytes of the retransmission still within
   * its late horizon: a late copy of a frame not stored, attached to nothing) */
  LG_EQ_INT(atomic_load(&m->dropped[LG_DROP_REPLAY]), 1);
  struct lg_device_rec d;
  LG_EQ_INT(lg_store_device_get(s, DEV_B, &d), 0);
  LG_EQ_INT(d.fcnt_up_next, 1);
  LG_EQ_INT(lg_store_device_get(s, DEV_A, &d), 0);
  LG_EQ_INT(d.fcnt_up_next, 11);
  lg_ns_free(ns);

  /* frames journalled, then the process dies before their windows close: a new server on
   * the same database and journal stores them once; one more restart stores nothing */
  if (journal[0]) {
    ns = server(db, journal, s);
    LG_CHECK(ns != NULL);
    if (ns == NULL) return;
    wait_ms(ns, 50);
    push(ns, 0, DEV_A, 11);
    push(ns, 1, DEV_A, 11);
    push(ns, 2, DEV_B, 1);
    lg_ns_free(ns); /* no drain: as if killed */
    LG_EQ_INT(n_uplinks(s, DEV_A), 3);
    for (int round = 0; round < 2; round++) {
      ns = server(db, journal, s);
      LG_CHECK(ns != NULL);
      if (ns == NULL) return;
      /* /metrics answers before the first tick: the lag it shows is the journal's */
      uint64_t behind = lg_ns_recover(ns);
      LG_CHECK(atomic_load(&lg_ns_metrics(ns)->journal_lag) == behind);
      LG_CHECK(round == 0 ? behind >= 3 : behind == 0);
      wait_ms(ns, 3000);
      LG_CHECK(!lg_ns_catching_up(ns));
      lg_ns_drain(ns);
      lg_ns_free(ns);
      LG_EQ_INT(n_uplinks(s, DEV_A), 4);
      LG_EQ_INT(n_uplinks(s, DEV_B), 3);
      json_t *it = uplinks(s, DEV_A);
      LG_EQ_INT(json_array_size(json_object_get(json_array_get(it, 0), "rx_info")), 2);
      json_decref(it);
    }
  }

  /* another instance takes A's counters behind this server's cached session: the next
   * frame passes the cache and is refused by the storage thread's compare-and-set (on
   * :memory:, by the packet thread reading the store) — a replay, and nothing of it (the
   * uplink, its receptions, location, events, its MQTT `up`) stored or published */
  ns = server(db, journal, s);
  LG_CHECK(ns != NULL);
  if (ns == NULL) return;
  m = lg_ns_metrics(ns);
  wait_ms(ns, 50);
  push(ns, 0, DEV_A, 12);
  push(ns, 1, DEV_A, 12);
  wait_ms(ns, 300);
  lg_ns_drain(ns); /* stored, and A's session cached with counter 13 next */
  LG_EQ_INT(n_uplinks(s, DEV_A), journal[0] ? 5 : 4);
  LG_EQ_INT(lg_store_fcnt_up_advance(s, DEV_A, 20, fake_now), 0);
  json_t *ev = lg_store_events_json(s, DEV_A, 0, 100);
  size_t events = json_array_size(json_object_get(ev, "items"));
  json_decref(ev);
  int ups_before = ups;
  uint64_t replays = atomic_load(&m->dropped[LG_DROP_REPLAY]);
  push(ns, 0, DEV_A, 13);
  push(ns, 1, DEV_A, 13);
  wait_ms(ns, 300);
  lg_ns_drain(ns);
  LG_EQ_INT(n_uplinks(s, DEV_A), journal[0] ? 5 : 4);
  LG_EQ_INT(atomic_load(&m->dropped[LG_DROP_REPLAY]), replays + 1);
  LG_EQ_INT(ups, ups_before);
  ev = lg_store_events_json(s, DEV_A, 0, 100);
  LG_EQ_INT(json_array_size(json_object_get(ev, "items")), events);
  json_decref(ev);
  LG_EQ_INT(lg_store_device_get(s, DEV_A, &d), 0);
  LG_EQ_INT(d.fcnt_up_next, 21);
  /* and the session read again: counter 21 is taken */
  push(ns, 0, DEV_A, 21);
  wait_ms(ns, 1300);
  lg_ns_drain(ns);
  LG_EQ_INT(n_uplinks(s, DEV_A), journal[0] ? 6 : 5);
  LG_EQ_INT(ups, ups_before + 1);

  /* PostgreSQL: a statement failing inside the pipeline (a trigger refuses A's uplink with
   * counter 22, sent after B's in the same batch) rolls the whole batch back — B's uplink,
   * whose statement went through, is not kept either, nothing is published — and the
   * journal runs it again until it goes through: each stored once, announced once */
  if (strncmp(db, "postgresql:", 11) == 0) {
    LG_EQ_INT(psql(db, "CREATE FUNCTION lg_refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION"
                       " 'refused by the test'; END $$ LANGUAGE plpgsql;"
                       " CREATE TRIGGER lg_refuse BEFORE INSERT ON uplinks FOR EACH ROW"
                       " WHEN (NEW.f_cnt = 22) EXECUTE FUNCTION lg_refuse();"),
              0);
    uint64_t errors = atomic_load(&m->store_errors);
    push(ns, 0, DEV_B, 2);
    push(ns, 0, DEV_A, 22);
    push(ns, 1, DEV_A, 22);
    wait_ms(ns, 300);
    for (int i = 0; i < 500 && atomic_load(&m->store_errors) == errors; i++) {
      usleep(10000); /* the storage thread's real time */
      wait_ms(ns, 10);
    }
    wait_ms(ns, 2500); /* tried again from the journal, failing again */
    LG_EQ_INT(n_uplinks(s, DEV_A), 6);
    LG_EQ_INT(n_uplinks(s, DEV_B), 3);
    LG_CHECK(atomic_load(&m->store_errors) > errors);
    LG_EQ_INT(ups, ups_before + 1);
    LG_EQ_INT(psql(db, "DROP TRIGGER lg_refuse ON uplinks;"), 0);
    wait_ms(ns, 3000);
    lg_ns_drain(ns);
    LG_EQ_INT(n_uplinks(s, DEV_A), 7);
    LG_EQ_INT(n_uplinks(s, DEV_B), 4);
    LG_EQ_INT(ups, ups_before + 3);
    LG_EQ_INT(lg_store_device_get(s, DEV_A, &d), 0);
    LG_EQ_INT(d.fcnt_up_next, 23);
    LG_EQ_INT(atomic_load(&m->store_down), 0); /* the journal's frames stored: it works */
    /* said by the probe write (the re-run found both frames stored by the batch that
     * cleared the trigger's failure: no commit of its own) */
    LG_EQ_INT(psql(db, "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM meta WHERE name = 'store_probe')"
                       " THEN RAISE EXCEPTION 'no probe write'; END IF; END $$;"),
              0);
    push(ns, 0, DEV_A, 23);
    wait_ms(ns, 300);
    lg_ns_drain(ns);
    LG_EQ_INT(n_uplinks(s, DEV_A), 8);
    LG_EQ_INT(atomic_load(&m->store_down), 0);
  }
  lg_ns_free(ns);
  lg_store_close(s);
}

/* PULL_RESPs the server sent: their txpk JSON. */
static char sent_txpk[8][1024];
static int n_sent;
static void capture(void *ctx, const struct sockaddr *to, socklen_t len, const uint8_t *buf,
                    size_t n) {
  (void)ctx, (void)to, (void)len;
  if (n > 4 && buf[3] == 3 && n_sent < 8) snprintf(sent_txpk[n_sent++], 1024, "%.*s", (int)(n - 4), buf + 4);
}

/* A txpk's frame decoded (session keys `key`); its FOpts parsed into cmds. */
static size_t sent_frame(int i, struct lg_frame *f, struct lg_mac_cmd *cmds, size_t cap) {
  json_t *o = json_loads(sent_txpk[i], 0, NULL);
  const char *d = json_string_value(json_object_get(json_object_get(o, "txpk"), "data"));
  uint8_t phy[300];
  int len = d ? EVP_DecodeBlock(phy, (const unsigned char *)d, (int)strlen(d)) : -1;
  size_t n = 0, bad = 0;
  if (len >= 12) { /* EVP_DecodeBlock counts the padding's bytes too */
    size_t l = strlen(d);
    len -= (d[l - 1] == '=') + (d[l - 2] == '=');
  }
  json_decref(o); /* (d was its string) */
  if (len < 12) return 0;
  if (lg_frame_decode(phy, (size_t)len, f)) return 0;
  lg_mac_parse(f->u.data.f_opts, f->u.data.f_opts_len, false, cmds, cap, &n, &bad);
  return n;
}

/* LoRaWAN 1.0.4 / 1.1 MAC answers and Class C: DeviceTimeReq gets the GPS time of the
 * uplink's reception, DeviceModeInd switches the device to Class C (and is confirmed);
 * then a queued item goes out at once on RX2 ("imme"), but not while the device's Class A
 * windows after an uplink may be open. */
static void mac_and_class_c(void) {
  fprintf(stderr, "-- MAC answers and Class C\n");
  struct lg_store *s;
  char why[256];
  if (lg_store_open(&s, ":memory:", why, sizeof(why))) {
    LG_FAIL_AT("%s", why);
    return;
  }
  provision(s);
  fake_now = 1800000000000000000LL;
  struct lg_config cfg;
  if (lg_config_load(&cfg, NULL, why, sizeof(why))) return;
  snprintf(cfg.database, sizeof(cfg.database), ":memory:");
  cfg.journal[0] = '\0';
  cfg.geo_learned[0] = '\0';
  cfg.geo_learned_set = true;
  cfg.adr_learned[0] = '\0';
  cfg.adr_learned_set = true;
  struct lg_ns_io io = {.now_ns = now_ns, .send = capture, .on_event = on_event};
  struct lg_ns *ns = lg_ns_new(&cfg, s, &io, why, sizeof(why));
  LG_CHECK(ns != NULL);
  if (ns == NULL) return;
  uint8_t pull[12] = {2, 0, 1, 2};
  for (int i = 0; i < 8; i++)
    pull[4 + i] = (uint8_t)(GW(0) >> (56 - 8 * i));
  struct sockaddr_in from = {.sin_family = AF_INET};
  lg_ns_datagram(ns, (struct sockaddr *)&from, sizeof(from), pull, sizeof(pull));
  n_sent = 0;
  const uint8_t opts[] = {LG_MAC_DEVICE_TIME, LG_MAC_DEVICE_MODE, LG_DEVICE_CLASS_C};
  push_opts(ns, 0, DEV_A, 1, opts, sizeof(opts));
  int64_t gps_ns = fake_now - 315964800000000000LL + 18000000000LL; /* push()'s tmms, 2026 */
  wait_ms(ns, 300);
  LG_EQ_INT(n_sent, 1);
  struct lg_frame f;
  struct lg_mac_cmd cmds[4];
  size_t n = sent_frame(0, &f, cmds, 4);
  LG_EQ_INT(n, 2);
  LG_EQ_INT(cmds[0].cid, LG_MAC_DEVICE_TIME);
  LG_EQ_INT(cmds[0].u.device_time_ans.gps_seconds, (long long)(gps_ns / 1000000000LL));
  LG_EQ_INT(cmds[0].u.device_time_ans.fraction, (long long)((gps_ns / 1000000 % 1000) * 256 / 1000));
  LG_EQ_INT(cmds[1].cid, LG_MAC_DEVICE_MODE);
  LG_EQ_INT(cmds[1].u.device_mode.device_class, LG_DEVICE_CLASS_C);
  struct lg_device_rec d;
  LG_EQ_INT(lg_store_device_get(s, DEV_A, &d), 0);
  LG_CHECK(d.class_c);

  /* the session laid out for LoRaWAN 1.1: downlinks signed with SNwkSIntKey */
  static const uint8_t s_key[16] = {0x51, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  d.has_11_keys = true;
  memcpy(d.s_nwk_s_int_key, s_key, 16);
  memcpy(d.nwk_s_enc_key, key, 16);
  LG_EQ_INT(lg_store_device_put(s, &d), 0);
  struct lg_device_rec back;
  LG_EQ_INT(lg_store_device_get(s, DEV_A, &back), 0);
  LG_CHECK(back.has_11_keys && memcmp(back.s_nwk_s_int_key, s_key, 16) == 0 && back.class_c);

  /* queued 1 s after the uplink: its Class A windows (RX2 at 2 s) come first */
  n_sent = 0;
  LG_EQ_INT(lg_store_queue_push(s, DEV_A, 7, (const uint8_t *)"go", 2, false), 0);
  wait_ms(ns, 500);
  LG_EQ_INT(n_sent, 0);
  wait_ms(ns, 3000);
  LG_EQ_INT(n_sent, 1);
  LG_CHECK(strstr(sent_txpk[0], "\"imme\":true") != NULL);
  LG_CHECK(strstr(sent_txpk[0], "\"freq\":869.525") != NULL);
  LG_CHECK(strstr(sent_txpk[0], "\"datr\":\"SF12BW125\"") != NULL);
  n = sent_frame(0, &f, cmds, 4);
  LG_EQ_INT(f.u.data.dev_addr, ADDR(DEV_A));
  LG_CHECK(f.u.data.has_f_port && f.u.data.f_port == 7);
  {
    struct lg_crypto c;
    struct lg_key ks, kn;
    lg_crypto_init(&c);
    lg_key_init(&ks, &c, s_key);
    lg_key_init(&kn, &c, key);
    uint8_t phy[64], m1[4], m2[4];
    const char *d64 = strstr(sent_txpk[0], "\"data\":\"") + 8;
    int len = EVP_DecodeBlock(phy, (const unsigned char *)d64, (int)(strchr(d64, '"') - d64));
    len -= (d64[strchr(d64, '"') - d64 - 1] == '=') + (d64[strchr(d64, '"') - d64 - 2] == '=');
    lg_data_mic(&ks, phy, (size_t)len - 4, ADDR(DEV_A), f.u.data.f_cnt16, true, m1);
    lg_data_mic(&kn, phy, (size_t)len - 4, ADDR(DEV_A), f.u.data.f_cnt16, true, m2);
    LG_CHECK(memcmp(m1, phy + len - 4, 4) == 0); /* SNwkSIntKey's, */
    LG_CHECK(memcmp(m2, phy + len - 4, 4) != 0); /* not FNwkSIntKey's */
    lg_key_close(&ks);
    lg_key_close(&kn);
    lg_crypto_close(&c);
  }
  LG_EQ_INT(lg_ns_metrics(ns)->class_c_downlinks, 1);
  wait_ms(ns, 1000); /* sent once only */
  LG_EQ_INT(n_sent, 1);
  lg_ns_free(ns);
  lg_store_close(s);
}

int main(void) {
  char dir[] = "/tmp/lg_ns_core.XXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  char mem_journal[128], db[128], journal[128];
  snprintf(mem_journal, sizeof(mem_journal), "%s/mem.journal", dir);
  snprintf(db, sizeof(db), "%s/core.db", dir);
  snprintf(journal, sizeof(journal), "%s/core.journal", dir);
  char cmd[800];
  run(":memory:", mem_journal);
  run(db, journal);
  /* with LORAGEO_TEST_PG (a PostgreSQL URI without the database): once more on a fresh
   * PostgreSQL database, where the storage thread pipelines its writes (store_pipe.c) */
  const char *pg = getenv("LORAGEO_TEST_PG");
  if (pg && *pg) {
    char base[256], name[64], uri[384], pg_journal[128];
    snprintf(base, sizeof(base), "%s", pg);
    size_t l = strlen(base);
    if (l && base[l - 1] == '/') base[l - 1] = 0;
    snprintf(name, sizeof(name), "lorageo_ns_core_%d", (int)getpid());
    snprintf(cmd, sizeof(cmd), "psql '%s/postgres' -qc 'CREATE DATABASE %s'", base, name);
    LG_EQ_INT(system(cmd), 0);
    snprintf(uri, sizeof(uri), "%s/%s", base, name);
    snprintf(pg_journal, sizeof(pg_journal), "%s/pg.journal", dir);
    run(uri, pg_journal);
    snprintf(cmd, sizeof(cmd), "psql '%s/postgres' -qc 'DROP DATABASE %s WITH (FORCE)'", base, name);
    LG_EQ_INT(system(cmd), 0);
  }
  mac_and_class_c();
  json_decref(last_up);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0) return 1;
  printf("test_ns_core: %d checks, %d failures\n", lg_test_checks, lg_test_failures);
  return lg_test_failures ? 1 : 0;
}
