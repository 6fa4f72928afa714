/*
 * lora/region: every region against LoRaWAN Regional Parameters RP002-1.0.4 (the numbers
 * below are typed from the sources, not from src/lora/region_*.c): band edges, default
 * channels and their DR ranges, DR table (modulation, SF, bandwidth, bit rate, uplink /
 * downlink), max payload M/N per DR with and without the 400 ms dwell time, the whole RX1
 * DR table per RX1DROffset (both DownlinkDwellTime settings in AS923), TX power offsets,
 * RX2, CFList type, regulatory flags, EU868 duty-cycle sub-bands, fixed-plan channel grids.
 *
 * Sources (docs/regions.md says which number comes from which): S1 = The Things Stack
 * (TheThingsNetwork/lorawan-stack) pkg/band/<band>_rp2_v1_0_4.go, the band definitions it names
 * "RP002-1.0.4"; S2 = ChirpStack lrwn/src/region/<region>.rs ("RP002-1.0.3, RP002-1.0.4"
 * revision tables); S3 = LoRaMac-node src/mac/region/Region<NAME>.h (its RP002 tables);
 * T103 = LoRaWAN 1.0.3revA regional parameters text; T104 = RP002-1.0.4 text (p. 28 seen:
 * default settings); T105 = RP002-1.0.5 text (the pages seen).
 */
#include "lg_test.h"
#include "lora/lora.h"

#define NA LG_REGION_NA

/* Expected RX1 DR for uplink DR `dr` and RX1DROffset `o` (NA: none), one function per rule. */
typedef int (*rx1_fn)(int dr, int o);

static int clamp(int v, int lo, int hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* EU868 DR0-7, RU864, EU433, KR920: MAX(0, DR - offset), offsets 0..5 (S1 tables, S2, T103
 * Table 33 for EU433). EU868's LR-FHSS DR8-11 answer at DR1/DR2/DR1/DR2 at offset 0 (S1
 * eu863870DownlinkDRTable[12][6], S2 eu868.rs rows 8-11). */
static int rx1_eu(int dr, int o) {
  static const int lrfhss[4] = {1, 2, 1, 2};
  return dr >= 8 ? clamp(lrfhss[dr - 8] - o, 0, 7) : clamp(dr - o, 0, 7);
}

/* US915 RX1DROffset 0..3 (S1 us902928DownlinkDRTable[7][4], S2 us915.rs, T103 Table 17);
 * DR5/DR6 are LR-FHSS uplinks answered like DR0/DR1. */
static int rx1_us(int dr, int o) {
  static const int t[7][4] = {{10, 9, 8, 8},    {11, 10, 9, 8}, {12, 11, 10, 9}, {13, 12, 11, 10},
                              {13, 13, 12, 11}, {10, 9, 8, 8},  {11, 10, 9, 8}};
  return dr < 7 ? t[dr][o] : NA;
}

/* AU915 RX1DROffset 0..5 (S1 au915928DownlinkDRTable[8][6], S2 au915.rs); DR7 LR-FHSS. */
static int rx1_au(int dr, int o) {
  static const int t[8][6] = {{8, 8, 8, 8, 8, 8},       {9, 8, 8, 8, 8, 8},
                              {10, 9, 8, 8, 8, 8},      {11, 10, 9, 8, 8, 8},
                              {12, 11, 10, 9, 8, 8},    {13, 12, 11, 10, 9, 8},
                              {13, 13, 12, 11, 10, 9},  {9, 8, 8, 8, 8, 8}};
  return dr < 8 ? t[dr][o] : NA;
}

/* AS923: effective offsets 0..5, -1, -2; MIN(7, MAX(MinDR, DR - effective)) with MinDR 0
 * (DownlinkDwellTime 0) or 2 (= 1): S1 as_923_rp2_v1_0_4.go Rx1DataRate; S3's
 * EffectiveRx1DrOffsetDownlinkDwell0/1AS923 tables agree cell by cell (spot checks in
 * test_fixed_plans). S2 caps at DR5 instead (docs/regions.md). */
static int rx1_as923_min(int dr, int o, int min) {
  return clamp(dr - (o <= 5 ? o : 5 - o), min, 7);
}
static int rx1_as923(int dr, int o) {
  return rx1_as923_min(dr, o, 0);
}
static int rx1_as923_dwell(int dr, int o) {
  return rx1_as923_min(dr, o, 2);
}

