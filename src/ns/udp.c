/*
 * The Semtech UDP transport (udp.h). The socket is read with recvmmsg into libuv's 64 KiB
 * slots (20 datagrams a syscall); answers are held until the journal holds what they
 * answer, then sent together with sendmmsg.
 */
#define _GNU_SOURCE /* sendmmsg, recvmmsg */
#include "ns/udp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RECV_SLOTS 20          /* datagrams per recvmmsg: libuv's most */
#define RECV_SLOT  (64 * 1024) /* libuv's slot: any UDP datagram fits */
#define ACK_BATCH  1024        /* answers waiting for the journal's sync (sendmmsg's most) */
#define ACK_MAX    64          /* longer datagrams (PULL_RESP) are sent at once */

struct lg_udp {
  uv_loop_t *loop;
  uv_udp_t udp;
  bool udp_open; /* udp initialised */
  uv_timer_t tick;
  uv_check_t after_io; /* the end of a loop iteration's reads: the journal's sync asked for */
  uv_async_t synced;   /* the journal's syncer thread finished a sync */
  struct lg_ns *ns;
  /* Room for a batch of datagrams: with recvmmsg libuv cuts it into slots of 64 KiB (the
   * largest datagram), at most 20, fills them in one syscall and hands them over one by
   * one. (A buffer of 128 KiB meant two datagrams a syscall.) */
  char buf[RECV_SLOTS * RECV_SLOT];
  /* The short answers (PUSH_ACK, PULL_ACK), in order, each with the journal record its
   * datagram got: sent together by sendmmsg once the journal's sync reaches them. */
  unsigned n_acks;
  struct ack {
    uint64_t need; /* journal record that must be on disk first (0: none) */
    socklen_t to_len;
    struct sockaddr_storage to;
    size_t len;
    uint8_t data[ACK_MAX];
  } acks[ACK_BATCH];
  struct mmsghdr ack_msg[ACK_BATCH];
  struct iovec ack_iov[ACK_BATCH];
  uint64_t dropped; /* PUSH_ACKs not sent: their journal sync failed */
};

/* Sends the answers whose datagrams are on disk (in order, up to the first still waiting);
 * a PUSH_ACK whose journal sync failed is not sent at all. */
static void send_ready(struct lg_udp *s) {
  uv_os_fd_t fd;
  if (s->n_acks == 0 || uv_fileno((uv_handle_t *)&s->udp, &fd) != 0) return;
  uint64_t failed_from, failed_to;
  lg_ns_journal_failed(s->ns, &failed_from, &failed_to);
  uint64_t synced = lg_ns_journal_synced(s->ns);
  unsigned done = 0, n = 0;
  for (; done < s->n_acks; done++) {
    struct ack *a = &s->acks[done];
    if (a->need > failed_from && a->need <= failed_to) { /* its sync failed */
      s->dropped++;
      continue;
    }
    if (a->need > synced) break; /* still waiting: so do all after it */
    s->ack_iov[n] = (struct iovec){.iov_base = a->data, .iov_len = a->len};
    s->ack_msg[n] = (struct mmsghdr){.msg_hdr = {.msg_name = &a->to,
                                                 .msg_namelen = a->to_len,
                                                 .msg_iov = &s->ack_iov[n],
                                                 .msg_iovlen = 1}};
    n++;
  }
  unsigned sent = 0;
  while (sent < n) {
    int rc = sendmmsg(fd, s->ack_msg + sent, n - sent, MSG_DONTWAIT);
    if (rc <= 0) {
      if (rc < 0 && errno == EINTR) continue;
      fprintf(stderr, "lorageo: UDP send of %u answers failed: %s\n", n - sent,
              rc < 0 ? strerror(errno) : "nothing sent");
      break;
    }
    sent += (unsigned)rc;
  }
  memmove(s->acks, s->acks + done, (s->n_acks - done) * sizeof(s->acks[0]));
  s->n_acks -= done;
}

/* The end of a batch of datagrams: the journal written and its sync asked for (on the
 * syncer's thread, or here when there is none); what is on disk already is answered. */
static void flush_acks(struct lg_udp *s) {
  lg_ns_flush_request(s->ns);
  send_ready(s);
}

/* The same, waiting for the disk: every answer held goes out (or is dropped). */
static void flush_acks_wait(struct lg_udp *s) {
  lg_ns_flush(s->ns);
  send_ready(s);
}

static void on_synced(uv_async_t *h) {
  send_ready(h->data);
}

/* lg_journal's notify, on the syncer's thread. */
static void journal_synced(void *ctx) {
  struct lg_udp *s = ctx;
  uv_async_send(&s->synced);
}

static void udp_send(void *ctx, const struct sockaddr *to, socklen_t len, const uint8_t *buf,
                     size_t n) {
  struct lg_udp *s = ctx;
  if (n <= ACK_MAX && len <= sizeof(struct sockaddr_storage)) {
    if (s->n_acks == ACK_BATCH) flush_acks_wait(s);
    struct ack *a = &s->acks[s->n_acks++];
    a->need = n == 4 && buf[3] == 1 ? lg_ns_journal_seq(s->ns) : 0; /* PUSH_ACK */
    a->to_len = len;
    memcpy(&a->to, to, len);
    a->len = n;
    memcpy(a->data, buf, n);
    return;
  }
  send_ready(s);
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
  int rc = uv_udp_try_send(&s->udp, &b, 1, to);
  if (rc < 0) fprintf(stderr, "lorageo: UDP send failed: %s\n", uv_strerror(rc));
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  struct lg_udp *s = h->data;
  *buf = uv_buf_init(s->buf, sizeof(s->buf));
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags) {
  struct lg_udp *s = h->data;
  (void)buf;
  /* n == 0 with UV_UDP_MMSG_FREE ends a recvmmsg batch: the buffer is static, nothing to
   * free. The answers wait for the loop's check phase (after_io): one journal sync for
   * every batch read in this iteration. */
  if (n <= 0 || from == NULL || (flags & UV_UDP_PARTIAL)) return;
  socklen_t len =
      from->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  lg_ns_datagram(s->ns, from, len, (const uint8_t *)buf->base, (size_t)n);
}

