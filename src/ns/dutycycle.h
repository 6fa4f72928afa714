/*
 * Downlink duty cycle: airtime a gateway has spent per regulatory sub-band over a rolling
 * hour (EU868: ETSI EN 300 220 limits of RP002 §2.4; see lora.h's sub-bands), so the
 * server never schedules a transmission that would break it. Regions without duty-cycle
 * rules (US915) always allow.
 *
 * A fixed ring of transmissions per gateway keeps it allocation-free: an hour holds at
 * most 3600 s / 23 ms (the shortest EU868 downlink) ~ 156,000, far more than a gateway
 * can be asked to send; when the ring is full the oldest entry is dropped early, which
 * only ever under-counts transmissions older than an hour's worth of the ring.
 */
#ifndef LG_NS_DUTYCYCLE_H
#define LG_NS_DUTYCYCLE_H

#include <stdbool.h>
#include <stdint.h>

#include "lora/lora.h"

#define LG_DC_WINDOW_NS 3600000000000LL /* one hour */
#define LG_DC_RING      1024

struct lg_dc_tx {
  int64_t t_ns;
  int64_t airtime_ns;
  int subband;
};

struct lg_dutycycle {
  struct lg_dc_tx ring[LG_DC_RING];
  int head, count;
};

/* Airtime (ns) spent in sub-band `subband` during the hour before now_ns. */
int64_t lg_dc_used_ns(struct lg_dutycycle *dc, int subband, int64_t now_ns);

/* Whether a transmission of airtime_ns at freq_hz fits the region's rule for that
 * sub-band now; false too for a frequency outside every sub-band of a regulated region.
 * `budget_ns` receives what remains (INT64_MAX when unregulated). */
bool lg_dc_allows(struct lg_dutycycle *dc, const struct lg_region *r, uint32_t freq_hz,
                  int64_t airtime_ns, int64_t now_ns, int64_t *budget_ns);

/* Records a transmission. */
void lg_dc_record(struct lg_dutycycle *dc, const struct lg_region *r, uint32_t freq_hz,
                  int64_t airtime_ns, int64_t now_ns);

#endif
