/*
 * /api/devices: provisioning (POST, also `lorageo device add` through
 * lg_api_parse_device), paged lists with filters, PATCH, the device's own lists and its
 * downlink queue.
 *
 * A device belongs to an application (the default, 1, when none is given) and may take a
 * device profile. Its adr, class and reference come from the profile unless the device
 * sets its own: a field given in the POST (or a PATCH) is the device's own; one left out,
 * or set to null by a PATCH, is its profile's (struct lg_device_rec's inherit). What names
 * the device or its session (dev_eui, OTAA or ABP, keys, DevAddr) never changes through
 * PATCH: a new session would need new counters, and the counters belong to the session.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adr/adr.h"
#include "api/api.h"
#include "api/api_int.h"
#include "codec/codec.h"
#include "ns/ns.h"
#include "util/util.h"

static const char *const device_keys[] = {
    "dev_eui",   "name",      "adr",       "class",    "reference",           "join_eui",
    "app_key",   "dev_addr",  "nwk_s_key", "app_s_key", "fcnt_resets_allowed", "application_id",
    "profile_id", "tags",     "hardware",  "firmware", "lifecycle"};

#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), -1)

/* adr, class and reference of b into d: given, the device's own (its inherit bit
 * cleared); null or absent when `absent_inherits`, its profile's. */
static int parse_settings(json_t *b, struct lg_device_rec *d, bool absent_inherits, char *why,
                          size_t why_len) {
  static const struct {
    const char *key;
    unsigned bit;
  } fields[] = {{"adr", LG_INHERIT_ADR}, {"class", LG_INHERIT_CLASS},
                {"reference", LG_INHERIT_REFERENCE}};
  for (size_t i = 0; i < LG_ARRAY_LEN(fields); i++) {
    json_t *v = json_object_get(b, fields[i].key);
    if (v == NULL && !absent_inherits) continue;
    if (v == NULL || json_is_null(v)) {
      d->inherit |= fields[i].bit;
      continue;
    }
    d->inherit &= ~fields[i].bit;
    if (fields[i].bit == LG_INHERIT_ADR) {
      const char *adr = json_string_value(v);
      enum lg_adr_algo a;
      if (adr == NULL || lg_adr_algo_parse(adr, &a) != 0)
        return WHY("adr: expected off, standard, eadr or predictive (null: its profile's)");
      snprintf(d->adr, sizeof(d->adr), "%s", adr);
    } else if (fields[i].bit == LG_INHERIT_CLASS) {
      const char *cls = json_string_value(v);
      if (cls == NULL || (strcmp(cls, "A") && strcmp(cls, "C")))
        return WHY("class: expected \"A\" or \"C\" (Class B is not supported; null: its "
                   "profile's)");
      d->class_c = cls[0] == 'C';
    } else {
      if (!json_is_boolean(v)) return WHY("reference: expected true or false (null: its profile's)");
      d->reference = json_is_true(v); /* its payload carries its GPS position */
    }
  }
  return 0;
}

/* application_id and profile_id (integers >= 1; profile_id null: none). */
static int parse_links(json_t *b, struct lg_device_rec *d, char *why, size_t why_len) {
  json_t *v = json_object_get(b, "application_id");
  if (v) {
    if (!json_is_integer(v) || json_integer_value(v) < 1)
      return WHY("application_id: expected an application's id (an integer >= 1)");
    d->application_id = json_integer_value(v);
  }
  v = json_object_get(b, "profile_id");
  if (v && !json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 1))
    return WHY("profile_id: expected a device profile's id (an integer >= 1) or null");
  if (v) d->profile_id = json_is_null(v) ? 0 : json_integer_value(v);
  return 0;
}

/* A tag's key: 1..32 of [A-Za-z0-9_.-]. */
static bool tag_key_ok(const char *k) {
  size_t n = strlen(k);
  if (n == 0 || n > 32) return false;
  for (size_t i = 0; i < n; i++)
    if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
          (k[i] >= '0' && k[i] <= '9') || k[i] == '_' || k[i] == '-' || k[i] == '.'))
      return false;
  return true;
}

