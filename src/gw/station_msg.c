/*
 * LoRa Basics Station's LNS protocol, the messages only (gw.h "LoRa Basics Station"):
 * parsing what a station sends on its traffic connection (version, updf, jreq, propdf,
 * dntxed, timesync) and building what the server sends (router_config, dnmsg, timesync,
 * the router-info answer). Sockets live in ns/station.c.
 *
 * A station does not forward the PHYPayload of a data or join frame: it sends the frame's
 * fields (MHdr, DevAddr, FCtrl, FCnt, FOpts, FPort, FRMPayload, MIC; or JoinEui, DevEui,
 * DevNonce), which are put back together here byte for byte (LoRaWAN 1.0.4 §4), so the
 * MIC is checked over exactly what was on air. Its receive time is `gpstime` (µs of GPS
 * time, 0 without GPS) plus `fts` (ns since the PPS, -1 without a fine timestamp): they
 * become the same `tmms` + `ftime` a Semtech UDP gateway reports, the second taken from
 * gpstime and corrected when gpstime and fts straddle a second boundary. Sources:
 * lorabasics/basicstation docs ("The LNS Protocol", "Glossary": xtime, rctx, ID6).
 */
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gw/gw.h"
#include "lora/lora.h"
#include "util/util.h"

/* o[key] as an integer in [lo, hi] into *out; false (and *out untouched) otherwise. */
static bool json_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out) {
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v)) return false;
  int64_t x = (int64_t)json_integer_value(v);
  if (x < lo || x > hi) return false;
  *out = x;
  return true;
}

/* o[key] as a number (integer or real) in [lo, hi]; false otherwise. */
static bool json_num(json_t *o, const char *key, double lo, double hi, double *out) {
  json_t *v = json_object_get(o, key);
  if (!json_is_number(v)) return false;
  double x = json_number_value(v);
  if (!(x >= lo && x <= hi)) return false;
  *out = x;
  return true;
}

#define SEC_NS 1000000000LL

/* ---- EUIs ----------------------------------------------------------------------- */

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* ID6: four groups of up to 4 hex digits separated by ':', "::" standing for zero groups
 * (at most once), as IPv6 writes addresses. */
static int parse_id6(const char *s, size_t len, uint64_t *eui) {
  uint16_t left[4], right[4];
  int nl = 0, nr = 0;
  bool gap = false;
  size_t i = 0;
  if (len >= 2 && s[0] == ':' && s[1] == ':') gap = true, i = 2;
  while (i < len) {
    uint32_t g = 0;
    size_t start = i;
    while (i < len && hexval(s[i]) >= 0 && i - start < 5)
      g = g * 16 + (uint32_t)hexval(s[i++]);
    if (i == start || i - start > 4) return LG_EINVAL;
    if ((gap ? nr : nl) == 4) return LG_EINVAL;
    if (gap)
      right[nr++] = (uint16_t)g;
    else
      left[nl++] = (uint16_t)g;
    if (i == len) break;
    if (s[i] != ':') return LG_EINVAL;
    i++;
    if (i < len && s[i] == ':') {
      if (gap) return LG_EINVAL;
      gap = true;
      i++;
    } else if (i == len) {
      return LG_EINVAL; /* a trailing single ':' */
    }
  }
  if (nl + nr > 4 || (!gap && nl != 4) || (gap && nl + nr == 4)) return LG_EINVAL;
  uint16_t g[4] = {0, 0, 0, 0};
  for (int k = 0; k < nl; k++)
    g[k] = left[k];
  for (int k = 0; k < nr; k++)
    g[4 - nr + k] = right[k];
  *eui = (uint64_t)g[0] << 48 | (uint64_t)g[1] << 32 | (uint64_t)g[2] << 16 | g[3];
  return 0;
}

