/*
 * `lorageo region [NAME]`
 * Without NAME: one JSON object per line, {"name": .., "rp002_section": ..}, one per region.
 * With NAME: the region's parameters (RP002-1.0.4) as one JSON object; exit 2 for a name
 * that is no region. Keys: docs/regions.md.
 */
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "lora/lora.h"

static const char usage[] =
    "usage: lorageo region [NAME]\n"
    "\n"
    "LoRaWAN regional parameters (RP002-1.0.4). Without NAME: the regions, one JSON object\n"
    "per line ({\"name\": ..}); with NAME (e.g. EU868, AS923-2): that region as one JSON\n"
    "object: channels, data rates with their payload limits, RX1/RX2, TX power, CFList.\n"
    "  -h, --help     this text\n";

static json_t *payload(int v) {
  return v < 0 ? json_null() : json_integer(v);
}

static const char *mod_name(enum lg_modulation m) {
  switch (m) {
  case LG_MOD_LORA: return "LORA";
  case LG_MOD_FSK: return "FSK";
  case LG_MOD_LR_FHSS: return "LR-FHSS";
  default: return "RFU";
  }
}

static json_t *data_rate(const struct lg_region *r, int i, const struct lg_datarate *d) {
  json_t *o = json_object();
  json_object_set_new(o, "dr", json_integer(i));
  json_object_set_new(o, "modulation", json_string(mod_name(d->mod)));
  json_object_set_new(o, "sf", d->mod == LG_MOD_LORA ? json_integer(d->sf) : json_null());
  json_object_set_new(o, "bw_khz",
                      d->mod == LG_MOD_FSK ? json_null() : json_real(d->bw_hz / 1000.0));
  json_object_set_new(o, "bitrate_bps", json_integer(d->bit_rate_bps));
  if (d->mod == LG_MOD_LR_FHSS) {
    char cr[8];
    snprintf(cr, sizeof(cr), "%d/3", d->lrfhss_cr_num);
    json_object_set_new(o, "coding_rate", json_string(cr));
  }
  json_object_set_new(o, "max_mac_payload", payload(d->max_mac_payload));
  json_object_set_new(o, "max_app_payload", payload(d->max_app_payload));
  if (r->dwell_table) {
    json_object_set_new(o, "max_mac_payload_dwell", payload(d->max_mac_payload_dwell));
    json_object_set_new(o, "max_app_payload_dwell", payload(d->max_app_payload_dwell));
  }
  json_object_set_new(o, "uplink", json_boolean(d->uplink));
  json_object_set_new(o, "downlink", json_boolean(d->downlink));
  return o;
}

/* One row per uplink DR: {"uplink_dr": i, "rx1_dr": [per RX1DROffset]}. */
static json_t *rx1_table(const struct lg_region *r, const int8_t t[][LG_REGION_MAX_RX1_OFFSET]) {
  json_t *rows = json_array();
  for (int i = 0; i < r->dr_count; i++) {
    const struct lg_datarate *d = lg_region_dr(r, i);
    if (d == NULL || !d->uplink) continue;
    json_t *cols = json_array();
    for (int o = 0; o <= r->rx1_dr_offset_max && o < LG_REGION_MAX_RX1_OFFSET; o++)
      json_array_append_new(cols, t[i][o] < 0 ? json_null() : json_integer(t[i][o]));
    json_array_append_new(rows, json_pack("{s:i, s:o}", "uplink_dr", i, "rx1_dr", cols));
  }
  return rows;
}

