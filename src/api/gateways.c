/*
 * /api/gateways (any key reads them; only an admin writes: a gateway serves every
 * application) and /api/map, the web map's gateways and device tracks (an application's
 * key sees its own devices' tracks only).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"
#include "util/util.h"

static const char *const gateway_keys[] = {"gateway_eui",      "name",          "latitude",
                                           "longitude",        "altitude",      "timing_offset_ns",
                                           "station_token",    "position_from_gateway"};

#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), -1)

int lg_api_parse_gateway(json_t *b, struct lg_gateway_rec *g, char *why, size_t why_len) {
  memset(g, 0, sizeof(*g));
  if (lg_api_known_keys(b, gateway_keys, LG_ARRAY_LEN(gateway_keys), why, why_len))
    return LG_EINVAL;
  json_t *eui = json_object_get(b, "gateway_eui");
  if (!json_is_string(eui) || lg_api_eui(json_string_value(eui), &g->eui) || g->eui == 0)
    return WHY("gateway_eui: expected 16 hex digits, not all zero");
  json_t *name = json_object_get(b, "name");
  if (name && (!json_is_string(name) || json_string_length(name) >= sizeof(g->name)))
    return WHY("name: expected a string of at most %zu characters", sizeof(g->name) - 1);
  if (name) snprintf(g->name, sizeof(g->name), "%s", json_string_value(name));
  json_t *lat = json_object_get(b, "latitude"), *lon = json_object_get(b, "longitude"),
         *alt = json_object_get(b, "altitude");
  if ((lat && !json_is_null(lat)) || (lon && !json_is_null(lon))) {
    if (!json_is_number(lat) || !json_is_number(lon) || fabs(json_number_value(lat)) > 90 ||
        fabs(json_number_value(lon)) > 180)
      return WHY("latitude and longitude: expected numbers in [-90, 90] and [-180, 180]");
    if (alt && !json_is_null(alt) &&
        (!json_is_number(alt) || fabs(json_number_value(alt)) > 20000))
      return WHY("altitude: expected metres in [-20000, 20000]");
    g->has_position = true;
    g->lat_deg = json_number_value(lat);
    g->lon_deg = json_number_value(lon);
    g->alt_m = alt && json_is_number(alt) ? json_number_value(alt) : 0;
  }
  json_t *off = json_object_get(b, "timing_offset_ns");
  if (off && (!json_is_number(off) || fabs(json_number_value(off)) > 1e6))
    return WHY("timing_offset_ns: expected a number of ns in [-1e6, 1e6]");
  g->timing_offset_ns = off ? json_number_value(off) : 0;
  /* A Basics Station's bearer token: kept as its hash, never returned (GET says
   * has_station_token); "" or null clears it; absent leaves the stored one. */
  json_t *tok = json_object_get(b, "station_token");
  if (tok && !json_is_null(tok) &&
      (!json_is_string(tok) || (json_string_length(tok) != 0 &&
                                (json_string_length(tok) < 16 || json_string_length(tok) > 512))))
    return WHY("station_token: expected a string of 16..512 characters (\"\" or null clears it)");
  if (tok) {
    g->set_station_token = true;
    if (json_is_string(tok) && json_string_length(tok))
      lg_store_token_hash(json_string_value(tok), json_string_length(tok), g->station_token_hash);
  }
  json_t *from_gw = json_object_get(b, "position_from_gateway");
  if (from_gw && !json_is_boolean(from_gw))
    return WHY("position_from_gateway: expected true or false");
  g->position_from_gateway = from_gw && json_is_true(from_gw);
  return 0;
}

/* Each gateway's "online": seen (a stat, PULL_DATA or uplink) within [api] gateway_online_s. */
static json_t *with_online(const struct lg_api_req *r, json_t *gws) {
  size_t i;
  json_t *g;
  int64_t window_ns = (int64_t)r->cfg->api_gateway_online_s * 1000000000LL;
  json_t *list = json_is_array(gws) ? gws : NULL;
  if (list == NULL && gws) { /* one gateway */
    json_t *seen = json_object_get(gws, "last_seen_ns");
    json_object_set_new(gws, "online", json_boolean(json_is_integer(seen) &&
                                                    r->now_ns - json_integer_value(seen) <= window_ns));
    return gws;
  }
  json_array_foreach(list, i, g) with_online(r, g);
  return gws;
}

