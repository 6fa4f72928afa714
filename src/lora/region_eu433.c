/*
 * EU433: LoRaWAN Regional Parameters RP002-1.0.4 §2.7. Checked against the LoRaWAN
 * 1.0.3revA regional parameters §2.5 text (payload tables, RX1 mapping, RX2, defaults),
 * which RP002 keeps for this band; see docs/regions.md.
 */
#include "lora/region_int.h"

/* §2.7.2: the default channels' duty cycle is < 1 % (LoRaWAN 1.0.3revA Table 28,
 * LoRaMac-node EU433_BAND0 1 %); one sub-band over the channel range. The same text allows
 * the device < 10 % overall, which The Things Stack's eu_433_rp2_v1_0_4.go uses for its one
 * sub-band (docs/regions.md). ERP 10 dBm = the 12.15 dBm EIRP limit. */
static const struct lg_subband eu433_subbands[] = {
    {433175000, 434665000, 0.01, 10.0},
};

const struct lg_region lg_region_eu433 = {
    .name = "EU433",
    .rp002_section = "RP002-1.0.4 §2.7 (EU433)",
    .freq_min_hz = 433175000,
    .freq_max_hz = 434665000,
    /* §2.7.3 data rates (DR8-15 RFU) and §2.7.6 maximum payload size (not repeater
     * compatible): 59, 59, 59, 123, 250, 250, 250, 250. */
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
    /* §2.7.3: MaxEIRP +12.15 dBm by default, TXPower 0..5 = MaxEIRP - 2i. */
    .default_max_eirp_dbm = 12,
    .max_eirp_dbm = 12.15,
    .tx_power_offsets_db = LG_TXP_2DB,
    .tx_power_step_db = 2,
    .tx_power_max_index = 5,
    .default_ch = {{433175000, 0, 5}, {433375000, 0, 5}, {433575000, 0, 5}}, /* §2.7.2 */
    .default_ch_count = 3,
    .rx1_dr_offset_max = 5, /* §2.7.7 Table "EU433 downlink RX1 data rate mapping" */
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
    .rx2_freq_hz = 434665000, /* §2.7.7: 434.665 MHz / DR0 */
    .rx2_dr = 0,
    LG_REGION_DEFAULT_TIMING,
    .cflist_type = LG_CFLIST_FREQUENCIES, /* §2.7.4: five frequencies (channels 3-7) */
    .link_adr_ch_mask_cntl = 0,
    .link_adr_ch_mask = 0x0007,
    .subbands = eu433_subbands,
    .subband_count = (int)LG_ARRAY_LEN(eu433_subbands),
    .uses_dwell_time = false,
    .listen_before_talk = false,
    .duty_cycle = true,
    .notes = "duty cycle < 1 % (ETSI EN 300 220)",
};