/* IN865: S3 EffectiveRx1DrOffsetIN865[8][8] (RP002): never the RFU DR6. */
static int rx1_in(int dr, int o) {
  static const int t[8][8] = {{0, 0, 0, 0, 0, 0, 1, 2}, {1, 0, 0, 0, 0, 0, 2, 3},
                              {2, 1, 0, 0, 0, 0, 3, 4}, {3, 2, 1, 0, 0, 0, 4, 5},
                              {4, 3, 2, 1, 0, 0, 5, 5}, {5, 4, 3, 2, 1, 0, 5, 7},
                              {NA, NA, NA, NA, NA, NA, NA, NA}, {7, 5, 5, 4, 3, 2, 7, 7}};
  return t[dr][o];
}

/* CN470: S3 DatarateOffsetsCN470[8][6] (RP002): MAX(1, DR - offset) for DR1-7 (DR0 carries
 * no uplink in RP002: no payload size). */
static int rx1_cn(int dr, int o) {
  return dr == 0 ? NA : clamp(dr - o, 1, 7);
}

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
  rx1_fn rx1, rx1_dwell; /* rx1_dwell: DownlinkDwellTime = 1 (AS923 only) */
  uint32_t rx2_hz;
  int rx2_dr;
  double max_eirp;
  int txp_max;
  enum lg_cflist_type cflist;
  bool dc, lbt, dwell_rule;
  uint16_t up_mask, down_mask; /* bit i: DR i carries uplinks / downlinks */
  int ch_min_dr, ch_max_dr;    /* DR range of the (125 kHz) default channels */
  int max_lora125;             /* highest 125 kHz LoRa uplink DR (ADR's ceiling) */
};

#define EU_SF                                                                                      \
  { 12, 11, 10, 9, 8, 7, 7, 0 }
#define EU_BW                                                                                      \
  { 125, 125, 125, 125, 125, 125, 250, 0 }
#define EU_BPS                                                                                     \
  { 250, 440, 980, 1760, 3125, 5470, 11000, 50000 }
#define EU_M                                                                                       \
  { 59, 59, 59, 123, 250, 250, 250, 250 }

/* Per region (S1 rp2_v1_0_4 files unless a comment says otherwise; S2 and S3 agree where not
 * noted): DR rows (S1 DataRates, S2 data_rates, S3 Datarates and Bandwidths tables), M (S1
 * makeConstMaxMACPayloadSizeFunc / makeDwellTimeMaxMACPayloadSizeFunc, S2 non-repeater
 * tables), RX1 (the rx1_* functions above), RX2 (S1 DefaultRx2Parameters, S2 get_defaults),
 * max EIRP and TXPower count (S1 DefaultMaxEIRP / TxOffset), CFList (S1 CFListType), default
 * channels (S1 default channel lists, S2 uplink_channels, S3 LC1..LC3). */