/* ?q: a part of the EUI or the name (at most 64 characters); a 400 answer when longer. */
static int search_arg(struct lg_api_req *r, const char **q, json_t **out) {
  *q = r->query(r->query_cls, "q");
  if (*q && strlen(*q) > 64)
    return lg_api_fail(out, 400, "q: expected at most 64 characters (a part of an EUI or a name)");
  return 0;
}

static int gateway_written(struct lg_api_req *r, uint64_t eui, int status, json_t **out) {
  if (r->gateways_changed) atomic_fetch_add(r->gateways_changed, 1);
  *out = with_online(r, lg_store_gateway_json(r->store, eui));
  return *out ? status : lg_api_fail(out, 500, "storage failed");
}

int lg_api_gateways(struct lg_api_req *r, json_t **out) {
  if (lg_api_is(r, "POST")) {
    struct lg_gateway_rec g;
    char why[300];
    if (lg_api_parse_gateway(r->body, &g, why, sizeof(why)))
      return lg_api_fail(out, 400, "%s", why);
    if (lg_store_gateway_put(r->store, &g)) return lg_api_fail(out, 500, "storage failed");
    return gateway_written(r, g.eui, 201, out);
  }
  int limit, bad;
  const char *after, *q;
  uint64_t from = 0;
  if ((bad = lg_api_page(r, 1000, &limit, &after, out)) || (bad = search_arg(r, &q, out))) return bad;
  if (after && lg_api_eui(after, &from))
    return lg_api_fail(out, 400, "after: expected a gateway EUI (the \"next\" of the page before)");
  *out = lg_store_gateways_page_json(r->store, after ? &from : NULL, limit, q);
  if (*out) with_online(r, json_object_get(*out, "items"));
  return *out ? 200 : lg_api_fail(out, 500, "storage failed");
}

/* PATCH: the fields given replace the stored ones; the others stay (the station token
 * too, unless given). */
static int patch_gateway(struct lg_api_req *r, uint64_t eui, json_t *cur, json_t **out) {
  static const char *const keep[] = {"name", "latitude", "longitude", "altitude",
                                     "timing_offset_ns", "position_from_gateway"};
  char why[300];
  if (lg_api_known_keys(r->body, gateway_keys, LG_ARRAY_LEN(gateway_keys), why, sizeof(why)))
    return lg_api_fail(out, 400, "%s", why);
  json_t *v = json_object_get(r->body, "gateway_eui");
  uint64_t other;
  if (v && (!json_is_string(v) || lg_api_eui(json_string_value(v), &other) || other != eui))
    return lg_api_fail(out, 400, "gateway_eui cannot change: it names the gateway (POST a new "
                                 "one)");
  json_t *m = json_object();
  for (size_t i = 0; i < LG_ARRAY_LEN(keep); i++) {
    json_t *x = json_object_get(cur, keep[i]);
    if (x && !json_is_null(x)) json_object_set(m, keep[i], x);
  }
  json_object_update(m, r->body);
  json_object_set(m, "gateway_eui", json_object_get(cur, "gateway_eui"));
  struct lg_gateway_rec g;
  int bad = lg_api_parse_gateway(m, &g, why, sizeof(why));
  json_decref(m);
  if (bad) return lg_api_fail(out, 400, "%s", why);
  if (lg_store_gateway_put(r->store, &g)) return lg_api_fail(out, 500, "storage failed");
  return gateway_written(r, eui, 200, out);
}