int lg_station_parse_eui(const char *s, size_t len, uint64_t *eui) {
  if (len == 16 || len == 23) { /* 0123456789abcdef or 01-23-45-67-89-ab-cd-ef */
    uint64_t v = 0;
    size_t step = len == 16 ? 2 : 3;
    for (size_t i = 0; i < len; i += step) {
      int a = hexval(s[i]), b = hexval(s[i + 1]);
      if (a < 0 || b < 0 || (step == 3 && i + 2 < len && s[i + 2] != '-')) goto id6;
      v = v << 8 | (uint64_t)(a << 4 | b);
    }
    *eui = v;
    return 0;
  }
id6:
  return memchr(s, ':', len) ? parse_id6(s, len, eui) : LG_EINVAL;
}

static void eui_dashed(uint64_t eui, char out[24]) {
  for (int i = 0; i < 8; i++)
    snprintf(out + 3 * i, 4, i < 7 ? "%02X-" : "%02X", (unsigned)(eui >> (56 - 8 * i)) & 0xff);
}

/* ---- parsing -------------------------------------------------------------------- */

static bool get_hex(json_t *o, const char *key, uint8_t *out, size_t cap, size_t *n) {
  json_t *v = json_object_get(o, key);
  if (!json_is_string(v)) return false;
  return lg_hex_decode(json_string_value(v), json_string_length(v), out, cap, n) == 0;
}

static bool get_eui(json_t *o, const char *key, uint64_t *eui) {
  json_t *v = json_object_get(o, key);
  return json_is_string(v) &&
         lg_station_parse_eui(json_string_value(v), json_string_length(v), eui) == 0;
}

/*
 * upinfo's timing: tmst/xtime/rctx for downlinks, and the receive time as the UDP path
 * keeps it. With gpstime and fts: the GPS second holding the fine timestamp (gpstime's
 * second, one less or one more when fts is more than half a second away from gpstime's
 * fraction: the two sides of a PPS edge) becomes tmms, fts the ftime, and `time` the same
 * instant in UTC with 9 digits. With gpstime alone: tmms, and `time` with 6 digits (µs:
 * what a GPS gateway without fine timestamps gives). Without GPS: `rxtime`, the station's
 * own clock, with 3 digits (not a TDOA time).
 */
static const char *parse_upinfo(json_t *u, struct lg_gw_rxpk *r) {
  if (!json_is_object(u)) return "missing \"upinfo\" object";
  int64_t gpstime_us = 0, fts = -1;
  if (!json_int(u, "xtime", 0, INT64_MAX, &r->xtime)) return "upinfo: missing or bad \"xtime\"";
  r->has_xtime = true;
  if (!json_int(u, "rctx", INT64_MIN, INT64_MAX, &r->rctx)) r->rctx = 0;
  r->has_tmst = true;
  r->tmst = (uint32_t)r->xtime; /* the µs counter's low 32 bits */
  if (json_object_get(u, "gpstime") && !json_int(u, "gpstime", 0, 7000000000000000LL, &gpstime_us))
    return "upinfo: bad \"gpstime\"";
  if (json_object_get(u, "fts") && !json_int(u, "fts", -1, 999999999, &fts))
    return "upinfo: bad \"fts\" (-1 or 0..999999999 ns)";
  r->has_rssi = json_num(u, "rssi", -200, 50, &r->rssi_dbm);
  r->has_snr = json_num(u, "snr", -50, 50, &r->snr_db);
  if (gpstime_us > 0) {
    int64_t gps_ns = gpstime_us * 1000, sec = gps_ns / SEC_NS, at_ns = gps_ns;
    if (fts >= 0) {
      int64_t d = fts - gps_ns % SEC_NS;
      if (d > SEC_NS / 2) sec--;
      if (d < -SEC_NS / 2) sec++;
      at_ns = sec * SEC_NS + fts;
      r->has_ftime = true;
      r->ftime_ns = fts;
    }
    r->has_tmms = true;
    r->tmms_ms = at_ns / 1000000;
    r->has_time = true;
    r->time_ns = lg_gw_gps_to_unix_ns(at_ns);
    r->time_digits = fts >= 0 ? 9 : 6;
  } else {
    double rxtime = 0;
    if (json_num(u, "rxtime", 1e9, 7e9, &rxtime)) {
      r->has_time = true;
      r->time_ns = (int64_t)llround(rxtime * 1e3) * 1000000; /* ms: a host clock */
      r->time_digits = 3;
    }
  }
  return NULL;
}

