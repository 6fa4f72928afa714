/*
 * /api/device-profiles: what a kind of device is (region, class, MAC version, payload
 * codec, expected uplink interval, reference device) and how the server treats it (ADR
 * algorithm and margin, daily uplink and downlink limits). Shared by every application
 * (as ChirpStack's tenant profiles): any key reads them, an admin writes them. A change
 * reaches the profile's devices at their next uplink (the store joins the profile into
 * every device read).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adr/adr.h"
#include "api/api_int.h"
#include "fleet/alarms.h"
#include "lora/lora.h"
#include "util/util.h"

static const char *const mac_versions[] = {"1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.1.0"};

#define BAD(...) lg_api_fail(out, 400, __VA_ARGS__)

/* An integer field 0..max into *v (null: 0, "not set"); -1 when malformed. */
static int int_field(json_t *b, const char *key, int max, int *v) {
  json_t *x = json_object_get(b, key);
  if (x == NULL) return 0;
  if (json_is_null(x)) return *v = 0, 0;
  if (!json_is_integer(x) || json_integer_value(x) < 1 || json_integer_value(x) > max)
    return LG_EINVAL;
  *v = (int)json_integer_value(x);
  return 0;
}

/* An optional number in [lo, hi]; null clears it (*has false). -1 for anything else. */
static int real_field(json_t *b, const char *key, double lo, double hi, bool *has, double *v) {
  json_t *x = json_object_get(b, key);
  if (x == NULL) return 0;
  if (!json_is_null(x) &&
      (!json_is_number(x) || json_number_value(x) < lo || json_number_value(x) > hi))
    return LG_EINVAL;
  *has = !json_is_null(x);
  *v = *has ? json_number_value(x) : 0;
  return 0;
}

static int str_field(json_t *b, const char *key, char *dst, size_t cap, bool empty_ok) {
  json_t *x = json_object_get(b, key);
  if (x == NULL) return 0;
  if (!json_is_string(x) || json_string_length(x) >= cap || (!empty_ok && !json_string_length(x)))
    return LG_EINVAL;
  snprintf(dst, cap, "%s", json_string_value(x));
  return 0;
}

/* The fields b gives, over p (a new profile's defaults or the stored one). */
static int parse_profile(struct lg_api_req *r, json_t *b, struct lg_profile_rec *p, json_t **out) {
  static const char *const keys[] = {
      "id",           "name",          "region",         "class",
      "mac_version",  "adr_algorithm", "adr_margin_db",  "uplink_interval_s",
      "payload_codec", "reference",    "max_uplinks_per_day", "max_downlinks_per_day",
      "alarm_thresholds", "adr_target"};
  char why[400];
  if (lg_api_known_keys(b, keys, LG_ARRAY_LEN(keys), why, sizeof(why))) return BAD("%s", why);
  json_t *v = json_object_get(b, "id");
  if (v && (!json_is_integer(v) || json_integer_value(v) != p->id))
    return BAD("id cannot change (it is given by the server)");
  if (str_field(b, "name", p->name, sizeof(p->name), false))
    return BAD("name: expected a string of 1..%zu characters", sizeof(p->name) - 1);
  const struct lg_region *region = NULL;
  if (str_field(b, "region", p->region, sizeof(p->region), false) ||
      (region = lg_region_find(p->region)) == NULL)
    return BAD("region: expected a region name (lorageo region lists them)");
  if (region != r->region)
    return BAD("region: this server runs %s ([network] region), not %s", r->region->name,
               region->name);
  snprintf(p->region, sizeof(p->region), "%s", region->name);
  v = json_object_get(b, "class");
  if (v && (!json_is_string(v) || (strcmp(json_string_value(v), "A") &&
                                   strcmp(json_string_value(v), "C"))))
    return BAD("class: expected \"A\" or \"C\" (Class B is not supported)");
  if (v) p->class_c = json_string_value(v)[0] == 'C';
  bool known = str_field(b, "mac_version", p->mac_version, sizeof(p->mac_version), false) == 0;
  bool listed = false;
  for (size_t i = 0; i < LG_ARRAY_LEN(mac_versions); i++)
    listed |= strcmp(p->mac_version, mac_versions[i]) == 0;
  if (!known || !listed) return BAD("mac_version: expected 1.0.0, 1.0.1, 1.0.2, 1.0.3, 1.0.4 or 1.1.0");
  enum lg_adr_algo algo;
  if (str_field(b, "adr_algorithm", p->adr_algorithm, sizeof(p->adr_algorithm), false) ||
      lg_adr_algo_parse(p->adr_algorithm, &algo))
    return BAD("adr_algorithm: expected off, standard, eadr or predictive");
  if (real_field(b, "adr_margin_db", 0, 30, &p->has_adr_margin, &p->adr_margin_db))
    return BAD("adr_margin_db: expected dB in [0, 30] (null: the server's [adr] "
               "installation_margin_db)");
  if (real_field(b, "adr_target", 0.5, 0.9999, &p->has_adr_target, &p->adr_target))
    return BAD("adr_target: expected a probability in [0.5, 0.9999] (null: the server's [adr] "
               "target_delivery)");
  if (int_field(b, "uplink_interval_s", 30 * 86400, &p->uplink_interval_s))
    return BAD("uplink_interval_s: expected seconds 1..2592000 (null: not said)");
  if (str_field(b, "payload_codec", p->payload_codec, sizeof(p->payload_codec), true))
    return BAD("payload_codec: expected a codec's name (at most %zu characters; \"\": none)",
               sizeof(p->payload_codec) - 1);
  v = json_object_get(b, "reference");
  if (v && !json_is_boolean(v)) return BAD("reference: expected true or false");
  if (v) p->reference = json_is_true(v);
  if (int_field(b, "max_uplinks_per_day", 1000000, &p->max_uplinks_per_day))
    return BAD("max_uplinks_per_day: expected 1..1000000 (null: no limit)");
  if (int_field(b, "max_downlinks_per_day", 1000000, &p->max_downlinks_per_day))
    return BAD("max_downlinks_per_day: expected 1..1000000 (null: no limit)");
  v = json_object_get(b, "alarm_thresholds"); /* checked by name and range (fleet/alarms.h) */
  struct lg_alarm_rules rules;
  lg_alarm_rules_default(&rules);
  if (v && lg_alarm_rules_apply_json(&rules, v, why, sizeof(why))) return BAD("%s", why);
  return 0;
}

