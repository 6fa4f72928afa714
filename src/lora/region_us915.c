/*
 * US902-928 (US915): LoRaWAN Regional Parameters RP002-1.0.4 §2.5. Checked against The
 * Things Stack's pkg/band/us_902_928_rp2_v1_0_4.go, ChirpStack's lrwn region/us915.rs and
 * LoRaMac-node RegionUS915.h; see docs/regions.md.
 */
#include "lora/region_int.h"

#define US_CH125(n)                                                                                \
  { 902300000u + 200000u * (n), 0, 3 }
#define US_CH125x8(n)                                                                              \
  US_CH125(n), US_CH125(n + 1), US_CH125(n + 2), US_CH125(n + 3), US_CH125(n + 4),                 \
      US_CH125(n + 5), US_CH125(n + 6), US_CH125(n + 7)
#define US_CH500(n)                                                                                \
  { 903000000u + 1600000u * (n), 4, 4 }

const struct lg_region lg_region_us915 = {
    .name = "US915",
    .rp002_section = "RP002-1.0.4 §2.5 (US902-928)",
    .freq_min_hz = 902000000,
    .freq_max_hz = 928000000,
    /* §2.5.3 data rates (DR5-6 LR-FHSS 1.523 MHz OCW, DR7 and DR14-15 RFU) and §2.5.6
     * maximum payload size, not repeater compatible. The FCC 400 ms dwell time always
     * applies and is built into these limits. */
    .dr =
        {
            LG_LORA(10, 125000, 980, 19, true, false),
            LG_LORA(9, 125000, 1760, 61, true, false),
            LG_LORA(8, 125000, 3125, 133, true, false),
            LG_LORA(7, 125000, 5470, 250, true, false),
            LG_LORA(8, 500000, 12500, 250, true, false),
            LG_LRFHSS(1, 1523000, 162, 58),  /* DR5: CR1/3, 1.523 MHz OCW */
            LG_LRFHSS(2, 1523000, 325, 133), /* DR6: CR2/3, 1.523 MHz OCW */
            LG_RFU,
            LG_LORA(12, 500000, 980, 61, false, true),
            LG_LORA(11, 500000, 1760, 137, false, true),
            LG_LORA(10, 500000, 3900, 250, false, true),
            LG_LORA(9, 500000, 7000, 250, false, true),
            LG_LORA(8, 500000, 12500, 250, false, true),
            LG_LORA(7, 500000, 21900, 250, false, true),
        },
    .dr_count = 14,
    .max_lora125_dr = 3,
    .default_max_eirp_dbm = 30, /* §2.5.3: TXPower 0 = 30 dBm ... 14 = 2 dBm */
    .max_eirp_dbm = 30.0,
    .tx_power_offsets_db = LG_TXP_2DB,
    .tx_power_step_db = 2,
    .tx_power_max_index = 14,
    /* §2.5.2: 64 channels of 125 kHz from 902.3 MHz by 200 kHz, 8 of 500 kHz from
     * 903.0 MHz by 1.6 MHz. */
    .default_ch = {US_CH125x8(0), US_CH125x8(8), US_CH125x8(16), US_CH125x8(24), US_CH125x8(32),
                   US_CH125x8(40), US_CH125x8(48), US_CH125x8(56), US_CH500(0), US_CH500(1),
                   US_CH500(2), US_CH500(3), US_CH500(4), US_CH500(5), US_CH500(6), US_CH500(7)},
    .default_ch_count = 72,
    /* §2.5.7: RX1 on 923.3 MHz + 600 kHz * (uplink channel mod 8). */
    .rx1_base_hz = 923300000,
    .rx1_step_hz = 600000,
    .rx1_channels = 8,
    /* §2.5.7 Table "US902-928 downlink RX1 data rate mapping", RX1DROffset 0..3. */
    .rx1_dr_offset_max = 3,
    .rx1_dr =
        {
            {10, 9, 8, 8},
            {11, 10, 9, 8},
            {12, 11, 10, 9},
            {13, 12, 11, 10},
            {13, 13, 12, 11},
            {10, 9, 8, 8},  /* DR5 (LR-FHSS) */
            {11, 10, 9, 8}, /* DR6 (LR-FHSS) */
        },
    .rx2_freq_hz = 923300000, /* §2.5.7: 923.3 MHz / DR8 */
    .rx2_dr = 8,
    LG_REGION_DEFAULT_TIMING,
    .cflist_type = LG_CFLIST_CHANNEL_MASK, /* §2.5.4: ChMask0..4 (channels 0-71), CFListType 1 */
    .link_adr_ch_mask_cntl = 6,            /* §2.5.5: 6 = all 125 kHz on, ChMask for 64-71 */
    .link_adr_ch_mask = 0x00ff,
    .subband_rules =
        "8 sub-bands: sub-band k (1..8) is 125 kHz channels 8(k-1)..8(k-1)+7 and 500 kHz "
        "channel 63+k; LinkADRReq ChMaskCntl 0-3: 16-channel blocks of 0-63, 4: channels "
        "64-71, 5: one bit per sub-band, 6/7: all 125 kHz channels on/off with ChMask for "
        "64-71 (RP002 §2.5.5)",
    .subbands = NULL,
    .subband_count = 0,
    .uses_dwell_time = true, /* FCC 400 ms dwell time; enforced by max payload per DR */
    .listen_before_talk = false,
    .duty_cycle = false,
    .notes = "frequency hopping over at least 50 channels or a digital-modulation 500 kHz "
             "channel (FCC part 15.247)",
};