/* DR and Freq: the region's LoRa uplink data rate and the frequency in Hz. */
static const char *parse_radio(json_t *o, const struct lg_region *region, struct lg_gw_rxpk *r,
                               int *dr_out) {
  int64_t dr, freq;
  if (!json_int(o, "DR", 0, 15, &dr)) return "missing or bad \"DR\" (0..15)";
  if (!json_int(o, "Freq", 100000000, 3000000000LL, &freq)) return "missing or bad \"Freq\" (Hz)";
  const struct lg_datarate *d = lg_region_dr(region, (int)dr);
  if (d == NULL || !d->uplink) return "\"DR\" is no uplink data rate of the region";
  if (d->mod != LG_MOD_LORA && d->mod != LG_MOD_FSK) /* LR-FHSS: not in the LNS protocol's updf */
    return "\"DR\" is neither LoRa nor FSK (LR-FHSS frames are not taken from stations)";
  r->freq_hz = (uint32_t)freq;
  r->mod = d->mod == LG_MOD_LORA ? LG_GW_MOD_LORA : LG_GW_MOD_FSK;
  r->sf = d->sf;
  r->bw_hz = d->bw_hz;
  r->fsk_bps = d->mod == LG_MOD_FSK ? d->bit_rate_bps : 0;
  snprintf(r->codr, sizeof(r->codr), "4/5");
  r->crc = 1; /* a station forwards only frames whose CRC passed */
  r->chan = r->rfch = -1;
  *dr_out = (int)dr;
  return NULL;
}

/* updf: MHdr | DevAddr | FCtrl | FCnt | FOpts | [FPort | FRMPayload] | MIC. */
static const char *parse_updf(json_t *o, struct lg_gw_rxpk *r) {
  int64_t mhdr, addr, fctrl, fcnt, fport, mic;
  uint8_t fopts[16], frm[256];
  size_t n_opts = 0, n_frm = 0;
  if (!json_int(o, "MHdr", 0, 255, &mhdr)) return "missing or bad \"MHdr\"";
  if (!json_int(o, "DevAddr", INT32_MIN, UINT32_MAX, &addr)) return "missing or bad \"DevAddr\"";
  if (!json_int(o, "FCtrl", 0, 255, &fctrl)) return "missing or bad \"FCtrl\"";
  if (!json_int(o, "FCnt", 0, 65535, &fcnt)) return "missing or bad \"FCnt\"";
  if (!get_hex(o, "FOpts", fopts, 15, &n_opts))
    return "missing or bad \"FOpts\" (hex, 0..15 bytes)";
  if (!json_int(o, "FPort", -1, 255, &fport)) return "missing or bad \"FPort\" (-1..255)";
  if (!get_hex(o, "FRMPayload", frm, sizeof(frm), &n_frm)) return "missing or bad \"FRMPayload\"";
  if (!json_int(o, "MIC", INT32_MIN, UINT32_MAX, &mic)) return "missing or bad \"MIC\"";
  if (fport < 0 && n_frm > 0) return "\"FRMPayload\" without \"FPort\"";
  size_t len = 1 + 4 + 1 + 2 + n_opts + (fport >= 0 ? 1 + n_frm : 0) + 4;
  if (len > sizeof(r->data) - 1) return "frame longer than 255 bytes";
  uint8_t *p = r->data;
  *p++ = (uint8_t)mhdr;
  lg_put_le32(p, (uint32_t)addr), p += 4;
  *p++ = (uint8_t)fctrl;
  lg_put_le16(p, (uint16_t)fcnt), p += 2;
  memcpy(p, fopts, n_opts), p += n_opts;
  if (fport >= 0) {
    *p++ = (uint8_t)fport;
    memcpy(p, frm, n_frm), p += n_frm;
  }
  lg_put_le32(p, (uint32_t)mic);
  r->size = len;
  return NULL;
}

