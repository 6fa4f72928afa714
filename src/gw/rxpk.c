/*
 * PUSH_DATA bodies: {"rxpk": [...], "stat": {...}}. jansson keeps JSON integers as
 * 64-bit, so `tmms` and `tmst` arrive exact. Each rxpk is validated field by field; a bad
 * one is refused alone and counted, the rest of the datagram is kept.
 */
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "gw/gw.h"
#include "gw/gw_int.h"
#include "util/util.h"

bool lg_gw_json_int(json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out) {
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v)) return false;
  int64_t x = (int64_t)json_integer_value(v);
  if (x < lo || x > hi) return false;
  *out = x;
  return true;
}

bool lg_gw_json_num(json_t *o, const char *key, double lo, double hi, double *out) {
  json_t *v = json_object_get(o, key);
  if (!json_is_number(v)) return false;
  double x = json_number_value(v);
  if (!(x >= lo && x <= hi)) return false;
  *out = x;
  return true;
}

/* "SF7BW125" → sf, bw; FSK data rates are numbers (bits/s). */
static int parse_datr(json_t *v, struct lg_gw_rxpk *r) {
  if (json_is_integer(v) || json_is_real(v)) {
    double bps = json_number_value(v);
    if (!(bps > 0 && bps < 1e6)) return LG_EINVAL;
    r->mod = LG_GW_MOD_FSK;
    r->fsk_bps = (uint32_t)bps;
    return 0;
  }
  if (!json_is_string(v)) return LG_EINVAL;
  unsigned sf = 0, bw = 0;
  char tail;
  if (sscanf(json_string_value(v), "SF%uBW%u%c", &sf, &bw, &tail) != 2) {
    r->mod = LG_GW_MOD_OTHER; /* LR-FHSS and others: kept, not interpreted */
    return 0;
  }
  if (sf < 5 || sf > 12 || (bw != 125 && bw != 250 && bw != 500 && bw != 812 && bw != 1625))
    return LG_EINVAL;
  r->mod = LG_GW_MOD_LORA;
  r->sf = (int)sf;
  r->bw_hz = bw * 1000;
  return 0;
}

static void parse_antennas(json_t *rsig, struct lg_gw_rxpk *r) {
  size_t i;
  json_t *a;
  json_array_foreach(rsig, i, a) {
    if (r->n_ant == LG_GW_MAX_ANTENNAS || !json_is_object(a)) break;
    struct lg_gw_antenna *x = &r->ant[r->n_ant];
    memset(x, 0, sizeof(*x));
    int64_t v;
    x->ant = lg_gw_json_int(a, "ant", 0, 255, &v) ? (int)v : (int)r->n_ant;
    x->chan = lg_gw_json_int(a, "chan", 0, 255, &v) ? (int)v : r->chan;
    x->has_rssi = lg_gw_json_num(a, "rssic", -200, 50, &x->rssi_dbm) ||
                  lg_gw_json_num(a, "rssis", -200, 50, &x->rssi_dbm);
    x->has_snr = lg_gw_json_num(a, "lsnr", -50, 50, &x->snr_db);
    x->has_ftime = lg_gw_json_int(a, "ftime", 0, 999999999, &x->ftime_ns);
    r->n_ant++;
  }
}

