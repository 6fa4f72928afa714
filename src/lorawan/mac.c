/*
 * MAC commands of LoRaWAN 1.0.4 (§5, Table 4 "MAC commands"), both directions.
 *
 * A CID means a request or an answer depending on the direction; its payload length
 * is fixed per (CID, direction). The parser never guesses: a CID that 1.0.4 does not
 * define in that direction (the 1.1-only commands, 0x12 which 1.0.3 deprecated, and
 * proprietary 0x80..0xFF) has no known length, so parsing stops there and the caller
 * is told where.
 */
#include <string.h>

#include "lorawan/lorawan.h"
#include "util/util.h"

struct mac_def {
  uint8_t cid;
  const char *up_name; /* the end-device's command: Req for 0x02/0x0D, else Ans */
  int up_len;
  const char *down_name;
  int down_len;
};

static const struct mac_def mac_defs[] = {
    {LG_MAC_LINK_CHECK, "LinkCheckReq", 0, "LinkCheckAns", 2},
    {LG_MAC_LINK_ADR, "LinkADRAns", 1, "LinkADRReq", 4},
    {LG_MAC_DUTY_CYCLE, "DutyCycleAns", 0, "DutyCycleReq", 1},
    {LG_MAC_RX_PARAM_SETUP, "RXParamSetupAns", 1, "RXParamSetupReq", 4},
    {LG_MAC_DEV_STATUS, "DevStatusAns", 2, "DevStatusReq", 0},
    {LG_MAC_NEW_CHANNEL, "NewChannelAns", 1, "NewChannelReq", 5},
    {LG_MAC_RX_TIMING_SETUP, "RXTimingSetupAns", 0, "RXTimingSetupReq", 1},
    {LG_MAC_TX_PARAM_SETUP, "TxParamSetupAns", 0, "TxParamSetupReq", 1},
    {LG_MAC_DL_CHANNEL, "DlChannelAns", 1, "DlChannelReq", 4},
    {LG_MAC_DEVICE_TIME, "DeviceTimeReq", 0, "DeviceTimeAns", 5},
    {LG_MAC_PING_SLOT_INFO, "PingSlotInfoReq", 1, "PingSlotInfoAns", 0},
    {LG_MAC_PING_SLOT_CHANNEL, "PingSlotChannelAns", 1, "PingSlotChannelReq", 4},
    {LG_MAC_BEACON_FREQ, "BeaconFreqAns", 1, "BeaconFreqReq", 3},
    {LG_MAC_DEVICE_MODE, "DeviceModeInd", 1, "DeviceModeConf", 1},
};

static const struct mac_def *find_def(uint8_t cid) {
  for (size_t i = 0; i < LG_ARRAY_LEN(mac_defs); i++)
    if (mac_defs[i].cid == cid) return &mac_defs[i];
  return NULL;
}

const char *lg_mac_name(uint8_t cid, bool uplink) {
  const struct mac_def *d = find_def(cid);
  if (d == NULL) return NULL;
  return uplink ? d->up_name : d->down_name;
}

int lg_mac_payload_len(uint8_t cid, bool uplink) {
  const struct mac_def *d = find_def(cid);
  if (d == NULL) return -1;
  return uplink ? d->up_len : d->down_len;
}

/* Frequencies travel as 24-bit multiples of 100 Hz (1.0.4 §5.5). */
static uint32_t get_freq(const uint8_t *p) {
  return lg_get_le24(p) * 100u;
}

static int put_freq(uint8_t *p, uint32_t freq_hz) {
  if (freq_hz % 100 != 0 || freq_hz / 100 > 0xffffff) return LG_EINVAL;
  lg_put_le24(p, freq_hz / 100);
  return 0;
}

static bool bit(uint8_t v, int n) {
  return (v >> n) & 1;
}

