/*
 * Downlink duty cycle: airtime a gateway has spent per regulatory sub-band over a true
 * sliding hour (EU868: ETSI EN 300 220 limits of RP002 §2.4; see lora.h's sub-bands), so
 * the server never schedules a transmission that would break it. Regions without
 * duty-cycle rules (US915) always allow.
 *
 * Every transmission of the last hour is kept (a queue that grows by doubling) with a
 * running sum per sub-band, so nothing is forgotten early whatever the number of
 * transmissions. The queue is bounded by the rule itself: only transmissions the rule
 * allowed are recorded, so an hour holds at most the sub-bands' budgets over the shortest
 * downlink (EU868: 36 s / 23 ms + 360 s / 23 ms ~ 17,000 entries, 280 KB, for a gateway
 * that spends every budget). Room for the next entry is made in lg_dc_allows(), so
 * lg_dc_record() of an allowed transmission never fails.
 */
#ifndef LG_NS_DUTYCYCLE_H
#define LG_NS_DUTYCYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lora/lora.h"

#define LG_DC_WINDOW_NS    3600000000000LL /* one hour */
#define LG_DC_MAX_SUBBANDS 8

struct lg_dc_tx {
  int64_t t_ns;
  int64_t airtime_ns;
  int32_t subband;
};

/* Zeroed memory is an empty account; lg_dc_free() releases its queue. */
struct lg_dutycycle {
  struct lg_dc_tx *q; /* a ring of cap entries, the oldest at head */
  size_t head, count, cap;
  int64_t used_ns[LG_DC_MAX_SUBBANDS]; /* airtime of the entries held, per sub-band */
};

void lg_dc_free(struct lg_dutycycle *dc);

/* Airtime (ns) spent in sub-band `subband` during the hour before now_ns. */
int64_t lg_dc_used_ns(struct lg_dutycycle *dc, int subband, int64_t now_ns);

/* Whether a transmission of airtime_ns at freq_hz fits the region's rule for that
 * sub-band now; false too for a frequency outside every sub-band of a regulated region,
 * and when memory for recording it is out. `budget_ns` receives what remains (INT64_MAX
 * when unregulated). */
bool lg_dc_allows(struct lg_dutycycle *dc, const struct lg_region *r, uint32_t freq_hz,
                  int64_t airtime_ns, int64_t now_ns, int64_t *budget_ns);

/* Records a transmission (one lg_dc_allows() accepted: room for it is there). */
void lg_dc_record(struct lg_dutycycle *dc, const struct lg_region *r, uint32_t freq_hz,
                  int64_t airtime_ns, int64_t now_ns);

/* The account as bytes (for a cluster's next holder of the gateway): *out is malloc'ed,
 * the caller frees it. LG_ENOMEM. */
int lg_dc_encode(const struct lg_dutycycle *dc, uint8_t **out, size_t *len);
/* The account from lg_dc_encode's bytes, replacing dc's entries. LG_EINVAL, LG_ENOMEM. */
int lg_dc_decode(struct lg_dutycycle *dc, const uint8_t *buf, size_t len);

#endif