int lg_api_parse_inventory(json_t *b, struct lg_inventory *inv, char *why, size_t why_len) {
  json_t *v = json_object_get(b, "tags");
  if (v) {
    const char *k;
    json_t *x;
    if (!json_is_object(v)) return WHY("tags: expected an object of \"key\": \"value\" strings");
    if (json_object_size(v) > LG_TAGS_MAX) return WHY("tags: at most %d", LG_TAGS_MAX);
    inv->n_tags = 0;
    json_object_foreach(v, k, x) {
      if (!tag_key_ok(k))
        return WHY("tags: key '%.40s': expected 1..32 letters, digits, '_', '-' or '.'", k);
      if (!json_is_string(x) || json_string_length(x) >= sizeof(inv->tags[0].value))
        return WHY("tags.%s: expected a string of at most %zu characters", k,
                   sizeof(inv->tags[0].value) - 1);
      snprintf(inv->tags[inv->n_tags].key, sizeof(inv->tags[0].key), "%s", k);
      snprintf(inv->tags[inv->n_tags].value, sizeof(inv->tags[0].value), "%s", json_string_value(x));
      inv->n_tags++;
    }
  }
  static const char *const text[] = {"hardware", "firmware"};
  for (int i = 0; i < 2; i++) {
    char *dst = i ? inv->firmware : inv->hardware;
    if ((v = json_object_get(b, text[i])) == NULL) continue;
    if (!json_is_string(v) || json_string_length(v) >= sizeof(inv->hardware))
      return WHY("%s: expected a string of at most %zu characters", text[i],
                 sizeof(inv->hardware) - 1);
    snprintf(dst, sizeof(inv->hardware), "%s", json_string_value(v));
  }
  return 0;
}

int lg_api_parse_device(json_t *b, struct lg_device_rec *d, char *why, size_t why_len) {
  memset(d, 0, sizeof(*d));
  snprintf(d->adr, sizeof(d->adr), "off");
  if (lg_api_known_keys(b, device_keys, LG_ARRAY_LEN(device_keys), why, why_len)) return LG_EINVAL;
  if (json_object_get(b, "lifecycle"))
    return WHY("lifecycle: set by the server (provisioned, then active at the first uplink); "
               "PATCH it to \"retired\"");
  struct lg_inventory inv = {0};
  if (lg_api_parse_inventory(b, &inv, why, why_len)) return LG_EINVAL;
  json_t *v = json_object_get(b, "dev_eui");
  if (!json_is_string(v) || lg_api_eui(json_string_value(v), &d->dev_eui))
    return WHY("dev_eui: expected 16 hex digits");
  v = json_object_get(b, "name");
  if (v && (!json_is_string(v) || json_string_length(v) >= sizeof(d->name)))
    return WHY("name: expected a string of at most %zu characters", sizeof(d->name) - 1);
  if (v) snprintf(d->name, sizeof(d->name), "%s", json_string_value(v));
  if (parse_settings(b, d, true, why, why_len) || parse_links(b, d, why, why_len)) return LG_EINVAL;
  bool otaa = json_object_get(b, "app_key") != NULL, abp = json_object_get(b, "dev_addr") != NULL;
  if (otaa == abp)
    return WHY("give either app_key and join_eui (OTAA) or dev_addr, nwk_s_key and app_s_key "
               "(ABP)");
  if (otaa) {
    d->otaa = true;
    v = json_object_get(b, "join_eui");
    if (!json_is_string(v) || lg_api_eui(json_string_value(v), &d->join_eui))
      return WHY("join_eui: expected 16 hex digits");
    if (lg_api_hex_key(b, "app_key", d->app_key, 16))
      return WHY("app_key: expected 32 hex digits");
    if (json_object_get(b, "fcnt_resets_allowed"))
      return WHY("fcnt_resets_allowed: only for ABP devices (an OTAA device's counters restart "
                 "with each join)");
    return 0;
  }
  uint8_t a[4];
  if (lg_api_hex_key(b, "dev_addr", a, 4)) return WHY("dev_addr: expected 8 hex digits");
  d->dev_addr = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
  if (lg_api_hex_key(b, "nwk_s_key", d->nwk_s_key, 16))
    return WHY("nwk_s_key: expected 32 hex digits");
  if (lg_api_hex_key(b, "app_s_key", d->app_s_key, 16))
    return WHY("app_s_key: expected 32 hex digits");
  d->has_session = true;
  v = json_object_get(b, "fcnt_resets_allowed");
  if (v && !json_is_boolean(v)) return WHY("fcnt_resets_allowed: expected true or false");
  d->fcnt_resets_allowed = v && json_is_true(v);
  return 0;
}