static json_t *region_json(const struct lg_region *r) {
  json_t *o = json_object();
  json_object_set_new(o, "name", json_string(r->name));
  json_object_set_new(o, "rp002_section", json_string(r->rp002_section));
  json_object_set_new(o, "frequency_range_hz",
                      json_pack("[I, I]", (json_int_t)r->freq_min_hz, (json_int_t)r->freq_max_hz));
  json_t *ch = json_array(), *chs = json_array();
  for (int i = 0; i < r->default_ch_count; i++) {
    json_array_append_new(ch, json_integer(r->default_ch[i].freq_hz));
    json_array_append_new(
        chs, json_pack("{s:I, s:i, s:i}", "frequency_hz", (json_int_t)r->default_ch[i].freq_hz,
                       "min_dr", r->default_ch[i].min_dr, "max_dr", r->default_ch[i].max_dr));
  }
  json_object_set_new(o, "default_channels_hz", ch);
  json_object_set_new(o, "default_channels", chs);
  json_t *drs = json_array(), *up = json_array(), *down = json_array();
  for (int i = 0; i < r->dr_count; i++) {
    const struct lg_datarate *d = lg_region_dr(r, i);
    if (d == NULL) continue;
    json_array_append_new(drs, data_rate(r, i, d));
    if (d->uplink) json_array_append_new(up, json_integer(i));
    if (d->downlink) json_array_append_new(down, json_integer(i));
  }
  json_object_set_new(o, "data_rates", drs);
  json_object_set_new(o, "uplink_drs", up);
  json_object_set_new(o, "downlink_drs", down);
  json_object_set_new(o, "dwell_time_payloads", json_boolean(r->dwell_table));
  json_object_set_new(o, "rx1_dr_offsets", json_integer(r->rx1_dr_offset_max + 1));
  json_object_set_new(o, "rx1_dr", rx1_table(r, r->rx1_dr));
  if (r->has_rx1_dr_dwell) json_object_set_new(o, "rx1_dr_dwell", rx1_table(r, r->rx1_dr_dwell));
  if (r->rx1_channels > 0)
    json_object_set_new(o, "rx1_channels",
                        json_pack("{s:I, s:I, s:i}", "base_hz", (json_int_t)r->rx1_base_hz,
                                  "step_hz", (json_int_t)r->rx1_step_hz, "count", r->rx1_channels));
  else
    json_object_set_new(o, "rx1_channels", json_string("uplink"));
  json_object_set_new(
      o, "rx2",
      json_pack("{s:I, s:i}", "frequency_hz", (json_int_t)r->rx2_freq_hz, "dr", r->rx2_dr));
  json_object_set_new(o, "max_eirp_dbm", json_real(r->max_eirp_dbm));
  json_t *txp = json_array();
  for (int i = 0; i <= r->tx_power_max_index; i++)
    json_array_append_new(txp, json_integer(r->tx_power_offsets_db[i]));
  json_object_set_new(o, "tx_power_offsets_db", txp);
  json_object_set_new(o, "receive_delay1_s", json_integer(r->receive_delay1_ns / 1000000000LL));
  json_object_set_new(o, "receive_delay2_s", json_integer(r->receive_delay2_ns / 1000000000LL));
  json_object_set_new(o, "join_accept_delay1_s",
                      json_integer(r->join_accept_delay1_ns / 1000000000LL));
  json_object_set_new(o, "join_accept_delay2_s",
                      json_integer(r->join_accept_delay2_ns / 1000000000LL));
  json_object_set_new(o, "adr_ack_limit", json_integer(r->adr_ack_limit));
  json_object_set_new(o, "adr_ack_delay", json_integer(r->adr_ack_delay));
  json_object_set_new(
      o, "cflist_type",
      json_string(r->cflist_type == LG_CFLIST_CHANNEL_MASK ? "channel_mask" : "frequencies"));
  json_object_set_new(o, "link_adr_ch_mask",
                      json_pack("{s:i, s:i}", "ch_mask_cntl", r->link_adr_ch_mask_cntl, "ch_mask",
                                (int)r->link_adr_ch_mask));
  if (r->subband_rules) {
    /* Fixed plans: groups of eight 125 kHz channels (US915/AU915: plus their 500 kHz one). */
    json_t *sb = json_array();
    int n125 = 0;
    for (int i = 0; i < r->default_ch_count; i++)
      if (r->default_ch[i].max_dr <= r->max_lora125_dr) n125++;
    for (int k = 0; k * 8 < n125; k++) {
      json_t *g = json_array();
      for (int i = k * 8; i < k * 8 + 8 && i < n125; i++)
        json_array_append_new(g, json_integer(r->default_ch[i].freq_hz));
      json_t *s = json_pack("{s:i, s:o}", "sub_band", k + 1, "channels_hz", g);
      if (n125 + k < r->default_ch_count)
        json_object_set_new(s, "channel_500khz_hz", json_integer(r->default_ch[n125 + k].freq_hz));
      json_array_append_new(sb, s);
    }
    json_object_set_new(o, "sub_bands", sb);
    json_object_set_new(o, "sub_band_rules", json_string(r->subband_rules));
  }
  json_t *dc = json_array();
  for (int i = 0; i < r->subband_count; i++)
    json_array_append_new(
        dc, json_pack("{s:[I, I], s:f, s:f}", "range_hz", (json_int_t)r->subbands[i].lo_hz,
                      (json_int_t)r->subbands[i].hi_hz, "duty_cycle", r->subbands[i].duty_cycle,
                      "max_erp_dbm", r->subbands[i].max_erp_dbm));
  json_object_set_new(o, "duty_cycle_bands", dc);
  json_object_set_new(o, "duty_cycle", json_boolean(r->duty_cycle));
  json_object_set_new(o, "dwell_time", json_boolean(r->uses_dwell_time));
  json_object_set_new(o, "dwell_time_ms", r->uses_dwell_time ? json_integer(400) : json_null());
  json_object_set_new(o, "listen_before_talk", json_boolean(r->listen_before_talk));
  json_object_set_new(o, "notes", r->notes ? json_string(r->notes) : json_null());
  return o;
}

int lg_cmd_region(int argc, char **argv) {
  static const struct option opts[] = {
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'h': fputs(usage, stdout); return 0;
    default: return lg_cli_bad_option("region", c, argv);
    }
  }
  if (argc - optind > 1) return lg_cli_fail("region", 2, "expected at most one region NAME");
  if (optind == argc) {
    for (int i = 0; i < lg_region_count(); i++) {
      const struct lg_region *r = lg_region_at(i);
      json_t *o = json_pack("{s:s, s:s}", "name", r->name, "rp002_section", r->rp002_section);
      if (lg_cli_print_json(stdout, o)) return lg_cli_fail("region", 1, "cannot write output");
    }
    return 0;
  }
  const struct lg_region *r = lg_region_find(argv[optind]);
  if (r == NULL) {
    char names[256];
    return lg_cli_fail("region", 2, "unknown region '%s': expected one of %s", argv[optind],
                       lg_region_names(names, sizeof(names)));
  }
  return lg_cli_print_json(stdout, region_json(r)) ? lg_cli_fail("region", 1, "cannot write output")
                                                   : 0;
}
