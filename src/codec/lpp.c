/*
 * Cayenne LPP as JSON (codec.h): every {channel, type, value} item of a payload into
 * ChirpStack's object shape, one member per type holding one member per channel —
 * {"temperatureSensor": {"3": 27.2}, "gpsLocation": {"1": {"latitude": .., ...}}} —
 * and the same shape back into bytes for downlinks.
 *
 * Types, sizes, scales and signedness: the Cayenne LPP reference (myDevices, IPSO object
 * id - 3200) for the original twelve types, and the extended types of the ElectronicCats
 * CayenneLPP library (src/CayenneLPP.h: generic sensor 100, voltage 116, current 117,
 * frequency 118, percentage 120, altitude 121, concentration 125 (later 143), power 128,
 * distance 130, energy 131, direction 132, unix time 133, colour 135 (later 144), switch
 * 142) plus the magnetometer 114 (IPSO 3314) that other decoders know. The names of the
 * original types are ChirpStack's; the extended ones follow the same camelCase style.
 * Not supported (refused with the type named): LPP polyline (240, variable size).
 *
 * A value is scale * a big-endian integer of its size; signed types are two's complement.
 * Integral types (scale 1) come out as JSON integers, the others as reals.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "util/util.h"

enum shape { SCALAR, XYZ, GPS, RGB };

struct lpp_type {
  uint8_t id;
  const char *name;
  uint8_t size;   /* value bytes */
  double scale;   /* the integer on air is value * scale */
  bool is_signed; /* two's complement */
  enum shape shape;
};

static const struct lpp_type types[] = {
    {0, "digitalInput", 1, 1, false, SCALAR},
    {1, "digitalOutput", 1, 1, false, SCALAR},
    {2, "analogInput", 2, 100, true, SCALAR},
    {3, "analogOutput", 2, 100, true, SCALAR},
    {100, "genericSensor", 4, 1, false, SCALAR},
    {101, "illuminanceSensor", 2, 1, false, SCALAR},
    {102, "presenceSensor", 1, 1, false, SCALAR},
    {103, "temperatureSensor", 2, 10, true, SCALAR},
    {104, "humiditySensor", 1, 2, false, SCALAR},
    {113, "accelerometer", 6, 1000, true, XYZ},
    {114, "magnetometer", 6, 1000, true, XYZ},
    {115, "barometer", 2, 10, false, SCALAR},
    {116, "voltage", 2, 100, false, SCALAR},
    {117, "current", 2, 1000, false, SCALAR},
    {118, "frequency", 4, 1, false, SCALAR},
    {120, "percentage", 1, 1, false, SCALAR},
    {121, "altitude", 2, 1, true, SCALAR},
    {125, "concentration", 2, 1, false, SCALAR},
    {128, "power", 2, 1, false, SCALAR},
    {130, "distance", 4, 1000, false, SCALAR},
    {131, "energy", 4, 1000, false, SCALAR},
    {132, "direction", 2, 1, false, SCALAR},
    {133, "unixTime", 4, 1, false, SCALAR},
    {134, "gyrometer", 6, 100, true, XYZ},
    {135, "colour", 3, 1, false, RGB},
    {136, "gpsLocation", 9, 0, true, GPS},
    {142, "switch", 1, 1, false, SCALAR},
    {143, "concentration", 2, 1, false, SCALAR}, /* the later id; encoded as 125 */
    {144, "colour", 3, 1, false, RGB},           /* the later id; encoded as 135 */
};
#define N_TYPES (sizeof(types) / sizeof(types[0]))

static const struct lpp_type *type_of(uint8_t id) {
  for (size_t i = 0; i < N_TYPES; i++)
    if (types[i].id == id) return &types[i];
  return NULL;
}

static const struct lpp_type *type_named(const char *name) {
  for (size_t i = 0; i < N_TYPES; i++)
    if (strcmp(types[i].name, name) == 0) return &types[i];
  return NULL;
}

/* A big-endian integer of n (1..4) bytes, sign-extended when is_signed. */
static int64_t get_be(const uint8_t *b, size_t n, bool is_signed) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++)
    v = v << 8 | b[i];
  if (is_signed && (v >> (8 * n - 1)) & 1) return (int64_t)v - ((int64_t)1 << (8 * n));
  return (int64_t)v;
}

static json_t *number(int64_t raw, double scale) {
  return scale == 1 ? json_integer((json_int_t)raw) : json_real((double)raw / scale);
}

static json_t *value_json(const struct lpp_type *t, const uint8_t *v) {
  switch (t->shape) {
  case XYZ:
    return json_pack("{s:o, s:o, s:o}", "x", number(get_be(v, 2, true), t->scale), "y",
                     number(get_be(v + 2, 2, true), t->scale), "z",
                     number(get_be(v + 4, 2, true), t->scale));
  case GPS:
    return json_pack("{s:f, s:f, s:f}", "latitude", (double)get_be(v, 3, true) / 1e4,
                     "longitude", (double)get_be(v + 3, 3, true) / 1e4, "altitude",
                     (double)get_be(v + 6, 3, true) / 1e2);
  case RGB: return json_pack("{s:i, s:i, s:i}", "r", v[0], "g", v[1], "b", v[2]);
  case SCALAR:
  default: return number(get_be(v, t->size, t->is_signed), t->scale);
  }
}

