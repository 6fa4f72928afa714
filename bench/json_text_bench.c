/*
 * What writing an event's JSON costs (issue 15: MQTT's share of the server's CPU): the `up`
 * event of an uplink four gateways heard, built as the server builds it
 * (lg_store_uplink_json_of), written N times by jansson's json_dumps (the flags the MQTT
 * path used) and by lg_json_text (util/json_text.c), alternating in one run; the same
 * bytes are checked, and the ratio is the figure (a shared machine's noise cancels in it).
 * Usage: json_text_bench [N, default 200000]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "integ/integ.h"
#include "store/store.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  struct lg_uplink_rec u = {.dev_eui = 0x0102030405060708ULL, .dev_addr = 0x26011bda, .f_cnt = 4711,
                            .f_port = 2, .data_len = 12, .dr = 5, .freq_hz = 868100000,
                            .received_ns = 1767225604945154187LL};
  struct lg_reception_rec rx[4];
  static const double lat[4] = {55.7819, 55.76843, 55.76843, 55.78198},
                      lon[4] = {12.51782, 12.4572, 12.47627, 12.48063},
                      rssi[4] = {-117.0, -106.5, -121.0, -99.0}, snr[4] = {-5.7, 0.1, -9.2, 10.5};
  for (int i = 0; i < 4; i++)
    rx[i] = (struct lg_reception_rec){.gateway_eui = (uint64_t)(0x0000024b080e1039LL + i),
                                      .has_time = true, .time_ns = u.received_ns - 1000000 + i * 1700,
                                      .sigma_ns = 10, .has_tmst = true, .tmst = 3512348611u + (uint32_t)i,
                                      .rssi_dbm = rssi[i], .snr_db = snr[i], .channel = 0,
                                      .freq_hz = 868100000, .has_position = true, .lat_deg = lat[i],
                                      .lon_deg = lon[i], .alt_m = 40 + i, .received_ns = u.received_ns};
  json_t *ev = lg_store_uplink_json_of(&u, rx, 4);
  char *a = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
  char *b = lg_json_text(ev, NULL);
  if (!a || !b || strcmp(a, b) != 0) return fprintf(stderr, "the texts differ\n"), 1;
  size_t bytes = strlen(a);
  free(a), free(b);
  double t_j = 0, t_o = 0;
  for (int round = 0; round < 4; round++) {
    double t0 = now_s();
    for (long i = 0; i < n / 4; i++)
      free(json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)));
    double t1 = now_s();
    for (long i = 0; i < n / 4; i++)
      free(lg_json_text(ev, NULL));
    t_j += t1 - t0, t_o += now_s() - t1;
  }
  printf("{\"event_bytes\": %zu, \"events\": %ld, \"json_dumps_us\": %.2f, \"lg_json_text_us\": %.2f, "
         "\"ratio\": %.3f}\n",
         bytes, n, t_j / (double)n * 1e6, t_o / (double)n * 1e6, t_o / t_j);
  json_decref(ev);
  return 0;
}