static const struct want wants[] = {
    {.name = "EU868",
     .lo_hz = 863000000, /* S1 sub-bands K..R span 863-870 MHz */
     .hi_hz = 870000000,
     .n_ch = 3,
     .ch = {868100000, 868300000, 868500000},
     .dr_count = 12,
     /* DR8-11 LR-FHSS: OCW 137/336 kHz, CR 1/3 and 2/3, M 58/123 (S1, S2); the bit rates
      * 162/325 bit/s are not in S1-S3 (docs/regions.md: unverified) */
     .sf = {12, 11, 10, 9, 8, 7, 7, 0, 0, 0, 0, 0},
     .bw_khz = {125, 125, 125, 125, 125, 125, 250, 0, 137, 137, 336, 336},
     .bps = {250, 440, 980, 1760, 3125, 5470, 11000, 50000, 162, 325, 162, 325},
     .m = {59, 59, 59, 123, 250, 250, 250, 250, 58, 123, 58, 123},
     .rx1_max = 5,
     .rx1 = rx1_eu,
     .rx2_hz = 869525000,
     .rx2_dr = 0,
     .max_eirp = 16,
     .txp_max = 7,
     .cflist = LG_CFLIST_FREQUENCIES,
     .dc = true,
     .up_mask = 0x0fff,
     .down_mask = 0x00ff,
     .ch_min_dr = 0,
     .ch_max_dr = 5,
     .max_lora125 = 5},
    {.name = "US915",
     .lo_hz = 902000000,
     .hi_hz = 928000000,
     .n_ch = 72,
     .ch = {902300000, 902500000, 902700000},
     .dr_count = 14,
     /* DR5/DR6 LR-FHSS 1.523 MHz OCW, CR 1/3 / 2/3 (S1; S2 "2/6", "4/6"), M 58/133 */
     .sf = {10, 9, 8, 7, 8, 0, 0, 0, 12, 11, 10, 9, 8, 7},
     .bw_khz = {125, 125, 125, 125, 500, 1523, 1523, 0, 500, 500, 500, 500, 500, 500},
     .bps = {980, 1760, 3125, 5470, 12500, 162, 325, 0, 980, 1760, 3900, 7000, 12500, 21900},
     .m = {19, 61, 133, 250, 250, 58, 133, 0, 61, 137, 250, 250, 250, 250},
     .rx1_max = 3,
     .rx1 = rx1_us,
     .rx2_hz = 923300000,
     .rx2_dr = 8,
     .max_eirp = 30,
     .txp_max = 14,
     .cflist = LG_CFLIST_CHANNEL_MASK,
     .dwell_rule = true,
     .up_mask = 0x007f,
     .down_mask = 0x3f00,
     .ch_min_dr = 0,
     .ch_max_dr = 3,
     .max_lora125 = 3},
    {.name = "AU915",
     .lo_hz = 915000000, /* S1 sub-band 915-928 MHz */
     .hi_hz = 928000000,
     .n_ch = 72,
     .ch = {915200000, 915400000, 915600000},
     .dr_count = 14,
     .sf = {12, 11, 10, 9, 8, 7, 8, 0, 12, 11, 10, 9, 8, 7},
     .bw_khz = {125, 125, 125, 125, 125, 125, 500, 1523, 500, 500, 500, 500, 500, 500},
     .bps = {250, 440, 980, 1760, 3125, 5470, 12500, 162, 980, 1760, 3900, 7000, 12500, 21900},
     .m = {59, 59, 59, 123, 250, 250, 250, 58, 61, 137, 250, 250, 250, 250},
     .m_dwell = {NA, NA, 19, 61, 133, 250, 250, 58, 61, 137, 250, 250, 250, 250},
     .dwell = true,
     .rx1_max = 5,
     .rx1 = rx1_au,
     .rx2_hz = 923300000,
     .rx2_dr = 8,
     .max_eirp = 30,
     .txp_max = 14,
     .cflist = LG_CFLIST_CHANNEL_MASK,
     .dwell_rule = true,
     .up_mask = 0x00ff,
     .down_mask = 0x3f00,
     .ch_min_dr = 0,
     .ch_max_dr = 5,
     .max_lora125 = 5},
/* AS923 groups: default channels 923.2/923.4 MHz shifted by 0, -1.8, -6.6, -5.9 MHz (S1
 * as923GroupNOffset, S2 freq_offset, S3 CHANNEL_PLAN_GROUP_AS923_N), RX2 the first one at
 * DR2; M with UplinkDwellTime 0 / 1 also T105 Table 73 (DR0-7 unchanged in 1.0.5). */
#define AS923(name_, lo_, hi_, f1)                                                                 \
  {                                                                                                \
    .name = name_, .lo_hz = lo_, .hi_hz = hi_, .n_ch = 2, .ch = {f1, f1 + 200000}, .dr_count = 8,  \
    .sf = EU_SF, .bw_khz = EU_BW, .bps = EU_BPS, .m = {59, 59, 123, 123, 250, 250, 250, 250},      \
    .m_dwell = {NA, NA, 19, 61, 133, 250, 250, 250}, .dwell = true, .rx1_max = 7,                  \
    .rx1 = rx1_as923, .rx1_dwell = rx1_as923_dwell, .rx2_hz = f1, .rx2_dr = 2, .max_eirp = 16,     \
    .txp_max = 7, .cflist = LG_CFLIST_FREQUENCIES, .lbt = true, .dwell_rule = true,                \
    .up_mask = 0x00ff, .down_mask = 0x00ff, .ch_min_dr = 0, .ch_max_dr = 5, .max_lora125 = 5       \
  }
    /* band edges: the RP002 group descriptions (docs/regions.md: -2 and -4 seen quoted) */
    AS923("AS923-1", 915000000, 928000000, 923200000),
    AS923("AS923-2", 920000000, 923000000, 921400000),
    AS923("AS923-3", 915000000, 921000000, 916600000),
    AS923("AS923-4", 917000000, 920000000, 917300000),
    {.name = "KR920",
     .lo_hz = 920900000, /* S3 VerifyTxFreq: centre frequencies 920.9-923.3 MHz */
     .hi_hz = 923300000,
     .n_ch = 3,
     .ch = {922100000, 922300000, 922500000},
     .dr_count = 6,
     .sf = EU_SF,
     .bw_khz = EU_BW,
     .bps = EU_BPS,
     .m = EU_M,
     .rx1_max = 5, /* S1 (offset > 5 refused); S2's 8-column table is IN865's */
     .rx1 = rx1_eu,
     .rx2_hz = 921900000,
     .rx2_dr = 0,
     .max_eirp = 14,
     .txp_max = 7,
     .cflist = LG_CFLIST_FREQUENCIES,
     .lbt = true,
     .up_mask = 0x003f,
     .down_mask = 0x003f,
     .ch_min_dr = 0,
     .ch_max_dr = 5,
     .max_lora125 = 5},
    {.name = "IN865",
     .lo_hz = 865000000, /* S1 sub-band 865-867 MHz */
     .hi_hz = 867000000,
     .n_ch = 3,
     .ch = {865062500, 865402500, 865985000},
     .dr_count = 8,
     .sf = {12, 11, 10, 9, 8, 7, 0, 0},
     .bw_khz = {125, 125, 125, 125, 125, 125, 0, 0},
     .bps = {250, 440, 980, 1760, 3125, 5470, 0, 50000},
     .m = {59, 59, 59, 123, 250, 250, 0, 250},
     .rx1_max = 7,
     .rx1 = rx1_in,
     .rx2_hz = 866550000,
     .rx2_dr = 2,
     .max_eirp = 30, /* S1, S2 (downlink EIRP 30), S3; T105: 29.2 dBm, TXPower to 14 */
     .txp_max = 10,
     .cflist = LG_CFLIST_FREQUENCIES,
     .up_mask = 0x00bf,
     .down_mask = 0x00bf,
     .ch_min_dr = 0,
     .ch_max_dr = 5,
     .max_lora125 = 5},
    {.name = "RU864",
     .lo_hz = 864000000, /* S1 sub-band 864-870 MHz */
     .hi_hz = 870000000,
     .n_ch = 2,
     .ch = {868900000, 869100000},
     .dr_count = 8,
     .sf = EU_SF,
     .bw_khz = EU_BW,
     .bps = EU_BPS,
     .m = EU_M,
     .rx1_max = 5,
     .rx1 = rx1_eu,
     .rx2_hz = 869100000,
     .rx2_dr = 0,
     .max_eirp = 16,
     .txp_max = 7,
     .cflist = LG_CFLIST_FREQUENCIES,
     .dc = true,
     .up_mask = 0x00ff,
     .down_mask = 0x00ff,
     .ch_min_dr = 0,
     .ch_max_dr = 5,
     .max_lora125 = 5},
    {.name = "EU433",
     .lo_hz = 433175000, /* T103 §2.5.2 centre frequencies 433.175-434.665 MHz; S1 sub-band */
     .hi_hz = 434665000,
     .n_ch = 3,
     .ch = {433175000, 433375000, 433575000},
     .dr_count = 8,
     .sf = EU_SF,
     .bw_khz = EU_BW,
     .bps = EU_BPS,
     .m = EU_M,
     .rx1_max = 5,
     .rx1 = rx1_eu,
     .rx2_hz = 434665000,
     .rx2_dr = 0,
     .max_eirp = 12.15,
     .txp_max = 5,
     .cflist = LG_CFLIST_FREQUENCIES,
     .dc = true,
     .up_mask = 0x00ff,
     .down_mask = 0x00ff,
     .ch_min_dr = 0,
     .ch_max_dr = 5,
     .max_lora125 = 5},
    {.name = "CN470",
     .lo_hz = 470000000, /* S1 sub-band 470-510 MHz */
     .hi_hz = 510000000,
     .n_ch = 96,
     .ch = {470300000, 470500000, 470700000},
     .dr_count = 8,
     .sf = {12, 11, 10, 9, 8, 7, 7, 0},
     .bw_khz = {125, 125, 125, 125, 125, 125, 500, 0},
     .bps = {250, 440, 980, 1760, 3125, 5470, 21900, 50000},
     /* S2 non-repeater and S3 (N 0, 23, 86, 184, 242...); S1's 172 for DR3 is the
      * repeater-compatible value (S2 and S3 repeater tables) */
     .m = {NA, 31, 94, 192, 250, 250, 250, 250},
     .rx1_max = 5,
     .rx1 = rx1_cn,
     .rx2_hz = 505300000, /* the pre-RP002 plan's frequency (S2), RP002's DR1 (S3) */
     .rx2_dr = 1,
     .max_eirp = 19.15,
     .txp_max = 7,
     .cflist = LG_CFLIST_CHANNEL_MASK,
     .up_mask = 0x00fe, /* S3 CN470_TX_MIN_DATARATE / CN470_RX_MIN_DATARATE DR1 */
     .down_mask = 0x00fe,
     .ch_min_dr = 1,
     .ch_max_dr = 5,
     .max_lora125 = 5},
};

