/*
 * What the API's handlers share: errors as {"error": ...}, EUIs and ids from the path,
 * bodies checked key by key (an unknown key is refused by name, as scenario files are:
 * a misspelt field silently ignored is a setting the user thinks they made), the page
 * arguments of every list, and whether a request's scope sees a device.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "util/util.h"

int lg_api_fail(json_t **out, int status, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  *out = json_pack("{s:s}", "error", msg);
  return status;
}

int lg_api_eui(const char *s, uint64_t *eui) {
  uint8_t b[8];
  size_t n = 0;
  if (s == NULL || strlen(s) != 16 || lg_hex_decode(s, 16, b, 8, &n)) return LG_EINVAL;
  *eui = 0;
  for (int i = 0; i < 8; i++)
    *eui = (*eui << 8) | b[i];
  return 0;
}

int lg_api_id(const char *s, int64_t *id) {
  char *end = NULL;
  if (s == NULL || *s < '0' || *s > '9') return LG_EINVAL;
  long long v = strtoll(s, &end, 10);
  if (*end || v <= 0) return LG_EINVAL;
  *id = v;
  return 0;
}

int lg_api_hex_key(json_t *b, const char *key, uint8_t *out, size_t bytes) {
  json_t *v = json_object_get(b, key);
  size_t n = 0;
  if (!json_is_string(v) || json_string_length(v) != 2 * bytes) return LG_EINVAL;
  return lg_hex_decode(json_string_value(v), 2 * bytes, out, bytes, &n);
}

int lg_api_known_keys(json_t *b, const char *const *known, size_t n, char *why, size_t why_len) {
  const char *key;
  json_t *v;
  json_object_foreach(b, key, v) {
    bool ok = false;
    for (size_t i = 0; i < n && !ok; i++)
      ok = strcmp(key, known[i]) == 0;
    if (ok) continue;
    size_t k = (size_t)snprintf(why, why_len, "unknown field '%.60s' (expected", key);
    for (size_t i = 0; i < n && k < why_len; i++)
      k += (size_t)snprintf(why + k, why_len - k, "%s%s", i ? ", " : " ", known[i]);
    if (k < why_len) snprintf(why + k, why_len - k, ")");
    return LG_EINVAL;
  }
  return 0;
}

int lg_api_page(struct lg_api_req *r, int def_limit, int *limit, const char **after,
                json_t **out) {
  const char *v = r->query(r->query_cls, "limit");
  *limit = def_limit;
  *after = r->query(r->query_cls, "after");
  if (*after && (**after == '\0' || strlen(*after) > 40))
    return lg_api_fail(out, 400, "after: expected the \"next\" of the page before");
  if (v == NULL) return 0;
  char *end = NULL;
  long n = strtol(v, &end, 10);
  if (end == v || *end || n < 1 || n > 10000)
    return lg_api_fail(out, 400, "limit: expected an integer 1..10000");
  *limit = (int)n;
  return 0;
}

int lg_api_query_id(struct lg_api_req *r, const char *name, int64_t *v, json_t **out) {
  const char *s = r->query(r->query_cls, name);
  *v = 0;
  if (s && lg_api_id(s, v))
    return lg_api_fail(out, 400, "%s: expected a positive integer id", name);
  return 0;
}

int lg_api_device_in_scope(struct lg_api_req *r, uint64_t dev_eui, struct lg_device_rec *d,
                           json_t **out) {
  int rc = lg_store_device_get(r->store, dev_eui, d);
  /* (keys that do not unwrap, LG_ECRYPTO: the rest of the device is read all the same) */
  if (rc && rc != LG_ENOTFOUND && rc != LG_ECRYPTO)
    return lg_api_fail(out, 500, "storage failed: %s", lg_store_errmsg(r->store));
  /* another application's device is not there for this key (its existence not told) */
  if (rc == LG_ENOTFOUND || (!lg_api_admin(r) && d->application_id != r->scope.application_id))
    return lg_api_fail(out, 404, "no device %016llx", (unsigned long long)dev_eui);
  return 0;
}
