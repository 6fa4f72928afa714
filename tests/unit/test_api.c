/*
 * api/: the route table against the OpenAPI description (docs/openapi.json, embedded in
 * the binary as served at /api/openapi.json) both ways — every route answered is
 * documented with its method, every documented operation is a route; path matching; the
 * scope of each kind of bearer token (the [api] tokens, API keys, revoked keys, the open
 * API); the device body's rules (unknown keys named, what a profile gives).
 */
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"
#include "lg_test.h"
#include "ns/config.h"
#include "store/store.h"

static void lower(const char *in, char *out, size_t cap) {
  size_t i = 0;
  for (; in[i] && i + 1 < cap; i++)
    out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
  out[i] = '\0';
}

static void test_openapi_matches_routes(void) {
  json_error_t e;
  json_t *doc = json_loadb((const char *)lg_api_openapi_json, lg_api_openapi_json_len, 0, &e);
  LG_CHECK(doc != NULL);
  if (doc == NULL) return;
  LG_EQ_STR(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
  json_t *paths = json_object_get(doc, "paths");
  size_t documented = 0;
  for (size_t i = 0; i < lg_api_n_routes; i++) { /* every route documented */
    char m[8];
    lower(lg_api_routes[i].method, m, sizeof(m));
    json_t *op = json_object_get(json_object_get(paths, lg_api_routes[i].pattern), m);
    if (op == NULL) fprintf(stderr, "undocumented route: %s %s\n", m, lg_api_routes[i].pattern);
    LG_CHECK(op != NULL);
    LG_CHECK(json_object_size(json_object_get(op, "responses")) > 0);
  }
  const char *path, *method;
  json_t *item, *op;
  json_object_foreach(paths, path, item) { /* every documented operation a route */
    json_object_foreach(item, method, op) {
      if (strcmp(method, "parameters") == 0) continue;
      documented++;
      bool found = false;
      for (size_t i = 0; i < lg_api_n_routes && !found; i++) {
        char m[8];
        lower(lg_api_routes[i].method, m, sizeof(m));
        found = strcmp(m, method) == 0 && strcmp(lg_api_routes[i].pattern, path) == 0;
      }
      if (!found) fprintf(stderr, "documented, not served: %s %s\n", method, path);
      LG_CHECK(found);
    }
  }
  LG_EQ_INT(documented, lg_api_n_routes);
  json_decref(doc);
}

static void test_match(void) {
  const char *var[LG_API_MAX_VARS];
  size_t n = 0;
  char buf[64];
  LG_CHECK(lg_api_match("/api/devices/{dev_eui}/queue", "/api/devices/0102030405060708/queue", var,
                        &n, buf, sizeof(buf)));
  LG_EQ_INT(n, 1);
  LG_EQ_STR(var[0], "0102030405060708");
  LG_CHECK(!lg_api_match("/api/devices/{dev_eui}", "/api/devices/0102030405060708/queue", var, &n,
                         buf, sizeof(buf)));
  LG_CHECK(!lg_api_match("/api/devices/{dev_eui}", "/api/devices/", var, &n, buf, sizeof(buf)));
  LG_CHECK(lg_api_match("/api/multicast-groups/{id}/devices/{dev_eui}",
                        "/api/multicast-groups/7/devices/ab", var, &n, buf, sizeof(buf)));
  LG_EQ_INT(n, 2);
  LG_EQ_STR(var[0], "7");
  LG_EQ_STR(var[1], "ab");
  LG_CHECK(!lg_api_match("/api/devices", "/api/devicesx", var, &n, buf, sizeof(buf)));
}

static void test_scopes(void) {
  struct lg_store *s = NULL;
  char why[200];
  LG_EQ_INT(lg_store_open(&s, ":memory:", why, sizeof(why)), 0);
  struct lg_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  struct lg_api_scope sc;
  /* open: no token is admin read-write; a wrong one refused all the same */
  LG_EQ_INT(lg_api_scope_of(s, &cfg, NULL, &sc, why, sizeof(why)), 0);
  LG_CHECK(sc.write && sc.application_id == 0);
  LG_EQ_INT(lg_api_scope_of(s, &cfg, "nonsense-token-value", &sc, why, sizeof(why)), -1);
  snprintf(cfg.api_token, sizeof(cfg.api_token), "admin-secret-123");
  snprintf(cfg.api_read_token, sizeof(cfg.api_read_token), "reader-secret-123");
  LG_EQ_INT(lg_api_scope_of(s, &cfg, NULL, &sc, why, sizeof(why)), -1);
  LG_EQ_INT(lg_api_scope_of(s, &cfg, "admin-secret-123", &sc, why, sizeof(why)), 0);
  LG_CHECK(sc.write && sc.application_id == 0);
  LG_EQ_INT(lg_api_scope_of(s, &cfg, "reader-secret-123", &sc, why, sizeof(why)), 0);
  LG_CHECK(!sc.write && sc.application_id == 0);
  LG_EQ_INT(lg_api_scope_of(s, &cfg, "admin-secret-12", &sc, why, sizeof(why)), -1);
  /* a key of application 1, read-only: found by its hash, revoked then refused */
  char key[80];
  LG_EQ_INT(lg_api_key_make(key, sizeof(key)), 0);
  LG_EQ_INT(strlen(key), 68);
  struct lg_apikey_rec k = {.application_id = 1, .read_only = true};
  snprintf(k.name, sizeof(k.name), "t");
  lg_store_token_hash(key, strlen(key), k.key_hash);
  LG_EQ_INT(lg_store_apikey_add(s, &k, 1), 0);
  LG_EQ_INT(lg_api_scope_of(s, &cfg, key, &sc, why, sizeof(why)), 0);
  LG_CHECK(!sc.write && sc.application_id == 1 && sc.key_id == k.id);
  key[10] ^= 1;
  LG_EQ_INT(lg_api_scope_of(s, &cfg, key, &sc, why, sizeof(why)), -1);
  key[10] ^= 1;
  LG_EQ_INT(lg_store_apikey_revoke(s, k.id, 2), 0);
  LG_EQ_INT(lg_api_scope_of(s, &cfg, key, &sc, why, sizeof(why)), -1);
  LG_EQ_INT(lg_store_apikey_revoke(s, k.id, 3), LG_ENOTFOUND);
  lg_store_close(s);
}

static void test_device_body(void) {
  struct lg_device_rec d;
  char why[300];
  json_t *b = json_pack("{s:s, s:s, s:s, s:i}", "dev_eui", "0102030405060708", "join_eui",
                        "0000000000000001", "app_key", "00112233445566778899aabbccddeeff",
                        "profile_id", 3);
  LG_EQ_INT(lg_api_parse_device(b, &d, why, sizeof(why)), 0);
  LG_EQ_INT(d.profile_id, 3);
  LG_EQ_INT(d.inherit, LG_INHERIT_ADR | LG_INHERIT_CLASS | LG_INHERIT_REFERENCE);
  json_object_set_new(b, "class", json_string("C"));
  LG_EQ_INT(lg_api_parse_device(b, &d, why, sizeof(why)), 0);
  LG_EQ_INT(d.inherit, LG_INHERIT_ADR | LG_INHERIT_REFERENCE);
  LG_CHECK(d.class_c);
  json_object_set_new(b, "profile", json_integer(3));
  LG_EQ_INT(lg_api_parse_device(b, &d, why, sizeof(why)), -1);
  LG_CHECK(strstr(why, "unknown field 'profile'") != NULL);
  json_decref(b);
}

int main(void) {
  test_openapi_matches_routes();
  test_match();
  test_scopes();
  test_device_body();
  return lg_test_report("test_api");
}