int lg_api_gateway(struct lg_api_req *r, json_t **out) {
  uint64_t eui;
  if (lg_api_eui(r->var[0], &eui))
    return lg_api_fail(out, 400, "gateway EUI: expected 16 hex digits");
  json_t *cur = lg_store_gateway_json(r->store, eui);
  if (cur == NULL) return lg_api_fail(out, 404, "no gateway %s", r->var[0]);
  int status = 200;
  if (lg_api_is(r, "GET")) {
    *out = with_online(r, json_incref(cur));
  } else if (lg_api_is(r, "DELETE")) {
    int rc = lg_store_gateway_delete(r->store, eui);
    if (rc == 0 && r->gateways_changed) atomic_fetch_add(r->gateways_changed, 1);
    status = rc ? lg_api_fail(out, 500, "storage failed") : (*out = json_object(), 200);
  } else {
    status = patch_gateway(r, eui, cur, out);
  }
  json_decref(cur);
  return status;
}

/* GET /api/gateways/{gateway_eui}/links: what ADR learned of the gateway's links, per cell
 * of the network's plane (docs/adr.md, the link map): the cell's centre, the uplinks heard
 * and missed there, and where it has enough the law of RSSI - TX power (level_db, sigma_db;
 * null before). */
int lg_api_gateway_links(struct lg_api_req *r, json_t **out) {
  uint64_t eui;
  if (lg_api_eui(r->var[0], &eui))
    return lg_api_fail(out, 400, "gateway EUI: expected 16 hex digits");
  json_t *cur = lg_store_gateway_json(r->store, eui);
  if (cur == NULL) return lg_api_fail(out, 404, "no gateway %s", r->var[0]);
  json_decref(cur);
  enum { CAP = 4096 };
  struct lg_ns_link_cell *c = malloc(CAP * sizeof(*c));
  if (c == NULL) return lg_api_fail(out, 500, "out of memory");
  double cell_m = 0;
  size_t total = r->links ? lg_ns_link_cells(r->links, eui, c, CAP, &cell_m) : 0;
  json_t *items = json_array();
  for (size_t i = 0; i < total && i < CAP; i++)
    json_array_append_new(
        items, json_pack("{s:f, s:f, s:I, s:I, s:o, s:o}", "latitude", round(c[i].lat_deg * 1e7) / 1e7,
                         "longitude", round(c[i].lon_deg * 1e7) / 1e7, "heard", (json_int_t)c[i].heard,
                         "missed", (json_int_t)llround(c[i].missed), "level_db",
                         c[i].has_law ? json_real(round(c[i].level_db * 10) / 10) : json_null(),
                         "sigma_db", c[i].has_law ? json_real(round(c[i].sigma_db * 10) / 10) : json_null()));
  free(c);
  char name[17];
  snprintf(name, sizeof(name), "%016llx", (unsigned long long)eui);
  *out = json_pack("{s:s, s:f, s:I, s:o}", "gateway_eui", name, "cell_m", cell_m, "total",
                   (json_int_t)total, "items", items);
  return 200;
}

/* GET /api/map: gateways and the tracks of the devices the scope sees (20 positions each). */
int lg_api_map(struct lg_api_req *r, json_t **out) {
  const char *v = r->query(r->query_cls, "since");
  char *end = NULL;
  long long since = v ? strtoll(v, &end, 10) : 0;
  if (v && (end == v || *end || since < 0))
    return lg_api_fail(out, 400, "since: expected a location id (0 or more)");
  json_t *gws = lg_store_gateways_json(r->store), *devs = lg_store_tracks_json(r->store, 20, since);
  if (gws == NULL || devs == NULL) {
    json_decref(gws);
    json_decref(devs);
    return lg_api_fail(out, 500, "storage failed");
  }
  with_online(r, json_object_get(gws, "items"));
  json_t *items = json_object_get(devs, "items");
  for (size_t i = 0; !lg_api_admin(r) && i < json_array_size(items);) {
    uint64_t eui = 0;
    struct lg_device_rec d;
    lg_api_eui(json_string_value(json_object_get(json_array_get(items, i), "dev_eui")), &eui);
    int rc = lg_store_device_get(r->store, eui, &d);
    if ((rc == 0 || rc == LG_ECRYPTO) && d.application_id == r->scope.application_id)
      i++;
    else
      json_array_remove(items, i);
  }
  *out = json_pack("{s:O, s:O, s:O}", "gateways", json_object_get(gws, "items"), "devices", items,
                   "last_id", json_object_get(devs, "last_id"));
  json_decref(gws);
  json_decref(devs);
  return 200;
}