static void on_after_io(uv_check_t *c) {
  struct lg_udp *s = c->data;
  flush_acks(s);
}

/* lg_ns_io.poll: what is waiting on the socket, read and answered as the loop would (a
 * batch's copies handed on, then its answers sent), a few batches at a time. */
#define POLL_BATCHES 24
static void poll_udp(void *ctx) {
  struct lg_udp *s = ctx;
  uv_os_fd_t fd;
  if (uv_fileno((uv_handle_t *)&s->udp, &fd) != 0) return;
  enum { N = RECV_SLOTS };
  struct mmsghdr msg[N];
  struct iovec iov[N];
  struct sockaddr_storage from[N];
  for (int b = 0; b < POLL_BATCHES; b++) {
    for (int i = 0; i < N; i++) {
      iov[i] = (struct iovec){.iov_base = s->buf + i * RECV_SLOT, .iov_len = RECV_SLOT};
      msg[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &from[i],
                                            .msg_namelen = sizeof(from[i]),
                                            .msg_iov = &iov[i],
                                            .msg_iovlen = 1}};
    }
    int n = recvmmsg(fd, msg, N, MSG_DONTWAIT, NULL);
    if (n <= 0) return;
    for (int i = 0; i < n; i++) /* a slot holds any datagram: none is truncated */
      lg_ns_datagram(s->ns, (const struct sockaddr *)&from[i], msg[i].msg_hdr.msg_namelen,
                     (const uint8_t *)iov[i].iov_base, msg[i].msg_len);
    flush_acks(s);
    if (n < N) return;
  }
}

/* The gateways' socket. With reuse_port, several instances bind one port (SO_REUSEPORT)
 * and the kernel spreads the gateways over them by source address and port; without it, a
 * port in use is an error rather than a socket that silently gets nothing. */
static int bind_udp(uv_udp_t *udp, const struct sockaddr_storage *addr, socklen_t len,
                    bool reuse_port) {
  if (!reuse_port) return uv_udp_bind(udp, (const struct sockaddr *)addr, 0);
  int fd = socket(addr->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
  if (fd < 0) return uv_translate_sys_error(errno);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
      bind(fd, (const struct sockaddr *)addr, len) != 0) {
    int err = uv_translate_sys_error(errno);
    close(fd);
    return err;
  }
  return uv_udp_open(udp, fd);
}

static void on_tick(uv_timer_t *t) {
  struct lg_udp *s = t->data;
  lg_ns_tick(s->ns);
}


struct lg_udp *lg_udp_new(uv_loop_t *loop) {
  struct lg_udp *s = calloc(1, sizeof(*s));
  if (s == NULL) return NULL;
  s->loop = loop;
  uv_timer_init(loop, &s->tick);
  s->tick.data = s;
  uv_check_init(loop, &s->after_io);
  s->after_io.data = s;
  uv_async_init(loop, &s->synced, on_synced);
  s->synced.data = s;
  uv_unref((uv_handle_t *)&s->synced); /* it does not keep the loop running */
  return s;
}

void lg_udp_io(struct lg_udp *s, struct lg_ns_io *io) {
  io->ctx = s;
  io->send = udp_send;
  io->poll = poll_udp;
}

int lg_udp_start(struct lg_udp *s, struct lg_ns *ns, const struct sockaddr_storage *addr,
                 socklen_t len, bool reuse_port) {
  s->ns = ns;
  /* with reuse_port the socket is made by bind_udp, not by libuv */
  uv_udp_init_ex(s->loop, &s->udp,
                 (reuse_port ? AF_UNSPEC : (unsigned)addr->ss_family) | UV_UDP_RECVMMSG);
  s->udp.data = s;
  s->udp_open = true;
  int err = bind_udp(&s->udp, addr, len, reuse_port);
  if (err) return err;
  /* Gateways burst (every PUSH_DATA of a busy area at once): ask for 8 MiB of socket
   * buffer; the kernel caps it at net.core.rmem_max. */
  int rcvbuf = 8 << 20;
  uv_recv_buffer_size((uv_handle_t *)&s->udp, &rcvbuf);
  if ((err = uv_udp_recv_start(&s->udp, on_alloc, on_recv)) != 0) return err;
  uv_check_start(&s->after_io, on_after_io);
  uv_timer_start(&s->tick, on_tick, 10, 10);
  return lg_ns_journal_async(ns, journal_synced, s) ? UV_ENOMEM : 0;
}

void lg_udp_stop(struct lg_udp *s) {
  if (s->udp_open) uv_udp_recv_stop(&s->udp);
  uv_timer_stop(&s->tick);
  if (s->ns) {
    lg_ns_journal_async(s->ns, NULL, NULL); /* syncing waits from now on */
    flush_acks_wait(s);
  }
}

void lg_udp_free(struct lg_udp *s) {
  if (s == NULL) return;
  if (s->ns) lg_ns_journal_async(s->ns, NULL, NULL); /* no notify after the handle is gone */
  if (s->udp_open) uv_close((uv_handle_t *)&s->udp, NULL);
  uv_close((uv_handle_t *)&s->synced, NULL);
  uv_close((uv_handle_t *)&s->tick, NULL);
  uv_close((uv_handle_t *)&s->after_io, NULL);
  uv_run(s->loop, UV_RUN_NOWAIT);
  free(s);
}
