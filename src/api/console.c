/*
 * What the web console needs beside the resources' own routes: who the caller is
 * (GET /api/whoami: the scope its token gives, so the console shows only what that scope
 * may do) and every device's events as one feed (GET /api/events: the console's live
 * frame log, and any client that follows a whole application rather than one device).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"

/* GET /api/whoami */
int lg_api_whoami(struct lg_api_req *r, json_t **out) {
  const struct lg_api_scope *sc = &r->scope;
  const char *auth = sc->key_id ? "api_key" : r->cfg->api_token[0] ? "token" : "open";
  json_t *key = sc->key_id ? lg_store_apikey_json(r->store, sc->key_id) : NULL;
  json_t *name = key ? json_object_get(key, "name") : NULL;
  *out = json_pack("{s:s, s:b, s:o, s:b, s:o, s:o, s:i}", "auth", auth, "admin", lg_api_admin(r),
                   "application_id",
                   lg_api_admin(r) ? json_null() : json_integer(sc->application_id), "read_only",
                   !sc->write, "key_id", sc->key_id ? json_integer(sc->key_id) : json_null(),
                   "key_name", name ? json_incref(name) : json_null(), "gateway_online_s",
                   r->cfg->api_gateway_online_s);
  json_decref(key);
  return *out ? 200 : lg_api_fail(out, 500, "out of memory");
}

/* GET /api/events: ?since=ID (those after it, oldest first) or a page newest first
 * (?after=); an application's key sees its own devices' events only. */
int lg_api_events(struct lg_api_req *r, json_t **out) {
  int limit, bad;
  const char *after, *since = r->query(r->query_cls, "since");
  int64_t before = 0, from = -1, app = 0;
  if ((bad = lg_api_page(r, 1000, &limit, &after, out)) ||
      (bad = lg_api_query_id(r, "application_id", &app, out)))
    return bad;
  if (after && lg_api_id(after, &before))
    return lg_api_fail(out, 400, "after: expected the \"next\" of the page before (an id)");
  if (since) {
    char *end = NULL;
    long long v = strtoll(since, &end, 10);
    if (end == since || *end || v < 0)
      return lg_api_fail(out, 400, "since: expected an event id (0 or more: the events after it)");
    if (after) return lg_api_fail(out, 400, "since and after: give one of them");
    from = v;
  }
  if (!lg_api_admin(r)) {
    if (app && app != r->scope.application_id)
      return lg_api_fail(out, 403, "application_id: this API key is for application %lld only",
                         (long long)r->scope.application_id);
    app = r->scope.application_id;
  }
  *out = lg_store_events_all_json(r->store, app, from, before, limit);
  return *out ? 200 : lg_api_fail(out, 500, "storage failed");
}