static void check_region(const struct want *w) {
  const struct lg_region *r = lg_region_find(w->name);
  LG_CHECK(r != NULL);
  if (r == NULL) return;
  LG_EQ_STR(r->name, w->name);
  LG_EQ_INT(r->freq_min_hz, w->lo_hz);
  LG_EQ_INT(r->freq_max_hz, w->hi_hz);
  /* default channels, their DR range (125 kHz ones; the fixed plans' 500 kHz ones in
   * test_fixed_plans) */
  LG_EQ_INT(r->default_ch_count, w->n_ch);
  for (int i = 0; i < 3 && i < w->n_ch; i++)
    LG_EQ_INT(r->default_ch[i].freq_hz, w->ch[i]);
  for (int i = 0; i < r->default_ch_count; i++) {
    LG_CHECK(r->default_ch[i].freq_hz >= r->freq_min_hz);
    LG_CHECK(r->default_ch[i].freq_hz <= r->freq_max_hz);
    LG_CHECK(lg_region_uplink_freq_ok(r, r->default_ch[i].freq_hz));
    if (i < 64) {
      LG_EQ_INT(r->default_ch[i].min_dr, w->ch_min_dr);
      LG_EQ_INT(r->default_ch[i].max_dr, w->ch_max_dr);
    }
  }
  LG_EQ_INT(r->max_lora125_dr, w->max_lora125);
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
    if (d->uplink != !!(w->up_mask & (1u << dr)) || d->downlink != !!(w->down_mask & (1u << dr)))
      fprintf(stderr, "%s DR%d: uplink %d downlink %d\n", w->name, dr, d->uplink, d->downlink);
    LG_EQ_INT(d->uplink, !!(w->up_mask & (1u << dr)));
    LG_EQ_INT(d->downlink, !!(w->down_mask & (1u << dr)));
    if (d->mod == LG_MOD_LR_FHSS) LG_CHECK(d->uplink && !d->downlink);
  }
  LG_CHECK(lg_region_dr(r, w->dr_count) == NULL);
  /* RX1: every cell of the table, both dwell settings where the region has two */
  LG_EQ_INT(r->rx1_dr_offset_max, w->rx1_max);
  LG_EQ_INT(r->has_rx1_dr_dwell, w->rx1_dwell != NULL);
  int got = -1;
  for (int dr = 0; dr < w->dr_count; dr++) {
    if (!(w->up_mask & (1u << dr))) {
      LG_EQ_INT(lg_region_rx1_dr(r, dr, 0, &got), LG_EINVAL);
      continue;
    }
    for (int o = 0; o <= w->rx1_max; o++) {
      int want = w->rx1(dr, o);
      got = -1;
      LG_EQ_INT(lg_region_rx1_dr(r, dr, o, &got), want == NA ? LG_EINVAL : 0);
      if (got != want && want != NA)
        fprintf(stderr, "%s DR%d offset %d: RX1 DR%d, want DR%d\n", w->name, dr, o, got, want);
      if (want != NA) LG_EQ_INT(got, want);
      if (w->rx1_dwell == NULL) continue;
      want = w->rx1_dwell(dr, o);
      got = -1;
      LG_EQ_INT(lg_region_rx1_dr_dwell(r, dr, o, true, &got), 0);
      LG_EQ_INT(got, want);
    }
    LG_EQ_INT(lg_region_rx1_dr(r, dr, w->rx1_max + 1, &got), LG_EINVAL);
  }
  /* every RX1 DR is a downlink DR */
  for (int dr = 0; dr < r->dr_count; dr++) {
    const struct lg_datarate *d = lg_region_dr(r, dr);
    if (d == NULL || !d->uplink) continue;
    for (int o = 0; o <= r->rx1_dr_offset_max; o++)
      for (int dwell = 0; dwell < 2; dwell++) {
        LG_EQ_INT(lg_region_rx1_dr_dwell(r, dr, o, dwell, &got), 0);
        const struct lg_datarate *x = lg_region_dr(r, got);
        LG_CHECK(x != NULL && x->downlink);
      }
  }
  /* RX2, TX power, CFList, flags, RP002 §2.3 default timings (T104 p. 28, S1, S2) */
  LG_EQ_INT(r->rx2_freq_hz, w->rx2_hz);
  LG_EQ_INT(r->rx2_dr, w->rx2_dr);
  LG_CHECK(lg_region_dr(r, r->rx2_dr) && lg_region_dr(r, r->rx2_dr)->downlink);
  LG_NEAR(r->max_eirp_dbm, w->max_eirp, 1e-9);
  LG_EQ_INT(r->default_max_eirp_dbm, (int)w->max_eirp);
  LG_EQ_INT(r->tx_power_max_index, w->txp_max);
  int p = 0;
  for (int i = 0; i <= w->txp_max; i++) {
    LG_EQ_INT(r->tx_power_offsets_db[i], -2 * i); /* TXPower i: max EIRP - 2i dB */
    LG_EQ_INT(lg_region_tx_power_dbm(r, i, &p), 0);
    LG_EQ_INT(p, (int)w->max_eirp - 2 * i);
  }
  LG_EQ_INT(lg_region_tx_power_dbm(r, w->txp_max + 1, &p), LG_EINVAL);
  LG_EQ_INT(r->cflist_type, w->cflist);
  LG_EQ_INT(r->duty_cycle, w->dc);
  LG_EQ_INT(r->listen_before_talk, w->lbt);
  LG_EQ_INT(r->uses_dwell_time, w->dwell_rule);
  LG_EQ_INT(r->receive_delay1_ns, 1000000000);
  LG_EQ_INT(r->receive_delay2_ns, 2000000000);
  LG_EQ_INT(r->join_accept_delay1_ns, 5000000000LL);
  LG_EQ_INT(r->join_accept_delay2_ns, 6000000000LL);
  LG_EQ_INT(r->adr_ack_limit, 64);
  LG_EQ_INT(r->adr_ack_delay, 32);
  if (r->duty_cycle) LG_CHECK(lg_region_subband(r, r->rx2_freq_hz) != NULL);
  if (r->duty_cycle)
    for (int i = 0; i < r->default_ch_count; i++)
      LG_CHECK(lg_region_subband(r, r->default_ch[i].freq_hz) != NULL);
}

