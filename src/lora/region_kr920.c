/*
 * KR920-923 (KR920): LoRaWAN Regional Parameters RP002-1.0.4 §2.11. Checked against the
 * LoRaWAN 1.0.3revA regional parameters §2.9 text, The Things Stack's
 * pkg/band/kr_920_923_rp2_v1_0_4.go and ChirpStack's lrwn region/kr920.rs; the band edges
 * are the channel centre range 920.9-923.3 MHz that LoRaMac-node's RegionKR920.c
 * VerifyTxFreq accepts (TTS's sub-band is 920-923 MHz); see docs/regions.md.
 */
#include "lora/region_int.h"

const struct lg_region lg_region_kr920 = {
    .name = "KR920",
    .rp002_section = "RP002-1.0.4 §2.11 (KR920-923)",
    .freq_min_hz = 920900000,
    .freq_max_hz = 923300000,
    /* §2.11.3 data rates (DR6-15 RFU) and §2.11.6 maximum payload size (not repeater
     * compatible). */
    .dr =
        {
            LG_LORA(12, 125000, 250, 59, true, true),
            LG_LORA(11, 125000, 440, 59, true, true),
            LG_LORA(10, 125000, 980, 59, true, true),
            LG_LORA(9, 125000, 1760, 123, true, true),
            LG_LORA(8, 125000, 3125, 250, true, true),
            LG_LORA(7, 125000, 5470, 250, true, true),
        },
    .dr_count = 6,
    .max_lora125_dr = 5,
    /* §2.11.3: MaxEIRP +14 dBm by default, TXPower 0..7 = MaxEIRP - 2i; below 922 MHz a
     * device is held to +10 dBm EIRP whatever the index. */
    .default_max_eirp_dbm = 14,
    .max_eirp_dbm = 14.0,
    .tx_power_offsets_db = LG_TXP_2DB,
    .tx_power_step_db = 2,
    .tx_power_max_index = 7,
    .default_ch = {{922100000, 0, 5}, {922300000, 0, 5}, {922500000, 0, 5}}, /* §2.11.2 */
    .default_ch_count = 3,
    /* §2.11.7: RX1 on the uplink's channel, RX1DROffset 0..5. */
    .rx1_dr_offset_max = 5,
    .rx1_dr =
        {
            {0, 0, 0, 0, 0, 0},
            {1, 0, 0, 0, 0, 0},
            {2, 1, 0, 0, 0, 0},
            {3, 2, 1, 0, 0, 0},
            {4, 3, 2, 1, 0, 0},
            {5, 4, 3, 2, 1, 0},
        },
    .rx2_freq_hz = 921900000, /* §2.11.7: 921.9 MHz / DR0 */
    .rx2_dr = 0,
    LG_REGION_DEFAULT_TIMING,
    .cflist_type = LG_CFLIST_FREQUENCIES, /* §2.11.4: five frequencies (channels 3-7) */
    .link_adr_ch_mask_cntl = 0,
    .link_adr_ch_mask = 0x0007,
    .subbands = NULL,
    .subband_count = 0,
    .uses_dwell_time = false,
    .listen_before_talk = true, /* §2.11.2: LBT before every transmission (Korean rules) */
    .duty_cycle = false,
    .notes = "listen-before-talk required; +10 dBm EIRP limit below 922 MHz",
};
