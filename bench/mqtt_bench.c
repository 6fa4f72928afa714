/*
 * MQTT publishing rate (issue 7: keep up with 10,000 uplinks/s). Publishes N `up` events
 * of the size the server sends (an uplink heard by 4 gateways, about 1 KB of JSON) through
 * the integration to a mosquitto broker, while a second client subscribed to them counts
 * what arrives. Prints events/s handed over and events/s received end to end.
 *
 *   mosquitto -p 18830 &   ./build/bench/mqtt_bench 18830 100000
 */
#define _DEFAULT_SOURCE /* usleep */
#include <inttypes.h>
#include <mosquitto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "integ/mqtt.h"
#include "ns/config.h"

static atomic_long received;

static void on_message(struct mosquitto *m, void *ctx, const struct mosquitto_message *msg) {
  (void)m, (void)ctx, (void)msg;
  atomic_fetch_add(&received, 1);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static json_t *up_event(long i) {
  json_t *rx = json_array();
  for (int g = 0; g < 4; g++)
    json_array_append_new(
        rx, json_pack("{s:s, s:s, s:I, s:i, s:f, s:f, s:i, s:f, s:f, s:f, s:b}", "gateway_eui",
                      "aa555a0000000001", "time", "2026-11-22T01:00:00.123456789Z", "time_ns",
                      (json_int_t)1795311835615999241LL, "tmst", 1000000 + g, "rssi", -97.0,
                      "snr", 7.5, "channel", 0, "latitude", 55.78, "longitude", 12.46, "altitude",
                      30.0, "late", 0));
  return json_pack("{s:s, s:s, s:I, s:i, s:s, s:b, s:b, s:i, s:i, s:o}", "dev_eui",
                   "0102030405060708", "dev_addr", "49be7df1", "f_cnt", (json_int_t)i, "f_port", 2,
                   "data", "aGVsbG8gd29ybGQ=", "confirmed", 0, "adr", 1, "dr", 5, "frequency",
                   868100000, "rx_info", rx);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: mqtt_bench BROKER_PORT EVENTS\n");
    return 2;
  }
  int port = atoi(argv[1]);
  long n = atol(argv[2]);
  struct lg_config cfg;
  char why[256];
  if (lg_config_load(&cfg, NULL, why, sizeof(why))) return 1;
  snprintf(cfg.mqtt_url, sizeof(cfg.mqtt_url), "mqtt://127.0.0.1:%d", port);
  snprintf(cfg.database, sizeof(cfg.database), "/tmp/lorageo-mqtt-bench-%d.db", (int)getpid());
  static struct lg_ns_metrics metrics;

  mosquitto_lib_init();
  struct mosquitto *sub = mosquitto_new(NULL, true, NULL);
  mosquitto_message_callback_set(sub, on_message);
  if (mosquitto_connect(sub, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) {
    fprintf(stderr, "mqtt_bench: no broker on port %d\n", port);
    return 1;
  }
  mosquitto_subscribe(sub, NULL, "lorageo/device/+/event/+", 1);
  mosquitto_loop_start(sub);

  struct lg_mqtt *m = lg_mqtt_start(&cfg, &metrics, why, sizeof(why));
  if (m == NULL) {
    fprintf(stderr, "mqtt_bench: %s\n", why);
    return 1;
  }
  for (int i = 0; i < 500 && !atomic_load(&metrics.mqtt_connected); i++) usleep(10000);
  usleep(200000); /* the subscription settled */

  double t0 = now_s();
  for (long i = 0; i < n; i++) lg_mqtt_event(m, 0x0102030405060708ULL, "up", up_event(i));
  double t1 = now_s();
  while (atomic_load(&received) < n && now_s() - t1 < 120) usleep(1000);
  double t2 = now_s();
  printf("{\"events\": %ld, \"handed_over_per_s\": %.0f, \"received_per_s\": %.0f, "
         "\"received\": %ld, \"dropped\": %" PRIu64 "}\n",
         n, (double)n / (t1 - t0), (double)atomic_load(&received) / (t2 - t0),
         atomic_load(&received), (uint64_t)atomic_load(&metrics.mqtt_dropped));
  lg_mqtt_stop(m);
  mosquitto_loop_stop(sub, true);
  mosquitto_destroy(sub);
  unlink(cfg.database);
  return atomic_load(&received) == n ? 0 : 1;
}
