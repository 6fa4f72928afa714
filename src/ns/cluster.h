/* Internal to ns/: sharing frames between instances through Redis (cluster.c). */
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
/* The first copy of a frame seen here: whether this instance owns (processes) it. Redis
 * unreachable: *ok false, and true (the frame is processed here). */
bool ns_cluster_claim(struct ns_cluster *c, const uint8_t *key, size_t key_len, int ttl_ms,
                      bool *ok);
/* A copy of a frame another instance owns, handed to it. Returns the stored uplink's id if
 * the owner has processed the frame already (the caller attaches the copy as a late one),
 * -1 if it refused the frame, 0 if it has not processed it yet (it takes the copy). */
int64_t ns_cluster_hand_over(struct ns_cluster *c, const uint8_t *key, size_t key_len,
                             const struct ns_rx *rx, int ttl_ms, bool *ok);
/* The owner at its window's end: the copies handed over so far (up to cap) into out[];
 * how many the list held in *taken. */
size_t ns_cluster_collect(struct ns_cluster *c, const uint8_t *key, size_t key_len,
                          struct ns_rx *out, size_t cap, size_t *taken);
/* The owner after processing: publishes the uplink's id (0: refused) and returns the
 * copies handed over since `taken` (they are late copies) in out[]. */
size_t ns_cluster_done(struct ns_cluster *c, const uint8_t *key, size_t key_len, int64_t uplink_id,
                       size_t taken, int ttl_ms, struct ns_rx *out, size_t cap);

#endif
