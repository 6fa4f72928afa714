/*
 * lora — physical-layer facts of LoRa and the LoRaWAN regional parameters.
 *
 * Everything here is a pure function of its arguments or a constant table, so the
 * network server, the simulator and ADR read the same numbers. Sources are cited
 * at each table: Semtech AN1200.13 and the SX1272/SX1276 datasheets for the radio,
 * LoRaWAN Regional Parameters RP002-1.0.4 for every region it defines but CN779.
 *
 * Units: frequencies in Hz (uint32_t), bandwidths in Hz, times in nanoseconds
 * (int64_t) or milliseconds (double, for display), powers in dBm, ratios in dB.
 */
#ifndef LG_LORA_H
#define LG_LORA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- time on air -------------------------------------------------------------- */

enum lg_ldro { LG_LDRO_AUTO = 0, LG_LDRO_ON, LG_LDRO_OFF };

/* Modulation and framing of one LoRa packet. */
struct lg_lora_tx {
  int sf;               /* spreading factor 6..12 (SX127x formula) */
  uint32_t bw_hz;       /* 7800..500000; LoRaWAN uses 125000, 250000, 500000 */
  int cr;               /* coding rate 1..4 meaning 4/5..4/8 */
  int preamble_symbols; /* programmed preamble length, LoRaWAN: 8 */
  bool crc;             /* payload CRC present (LoRaWAN: uplink yes, downlink no) */
  bool implicit_header; /* LoRaWAN: explicit header (false) */
  enum lg_ldro ldro;    /* low-data-rate optimisation; AUTO = on when Tsym > 16 ms */
};

/* LoRaWAN uplink defaults for a given SF and bandwidth: preamble 8, CR 4/5,
 * explicit header, CRC on, LDRO automatic. */
struct lg_lora_tx lg_lora_tx_lorawan(int sf, uint32_t bw_hz);

struct lg_airtime {
  int64_t symbol_ns;   /* one symbol, 2^SF / BW */
  double preamble_ms;  /* (Npreamble + 4.25) symbols */
  int payload_symbols; /* header + payload symbols, 8 + ... (AN1200.13) */
  bool ldro;           /* whether low-data-rate optimisation was applied */
  double time_on_air_ms;
  int64_t time_on_air_ns; /* rounded to the nearest ns (exact for 125/250/500 kHz) */
};

/*
 * Time on air of a packet with `payload_len` PHY payload bytes (for LoRaWAN: MHDR
 * through MIC), from the formula of Semtech AN1200.13 / SX1276 datasheet §4.1.1.7.
 * Errors: LG_EINVAL when a parameter is out of range (sf 6..12, cr 1..4, bw > 0,
 * preamble 6..65535, payload 0..255).
 */
int lg_lora_airtime(const struct lg_lora_tx *tx, size_t payload_len, struct lg_airtime *out);

/* ---- demodulation ------------------------------------------------------------- */

/*
 * Lowest SNR (dB) at which the SX127x/SX130x demodulator still decodes a packet at
 * `sf` (SX1276 datasheet rev 4 Table 13: SF6 -5 ... SF12 -20, 2.5 dB per SF; SF5
 * -2.5 from the SX1261/2 datasheet). The SNR is measured in the signal bandwidth, so
 * the floor does not depend on it; `bw_hz` is validated (125/250/500 kHz) only.
 * Returns LG_EINVAL for other values, else 0 with *snr_db set.
 */
int lg_lora_snr_floor_db(int sf, uint32_t bw_hz, double *snr_db);

/*
 * Receiver sensitivity (dBm): thermal noise -174 dBm/Hz + 10 log10(BW) + noise
 * figure + SNR floor. With NF 6 dB at 125 kHz: SF7 -124.5 ... SF12 -137.0 dBm.
 */
int lg_lora_sensitivity_dbm(int sf, uint32_t bw_hz, double noise_figure_db, double *dbm);

/* Noise floor of a receiver (dBm) in `bw_hz` with the given noise figure. */
double lg_lora_noise_floor_dbm(uint32_t bw_hz, double noise_figure_db);

/* A device's transmit current (mA) at `dbm`: the SX1272 PA_BOOST table LoRaSim and FLoRa
 * use (phy-sim-adr.md §2.1: 14 dBm -> 44 mA, 17 dBm -> 90 mA), clamped to -2..20 dBm. */
double lg_lora_tx_current_ma(double dbm);

/* ---- regional parameters ------------------------------------------------------ */

/*
 * LoRaWAN Regional Parameters RP002-1.0.4 (LoRa Alliance, 2022), one table file per
 * region (src/lora/region_*.c, each citing its RP002 section); docs/regions.md says
 * what was checked against which source and what is not implemented yet.
 */
