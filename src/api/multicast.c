/*
 * /api/multicast-groups: multicast groups (McAddr, McNwkSKey, McAppSKey, frequency and
 * data rate: the region's RX2 by default), their member devices and their queue. A group's
 * downlink is queued here and sent by the packet path at once (ns/classc.c), as Class C,
 * through the gateways that reach its members. Names follow ChirpStack's multicast groups
 * in snake case. Admin keys only (routes.c).
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "lora/lora.h"
#include "ns/ns.h"
#include "store/store.h"
#include "util/util.h"

static int storage_failed(json_t **out) {
  return lg_api_fail(out, 500, "storage failed");
}

/* A group from a POST body, checked against the region: 0, or the answer. */
static int parse_group(json_t *b, const struct lg_region *r, struct lg_mcast_group *g,
                       json_t **out) {
  static const char *const known[] = {"name",      "mc_addr", "mc_nwk_s_key", "mc_app_s_key",
                                      "frequency", "dr",      "f_cnt"};
  char why[300];
  if (lg_api_known_keys(b, known, LG_ARRAY_LEN(known), why, sizeof(why)))
    return lg_api_fail(out, 400, "%s", why);
  memset(g, 0, sizeof(*g));
  g->dr = -1;
  json_t *v = json_object_get(b, "name");
  if (v && (!json_is_string(v) || json_string_length(v) >= sizeof(g->name)))
    return lg_api_fail(out, 400, "name: expected a string of at most 63 characters");
  if (v) snprintf(g->name, sizeof(g->name), "%s", json_string_value(v));
  uint8_t a[4];
  if (lg_api_hex_key(b, "mc_addr", a, 4))
    return lg_api_fail(out, 400, "mc_addr: expected 8 hex digits");
  g->mc_addr = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
  if (lg_api_hex_key(b, "mc_nwk_s_key", g->nwk_s_key, 16))
    return lg_api_fail(out, 400, "mc_nwk_s_key: expected 32 hex digits");
  if (lg_api_hex_key(b, "mc_app_s_key", g->app_s_key, 16))
    return lg_api_fail(out, 400, "mc_app_s_key: expected 32 hex digits");
  if ((v = json_object_get(b, "frequency"))) {
    json_int_t f = json_is_integer(v) ? json_integer_value(v) : -1;
    if (f < (json_int_t)r->freq_min_hz || f > (json_int_t)r->freq_max_hz)
      return lg_api_fail(out, 400, "frequency: expected Hz within the band of %s", r->name);
    g->freq_hz = (uint32_t)f;
  }
  if ((v = json_object_get(b, "dr"))) {
    json_int_t d = json_is_integer(v) ? json_integer_value(v) : -1;
    const struct lg_datarate *dr = d >= 0 && d < 16 ? lg_region_dr(r, (int)d) : NULL;
    if (dr == NULL || dr->mod != LG_MOD_LORA)
      return lg_api_fail(out, 400, "dr: expected a LoRa data rate of %s", r->name);
    g->dr = (int)d;
  }
  if ((v = json_object_get(b, "f_cnt"))) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 0xffffffffLL)
      return lg_api_fail(out, 400, "f_cnt: expected 0..4294967295");
    g->f_cnt = (uint32_t)json_integer_value(v);
  }
  return 0;
}

/* The group in the path: 0 (its id in *id), or the answer. */
static int group_of(struct lg_api_req *r, int64_t *id, json_t **out) {
  struct lg_mcast_group g;
  if (lg_api_id(r->var[0], id))
    return lg_api_fail(out, 400, "multicast group id: expected a positive integer");
  int rc = lg_store_mcast_get(r->store, *id, &g);
  if (rc == LG_ENOTFOUND) return lg_api_fail(out, 404, "no multicast group %lld", (long long)*id);
  return rc && !lg_api_is(r, "DELETE") ? storage_failed(out) : 0; /* (keys that do not unwrap) */
}

/* GET (a page), POST /api/multicast-groups */
int lg_api_mcasts(struct lg_api_req *r, json_t **out) {
  if (lg_api_is(r, "GET")) {
    int limit, bad;
    const char *after;
    int64_t from = 0;
    if ((bad = lg_api_page(r, 1000, &limit, &after, out))) return bad;
    if (after && lg_api_id(after, &from))
      return lg_api_fail(out, 400, "after: expected the \"next\" of the page before (an id)");
    *out = lg_store_mcasts_json(r->store, from, limit);
    return *out ? 200 : storage_failed(out);
  }
  struct lg_mcast_group g;
  int bad = parse_group(r->body, r->region, &g, out);
  if (bad) return bad;
  if (lg_store_mcast_put(r->store, &g, r->now_ns)) return storage_failed(out);
  return (*out = lg_store_mcast_json(r->store, g.id)) ? 201 : storage_failed(out);
}

/* GET, DELETE /api/multicast-groups/{id} */
int lg_api_mcast(struct lg_api_req *r, json_t **out) {
  int64_t id;
  int bad = group_of(r, &id, out);
  if (bad) return bad;
  if (lg_api_is(r, "GET"))
    return (*out = lg_store_mcast_json(r->store, id)) ? 200 : storage_failed(out);
  int rc = lg_store_mcast_delete(r->store, id);
  if (rc == LG_ENOTFOUND) return lg_api_fail(out, 404, "no multicast group %lld", (long long)id);
  return rc ? storage_failed(out) : (*out = json_object(), 200);
}

/* POST .../{id}/devices {"dev_eui"}, DELETE .../{id}/devices/{dev_eui} */
int lg_api_mcast_member(struct lg_api_req *r, json_t **out) {
  int64_t id;
  uint64_t eui = 0;
  int bad = group_of(r, &id, out);
  if (bad) return bad;
  bool add = lg_api_is(r, "POST");
  const char *s = add ? json_string_value(json_object_get(r->body, "dev_eui")) : r->var[1];
  if (lg_api_eui(s, &eui)) return lg_api_fail(out, 400, "dev_eui: expected 16 hex digits");
  struct lg_device_rec d;
  if (add && lg_store_device_get(r->store, eui, &d) != 0)
    return lg_api_fail(out, 404, "no device %s", s);
  int rc = lg_store_mcast_member(r->store, id, eui, add);
  if (rc == LG_ENOTFOUND) return lg_api_fail(out, 404, "%s is not a member", s);
  if (rc) return storage_failed(out);
  return (*out = lg_store_mcast_json(r->store, id)) ? 200 : storage_failed(out);
}

/* POST .../{id}/queue {"f_port", "data"}: sent at once to every member */
int lg_api_mcast_queue(struct lg_api_req *r, json_t **out) {
  int64_t id;
  int bad = group_of(r, &id, out);
  if (bad) return bad;
  struct lg_queue_item q;
  char why[128];
  if (lg_queue_item_parse(r->body, &q, why, sizeof(why))) return lg_api_fail(out, 400, "%s", why);
  if (q.confirmed)
    return lg_api_fail(out, 400, "confirmed: a multicast downlink cannot be acknowledged");
  if (lg_store_mcast_queue_push(r->store, id, q.f_port, q.data, q.len, r->now_ns))
    return storage_failed(out);
  *out = json_pack("{s:b, s:I}", "queued", 1, "bytes", (json_int_t)q.len);
  return 202;
}
