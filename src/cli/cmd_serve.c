/*
 * `lorageo serve [-c FILE]`: the network server. One libuv loop owns the UDP socket of
 * the Semtech protocol and a 10 ms timer that closes de-duplication windows; the HTTP
 * API runs in libmicrohttpd's thread. Every PUSH_DATA is journalled before its PUSH_ACK:
 * the answers to everything read in one loop iteration wait in a queue, the journal is
 * synced once (lg_ns_flush) in the loop's check phase, and then they go out with one
 * sendmmsg. SIGINT/SIGTERM stop it cleanly: the socket is no longer read, open
 * de-duplication windows are closed and stored, the journal's checkpoint written.
 */
#define _GNU_SOURCE /* sendmmsg */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "api/api.h"
#include "cli/cli.h"
#include "integ/mqtt.h"
#include "ns/config.h"
#include "ns/ns.h"
#include "store/store.h"

static const char usage[] =
    "usage: lorageo serve [-c FILE]\n"
    "\n"
    "Runs the network server: Semtech UDP packet-forwarder protocol on [server] udp_bind,\n"
    "HTTP API, /metrics on [server] http_bind, storage in [server] database (SQLite).\n"
    "Without -c the defaults serve (udp 0.0.0.0:1700, http 127.0.0.1:8080, ./lorageo.db);\n"
    "every key can be set from the environment as LORAGEO_<SECTION>_<KEY>.\n";

#define RECV_SLOTS 20          /* datagrams per recvmmsg: libuv's most */
#define RECV_SLOT  (64 * 1024) /* libuv's slot: any UDP datagram fits */
#define ACK_BATCH  1024        /* answers held for one journal sync (sendmmsg's most) */
#define ACK_MAX    64          /* longer datagrams (PULL_RESP) are sent at once */

struct server {
  uv_loop_t *loop;
  uv_udp_t udp;
  uv_timer_t tick;
  uv_signal_t sigint, sigterm;
  uv_check_t after_io; /* the end of a loop iteration's reads: journal synced, answers sent */
  struct lg_ns *ns;
  struct lg_mqtt *mqtt; /* NULL: MQTT off */
  /* Room for a batch of datagrams: with recvmmsg libuv cuts it into slots of 64 KiB (the
   * largest datagram), at most 20, fills them in one syscall and hands them over one by
   * one. (A buffer of 128 KiB meant two datagrams a syscall.) */
  char buf[RECV_SLOTS * RECV_SLOT];
  /* The short answers (PUSH_ACK, PULL_ACK) to what one loop iteration read, sent together
   * by sendmmsg once the journal holds their datagrams: one syscall instead of one per
   * datagram. */
  unsigned n_acks;
  struct mmsghdr ack_msg[ACK_BATCH];
  struct iovec ack_iov[ACK_BATCH];
  struct sockaddr_storage ack_to[ACK_BATCH];
  uint8_t ack_data[ACK_BATCH][ACK_MAX];
};

/* Sends the queued answers. `journalled`: false when the journal could not be synced: then
 * no PUSH_ACK goes out (their datagrams are not on disk), only PULL_ACKs. */
static void send_acks(struct server *s, bool journalled) {
  unsigned sent = 0;
  uv_os_fd_t fd;
  if (s->n_acks == 0 || uv_fileno((uv_handle_t *)&s->udp, &fd) != 0) {
    s->n_acks = 0;
    return;
  }
  if (!journalled) { /* keep the PULL_ACKs (type 4) only */
    unsigned k = 0;
    for (unsigned i = 0; i < s->n_acks; i++)
      if (s->ack_data[i][3] != 1) s->ack_msg[k++] = s->ack_msg[i];
    s->n_acks = k;
  }
  while (sent < s->n_acks) {
    int rc = sendmmsg(fd, s->ack_msg + sent, s->n_acks - sent, MSG_DONTWAIT);
    if (rc <= 0) {
      if (rc < 0 && errno == EINTR) continue;
      fprintf(stderr, "lorageo: UDP send of %u answers failed: %s\n", s->n_acks - sent,
              rc < 0 ? strerror(errno) : "nothing sent");
      break;
    }
    sent += (unsigned)rc;
  }
  s->n_acks = 0;
}

