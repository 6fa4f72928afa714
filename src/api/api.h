/*
 * api — the HTTP API (design.md "HTTP API") and /metrics, served by libmicrohttpd from
 * its own thread with its own database connection. Collections answer {"items": [...]};
 * every error a 4xx/5xx status with {"error": "what is wrong"}.
 */
#ifndef LG_API_H
#define LG_API_H

#include <stddef.h>

#include "ns/config.h"
#include "ns/ns.h"

struct lg_api;

/* Starts serving on cfg->http_bind. `metrics` is read (atomics) from the HTTP thread and
 * must outlive the API; `gateways_changed` (may be NULL) is bumped on every gateway write
 * so the packet path re-reads provisioning at once. NULL with a reason on error. */
struct lg_api *lg_api_start(const struct lg_config *cfg, const struct lg_ns_metrics *metrics,
                            atomic_uint *gateways_changed, char *why, size_t why_len);
void lg_api_stop(struct lg_api *api);

/* Uplinks (GET .../uplinks) carry "object" decoded by their device's codec from now on. */
struct lg_codecs;
void lg_api_set_codecs(struct lg_api *api, struct lg_codecs *codecs);

/*
 * The same API without a socket or threads of its own, for the HTTP fuzzer (tests/fuzz/
 * fuzz_http.c): lg_api_serve_fd hands it one end of a connected socket (a socketpair),
 * which it then owns; lg_api_run does what is ready on its connections (libmicrohttpd's
 * parser, then the same guard and routes as lg_api_start's). NULL / -1 on error.
 */
struct lg_api *lg_api_start_unthreaded(const struct lg_config *cfg,
                                       const struct lg_ns_metrics *metrics, char *why,
                                       size_t why_len);
int lg_api_serve_fd(struct lg_api *api, int fd);
void lg_api_run(struct lg_api *api);

struct json_t;
struct lg_device_rec;
struct lg_gateway_rec;

/* Validates a device / gateway body (the POST /api/devices and /api/gateways rules,
 * also used by `lorageo device add` and `gateway add`); LG_EINVAL with the field named in why. */
int lg_api_parse_device(struct json_t *b, struct lg_device_rec *d, char *why, size_t why_len);
/* "tags", "hardware", "firmware" of b over inv (those not given kept). LG_EINVAL with why. */
struct lg_inventory;
int lg_api_parse_inventory(struct json_t *b, struct lg_inventory *inv, char *why, size_t why_len);
int lg_api_parse_gateway(struct json_t *b, struct lg_gateway_rec *g, char *why, size_t why_len);

/* A new API key's text ("lgk_" and 64 hex digits: the only time it exists) into key (at
 * least 69 bytes); LG_ECRYPTO without random bytes. Its SHA-256 (lg_store_token_hash) is
 * what the store keeps (keys.c). */
int lg_api_key_make(char *key, size_t len);

/* Parses "HOST:PORT" (IPv4 or [IPv6]) into a socket address; LG_EINVAL when malformed. */
int lg_parse_bind(const char *s, struct sockaddr_storage *out, socklen_t *len);

#endif
