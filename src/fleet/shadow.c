/*
 * The configuration shadow's fields (shadow.h): parsing with the field named on error,
 * JSON, the difference between desired and reported, and the application frame both ways.
 */
#include "fleet/shadow.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adr/adr.h"
#include "util/util.h"

static const struct {
  unsigned bit;
  const char *name;
} fields[] = {
    {LG_SHADOW_ADR_ALGORITHM, "adr_algorithm"}, {LG_SHADOW_ADR_MARGIN, "adr_margin_db"},
    {LG_SHADOW_MAX_DR, "max_dr"},               {LG_SHADOW_MIN_TX_POWER, "min_tx_power_index"},
    {LG_SHADOW_CHANNEL_MASK, "channel_mask"},   {LG_SHADOW_RX_PARAMS, "rx2_dr"},
    {LG_SHADOW_UPLINK_INTERVAL, "uplink_interval_s"}, {LG_SHADOW_APP_PARAMS, "app_params"},
};

const char *lg_shadow_field_name(unsigned bit) {
  for (size_t i = 0; i < LG_ARRAY_LEN(fields); i++)
    if (fields[i].bit == bit) return fields[i].name;
  return NULL;
}

#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), LG_EINVAL)

static bool int_in(const json_t *v, long long lo, long long hi) {
  return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

int lg_shadow_patch(const json_t *o, struct lg_shadow_cfg *out, char *why, size_t why_len) {
  static const char *const known[] = {"adr_algorithm", "adr_margin_db", "max_dr",
                                      "min_tx_power_index", "channel_mask", "rx1_dr_offset",
                                      "rx2_dr", "rx2_frequency", "uplink_interval_s",
                                      "app_params"};
  if (!json_is_object(o)) return WHY("desired: expected an object");
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)o, key, v) {
    size_t i = 0;
    while (i < LG_ARRAY_LEN(known) && strcmp(known[i], key) != 0)
      i++;
    if (i == LG_ARRAY_LEN(known))
      return WHY("%.40s: unknown field (expected adr_algorithm, adr_margin_db, max_dr, "
                 "min_tx_power_index, channel_mask, rx1_dr_offset, rx2_dr, rx2_frequency, "
                 "uplink_interval_s or app_params)",
                 key);
  }
  struct lg_shadow_cfg c = *out;
  json_t *v2;
#define NULLED(k, bit) ((v2 = json_object_get(o, k)) != NULL && json_is_null(v2) ? (c.has &= ~(unsigned)(bit), 1) : 0)
  if ((v = json_object_get(o, "adr_algorithm")) && !NULLED("adr_algorithm", LG_SHADOW_ADR_ALGORITHM)) {
    enum lg_adr_algo a;
    if (!json_is_string(v) || lg_adr_algo_parse(json_string_value(v), &a))
      return WHY("adr_algorithm: expected off, standard, eadr or predictive");
    snprintf(c.adr_algorithm, sizeof(c.adr_algorithm), "%s", json_string_value(v));
    c.has |= LG_SHADOW_ADR_ALGORITHM;
  }
  if ((v = json_object_get(o, "adr_margin_db")) && !NULLED("adr_margin_db", LG_SHADOW_ADR_MARGIN)) {
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 30)
      return WHY("adr_margin_db: expected dB in [0, 30]");
    c.adr_margin_db = json_number_value(v), c.has |= LG_SHADOW_ADR_MARGIN;
  }
  if ((v = json_object_get(o, "max_dr")) && !NULLED("max_dr", LG_SHADOW_MAX_DR)) {
    if (!int_in(v, 0, 15)) return WHY("max_dr: expected a data rate 0..15");
    c.max_dr = (int)json_integer_value(v), c.has |= LG_SHADOW_MAX_DR;
  }
  if ((v = json_object_get(o, "min_tx_power_index")) &&
      !NULLED("min_tx_power_index", LG_SHADOW_MIN_TX_POWER)) {
    if (!int_in(v, 0, 15))
      return WHY("min_tx_power_index: expected a TX power index 0..15 (0: the region's max)");
    c.min_tx_power_index = (int)json_integer_value(v), c.has |= LG_SHADOW_MIN_TX_POWER;
  }
  if ((v = json_object_get(o, "channel_mask")) && !NULLED("channel_mask", LG_SHADOW_CHANNEL_MASK)) {
    uint8_t m[2];
    size_t n = 0;
    const char *s = json_string_value(v);
    if (!s || strlen(s) != 4 || lg_hex_decode(s, 4, m, 2, &n) || (m[0] == 0 && m[1] == 0))
      return WHY("channel_mask: expected 4 hex digits, channels 0..15 (bit 0: channel 0), "
                 "at least one on");
    c.channel_mask = (uint16_t)(m[0] << 8 | m[1]), c.has |= LG_SHADOW_CHANNEL_MASK;
  }
  json_t *r1 = json_object_get(o, "rx1_dr_offset"), *r2 = json_object_get(o, "rx2_dr"),
         *rf = json_object_get(o, "rx2_frequency");
  if (r1 || r2 || rf) {
    if (json_is_null(r1) && json_is_null(r2) && json_is_null(rf)) {
      c.has &= ~(unsigned)LG_SHADOW_RX_PARAMS;
    } else {
      if (!r1 || !r2 || !rf)
        return WHY("rx2_dr: rx1_dr_offset, rx2_dr and rx2_frequency go together (one "
                   "RXParamSetupReq)");
      if (!int_in(r1, 0, 7)) return WHY("rx1_dr_offset: expected 0..7");
      if (!int_in(r2, 0, 15)) return WHY("rx2_dr: expected a data rate 0..15");
      if (!int_in(rf, 100000000, 1000000000) || json_integer_value(rf) % 100)
        return WHY("rx2_frequency: expected Hz (100 MHz..1 GHz, a multiple of 100 Hz)");
      c.rx1_dr_offset = (int)json_integer_value(r1);
      c.rx2_dr = (int)json_integer_value(r2);
      c.rx2_freq_hz = (uint32_t)json_integer_value(rf);
      c.has |= LG_SHADOW_RX_PARAMS;
    }
  }
  if ((v = json_object_get(o, "uplink_interval_s")) &&
      !NULLED("uplink_interval_s", LG_SHADOW_UPLINK_INTERVAL)) {
    if (!int_in(v, 1, 30 * 86400)) return WHY("uplink_interval_s: expected seconds 1..2592000");
    c.uplink_interval_s = (uint32_t)json_integer_value(v), c.has |= LG_SHADOW_UPLINK_INTERVAL;
  }
  if ((v = json_object_get(o, "app_params")) && !NULLED("app_params", LG_SHADOW_APP_PARAMS)) {
    const char *s = json_string_value(v);
    if (!s || strlen(s) == 0 || strlen(s) > 2 * LG_SHADOW_APP_PARAMS_MAX ||
        lg_hex_decode(s, strlen(s), c.app_params, sizeof(c.app_params), &c.app_params_len))
      return WHY("app_params: expected hex, 1..%d bytes", LG_SHADOW_APP_PARAMS_MAX);
    c.has |= LG_SHADOW_APP_PARAMS;
  }
