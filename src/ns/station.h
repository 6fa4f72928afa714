/*
 * The LoRa Basics Station transport of `lorageo serve` ([basicstation] bind): libwebsockets
 * on the server's own libuv loop, so every message is handled on the packet thread like a
 * UDP datagram. Two websocket endpoints on one port: `/router-info` (discovery: the station
 * sends {"router": EUI} and is told its traffic URI) and `/traffic/<EUI>` (version →
 * router_config, updf/jreq → the pipeline, propdf counted and ignored, dntxed → the
 * downlink's confirmation, timesync → GPS time, dnmsg out).
 *
 * Authentication: TLS when cert_file/key_file are set, client certificates signed by
 * client_ca_file required when that is set (checked in the TLS handshake), and a gateway's
 * `station_token` (stored hashed) required as "Authorization: Bearer <token>" — or the raw
 * token as the header's value — when the gateway has one. A refused station gets no
 * websocket (HTTP 403) and is counted (lorageo_station_refused_total).
 *
 * Bounds: at most max_connections connections, a message at most LG_STATION_MAX_MSG bytes
 * (a longer one closes its connection), at most 32 messages queued per connection (a
 * downlink that finds the queue full is refused back to the scheduler).
 */
#ifndef LG_NS_STATION_H
#define LG_NS_STATION_H

#include <uv.h>

#include "ns/ns.h"

#define LG_STATION_MAX_MSG 16384

struct lg_station;

/* A transport on `loop` (nothing bound yet). NULL: out of memory. */
struct lg_station *lg_station_new(uv_loop_t *loop);
/* Sets io's gw_send/gw_ctx (before lg_ns_new copies io). */
void lg_station_io(struct lg_station *st, struct lg_ns_io *io);
/* Listens on cfg's [basicstation] bind for `ns`. 0, or LG_EIO / LG_EINVAL with why. */
int lg_station_start(struct lg_station *st, const struct lg_config *cfg, struct lg_ns *ns,
                     char *why, size_t why_len);
/* Closes every connection and the listener (running the loop until its handles are
 * closed) and frees. NULL is fine. */
void lg_station_free(struct lg_station *st);

#endif
