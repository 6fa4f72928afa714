/*
 * /api/applications/{id}/webhooks: an application's HTTP endpoints for its devices' events
 * (`url`, `headers` {name: value}, `events` [types; none: all], `format` "lorageo" or
 * "chirpstack"). The integration POSTs each event of the application's devices to each of
 * its webhooks, with the retries of integ/webhook.c. An application's key manages its own;
 * an admin key any.
 */
#include <string.h>

#include "api/api_int.h"
#include "store/store.h"
#include "util/util.h"

/* The application in the path, if the key's scope reaches it: 0, or the answer. */
static int app_in_scope(struct lg_api_req *r, int64_t *id, json_t **out) {
  struct lg_app_rec a;
  if (lg_api_id(r->var[0], id))
    return lg_api_fail(out, 400, "application id: expected a positive integer");
  if ((r->scope.application_id != 0 && *id != r->scope.application_id) ||
      lg_store_app_get(r->store, *id, &a) == LG_ENOTFOUND)
    return lg_api_fail(out, 404, "no application %lld", (long long)*id);
  return 0;
}

/* A header's name or value: printable, no '|' (the stored separator), no line breaks. */
static bool header_ok(const char *s, bool name) {
  if (*s == '\0') return !name;
  for (; *s; s++)
    if (*s < 0x20 || *s == 0x7f || *s == '|' || (name && (*s == ':' || *s == ' '))) return false;
  return true;
}

static int parse_webhook(json_t *b, struct lg_webhook_rec *w, json_t **out) {
  static const char *const keys[] = {"url", "headers", "events", "format"};
  char why[300];
  if (lg_api_known_keys(b, keys, LG_ARRAY_LEN(keys), why, sizeof(why)))
    return lg_api_fail(out, 400, "%s", why);
  json_t *v = json_object_get(b, "url");
  const char *url = json_string_value(v);
  if (url == NULL || json_string_length(v) >= sizeof(w->url) ||
      (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
      strpbrk(url, " \r\n") != NULL)
    return lg_api_fail(out, 400,
                       "url: expected an http:// or https:// URL of at most %zu characters",
                       sizeof(w->url) - 1);
  snprintf(w->url, sizeof(w->url), "%s", url);
  v = json_object_get(b, "headers");
  if (v && !json_is_object(v))
    return lg_api_fail(out, 400, "headers: expected an object {name: value}");
  const char *name;
  json_t *val;
  size_t used = 0;
  json_object_foreach(v, name, val) {
    const char *s = json_string_value(val);
    if (s == NULL || !header_ok(name, true) || !header_ok(s, false))
      return lg_api_fail(out, 400,
                         "headers.%.60s: expected a token name and a printable string "
                         "value (no '|', no line breaks)",
                         name);
    int n = snprintf(w->headers + used, sizeof(w->headers) - used, "%s%s: %s", used ? "|" : "",
                     name, s);
    if (n < 0 || (size_t)n >= sizeof(w->headers) - used)
      return lg_api_fail(out, 400, "headers: at most %zu characters in all",
                         sizeof(w->headers) - 1);
    used += (size_t)n;
  }
  v = json_object_get(b, "events");
  if (v && !json_is_array(v))
    return lg_api_fail(out, 400, "events: expected an array of event types");
  size_t i;
  used = 0;
  json_array_foreach(v, i, val) {
    const char *s = json_string_value(val);
    bool ok = s && *s && strlen(s) < 32;
    for (const char *p = s; ok && *p; p++)
      ok = (*p >= 'a' && *p <= 'z') || *p == '_';
    int n =
        ok ? snprintf(w->events + used, sizeof(w->events) - used, "%s%s", used ? "," : "", s) : -1;
    if (n < 0 || (size_t)n >= sizeof(w->events) - used)
      return lg_api_fail(out, 400,
                         "events[%zu]: expected an event type (up, join, location, ack, "
                         "nack, ...)",
                         i);
    used += (size_t)n;
  }
  v = json_object_get(b, "format");
  const char *f = v ? json_string_value(v) : "lorageo";
  if (f == NULL || (strcmp(f, "lorageo") && strcmp(f, "chirpstack")))
    return lg_api_fail(out, 400, "format: expected \"lorageo\" or \"chirpstack\"");
  w->chirpstack = strcmp(f, "chirpstack") == 0;
  return 0;
}

int lg_api_app_webhooks(struct lg_api_req *r, json_t **out) {
  int64_t id;
  int bad = app_in_scope(r, &id, out);
  if (bad) return bad;
  if (lg_api_is(r, "GET")) {
    *out = lg_store_webhooks_json(r->store, id);
    return *out ? 200 : lg_api_fail(out, 500, "storage failed");
  }
  struct lg_webhook_rec w = {.application_id = id};
  if ((bad = parse_webhook(r->body, &w, out))) return bad;
  if (lg_store_webhook_add(r->store, &w, r->now_ns)) return lg_api_fail(out, 500, "storage failed");
  *out = lg_store_webhook_json(r->store, w.id);
  return *out ? 201 : lg_api_fail(out, 500, "storage failed");
}

int lg_api_app_webhook(struct lg_api_req *r, json_t **out) {
  int64_t id, hook;
  int bad = app_in_scope(r, &id, out);
  if (bad) return bad;
  if (lg_api_id(r->var[1], &hook))
    return lg_api_fail(out, 400, "webhook id: expected a positive integer");
  int rc = lg_store_webhook_delete(r->store, id, hook);
  if (rc == LG_ENOTFOUND)
    return lg_api_fail(out, 404, "application %lld has no webhook %lld", (long long)id,
                       (long long)hook);
  return rc ? lg_api_fail(out, 500, "storage failed") : (*out = json_object(), 200);
}