/* Fills one rxpk; returns NULL or the reason it is refused. */
static const char *parse_rxpk(json_t *o, struct lg_gw_rxpk *r) {
  memset(r, 0, sizeof(*r));
  if (!json_is_object(o)) return "rxpk entry is not an object";
  int64_t v;
  double d;
  r->crc = lg_gw_json_int(o, "stat", -1, 1, &v) ? (int)v : 0;
  if (r->crc != 1) return "CRC failed or absent";
  json_t *t = json_object_get(o, "time");
  if (t != NULL) {
    if (!json_is_string(t) || lg_gw_parse_time(json_string_value(t), json_string_length(t),
                                               &r->time_ns, &r->time_digits) != 0)
      return "bad \"time\"";
    r->has_time = true;
  }
  if (json_object_get(o, "tmms") &&
      !(r->has_tmms = lg_gw_json_int(o, "tmms", 0, 7000000000000LL, &r->tmms_ms)))
    return "bad \"tmms\"";
  if (json_object_get(o, "ftime") &&
      !(r->has_ftime = lg_gw_json_int(o, "ftime", 0, 999999999, &r->ftime_ns)))
    return "bad \"ftime\"";
  if (json_object_get(o, "tmst")) {
    if (!lg_gw_json_int(o, "tmst", 0, UINT32_MAX, &v)) return "bad \"tmst\"";
    r->has_tmst = true;
    r->tmst = (uint32_t)v;
  }
  if (!lg_gw_json_num(o, "freq", 100, 3000, &d)) return "missing or bad \"freq\"";
  r->freq_hz = (uint32_t)llround(d * 1e6);
  r->chan = lg_gw_json_int(o, "chan", 0, 255, &v) ? (int)v : -1;
  r->rfch = lg_gw_json_int(o, "rfch", 0, 255, &v) ? (int)v : -1;
  if (parse_datr(json_object_get(o, "datr"), r)) return "missing or bad \"datr\"";
  json_t *codr = json_object_get(o, "codr");
  if (json_is_string(codr)) snprintf(r->codr, sizeof(r->codr), "%s", json_string_value(codr));
  r->has_rssi = lg_gw_json_num(o, "rssi", -200, 50, &r->rssi_dbm);
  r->has_snr = lg_gw_json_num(o, "lsnr", -50, 50, &r->snr_db);
  r->has_foff = lg_gw_json_num(o, "foff", -1e6, 1e6, &r->foff_hz);
  /* a Basics Station's reception, journalled as an rxpk (lg_station_push_datagram) */
  if (json_object_get(o, "xtime")) {
    if (!lg_gw_json_int(o, "xtime", 0, INT64_MAX, &r->xtime) ||
        !lg_gw_json_int(o, "rctx", INT64_MIN, INT64_MAX, &r->rctx))
      return "bad \"xtime\" or \"rctx\"";
    r->has_xtime = true;
  }
  json_t *rsig = json_object_get(o, "rsig");
  if (json_is_array(rsig)) parse_antennas(rsig, r);
  json_t *data = json_object_get(o, "data");
  if (!json_is_string(data) ||
      lg_base64_decode(json_string_value(data), json_string_length(data), r->data, 255, &r->size))
    return "missing or bad \"data\" (base64 PHYPayload up to 255 bytes)";
  if (lg_gw_json_int(o, "size", 0, 255, &v) && (size_t)v != r->size)
    return "\"size\" differs from \"data\"";
  return NULL;
}

static void parse_stat(json_t *o, struct lg_gw_stat *s) {
  memset(s, 0, sizeof(*s));
  s->has_position = lg_gw_json_num(o, "lati", -90, 90, &s->lat_deg) &&
                    lg_gw_json_num(o, "long", -180, 180, &s->lon_deg);
  if (s->has_position && !lg_gw_json_num(o, "alti", -1000, 20000, &s->alt_m)) s->alt_m = 0;
  if (s->has_position && s->lat_deg == 0 && s->lon_deg == 0) s->has_position = false; /* no fix */
  int64_t v;
  if (lg_gw_json_int(o, "rxnb", 0, UINT32_MAX, &v)) {
    s->has_counters = true;
    s->rxnb = (uint32_t)v;
  }
  if (lg_gw_json_int(o, "rxok", 0, UINT32_MAX, &v)) s->rxok = (uint32_t)v;
  if (lg_gw_json_int(o, "rxfw", 0, UINT32_MAX, &v)) s->rxfw = (uint32_t)v;
  if (lg_gw_json_int(o, "dwnb", 0, UINT32_MAX, &v)) s->dwnb = (uint32_t)v;
  if (lg_gw_json_int(o, "txnb", 0, UINT32_MAX, &v)) s->txnb = (uint32_t)v;
  lg_gw_json_num(o, "ackr", 0, 100, &s->ackr);
}

int lg_gw_parse_push(const char *json, size_t len, struct lg_gw_push *p, char *why,
                     size_t why_len) {
  p->n_rxpk = p->n_rejected = p->n_crc_bad = 0;
  p->has_stat = false;
  if (why_len) why[0] = '\0';
  json_error_t e;
  json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &e);
  if (!json_is_object(root)) {
    snprintf(why, why_len, "body is not a JSON object%s%s", root ? "" : ": ", root ? "" : e.text);
    json_decref(root);
    return LG_GW_EJSON;
  }
  json_t *rxpk = json_object_get(root, "rxpk");
  if (rxpk != NULL && !json_is_array(rxpk)) {
    snprintf(why, why_len, "\"rxpk\" is not an array");
    json_decref(root);
    return LG_GW_EJSON;
  }
  size_t i;
  json_t *o;
  json_array_foreach(rxpk, i, o) {
    if (p->n_rxpk == LG_GW_MAX_RXPK) {
      p->n_rejected++;
      continue;
    }
    const char *bad = parse_rxpk(o, &p->rxpk[p->n_rxpk]);
    if (bad == NULL) {
      p->n_rxpk++;
      continue;
    }
    p->n_rejected++;
    if (p->rxpk[p->n_rxpk].crc != 1) p->n_crc_bad++;
    if (why_len && why[0] == '\0') snprintf(why, why_len, "rxpk[%zu]: %s", i, bad);
  }
  json_t *stat = json_object_get(root, "stat");
  if (json_is_object(stat)) {
    p->has_stat = true;
    parse_stat(stat, &p->stat);
  }
  json_decref(root);
  return 0;
}
