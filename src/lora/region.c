/*
 * LoRaWAN regional parameters: the lookups every region shares. The numbers live in one
 * table file per region (region_eu868.c, region_us915.c, ...), each citing its section
 * of RP002-1.0.4 "LoRaWAN Regional Parameters"; nothing here knows a region by name.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lora/lora.h"
#include "lora/region_int.h"
#include "util/util.h"

#define LORA(sf_, bw_, bps_, m_, up_, down_) LG_LORA(sf_, bw_, bps_, m_, up_, down_)

static const struct lg_region *const regions[] = {
    &lg_region_eu868,   &lg_region_us915,   &lg_region_au915,   &lg_region_as923_1,
    &lg_region_as923_2, &lg_region_as923_3, &lg_region_as923_4, &lg_region_kr920,
    &lg_region_in865,   &lg_region_ru864,   &lg_region_eu433,   &lg_region_cn470,
};

int lg_region_count(void) {
  return (int)LG_ARRAY_LEN(regions);
}

const struct lg_region *lg_region_at(int i) {
  return i >= 0 && i < lg_region_count() ? regions[i] : NULL;
}

const struct lg_region *lg_region_find(const char *name) {
  if (name == NULL) return NULL;
  if (strcasecmp(name, "AS923") == 0) return &lg_region_as923_1; /* RP002 §2.10: AS923-1 */
  for (int i = 0; i < lg_region_count(); i++)
    if (strcasecmp(name, regions[i]->name) == 0) return regions[i];
  return NULL;
}

const char *lg_region_names(char *buf, size_t len) {
  size_t n = 0;
  if (len == 0) return buf;
  buf[0] = '\0';
  for (int i = 0; i < lg_region_count() && n < len; i++) {
    int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "", regions[i]->name);
    if (w < 0) break;
    n += (size_t)w;
  }
  return buf;
}

void lg_region_waspmote(const struct lg_region *base, struct lg_region *out) {
  /* The E-ADR paper's Table I (../shared/seeds/004_*.txt §II): the ten configuration modes
   * of Libelium's Waspmote SX1272, all CR 4/5; mode m is data rate m - 1 here. Raw LoRa
   * carries up to 255 bytes, so no LoRaWAN dwell limit applies. */
  static const struct {
    int sf;
    uint32_t bw_hz, bps;
  } modes[10] = {{12, 125000, 293},  {12, 250000, 585},  {10, 125000, 976}, {12, 500000, 1718},
                 {10, 250000, 1953}, {11, 500000, 2148}, {9, 250000, 3515}, {9, 500000, 7031},
                 {8, 500000, 12500}, {7, 500000, 21875}};
  *out = *base;
  out->name = "Waspmote";
  memset(out->dr, 0, sizeof(out->dr));
  for (int i = 0; i < 10; i++)
    out->dr[i] =
        (struct lg_datarate)LORA(modes[i].sf, modes[i].bw_hz, modes[i].bps, 242, true, true);
  out->dr_count = 10;
  out->max_lora125_dr = 9; /* every mode is LoRa; ADR may use them all */
  out->dwell_table = false;
  /* RX1: the mode the uplink used, lowered by the offset (EU868's rule), none below 0. */
  out->rx1_dr_offset_max = 5;
  for (int i = 0; i < 10; i++)
    for (int o = 0; o <= 5; o++)
      out->rx1_dr[i][o] = (int8_t)(i - o < 0 ? 0 : i - o);
}

const struct lg_datarate *lg_region_dr(const struct lg_region *region, int dr) {
  if (dr < 0 || dr >= region->dr_count) return NULL;
  const struct lg_datarate *d = &region->dr[dr];
  return d->mod == LG_MOD_NONE ? NULL : d;
}

int lg_region_dr_for(const struct lg_region *region, int sf, uint32_t bw_hz, bool uplink, int *dr) {
  for (int i = 0; i < region->dr_count; i++) {
    const struct lg_datarate *d = &region->dr[i];
    if (d->mod == LG_MOD_LORA && d->sf == sf && d->bw_hz == bw_hz &&
        (uplink ? d->uplink : d->downlink)) {
      *dr = i;
      return 0;
    }
  }
  return LG_ENOTFOUND;
}

int lg_region_tx_power_dbm(const struct lg_region *region, int index, int *eirp_dbm) {
  if (index < 0 || index > region->tx_power_max_index) return LG_EINVAL;
  *eirp_dbm = region->default_max_eirp_dbm + region->tx_power_offsets_db[index];
  return 0;
}

int lg_region_rx1_dr(const struct lg_region *region, int up_dr, int offset, int *down_dr) {
  if (offset < 0 || offset > region->rx1_dr_offset_max || offset >= LG_REGION_MAX_RX1_OFFSET)
    return LG_EINVAL;
  const struct lg_datarate *d = lg_region_dr(region, up_dr);
  if (d == NULL || !d->uplink) return LG_EINVAL;
  int dr = region->rx1_dr[up_dr][offset];
  if (dr < 0 || lg_region_dr(region, dr) == NULL) return LG_EINVAL;
  *down_dr = dr;
  return 0;
}

int lg_region_rx1_dr_dwell(const struct lg_region *region, int up_dr, int offset,
                           bool downlink_dwell, int *down_dr) {
  if (!downlink_dwell || !region->has_rx1_dr_dwell)
    return lg_region_rx1_dr(region, up_dr, offset, down_dr);
  if (offset < 0 || offset > region->rx1_dr_offset_max || offset >= LG_REGION_MAX_RX1_OFFSET)
    return LG_EINVAL;
  const struct lg_datarate *d = lg_region_dr(region, up_dr);
  if (d == NULL || !d->uplink) return LG_EINVAL;
  int dr = region->rx1_dr_dwell[up_dr][offset];
  if (dr < 0 || lg_region_dr(region, dr) == NULL) return LG_EINVAL;
  *down_dr = dr;
  return 0;
}

int lg_region_rx1_freq(const struct lg_region *region, uint32_t up_freq_hz,
                       uint32_t *down_freq_hz) {
  if (region->rx1_channels <= 0) {
    *down_freq_hz = up_freq_hz;
    return 0;
  }
  for (int i = 0; i < region->default_ch_count; i++) {
    if (region->default_ch[i].freq_hz == up_freq_hz) {
      *down_freq_hz =
          region->rx1_base_hz + region->rx1_step_hz * (uint32_t)(i % region->rx1_channels);
      return 0;
    }
  }
  return LG_EINVAL;
}

bool lg_region_uplink_freq_ok(const struct lg_region *region, uint32_t freq_hz) {
  if (region->cflist_type == LG_CFLIST_CHANNEL_MASK) {
    for (int i = 0; i < region->default_ch_count; i++)
      if (region->default_ch[i].freq_hz == freq_hz) return true;
    return false;
  }
  return freq_hz >= region->freq_min_hz && freq_hz <= region->freq_max_hz;
}

const struct lg_subband *lg_region_subband(const struct lg_region *region, uint32_t freq_hz) {
  for (int i = 0; i < region->subband_count; i++) {
    const struct lg_subband *b = &region->subbands[i];
    if (freq_hz >= b->lo_hz && freq_hz <= b->hi_hz) return b;
  }
  return NULL;
}

int64_t lg_duty_cycle_off_ns(int64_t airtime_ns, double dc) {
  if (dc >= 1.0 || dc <= 0.0 || airtime_ns <= 0) return 0;
  return (int64_t)((double)airtime_ns * (1.0 / dc - 1.0) + 0.5);
}
