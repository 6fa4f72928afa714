/*
 * lora/region: every region against LoRaWAN Regional Parameters RP002-1.0.4 (the numbers
 * below are typed from the document's tables, not from src/lora/region_*.c): default
 * channels, DR table (modulation, SF, bandwidth, bit rate), max payload M/N per DR with and
 * without the 400 ms dwell time, RX1 DR offset rows, TX power offsets, RX2, CFList type.
 */
#include "lg_test.h"
#include "lora/lora.h"

#define NA LG_REGION_NA

struct want {
  const char *name;
  uint32_t lo_hz, hi_hz;
  int n_ch;
  uint32_t ch[3]; /* the first default channels */
  int dr_count;
  int sf[16];      /* 0: not LoRa */
  int bw_khz[16];  /* LoRa bandwidth / LR-FHSS OCW; 0 for FSK or RFU */
  int bps[16];     /* 0: RFU */
  int m[16];       /* M, NA: not allowed */
  int m_dwell[16]; /* M under dwell (dwell regions only) */
  bool dwell;
  int rx1_max;
  int rx1_row0[8], rx1_row_last_lora125[8];
  uint32_t rx2_hz;
  int rx2_dr;
  double max_eirp;
  int txp_max;
  enum lg_cflist_type cflist;
  bool dc, lbt, dwell_rule;
};

#define EU_SF                                                                                      \
  { 12, 11, 10, 9, 8, 7, 7, 0 }
#define EU_BW                                                                                      \
  { 125, 125, 125, 125, 125, 125, 250, 0 }
#define EU_BPS                                                                                     \
  { 250, 440, 980, 1760, 3125, 5470, 11000, 50000 }
#define EU_M                                                                                       \
  { 59, 59, 59, 123, 250, 250, 250, 250 }

