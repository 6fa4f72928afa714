/*
 * PUSH_DATA bodies: {"rxpk": [...], "stat": {...}}, tokenised in place with jsmn
 * (util/jtok.h): no tree, no allocation — jansson's tree for the four datagrams of every
 * uplink was the packet thread's largest cost after the kernel's (issue 15). Integers are
 * read as 64-bit, so `tmms` and `tmst` arrive exact. Each rxpk is checked field by field; a
 * bad one is refused alone and counted, the rest of the datagram is kept. A key the server
 * reads given twice in one object refuses that object (which one counts would be a guess);
 * what jtok.h lets through that a full parser would not changes no field read here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw/gw.h"
#include "util/jtok.h"
#include "util/util.h"

/* "SF7BW125" → sf, bw; FSK data rates are numbers (bits/s). */
static int parse_datr(const struct lg_jt *c, int v, struct lg_gw_rxpk *r) {
  double bps;
  if (v >= 0 && c->t[v].type == JSMN_PRIMITIVE) {
    if (!lg_jt_num(c, v, 0, 1e6, &bps) || !(bps > 0 && bps < 1e6)) return LG_EINVAL;
    r->mod = LG_GW_MOD_FSK;
    r->fsk_bps = (uint32_t)bps;
    return 0;
  }
  const char *s;
  size_t len;
  char buf[64], text[64];
  if (!lg_jt_text(c, v, buf, sizeof(buf), &s, &len)) {
    if (v >= 0 && c->t[v].type == JSMN_STRING) { /* longer than any data rate's name */
      r->mod = LG_GW_MOD_OTHER;
      return 0;
    }
    return LG_EINVAL;
  }
  unsigned sf = 0, bw = 0;
  char tail;
  memcpy(text, s, len);
  text[len] = '\0';
  if (sscanf(text, "SF%uBW%u%c", &sf, &bw, &tail) != 2) {
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

enum { A_ANT, A_CHAN, A_RSSIC, A_RSSIS, A_LSNR, A_FTIME, A_KEYS };
static const char *const antenna_keys[A_KEYS] = {"ant", "chan", "rssic", "rssis", "lsnr", "ftime"};

static void parse_antennas(const struct lg_jt *c, int rsig, struct lg_gw_rxpk *r) {
  int a = rsig + 1;
  for (int k = 0; k < c->t[rsig].size; k++, a = lg_jt_skip(c, a)) {
    int f[A_KEYS];
    if (r->n_ant == LG_GW_MAX_ANTENNAS || c->t[a].type != JSMN_OBJECT ||
        lg_jt_fields(c, a, antenna_keys, A_KEYS, f))
      break;
    struct lg_gw_antenna *x = &r->ant[r->n_ant];
    memset(x, 0, sizeof(*x));
    int64_t v;
    x->ant = lg_jt_int(c, f[A_ANT], 0, 255, &v) ? (int)v : (int)r->n_ant;
    x->chan = lg_jt_int(c, f[A_CHAN], 0, 255, &v) ? (int)v : r->chan;
    x->has_rssi = lg_jt_num(c, f[A_RSSIC], -200, 50, &x->rssi_dbm) ||
                  lg_jt_num(c, f[A_RSSIS], -200, 50, &x->rssi_dbm);
    x->has_snr = lg_jt_num(c, f[A_LSNR], -50, 50, &x->snr_db);
    x->has_ftime = lg_jt_int(c, f[A_FTIME], 0, 999999999, &x->ftime_ns);
    r->n_ant++;
  }
}

enum {
  R_STAT,
  R_TIME,
  R_TMMS,
  R_FTIME,
  R_TMST,
  R_FREQ,
  R_CHAN,
  R_RFCH,
  R_DATR,
  R_CODR,
  R_RSSI,
  R_LSNR,
  R_FOFF,
  R_XTIME,
  R_RCTX,
  R_RSIG,
  R_DATA,
  R_SIZE,
  R_KEYS
};
static const char *const rxpk_keys[R_KEYS] = {"stat", "time",  "tmms", "ftime", "tmst", "freq",
                                              "chan", "rfch",  "datr", "codr",  "rssi", "lsnr",
                                              "foff", "xtime", "rctx", "rsig",  "data", "size"};

static const char crc_bad[] = "CRC failed or absent";

/* Fills one rxpk from the object at o; returns NULL or the reason it is refused. */
static const char *parse_rxpk(const struct lg_jt *c, int o, struct lg_gw_rxpk *r) {
  memset(r, 0, sizeof(*r));
  if (c->t[o].type != JSMN_OBJECT) return "rxpk entry is not an object";
  int f[R_KEYS];
  if (lg_jt_fields(c, o, rxpk_keys, R_KEYS, f)) return "a key given twice";
  int64_t v;
  double d;
  const char *s;
  size_t len;
  char buf[512]; /* an escaped string's text: base64 of 255 bytes is 344 characters */
  r->crc = lg_jt_int(c, f[R_STAT], -1, 1, &v) ? (int)v : 0;
  if (r->crc != 1) return crc_bad;
  if (f[R_TIME] >= 0) {
    if (!lg_jt_text(c, f[R_TIME], buf, sizeof(buf), &s, &len) ||
        lg_gw_parse_time(s, len, &r->time_ns, &r->time_digits) != 0)
      return "bad \"time\"";
    r->has_time = true;
  }
  if (f[R_TMMS] >= 0 && !(r->has_tmms = lg_jt_int(c, f[R_TMMS], 0, 7000000000000LL, &r->tmms_ms)))
    return "bad \"tmms\"";
  if (f[R_FTIME] >= 0 && !(r->has_ftime = lg_jt_int(c, f[R_FTIME], 0, 999999999, &r->ftime_ns)))
    return "bad \"ftime\"";
  if (f[R_TMST] >= 0) {
    if (!lg_jt_int(c, f[R_TMST], 0, UINT32_MAX, &v)) return "bad \"tmst\"";
    r->has_tmst = true;
    r->tmst = (uint32_t)v;
  }
  if (!lg_jt_num(c, f[R_FREQ], 100, 3000, &d)) return "missing or bad \"freq\"";
  r->freq_hz = (uint32_t)llround(d * 1e6);
  r->chan = lg_jt_int(c, f[R_CHAN], 0, 255, &v) ? (int)v : -1;
  r->rfch = lg_jt_int(c, f[R_RFCH], 0, 255, &v) ? (int)v : -1;
  if (parse_datr(c, f[R_DATR], r)) return "missing or bad \"datr\"";
  if (lg_jt_text(c, f[R_CODR], buf, sizeof(buf), &s, &len)) {
    len = len < sizeof(r->codr) ? len : sizeof(r->codr) - 1;
    bool printable = true;
    for (size_t k = 0; k < len; k++)
      printable = printable && s[k] >= 0x20 && s[k] < 0x7f && s[k] != '"' && s[k] != '\\';
    if (printable) memcpy(r->codr, s, len); /* "4/5", "OFF": echoed in events as it came */
  }
  r->has_rssi = lg_jt_num(c, f[R_RSSI], -200, 50, &r->rssi_dbm);
  r->has_snr = lg_jt_num(c, f[R_LSNR], -50, 50, &r->snr_db);
  r->has_foff = lg_jt_num(c, f[R_FOFF], -1e6, 1e6, &r->foff_hz);
  /* a Basics Station's reception, journalled as an rxpk (lg_station_push_datagram) */
  if (f[R_XTIME] >= 0) {
    if (!lg_jt_int(c, f[R_XTIME], 0, INT64_MAX, &r->xtime) ||
        !lg_jt_int(c, f[R_RCTX], INT64_MIN, INT64_MAX, &r->rctx))
      return "bad \"xtime\" or \"rctx\"";
    r->has_xtime = true;
  }
  if (f[R_RSIG] >= 0 && c->t[f[R_RSIG]].type == JSMN_ARRAY) parse_antennas(c, f[R_RSIG], r);
  if (!lg_jt_text(c, f[R_DATA], buf, sizeof(buf), &s, &len) ||
      lg_base64_decode(s, len, r->data, 255, &r->size))
    return "missing or bad \"data\" (base64 PHYPayload up to 255 bytes)";
  if (lg_jt_int(c, f[R_SIZE], 0, 255, &v) && (size_t)v != r->size)
    return "\"size\" differs from \"data\"";
  return NULL;
}

enum { S_LATI, S_LONG, S_ALTI, S_RXNB, S_RXOK, S_RXFW, S_DWNB, S_TXNB, S_ACKR, S_KEYS };
static const char *const stat_keys[S_KEYS] = {"lati", "long", "alti", "rxnb", "rxok",
                                              "rxfw", "dwnb", "txnb", "ackr"};

static void parse_stat(const struct lg_jt *c, int o, struct lg_gw_stat *s) {
  memset(s, 0, sizeof(*s));
  int f[S_KEYS];
  if (lg_jt_fields(c, o, stat_keys, S_KEYS, f)) return; /* a key twice: nothing taken */
  s->has_position = lg_jt_num(c, f[S_LATI], -90, 90, &s->lat_deg) &&
                    lg_jt_num(c, f[S_LONG], -180, 180, &s->lon_deg);
  if (s->has_position && !lg_jt_num(c, f[S_ALTI], -1000, 20000, &s->alt_m)) s->alt_m = 0;
  if (s->has_position && s->lat_deg == 0 && s->lon_deg == 0) s->has_position = false; /* no fix */
  int64_t v;
  if (lg_jt_int(c, f[S_RXNB], 0, UINT32_MAX, &v)) {
    s->has_counters = true;
    s->rxnb = (uint32_t)v;
  }
  if (lg_jt_int(c, f[S_RXOK], 0, UINT32_MAX, &v)) s->rxok = (uint32_t)v;
  if (lg_jt_int(c, f[S_RXFW], 0, UINT32_MAX, &v)) s->rxfw = (uint32_t)v;
  if (lg_jt_int(c, f[S_DWNB], 0, UINT32_MAX, &v)) s->dwnb = (uint32_t)v;
  if (lg_jt_int(c, f[S_TXNB], 0, UINT32_MAX, &v)) s->txnb = (uint32_t)v;
  lg_jt_num(c, f[S_ACKR], 0, 100, &s->ackr);
}

static int parse_body(const struct lg_jt *c, struct lg_gw_push *p, char *why, size_t why_len) {
  static const char *const top_keys[] = {"rxpk", "stat"};
  int f[2];
  if (c->t[0].type != JSMN_OBJECT) {
    snprintf(why, why_len, "body is not a JSON object");
    return LG_GW_EJSON;
  }
  if (lg_jt_fields(c, 0, top_keys, 2, f)) {
    snprintf(why, why_len, "body has \"rxpk\" or \"stat\" twice");
    return LG_GW_EJSON;
  }
  int rxpk = f[0];
  if (rxpk >= 0 && c->t[rxpk].type != JSMN_ARRAY) {
    snprintf(why, why_len, "\"rxpk\" is not an array");
    return LG_GW_EJSON;
  }
  int o = rxpk + 1;
  for (int i = 0; rxpk >= 0 && i < c->t[rxpk].size; i++, o = lg_jt_skip(c, o)) {
    if (p->n_rxpk == LG_GW_MAX_RXPK) {
      p->n_rejected++;
      continue;
    }
    const char *bad = parse_rxpk(c, o, &p->rxpk[p->n_rxpk]);
    if (bad == NULL) {
      p->n_rxpk++;
      continue;
    }
    p->n_rejected++;
    if (bad == crc_bad) p->n_crc_bad++;
    if (why_len && why[0] == '\0') snprintf(why, why_len, "rxpk[%d]: %s", i, bad);
  }
  if (f[1] >= 0 && c->t[f[1]].type == JSMN_OBJECT) {
    p->has_stat = true;
    parse_stat(c, f[1], &p->stat);
  }
  return 0;
}

int lg_gw_parse_push(const char *json, size_t len, struct lg_gw_push *p, char *why,
                     size_t why_len) {
  p->n_rxpk = p->n_rejected = p->n_crc_bad = 0;
  p->has_stat = false;
  if (why_len) why[0] = '\0';
  jsmntok_t stack[512]; /* a forwarder's PUSH_DATA: ~40 tokens an rxpk */
  jsmntok_t *t = stack;
  struct lg_jt c;
  int rc = lg_jt_parse(json, len, t, (unsigned)LG_ARRAY_LEN(stack), &c);
  if (rc == LG_JT_ENOMEM) {
    int n = lg_jt_count(json, len);
    t = n > 0 ? malloc((size_t)n * sizeof(*t)) : NULL;
    rc = t ? lg_jt_parse(json, len, t, (unsigned)n, &c) : n < 0 ? n : LG_ENOMEM;
  }
  if (rc == 0) {
    rc = parse_body(&c, p, why, why_len);
  } else {
    snprintf(why, why_len, "body is not a JSON object: %s",
             rc == LG_ENOMEM ? "no memory" : lg_jt_strerror(rc));
    rc = LG_GW_EJSON;
  }
  if (t != stack) free(t);
  return rc;
}
