/*
 * RU864-870 (RU864): LoRaWAN Regional Parameters RP002-1.0.4 §2.13. Cross-read with the
 * LoRaWAN 1.0.3revA regional parameters §2.11 text (CFList, ChMaskCntl, default settings)
 * and ChirpStack's lrwn region/ru864.rs; see docs/regions.md.
 */
#include "lora/region_int.h"

/* RP002 §2.13.2 gives the default channels a duty cycle of 1 %. One 1 % sub-band over
 * 864-870 MHz, as The Things Stack's ru_864_870_rp2_v1_0_4.go and LoRaMac-node's
 * RU864_BAND0 have it; the national sub-band map is not modelled. The 14 dBm ERP is this
 * table's own (TTS gives 20 dBm ERP; docs/regions.md). */
static const struct lg_subband ru864_subbands[] = {
    {864000000, 870000000, 0.01, 14.0},
};

const struct lg_region lg_region_ru864 = {
    .name = "RU864",
    .rp002_section = "RP002-1.0.4 §2.13 (RU864-870)",
    .freq_min_hz = 864000000,
    .freq_max_hz = 870000000,
    /* §2.13.3 data rates (as EU868 DR0-7; DR8-15 RFU) and §2.13.6 maximum payload size (not
     * repeater compatible). */
    .dr =
        {
            LG_LORA(12, 125000, 250, 59, true, true),
            LG_LORA(11, 125000, 440, 59, true, true),
            LG_LORA(10, 125000, 980, 59, true, true),
            LG_LORA(9, 125000, 1760, 123, true, true),
            LG_LORA(8, 125000, 3125, 250, true, true),
            LG_LORA(7, 125000, 5470, 250, true, true),
            LG_LORA(7, 250000, 11000, 250, true, true),
            LG_FSK(50000, 250),
        },
    .dr_count = 8,
    .max_lora125_dr = 5,
    .default_max_eirp_dbm = 16, /* §2.13.3: MaxEIRP +16 dBm by default, TXPower 0..7 */
    .max_eirp_dbm = 16.0,
    .tx_power_offsets_db = LG_TXP_2DB,
    .tx_power_step_db = 2,
    .tx_power_max_index = 7,
    .default_ch = {{868900000, 0, 5}, {869100000, 0, 5}}, /* §2.13.2 */
    .default_ch_count = 2,
    .rx1_dr_offset_max = 5, /* §2.13.7: RX1 on the uplink's channel, offsets 0..5 */
    .rx1_dr =
        {
            {0, 0, 0, 0, 0, 0},
            {1, 0, 0, 0, 0, 0},
            {2, 1, 0, 0, 0, 0},
            {3, 2, 1, 0, 0, 0},
            {4, 3, 2, 1, 0, 0},
            {5, 4, 3, 2, 1, 0},
            {6, 5, 4, 3, 2, 1},
            {7, 6, 5, 4, 3, 2},
        },
    .rx2_freq_hz = 869100000, /* §2.13.7: 869.1 MHz / DR0 */
    .rx2_dr = 0,
    LG_REGION_DEFAULT_TIMING,
    .cflist_type = LG_CFLIST_FREQUENCIES, /* §2.13.4: five frequencies (channels 2-6) */
    .link_adr_ch_mask_cntl = 0,
    .link_adr_ch_mask = 0x0003,
    .subbands = ru864_subbands,
    .subband_count = (int)LG_ARRAY_LEN(ru864_subbands),
    .uses_dwell_time = false,
    .listen_before_talk = false, /* LBT with AFA is an alternative to the duty cycle */
    .duty_cycle = true,
    .notes = "duty cycle (1 % on the default channels); the sub-band map is simplified",
};