#undef NULLED
  *out = c;
  return 0;
}

int lg_shadow_parse(const json_t *o, struct lg_shadow_cfg *c, char *why, size_t why_len) {
  memset(c, 0, sizeof(*c));
  return lg_shadow_patch(o, c, why, why_len);
}

json_t *lg_shadow_json(const struct lg_shadow_cfg *c) {
  json_t *o = json_object();
  if (c->has & LG_SHADOW_ADR_ALGORITHM)
    json_object_set_new(o, "adr_algorithm", json_string(c->adr_algorithm));
  if (c->has & LG_SHADOW_ADR_MARGIN) json_object_set_new(o, "adr_margin_db", json_real(c->adr_margin_db));
  if (c->has & LG_SHADOW_MAX_DR) json_object_set_new(o, "max_dr", json_integer(c->max_dr));
  if (c->has & LG_SHADOW_MIN_TX_POWER)
    json_object_set_new(o, "min_tx_power_index", json_integer(c->min_tx_power_index));
  if (c->has & LG_SHADOW_CHANNEL_MASK) {
    char m[5];
    snprintf(m, sizeof(m), "%04x", c->channel_mask);
    json_object_set_new(o, "channel_mask", json_string(m));
  }
  if (c->has & LG_SHADOW_RX_PARAMS) {
    json_object_set_new(o, "rx1_dr_offset", json_integer(c->rx1_dr_offset));
    json_object_set_new(o, "rx2_dr", json_integer(c->rx2_dr));
    json_object_set_new(o, "rx2_frequency", json_integer(c->rx2_freq_hz));
  }
  if (c->has & LG_SHADOW_UPLINK_INTERVAL)
    json_object_set_new(o, "uplink_interval_s", json_integer(c->uplink_interval_s));
  if (c->has & LG_SHADOW_APP_PARAMS) {
    char h[2 * LG_SHADOW_APP_PARAMS_MAX + 1];
    lg_hex_encode(c->app_params, c->app_params_len, h, sizeof(h));
    json_object_set_new(o, "app_params", json_string(h));
  }
  return o;
}