/* The end of a batch of datagrams: journal synced, then the answers. */
static void flush_acks(struct server *s) {
  bool ok = lg_ns_flush(s->ns) == 0;
  send_acks(s, ok);
}

static void on_event(void *ctx, uint64_t dev_eui, const char *type, json_t *payload) {
  struct server *s = ctx;
  if (s->mqtt)
    lg_mqtt_event(s->mqtt, dev_eui, type, payload);
  else
    json_decref(payload);
}

static int64_t wall_ns(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void udp_send(void *ctx, const struct sockaddr *to, socklen_t len, const uint8_t *buf,
                     size_t n) {
  struct server *s = ctx;
  if (n <= ACK_MAX && len <= sizeof(struct sockaddr_storage)) {
    unsigned i = s->n_acks++;
    memcpy(s->ack_data[i], buf, n);
    memcpy(&s->ack_to[i], to, len);
    s->ack_iov[i] = (struct iovec){.iov_base = s->ack_data[i], .iov_len = n};
    s->ack_msg[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &s->ack_to[i],
                                                 .msg_namelen = len,
                                                 .msg_iov = &s->ack_iov[i],
                                                 .msg_iovlen = 1}};
    if (s->n_acks == ACK_BATCH) flush_acks(s);
    return;
  }
  flush_acks(s); /* keep the order of what was already answered */
  uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
  int rc = uv_udp_try_send(&s->udp, &b, 1, to);
  if (rc < 0) fprintf(stderr, "lorageo: UDP send failed: %s\n", uv_strerror(rc));
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  struct server *s = h->data;
  *buf = uv_buf_init(s->buf, sizeof(s->buf));
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *from,
                    unsigned flags) {
  struct server *s = h->data;
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
  struct server *s = c->data;
  flush_acks(s);
}

/* lg_ns_io.poll: what is waiting on the socket, read and answered as the loop would (a
 * batch's copies handed on, then its answers sent), a few batches at a time. */
#define POLL_BATCHES 24
static void poll_udp(void *ctx) {
  struct server *s = ctx;
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
  struct server *s = t->data;
  lg_ns_tick(s->ns);
}

static void on_signal(uv_signal_t *sig, int signum) {
  (void)signum;
  uv_stop(sig->loop);
}

