/*
 * AS923 (AS923-1, -2, -3, -4): LoRaWAN Regional Parameters RP002-1.0.4 §2.10. The four
 * channel groups share every table; only the frequencies move (§2.10.2: AS923-2 is
 * AS923-1 - 1.80 MHz, AS923-3 - 6.60 MHz, AS923-4 - 5.90 MHz). Checked against The Things
 * Stack's pkg/band/as_923_rp2_v1_0_4.go, ChirpStack's lrwn region/as923.rs and LoRaMac-node's
 * RegionAS923.h (RP002 tables); see docs/regions.md.
 */
#include "lora/region_int.h"

/* §2.10.3 data rates (DR8-15 RFU) and §2.10.6 maximum payload size, not repeater
 * compatible, for UplinkDwellTime 0 and 1 (59, 59, 123, 123, 250 x4 / N/A, N/A, 19, 61, 133,
 * 250 x3: TTS rp2_v1_0_4, ChirpStack "RP002-1.0.3, RP002-1.0.4", RP002-1.0.5 Table 73). */
#define AS923_DR                                                                                   \
  {                                                                                                \
    LG_LORA_DW(12, 125000, 250, 59, LG_NA, true, true),                                            \
        LG_LORA_DW(11, 125000, 440, 59, LG_NA, true, true),                                        \
        LG_LORA_DW(10, 125000, 980, 123, 19, true, true),                                          \
        LG_LORA_DW(9, 125000, 1760, 123, 61, true, true),                                          \
        LG_LORA_DW(8, 125000, 3125, 250, 133, true, true),                                         \
        LG_LORA_DW(7, 125000, 5470, 250, 250, true, true),                                         \
        LG_LORA_DW(7, 250000, 11000, 250, 250, true, true), LG_FSK_DW(50000, 250, 250),            \
  }

/* §2.10.7: RX1DROffset 0..7 with effective offsets 0,1,2,3,4,5,-1,-2 and
 * RX1 DR = MIN(7, MAX(MinDR, uplink DR - effective offset)), MinDR 0 under
 * DownlinkDwellTime 0 and 2 under DownlinkDwellTime 1, written out as tables. The cap is
 * DR7 as in The Things Stack's pkg/band/as_923_rp2_v1_0_4.go, LoRaMac-node's RP002
 * tables (EffectiveRx1DrOffsetDownlinkDwell0/1AS923) and RP002-1.0.5 Tables 74/75 (which
 * add that devices without DR6/DR7 must not use those cells); ChirpStack's lrwn
 * region/as923.rs and LoRaWAN 1.0.3revA cap at DR5 (docs/regions.md). */
#define AS923_RX1                                                                                  \
  {                                                                                                \
    {0, 0, 0, 0, 0, 0, 1, 2}, {1, 0, 0, 0, 0, 0, 2, 3}, {2, 1, 0, 0, 0, 0, 3, 4},                  \
        {3, 2, 1, 0, 0, 0, 4, 5}, {4, 3, 2, 1, 0, 0, 5, 6}, {5, 4, 3, 2, 1, 0, 6, 7},              \
        {6, 5, 4, 3, 2, 1, 7, 7}, {7, 6, 5, 4, 3, 2, 7, 7},                                        \
  }
#define AS923_RX1_DWELL                                                                            \
  {                                                                                                \
    {2, 2, 2, 2, 2, 2, 2, 2}, {2, 2, 2, 2, 2, 2, 2, 3}, {2, 2, 2, 2, 2, 2, 3, 4},                  \
        {3, 2, 2, 2, 2, 2, 4, 5}, {4, 3, 2, 2, 2, 2, 5, 6}, {5, 4, 3, 2, 2, 2, 6, 7},              \
        {6, 5, 4, 3, 2, 2, 7, 7}, {7, 6, 5, 4, 3, 2, 7, 7},                                        \
  }

#define AS923_REGION(name_, section_, lo_, hi_, ch1_)                                              \
  {                                                                                                \
    .name = name_, .rp002_section = section_, .freq_min_hz = (lo_), .freq_max_hz = (hi_),          \
    .dr = AS923_DR, .dr_count = 8, .max_lora125_dr = 5, .dwell_table = true,                       \
    .default_max_eirp_dbm = 16, /* §2.10.3: MaxEIRP +16 dBm by default, TXPower 0..7 */           \
        .max_eirp_dbm = 16.0, .tx_power_offsets_db = LG_TXP_2DB, .tx_power_step_db = 2,            \
    .tx_power_max_index = 7,                                                                       \
    .default_ch = {{(ch1_), 0, 5}, {(ch1_) + 200000u, 0, 5}}, /* §2.10.2 */                       \
        .default_ch_count = 2, .rx1_dr_offset_max = 7, .rx1_dr = AS923_RX1,                        \
    .has_rx1_dr_dwell = true, .rx1_dr_dwell = AS923_RX1_DWELL,                                     \
    .rx2_freq_hz = (ch1_), /* §2.10.7: the first default channel / DR2 */                         \
        .rx2_dr = 2, LG_REGION_DEFAULT_TIMING,                                                     \
    .cflist_type = LG_CFLIST_FREQUENCIES, /* §2.10.4: five frequencies, CFListType 0 */           \
        .link_adr_ch_mask_cntl = 0, .link_adr_ch_mask = 0x0003, .subbands = NULL,                  \
    .subband_count = 0, .uses_dwell_time = true, .listen_before_talk = true, .duty_cycle = false,  \
    .notes = "dwell time, listen-before-talk (Japan: ARIB STD-T108) and any duty cycle follow "    \
             "the country's rules (RP002 §2.10.1); UplinkDwellTime is country-specific",           \
  }

/* Frequency ranges (§2.10.1 channel groups, "available frequencies in the ... range"):
 * AS923-1 915-928 MHz; AS923-2 920-923 MHz (RP002-1.0.3 text quoted in
 * TheThingsNetwork/lorawan-stack issue 6625); AS923-3 915-921 MHz; AS923-4 917-920 MHz
 * (RP002-1.0.3 per helium/miner issue 739, RP002-1.0.4 per meshtastic PRs 4069/1083). The
 * -1 and -3 edges are not seen in any text here; the groups' common-channel sub-bands
 * (923.0-923.5, 921.4-922.0, 916.5-917.0 MHz) match The Things Stack's as_923.go. */
const struct lg_region lg_region_as923_1 = AS923_REGION(
    "AS923-1", "RP002-1.0.4 §2.10 (AS923, group AS923-1)", 915000000, 928000000, 923200000u);
const struct lg_region lg_region_as923_2 =
    AS923_REGION("AS923-2", "RP002-1.0.4 §2.10 (AS923, group AS923-2)", 920000000, 923000000,
                 923200000u - 1800000u);
const struct lg_region lg_region_as923_3 =
    AS923_REGION("AS923-3", "RP002-1.0.4 §2.10 (AS923, group AS923-3)", 915000000, 921000000,
                 923200000u - 6600000u);
const struct lg_region lg_region_as923_4 =
    AS923_REGION("AS923-4", "RP002-1.0.4 §2.10 (AS923, group AS923-4)", 917000000, 920000000,
                 923200000u - 5900000u);