/* The application and profile a device names exist, and the key may put a device there. */
static int links_ok(struct lg_api_req *r, const struct lg_device_rec *d, json_t **out) {
  struct lg_app_rec app;
  struct lg_profile_rec p;
  if (!lg_api_admin(r) && d->application_id != r->scope.application_id)
    return lg_api_fail(out, 403, "application_id: this API key is for application %lld only",
                       (long long)r->scope.application_id);
  int rc = lg_store_app_get(r->store, d->application_id, &app);
  if (rc == LG_ENOTFOUND)
    return lg_api_fail(out, 400, "application_id: no application %lld",
                       (long long)d->application_id);
  if (rc == 0 && d->profile_id > 0) {
    rc = lg_store_profile_get(r->store, d->profile_id, &p);
    if (rc == LG_ENOTFOUND)
      return lg_api_fail(out, 400, "profile_id: no device profile %lld", (long long)d->profile_id);
  }
  return rc ? lg_api_fail(out, 500, "storage failed") : 0;
}

static int post_device(struct lg_api_req *r, json_t **out) {
  struct lg_device_rec d, old;
  char why[300];
  if (lg_api_parse_device(r->body, &d, why, sizeof(why))) return lg_api_fail(out, 400, "%s", why);
  if (d.application_id == 0) d.application_id = lg_api_admin(r) ? 1 : r->scope.application_id;
  int bad = links_ok(r, &d, out);
  if (bad) return bad;
  int rc = lg_store_device_get(r->store, d.dev_eui, &old);
  if (rc == 0 || rc == LG_ECRYPTO)
    return lg_api_fail(out, 409,
                       "device %016llx exists (PATCH changes it; DELETE loses its counters and "
                       "nonces)",
                       (unsigned long long)d.dev_eui);
  struct lg_inventory inv = {0};
  (void)lg_api_parse_inventory(r->body, &inv, why, sizeof(why)); /* checked by the parse */
  if (lg_store_device_put(r->store, &d) ||
      lg_store_inventory_set(r->store, d.dev_eui, &inv, r->now_ns))
    return lg_api_fail(out, 500, "storage failed");
  *out = lg_store_device_json(r->store, d.dev_eui);
  return *out ? 201 : lg_api_fail(out, 500, "storage failed");
}

static int list_devices(struct lg_api_req *r, json_t **out) {
  int limit, bad;
  const char *after;
  struct lg_device_filter f = {0};
  uint64_t from = 0;
  if ((bad = lg_api_page(r, 1000, &limit, &after, out)) ||
      (bad = lg_api_query_id(r, "application_id", &f.application_id, out)) ||
      (bad = lg_api_query_id(r, "profile_id", &f.profile_id, out)))
    return bad;
  if (after && lg_api_eui(after, &from))
    return lg_api_fail(out, 400, "after: expected a DevEUI (the \"next\" of the page before)");
  f.search = r->query(r->query_cls, "q");
  if (f.search && strlen(f.search) > 64)
    return lg_api_fail(out, 400, "q: expected at most 64 characters (a part of a DevEUI or a name)");
  static const char *const seen[] = {"seen_after_ns", "seen_before_ns"};
  for (int i = 0; i < 2; i++) {
    const char *v = r->query(r->query_cls, seen[i]);
    char *end = NULL;
    long long t = v ? strtoll(v, &end, 10) : 0;
    if (v && (end == v || *end || t <= 0))
      return lg_api_fail(out, 400, "%s: expected ns since the Unix epoch", seen[i]);
    *(i ? &f.seen_before_ns : &f.seen_after_ns) = t;
  }
  const char *lc = r->query(r->query_cls, "lifecycle"), *tag = r->query(r->query_cls, "tag");
  if (lc && lg_lifecycle_parse(lc) < 0)
    return lg_api_fail(out, 400, "lifecycle: expected provisioned, active, silent or retired");
  if (lc) snprintf(f.lifecycle, sizeof(f.lifecycle), "%s", lc);
  if (tag) {
    const char *eq = strchr(tag, '=');
    size_t kn = eq ? (size_t)(eq - tag) : 0;
    if (!eq || kn == 0 || kn >= sizeof(f.tag_key) || strlen(eq + 1) >= sizeof(f.tag_value))
      return lg_api_fail(out, 400, "tag: expected key=value (a tag's key and value)");
    memcpy(f.tag_key, tag, kn);
    f.tag_key[kn] = '\0';
    snprintf(f.tag_value, sizeof(f.tag_value), "%s", eq + 1);
  }
  if (!lg_api_admin(r)) {
    if (f.application_id && f.application_id != r->scope.application_id)
      return lg_api_fail(out, 403, "application_id: this API key is for application %lld only",
                         (long long)r->scope.application_id);
    f.application_id = r->scope.application_id;
  }
  *out = lg_store_devices_page_json(r->store, &f, after ? &from : NULL, limit);
  return *out ? 200 : lg_api_fail(out, 500, "storage failed");
}

