/* Sliding-hour downlink airtime per gateway and sub-band (see dutycycle.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ns/dutycycle.h"
#include "util/util.h"

static int subband_index(const struct lg_region *r, uint32_t freq_hz) {
  const struct lg_subband *b = lg_region_subband(r, freq_hz);
  int i = b ? (int)(b - r->subbands) : -1;
  return i < LG_DC_MAX_SUBBANDS ? i : -1;
}

void lg_dc_free(struct lg_dutycycle *dc) {
  free(dc->q);
  memset(dc, 0, sizeof(*dc));
}

/* Drops the entries that left the hour (an entry counts while now - t < one hour). */
static void expire(struct lg_dutycycle *dc, int64_t now_ns) {
  while (dc->count > 0) {
    const struct lg_dc_tx *t = &dc->q[dc->head];
    if (now_ns - t->t_ns < LG_DC_WINDOW_NS) break;
    dc->used_ns[t->subband] -= t->airtime_ns;
    dc->head = (dc->head + 1) % dc->cap;
    dc->count--;
  }
}

/* Room for one more entry (the ring doubled, its entries moved in order). */
static bool reserve(struct lg_dutycycle *dc) {
  if (dc->count < dc->cap) return true;
  size_t cap = dc->cap ? dc->cap * 2 : 64;
  struct lg_dc_tx *q = malloc(cap * sizeof(*q));
  if (q == NULL) return false;
  for (size_t i = 0; i < dc->count; i++)
    q[i] = dc->q[(dc->head + i) % dc->cap];
  free(dc->q);
  dc->q = q;
  dc->cap = cap;
  dc->head = 0;
  return true;
}

int64_t lg_dc_used_ns(struct lg_dutycycle *dc, int subband, int64_t now_ns) {
  expire(dc, now_ns);
  return subband >= 0 && subband < LG_DC_MAX_SUBBANDS ? dc->used_ns[subband] : 0;
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
  return airtime_ns <= *budget_ns && reserve(dc);
}

void lg_dc_record(struct lg_dutycycle *dc, const struct lg_region *r, uint32_t freq_hz,
                  int64_t airtime_ns, int64_t now_ns) {
  int sb = subband_index(r, freq_hz);
  if (sb < 0) return;
  expire(dc, now_ns);
  if (!reserve(dc)) { /* not after lg_dc_allows: keep the sum, lose the oldest entry's slot */
    if (dc->count == 0) return;
    struct lg_dc_tx *t = &dc->q[dc->head]; /* merged into it, held an hour from now: */
    dc->used_ns[t->subband] -= t->airtime_ns; /* counted longer, never shorter */
    t->airtime_ns += airtime_ns;
    t->t_ns = now_ns;
    if (t->subband != sb) t->subband = sb, t->airtime_ns = airtime_ns; /* the rule's own */
    dc->used_ns[t->subband] += t->airtime_ns;
    return;
  }
  dc->q[(dc->head + dc->count) % dc->cap] = (struct lg_dc_tx){now_ns, airtime_ns, sb};
  dc->count++;
  dc->used_ns[sb] += airtime_ns;
}

/* Bytes: per entry t_ns, airtime_ns (8 bytes each, little-endian) and the sub-band (1). */
enum { DC_ENTRY_BYTES = 17 };

static void put64(uint8_t *p, int64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)((uint64_t)v >> (8 * i));
}
static int64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return (int64_t)v;
}

int lg_dc_encode(const struct lg_dutycycle *dc, uint8_t **out, size_t *len) {
  *len = dc->count * DC_ENTRY_BYTES;
  *out = malloc(*len ? *len : 1);
  if (*out == NULL) return LG_ENOMEM;
  for (size_t i = 0; i < dc->count; i++) {
    const struct lg_dc_tx *t = &dc->q[(dc->head + i) % dc->cap];
    uint8_t *p = *out + i * DC_ENTRY_BYTES;
    put64(p, t->t_ns);
    put64(p + 8, t->airtime_ns);
    p[16] = (uint8_t)t->subband;
  }
  return 0;
}

int lg_dc_decode(struct lg_dutycycle *dc, const uint8_t *buf, size_t len) {
  if (len % DC_ENTRY_BYTES) return LG_EINVAL;
  lg_dc_free(dc);
  for (size_t i = 0; i < len / DC_ENTRY_BYTES; i++) {
    const uint8_t *p = buf + i * DC_ENTRY_BYTES;
    struct lg_dc_tx t = {get64(p), get64(p + 8), p[16]};
    if (t.subband >= LG_DC_MAX_SUBBANDS || t.airtime_ns < 0) {
      lg_dc_free(dc);
      return LG_EINVAL;
    }
    if (!reserve(dc)) {
      lg_dc_free(dc);
      return LG_ENOMEM;
    }
    dc->q[(dc->head + dc->count) % dc->cap] = t;
    dc->count++;
    dc->used_ns[t.subband] += t.airtime_ns;
  }
  return 0;
}