/* Fixed channel plans, every channel: uplink frequency, DR range and RX1 frequency (S1
 * us902928UplinkChannels / au915928UplinkChannels / cn470510UplinkChannels and the
 * downlink channel lists, S2 us915.rs / au915.rs / cn470.rs channel loops and tests). */
static void test_fixed_plans(void) {
  static const struct {
    const char *name;
    int n125, n500;
    uint32_t base125, step125, base500, step500;
    int min125, max125, dr500;
    uint32_t rx1_base, rx1_step;
    int rx1_n;
  } plans[] = {
      {"US915", 64, 8, 902300000, 200000, 903000000, 1600000, 0, 3, 4, 923300000, 600000, 8},
      {"AU915", 64, 8, 915200000, 200000, 915900000, 1600000, 0, 5, 6, 923300000, 600000, 8},
      /* pre-RP002 plan (S1 cn_470_510.go, S2), RP002's DR1-5 (S3) */
      {"CN470", 96, 0, 470300000, 200000, 0, 0, 1, 5, 0, 500300000, 200000, 48},
  };
  for (size_t k = 0; k < sizeof(plans) / sizeof(plans[0]); k++) {
    const struct lg_region *r = lg_region_find(plans[k].name);
    LG_EQ_INT(r->default_ch_count, plans[k].n125 + plans[k].n500);
    LG_EQ_INT(r->rx1_channels, plans[k].rx1_n);
    for (int i = 0; i < r->default_ch_count; i++) {
      bool wide = i >= plans[k].n125;
      uint32_t want = wide ? plans[k].base500 + plans[k].step500 * (uint32_t)(i - plans[k].n125)
                           : plans[k].base125 + plans[k].step125 * (uint32_t)i;
      LG_EQ_INT(r->default_ch[i].freq_hz, want);
      LG_EQ_INT(r->default_ch[i].min_dr, wide ? plans[k].dr500 : plans[k].min125);
      LG_EQ_INT(r->default_ch[i].max_dr, wide ? plans[k].dr500 : plans[k].max125);
      uint32_t f = 0;
      LG_EQ_INT(lg_region_rx1_freq(r, want, &f), 0);
      LG_EQ_INT(f, plans[k].rx1_base + plans[k].rx1_step * (uint32_t)(i % plans[k].rx1_n));
    }
    uint32_t f = 0;
    LG_EQ_INT(lg_region_rx1_freq(r, plans[k].base125 + plans[k].step125 / 2, &f), LG_EINVAL);
    LG_CHECK(!lg_region_uplink_freq_ok(r, plans[k].base125 + plans[k].step125 / 2));
  }
  /* LinkADRReq: ChMaskCntl 6 = all 125 kHz channels on, ChMask for the 500 kHz ones
   * (T103 US902-928 ChMaskCntl table; S2 get_link_adr_req_payloads); EU-style plans
   * ChMaskCntl 0 with one bit per default channel */
  static const struct {
    const char *name;
    int cntl, mask;
  } adr[] = {{"US915", 6, 0xff}, {"AU915", 6, 0xff}, {"CN470", 6, 0},    {"EU868", 0, 0x7},
             {"AS923-2", 0, 0x3}, {"KR920", 0, 0x7}, {"IN865", 0, 0x7}, {"RU864", 0, 0x3},
             {"EU433", 0, 0x7}};
  for (size_t k = 0; k < sizeof(adr) / sizeof(adr[0]); k++) {
    const struct lg_region *r = lg_region_find(adr[k].name);
    LG_EQ_INT(r->link_adr_ch_mask_cntl, adr[k].cntl);
    LG_EQ_INT(r->link_adr_ch_mask, adr[k].mask);
  }
}

