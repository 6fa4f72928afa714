/*
 * CN470-510 (CN470): LoRaWAN Regional Parameters RP002-1.0.4 §2.9 for the data rates,
 * payload sizes, TXPower and CFList type. RP002-1.0.1 and later define four channel plans
 * (20 MHz and 26 MHz antennas, types A and B) that lorageo does NOT implement yet: the
 * channels here are the single pre-RP002 plan (96 uplink channels 470.3 + 0.2n MHz, 48
 * downlink channels 500.3 + 0.2n MHz, RX2 505.3 MHz) that ChirpStack's lrwn
 * region/cn470.rs still uses, with RP002's data rates (DR1-5 on every channel, RX2 at DR1).
 * See docs/regions.md.
 */
#include "lora/region_int.h"

#define CN_CH(n)                                                                                   \
  { 470300000u + 200000u * (n), 1, 5 }
#define CN_CH8(n)                                                                                  \
  CN_CH(n), CN_CH(n + 1), CN_CH(n + 2), CN_CH(n + 3), CN_CH(n + 4), CN_CH(n + 5), CN_CH(n + 6),    \
      CN_CH(n + 7)

const struct lg_region lg_region_cn470 = {
    .name = "CN470",
    .rp002_section = "RP002-1.0.4 §2.9 (CN470-510)",
    .freq_min_hz = 470000000,
    .freq_max_hz = 510000000,
    /* §2.9.3 data rates (DR6 SF7/500 kHz, DR7 FSK 50 kbit/s, DR8-15 RFU: TTS's
     * cn_470_510_*_rp2_v1_0_4.go, ChirpStack's cn470.rs, LoRaMac-node's RegionCN470.h) and
     * §2.9.6 maximum payload size, not repeater compatible: DR0 not defined, 31, 94, 192,
     * 250, 250, 250, 250 (ChirpStack's RP002-1.0.1+ table and LoRaMac-node's
     * MaxPayloadOfDatarateCN470 N = 0, 23, 86, 184, 242...; TTS's 172 for DR3 is the
     * repeater-compatible value). With no payload defined, DR0 carries neither uplinks nor
     * downlinks (LoRaMac-node: CN470_TX_MIN_DATARATE and CN470_RX_MIN_DATARATE DR1). */
    .dr =
        {
            LG_LORA(12, 125000, 250, LG_NA, false, false),
            LG_LORA(11, 125000, 440, 31, true, true),
            LG_LORA(10, 125000, 980, 94, true, true),
            LG_LORA(9, 125000, 1760, 192, true, true),
            LG_LORA(8, 125000, 3125, 250, true, true),
            LG_LORA(7, 125000, 5470, 250, true, true),
            LG_LORA(7, 500000, 21900, 250, true, true),
            LG_FSK(50000, 250),
        },
    .dr_count = 8,
    .max_lora125_dr = 5,
    /* §2.9.3: MaxEIRP +19.15 dBm by default, TXPower 0..7 = MaxEIRP - 2i. */
    .default_max_eirp_dbm = 19,
    .max_eirp_dbm = 19.15,
    .tx_power_offsets_db = LG_TXP_2DB,
    .tx_power_step_db = 2,
    .tx_power_max_index = 7,
    .default_ch = {CN_CH8(0), CN_CH8(8), CN_CH8(16), CN_CH8(24), CN_CH8(32), CN_CH8(40), CN_CH8(48),
                   CN_CH8(56), CN_CH8(64), CN_CH8(72), CN_CH8(80), CN_CH8(88)},
    .default_ch_count = 96,
    .rx1_base_hz = 500300000, /* RX1 channel = uplink channel mod 48 */
    .rx1_step_hz = 200000,
    .rx1_channels = 48,
    /* §2.9.7: RX1DROffset 0..5; LoRaMac-node's RP002 DatarateOffsetsCN470[8][6]: RX1 DR =
     * MAX(1, uplink DR - offset), DR0 -> DR0 (unused: DR0 carries no uplink), rows for DR6
     * and DR7. ChirpStack's cn470.rs and TTS's rp2_v1_0_4 ("unchanged from the pre-RP2
     * band") keep the pre-RP002 MAX(0, DR - offset) for DR0-5 only (docs/regions.md). */
    .rx1_dr_offset_max = 5,
    .rx1_dr =
        {
            {0, 0, 0, 0, 0, 0},
            {1, 1, 1, 1, 1, 1},
            {2, 1, 1, 1, 1, 1},
            {3, 2, 1, 1, 1, 1},
            {4, 3, 2, 1, 1, 1},
            {5, 4, 3, 2, 1, 1},
            {6, 5, 4, 3, 2, 1},
            {7, 6, 5, 4, 3, 2},
        },
    /* RX2: the pre-RP002 plan's 505.3 MHz with RP002's DR1 (LoRaMac-node CN470_RX_WND_2_DR;
     * DR0 has no payload size in RP002; TTS's rp2 files say DR0, ChirpStack keeps the
     * pre-RP002 DR0). */
    .rx2_freq_hz = 505300000,
    .rx2_dr = 1,
    LG_REGION_DEFAULT_TIMING,
    .cflist_type = LG_CFLIST_CHANNEL_MASK, /* §2.9.4: channel mask, CFListType 1 */
    .link_adr_ch_mask_cntl = 6,            /* §2.9.5: ChMaskCntl 6 = all channels on */
    .link_adr_ch_mask = 0x0000,
    .subband_rules = "96 uplink channels in 6 blocks of 16: LinkADRReq ChMaskCntl 0-5 "
                     "address channels 16k..16k+15, 6 turns every channel on (pre-RP002 "
                     "single plan; RP002's 20/26 MHz plans A/B not implemented)",
    .subbands = NULL,
    .subband_count = 0,
    .uses_dwell_time = false,
    .listen_before_talk = false,
    .duty_cycle = false,
    .notes = "RP002's four CN470 channel plans are not implemented; the pre-RP002 96-channel "
             "plan is used",
};
