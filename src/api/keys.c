/*
 * API keys: /api/api-keys (an admin's), `lorageo apikey` (cli), and the scope of every
 * request's bearer token.
 *
 * A key is 32 random bytes in hex after "lgk_" (the prefix tells a leaked key in a log or a
 * repository for what it is); the server keeps only its SHA-256, as it does a Basics
 * Station's token, so the database leaks no usable key. The key is shown once, in the
 * answer that made it. Revoking keeps the record (who had access, until when).
 *
 * Scopes: [api] token is admin read-write and [api] read_token admin read-only (as
 * before keys existed); a key is admin or one application's, read-write or read-only.
 * Without [api] token the API is open (admin read-write) to requests without a token, and
 * a request that brings a key still gets that key's scope — an unknown or revoked key is
 * refused either way.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"
#include "util/util.h"

int lg_api_key_make(char *key, size_t len) {
  uint8_t raw[32];
  if (len < 4 + 64 + 1 || RAND_bytes(raw, sizeof(raw)) != 1) return LG_ECRYPTO;
  memcpy(key, "lgk_", 4);
  lg_hex_encode(raw, sizeof(raw), key + 4, len - 4);
  OPENSSL_cleanse(raw, sizeof(raw));
  return 0;
}

static bool token_is(const char *given, const char *token) {
  size_t n = strlen(token);
  return n > 0 && strlen(given) == n && CRYPTO_memcmp(given, token, n) == 0;
}

int lg_api_scope_of(struct lg_store *s, const struct lg_config *cfg, const char *bearer,
                    struct lg_api_scope *scope, char *why, size_t why_len) {
  memset(scope, 0, sizeof(*scope));
  bool open = cfg->api_token[0] == '\0';
  if (bearer == NULL) {
    scope->write = open;
    if (!open) snprintf(why, why_len, "missing or wrong bearer token");
    return open ? 0 : -1;
  }
  if (token_is(bearer, cfg->api_token)) return scope->write = true, 0;
  if (!open && token_is(bearer, cfg->api_read_token)) return 0;
  struct lg_apikey_rec k;
  char hash[65];
  size_t n = strlen(bearer);
  if (n >= 16 && n <= 512) {
    lg_store_token_hash(bearer, n, hash);
    if (lg_store_apikey_find(s, hash, &k) == 0) {
      scope->key_id = k.id;
      scope->application_id = k.application_id;
      scope->write = !k.read_only;
      return 0;
    }
  }
  snprintf(why, why_len, "missing or wrong bearer token (an unknown or revoked API key)");
  return -1;
}

/* POST /api/api-keys: {"name", "application_id" (absent or null: admin), "read_only"}. */
static int make_key(struct lg_api_req *r, json_t **out) {
  static const char *const keys[] = {"name", "application_id", "read_only"};
  char why[200];
  struct lg_apikey_rec k = {0};
  if (lg_api_known_keys(r->body, keys, LG_ARRAY_LEN(keys), why, sizeof(why)))
    return lg_api_fail(out, 400, "%s", why);
  json_t *v = json_object_get(r->body, "name");
  if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= sizeof(k.name))
    return lg_api_fail(out, 400, "name: expected a string of 1..%zu characters",
                       sizeof(k.name) - 1);
  snprintf(k.name, sizeof(k.name), "%s", json_string_value(v));
  v = json_object_get(r->body, "application_id");
  if (v && !json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 1))
    return lg_api_fail(out, 400, "application_id: expected an application's id (null: an admin "
                                 "key)");
  k.application_id = v && json_is_integer(v) ? json_integer_value(v) : 0;
  struct lg_app_rec app;
  if (k.application_id && lg_store_app_get(r->store, k.application_id, &app) != 0)
    return lg_api_fail(out, 400, "application_id: no application %lld",
                       (long long)k.application_id);
  v = json_object_get(r->body, "read_only");
  if (v && !json_is_boolean(v)) return lg_api_fail(out, 400, "read_only: expected true or false");
  k.read_only = v && json_is_true(v);
  char key[80];
  if (lg_api_key_make(key, sizeof(key))) return lg_api_fail(out, 500, "no random bytes");
  lg_store_token_hash(key, strlen(key), k.key_hash);
  if (lg_store_apikey_add(r->store, &k, r->now_ns)) return lg_api_fail(out, 500, "storage failed");
  *out = lg_store_apikey_json(r->store, k.id);
  if (*out == NULL) return lg_api_fail(out, 500, "storage failed");
  json_object_set_new(*out, "key", json_string(key)); /* shown this once */
  OPENSSL_cleanse(key, sizeof(key));
  return 201;
}

int lg_api_keys(struct lg_api_req *r, json_t **out) {
  if (lg_api_is(r, "POST")) return make_key(r, out);
  int limit, bad;
  const char *after;
  int64_t from = 0;
  if ((bad = lg_api_page(r, 1000, &limit, &after, out))) return bad;
  if (after && lg_api_id(after, &from))
    return lg_api_fail(out, 400, "after: expected the \"next\" of the page before (an id)");
  *out = lg_store_apikeys_json(r->store, from, limit);
  return *out ? 200 : lg_api_fail(out, 500, "storage failed");
}

/* GET one; DELETE revokes it (the record stays, with revoked_ns). */
int lg_api_key(struct lg_api_req *r, json_t **out) {
  int64_t id;
  if (lg_api_id(r->var[0], &id)) return lg_api_fail(out, 400, "API key id: expected a positive integer");
  json_t *k = lg_store_apikey_json(r->store, id);
  if (k == NULL) return lg_api_fail(out, 404, "no API key %lld", (long long)id);
  if (lg_api_is(r, "DELETE")) {
    if (!json_is_null(json_object_get(k, "revoked_ns"))) {
      json_decref(k);
      return lg_api_fail(out, 409, "API key %lld is revoked already", (long long)id);
    }
    json_decref(k);
    if (lg_store_apikey_revoke(r->store, id, r->now_ns))
      return lg_api_fail(out, 500, "storage failed");
    k = lg_store_apikey_json(r->store, id);
  }
  *out = k;
  return k ? 200 : lg_api_fail(out, 500, "storage failed");
}