/* jreq: MHdr | JoinEUI | DevEUI | DevNonce | MIC (23 bytes). */
static const char *parse_jreq(json_t *o, struct lg_gw_rxpk *r) {
  int64_t mhdr, nonce, mic;
  uint64_t join_eui, dev_eui;
  if (!json_int(o, "MHdr", 0, 255, &mhdr)) return "missing or bad \"MHdr\"";
  if (!get_eui(o, "JoinEui", &join_eui) && !get_eui(o, "JoinEUI", &join_eui))
    return "missing or bad \"JoinEui\"";
  if (!get_eui(o, "DevEui", &dev_eui) && !get_eui(o, "DevEUI", &dev_eui))
    return "missing or bad \"DevEui\"";
  if (!json_int(o, "DevNonce", 0, 65535, &nonce)) return "missing or bad \"DevNonce\"";
  if (!json_int(o, "MIC", INT32_MIN, UINT32_MAX, &mic)) return "missing or bad \"MIC\"";
  r->data[0] = (uint8_t)mhdr;
  lg_put_le64(r->data + 1, join_eui);
  lg_put_le64(r->data + 9, dev_eui);
  lg_put_le16(r->data + 17, (uint16_t)nonce);
  lg_put_le32(r->data + 19, (uint32_t)mic);
  r->size = 23;
  return NULL;
}