/* Fills c->u from the payload p of a known command. */
static void parse_payload(struct lg_mac_cmd *c, const uint8_t *p) {
  if (c->uplink) {
    switch (c->cid) {
    case LG_MAC_LINK_ADR:
      c->u.link_adr_ans.power_ack = bit(p[0], 2);
      c->u.link_adr_ans.dr_ack = bit(p[0], 1);
      c->u.link_adr_ans.ch_mask_ack = bit(p[0], 0);
      break;
    case LG_MAC_RX_PARAM_SETUP:
      c->u.rx_param_setup_ans.rx1_dr_offset_ack = bit(p[0], 2);
      c->u.rx_param_setup_ans.rx2_dr_ack = bit(p[0], 1);
      c->u.rx_param_setup_ans.channel_ack = bit(p[0], 0);
      break;
    case LG_MAC_DEV_STATUS: {
      c->u.dev_status_ans.battery = p[0];
      int m = p[1] & 0x3f; /* 6-bit two's complement */
      c->u.dev_status_ans.margin_db = (int8_t)(m >= 32 ? m - 64 : m);
      break;
    }
    case LG_MAC_NEW_CHANNEL:
      c->u.new_channel_ans.dr_range_ok = bit(p[0], 1);
      c->u.new_channel_ans.channel_freq_ok = bit(p[0], 0);
      break;
    case LG_MAC_DL_CHANNEL:
      c->u.dl_channel_ans.uplink_freq_exists = bit(p[0], 1);
      c->u.dl_channel_ans.channel_freq_ok = bit(p[0], 0);
      break;
    case LG_MAC_PING_SLOT_INFO: c->u.ping_slot_info_req.periodicity = p[0] & 0x07; break;
    case LG_MAC_PING_SLOT_CHANNEL:
      c->u.ping_slot_channel_ans.dr_ok = bit(p[0], 1);
      c->u.ping_slot_channel_ans.channel_freq_ok = bit(p[0], 0);
      break;
    case LG_MAC_BEACON_FREQ: c->u.beacon_freq_ans.beacon_freq_ok = bit(p[0], 0); break;
    case LG_MAC_DEVICE_MODE: c->u.device_mode.device_class = p[0]; break;
    default: break; /* no payload */
    }
    return;
  }
  switch (c->cid) {
  case LG_MAC_LINK_CHECK:
    c->u.link_check_ans.margin_db = p[0];
    c->u.link_check_ans.gw_cnt = p[1];
    break;
  case LG_MAC_LINK_ADR:
    c->u.link_adr_req.dr = p[0] >> 4;
    c->u.link_adr_req.tx_power = p[0] & 0x0f;
    c->u.link_adr_req.ch_mask = lg_get_le16(p + 1);
    c->u.link_adr_req.ch_mask_cntl = (p[3] >> 4) & 0x07;
    c->u.link_adr_req.nb_trans = p[3] & 0x0f;
    break;
  case LG_MAC_DUTY_CYCLE: c->u.duty_cycle_req.max_duty_cycle = p[0] & 0x0f; break;
  case LG_MAC_RX_PARAM_SETUP:
    c->u.rx_param_setup_req.rx1_dr_offset = (p[0] >> 4) & 0x07;
    c->u.rx_param_setup_req.rx2_dr = p[0] & 0x0f;
    c->u.rx_param_setup_req.freq_hz = get_freq(p + 1);
    break;
  case LG_MAC_NEW_CHANNEL:
    c->u.new_channel_req.ch_index = p[0];
    c->u.new_channel_req.freq_hz = get_freq(p + 1);
    c->u.new_channel_req.max_dr = p[4] >> 4;
    c->u.new_channel_req.min_dr = p[4] & 0x0f;
    break;
  case LG_MAC_RX_TIMING_SETUP: c->u.rx_timing_setup_req.delay_s = p[0] & 0x0f; break;
  case LG_MAC_TX_PARAM_SETUP:
    c->u.tx_param_setup_req.downlink_dwell = bit(p[0], 5);
    c->u.tx_param_setup_req.uplink_dwell = bit(p[0], 4);
    c->u.tx_param_setup_req.max_eirp = p[0] & 0x0f;
    break;
  case LG_MAC_DL_CHANNEL:
    c->u.dl_channel_req.ch_index = p[0];
    c->u.dl_channel_req.freq_hz = get_freq(p + 1);
    break;
  case LG_MAC_DEVICE_TIME:
    c->u.device_time_ans.gps_seconds = lg_get_le32(p);
    c->u.device_time_ans.fraction = p[4];
    break;
  case LG_MAC_PING_SLOT_CHANNEL:
    c->u.ping_slot_channel_req.freq_hz = get_freq(p);
    c->u.ping_slot_channel_req.dr = p[3] & 0x0f;
    break;
  case LG_MAC_BEACON_FREQ: c->u.beacon_freq_req.freq_hz = get_freq(p); break;
  case LG_MAC_DEVICE_MODE: c->u.device_mode.device_class = p[0]; break;
  default: break; /* no payload */
  }
}