static const struct want wants[] = {
    {"EU868",
     863000000,
     870000000,
     3,
     {868100000, 868300000, 868500000},
     12,
     {12, 11, 10, 9, 8, 7, 7, 0, 0, 0, 0, 0},
     {125, 125, 125, 125, 125, 125, 250, 0, 137, 137, 336, 336},
     {250, 440, 980, 1760, 3125, 5470, 11000, 50000, 162, 325, 162, 325},
     {59, 59, 59, 123, 250, 250, 250, 250, 58, 123, 58, 123},
     {0},
     false,
     5,
     {0, 0, 0, 0, 0, 0},
     {5, 4, 3, 2, 1, 0},
     869525000,
     0,
     16,
     7,
     LG_CFLIST_FREQUENCIES,
     true,
     false,
     false},
    {"US915",
     902000000,
     928000000,
     72,
     {902300000, 902500000, 902700000},
     14,
     {10, 9, 8, 7, 8, 0, 0, 0, 12, 11, 10, 9, 8, 7},
     {125, 125, 125, 125, 500, 1523, 1523, 0, 500, 500, 500, 500, 500, 500},
     {980, 1760, 3125, 5470, 12500, 162, 325, 0, 980, 1760, 3900, 7000, 12500, 21900},
     {19, 61, 133, 250, 250, 58, 133, 0, 61, 137, 250, 250, 250, 250},
     {0},
     false,
     3,
     {10, 9, 8, 8},
     {13, 12, 11, 10},
     923300000,
     8,
     30,
     14,
     LG_CFLIST_CHANNEL_MASK,
     false,
     false,
     true},
    {"AU915",
     915000000,
     928000000,
     72,
     {915200000, 915400000, 915600000},
     14,
     {12, 11, 10, 9, 8, 7, 8, 0, 12, 11, 10, 9, 8, 7},
     {125, 125, 125, 125, 125, 125, 500, 1523, 500, 500, 500, 500, 500, 500},
     {250, 440, 980, 1760, 3125, 5470, 12500, 162, 980, 1760, 3900, 7000, 12500, 21900},
     {59, 59, 59, 123, 250, 250, 250, 58, 61, 137, 250, 250, 250, 250},
     {NA, NA, 19, 61, 133, 250, 250, 58, 61, 137, 250, 250, 250, 250},
     true,
     5,
     {8, 8, 8, 8, 8, 8},
     {13, 12, 11, 10, 9, 8},
     923300000,
     8,
     30,
     14,
     LG_CFLIST_CHANNEL_MASK,
     false,
     false,
     true},
#define AS923(name, f1)                                                                            \
  {                                                                                                \
    name, 0, 0, 2, {f1, f1 + 200000}, 8, EU_SF, EU_BW, EU_BPS,                                     \
        {59, 59, 123, 123, 250, 250, 250, 250}, {NA, NA, 19, 61, 133, 250, 250, 250}, true, 7,     \
        {0, 0, 0, 0, 0, 0, 1, 2}, {5, 4, 3, 2, 1, 0, 5, 5}, f1, 2, 16, 7, LG_CFLIST_FREQUENCIES,   \
        false, true, true                                                                          \
  }
    AS923("AS923-1", 923200000),
    AS923("AS923-2", 921400000),
    AS923("AS923-3", 916600000),
    AS923("AS923-4", 917300000),
    {"KR920",
     920900000,
     923300000,
     3,
     {922100000, 922300000, 922500000},
     6,
     EU_SF,
     EU_BW,
     EU_BPS,
     EU_M,
     {0},
     false,
     5,
     {0, 0, 0, 0, 0, 0},
     {5, 4, 3, 2, 1, 0},
     921900000,
     0,
     14,
     7,
     LG_CFLIST_FREQUENCIES,
     false,
     true,
     false},
    {"IN865",
     865000000,
     867000000,
     3,
     {865062500, 865402500, 865985000},
     8,
     {12, 11, 10, 9, 8, 7, 0, 0},
     {125, 125, 125, 125, 125, 125, 0, 0},
     {250, 440, 980, 1760, 3125, 5470, 0, 50000},
     {59, 59, 59, 123, 250, 250, 0, 250},
     {0},
     false,
     7,
     {0, 0, 0, 0, 0, 0, 1, 2},
     {5, 4, 3, 2, 1, 0, 5, 5},
     866550000,
     2,
     30,
     10,
     LG_CFLIST_FREQUENCIES,
     false,
     false,
     false},
    {"RU864",
     864000000,
     870000000,
     2,
     {868900000, 869100000},
     8,
     EU_SF,
     EU_BW,
     EU_BPS,
     EU_M,
     {0},
     false,
     5,
     {0, 0, 0, 0, 0, 0},
     {5, 4, 3, 2, 1, 0},
     869100000,
     0,
     16,
     7,
     LG_CFLIST_FREQUENCIES,
     true,
     false,
     false},
    {"EU433",
     433175000,
     434665000,
     3,
     {433175000, 433375000, 433575000},
     8,
     EU_SF,
     EU_BW,
     EU_BPS,
     EU_M,
     {0},
     false,
     5,
     {0, 0, 0, 0, 0, 0},
     {5, 4, 3, 2, 1, 0},
     434665000,
     0,
     12.15,
     5,
     LG_CFLIST_FREQUENCIES,
     true,
     false,
     false},
    {"CN470",
     470000000,
     510000000,
     96,
     {470300000, 470500000, 470700000},
     8,
     {12, 11, 10, 9, 8, 7, 7, 0},
     {125, 125, 125, 125, 125, 125, 500, 0},
     {250, 440, 980, 1760, 3125, 5470, 21900, 50000},
     {NA, 31, 94, 192, 250, 250, 250, 250},
     {0},
     false,
     5,
     {0, 0, 0, 0, 0, 0},
     {5, 4, 3, 2, 1, 0},
     505300000,
     0,
     19.15,
     7,
     LG_CFLIST_CHANNEL_MASK,
     false,
     false,
     false},
};