/* LR-FHSS coding rates (S1 makeLRFHSSDataRate "1/3" / "2/3"; S2 "2/6" / "4/6"). */
static void test_lrfhss(void) {
  static const struct {
    const char *name;
    int dr, cr;
  } t[] = {{"EU868", 8, 1},  {"EU868", 9, 2}, {"EU868", 10, 1}, {"EU868", 11, 2},
           {"US915", 5, 1},  {"US915", 6, 2}, {"AU915", 7, 1}};
  for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    const struct lg_datarate *d = lg_region_dr(lg_region_find(t[i].name), t[i].dr);
    LG_CHECK(d != NULL && d->mod == LG_MOD_LR_FHSS);
    if (d) LG_EQ_INT(d->lrfhss_cr_num, t[i].cr);
  }
  /* LoRa and FSK rows carry no LR-FHSS coding rate */
  LG_EQ_INT(lg_region_dr(lg_region_find("EU868"), 7)->lrfhss_cr_num, 0);
}

/* AS923: the group offsets and S3's RP002 tables cell by cell where they differ from the
 * DR5 cap ChirpStack (S2) uses: EffectiveRx1DrOffsetDownlinkDwell0AS923 /
 * ...Dwell1AS923 rows DR4-DR7, offsets 6 and 7. */