#define LG_REGION_MAX_DR         16
#define LG_REGION_MAX_TXPOWER    16
#define LG_REGION_MAX_DEFAULT_CH 96
#define LG_REGION_MAX_RX1_OFFSET 8
#define LG_REGION_NA             (-1) /* a payload limit or RX1 DR the region does not allow */

enum lg_modulation { LG_MOD_NONE = 0, LG_MOD_LORA, LG_MOD_FSK, LG_MOD_LR_FHSS };

struct lg_datarate {
  enum lg_modulation mod; /* LG_MOD_NONE: DR not defined (RFU) in this region */
  int sf;                 /* LoRa spreading factor (0 for FSK and LR-FHSS) */
  uint32_t bw_hz;         /* LoRa bandwidth; LR-FHSS: the occupied channel width (OCW) */
  uint32_t bit_rate_bps;  /* indicative PHY bit rate (FSK: the bit rate) */
  int lrfhss_cr_num;      /* LR-FHSS coding rate: 1 (CR1/3) or 2 (CR2/3); 0 otherwise */
  int max_mac_payload;    /* M: MACPayload bytes (FHDR..FRMPayload); LG_REGION_NA: not allowed */
  int max_app_payload;    /* N: FRMPayload bytes when FOpts is empty (M - 8) */
  /* M and N under a 400 ms dwell time (regions with dwell_table only; LG_REGION_NA
   * where the DR may not be used under it). */
  int max_mac_payload_dwell, max_app_payload_dwell;
  bool uplink;   /* usable for uplinks */
  bool downlink; /* usable for downlinks */
};

struct lg_channel {
  uint32_t freq_hz;
  int min_dr, max_dr;
};

/* A regulatory duty-cycle sub-band (EU868: ETSI EN 300 220 as in RP002 §2.4). */
struct lg_subband {
  uint32_t lo_hz, hi_hz; /* [lo, hi] inclusive */
  double duty_cycle;     /* fraction of time a device may transmit, e.g. 0.01 */
  double max_erp_dbm;
};

/* How a Join-Accept's CFList is read in the region (RP002 §2.2.x / TS001 §6.2.4). */
enum lg_cflist_type { LG_CFLIST_FREQUENCIES = 0, LG_CFLIST_CHANNEL_MASK = 1 };

struct lg_region {
  const char *name;                  /* "EU868", "US915", "AS923-1", ... */
  const char *rp002_section;         /* where its tables are, e.g. "RP002-1.0.4 §2.4" */
  uint32_t freq_min_hz, freq_max_hz; /* the band's edges */
  struct lg_datarate dr[LG_REGION_MAX_DR];
  int dr_count;             /* number of entries in dr[] (defined or RFU) */
  int max_lora125_dr;       /* highest 125 kHz LoRa uplink DR, for ADR */
  bool dwell_table;         /* dr[] carries separate payload limits under a 400 ms dwell time */
  int default_max_eirp_dbm; /* max EIRP rounded down to whole dB (see max_eirp_dbm) */
  double max_eirp_dbm;      /* the default max EIRP as RP002 states it, e.g. 12.15 */
  int tx_power_offsets_db[LG_REGION_MAX_TXPOWER]; /* TXPower i: max EIRP + offset[i] */
  int tx_power_step_db;                           /* 2 dB in every region */
  int tx_power_max_index;                         /* highest defined TXPower index */
  struct lg_channel default_ch[LG_REGION_MAX_DEFAULT_CH];
  int default_ch_count;
  /* Fixed channel plans (US915, AU915, CN470): RX1 goes out on
   * rx1_base_hz + rx1_step_hz * (uplink channel mod rx1_channels); 0 channels: RX1
   * on the uplink's frequency. */
  uint32_t rx1_base_hz, rx1_step_hz;
  int rx1_channels;
  /* RX1 DR by uplink DR (rows) and RX1DROffset (columns 0..rx1_dr_offset_max),
   * LG_REGION_NA where undefined; rx1_dr_dwell: the same under DownlinkDwellTime = 1
   * (AS923), all NA elsewhere. */
  int rx1_dr_offset_max;
  int8_t rx1_dr[LG_REGION_MAX_DR][LG_REGION_MAX_RX1_OFFSET];
  bool has_rx1_dr_dwell;
  int8_t rx1_dr_dwell[LG_REGION_MAX_DR][LG_REGION_MAX_RX1_OFFSET];
  uint32_t rx2_freq_hz;
  int rx2_dr;
  int64_t receive_delay1_ns, receive_delay2_ns;
  int64_t join_accept_delay1_ns, join_accept_delay2_ns;
  int adr_ack_limit, adr_ack_delay;
  enum lg_cflist_type cflist_type;
  /* The channel mask a LinkADRReq carries: ChMaskCntl and ChMask that enable the
   * default channels (EU-style plans: ChMaskCntl 0, one bit per default channel;
   * US915/AU915: ChMaskCntl 6 "all 125 kHz on" with the 500 kHz mask; CN470: 6). */
  int link_adr_ch_mask_cntl;
  uint16_t link_adr_ch_mask;
  const char *subband_rules;         /* the fixed-plan sub-band rules in one sentence, or NULL */
  const struct lg_subband *subbands; /* NULL when the region has no duty-cycle rule */
  int subband_count;
  bool uses_dwell_time;    /* a 400 ms dwell-time limit applies (FCC/ACMA/ARIB...) */
  bool listen_before_talk; /* LBT required by the region's regulation (KR920, AS923 JP) */
  bool duty_cycle;         /* a duty-cycle limit applies to end-devices */
  const char *notes;       /* what RP002 says that the tables do not carry, or NULL */
};