int lg_api_profiles(struct lg_api_req *r, json_t **out) {
  if (lg_api_is(r, "POST")) {
    struct lg_profile_rec p = {0};
    snprintf(p.region, sizeof(p.region), "%s", r->cfg->region);
    snprintf(p.mac_version, sizeof(p.mac_version), "1.0.3");
    snprintf(p.adr_algorithm, sizeof(p.adr_algorithm), "standard");
    if (json_object_get(r->body, "name") == NULL) return BAD("name: required");
    int bad = parse_profile(r, r->body, &p, out);
    if (bad) return bad;
    json_t *th = json_object_get(r->body, "alarm_thresholds");
    if (lg_store_profile_put(r->store, &p, r->now_ns) ||
        (th && lg_store_profile_thresholds_set(r->store, p.id, th)))
      return lg_api_fail(out, 500, "storage failed");
    *out = lg_store_profile_json(r->store, p.id);
    return *out ? 201 : lg_api_fail(out, 500, "storage failed");
  }
  int limit, bad;
  const char *after;
  int64_t from = 0;
  if ((bad = lg_api_page(r, 1000, &limit, &after, out))) return bad;
  if (after && lg_api_id(after, &from))
    return BAD("after: expected the \"next\" of the page before (an id)");
  *out = lg_store_profiles_json(r->store, from, limit);
  return *out ? 200 : lg_api_fail(out, 500, "storage failed");
}

int lg_api_profile(struct lg_api_req *r, json_t **out) {
  int64_t id;
  struct lg_profile_rec p;
  if (lg_api_id(r->var[0], &id)) return BAD("device profile id: expected a positive integer");
  int rc = lg_store_profile_get(r->store, id, &p);
  if (rc == LG_ENOTFOUND) return lg_api_fail(out, 404, "no device profile %lld", (long long)id);
  if (rc) return lg_api_fail(out, 500, "storage failed");
  if (lg_api_is(r, "DELETE")) {
    int64_t n = 0;
    rc = lg_store_profile_delete(r->store, id, &n);
    if (rc == LG_EBUSY)
      return lg_api_fail(out, 409,
                         "device profile %lld is used by %lld devices (PATCH their profile_id "
                         "first)",
                         (long long)id, (long long)n);
    return rc ? lg_api_fail(out, 500, "storage failed") : (*out = json_object(), 200);
  }
  if (lg_api_is(r, "PATCH")) {
    int bad = parse_profile(r, r->body, &p, out);
    if (bad) return bad;
    json_t *th = json_object_get(r->body, "alarm_thresholds");
    if (lg_store_profile_put(r->store, &p, r->now_ns) ||
        (th && lg_store_profile_thresholds_set(r->store, p.id, th)))
      return lg_api_fail(out, 500, "storage failed");
  }
  *out = lg_store_profile_json(r->store, id);
  return *out ? 200 : lg_api_fail(out, 500, "storage failed");
}
