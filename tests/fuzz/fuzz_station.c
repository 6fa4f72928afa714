/*
 * libFuzzer harness for LoRa Basics Station traffic messages (gw/station_msg.c), as a
 * station (or anyone who reached the websocket) may send them. The first input byte picks
 * the region; the rest is one text message. Properties: parsing never reads past the input
 * (ASan) and either fails with a reason or yields a message of a known type; an uplink
 * (updf, jreq, propdf) goes into the journal's datagram form and comes back out of the UDP
 * path's parser as the same reception (PHYPayload, frequency, data rate, times, xtime).
 */
#include <stdlib.h>
#include <string.h>

#include "gw/gw.h"
#include "lora/lora.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lg_gw_push push; /* large: off the stack */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const struct lg_region *region = lg_region_at(data[0] % lg_region_count());
  struct lg_station_up m;
  char why[200] = "";
  if (lg_station_parse((const char *)data + 1, size - 1, region, &m, why, sizeof(why)) != 0) {
    if (why[0] == '\0') abort(); /* a refusal always says why */
    return 0;
  }
  if (m.type == LG_STATION_UNKNOWN && m.msgtype[0] == '\0') abort();
  if (m.type != LG_STATION_UPDF && m.type != LG_STATION_JREQ && m.type != LG_STATION_PROPDF)
    return 0;
  uint8_t dgram[4096];
  int n = lg_station_push_datagram(0x0102030405060708ull, &m.rx, dgram, sizeof(dgram));
  if (n < 12) abort();
  if (lg_gw_parse_push((const char *)dgram + 12, (size_t)n - 12, &push, why, sizeof(why)) != 0 ||
      push.n_rxpk != 1)
    abort();
  const struct lg_gw_rxpk *a = &m.rx, *b = &push.rxpk[0];
  if (a->size != b->size || memcmp(a->data, b->data, a->size) != 0 || a->freq_hz != b->freq_hz ||
      a->sf != b->sf || a->bw_hz != b->bw_hz || a->has_tmms != b->has_tmms ||
      (a->has_tmms && a->tmms_ms != b->tmms_ms) || a->has_ftime != b->has_ftime ||
      (a->has_ftime && a->ftime_ns != b->ftime_ns) || a->has_xtime != b->has_xtime ||
      (a->has_xtime && (a->xtime != b->xtime || a->rctx != b->rctx)))
    abort();
  return 0;
}
