/*
 * The Semtech UDP transport of `lorageo serve`: one libuv UDP socket read with recvmmsg,
 * the server's 10 ms tick, and the answers. Every PUSH_ACK and PULL_ACK is queued with the
 * journal record its datagram got; in the loop's check phase the journal's sync is asked
 * for (lg_ns_flush_request: its own thread does the fdatasync), and the queue goes out in
 * sendmmsg as the syncs reach it (a uv_async wakes the loop) — so a PUSH_ACK always means
 * the datagram is on disk, and the loop never waits for the disk. Longer answers
 * (PULL_RESP) go out at once. A tick that works off a backlog reads the socket between its
 * slices (io.poll).
 */
#ifndef LG_NS_UDP_H
#define LG_NS_UDP_H

#include <stdbool.h>
#include <sys/socket.h>
#include <uv.h>

#include "ns/ns.h"

struct lg_udp;

/* A transport on `loop` (its handles initialised, nothing bound). NULL: out of memory. */
struct lg_udp *lg_udp_new(uv_loop_t *loop);
/* The server's io callbacks that the transport serves: ctx, send and poll. */
void lg_udp_io(struct lg_udp *u, struct lg_ns_io *io);
/* Binds `addr` (with reuse_port: SO_REUSEPORT, several instances on one port), starts
 * reading into `ns` and ticking it every 10 ms. 0 or a libuv error code (uv_strerror). */
int lg_udp_start(struct lg_udp *u, struct lg_ns *ns, const struct sockaddr_storage *addr,
                 socklen_t len, bool reuse_port);
/* Stops reading and ticking; what was read is answered (the journal synced first). */
void lg_udp_stop(struct lg_udp *u);
/* Closes the handles (running the loop once for it) and frees. NULL is fine. */
void lg_udp_free(struct lg_udp *u);

#endif