static void check_region(const struct want *w) {
  const struct lg_region *r = lg_region_find(w->name);
  LG_CHECK(r != NULL);
  if (r == NULL) return;
  LG_EQ_STR(r->name, w->name);
  if (w->lo_hz) {
    LG_EQ_INT(r->freq_min_hz, w->lo_hz);
    LG_EQ_INT(r->freq_max_hz, w->hi_hz);
  }
  /* default channels */
  LG_EQ_INT(r->default_ch_count, w->n_ch);
  for (int i = 0; i < 3 && i < w->n_ch; i++)
    LG_EQ_INT(r->default_ch[i].freq_hz, w->ch[i]);
  for (int i = 0; i < r->default_ch_count; i++) {
    LG_CHECK(r->default_ch[i].freq_hz >= r->freq_min_hz);
    LG_CHECK(r->default_ch[i].freq_hz <= r->freq_max_hz);
    LG_CHECK(lg_region_uplink_freq_ok(r, r->default_ch[i].freq_hz));
  }
  /* DR table and payload limits */
  LG_EQ_INT(r->dr_count, w->dr_count);
  LG_EQ_INT(r->dwell_table, w->dwell);
  for (int dr = 0; dr < w->dr_count; dr++) {
    const struct lg_datarate *d = lg_region_dr(r, dr);
    if (w->bps[dr] == 0) {
      if (d != NULL) fprintf(stderr, "%s DR%d should be RFU\n", w->name, dr);
      LG_CHECK(d == NULL);
      continue;
    }
    LG_CHECK(d != NULL);
    if (d == NULL) continue;
    LG_EQ_INT(d->bit_rate_bps, w->bps[dr]);
    LG_EQ_INT(d->sf, w->sf[dr]);
    LG_EQ_INT(d->bw_hz, w->bw_khz[dr] * 1000);
    LG_EQ_INT(d->mod, w->sf[dr] ? LG_MOD_LORA : w->bw_khz[dr] ? LG_MOD_LR_FHSS : LG_MOD_FSK);
    LG_EQ_INT(d->max_mac_payload, w->m[dr]);
    LG_EQ_INT(d->max_app_payload, w->m[dr] == NA ? NA : w->m[dr] - 8);
    if (w->dwell) {
      LG_EQ_INT(d->max_mac_payload_dwell, w->m_dwell[dr]);
      LG_EQ_INT(d->max_app_payload_dwell, w->m_dwell[dr] == NA ? NA : w->m_dwell[dr] - 8);
    }
    if (d->mod == LG_MOD_LR_FHSS) LG_CHECK(d->uplink && !d->downlink);
  }
  LG_CHECK(lg_region_dr(r, w->dr_count) == NULL);
  /* RX1 DR offsets: row of DR0 and of the fastest 125 kHz LoRa uplink DR */
  LG_EQ_INT(r->rx1_dr_offset_max, w->rx1_max);
  int got = -1;
  for (int o = 0; o <= w->rx1_max; o++) {
    LG_EQ_INT(lg_region_rx1_dr(r, 0, o, &got), 0);
    LG_EQ_INT(got, w->rx1_row0[o]);
    LG_EQ_INT(lg_region_rx1_dr(r, r->max_lora125_dr, o, &got), 0);
    LG_EQ_INT(got, w->rx1_row_last_lora125[o]);
  }
  LG_EQ_INT(lg_region_rx1_dr(r, 0, w->rx1_max + 1, &got), LG_EINVAL);
  /* every uplink DR has an RX1 DR for every offset, and it is a downlink DR */
  for (int dr = 0; dr < r->dr_count; dr++) {
    const struct lg_datarate *d = lg_region_dr(r, dr);
    if (d == NULL || !d->uplink) continue;
    for (int o = 0; o <= r->rx1_dr_offset_max; o++) {
      LG_EQ_INT(lg_region_rx1_dr(r, dr, o, &got), 0);
      const struct lg_datarate *x = lg_region_dr(r, got);
      LG_CHECK(x != NULL && x->downlink);
    }
  }
  /* RX2, TX power, CFList, flags */
  LG_EQ_INT(r->rx2_freq_hz, w->rx2_hz);
  LG_EQ_INT(r->rx2_dr, w->rx2_dr);
  LG_CHECK(lg_region_dr(r, r->rx2_dr) && lg_region_dr(r, r->rx2_dr)->downlink);
  LG_NEAR(r->max_eirp_dbm, w->max_eirp, 1e-9);
  LG_EQ_INT(r->tx_power_max_index, w->txp_max);
  for (int i = 0; i <= w->txp_max; i++)
    LG_EQ_INT(r->tx_power_offsets_db[i], -2 * i);
  int p = 0;
  LG_EQ_INT(lg_region_tx_power_dbm(r, w->txp_max + 1, &p), LG_EINVAL);
  LG_EQ_INT(r->cflist_type, w->cflist);
  LG_EQ_INT(r->duty_cycle, w->dc);
  LG_EQ_INT(r->listen_before_talk, w->lbt);
  LG_EQ_INT(r->uses_dwell_time, w->dwell_rule);
  LG_EQ_INT(r->receive_delay1_ns, 1000000000);
  LG_EQ_INT(r->receive_delay2_ns, 2000000000);
  LG_EQ_INT(r->join_accept_delay1_ns, 5000000000LL);
  LG_EQ_INT(r->join_accept_delay2_ns, 6000000000LL);
  if (r->duty_cycle) LG_CHECK(lg_region_subband(r, r->rx2_freq_hz) != NULL);
}

