/*
 * Internal to api/: one request as the route handlers see it (no libmicrohttpd type), the
 * route table (routes.c) and the helpers the handlers share (body.c). A handler answers
 * with an HTTP status and a JSON object in *out (the error object {"error": ...} for 4xx
 * and 5xx), as multicast.c does; api.c turns that into the HTTP answer.
 *
 * Access: every request carries a scope (struct lg_api_scope) made from its bearer token
 * before any route runs: [api] token is admin read-write, [api] read_token admin
 * read-only, an API key (keys.c) what it was made for. The table says which routes need
 * an admin; handlers of devices and applications check that a key of one application
 * touches only that application.
 */
#ifndef LG_API_INT_H
#define LG_API_INT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ns/config.h"
#include "store/store.h"

struct lg_region;

struct lg_api_scope {
  int64_t key_id;         /* the API key's id (0: [api] token, read_token, or open) */
  int64_t application_id; /* 0: admin (every application) */
  bool write;             /* else read-only (GET) */
};

#define LG_API_MAX_VARS 3

struct lg_api_req {
  struct lg_store *store;
  const struct lg_config *cfg;
  const struct lg_region *region;
  atomic_uint *gateways_changed; /* bumped on gateway writes (may be NULL) */
  const char *method;
  const char *url;
  const char *var[LG_API_MAX_VARS]; /* the path's {names}, in order */
  json_t *body;                     /* the JSON object of a POST / PATCH, else NULL */
  struct lg_api_scope scope;
  /* a query argument's value, NULL when absent */
  const char *(*query)(void *cls, const char *name);
  void *query_cls;
  int64_t now_ns;
  struct lg_codecs *codecs; /* decodes uplinks into `object` (NULL: none; codec.h) */
  struct lg_ns_links *links; /* what ADR learned of the links (NULL: none) */
};

typedef int (*lg_api_fn)(struct lg_api_req *r, json_t **out);

enum {
  LG_ROUTE_OPEN = 1,        /* no token needed (probes, the API's own description) */
  LG_ROUTE_ADMIN = 2,       /* an admin scope only */
  LG_ROUTE_ADMIN_WRITE = 4, /* any scope reads; only an admin writes */
  LG_ROUTE_RAW = 8,         /* answered by api.c itself (not JSON): fn is NULL */
};

struct lg_api_route {
  const char *method;
  const char *pattern; /* /api/devices/{dev_eui}: {x} matches one path segment */
  lg_api_fn fn;
  unsigned flags;
};

extern const struct lg_api_route lg_api_routes[];
extern const size_t lg_api_n_routes;

/* Whether `path` matches `pattern`; the {variables}' values are copied into buf (len bytes)
 * and pointed to from var[] (*n of them). */
bool lg_api_match(const char *pattern, const char *path, const char **var, size_t *n, char *buf,
                  size_t len);

/* The OpenAPI description (docs/openapi.json, embedded at build time). */
extern const unsigned char lg_api_openapi_json[];
extern const size_t lg_api_openapi_json_len;

/* ---- helpers (body.c) ------------------------------------------------------------ */

