/*
 * LoRaWAN regional parameters for EU868 and US915.
 *
 * Source: LoRa Alliance RP002-1.0.3 "LoRaWAN Regional Parameters" (EU863-870 §2.4,
 * US902-928 §2.5), cross-read with LoRaMac-node RegionEU868.h / RegionUS915.h.
 * Payload limits are the repeater-compatible M/N values; LR-FHSS data rates are left
 * undefined (lorageo handles LoRa and FSK only).
 */
#include <string.h>
#include <strings.h>

#include "lora/lora.h"
#include "util/util.h"

#define LORA(sf_, bw_, bps_, m_, up_, down_)                                                       \
  {                                                                                                \
    .mod = LG_MOD_LORA, .sf = (sf_), .bw_hz = (bw_), .bit_rate_bps = (bps_),                       \
    .max_mac_payload = (m_), .max_app_payload = (m_)-8, .uplink = (up_), .downlink = (down_)       \
  }

/* ETSI EN 300 220-2 sub-bands as listed in RP002 §2.4.3 (and LoRaMac-node's band map). */
static const struct lg_subband eu868_subbands[] = {
    {863000000, 865000000, 0.001, 14.0}, /* band K */
    {865000000, 868000000, 0.01, 14.0},  /* band L */
    {868000000, 868600000, 0.01, 14.0},  /* band M: the three default channels */
    {868700000, 869200000, 0.001, 14.0}, /* band N */
    {869400000, 869650000, 0.10, 27.0},  /* band P: RX2 869.525 MHz, 500 mW */
    {869700000, 870000000, 0.01, 14.0},  /* band Q */
};

static const struct lg_region eu868 = {
    .name = "EU868",
    /* RP002 Table 2-3 (DR → modulation) and Table 2-7 (M/N, no repeater). */
    .dr =
        {
            LORA(12, 125000, 250, 59, true, true),
            LORA(11, 125000, 440, 59, true, true),
            LORA(10, 125000, 980, 59, true, true),
            LORA(9, 125000, 1760, 123, true, true),
            LORA(8, 125000, 3125, 250, true, true),
            LORA(7, 125000, 5470, 250, true, true),
            LORA(7, 250000, 11000, 250, true, true),
            {.mod = LG_MOD_FSK,
             .bit_rate_bps = 50000,
             .max_mac_payload = 250,
             .max_app_payload = 242,
             .uplink = true,
             .downlink = true},
        },
    .dr_count = 8,
    .max_lora125_dr = 5,
    .default_max_eirp_dbm = 16, /* RP002 §2.4.3: 16 dBm EIRP default */
    .tx_power_step_db = 2,      /* Table 2-4: TXPower i → MaxEIRP - 2i dB, i = 0..7 */
    .tx_power_max_index = 7,
    .default_ch = {{868100000, 0, 5}, {868300000, 0, 5}, {868500000, 0, 5}}, /* §2.4.2 */
    .default_ch_count = 3,
    .rx1_dr_offset_max = 5,
    .rx2_freq_hz = 869525000, /* §2.4.7 */
    .rx2_dr = 0,
    /* RP002 §2.4.x "Default settings" / LoRaWAN 1.0.4 §6: RECEIVE_DELAY1 1 s, DELAY2 2 s,
     * JOIN_ACCEPT_DELAY1 5 s, DELAY2 6 s, ADR_ACK_LIMIT 64, ADR_ACK_DELAY 32. */
    .receive_delay1_ns = 1000000000LL,
    .receive_delay2_ns = 2000000000LL,
    .join_accept_delay1_ns = 5000000000LL,
    .join_accept_delay2_ns = 6000000000LL,
    .adr_ack_limit = 64,
    .adr_ack_delay = 32,
    .subbands = eu868_subbands,
    .subband_count = (int)LG_ARRAY_LEN(eu868_subbands),
    .uses_dwell_time = false,
};

#define US_CH125(n)                                                                                \
  { 902300000u + 200000u * (n), 0, 3 }
#define US_CH125x8(n)                                                                              \
  US_CH125(n), US_CH125(n + 1), US_CH125(n + 2), US_CH125(n + 3), US_CH125(n + 4),                 \
      US_CH125(n + 5), US_CH125(n + 6), US_CH125(n + 7)
#define US_CH500(n)                                                                                \
  { 903000000u + 1600000u * (n), 4, 4 }

