/* JSON rendering of MAC commands for `lorageo decode` (field names in snake case). */
#include <jansson.h>

#include "cli/cli.h"
#include "lorawan/lorawan.h"

static void add_uplink_fields(json_t *o, const struct lg_mac_cmd *c) {
  switch (c->cid) {
  case LG_MAC_LINK_ADR:
    json_object_set_new(o, "power_ack", json_boolean(c->u.link_adr_ans.power_ack));
    json_object_set_new(o, "dr_ack", json_boolean(c->u.link_adr_ans.dr_ack));
    json_object_set_new(o, "ch_mask_ack", json_boolean(c->u.link_adr_ans.ch_mask_ack));
    break;
  case LG_MAC_RX_PARAM_SETUP:
    json_object_set_new(o, "rx1_dr_offset_ack",
                        json_boolean(c->u.rx_param_setup_ans.rx1_dr_offset_ack));
    json_object_set_new(o, "rx2_dr_ack", json_boolean(c->u.rx_param_setup_ans.rx2_dr_ack));
    json_object_set_new(o, "channel_ack", json_boolean(c->u.rx_param_setup_ans.channel_ack));
    break;
  case LG_MAC_DEV_STATUS:
    json_object_set_new(o, "battery", json_integer(c->u.dev_status_ans.battery));
    json_object_set_new(o, "margin_db", json_integer(c->u.dev_status_ans.margin_db));
    break;
  case LG_MAC_NEW_CHANNEL:
    json_object_set_new(o, "dr_range_ok", json_boolean(c->u.new_channel_ans.dr_range_ok));
    json_object_set_new(o, "channel_freq_ok", json_boolean(c->u.new_channel_ans.channel_freq_ok));
    break;
  case LG_MAC_DL_CHANNEL:
    json_object_set_new(o, "uplink_freq_exists",
                        json_boolean(c->u.dl_channel_ans.uplink_freq_exists));
    json_object_set_new(o, "channel_freq_ok", json_boolean(c->u.dl_channel_ans.channel_freq_ok));
    break;
  case LG_MAC_PING_SLOT_INFO:
    json_object_set_new(o, "periodicity", json_integer(c->u.ping_slot_info_req.periodicity));
    break;
  case LG_MAC_PING_SLOT_CHANNEL:
    json_object_set_new(o, "dr_ok", json_boolean(c->u.ping_slot_channel_ans.dr_ok));
    json_object_set_new(o, "channel_freq_ok",
                        json_boolean(c->u.ping_slot_channel_ans.channel_freq_ok));
    break;
  case LG_MAC_BEACON_FREQ:
    json_object_set_new(o, "beacon_freq_ok", json_boolean(c->u.beacon_freq_ans.beacon_freq_ok));
    break;
  default: break;
  }
}

static void add_downlink_fields(json_t *o, const struct lg_mac_cmd *c) {
  switch (c->cid) {
  case LG_MAC_LINK_CHECK:
    json_object_set_new(o, "margin_db", json_integer(c->u.link_check_ans.margin_db));
    json_object_set_new(o, "gw_cnt", json_integer(c->u.link_check_ans.gw_cnt));
    break;
  case LG_MAC_LINK_ADR:
    json_object_set_new(o, "dr", json_integer(c->u.link_adr_req.dr));
    json_object_set_new(o, "tx_power", json_integer(c->u.link_adr_req.tx_power));
    json_object_set_new(o, "ch_mask", json_integer(c->u.link_adr_req.ch_mask));
    json_object_set_new(o, "ch_mask_cntl", json_integer(c->u.link_adr_req.ch_mask_cntl));
    json_object_set_new(o, "nb_trans", json_integer(c->u.link_adr_req.nb_trans));
    break;
  case LG_MAC_DUTY_CYCLE:
    json_object_set_new(o, "max_duty_cycle", json_integer(c->u.duty_cycle_req.max_duty_cycle));
    break;
  case LG_MAC_RX_PARAM_SETUP:
    json_object_set_new(o, "rx1_dr_offset", json_integer(c->u.rx_param_setup_req.rx1_dr_offset));
    json_object_set_new(o, "rx2_dr", json_integer(c->u.rx_param_setup_req.rx2_dr));
    json_object_set_new(o, "frequency", json_integer(c->u.rx_param_setup_req.freq_hz));
    break;
  case LG_MAC_NEW_CHANNEL:
    json_object_set_new(o, "ch_index", json_integer(c->u.new_channel_req.ch_index));
    json_object_set_new(o, "frequency", json_integer(c->u.new_channel_req.freq_hz));
    json_object_set_new(o, "min_dr", json_integer(c->u.new_channel_req.min_dr));
    json_object_set_new(o, "max_dr", json_integer(c->u.new_channel_req.max_dr));
    break;
  case LG_MAC_RX_TIMING_SETUP:
    json_object_set_new(o, "delay_s", json_integer(c->u.rx_timing_setup_req.delay_s));
    break;
  case LG_MAC_TX_PARAM_SETUP:
    json_object_set_new(o, "downlink_dwell", json_boolean(c->u.tx_param_setup_req.downlink_dwell));
    json_object_set_new(o, "uplink_dwell", json_boolean(c->u.tx_param_setup_req.uplink_dwell));
    json_object_set_new(o, "max_eirp", json_integer(c->u.tx_param_setup_req.max_eirp));
    break;
  case LG_MAC_DL_CHANNEL:
    json_object_set_new(o, "ch_index", json_integer(c->u.dl_channel_req.ch_index));
    json_object_set_new(o, "frequency", json_integer(c->u.dl_channel_req.freq_hz));
    break;
  case LG_MAC_DEVICE_TIME:
    json_object_set_new(o, "gps_seconds", json_integer(c->u.device_time_ans.gps_seconds));
    json_object_set_new(o, "fraction", json_integer(c->u.device_time_ans.fraction));
    break;
  case LG_MAC_PING_SLOT_CHANNEL:
    json_object_set_new(o, "frequency", json_integer(c->u.ping_slot_channel_req.freq_hz));
    json_object_set_new(o, "dr", json_integer(c->u.ping_slot_channel_req.dr));
    break;
  case LG_MAC_BEACON_FREQ:
    json_object_set_new(o, "frequency", json_integer(c->u.beacon_freq_req.freq_hz));
    break;
  default: break;
  }
}

json_t *lg_cli_mac_json(const struct lg_mac_cmd *cmd) {
  json_t *o = json_object();
  json_object_set_new(o, "cid", json_integer(cmd->cid));
  json_object_set_new(o, "name", json_string(lg_mac_name(cmd->cid, cmd->uplink)));
  if (cmd->uplink)
    add_uplink_fields(o, cmd);
  else
    add_downlink_fields(o, cmd);
  return o;
}
