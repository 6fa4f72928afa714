/*
 * Fills a lorageo database for the web UI bench: DEVICES ABP devices spread over a
 * 20 km square around Copenhagen, each with TRACK positions (seeded, reproducible).
 *   ./build/bench/web_fill /tmp/web-bench.db 10000 20
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: web_fill DATABASE DEVICES TRACK\n");
    return 2;
  }
  int n = atoi(argv[2]), track = atoi(argv[3]);
  struct lg_store *s;
  char why[256];
  if (lg_store_open(&s, argv[1], why, sizeof(why))) {
    fprintf(stderr, "web_fill: %s\n", why);
    return 1;
  }
  srand(1);
  if (lg_store_begin(s)) return 1;
  for (int i = 0; i < n; i++) {
    struct lg_device_rec d;
    memset(&d, 0, sizeof(d));
    d.dev_eui = 0x70b3d50000000000ULL + (unsigned long long)i;
    snprintf(d.name, sizeof(d.name), "device %d", i);
    snprintf(d.adr, sizeof(d.adr), "off");
    d.has_session = true;
    d.dev_addr = 0x26000000u + (uint32_t)i;
    for (int k = 0; k < 16; k++) d.nwk_s_key[k] = d.app_s_key[k] = (uint8_t)(i + k);
    if (lg_store_device_put(s, &d)) return 1;
    double lat = 55.6 + 0.18 * rand() / RAND_MAX, lon = 12.4 + 0.32 * rand() / RAND_MAX;
    for (int t = 0; t < track; t++) {
      struct lg_location_rec l = {.dev_eui = d.dev_eui, .f_cnt = (uint32_t)t,
                                  .lat_deg = lat + 0.0002 * t, .lon_deg = lon, .accuracy_m = 25,
                                  .gateways = 4, .created_ns = 1795300000000000000LL + t};
      snprintf(l.method, sizeof(l.method), "nls");
      if (lg_store_location_add(s, &l)) return 1;
    }
  }
  if (lg_store_commit(s)) return 1;
  lg_store_close(s);
  printf("{\"devices\": %d, \"positions\": %d}\n", n, n * track);
  return 0;
}