/* Sets *out to {"error": ...} and returns status. */
int lg_api_fail(json_t **out, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 16 hex digits; -1 otherwise. */
int lg_api_eui(const char *s, uint64_t *eui);
/* A positive integer id in text (a path segment); -1 otherwise. */
int lg_api_id(const char *s, int64_t *id);
/* `bytes` bytes as 2*bytes hex digits from b[key]; non-zero (an LG_E* code) when absent or
 * malformed. */
int lg_api_hex_key(json_t *b, const char *key, uint8_t *out, size_t bytes);
/* Every key of b is one of known[]; else LG_EINVAL, "unknown field 'x' (expected ...)" in why. */
int lg_api_known_keys(json_t *b, const char *const *known, size_t n, char *why, size_t why_len);
/* ?limit (1..10000, default def_limit) and ?after (NULL when absent); a 400 answer when
 * malformed. */
int lg_api_page(struct lg_api_req *r, int def_limit, int *limit, const char **after, json_t **out);
/* ?name as a positive integer (0 when absent); a 400 answer when malformed. */
int lg_api_query_id(struct lg_api_req *r, const char *name, int64_t *v, json_t **out);
/* The device, when it exists and the request's scope sees it; else a 404 answer. */
int lg_api_device_in_scope(struct lg_api_req *r, uint64_t dev_eui, struct lg_device_rec *d,
                           json_t **out);
static inline bool lg_api_admin(const struct lg_api_req *r) {
  return r->scope.application_id == 0;
}
static inline bool lg_api_is(const struct lg_api_req *r, const char *method) {
  return __builtin_strcmp(r->method, method) == 0;
}

/* ---- handlers ---------------------------------------------------------------------- */

/* devices.c */
int lg_api_devices(struct lg_api_req *r, json_t **out);       /* GET, POST /api/devices */
int lg_api_device(struct lg_api_req *r, json_t **out);        /* GET, PATCH, DELETE one */
int lg_api_device_list(struct lg_api_req *r, json_t **out);   /* uplinks, events, ... */
int lg_api_device_queue(struct lg_api_req *r, json_t **out);  /* GET, POST, DELETE queue */
/* gateways.c */
int lg_api_gateways(struct lg_api_req *r, json_t **out);
int lg_api_gateway(struct lg_api_req *r, json_t **out);
int lg_api_gateway_links(struct lg_api_req *r, json_t **out);
int lg_api_map(struct lg_api_req *r, json_t **out);
/* apps.c */
int lg_api_apps(struct lg_api_req *r, json_t **out);
int lg_api_app(struct lg_api_req *r, json_t **out);
/* multicast.c */
int lg_api_mcasts(struct lg_api_req *r, json_t **out);       /* GET, POST /api/multicast-groups */
int lg_api_mcast(struct lg_api_req *r, json_t **out);        /* GET, DELETE one */
int lg_api_mcast_member(struct lg_api_req *r, json_t **out); /* its devices */
int lg_api_mcast_queue(struct lg_api_req *r, json_t **out);  /* its queue */
int lg_api_app_webhooks(struct lg_api_req *r, json_t **out); /* GET, POST .../webhooks */
int lg_api_app_webhook(struct lg_api_req *r, json_t **out);  /* DELETE .../webhooks/{id} */
/* profiles.c */
int lg_api_profiles(struct lg_api_req *r, json_t **out);
int lg_api_profile(struct lg_api_req *r, json_t **out);
/* console.c */
int lg_api_whoami(struct lg_api_req *r, json_t **out); /* GET /api/whoami */
int lg_api_events(struct lg_api_req *r, json_t **out); /* GET /api/events: every device's */
/* fleet.c (issue 19) */
int lg_api_devices_import(struct lg_api_req *r, json_t **out); /* POST /api/devices/import */
int lg_api_devices_export(struct lg_api_req *r, json_t **out); /* GET /api/devices/export */
int lg_api_alarms(struct lg_api_req *r, json_t **out);         /* GET /api/alarms */
int lg_api_alarm(struct lg_api_req *r, json_t **out);          /* GET one, POST .../ack */
int lg_api_fleet_summary(struct lg_api_req *r, json_t **out);  /* GET /api/fleet/summary */
int lg_api_fleet_devices(struct lg_api_req *r, json_t **out);
int lg_api_device_timeline(struct lg_api_req *r, json_t **out);
int lg_api_device_config(struct lg_api_req *r, json_t **out);  /* .../config, .../history */
/* The shadow as GET .../config shows it (references to desired and reported are taken:
 * borrowed, the caller keeps its own). */
json_t *lg_api_config_view(uint64_t dev_eui, json_t *desired, json_t *reported,
                           int64_t pending_since_ns, int64_t updated_ns);
/* keys.c */
int lg_api_keys(struct lg_api_req *r, json_t **out);
int lg_api_key(struct lg_api_req *r, json_t **out);
/* The scope of a bearer token (NULL: none given): 0, or -1 with why (401). */
int lg_api_scope_of(struct lg_store *s, const struct lg_config *cfg, const char *bearer,
                    struct lg_api_scope *scope, char *why, size_t why_len);

/* metrics.c: GET /metrics's text (Prometheus 0.0.4) appended to b. */
struct lg_ns_metrics;
struct lg_outbuf;
void lg_api_metrics_text(const struct lg_ns_metrics *m, struct lg_outbuf *b);
/* The methods reference devices measure live, as /metrics and /api/geo/accuracy list them. */
#define LG_API_REFERENCE_METHODS 5
extern const enum lg_geo_method lg_api_reference_methods[LG_API_REFERENCE_METHODS];

#endif