/* The region called `name` (case-insensitive; "AS923" is AS923-1), or NULL. */
const struct lg_region *lg_region_find(const char *name);

/* Number of regions, and region `i` (0..count-1) in a fixed order, NULL outside. */
int lg_region_count(void);
const struct lg_region *lg_region_at(int i);

/* The regions' names joined by ", " into buf (for error messages); buf. */
const char *lg_region_names(char *buf, size_t len);

/* `base` with its data rates replaced by the ten Waspmote SX1272 configuration modes of
 * the E-ADR paper's Table I (mode m = data rate m - 1), for reproducing it; the rest
 * (channels, sub-bands, power, windows) is `base`'s. */
void lg_region_waspmote(const struct lg_region *base, struct lg_region *out);

/* The data rate `dr` of `region`, or NULL if undefined (RFU) or out of range. */
const struct lg_datarate *lg_region_dr(const struct lg_region *region, int dr);

/* Data rate index of a LoRa (sf, bw) in `region` (uplink or downlink as asked);
 * LG_ENOTFOUND if the region has none. */
int lg_region_dr_for(const struct lg_region *region, int sf, uint32_t bw_hz, bool uplink, int *dr);

/* EIRP (dBm) of TXPower index `index` (default max EIRP, rounded down, plus the
 * table's offset), LG_EINVAL outside 0..tx_power_max_index. */
int lg_region_tx_power_dbm(const struct lg_region *region, int index, int *eirp_dbm);

/*
 * RX1 downlink data rate for uplink data rate `up_dr` and RX1DROffset `offset`: the
 * region's RX1 table (DownlinkDwellTime = 0). LG_EINVAL when either is out of range or
 * the table has no entry.
 */
int lg_region_rx1_dr(const struct lg_region *region, int up_dr, int offset, int *down_dr);

/* The same under the device's DownlinkDwellTime: with `downlink_dwell` in a region that
 * has a separate table (AS923, RP002-1.0.4 §2.8.7) that table, else lg_region_rx1_dr's. */
int lg_region_rx1_dr_dwell(const struct lg_region *region, int up_dr, int offset,
                           bool downlink_dwell, int *down_dr);

/* The dwell-time limit on one transmission, 400 ms (FCC 47 CFR 15.247 for US915; ARIB
 * STD-T108 / ACMA as RP002-1.0.4 carries them through TxParamSetupReq for AS923, AU915). */
#define LG_DWELL_LIMIT_NS 400000000LL

/*
 * RX1 downlink frequency for an uplink at `up_freq_hz` (EU-style plans: the same
 * frequency; fixed plans: the RX1 channel of the uplink channel). LG_EINVAL for a
 * frequency that is not an uplink channel of a fixed plan.
 */
int lg_region_rx1_freq(const struct lg_region *region, uint32_t up_freq_hz, uint32_t *down_freq_hz);

/* Whether `freq_hz` may carry an uplink in the region: one of a fixed plan's channels,
 * else inside the band's edges. */
bool lg_region_uplink_freq_ok(const struct lg_region *region, uint32_t freq_hz);

/* The duty-cycle sub-band holding `freq_hz`, or NULL (outside every band, or the
 * region has no duty-cycle rule). */
const struct lg_subband *lg_region_subband(const struct lg_region *region, uint32_t freq_hz);

/*
 * Off time (ns) a device must keep on a sub-band after transmitting for
 * `airtime_ns` under duty cycle `dc` (fraction): airtime * (1/dc - 1) — the
 * per-transmission form used by ns-3 (phy-sim-adr.md §1.4). 0 when dc >= 1.
 */
int64_t lg_duty_cycle_off_ns(int64_t airtime_ns, double dc);

#endif