int lg_cmd_serve(int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *path = NULL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":hc:", opts, NULL)) != -1) {
    switch (c) {
    case 'h': fputs(usage, stdout); return 0;
    case 'c': path = optarg; break;
    default: return lg_cli_bad_option("serve", c, argv);
    }
  }
  if (optind != argc) return lg_cli_fail("serve", 2, "unexpected argument '%s'", argv[optind]);
  struct lg_config cfg;
  char why[512];
  if (lg_config_load(&cfg, path, why, sizeof(why))) return lg_cli_fail("serve", 2, "%s", why);

  static struct server s;
  struct lg_store *store = NULL;
  struct lg_api *api = NULL;
  struct sockaddr_storage addr;
  socklen_t addr_len;
  int rc = 1;
  if (lg_parse_bind(cfg.udp_bind, &addr, &addr_len))
    return lg_cli_fail("serve", 2, "udp_bind '%s': expected HOST:PORT", cfg.udp_bind);
  if (lg_store_open(&store, cfg.database, why, sizeof(why)))
    return lg_cli_fail("serve", 1, "%s", why);
  s.loop = uv_default_loop();
  uv_timer_init(s.loop, &s.tick); /* all handles set up first, so `out` may close them all */
  s.tick.data = &s;
  uv_signal_init(s.loop, &s.sigint);
  uv_signal_init(s.loop, &s.sigterm);
  uv_check_init(s.loop, &s.after_io);
  s.after_io.data = &s;
  static atomic_uint gateways_changed;
  struct lg_ns_io io = {.ctx = &s,
                        .now_ns = wall_ns,
                        .send = udp_send,
                        .gateways_changed = &gateways_changed,
                        .on_event = cfg.mqtt_url[0] ? on_event : NULL,
                        .poll = poll_udp};
  s.ns = lg_ns_new(&cfg, store, &io, why, sizeof(why));
  if (s.ns == NULL) {
    lg_cli_fail("serve", 1, "%s", why);
    goto out;
  }
  /* with reuse_port the socket is made here (bind_udp), not by libuv */
  uv_udp_init_ex(s.loop, &s.udp,
                 (cfg.udp_reuse_port ? AF_UNSPEC : (unsigned)addr.ss_family) | UV_UDP_RECVMMSG);
  s.udp.data = &s;
  int err = bind_udp(&s.udp, &addr, addr_len, cfg.udp_reuse_port);
  uint64_t behind = lg_ns_recover(s.ns); /* journalled, not known to be stored */
  if (behind) fprintf(stderr, "lorageo: catching up %llu journal records\n", (unsigned long long)behind);
  if (err == 0) {
    /* Gateways burst (every PUSH_DATA of a busy area at once): ask for 8 MiB of socket
     * buffer; the kernel caps it at net.core.rmem_max. */
    int rcvbuf = 8 << 20;
    uv_recv_buffer_size((uv_handle_t *)&s.udp, &rcvbuf);
    err = uv_udp_recv_start(&s.udp, on_alloc, on_recv);
    uv_check_start(&s.after_io, on_after_io);
  }
  if (err) {
    lg_cli_fail("serve", 1, "cannot listen for UDP on %s: %s", cfg.udp_bind, uv_strerror(err));
    goto out;
  }
  api = lg_api_start(&cfg, lg_ns_metrics(s.ns), &gateways_changed, why, sizeof(why));
  if (api == NULL) {
    lg_cli_fail("serve", 1, "%s", why);
    goto out;
  }
  uv_timer_start(&s.tick, on_tick, 10, 10);
  uv_signal_start(&s.sigint, on_signal, SIGINT);
  uv_signal_start(&s.sigterm, on_signal, SIGTERM);
  if (cfg.mqtt_url[0] &&
      (s.mqtt = lg_mqtt_start(&cfg, lg_ns_metrics(s.ns), why, sizeof(why))) == NULL) {
    rc = lg_cli_fail("serve", 2, "%s", why);
    goto out;
  }
  fprintf(stderr, "lorageo: serving %s: UDP %s, HTTP http://%s, database %s\n", cfg.region,
          cfg.udp_bind, cfg.http_bind, cfg.database);
  uv_run(s.loop, UV_RUN_DEFAULT);
  /* A clean stop: nothing more is read; what was read is answered (journal synced first),
   * then every open window is closed and stored. */
  uv_udp_recv_stop(&s.udp);
  flush_acks(&s);
  struct lg_ns_metrics *m = lg_ns_metrics(s.ns);
  uint64_t uplinks_before = atomic_load(&m->uplinks);
  size_t drained = lg_ns_drain(s.ns);
  fprintf(stderr, "lorageo: stopping: %zu open de-duplication windows drained (%llu uplinks "
                  "stored), %s\n",
          drained, (unsigned long long)(atomic_load(&m->uplinks) - uplinks_before),
          lg_ns_catching_up(s.ns) ? "journal not yet caught up (continued on the next start)"
          : cfg.journal[0] ? "journal checkpoint written" : "no journal");
  rc = 0;
out:
  lg_api_stop(api);
  if (s.ns) {
    uv_close((uv_handle_t *)&s.udp, NULL);
    uv_close((uv_handle_t *)&s.tick, NULL);
    uv_close((uv_handle_t *)&s.sigint, NULL);
    uv_close((uv_handle_t *)&s.sigterm, NULL);
    uv_close((uv_handle_t *)&s.after_io, NULL);
    uv_run(s.loop, UV_RUN_NOWAIT);
  }
  lg_mqtt_stop(s.mqtt); /* first: its thread writes the server's metrics until it stops */
  lg_ns_free(s.ns);
  lg_store_close(store);
  return rc;
}
