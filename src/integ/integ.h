/*
 * integ — what leaves the server for applications: device events, decoded by the device's
 * payload codec, published over MQTT (lorageo's or ChirpStack v4's JSON) and POSTed to
 * HTTP webhooks.
 *
 * The server's event hook (lg_ns_io.on_event) hands every event to lg_integ_event, which
 * only queues it (bounded; the oldest is dropped and counted when full): a thread of the
 * integration runs the codecs — a JavaScript codec may take its whole time budget — and
 * fans each event out to MQTT and the webhook, each with its own queue and retries. So
 * neither the packet path nor storage waits on a codec or on an application.
 *
 * Hooks the applications and device-profile code fills (issue 18; see
 * docs/integrations.md "Completing the integration"):
 *  - the codec of a device: lg_codecs_set_lookup(lg_integ_codecs(i), fn, ctx);
 *  - the device's application, profile, tenant and tags for ChirpStack's deviceInfo and its
 *    topic: lg_integ_set_device_info(i, fn, ctx);
 *  - per-application webhooks: lg_webhook_start with a struct lg_webhook_target each.
 */
#ifndef LG_INTEG_H
#define LG_INTEG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "lora/lora.h"
#include "ns/config.h"
#include "ns/ns.h"
#include "util/json_text.h"

/* ChirpStack's DeviceInfo (integration.proto, chirpstack_api 4.x): strings, "" when
 * unknown. tags: an object or NULL (borrowed). */
struct lg_integ_device {
  char tenant_id[64], tenant_name[64];
  char application_id[64], application_name[64];
  char device_profile_id[64], device_profile_name[64];
  char device_name[64];
  bool class_c;
  json_t *tags;
};

/* Fills *d for dev_eui (defaults are already in it: the configured application id, the
 * device's name from storage). 0, or non-zero to keep the defaults. Called from the
 * integration thread only. */
typedef int (*lg_integ_device_fn)(void *ctx, uint64_t dev_eui, struct lg_integ_device *d);

/* ---- ChirpStack v4's integration JSON (chirpstack.c) ----------------------------------- */

/* The ChirpStack event for a lorageo event: *cs_type its name on the topic (up, join, ack,
 * txack, log, status, location); NULL when the type has none. `region` gives an uplink's
 * spreading factor and bandwidth from its data rate (may be NULL: txInfo without them).
 * The payload is borrowed. */
json_t *lg_chirpstack_event(const char *type, uint64_t dev_eui, json_t *payload,
                            const struct lg_integ_device *dev, const struct lg_region *region,
                            const char **cs_type);

/* A ChirpStack command/down body ({devEui, confirmed, fPort, data}) as lorageo's queue body
 * ({f_port, data, confirmed}); NULL when it is not an object. */
json_t *lg_chirpstack_command(json_t *body);

/* ---- webhooks (webhook.c) -------------------------------------------------------------- */

/* One HTTP target: every event whose type `events` names (comma-separated; "" all) is
 * POSTed to url?event=TYPE as JSON with `headers` ("Name: value" pairs separated by '|'),
 * in order, each tried up to max_attempts times with back-off retry_ms doubling up to
 * retry_max_ms, then dropped (counted). Per-application targets are the same struct. */
struct lg_webhook_target {
  char url[512];
  char headers[1024];
  char events[256];
  bool chirpstack; /* the body in ChirpStack's JSON (as [mqtt] format) */
  int max_attempts, retry_ms, retry_max_ms, timeout_ms;
};

struct lg_webhook;

/* Starts the target's sender thread; queue_max events wait at most. Counts into metrics
 * (webhook_*). NULL with a reason. */
struct lg_webhook *lg_webhook_start(const struct lg_webhook_target *t, size_t queue_max,
                                    struct lg_ns_metrics *metrics, char *why, size_t why_len);
/* Stops after the request in flight; what still waits is dropped (counted, logged). */
void lg_webhook_stop(struct lg_webhook *w);
/* True when the target wants events of this type. */
bool lg_webhook_wants(const struct lg_webhook_target *t, const char *type);
/* Queues one event (the body is copied); thread-safe. */
void lg_webhook_post(struct lg_webhook *w, const char *type, const char *body);

/* ---- the dispatcher (integ.c) ----------------------------------------------------------- */

struct lg_integ;

/* Starts MQTT ([mqtt] url), the webhook ([webhook] url) and the codecs ([codec]); NULL
 * with a reason. */
struct lg_integ *lg_integ_start(const struct lg_config *cfg, struct lg_ns_metrics *metrics,
                                char *why, size_t why_len);
void lg_integ_stop(struct lg_integ *i);
/* Queues one event; takes ownership of payload. Thread-safe, never blocks on I/O. */
void lg_integ_event(struct lg_integ *i, uint64_t dev_eui, const char *type, json_t *payload);
/* The codecs registry (for its hook, and for the API's uplinks). */
struct lg_codecs *lg_integ_codecs(struct lg_integ *i);
void lg_integ_set_device_info(struct lg_integ *i, lg_integ_device_fn fn, void *ctx);
/* A device's daily uplink limit (0: none). Past it, in a day from the first uplink counted,
 * each uplink is counted (lorageo_uplinks_over_limit_total) and the first one raises a
 * `log` event (code UPLINK_LIMIT); the uplinks themselves are kept and forwarded. */
typedef int (*lg_integ_limit_fn)(void *ctx, uint64_t dev_eui);
void lg_integ_set_uplink_limit(struct lg_integ *i, lg_integ_limit_fn fn, void *ctx);

/* codec_lookup.c: the codec hook filled from device profiles (`payload_codec`), with a
 * store connection and a cache of its own; lg_codec_lookup_profile is an lg_codec_lookup_fn
 * whose ctx is the lookup. */
struct lg_codec_lookup;
struct lg_codec_lookup *lg_codec_lookup_open(const struct lg_config *cfg, char *why,
                                             size_t why_len);
void lg_codec_lookup_close(struct lg_codec_lookup *l);
int lg_codec_lookup_profile(void *ctx, uint64_t dev_eui, char *spec, size_t spec_len);
/* An lg_integ_device_fn on the same lookup: the device's application (its id as a UUID,
 * 00000000-0000-0000-0000-000000000001 for 1, unless [mqtt] application_id is set) and
 * name, its profile's id and name. */
int lg_device_lookup_info(void *ctx, uint64_t dev_eui, struct lg_integ_device *d);
/* The device's profile's max_uplinks_per_day (0: none): an lg_integ_limit_fn. */
int lg_device_lookup_uplink_limit(void *ctx, uint64_t dev_eui);

#endif