unsigned lg_shadow_diff(const struct lg_shadow_cfg *d, const struct lg_shadow_cfg *r) {
  unsigned diff = d->has & ~r->has, both = d->has & r->has;
  if ((both & LG_SHADOW_ADR_ALGORITHM) && strcmp(d->adr_algorithm, r->adr_algorithm))
    diff |= LG_SHADOW_ADR_ALGORITHM;
  if ((both & LG_SHADOW_ADR_MARGIN) && fabs(d->adr_margin_db - r->adr_margin_db) > 1e-9)
    diff |= LG_SHADOW_ADR_MARGIN;
  if ((both & LG_SHADOW_MAX_DR) && d->max_dr != r->max_dr) diff |= LG_SHADOW_MAX_DR;
  if ((both & LG_SHADOW_MIN_TX_POWER) && d->min_tx_power_index != r->min_tx_power_index)
    diff |= LG_SHADOW_MIN_TX_POWER;
  if ((both & LG_SHADOW_CHANNEL_MASK) && d->channel_mask != r->channel_mask)
    diff |= LG_SHADOW_CHANNEL_MASK;
  if ((both & LG_SHADOW_RX_PARAMS) &&
      (d->rx1_dr_offset != r->rx1_dr_offset || d->rx2_dr != r->rx2_dr ||
       d->rx2_freq_hz != r->rx2_freq_hz))
    diff |= LG_SHADOW_RX_PARAMS;
  if ((both & LG_SHADOW_UPLINK_INTERVAL) && d->uplink_interval_s != r->uplink_interval_s)
    diff |= LG_SHADOW_UPLINK_INTERVAL;
  if ((both & LG_SHADOW_APP_PARAMS) &&
      (d->app_params_len != r->app_params_len ||
       memcmp(d->app_params, r->app_params, d->app_params_len)))
    diff |= LG_SHADOW_APP_PARAMS;
  return diff;
}

void lg_shadow_merge(struct lg_shadow_cfg *dst, const struct lg_shadow_cfg *src) {
  unsigned h = src->has;
  if (h & LG_SHADOW_ADR_ALGORITHM) memcpy(dst->adr_algorithm, src->adr_algorithm, sizeof(dst->adr_algorithm));
  if (h & LG_SHADOW_ADR_MARGIN) dst->adr_margin_db = src->adr_margin_db;
  if (h & LG_SHADOW_MAX_DR) dst->max_dr = src->max_dr;
  if (h & LG_SHADOW_MIN_TX_POWER) dst->min_tx_power_index = src->min_tx_power_index;
  if (h & LG_SHADOW_CHANNEL_MASK) dst->channel_mask = src->channel_mask;
  if (h & LG_SHADOW_RX_PARAMS) {
    dst->rx1_dr_offset = src->rx1_dr_offset;
    dst->rx2_dr = src->rx2_dr;
    dst->rx2_freq_hz = src->rx2_freq_hz;
  }
  if (h & LG_SHADOW_UPLINK_INTERVAL) dst->uplink_interval_s = src->uplink_interval_s;
  if (h & LG_SHADOW_APP_PARAMS) {
    memcpy(dst->app_params, src->app_params, src->app_params_len);
    dst->app_params_len = src->app_params_len;
  }
  dst->has |= h;
}

size_t lg_shadow_app_frame(const struct lg_shadow_cfg *c, unsigned f, uint8_t *out, size_t cap) {
  size_t n = 0;
  if ((f & LG_SHADOW_UPLINK_INTERVAL) && (c->has & LG_SHADOW_UPLINK_INTERVAL)) {
    if (n + 5 > cap) return 0;
    out[n++] = 0x01;
    for (int i = 3; i >= 0; i--)
      out[n++] = (uint8_t)(c->uplink_interval_s >> (8 * i));
  }
  if ((f & LG_SHADOW_APP_PARAMS) && (c->has & LG_SHADOW_APP_PARAMS)) {
    if (n + 2 + c->app_params_len > cap) return 0;
    out[n++] = 0x02;
    out[n++] = (uint8_t)c->app_params_len;
    memcpy(out + n, c->app_params, c->app_params_len);
    n += c->app_params_len;
  }
  return n;
}

int lg_shadow_app_report(const uint8_t *p, size_t len, struct lg_shadow_cfg *c) {
  struct lg_shadow_cfg r;
  memset(&r, 0, sizeof(r));
  for (size_t i = 0; i < len;) {
    if (p[i] == 0x01) {
      if (i + 5 > len) return LG_ETRUNC;
      r.uplink_interval_s = (uint32_t)p[i + 1] << 24 | (uint32_t)p[i + 2] << 16 |
                            (uint32_t)p[i + 3] << 8 | p[i + 4];
      r.has |= LG_SHADOW_UPLINK_INTERVAL;
      i += 5;
    } else if (p[i] == 0x02) {
      if (i + 2 > len || i + 2 + p[i + 1] > len) return LG_ETRUNC;
      if (p[i + 1] > LG_SHADOW_APP_PARAMS_MAX) return LG_EINVAL;
      r.app_params_len = p[i + 1];
      memcpy(r.app_params, p + i + 2, r.app_params_len);
      r.has |= LG_SHADOW_APP_PARAMS;
      i += 2 + p[i + 1];
    } else {
      return LG_EINVAL;
    }
  }
  lg_shadow_merge(c, &r);
  return 0;
}