static void test_as923(void) {
  const struct lg_region *g1 = lg_region_find("AS923");
  LG_CHECK(g1 == lg_region_find("as923-1"));
  static const struct {
    const char *name;
    int32_t shift_hz;
  } groups[] = {{"AS923-1", 0}, {"AS923-2", -1800000}, {"AS923-3", -6600000}, {"AS923-4", -5900000}};
  for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
    const struct lg_region *r = lg_region_find(groups[i].name);
    LG_EQ_INT(r->default_ch[0].freq_hz, (uint32_t)(923200000 + groups[i].shift_hz));
    LG_EQ_INT(r->default_ch[1].freq_hz, (uint32_t)(923400000 + groups[i].shift_hz));
    LG_EQ_INT(r->rx2_freq_hz, (uint32_t)(923200000 + groups[i].shift_hz));
  }
  static const int8_t dwell0[4][2] = {{5, 6}, {6, 7}, {7, 7}, {7, 7}}; /* DR4..7, o 6/7 */
  static const int8_t dwell1[4][2] = {{5, 6}, {6, 7}, {7, 7}, {7, 7}};
  for (int dr = 4; dr <= 7; dr++)
    for (int o = 6; o <= 7; o++) {
      int got = -1;
      LG_EQ_INT(lg_region_rx1_dr_dwell(g1, dr, o, false, &got), 0);
      LG_EQ_INT(got, dwell0[dr - 4][o - 6]);
      LG_EQ_INT(lg_region_rx1_dr_dwell(g1, dr, o, true, &got), 0);
      LG_EQ_INT(got, dwell1[dr - 4][o - 6]);
    }
  /* DownlinkDwellTime = 1: MinDR 2 (S2's test points, S3) */
  LG_EQ_INT(g1->rx1_dr_dwell[5][4], 2);
  LG_EQ_INT(g1->rx1_dr_dwell[5][3], 2);
  LG_EQ_INT(g1->rx1_dr_dwell[2][6], 3);
  LG_EQ_INT(g1->rx1_dr_dwell[1][7], 3);
  LG_EQ_INT(g1->rx1_dr_dwell[0][7], 2);
}

