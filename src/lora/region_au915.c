/*
 * AU915-928 (AU915): LoRaWAN Regional Parameters RP002-1.0.4 §2.8. Checked against The
 * Things Stack's pkg/band/au_915_928_rp2_v1_0_4.go and ChirpStack's lrwn region/au915.rs
 * (its RP002-1.0.2..1.0.4 tables); see docs/regions.md.
 */
#include "lora/region_int.h"

#define AU_CH125(n)                                                                                \
  { 915200000u + 200000u * (n), 0, 5 }
#define AU_CH125x8(n)                                                                              \
  AU_CH125(n), AU_CH125(n + 1), AU_CH125(n + 2), AU_CH125(n + 3), AU_CH125(n + 4),                 \
      AU_CH125(n + 5), AU_CH125(n + 6), AU_CH125(n + 7)
#define AU_CH500(n)                                                                                \
  { 915900000u + 1600000u * (n), 6, 6 }

const struct lg_region lg_region_au915 = {
    .name = "AU915",
    .rp002_section = "RP002-1.0.4 §2.8 (AU915-928)",
    .freq_min_hz = 915000000,
    .freq_max_hz = 928000000,
    /* §2.8.3 data rates (DR7 LR-FHSS CR1/3 1.523 MHz OCW; DR14-15 RFU) and §2.8.6 maximum
     * payload size, not repeater compatible, for UplinkDwellTime 0 and 1 (400 ms). */
    .dr =
        {
            LG_LORA_DW(12, 125000, 250, 59, LG_NA, true, false),
            LG_LORA_DW(11, 125000, 440, 59, LG_NA, true, false),
            LG_LORA_DW(10, 125000, 980, 59, 19, true, false),
            LG_LORA_DW(9, 125000, 1760, 123, 61, true, false),
            LG_LORA_DW(8, 125000, 3125, 250, 133, true, false),
            LG_LORA_DW(7, 125000, 5470, 250, 250, true, false),
            LG_LORA_DW(8, 500000, 12500, 250, 250, true, false),
            LG_LRFHSS_DW(1, 1523000, 162, 58, 58), /* DR7 */
            LG_LORA_DW(12, 500000, 980, 61, 61, false, true),
            LG_LORA_DW(11, 500000, 1760, 137, 137, false, true),
            LG_LORA_DW(10, 500000, 3900, 250, 250, false, true),
            LG_LORA_DW(9, 500000, 7000, 250, 250, false, true),
            LG_LORA_DW(8, 500000, 12500, 250, 250, false, true),
            LG_LORA_DW(7, 500000, 21900, 250, 250, false, true),
        },
    .dr_count = 14,
    .max_lora125_dr = 5,
    .dwell_table = true,
    .default_max_eirp_dbm = 30, /* §2.8.3: MaxEIRP +30 dBm by default, TXPower 0..14 */
    .max_eirp_dbm = 30.0,
    .tx_power_offsets_db = LG_TXP_2DB,
    .tx_power_step_db = 2,
    .tx_power_max_index = 14,
    /* §2.8.2: 64 channels of 125 kHz from 915.2 MHz by 200 kHz (DR0-5), 8 of 500 kHz from
     * 915.9 MHz by 1.6 MHz (DR6). */
    .default_ch = {AU_CH125x8(0), AU_CH125x8(8), AU_CH125x8(16), AU_CH125x8(24), AU_CH125x8(32),
                   AU_CH125x8(40), AU_CH125x8(48), AU_CH125x8(56), AU_CH500(0), AU_CH500(1),
                   AU_CH500(2), AU_CH500(3), AU_CH500(4), AU_CH500(5), AU_CH500(6), AU_CH500(7)},
    .default_ch_count = 72,
    /* §2.8.7: RX1 on 923.3 MHz + 600 kHz * (uplink channel mod 8). */
    .rx1_base_hz = 923300000,
    .rx1_step_hz = 600000,
    .rx1_channels = 8,
    /* §2.8.7 Table "AU915-928 downlink RX1 data rate mapping", RX1DROffset 0..5. */
    .rx1_dr_offset_max = 5,
    .rx1_dr =
        {
            {8, 8, 8, 8, 8, 8},
            {9, 8, 8, 8, 8, 8},
            {10, 9, 8, 8, 8, 8},
            {11, 10, 9, 8, 8, 8},
            {12, 11, 10, 9, 8, 8},
            {13, 12, 11, 10, 9, 8},
            {13, 13, 12, 11, 10, 9},
            {9, 8, 8, 8, 8, 8}, /* DR7 (LR-FHSS) */
        },
    .rx2_freq_hz = 923300000, /* §2.8.7: 923.3 MHz / DR8 */
    .rx2_dr = 8,
    LG_REGION_DEFAULT_TIMING,
    .cflist_type = LG_CFLIST_CHANNEL_MASK, /* §2.8.4: channel mask, CFListType 1 */
    .link_adr_ch_mask_cntl = 6,
    .link_adr_ch_mask = 0x00ff,
    .subband_rules =
        "8 sub-bands: sub-band k (1..8) is 125 kHz channels 8(k-1)..8(k-1)+7 and 500 kHz "
        "channel 63+k; LinkADRReq ChMaskCntl as in US915 (RP002 §2.8.5)",
    .subbands = NULL,
    .subband_count = 0,
    .uses_dwell_time = true, /* TxParamSetupReq sets Uplink/DownlinkDwellTime (§2.8.3) */
    .listen_before_talk = false,
    .duty_cycle = false,
    .notes = "UplinkDwellTime is country-specific (RP002 §2.3); both payload columns are given",
};
