/* Internal to ns/: what several instances share through Redis (cluster.c). */
#ifndef LG_NS_CLUSTER_H
#define LG_NS_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ns/ns_int.h"

struct ns_cluster;

int ns_cluster_open(struct ns_cluster **out, const char *url, uint64_t instance, char *why,
                    size_t why_len);
void ns_cluster_close(struct ns_cluster *c);
uint64_t ns_cluster_self(const struct ns_cluster *c);

/* ---- frames */
/* Copies of frames received here, kept in Redis with each frame's other copies, in one
 * round trip. For each: whether this instance owns (processes) the frame — the first
 * instance to hand in a copy does — and the stored uplink if the frame was processed
 * already (-1: refused, 0: not yet). False when Redis is unreachable (then every frame
 * is this instance's). */
struct ns_cluster_copy {
  const uint8_t *key;
  size_t key_len;
  const struct ns_rx *rx;
  bool mine;         /* out */
  int64_t uplink_id; /* out */
};
bool ns_cluster_copies(struct ns_cluster *c, struct ns_cluster_copy *copies, size_t n, int ttl_ms);
/* Pipelined, for the frames whose windows close in one tick: ready() once (false: Redis
 * unreachable), then each frame's *_ask, then its *_read in the same order. */
bool ns_cluster_ready(struct ns_cluster *c);
/* The copies kept so far: the other instances' only, or all of them (`all`, for a frame
 * picked up from a dead owner), up to cap into out[]; the list's length in *taken. */
void ns_cluster_collect_ask(struct ns_cluster *c, const uint8_t *key, size_t key_len);
size_t ns_cluster_collect_read(struct ns_cluster *c, bool all, struct ns_rx *out, size_t cap,
                               size_t *taken);
/* After processing (and committing): publishes the uplink's id (0: refused), closes the
 * frame, and reads the other instances' copies that came since `taken` (late ones). */
void ns_cluster_done_ask(struct ns_cluster *c, const uint8_t *key, size_t key_len,
                         int64_t uplink_id, size_t taken, int ttl_ms);
size_t ns_cluster_done_read(struct ns_cluster *c, struct ns_rx *out, size_t cap);
/* Frames owned by instances that stopped answering and not closed by them: taken from
 * the first dead instance found (each frame by exactly one survivor), up to cap keys of
 * up to key_cap bytes into keys (key_len[i] each). */
size_t ns_cluster_orphans(struct ns_cluster *c, uint8_t *keys, size_t key_cap, size_t *key_len,
                          size_t cap);

/* ---- downlinks */
/* A gateway's PULL path is held here (said again every few seconds). */
void ns_cluster_gateway(struct ns_cluster *c, uint64_t eui);
/* The instance holding the gateway's PULL path (0: none known, or Redis unreachable). */
uint64_t ns_cluster_holder(struct ns_cluster *c, uint64_t eui);

/* A downlink handed to the instance holding its gateway. */
struct ns_cluster_dl {
  uint64_t owner; /* where its TX_ACK goes */
  uint64_t gateway_eui;
  uint16_t token;
  struct lg_gw_txpk tx; /* tx.data is not carried: see data */
  uint8_t data[256];
};
/* A TX_ACK (or the holder's refusal) for a downlink handed over. */
struct ns_cluster_ack {
  uint64_t gateway_eui;
  uint16_t token;
  char error[24];
};
bool ns_cluster_send_dl(struct ns_cluster *c, uint64_t holder, const struct ns_cluster_dl *dl);
bool ns_cluster_send_ack(struct ns_cluster *c, uint64_t owner, const struct ns_cluster_ack *ack);
/* Every tick: says this instance is alive (every half second), and takes what the others
 * sent it (up to the caps). */
void ns_cluster_poll(struct ns_cluster *c, int64_t now_ns, struct ns_cluster_dl *dl, size_t dl_cap,
                     size_t *n_dl, struct ns_cluster_ack *ack, size_t ack_cap, size_t *n_ack);

/* ---- duty cycle: a gateway's downlink airtime, kept where any holder finds it */
bool ns_cluster_dc_load(struct ns_cluster *c, uint64_t eui, struct lg_dutycycle *dc);
void ns_cluster_dc_save(struct ns_cluster *c, uint64_t eui, const struct lg_dutycycle *dc);

#endif