static void test_fixed_plans(void) {
  uint32_t f = 0;
  const struct lg_region *au = lg_region_find("AU915");
  LG_EQ_INT(au->default_ch[63].freq_hz, 927800000);
  LG_EQ_INT(au->default_ch[64].freq_hz, 915900000);
  LG_EQ_INT(au->default_ch[71].freq_hz, 927100000);
  LG_EQ_INT(lg_region_rx1_freq(au, 915200000, &f), 0);
  LG_EQ_INT(f, 923300000);
  LG_EQ_INT(lg_region_rx1_freq(au, 915200000 + 9 * 200000, &f), 0); /* ch 9 -> 1 */
  LG_EQ_INT(f, 923900000);
  LG_CHECK(!lg_region_uplink_freq_ok(au, 915300000));
  int dr = 0;
  LG_EQ_INT(lg_region_rx1_dr(au, 7, 0, &dr), 0); /* LR-FHSS DR7 -> DR9 */
  LG_EQ_INT(dr, 9);
  const struct lg_region *cn = lg_region_find("CN470");
  LG_EQ_INT(cn->default_ch[95].freq_hz, 489300000);
  LG_EQ_INT(lg_region_rx1_freq(cn, 489300000, &f), 0); /* ch 95 -> 47 */
  LG_EQ_INT(f, 509700000);
  const struct lg_region *us = lg_region_find("US915");
  LG_EQ_INT(lg_region_rx1_dr(us, 5, 0, &dr), 0); /* LR-FHSS DR5 -> DR10 */
  LG_EQ_INT(dr, 10);
  LG_EQ_INT(us->link_adr_ch_mask_cntl, 6);
  /* AS923 under DownlinkDwellTime = 1: MinDR 2 (ChirpStack's test points agree) */
  const struct lg_region *as = lg_region_find("AS923");
  LG_CHECK(as == lg_region_find("as923-1"));
  LG_CHECK(as->has_rx1_dr_dwell);
  LG_EQ_INT(as->rx1_dr_dwell[5][4], 2);
  LG_EQ_INT(as->rx1_dr_dwell[5][3], 2);
  LG_EQ_INT(as->rx1_dr_dwell[2][6], 3);
  LG_EQ_INT(as->rx1_dr_dwell[2][7], 4);
  /* EU-style plans take any frequency inside the band (CFList / NewChannelReq) */
  const struct lg_region *eu = lg_region_find("EU868");
  LG_CHECK(lg_region_uplink_freq_ok(eu, 867100000));
  LG_CHECK(!lg_region_uplink_freq_ok(eu, 902300000));
  LG_EQ_INT(lg_region_dr(eu, 8)->lrfhss_cr_num, 1);
  LG_EQ_INT(lg_region_dr(eu, 9)->lrfhss_cr_num, 2);
}

static void test_list(void) {
  LG_EQ_INT(lg_region_count(), 12);
  for (int i = 0; i < lg_region_count(); i++) {
    const struct lg_region *r = lg_region_at(i);
    LG_CHECK(r != NULL && lg_region_find(r->name) == r);
    LG_CHECK(r->rp002_section && strstr(r->rp002_section, "RP002-1.0.4"));
  }
  LG_CHECK(lg_region_at(12) == NULL && lg_region_at(-1) == NULL);
  LG_CHECK(lg_region_find("CN779") == NULL && lg_region_find(NULL) == NULL);
  char buf[256];
  LG_CHECK(strstr(lg_region_names(buf, sizeof(buf)), "AS923-4, KR920") != NULL);
}

int main(void) {
  for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++)
    check_region(&wants[i]);
  test_fixed_plans();
  test_list();
  return lg_test_report("test_region");
}