int lg_codec_lpp_decode(const uint8_t *p, size_t n, json_t **out, char *why, size_t why_len) {
  json_t *obj = json_object();
  if (obj == NULL) return LG_ENOMEM;
  size_t i = 0;
  while (i < n) {
    if (n - i < 2) {
      snprintf(why, why_len, "LPP: a lone byte at offset %zu", i);
      json_decref(obj);
      return LG_EINVAL;
    }
    uint8_t channel = p[i], id = p[i + 1];
    const struct lpp_type *t = type_of(id);
    if (t == NULL) {
      snprintf(why, why_len, "LPP: unknown type %u at offset %zu", id, i + 1);
      json_decref(obj);
      return LG_EINVAL;
    }
    if (n - i - 2 < t->size) {
      snprintf(why, why_len, "LPP: %s (type %u) at offset %zu needs %u bytes, %zu left", t->name,
               id, i, t->size, n - i - 2);
      json_decref(obj);
      return LG_EINVAL;
    }
    json_t *group = json_object_get(obj, t->name);
    if (group == NULL) {
      group = json_object();
      json_object_set_new(obj, t->name, group);
    }
    char ch[4];
    snprintf(ch, sizeof(ch), "%u", channel);
    json_object_set_new(group, ch, value_json(t, p + i + 2));
    i += 2 + (size_t)t->size;
  }
  *out = obj;
  return 0;
}

/* ---- encoding --------------------------------------------------------------------- */

/* value * scale rounded into n bytes at b; LG_EINVAL when it does not fit. */
static int put_be(uint8_t *b, size_t n, bool is_signed, double value, double scale) {
  double r = round(value * scale);
  double lo = is_signed ? -ldexp(1, (int)(8 * n - 1)) : 0;
  double hi = is_signed ? ldexp(1, (int)(8 * n - 1)) - 1 : ldexp(1, (int)(8 * n)) - 1;
  if (!(r >= lo && r <= hi)) return LG_EINVAL;
  uint64_t v = (uint64_t)(int64_t)r;
  for (size_t k = 0; k < n; k++)
    b[n - 1 - k] = (uint8_t)(v >> (8 * k));
  return 0;
}

static int member_number(json_t *o, const char *key, double *v) {
  json_t *m = json_object_get(o, key);
  if (!json_is_number(m)) return LG_EINVAL;
  *v = json_number_value(m);
  return 0;
}

static int encode_value(const struct lpp_type *t, json_t *val, uint8_t *b, char *why,
                        size_t why_len, const char *ch) {
  static const char *const xyz[] = {"x", "y", "z"}, *const gps[] = {"latitude", "longitude",
                                                                     "altitude"},
                           *const rgb[] = {"r", "g", "b"};
  const char *const *keys = t->shape == XYZ ? xyz : t->shape == GPS ? gps : rgb;
  double v;
  if (t->shape == SCALAR) {
    if (!json_is_number(val) || put_be(b, t->size, t->is_signed, json_number_value(val), t->scale)) {
      snprintf(why, why_len, "LPP: %s channel %s: a number in the type's range expected", t->name,
               ch);
      return LG_EINVAL;
    }
    return 0;
  }
  for (int k = 0; k < 3; k++) {
    size_t w = t->shape == GPS ? 3 : t->shape == RGB ? 1 : 2;
    double scale = t->shape == GPS ? (k < 2 ? 1e4 : 1e2) : t->scale;
    if (!json_is_object(val) || member_number(val, keys[k], &v) ||
        put_be(b + (size_t)k * w, w, t->is_signed, v, scale)) {
      snprintf(why, why_len, "LPP: %s channel %s: {%s, %s, %s} in the type's range expected",
               t->name, ch, keys[0], keys[1], keys[2]);
      return LG_EINVAL;
    }
  }
  return 0;
}

int lg_codec_lpp_encode(json_t *obj, uint8_t *out, size_t cap, size_t *len, char *why,
                        size_t why_len) {
  if (!json_is_object(obj)) {
    snprintf(why, why_len, "LPP: an object of types expected");
    return LG_EINVAL;
  }
  size_t n = 0;
  const char *name;
  json_t *group;
  json_object_foreach(obj, name, group) {
    const struct lpp_type *t = type_named(name);
    if (t == NULL) {
      snprintf(why, why_len, "LPP: unknown type name '%s'", name);
      return LG_EINVAL;
    }
    if (!json_is_object(group)) {
      snprintf(why, why_len, "LPP: %s: an object of channels expected", name);
      return LG_EINVAL;
    }
    const char *ch;
    json_t *val;
    json_object_foreach(group, ch, val) {
      char *end;
      long c = strtol(ch, &end, 10);
      if (*ch == '\0' || *end || c < 0 || c > 255) {
        snprintf(why, why_len, "LPP: %s: channel '%s' is not 0..255", name, ch);
        return LG_EINVAL;
      }
      if (cap - n < 2 + (size_t)t->size) {
        snprintf(why, why_len, "LPP: more than %zu bytes", cap);
        return LG_ENOSPC;
      }
      out[n] = (uint8_t)c;
      out[n + 1] = t->id;
      int rc = encode_value(t, val, out + n + 2, why, why_len, ch);
      if (rc) return rc;
      n += 2 + (size_t)t->size;
    }
  }
  *len = n;
  return 0;
}