int lg_api_devices(struct lg_api_req *r, json_t **out) {
  return lg_api_is(r, "POST") ? post_device(r, out) : list_devices(r, out);
}

/* ---- one device --------------------------------------------------------------------- */

/* Whether b gives `key` a value other than the stored `cur` (hex of `bytes` bytes). */
static bool hex_differs(json_t *b, const char *key, const uint8_t *cur, size_t bytes) {
  uint8_t v[16];
  if (json_object_get(b, key) == NULL) return false;
  return lg_api_hex_key(b, key, v, bytes) != 0 || memcmp(v, cur, bytes) != 0;
}

/* What a PATCH may not change: refused with the reason. */
static int patch_refused(json_t *b, const struct lg_device_rec *d, char *why, size_t why_len) {
  uint64_t eui;
  json_t *v = json_object_get(b, "dev_eui");
  if (v && (!json_is_string(v) || lg_api_eui(json_string_value(v), &eui) || eui != d->dev_eui))
    return WHY("dev_eui cannot change: it names the device (POST a new one)");
  bool otaa_keys = json_object_get(b, "app_key") || json_object_get(b, "join_eui");
  bool abp_keys = json_object_get(b, "dev_addr") || json_object_get(b, "nwk_s_key") ||
                  json_object_get(b, "app_s_key");
  if ((d->otaa && abp_keys) || (!d->otaa && otaa_keys))
    return WHY("activation cannot change: the device is %s (DELETE it and POST it again; its "
               "counters go with it)",
               d->otaa ? "OTAA" : "ABP");
  uint8_t a[4] = {(uint8_t)(d->dev_addr >> 24), (uint8_t)(d->dev_addr >> 16),
                  (uint8_t)(d->dev_addr >> 8), (uint8_t)d->dev_addr};
  v = json_object_get(b, "join_eui");
  if (v && (!json_is_string(v) || lg_api_eui(json_string_value(v), &eui) || eui != d->join_eui))
    return WHY("join_eui cannot change: the device's DevNonces and session belong to it");
  if (hex_differs(b, "app_key", d->app_key, 16))
    return WHY("app_key cannot change by PATCH: the session was derived from it (DELETE and POST "
               "the device)");
  if (hex_differs(b, "dev_addr", a, 4) || hex_differs(b, "nwk_s_key", d->nwk_s_key, 16) ||
      hex_differs(b, "app_s_key", d->app_s_key, 16))
    return WHY("dev_addr, nwk_s_key and app_s_key cannot change: the frame counters belong to "
               "the session (DELETE and POST the device)");
  if (d->otaa && json_object_get(b, "fcnt_resets_allowed"))
    return WHY("fcnt_resets_allowed: only for ABP devices");
  return 0;
}

