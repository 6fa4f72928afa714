/*
 * Helpers for the region tables (src/lora/region_*.c): one lg_region per file, its
 * numbers from LoRaWAN Regional Parameters RP002-1.0.4 (section cited at each table).
 * Internal to src/lora.
 */
#ifndef LG_REGION_INT_H
#define LG_REGION_INT_H

#include "lora/lora.h"
#include "util/util.h"

#define LG_NA      LG_REGION_NA
#define LG_N_OF(m) ((m) < 0 ? LG_NA : (m)-8)

/* A LoRa data rate with max MACPayload M (N = M - 8) and, for dwell-time regions, M under
 * the 400 ms dwell time (md). */
#define LG_LORA_DW(sf_, bw_, bps_, m_, md_, up_, down_)                                            \
  {                                                                                                \
    .mod = LG_MOD_LORA, .sf = (sf_), .bw_hz = (bw_), .bit_rate_bps = (bps_),                       \
    .max_mac_payload = (m_), .max_app_payload = LG_N_OF(m_), .max_mac_payload_dwell = (md_),       \
    .max_app_payload_dwell = LG_N_OF(md_), .uplink = (up_), .downlink = (down_)                    \
  }
#define LG_LORA(sf_, bw_, bps_, m_, up_, down_) LG_LORA_DW(sf_, bw_, bps_, m_, m_, up_, down_)

#define LG_FSK_DW(bps_, m_, md_)                                                                   \
  {                                                                                                \
    .mod = LG_MOD_FSK, .bit_rate_bps = (bps_), .max_mac_payload = (m_),                            \
    .max_app_payload = LG_N_OF(m_), .max_mac_payload_dwell = (md_),                                \
    .max_app_payload_dwell = LG_N_OF(md_), .uplink = true, .downlink = true                        \
  }
#define LG_FSK(bps_, m_) LG_FSK_DW(bps_, m_, m_)

/* LR-FHSS (uplink only): coding rate cr/3, occupied channel width ocw_hz. */
#define LG_LRFHSS_DW(cr_, ocw_, bps_, m_, md_)                                                     \
  {                                                                                                \
    .mod = LG_MOD_LR_FHSS, .bw_hz = (ocw_), .bit_rate_bps = (bps_), .lrfhss_cr_num = (cr_),        \
    .max_mac_payload = (m_), .max_app_payload = LG_N_OF(m_), .max_mac_payload_dwell = (md_),       \
    .max_app_payload_dwell = LG_N_OF(md_), .uplink = true, .downlink = false                       \
  }
#define LG_LRFHSS(cr_, ocw_, bps_, m_) LG_LRFHSS_DW(cr_, ocw_, bps_, m_, m_)

#define LG_RFU                                                                                     \
  { .mod = LG_MOD_NONE }

/* LoRaWAN default timings (RP002-1.0.4 §2.3 "Default Settings", the same in every region):
 * RECEIVE_DELAY1 1 s, RECEIVE_DELAY2 2 s, JOIN_ACCEPT_DELAY1 5 s, JOIN_ACCEPT_DELAY2 6 s,
 * ADR_ACK_LIMIT 64, ADR_ACK_DELAY 32. */
#define LG_REGION_DEFAULT_TIMING                                                                   \
  .receive_delay1_ns = 1000000000LL, .receive_delay2_ns = 2000000000LL,                            \
  .join_accept_delay1_ns = 5000000000LL, .join_accept_delay2_ns = 6000000000LL,                    \
  .adr_ack_limit = 64, .adr_ack_delay = 32

/* TXPower i -> max EIRP - 2i dB for i = 0..n-1 (the table every region uses). */
#define LG_TXP_2DB                                                                                 \
  { 0, -2, -4, -6, -8, -10, -12, -14, -16, -18, -20, -22, -24, -26, -28, -30 }

extern const struct lg_region lg_region_eu868, lg_region_us915, lg_region_au915, lg_region_as923_1,
    lg_region_as923_2, lg_region_as923_3, lg_region_as923_4, lg_region_kr920, lg_region_in865,
    lg_region_ru864, lg_region_eu433, lg_region_cn470;

#endif
