/*
 * The MQTT integration (libmosquitto): device events published as
 * `{prefix}/device/{dev_eui}/event/{type}` at [mqtt] qos (0 by default, as ChirpStack; 1),
 * and `{prefix}/device/+/command/down` subscribed to enqueue downlinks. A network thread
 * of ours keeps the connection and reconnects with back-off (1 s doubling to 30 s). While
 * the broker is away, events wait in a bounded queue (oldest dropped first, counted) and
 * go out in order on reconnect; at QoS 1, events already handed to libmosquitto but not
 * acknowledged are re-sent by it: delivery is at least once. With [mqtt] format = chirpstack the integration (integ.c) publishes
 * ChirpStack's JSON on ChirpStack's topics, and commands come on them too.
 */
#ifndef LG_INTEG_MQTT_H
#define LG_INTEG_MQTT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ns/config.h"
#include "ns/ns.h"

struct lg_mqtt;

/* Connects (asynchronously) to cfg->mqtt_url (mqtt://HOST[:PORT]) and opens its own handle
 * on cfg->database for command/down; counts into metrics (the mqtt_* fields, shown at
 * /metrics). NULL with a reason on a bad URL or setup failure. */
struct lg_mqtt *lg_mqtt_start(const struct lg_config *cfg, struct lg_ns_metrics *metrics, char *why,
                              size_t why_len);
void lg_mqtt_stop(struct lg_mqtt *m);

/* Publishes one event on {prefix}/device/{dev_eui}/event/{type} (thread-safe); takes
 * ownership of payload. */
void lg_mqtt_event(struct lg_mqtt *m, uint64_t dev_eui, const char *type, json_t *payload);
/* The same on a topic of the caller's (ChirpStack's, integ.h). */
void lg_mqtt_publish(struct lg_mqtt *m, const char *topic, json_t *payload);

/* The codecs command/down's `object` is encoded with (codec.h; NULL: refused). */
struct lg_codecs;
void lg_mqtt_set_codecs(struct lg_mqtt *m, struct lg_codecs *c);

#endif