static const struct lg_region us915 = {
    .name = "US915",
    /* RP002 Table 2-13 (DR) and Table 2-17 (M/N, repeater compatible). DR5-7 are
     * LR-FHSS or RFU and DR14-15 RFU: left undefined here. */
    .dr =
        {
            LORA(10, 125000, 980, 19, true, false),
            LORA(9, 125000, 1760, 61, true, false),
            LORA(8, 125000, 3125, 133, true, false),
            LORA(7, 125000, 5470, 250, true, false),
            LORA(8, 500000, 12500, 250, true, false),
            {0},
            {0},
            {0},
            LORA(12, 500000, 980, 61, false, true),
            LORA(11, 500000, 1760, 137, false, true),
            LORA(10, 500000, 3900, 250, false, true),
            LORA(9, 500000, 7000, 250, false, true),
            LORA(8, 500000, 12500, 250, false, true),
            LORA(7, 500000, 21900, 250, false, true),
        },
    .dr_count = 14,
    .max_lora125_dr = 3,
    .default_max_eirp_dbm = 30, /* Table 2-14: TXPower 0 = 30 dBm ... 14 = 2 dBm */
    .tx_power_step_db = 2,
    .tx_power_max_index = 14,
    /* §2.5.2: 64 channels of 125 kHz from 902.3 MHz by 200 kHz, 8 of 500 kHz from
     * 903.0 MHz by 1.6 MHz. */
    .default_ch = {US_CH125x8(0), US_CH125x8(8), US_CH125x8(16), US_CH125x8(24), US_CH125x8(32),
                   US_CH125x8(40), US_CH125x8(48), US_CH125x8(56), US_CH500(0), US_CH500(1),
                   US_CH500(2), US_CH500(3), US_CH500(4), US_CH500(5), US_CH500(6), US_CH500(7)},
    .default_ch_count = 72,
    .rx1_dr_offset_max = 3,
    .rx2_freq_hz = 923300000, /* §2.5.7 */
    .rx2_dr = 8,
    .receive_delay1_ns = 1000000000LL,
    .receive_delay2_ns = 2000000000LL,
    .join_accept_delay1_ns = 5000000000LL,
    .join_accept_delay2_ns = 6000000000LL,
    .adr_ack_limit = 64,
    .adr_ack_delay = 32,
    .subbands = NULL,
    .subband_count = 0,
    .uses_dwell_time = true, /* FCC 400 ms dwell time; enforced by max payload per DR */
};

const struct lg_region *lg_region_find(const char *name) {
  if (name == NULL) return NULL;
  if (strcasecmp(name, "EU868") == 0) return &eu868;
  if (strcasecmp(name, "US915") == 0) return &us915;
  return NULL;
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
  *eirp_dbm = region->default_max_eirp_dbm - region->tx_power_step_db * index;
  return 0;
}

/* RP002 Table 2-21: US915 RX1 DR by uplink DR0..4 (rows) and RX1DROffset 0..3. */
static const int us915_rx1_dr[5][4] = {
    {10, 9, 8, 8}, {11, 10, 9, 8}, {12, 11, 10, 9}, {13, 12, 11, 10}, {13, 13, 12, 11},
};

int lg_region_rx1_dr(const struct lg_region *region, int up_dr, int offset, int *down_dr) {
  if (offset < 0 || offset > region->rx1_dr_offset_max) return LG_EINVAL;
  const struct lg_datarate *d = lg_region_dr(region, up_dr);
  if (d == NULL || !d->uplink) return LG_EINVAL;
  if (region == &us915) {
    *down_dr = us915_rx1_dr[up_dr][offset];
  } else {
    int dr = up_dr - offset;
    *down_dr = dr < 0 ? 0 : dr;
  }
  return 0;
}

int lg_region_rx1_freq(const struct lg_region *region, uint32_t up_freq_hz,
                       uint32_t *down_freq_hz) {
  if (region != &us915) {
    *down_freq_hz = up_freq_hz;
    return 0;
  }
  for (int i = 0; i < region->default_ch_count; i++) {
    if (region->default_ch[i].freq_hz == up_freq_hz) {
      *down_freq_hz = 923300000u + 600000u * (uint32_t)(i % 8);
      return 0;
    }
  }
  return LG_EINVAL;
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