int lg_mac_parse(const uint8_t *buf, size_t len, bool uplink, struct lg_mac_cmd *out, size_t cap,
                 size_t *count, size_t *bad_offset) {
  size_t pos = 0, n = 0;
  *count = 0;
  *bad_offset = 0;
  while (pos < len) {
    int plen = lg_mac_payload_len(buf[pos], uplink);
    if (plen < 0) {
      *bad_offset = pos;
      return LG_EUNKNOWN;
    }
    if (pos + 1 + (size_t)plen > len) {
      *bad_offset = pos;
      return LG_ETRUNC;
    }
    if (n == cap) {
      *bad_offset = pos;
      return LG_ENOSPC;
    }
    struct lg_mac_cmd *c = &out[n];
    memset(c, 0, sizeof(*c));
    c->cid = buf[pos];
    c->uplink = uplink;
    parse_payload(c, buf + pos + 1);
    pos += 1 + (size_t)plen;
    *count = ++n;
  }
  return 0;
}

static uint8_t bits3(bool b2, bool b1, bool b0) {
  return (uint8_t)((b2 ? 4 : 0) | (b1 ? 2 : 0) | (b0 ? 1 : 0));
}

/* Writes the payload of a known uplink command; returns 0 or LG_EINVAL. */
static int write_up(const struct lg_mac_cmd *c, uint8_t *p) {
  switch (c->cid) {
  case LG_MAC_LINK_ADR:
    p[0] =
        bits3(c->u.link_adr_ans.power_ack, c->u.link_adr_ans.dr_ack, c->u.link_adr_ans.ch_mask_ack);
    break;
  case LG_MAC_RX_PARAM_SETUP:
    p[0] = bits3(c->u.rx_param_setup_ans.rx1_dr_offset_ack, c->u.rx_param_setup_ans.rx2_dr_ack,
                 c->u.rx_param_setup_ans.channel_ack);
    break;
  case LG_MAC_DEV_STATUS:
    if (c->u.dev_status_ans.margin_db < -32 || c->u.dev_status_ans.margin_db > 31) return LG_EINVAL;
    p[0] = c->u.dev_status_ans.battery;
    p[1] = (uint8_t)(c->u.dev_status_ans.margin_db & 0x3f);
    break;
  case LG_MAC_NEW_CHANNEL:
    p[0] = bits3(false, c->u.new_channel_ans.dr_range_ok, c->u.new_channel_ans.channel_freq_ok);
    break;
  case LG_MAC_DL_CHANNEL:
    p[0] =
        bits3(false, c->u.dl_channel_ans.uplink_freq_exists, c->u.dl_channel_ans.channel_freq_ok);
    break;
  case LG_MAC_PING_SLOT_INFO:
    if (c->u.ping_slot_info_req.periodicity > 7) return LG_EINVAL;
    p[0] = c->u.ping_slot_info_req.periodicity;
    break;
  case LG_MAC_PING_SLOT_CHANNEL:
    p[0] =
        bits3(false, c->u.ping_slot_channel_ans.dr_ok, c->u.ping_slot_channel_ans.channel_freq_ok);
    break;
  case LG_MAC_BEACON_FREQ: p[0] = bits3(false, false, c->u.beacon_freq_ans.beacon_freq_ok); break;
  case LG_MAC_DEVICE_MODE: p[0] = c->u.device_mode.device_class; break;
  default: break;
  }
  return 0;
}

