/*
 * libFuzzer harness for the server's whole packet path: any bytes as a datagram from a
 * provisioned gateway (the first input byte picks PUSH_DATA, PULL_DATA or TX_ACK and the
 * header is built around the rest), then the de-duplication window closes and the frame
 * runs through decoding, session lookup, MIC, counters, storage (SQLite in memory),
 * geolocation and the answer. Property: no crash, no out-of-bounds access, no leak
 * (sanitizers); every datagram is accounted for: taken up by its handler or counted as
 * dropped with a datagram-level reason — never lost silently (the fuzzer aborts if not).
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns/ns.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t fake_now = 1795000000000000000LL;
static int64_t now_ns(void *ctx) {
  (void)ctx;
  return fake_now;
}
static void send_nothing(void *ctx, const struct sockaddr *to, socklen_t len, const uint8_t *buf,
                         size_t n) {
  (void)ctx, (void)to, (void)len, (void)buf, (void)n;
}

static struct lg_store *store;
static struct lg_ns *ns;

static void setup(void) {
  char why[256];
  if (lg_store_open(&store, ":memory:", why, sizeof(why))) {
    fprintf(stderr, "fuzz_ns: %s\n", why);
    abort();
  }
  struct lg_gateway_rec g = {.eui = 0xaa555a0000000001ull,
                             .has_position = true,
                             .lat_deg = 55.78,
                             .lon_deg = 12.46,
                             .alt_m = 30};
  if (lg_store_gateway_put(store, &g)) abort();
  struct lg_device_rec d = {
      .dev_eui = 0x0102030405060708ull, .has_session = true, .dev_addr = 0x49be7df1};
  static const uint8_t k[16] = {0x44, 0x02, 0x42, 0x41, 0xed, 0x4c, 0xe9, 0xa6,
                                0x8c, 0x6a, 0x8b, 0xc0, 0x55, 0x23, 0x3f, 0xd3};
  memcpy(d.nwk_s_key, k, 16);
  memcpy(d.app_s_key, k, 16);
  snprintf(d.adr, sizeof(d.adr), "standard");
  if (lg_store_device_put(store, &d)) abort();
  struct lg_config cfg;
  if (lg_config_load(&cfg, NULL, why, sizeof(why))) abort();
  cfg.journal[0] = '\0'; /* the store is in memory: nothing to recover into */
  /* and the server's own database is that one (else a storage thread would open
   * ./lorageo.db in the working directory: a second run there found it and failed) */
  snprintf(cfg.database, sizeof(cfg.database), ":memory:");
  struct lg_ns_io io = {.ctx = NULL, .now_ns = now_ns, .send = send_nothing};
  if ((ns = lg_ns_new(&cfg, store, &io, why, sizeof(why))) == NULL) abort();
}

/* The drops a whole datagram can end in (those of its receptions come after it is taken). */
static uint64_t datagram_drops(struct lg_ns_metrics *m) {
  static const enum lg_drop reasons[] = {LG_DROP_SHORT,           LG_DROP_VERSION,
                                         LG_DROP_TYPE,            LG_DROP_ZERO_EUI,
                                         LG_DROP_JSON,            LG_DROP_UNKNOWN_GATEWAY,
                                         LG_DROP_GATEWAY_ADDRESS, LG_DROP_GATEWAY_NETWORK};
  uint64_t n = 0;
  for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
    n += atomic_load(&m->dropped[reasons[i]]);
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (ns == NULL) setup();
  if (size < 1 || size > 4096) return 0;
  static const uint8_t types[] = {0, 2, 5};
  uint8_t *dg = malloc(12 + size - 1);
  if (dg == NULL) return 0;
  dg[0] = 2, dg[1] = 0x12, dg[2] = 0x34, dg[3] = types[data[0] % 3];
  static const uint8_t eui[8] = {0xaa, 0x55, 0x5a, 0, 0, 0, 0, 1};
  memcpy(dg + 4, eui, 8);
  memcpy(dg + 12, data + 1, size - 1);
  struct sockaddr_storage from = {.ss_family = AF_INET};
  struct lg_ns_metrics *m = lg_ns_metrics(ns);
  uint64_t before = atomic_load(&m->datagrams_handled) + datagram_drops(m);
  lg_ns_datagram(ns, (struct sockaddr *)&from, sizeof(struct sockaddr_in), dg, 12 + size - 1);
  free(dg);
  uint64_t after = atomic_load(&m->datagrams_handled) + datagram_drops(m);
  if (after != before + 1) {
    fprintf(stderr, "fuzz_ns: a datagram neither handled nor counted as dropped (%llu)\n",
            (unsigned long long)(after - before));
    abort();
  }
  fake_now += 3000000000LL; /* past the window and the late horizon: everything closes */
  lg_ns_tick(ns);
  return 0;
}