static void copy_str(json_t *o, const char *key, char *out, size_t cap) {
  json_t *v = json_object_get(o, key);
  snprintf(out, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int lg_station_parse(const char *json, size_t len, const struct lg_region *region,
                     struct lg_station_up *m, char *why, size_t why_len) {
  memset(m, 0, sizeof(*m));
  json_error_t e;
  json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
  if (!json_is_object(o)) {
    snprintf(why, why_len, "not a JSON object%s%s", o ? "" : ": ", o ? "" : e.text);
    json_decref(o);
    return LG_EINVAL;
  }
  json_t *t = json_object_get(o, "msgtype");
  if (!json_is_string(t) || json_string_length(t) == 0 ||
      json_string_length(t) >= sizeof(m->msgtype)) {
    snprintf(why, why_len, "no \"msgtype\" string (1..23 characters)");
    json_decref(o);
    return LG_EINVAL;
  }
  snprintf(m->msgtype, sizeof(m->msgtype), "%s", json_string_value(t));
  static const struct {
    const char *name;
    enum lg_station_type type;
  } types[] = {{"version", LG_STATION_VERSION}, {"updf", LG_STATION_UPDF},
               {"jreq", LG_STATION_JREQ},       {"propdf", LG_STATION_PROPDF},
               {"dntxed", LG_STATION_DNTXED},   {"timesync", LG_STATION_TIMESYNC}};
  for (size_t i = 0; i < LG_ARRAY_LEN(types); i++)
    if (strcmp(m->msgtype, types[i].name) == 0) m->type = types[i].type;
  const char *bad = NULL;
  int64_t v;
  switch (m->type) {
  case LG_STATION_VERSION:
    copy_str(o, "station", m->station, sizeof(m->station));
    copy_str(o, "features", m->features, sizeof(m->features));
    m->protocol = json_int(o, "protocol", 0, 1000, &v) ? (int)v : 0;
    break;
  case LG_STATION_UPDF:
  case LG_STATION_JREQ:
  case LG_STATION_PROPDF:
    bad = parse_radio(o, region, &m->rx, &m->dr);
    if (!bad) bad = parse_upinfo(json_object_get(o, "upinfo"), &m->rx);
    if (!bad && m->type == LG_STATION_UPDF) bad = parse_updf(o, &m->rx);
    if (!bad && m->type == LG_STATION_JREQ) bad = parse_jreq(o, &m->rx);
    if (!bad && m->type == LG_STATION_PROPDF &&
        !get_hex(o, "FRMPayload", m->rx.data, 255, &m->rx.size))
      bad = "missing or bad \"FRMPayload\"";
    break;
  case LG_STATION_DNTXED:
    if (!json_int(o, "diid", INT64_MIN, INT64_MAX, &m->diid)) bad = "missing or bad \"diid\"";
    break;
  case LG_STATION_TIMESYNC:
    if (!json_int(o, "txtime", INT64_MIN, INT64_MAX, &m->txtime_us))
      bad = "missing or bad \"txtime\"";
    break;
  case LG_STATION_UNKNOWN: break;
  }
  json_decref(o);
  if (bad) {
    snprintf(why, why_len, "%s: %s", m->msgtype, bad);
    return LG_EINVAL;
  }
  return 0;
}

int lg_station_parse_router(const char *json, size_t len, uint64_t *eui, char *why,
                            size_t why_len) {
  json_t *o = json_loadb(json, len, 0, NULL);
  json_t *r = json_object_get(o, "router");
  int rc = LG_EINVAL;
  if (json_is_integer(r) && json_integer_value(r) > 0) {
    *eui = (uint64_t)json_integer_value(r);
    rc = 0;
  } else if (json_is_string(r)) {
    rc = lg_station_parse_eui(json_string_value(r), json_string_length(r), eui);
  }
  if (rc) snprintf(why, why_len, "expected {\"router\": EUI}");
  json_decref(o);
  return rc;
}

/* ---- building ------------------------------------------------------------------- */

/* o serialised into out (compact, integers exact); o is released. */
static int dump(json_t *o, char *out, size_t cap) {
  if (o == NULL) return LG_ENOMEM;
  size_t n = json_dumpb(o, out, cap, JSON_COMPACT | JSON_REAL_PRECISION(17));
  json_decref(o);
  if (n == 0 || n >= cap) return LG_ENOSPC;
  out[n] = '\0';
  return (int)n;
}

const char *lg_station_region_name(const struct lg_region *region) {
  if (strcmp(region->name, "EU868") == 0) return "EU863";
  if (strcmp(region->name, "US915") == 0) return "US902";
  return region->name;
}

/* One SX1301 board's channels: up to 8 multi-SF 125 kHz channels on two radios (each
 * radio's channels within 800 kHz: IF offsets of at most ±400 kHz) and one 500 kHz
 * "LoRa standard" channel on whichever radio it fits. */
static json_t *sx1301_conf(const struct lg_region *region) {
  uint32_t f125[8], f500 = 0;
  int n = 0;
  for (int i = 0; i < region->default_ch_count; i++) {
    const struct lg_channel *c = &region->default_ch[i];
    const struct lg_datarate *d = lg_region_dr(region, c->max_dr);
    if (d && d->mod == LG_MOD_LORA && d->bw_hz == 500000 && c->min_dr == c->max_dr) {
      if (f500 == 0) f500 = c->freq_hz;
    } else if (n < 8) {
      f125[n++] = c->freq_hz;
    }
  }
  for (int i = 1; i < n; i++) /* ascending */
    for (int k = i; k > 0 && f125[k - 1] > f125[k]; k--) {
      uint32_t t = f125[k];
      f125[k] = f125[k - 1];
      f125[k - 1] = t;
    }
  json_t *b = json_object();
  uint32_t center[2] = {0, 0};
  int first = 0, radio = 0, chan = 0;
  while (first < n && radio < 2) {
    int last = first;
    while (last + 1 < n && f125[last + 1] - f125[first] <= 800000)
      last++;
    center[radio] = (f125[first] + f125[last]) / 2;
    for (int k = first; k <= last; k++, chan++) {
      char key[24];
      snprintf(key, sizeof(key), "chan_multiSF_%d", chan);
      json_object_set_new(b, key,
                          json_pack("{s:b, s:i, s:i}", "enable", 1, "radio", radio, "if",
                                    (int)((int64_t)f125[k] - center[radio])));
    }
    first = last + 1;
    radio++;
  }
  for (; chan < 8; chan++) {
    char key[24];
    snprintf(key, sizeof(key), "chan_multiSF_%d", chan);
    json_object_set_new(b, key, json_pack("{s:b}", "enable", 0));
  }
  json_t *std = json_pack("{s:b}", "enable", 0);
  for (int r = 0; f500 && r < radio; r++) {
    int64_t off = (int64_t)f500 - center[r];
    if (off >= -300000 && off <= 300000) {
      json_decref(std);
      std = json_pack("{s:b, s:i, s:i, s:i, s:i}", "enable", 1, "radio", r, "if", (int)off,
                      "bandwidth", 500000, "spread_factor", 8);
      break;
    }
  }
  json_object_set_new(b, "chan_Lora_std", std);
  json_object_set_new(b, "chan_FSK", json_pack("{s:b}", "enable", 0));
  for (int r = 0; r < 2; r++) {
    char key[16];
    snprintf(key, sizeof(key), "radio_%d", r);
    json_object_set_new(
        b, key,
        json_pack("{s:b, s:I}", "enable", r < radio ? 1 : 0, "freq", (json_int_t)center[r]));
  }
  return json_pack("[o]", b);
}

int lg_station_router_config(const struct lg_region *region, double mux_time_s, char *out,
                             size_t cap) {
  json_t *drs = json_array();
  for (int i = 0; i < 16; i++) {
    const struct lg_datarate *d = lg_region_dr(region, i);
    int dnonly = d && d->downlink && !d->uplink;
    if (d && d->mod == LG_MOD_LORA)
      json_array_append_new(drs, json_pack("[i, i, i]", d->sf, (int)(d->bw_hz / 1000), dnonly));
    else if (d && d->mod == LG_MOD_FSK)
      json_array_append_new(drs, json_pack("[i, i, i]", 0, 0, dnonly));
    else
      json_array_append_new(drs, json_pack("[i, i, i]", -1, 0, 0));
  }
  json_t *o = json_pack(
      "{s:s, s:s, s:s, s:[I, I], s:o, s:o, s:b, s:b, s:b, s:f}", "msgtype", "router_config",
      "region", lg_station_region_name(region), "hwspec", "sx1301/1", "freq_range",
      (json_int_t)region->freq_min_hz, (json_int_t)region->freq_max_hz, "DRs", drs, "sx1301_conf",
      sx1301_conf(region), "nocca", !region->listen_before_talk, "nodc", !region->duty_cycle,
      "nodwell", !region->uses_dwell_time, "MuxTime", mux_time_s);
  return dump(o, out, cap);
}

int lg_station_dnmsg(const struct lg_gw_dl *dl, double mux_time_s, char *out, size_t cap) {
  if (dl->len == 0 || dl->len > 255) return LG_EINVAL;
  if (dl->dev_class == LG_GW_DL_CLASS_A &&
      (!dl->has_rx1 || !dl->has_xtime || dl->rx_delay_s < 1 || dl->rx_delay_s > 15))
    return LG_EINVAL; /* Class A answers an uplink: its xtime and RX1 are needed */
  char eui[24], pdu[512];
  eui_dashed(dl->dev_eui, eui);
  if (lg_hex_encode(dl->pdu, dl->len, pdu, sizeof(pdu))) return LG_ENOSPC;
  json_t *o = json_pack("{s:s, s:s, s:i, s:I, s:s, s:i, s:i, s:I, s:f}", "msgtype", "dnmsg",
                        "DevEui", eui, "dC", (int)dl->dev_class, "diid", (json_int_t)dl->diid,
                        "pdu", pdu, "RX2DR", dl->rx2_dr, "priority", dl->priority, "RX2Freq",
                        (json_int_t)dl->rx2_freq_hz, "MuxTime", mux_time_s);
  if (o && dl->has_rx1) {
    json_object_set_new(o, "RxDelay", json_integer(dl->rx_delay_s));
    json_object_set_new(o, "RX1DR", json_integer(dl->rx1_dr));
    json_object_set_new(o, "RX1Freq", json_integer(dl->rx1_freq_hz));
  }
  if (o && dl->has_xtime) {
    json_object_set_new(o, "xtime", json_integer(dl->xtime));
    json_object_set_new(o, "rctx", json_integer(dl->rctx));
  }
  return dump(o, out, cap);
}

int lg_station_timesync(int64_t txtime_us, int64_t gpstime_us, double mux_time_s, char *out,
                        size_t cap) {
  return dump(json_pack("{s:s, s:I, s:I, s:f}", "msgtype", "timesync", "txtime",
                        (json_int_t)txtime_us, "gpstime", (json_int_t)gpstime_us, "MuxTime",
                        mux_time_s),
              out, cap);
}

int lg_station_router_info(uint64_t eui, const char *uri, const char *error, char *out,
                           size_t cap) {
  char id[24];
  eui_dashed(eui, id);
  json_t *o = error ? json_pack("{s:s, s:s}", "router", id, "error", error)
                    : json_pack("{s:s, s:s, s:s}", "router", id, "muxs", "lorageo", "uri", uri);
  return dump(o, out, cap);
}

int lg_station_push_datagram(uint64_t gateway_eui, const struct lg_gw_rxpk *r, uint8_t *out,
                             size_t cap) {
  if (cap < 13) return LG_ENOSPC;
  out[0] = 2, out[1] = 0, out[2] = 0, out[3] = LG_GW_PUSH_DATA;
  for (int i = 0; i < 8; i++)
    out[4 + i] = (uint8_t)(gateway_eui >> (56 - 8 * i));
  char data[400], datr[24];
  EVP_EncodeBlock((unsigned char *)data, r->data, (int)r->size);
  if (r->mod == LG_GW_MOD_FSK)
    snprintf(datr, sizeof(datr), "%u", r->fsk_bps);
  else
    snprintf(datr, sizeof(datr), "SF%dBW%u", r->sf, r->bw_hz / 1000);
  json_t *x = json_pack("{s:i, s:f, s:i, s:i, s:s, s:s, s:s, s:I, s:s}", "stat", 1, "freq",
                        r->freq_hz / 1e6, "chan", 0, "rfch", 0, "modu",
                        r->mod == LG_GW_MOD_FSK ? "FSK" : "LORA", "datr", datr, "codr", r->codr,
                        "size", (json_int_t)r->size, "data", data);
  if (x == NULL) return LG_ENOMEM;
  if (r->mod == LG_GW_MOD_FSK) json_object_set_new(x, "datr", json_integer(r->fsk_bps));
  if (r->has_tmst) json_object_set_new(x, "tmst", json_integer(r->tmst));
  if (r->has_tmms) json_object_set_new(x, "tmms", json_integer(r->tmms_ms));
  if (r->has_ftime) json_object_set_new(x, "ftime", json_integer(r->ftime_ns));
  if (r->has_time) {
    char t[48];
    lg_rfc3339(r->time_ns, r->time_digits, t, sizeof(t));
    json_object_set_new(x, "time", json_string(t));
  }
  if (r->has_rssi) json_object_set_new(x, "rssi", json_real(r->rssi_dbm));
  if (r->has_snr) json_object_set_new(x, "lsnr", json_real(r->snr_db));
  if (r->has_xtime) {
    json_object_set_new(x, "xtime", json_integer(r->xtime));
    json_object_set_new(x, "rctx", json_integer(r->rctx));
  }
  int n = dump(json_pack("{s:[o]}", "rxpk", x), (char *)out + 12, cap - 12);
  return n < 0 ? n : n + 12;
}