static int write_down(const struct lg_mac_cmd *c, uint8_t *p) {
  switch (c->cid) {
  case LG_MAC_LINK_CHECK:
    p[0] = c->u.link_check_ans.margin_db;
    p[1] = c->u.link_check_ans.gw_cnt;
    return 0;
  case LG_MAC_LINK_ADR: {
    uint8_t dr = c->u.link_adr_req.dr, power = c->u.link_adr_req.tx_power;
    uint8_t cntl = c->u.link_adr_req.ch_mask_cntl, nb_trans = c->u.link_adr_req.nb_trans;
    if (dr > 15 || power > 15 || cntl > 7 || nb_trans > 15) return LG_EINVAL;
    p[0] = (uint8_t)((dr << 4) | power);
    lg_put_le16(p + 1, c->u.link_adr_req.ch_mask);
    p[3] = (uint8_t)((cntl << 4) | nb_trans);
    return 0;
  }
  case LG_MAC_DUTY_CYCLE:
    if (c->u.duty_cycle_req.max_duty_cycle > 15) return LG_EINVAL;
    p[0] = c->u.duty_cycle_req.max_duty_cycle;
    return 0;
  case LG_MAC_RX_PARAM_SETUP:
    if (c->u.rx_param_setup_req.rx1_dr_offset > 7 || c->u.rx_param_setup_req.rx2_dr > 15)
      return LG_EINVAL;
    p[0] = (uint8_t)((c->u.rx_param_setup_req.rx1_dr_offset << 4) | c->u.rx_param_setup_req.rx2_dr);
    return put_freq(p + 1, c->u.rx_param_setup_req.freq_hz);
  case LG_MAC_NEW_CHANNEL:
    if (c->u.new_channel_req.min_dr > 15 || c->u.new_channel_req.max_dr > 15) return LG_EINVAL;
    p[0] = c->u.new_channel_req.ch_index;
    p[4] = (uint8_t)((c->u.new_channel_req.max_dr << 4) | c->u.new_channel_req.min_dr);
    return put_freq(p + 1, c->u.new_channel_req.freq_hz);
  case LG_MAC_RX_TIMING_SETUP:
    if (c->u.rx_timing_setup_req.delay_s > 15) return LG_EINVAL;
    p[0] = c->u.rx_timing_setup_req.delay_s;
    return 0;
  case LG_MAC_TX_PARAM_SETUP:
    if (c->u.tx_param_setup_req.max_eirp > 15) return LG_EINVAL;
    p[0] = (uint8_t)((c->u.tx_param_setup_req.downlink_dwell ? 0x20 : 0) |
                     (c->u.tx_param_setup_req.uplink_dwell ? 0x10 : 0) |
                     c->u.tx_param_setup_req.max_eirp);
    return 0;
  case LG_MAC_DL_CHANNEL:
    p[0] = c->u.dl_channel_req.ch_index;
    return put_freq(p + 1, c->u.dl_channel_req.freq_hz);
  case LG_MAC_DEVICE_TIME:
    lg_put_le32(p, c->u.device_time_ans.gps_seconds);
    p[4] = c->u.device_time_ans.fraction;
    return 0;
  case LG_MAC_PING_SLOT_CHANNEL:
    if (c->u.ping_slot_channel_req.dr > 15) return LG_EINVAL;
    p[3] = c->u.ping_slot_channel_req.dr;
    return put_freq(p, c->u.ping_slot_channel_req.freq_hz);
  case LG_MAC_BEACON_FREQ: return put_freq(p, c->u.beacon_freq_req.freq_hz);
  case LG_MAC_DEVICE_MODE: p[0] = c->u.device_mode.device_class; return 0;
  default: return 0;
  }
}

int lg_mac_encode(const struct lg_mac_cmd *cmd, uint8_t *out, size_t cap, size_t *len) {
  int plen = lg_mac_payload_len(cmd->cid, cmd->uplink);
  if (plen < 0) return LG_EUNKNOWN;
  if (*len + 1 + (size_t)plen > cap) return LG_ENOSPC;
  uint8_t *p = out + *len;
  memset(p, 0, 1 + (size_t)plen);
  p[0] = cmd->cid;
  int err = cmd->uplink ? write_up(cmd, p + 1) : write_down(cmd, p + 1);
  if (err) return err;
  *len += 1 + (size_t)plen;
  return 0;
}
