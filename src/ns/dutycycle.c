/* Rolling-hour downlink airtime per gateway and sub-band (see dutycycle.h). */
#include <stdint.h>

#include "ns/dutycycle.h"

static int subband_index(const struct lg_region *r, uint32_t freq_hz) {
  const struct lg_subband *b = lg_region_subband(r, freq_hz);
  return b ? (int)(b - r->subbands) : -1;
}

static void expire(struct lg_dutycycle *dc, int64_t now_ns) {
  while (dc->count > 0) {
    int oldest = (dc->head - dc->count + LG_DC_RING) % LG_DC_RING;
    if (now_ns - dc->ring[oldest].t_ns < LG_DC_WINDOW_NS) break;
    dc->count--;
  }
}

int64_t lg_dc_used_ns(struct lg_dutycycle *dc, int subband, int64_t now_ns) {
  expire(dc, now_ns);
  int64_t used = 0;
  for (int i = 0; i < dc->count; i++) {
    const struct lg_dc_tx *t = &dc->ring[(dc->head - 1 - i + LG_DC_RING) % LG_DC_RING];
    if (t->subband == subband) used += t->airtime_ns;
  }
  return used;
}

bool lg_dc_allows(struct lg_dutycycle *dc, const struct lg_region *r, uint32_t freq_hz,
                  int64_t airtime_ns, int64_t now_ns, int64_t *budget_ns) {
  if (r->subband_count == 0) {
    *budget_ns = INT64_MAX;
    return true;
  }
  int sb = subband_index(r, freq_hz);
  if (sb < 0) {
    *budget_ns = 0;
    return false;
  }
  int64_t allowed = (int64_t)((double)LG_DC_WINDOW_NS * r->subbands[sb].duty_cycle);
  *budget_ns = allowed - lg_dc_used_ns(dc, sb, now_ns);
  return airtime_ns <= *budget_ns;
}

void lg_dc_record(struct lg_dutycycle *dc, const struct lg_region *r, uint32_t freq_hz,
                  int64_t airtime_ns, int64_t now_ns) {
  int sb = subband_index(r, freq_hz);
  if (sb < 0) return;
  dc->ring[dc->head] = (struct lg_dc_tx){now_ns, airtime_ns, sb};
  dc->head = (dc->head + 1) % LG_DC_RING;
  if (dc->count < LG_DC_RING) dc->count++;
}
