/*
 * /api/multicast-groups: multicast groups (McAddr, McNwkSKey, McAppSKey, frequency and
 * data rate: the region's RX2 by default), their member devices and their queue. A group's
 * downlink is queued here and sent by the packet path at once (ns/classc.c), as Class C,
 * through the gateways that reach its members. Names follow ChirpStack's multicast groups
 * in snake case.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "lora/lora.h"
#include "ns/ns.h"
#include "store/store.h"
#include "util/util.h"

static json_t *error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *error(const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  return json_pack("{s:s}", "error", msg);
}

static int hex_key(json_t *b, const char *key, uint8_t *out, size_t bytes) {
  json_t *v = json_object_get(b, key);
  size_t n = 0;
  if (!json_is_string(v) || json_string_length(v) != 2 * bytes) return -1;
  return lg_hex_decode(json_string_value(v), 2 * bytes, out, bytes, &n);
}

/* A group from a POST body, checked against the region; NULL or the error object. */
static json_t *parse_group(json_t *b, const struct lg_region *r, struct lg_mcast_group *g) {
  static const char *const known[] = {"name",         "mc_addr",   "mc_nwk_s_key",
                                      "mc_app_s_key", "frequency", "dr",
                                      "f_cnt"};
  const char *key;
  json_t *v;
  json_object_foreach(b, key, v) {
    bool ok = false;
    for (size_t i = 0; i < LG_ARRAY_LEN(known); i++)
      ok |= strcmp(key, known[i]) == 0;
    if (!ok) return error("unknown field '%.60s'", key);
  }
  memset(g, 0, sizeof(*g));
  g->dr = -1;
  v = json_object_get(b, "name");
  if (v && (!json_is_string(v) || json_string_length(v) >= sizeof(g->name)))
    return error("name: expected a string of at most 63 characters");
  if (v) snprintf(g->name, sizeof(g->name), "%s", json_string_value(v));
  uint8_t a[4];
  if (hex_key(b, "mc_addr", a, 4)) return error("mc_addr: expected 8 hex digits");
  g->mc_addr = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
  if (hex_key(b, "mc_nwk_s_key", g->nwk_s_key, 16))
    return error("mc_nwk_s_key: expected 32 hex digits");
  if (hex_key(b, "mc_app_s_key", g->app_s_key, 16))
    return error("mc_app_s_key: expected 32 hex digits");
  v = json_object_get(b, "frequency");
  if (v) {
    json_int_t f = json_is_integer(v) ? json_integer_value(v) : -1;
    if (f < (json_int_t)r->freq_min_hz || f > (json_int_t)r->freq_max_hz)
      return error("frequency: expected Hz within the band of %s", r->name);
    g->freq_hz = (uint32_t)f;
  }
  v = json_object_get(b, "dr");
  if (v) {
    json_int_t d = json_is_integer(v) ? json_integer_value(v) : -1;
    const struct lg_datarate *dr = d >= 0 && d < 16 ? lg_region_dr(r, (int)d) : NULL;
    if (dr == NULL || dr->mod != LG_MOD_LORA)
      return error("dr: expected a LoRa data rate of %s", r->name);
    g->dr = (int)d;
  }
  v = json_object_get(b, "f_cnt");
  if (v) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0xffffffffLL)
      return error("f_cnt: expected 0..4294967295");
    g->f_cnt = (uint32_t)json_integer_value(v);
  }
  return NULL;
}

static int parse_eui(const char *s, uint64_t *eui) {
  uint8_t b[8];
  size_t n = 0;
  if (s == NULL || strlen(s) != 16 || lg_hex_decode(s, 16, b, 8, &n)) return -1;
  *eui = 0;
  for (int i = 0; i < 8; i++)
    *eui = (*eui << 8) | b[i];
  return 0;
}

static int storage_failed(json_t **out) {
  *out = error("storage failed");
  return 500;
}