static int patch_device(struct lg_api_req *r, struct lg_device_rec *d, json_t **out) {
  char why[300];
  json_t *b = r->body, *v;
  if (lg_api_known_keys(b, device_keys, LG_ARRAY_LEN(device_keys), why, sizeof(why)) ||
      patch_refused(b, d, why, sizeof(why)))
    return lg_api_fail(out, 400, "%s", why);
  v = json_object_get(b, "name");
  if (v && (!json_is_string(v) || json_string_length(v) >= sizeof(d->name)))
    return lg_api_fail(out, 400, "name: expected a string of at most %zu characters",
                       sizeof(d->name) - 1);
  if (v) snprintf(d->name, sizeof(d->name), "%s", json_string_value(v));
  v = json_object_get(b, "fcnt_resets_allowed");
  if (v && !json_is_boolean(v))
    return lg_api_fail(out, 400, "fcnt_resets_allowed: expected true or false");
  if (v) d->fcnt_resets_allowed = json_is_true(v);
  int64_t app = d->application_id;
  if (parse_settings(b, d, false, why, sizeof(why)) || parse_links(b, d, why, sizeof(why)))
    return lg_api_fail(out, 400, "%s", why);
  if (d->application_id != app && !lg_api_admin(r))
    return lg_api_fail(out, 403, "application_id: only an admin key moves a device to another "
                                 "application");
  int bad = links_ok(r, d, out);
  if (bad) return bad;
  int lc = -1;
  if ((v = json_object_get(b, "lifecycle"))) {
    lc = lg_lifecycle_parse(json_string_value(v));
    if (lc != LG_LC_RETIRED && lc != LG_LC_PROVISIONED)
      return lg_api_fail(out, 400, "lifecycle: only \"retired\" (or \"provisioned\" to bring a "
                                   "retired device back) is set by hand; active and silent are "
                                   "the server's");
  }
  bool inv_given = json_object_get(b, "tags") || json_object_get(b, "hardware") ||
                   json_object_get(b, "firmware");
  struct lg_inventory inv = {0};
  if (inv_given) { /* what is not given stays as it is */
    json_t *cur = lg_store_device_json(r->store, d->dev_eui);
    if (cur == NULL) return lg_api_fail(out, 500, "storage failed");
    bad = lg_api_parse_inventory(cur, &inv, why, sizeof(why)) ||
          lg_api_parse_inventory(b, &inv, why, sizeof(why));
    json_decref(cur);
    if (bad) return lg_api_fail(out, 400, "%s", why);
  }
  if (lg_store_device_update(r->store, d) ||
      (inv_given && lg_store_inventory_set(r->store, d->dev_eui, &inv, 0)) ||
      (lc >= 0 && lg_store_lifecycle_set(r->store, d->dev_eui, lc, r->now_ns)))
    return lg_api_fail(out, 500, "storage failed");
  *out = lg_store_device_json(r->store, d->dev_eui);
  return *out ? 200 : lg_api_fail(out, 500, "storage failed");
}

int lg_api_device(struct lg_api_req *r, json_t **out) {
  uint64_t eui;
  struct lg_device_rec d;
  if (lg_api_eui(r->var[0], &eui)) return lg_api_fail(out, 400, "DevEUI: expected 16 hex digits");
  int bad = lg_api_device_in_scope(r, eui, &d, out);
  if (bad) return bad;
  if (lg_api_is(r, "GET")) {
    *out = lg_store_device_json(r->store, eui);
    return *out ? 200 : lg_api_fail(out, 500, "storage failed");
  }
  if (lg_api_is(r, "DELETE")) {
    int rc = lg_store_device_delete(r->store, eui);
    if (rc) return lg_api_fail(out, rc == LG_ENOTFOUND ? 404 : 500, "no device %s", r->var[0]);
    return *out = json_object(), 200;
  }
  return patch_device(r, &d, out);
}

/* GET /api/devices/{dev_eui}/{uplinks,events,downlinks,adr,locations} */
int lg_api_device_list(struct lg_api_req *r, json_t **out) {
  uint64_t eui;
  struct lg_device_rec d;
  if (lg_api_eui(r->var[0], &eui)) return lg_api_fail(out, 400, "DevEUI: expected 16 hex digits");
  int limit, bad = lg_api_device_in_scope(r, eui, &d, out);
  const char *after;
  if (bad || (bad = lg_api_page(r, 100, &limit, &after, out))) return bad;
  int64_t before = 0;
  if (after && lg_api_id(after, &before))
    return lg_api_fail(out, 400, "after: expected the \"next\" of the page before (an id)");
  const char *what = strrchr(r->url, '/') + 1;
  json_t *(*list)(struct lg_store *, uint64_t, int64_t, int) =
      strcmp(what, "uplinks") == 0     ? lg_store_uplinks_json
      : strcmp(what, "events") == 0    ? lg_store_events_json
      : strcmp(what, "downlinks") == 0 ? lg_store_downlinks_json
      : strcmp(what, "adr") == 0       ? lg_store_adr_json
                                       : lg_store_locations_json;
  *out = list(r->store, eui, before, limit);
  if (*out == NULL) return lg_api_fail(out, 500, "storage failed");
  size_t i;
  json_t *u;
  if (list == lg_store_uplinks_json && r->codecs) /* as the device's codec decodes them */
    json_array_foreach(json_object_get(*out, "items"), i, u) {
      char why[512];
      if (lg_codecs_uplink_object(r->codecs, u, why, sizeof(why)) != 0)
        json_object_set_new(u, "object_error", json_string(why));
    }
  return 200;
}

