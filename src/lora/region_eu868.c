/*
 * EU863-870 (EU868): LoRaWAN Regional Parameters RP002-1.0.4 §2.4 (section numbering as in
 * RP002-1.0.3, which 1.0.4 keeps for this band). Checked against The Things Stack's
 * pkg/band/eu_863_870_rp2_v1_0_4.go and ChirpStack's lrwn region/eu868.rs (both carry the
 * LR-FHSS rows, payloads and RX1 rows); see docs/regions.md.
 */
#include "lora/region_int.h"

/* ETSI EN 300 220-2 sub-bands as The Things Stack's eu_863_870_rp2_v1_0_4.go lists them
 * (band O, 869.2-869.4 MHz, left out) and LoRaMac-node's EU868 band map. */
static const struct lg_subband eu868_subbands[] = {
    {863000000, 865000000, 0.001, 14.0}, /* band K */
    {865000000, 868000000, 0.01, 14.0},  /* band L */
    {868000000, 868600000, 0.01, 14.0},  /* band M: the three default channels */
    {868700000, 869200000, 0.001, 14.0}, /* band N */
    {869400000, 869650000, 0.10, 27.0},  /* band P: RX2 869.525 MHz, 500 mW */
    {869700000, 870000000, 0.01, 14.0},  /* band R */
};

const struct lg_region lg_region_eu868 = {
    .name = "EU868",
    .rp002_section = "RP002-1.0.4 §2.4 (EU863-870)",
    .freq_min_hz = 863000000,
    .freq_max_hz = 870000000,
    /* §2.4.3 Table "EU863-870 data rate and end-device output power encoding" (DR0-11;
     * DR8-11 LR-FHSS, 137/336 kHz OCW) and §2.4.6 maximum payload size, not repeater
     * compatible (M; N = M - 8). */
    .dr =
        {
            LG_LORA(12, 125000, 250, 59, true, true), LG_LORA(11, 125000, 440, 59, true, true),
            LG_LORA(10, 125000, 980, 59, true, true), LG_LORA(9, 125000, 1760, 123, true, true),
            LG_LORA(8, 125000, 3125, 250, true, true), LG_LORA(7, 125000, 5470, 250, true, true),
            LG_LORA(7, 250000, 11000, 250, true, true), LG_FSK(50000, 250),
            LG_LRFHSS(1, 137000, 162, 58),  /* DR8: CR1/3, 137 kHz OCW */
            LG_LRFHSS(2, 137000, 325, 123), /* DR9: CR2/3, 137 kHz OCW */
            LG_LRFHSS(1, 336000, 162, 58),  /* DR10: CR1/3, 336 kHz OCW */
            LG_LRFHSS(2, 336000, 325, 123), /* DR11: CR2/3, 336 kHz OCW */
        },
    .dr_count = 12,
    .max_lora125_dr = 5,
    .default_max_eirp_dbm = 16, /* §2.4.3: MaxEIRP +16 dBm by default */
    .max_eirp_dbm = 16.0,
    .tx_power_offsets_db = LG_TXP_2DB, /* §2.4.3 TXPower 0..7: MaxEIRP - 2i dB */
    .tx_power_step_db = 2,
    .tx_power_max_index = 7,
    /* §2.4.2: three default channels, DR0-5, in every EU868 device. */
    .default_ch = {{868100000, 0, 5}, {868300000, 0, 5}, {868500000, 0, 5}},
    .default_ch_count = 3,
    /* §2.4.7: RX1 on the uplink's channel; RX1DROffset 0..5, DR8-11 (LR-FHSS uplinks)
     * answered at DR1/DR2 at offset 0. */
    .rx1_dr_offset_max = 5,
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
            {1, 0, 0, 0, 0, 0},
            {2, 1, 0, 0, 0, 0},
            {1, 0, 0, 0, 0, 0},
            {2, 1, 0, 0, 0, 0},
        },
    .rx2_freq_hz = 869525000, /* §2.4.7: 869.525 MHz / DR0 */
    .rx2_dr = 0,
    LG_REGION_DEFAULT_TIMING,
    .cflist_type = LG_CFLIST_FREQUENCIES, /* §2.4.4: five frequencies, CFListType 0 */
    .link_adr_ch_mask_cntl = 0,
    .link_adr_ch_mask = 0x0007,
    .subbands = eu868_subbands,
    .subband_count = (int)LG_ARRAY_LEN(eu868_subbands),
    .uses_dwell_time = false,
    .listen_before_talk = false, /* ETSI allows LBT+AFA instead of the duty cycle; LoRaWAN uses
                                    the duty cycle (§2.4.2) */
    .duty_cycle = true,
    .notes = "duty cycle per ETSI EN 300 220 sub-band (0.1 %, 1 % or 10 %)",
};
