/*
 * IN865-867 (IN865): LoRaWAN Regional Parameters RP002-1.0.4 §2.12. Checked against The
 * Things Stack's pkg/band/in_865_867_rp2_v1_0_4.go, ChirpStack's lrwn region/in865.rs and
 * LoRaMac-node's RegionIN865.h; see docs/regions.md.
 */
#include "lora/region_int.h"

const struct lg_region lg_region_in865 = {
    .name = "IN865",
    .rp002_section = "RP002-1.0.4 §2.12 (IN865-867)",
    .freq_min_hz = 865000000,
    .freq_max_hz = 867000000,
    /* §2.12.3 data rates (DR6 RFU, DR7 FSK, DR8-15 RFU) and §2.12.6 maximum payload size
     * (not repeater compatible). */
    .dr =
        {
            LG_LORA(12, 125000, 250, 59, true, true),
            LG_LORA(11, 125000, 440, 59, true, true),
            LG_LORA(10, 125000, 980, 59, true, true),
            LG_LORA(9, 125000, 1760, 123, true, true),
            LG_LORA(8, 125000, 3125, 250, true, true),
            LG_LORA(7, 125000, 5470, 250, true, true),
            LG_RFU,
            LG_FSK(50000, 250),
        },
    .dr_count = 8,
    .max_lora125_dr = 5,
    /* §2.12.3: MaxEIRP +30 dBm by default and TXPower 0..10 = MaxEIRP - 2i: TTS's
     * in_865_867_rp2_v1_0_4.go, ChirpStack's in865.rs and LoRaMac-node's RegionIN865.h.
     * RP002-1.0.5 (Table 94) changes this to 29.2 dBm and TXPower 1..14 (docs/regions.md). */
    .default_max_eirp_dbm = 30,
    .max_eirp_dbm = 30.0,
    .tx_power_offsets_db = LG_TXP_2DB,
    .tx_power_step_db = 2,
    .tx_power_max_index = 10,
    .default_ch = {{865062500, 0, 5}, {865402500, 0, 5}, {865985000, 0, 5}}, /* §2.12.2 */
    .default_ch_count = 3,
    /* §2.12.7: RX1 on the uplink's channel; RX1DROffset 0..7, effective offsets
     * 0,1,2,3,4,5,-1,-2. The table is LoRaMac-node's RP002 EffectiveRx1DrOffsetIN865[8][8]:
     * MIN(5, MAX(0, DR - offset)) except that it never lands on the RFU DR6 (DR5 + offset 7
     * and DR7 + offsets 0, 6, 7 give DR7; DR7 + offset 1 gives DR5). ChirpStack's
     * in865.rs (DR7 row 7,6,5,...) and TTS's in_865_867_rp2_v1_0_4.go (MIN(7, ...)) both
     * map onto the RFU DR6 there (docs/regions.md). */
    .rx1_dr_offset_max = 7,
    .rx1_dr =
        {
            {0, 0, 0, 0, 0, 0, 1, 2},
            {1, 0, 0, 0, 0, 0, 2, 3},
            {2, 1, 0, 0, 0, 0, 3, 4},
            {3, 2, 1, 0, 0, 0, 4, 5},
            {4, 3, 2, 1, 0, 0, 5, 5},
            {5, 4, 3, 2, 1, 0, 5, 7},
            {LG_NA, LG_NA, LG_NA, LG_NA, LG_NA, LG_NA, LG_NA, LG_NA},
            {7, 5, 5, 4, 3, 2, 7, 7},
        },
    .rx2_freq_hz = 866550000, /* §2.12.7: 866.550 MHz / DR2 */
    .rx2_dr = 2,
    LG_REGION_DEFAULT_TIMING,
    .cflist_type = LG_CFLIST_FREQUENCIES, /* §2.12.4: five frequencies (channels 3-7) */
    .link_adr_ch_mask_cntl = 0,
    .link_adr_ch_mask = 0x0007,
    .subbands = NULL,
    .subband_count = 0,
    .uses_dwell_time = false,
    .listen_before_talk = false,
    .duty_cycle = false,
    .notes = NULL,
};
