/*
 * libFuzzer harness for the Semtech UDP datagram parser: header, PUSH_DATA JSON (rxpk,
 * rsig, stat) and TX_ACK, then what the server does next with a reception (best time,
 * antenna combination). Properties: no crash or out-of-bounds read, and every kept
 * reception has a payload of at most 255 bytes and in-range fine times.
 */
#include <stdlib.h>

#include "gw/gw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct lg_gw_push push;
  struct lg_gw_header h;
  char why[128];
  if (lg_gw_parse_header(data, size, &h) != 0) return 0;
  const char *body = (const char *)data + h.body_off;
  size_t len = size - h.body_off;
  if (h.type == LG_GW_TX_ACK) {
    lg_gw_parse_txack(body, len, why, sizeof(why));
    return 0;
  }
  if (h.type != LG_GW_PUSH_DATA || lg_gw_parse_push(body, len, &push, why, sizeof(why)) != 0)
    return 0;
  for (size_t i = 0; i < push.n_rxpk; i++) {
    const struct lg_gw_rxpk *r = &push.rxpk[i];
    if (r->size > 255 || r->n_ant > LG_GW_MAX_ANTENNAS) abort();
    int64_t t, f;
    double sigma;
    lg_gw_best_time(r, 20, &t, &sigma);
    if (lg_gw_combine_antennas(r, &f, NULL) > 0 && (f < 0 || f > 999999999)) abort();
  }
  return 0;
}