/* Duty-cycle sub-bands: EU868 per ETSI EN 300 220 as S1 eu_863_870_rp2_v1_0_4.go lists
 * them (K, L, M, N, P, R; 27 dBm ERP in P) and S3's EU868 bands; RU864 and EU433 one 1 %
 * band over the channel range (S3 RU864_BAND0 / EU433_BAND0 1 %, S1 RU864 1 %; S1 gives
 * EU433 10 %, T103 §2.5.2 "<10 %" overall and "<1 %" on the default channels). */
static void test_subbands(void) {
  static const struct {
    const char *name;
    uint32_t lo, hi;
    double dc, erp;
  } t[] = {
      {"EU868", 863000000, 865000000, 0.001, 14}, {"EU868", 865000000, 868000000, 0.01, 14},
      {"EU868", 868000000, 868600000, 0.01, 14},  {"EU868", 868700000, 869200000, 0.001, 14},
      {"EU868", 869400000, 869650000, 0.10, 27},  {"EU868", 869700000, 870000000, 0.01, 14},
      {"RU864", 864000000, 870000000, 0.01, 14},  {"EU433", 433175000, 434665000, 0.01, 10},
  };
  for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
    const struct lg_region *r = lg_region_find(t[i].name);
    const struct lg_subband *b = lg_region_subband(r, t[i].lo + (t[i].hi - t[i].lo) / 2);
    LG_CHECK(b != NULL);
    if (b == NULL) continue;
    LG_EQ_INT(b->lo_hz, t[i].lo);
    LG_EQ_INT(b->hi_hz, t[i].hi);
    LG_NEAR(b->duty_cycle, t[i].dc, 1e-12);
    LG_NEAR(b->max_erp_dbm, t[i].erp, 1e-12);
  }
  const struct lg_region *eu = lg_region_find("EU868");
  LG_EQ_INT(eu->subband_count, 6);
  LG_CHECK(lg_region_subband(eu, 868650000) == NULL); /* between M and N */
  LG_CHECK(lg_region_subband(eu, 869300000) == NULL); /* band O: not for LoRaWAN (S1) */
  /* the EU-style plans take any frequency inside the band (CFList / NewChannelReq) */
  LG_CHECK(lg_region_uplink_freq_ok(eu, 867100000));
  LG_CHECK(!lg_region_uplink_freq_ok(eu, 902300000));
  for (int i = 0; i < lg_region_count(); i++) {
    const struct lg_region *r = lg_region_at(i);
    LG_EQ_INT(r->subbands != NULL, r->duty_cycle);
  }
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
  test_lrfhss();
  test_as923();
  test_subbands();
  test_list();
  return lg_test_report("test_region");
}