/* /api/multicast-groups/{id}[/sub...] */
static int one_group(struct lg_store *s, int64_t id, const char *sub, const char *method,
                     json_t *b, int64_t now_ns, json_t **out) {
  bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0,
       del = strcmp(method, "DELETE") == 0;
  struct lg_mcast_group g;
  int rc = lg_store_mcast_get(s, id, &g);
  if (rc == LG_ENOTFOUND) return *out = error("no multicast group %lld", (long long)id), 404;
  if (rc && !(del && !*sub)) return storage_failed(out); /* (keys that do not unwrap) */
  if (!*sub) {
    if (get) return (*out = lg_store_mcast_json(s, id)) ? 200 : storage_failed(out);
    if (del) {
      rc = lg_store_mcast_delete(s, id);
      if (rc) return rc == LG_ENOTFOUND ? (*out = error("no multicast group"), 404)
                                        : storage_failed(out);
      return *out = json_object(), 200;
    }
    return *out = error("use GET or DELETE"), 405;
  }
  if (strcmp(sub, "devices") == 0 && post) {
    uint64_t eui = 0;
    json_t *v = json_object_get(b, "dev_eui");
    if (!json_is_string(v) || parse_eui(json_string_value(v), &eui))
      return *out = error("dev_eui: expected 16 hex digits"), 400;
    struct lg_device_rec d;
    if (lg_store_device_get(s, eui, &d) != 0)
      return *out = error("no device %s", json_string_value(v)), 404;
    if (lg_store_mcast_member(s, id, eui, true)) return storage_failed(out);
    return (*out = lg_store_mcast_json(s, id)) ? 200 : storage_failed(out);
  }
  uint64_t eui = 0;
  if (strncmp(sub, "devices/", 8) == 0 && del) {
    if (parse_eui(sub + 8, &eui)) return *out = error("DevEUI: expected 16 hex digits"), 400;
    rc = lg_store_mcast_member(s, id, eui, false);
    if (rc == LG_ENOTFOUND) return *out = error("%s is not a member", sub + 8), 404;
    if (rc) return storage_failed(out);
    return (*out = lg_store_mcast_json(s, id)) ? 200 : storage_failed(out);
  }
  if (strcmp(sub, "queue") == 0 && post) {
    struct lg_queue_item q;
    char why[128];
    if (lg_queue_item_parse(b, &q, why, sizeof(why))) return *out = error("%s", why), 400;
    if (q.confirmed)
      return *out = error("confirmed: a multicast downlink cannot be acknowledged"), 400;
    if (lg_store_mcast_queue_push(s, id, q.f_port, q.data, q.len, now_ns))
      return storage_failed(out);
    return *out = json_pack("{s:b, s:I}", "queued", 1, "bytes", (json_int_t)q.len), 202;
  }
  return *out = error("no such resource under this group: %.60s", sub), 404;
}

int lg_api_multicast(struct lg_store *s, const struct lg_region *region, const char *url,
                     const char *method, json_t *b, int64_t now_ns, json_t **out) {
  const char *rest = url + strlen("/api/multicast-groups");
  if (*rest == '\0') {
    if (strcmp(method, "GET") == 0)
      return (*out = lg_store_mcasts_json(s, 0, 10000)) ? 200 : storage_failed(out);
    if (strcmp(method, "POST") != 0) return *out = error("use GET or POST"), 405;
    struct lg_mcast_group g;
    if ((*out = parse_group(b, region, &g)) != NULL) return 400;
    if (lg_store_mcast_put(s, &g, now_ns)) return storage_failed(out);
    return (*out = lg_store_mcast_json(s, g.id)) ? 201 : storage_failed(out);
  }
  if (*rest != '/') return *out = error("no such resource: %.80s", url), 404;
  char *end = NULL;
  long long id = strtoll(rest + 1, &end, 10);
  if (end == rest + 1 || id <= 0 || (*end && *end != '/'))
    return *out = error("multicast group id: expected a positive integer"), 400;
  return one_group(s, id, *end ? end + 1 : "", method, b, now_ns, out);
}