/* ---- the queue ---------------------------------------------------------------------- */

/* A queue item given as `object`: the bytes from the device's codec (its profile's
 * payload_codec, encodeDownlink), FPort the body's or the codec's. */
static int queue_item_from_object(struct lg_api_req *r, const struct lg_device_rec *d,
                                  struct lg_queue_item *q, json_t **out) {
  char why[512];
  json_t *port = json_object_get(r->body, "f_port"), *conf = json_object_get(r->body, "confirmed");
  if (json_object_get(r->body, "data"))
    return lg_api_fail(out, 400, "give either data (bytes) or object (for the codec), not both");
  if (port && (!json_is_integer(port) || json_integer_value(port) < 1 ||
               json_integer_value(port) > 223))
    return lg_api_fail(out, 400, "f_port: expected 1..223");
  if (conf && !json_is_boolean(conf)) return lg_api_fail(out, 400, "confirmed: expected true or false");
  int f_port = port ? (int)json_integer_value(port) : -1;
  if (lg_codec_downlink(r->codecs, d->dev_eui, json_object_get(r->body, "object"), &f_port, q->data,
                        sizeof(q->data), &q->len, why, sizeof(why)) != 0)
    return lg_api_fail(out, 400, "%s", why);
  q->f_port = f_port;
  q->confirmed = conf && json_is_true(conf);
  return 0;
}

static int queue_push(struct lg_api_req *r, const struct lg_device_rec *d, json_t **out) {
  static const char *const keys[] = {"f_port", "data", "confirmed", "object"};
  struct lg_queue_item q;
  char why[300];
  if (lg_api_known_keys(r->body, keys, LG_ARRAY_LEN(keys), why, sizeof(why)))
    return lg_api_fail(out, 400, "%s", why);
  int bad = json_object_get(r->body, "object") ? queue_item_from_object(r, d, &q, out)
            : lg_queue_item_parse(r->body, &q, why, sizeof(why)) ? lg_api_fail(out, 400, "%s", why)
                                                                  : 0;
  if (bad) return bad;
  struct lg_profile_rec p;
  int64_t n = 0;
  if (d->profile_id > 0 && lg_store_profile_get(r->store, d->profile_id, &p) == 0 &&
      p.max_downlinks_per_day > 0) { /* the profile's fair use: sent in 24 h and queued */
    if (lg_store_downlinks_count(r->store, d->dev_eui, r->now_ns - 86400000000000LL, &n))
      return lg_api_fail(out, 500, "storage failed");
    if (n >= p.max_downlinks_per_day)
      return lg_api_fail(out, 429,
                         "device %016llx: %lld downlinks sent in the last 24 h or queued, its "
                         "profile allows %d a day (max_downlinks_per_day)",
                         (unsigned long long)d->dev_eui, (long long)n, p.max_downlinks_per_day);
  }
  if (lg_store_queue_push(r->store, d->dev_eui, q.f_port, q.data, q.len, q.confirmed))
    return lg_api_fail(out, 500, "storage failed");
  *out = json_pack("{s:b, s:I}", "queued", 1, "bytes", (json_int_t)q.len);
  return 202;
}

int lg_api_device_queue(struct lg_api_req *r, json_t **out) {
  uint64_t eui;
  struct lg_device_rec d;
  if (lg_api_eui(r->var[0], &eui)) return lg_api_fail(out, 400, "DevEUI: expected 16 hex digits");
  int bad = lg_api_device_in_scope(r, eui, &d, out);
  if (bad) return bad;
  if (lg_api_is(r, "POST")) return queue_push(r, &d, out);
  if (lg_api_is(r, "DELETE")) {
    int64_t n = 0;
    if (lg_store_queue_flush(r->store, eui, &n)) return lg_api_fail(out, 500, "storage failed");
    return *out = json_pack("{s:I}", "deleted", (json_int_t)n), 200;
  }
  int limit;
  const char *after;
  int64_t from = 0;
  if ((bad = lg_api_page(r, 100, &limit, &after, out))) return bad;
  if (after && lg_api_id(after, &from))
    return lg_api_fail(out, 400, "after: expected the \"next\" of the page before (an id)");
  *out = lg_store_queue_json(r->store, eui, from, limit);
  return *out ? 200 : lg_api_fail(out, 500, "storage failed");
}
