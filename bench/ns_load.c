/*
 * Network-server load: how many device uplinks per second `lorageo serve` takes end to
 * end (UDP in, de-duplication, session lookup, MIC, FCnt compare-and-set, decryption,
 * SQLite storage of the uplink and every reception, geolocation), next to the raw
 * loopback UDP receive rate measured in the same run.
 *
 * It provisions G gateways and N ABP devices in a fresh database, starts the server,
 * plays every gateway with sendmmsg(): each uplink is heard by 4 gateways (4 datagrams),
 * with GPS times so each is also located. Then it reads /metrics until every uplink is
 * accounted for (accepted or dropped), and reports uplinks/s and what was lost. A second
 * thread reads the PUSH_ACKs and reports how long each took (a packet forwarder gives up on
 * one after 100 ms and counts the datagram as unacknowledged).
 *
 * usage: ns_load path/to/lorageo [uplinks, default 20000] [devices, default 1000] [database]
 *                [instances, default 1] [redis://HOST:PORT]
 * (database: a fresh SQLite file by default, or an empty PostgreSQL database's URI.) With a
 * Redis URL, that many instances run as a cluster ([cluster] redis) on one database, each
 * holding every instance-th gateway, as behind a UDP load balancer: a frame's 4 copies land
 * on different instances. Their counters are summed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lorawan/lorawan.h"
#include "store/store.h"
#include "util/util.h"

#define GATEWAYS  8
#define PER_FRAME 4
#define INSTANCES 8

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* PUSH_ACK latency: the send time of the datagram with each token (the token is the
 * datagram's index mod 65536; at most a few hundred are in flight), and the latencies. */
struct acks {
  int fd;
  _Atomic double sent[65536];
  double *lat_ms;
  size_t n, cap;
  atomic_bool stop;
};

static void *ack_reader(void *arg) {
  struct acks *a = arg;
  struct timeval tv = {0, 100000};
  setsockopt(a->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  uint8_t b[16];
  while (!atomic_load(&a->stop)) {
    ssize_t n = recv(a->fd, b, sizeof(b), 0);
    if (n != 4 || b[3] != 1 || a->n == a->cap) continue; /* PUSH_ACK: version, token, 1 */
    double t = atomic_load_explicit(&a->sent[b[1] | b[2] << 8], memory_order_relaxed);
    a->lat_ms[a->n++] = (now_s() - t) * 1e3;
  }
  return NULL;
}

static int cmp_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* Reads a counter from /metrics with a raw HTTP/1.0 request. -1 on failure. */
static long long metric(int port, const char *name) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  /* the API answers 421 to a request without the Host it serves (docs/security.md) */
  char req[96];
  int len = snprintf(req, sizeof(req), "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", port);
  if (write(fd, req, (size_t)len) < 0) {
    close(fd);
    return -1;
  }
  static char buf[1 << 17]; /* /metrics is ~14 KB and grows with gateways and labels */
  size_t n = 0;
  ssize_t r;
  while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
    n += (size_t)r;
  buf[n] = '\0';
  close(fd);
  long long total = 0;
  bool found = false;
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
    if (strncmp(line, name, strlen(name)) != 0 || line[0] == '#') continue;
    char *sp = strrchr(line, ' ');
    if (sp) {
      total += atoll(sp + 1);
      found = true;
    }
  }
  return found ? total : -1;
}

/* A counter summed over the instances' HTTP ports (port + 1 + 2k). */
static long long metric_sum(int port, int instances, const char *name) {
  long long total = 0;
  for (int k = 0; k < instances; k++) {
    long long v = metric(port + 1 + 2 * k, name);
    if (v < 0) return -1;
    total += v;
  }
  return total;
}

/* The raw loopback receive rate: the same datagrams to our own socket, counted. */
static double raw_rate(struct mmsghdr *msgs, size_t n) {
  int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  socklen_t len = sizeof(a);
  int big = 8 << 20;
  setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  bind(rx, (struct sockaddr *)&a, sizeof(a));
  getsockname(rx, (struct sockaddr *)&a, &len);
  struct timeval tv = {0, 200000};
  setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  pid_t child = fork();
  if (child == 0) {
    for (size_t i = 0; i < n; i++)
      msgs[i].msg_hdr.msg_name = &a, msgs[i].msg_hdr.msg_namelen = sizeof(a);
    for (size_t off = 0; off < n;) {
      int s = sendmmsg(tx, msgs + off, (unsigned)(n - off < 512 ? n - off : 512), 0);
      if (s > 0) off += (size_t)s;
    }
    _exit(0);
  }
  char buf[2048];
  size_t got = 0;
  double t0 = 0, t1 = 0;
  while (got < n) {
    if (recv(rx, buf, sizeof(buf), 0) < 0) break;
    if (got++ == 0) t0 = now_s();
    t1 = now_s();
  }
  waitpid(child, NULL, 0);
  close(rx);
  close(tx);
  return got > 1 ? (double)(got - 1) / (t1 - t0) : 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: ns_load path/to/lorageo [uplinks] [devices] [database] [instances] "
                    "[redis-url]\n");
    return 2;
  }
  int instances = argc > 5 ? atoi(argv[5]) : 1;
  const char *redis = argc > 6 ? argv[6] : NULL;
  if (instances < 1 || instances > INSTANCES || (instances > 1 && redis == NULL)) {
    fprintf(stderr, "ns_load: 1 to %d instances; more than one needs a redis:// URL\n", INSTANCES);
    return 2;
  }
  long uplinks = argc > 2 ? atol(argv[2]) : 20000, devices = argc > 3 ? atol(argv[3]) : 1000;
  char dir[] = "/tmp/ns_load.XXXXXX", db[512];
  if (!mkdtemp(dir)) return 1;
  snprintf(db, sizeof(db), "%s/lorageo.db", dir);
  if (argc > 4 && strcmp(argv[4], "-") != 0) snprintf(db, sizeof(db), "%s", argv[4]);
  int port = 30000 + (int)(getpid() % 20000); /* instance k: UDP port + 2k, HTTP port + 2k + 1 */

  /* Provision gateways around Lyngby and ABP devices. */
  struct lg_store *st;
  char why[256];
  if (lg_store_open(&st, db, why, sizeof(why))) return fprintf(stderr, "%s\n", why), 1;
  for (int g = 0; g < GATEWAYS; g++) {
    struct lg_gateway_rec gw = {.eui = 0xaa555a0000000100ull + (uint64_t)g,
                                .has_position = true,
                                .lat_deg = 55.78 + 0.02 * cos(g * 0.785),
                                .lon_deg = 12.46 + 0.035 * sin(g * 0.785),
                                .alt_m = 30};
    if (lg_store_gateway_put(st, &gw)) return fprintf(stderr, "provisioning failed\n"), 1;
  }
  uint8_t key[16];
  for (int i = 0; i < 16; i++)
    key[i] = (uint8_t)(i * 17 + 3);
  double t_prov = now_s();
  if (lg_store_begin(st)) return 1; /* one transaction: provisioning is not measured */
  for (long d = 0; d < devices; d++) {
    struct lg_device_rec dev = {.dev_eui = 0x0102030400000000ull + (uint64_t)d,
                                .has_session = true,
                                .dev_addr = 0x26000000u + (uint32_t)d};
    memcpy(dev.nwk_s_key, key, 16);
    memcpy(dev.app_s_key, key, 16);
    snprintf(dev.adr, sizeof(dev.adr), "off");
    if (lg_store_device_put(st, &dev)) return fprintf(stderr, "provisioning failed\n"), 1;
  }
  if (lg_store_commit(st)) return fprintf(stderr, "provisioning failed\n"), 1;
  t_prov = now_s() - t_prov;
  lg_store_close(st);

  /* Every uplink: device d = k % devices, its FCnt k / devices, heard by 4 gateways. */
  struct lg_crypto crypto;
  struct lg_key k;
  lg_crypto_init(&crypto);
  lg_key_init(&k, &crypto, key);
  size_t n_msgs = (size_t)uplinks * PER_FRAME;
  struct mmsghdr *msgs = calloc(n_msgs, sizeof(*msgs));
  struct iovec *iov = calloc(n_msgs, sizeof(*iov));
  char(*bufs)[600] = calloc(n_msgs, 600);
  if (!msgs || !iov || !bufs) return 1;
  int64_t emit = (int64_t)time(NULL) * 1000000000LL;
  for (long u = 0; u < uplinks; u++) {
    struct lg_frame f;
    memset(&f, 0, sizeof(f));
    f.mtype = LG_MTYPE_UNCONFIRMED_UP;
    f.u.data.dev_addr = 0x26000000u + (uint32_t)(u % devices);
    uint32_t fcnt = (uint32_t)(u / devices);
    f.u.data.f_cnt16 = (uint16_t)fcnt;
    f.u.data.has_f_port = true;
    f.u.data.f_port = 1;
    f.u.data.frm_payload_len = 12;
    uint8_t plain[12] = "lorageo load";
    lg_payload_crypt(&k, f.u.data.dev_addr, fcnt, false, plain, 12, f.u.data.frm_payload);
    uint8_t phy[64];
    size_t len = 0;
    lg_frame_encode(&f, phy, sizeof(phy), &len);
    lg_data_mic(&k, phy, len - 4, f.u.data.dev_addr, fcnt, false, phy + len - 4);
    char b64[100];
    EVP_EncodeBlock((unsigned char *)b64, phy, (int)len);
    emit += 1000000;
    for (int c = 0; c < PER_FRAME; c++) {
      size_t m = (size_t)u * PER_FRAME + (size_t)c;
      int g = (int)((u + c) % GATEWAYS);
      uint8_t *b = (uint8_t *)bufs[m];
      b[0] = 2, b[1] = (uint8_t)m, b[2] = (uint8_t)(m >> 8), b[3] = 0;
      lg_put_le64(b + 4, 0); /* EUI big-endian below */
      uint64_t eui = 0xaa555a0000000100ull + (uint64_t)g;
      for (int i = 0; i < 8; i++)
        b[4 + i] = (uint8_t)(eui >> (56 - 8 * i));
      int64_t gps = emit - 315964800000000000LL + 18000000000LL + 10000 + 3000 * c;
      int n = snprintf(
          (char *)b + 12, 600 - 12,
          "{\"rxpk\":[{\"tmms\":%lld,\"ftime\":%lld,\"tmst\":%u,\"chan\":0,\"rfch\":0,"
          "\"freq\":868.1,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\",\"codr\":\"4/5\","
          "\"rssi\":-90,\"lsnr\":7.5,\"size\":%zu,\"data\":\"%s\"}]}",
          (long long)(gps / 1000000), (long long)(gps % 1000000000), (unsigned)(u * 1000), len,
          b64);
      iov[m] = (struct iovec){b, (size_t)(12 + n)};
      msgs[m].msg_hdr.msg_iov = &iov[m];
      msgs[m].msg_hdr.msg_iovlen = 1;
    }
  }
  double raw = raw_rate(msgs, n_msgs);

  pid_t servers[INSTANCES];
  for (int k = 0; k < instances; k++) {
    if ((servers[k] = fork()) != 0) continue;
    char udp[32], http[32];
    snprintf(udp, sizeof(udp), "127.0.0.1:%d", port + 2 * k);
    snprintf(http, sizeof(http), "127.0.0.1:%d", port + 2 * k + 1);
    setenv("LORAGEO_SERVER_UDP_BIND", udp, 1);
    setenv("LORAGEO_SERVER_HTTP_BIND", http, 1);
    setenv("LORAGEO_SERVER_DATABASE", db, 1);
    /* the sessions were provisioned above with their keys in clear (no key-encryption key) */
    setenv("LORAGEO_SECURITY_ALLOW_PLAINTEXT_KEYS", "true", 1);
    if (redis) setenv("LORAGEO_CLUSTER_REDIS", redis, 1);
    char log[600]; /* the server's log, kept when it does not come up or dies */
    snprintf(log, sizeof(log), "%s/server%d.log", dir, k);
    freopen(log, "w", stderr);
    execl(argv[1], argv[1], "serve", (char *)NULL);
    _exit(127);
  }
  double t_start = now_s();
  bool up = false;
  for (int i = 0; i < 2000 && !(up = metric_sum(port, instances, "lorageo_uplinks_total") >= 0);
       i++) {
    bool died = false;
    for (int k = 0; k < instances && !died; k++)
      died = waitpid(servers[k], NULL, WNOHANG) == servers[k];
    if (died) break;
    usleep(5000);
  }
  if (!up) {
    fprintf(stderr, "ns_load: a server did not come up; its log is in %s/server*.log\n", dir);
    for (int k = 0; k < instances; k++)
      kill(servers[k], SIGTERM);
    for (int k = 0; k < instances; k++)
      waitpid(servers[k], NULL, 0);
    return 1;
  }
  t_start = now_s() - t_start;
  int tx = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to[INSTANCES];
  for (int k = 0; k < instances; k++) {
    to[k] =
        (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)(port + 2 * k))};
    inet_pton(AF_INET, "127.0.0.1", &to[k].sin_addr);
  }
  for (size_t i = 0; i < n_msgs; i++) { /* the gateway's instance */
    int g = (int)((i / PER_FRAME + i % PER_FRAME) % GATEWAYS);
    msgs[i].msg_hdr.msg_name = &to[g % instances];
    msgs[i].msg_hdr.msg_namelen = sizeof(to[0]);
  }
  static struct acks acks;
  acks.fd = tx, acks.cap = n_msgs, acks.lat_ms = calloc(n_msgs, sizeof(double));
  pthread_t acker;
  if (!acks.lat_ms || pthread_create(&acker, NULL, ack_reader, &acks)) return 1;
  double t0 = now_s();
  /* Closed loop: at most WINDOW datagrams in flight beyond what the server has counted,
   * so the socket buffer (not this sender) never overflows; a stall of 1 s counts the
   * outstanding datagrams as lost and moves on. */
  const long long window = 400;
  long long lost = 0;
  for (size_t off = 0; off < n_msgs;) {
    size_t batch = n_msgs - off < 128 ? n_msgs - off : 128;
    double t_send = now_s();
    for (size_t i = off; i < off + batch; i++)
      atomic_store_explicit(&acks.sent[i & 0xffff], t_send, memory_order_relaxed);
    int s = sendmmsg(tx, msgs + off, (unsigned)batch, 0);
    if (s > 0) off += (size_t)s;
    long long done = metric_sum(port, instances, "lorageo_gateway_datagrams_total") + lost;
    double since = now_s();
    while ((long long)off - done > window) {
      usleep(2000); /* each look is an HTTP request per instance: sparingly */
      long long d = metric_sum(port, instances, "lorageo_gateway_datagrams_total") + lost;
      if (d != done) since = now_s();
      done = d;
      if (now_s() - since > 1.0) lost += (long long)off - done;
    }
  }
  long long accepted = 0, dropped = 0, datagrams = 0;
  double t_end = t0;
  for (int i = 0; i < 6000; i++) {
    accepted = metric_sum(port, instances, "lorageo_uplinks_total");
    dropped = metric_sum(port, instances, "lorageo_rx_dropped_total");
    datagrams = metric_sum(port, instances, "lorageo_gateway_datagrams_total");
    t_end = now_s();
    if (accepted + dropped >= uplinks) break;
    if (datagrams + lost >= (long long)n_msgs) { /* all in: wait until the backlog is done */
      static long long last = -1;
      static double stable_since = 0;
      if (accepted != last)
        last = accepted, stable_since = now_s();
      else if (now_s() - stable_since > 0.5)
        break;
    }
    usleep(10000);
  }
  /* Stored, not only accepted: with storage behind the packet path (src/ns/behind.c) an
   * uplink is counted when it is decided and queued for writing; the journal's lag at 0
   * means every journalled datagram's writes are committed (the checkpoint is written at
   * most every 100 ms, so this errs on the slow side). */
  double t_accepted = t_end;
  for (int i = 0; i < 15000 && metric_sum(port, instances, "lorageo_journal_lag_records") > 0; i++)
    usleep(2000);
  t_end = now_s();
  accepted = metric_sum(port, instances, "lorageo_uplinks_total"); /* counted at the commit */
  dropped = metric_sum(port, instances, "lorageo_rx_dropped_total");
  usleep(200000); /* the last acknowledgements */
  atomic_store(&acks.stop, true);
  pthread_join(acker, NULL);
  qsort(acks.lat_ms, acks.n, sizeof(double), cmp_double);
  long long located = metric_sum(port, instances, "lorageo_locations_total");
  static const char *const reasons[] = {"replay", "mic", "unknown_device", "storage", "json"};
  for (size_t r = 0; r < sizeof(reasons) / sizeof(reasons[0]); r++) {
    char name[96];
    snprintf(name, sizeof(name), "lorageo_rx_dropped_total{reason=\"%s\"}", reasons[r]);
    long long v = metric_sum(port, instances, name);
    if (v > 0) printf("dropped as %s: %lld\n", reasons[r], v);
  }
  long hwm_kb = 0; /* the largest instance's */
  for (int k = 0; k < instances; k++) {
    char status[64], line[256];
    snprintf(status, sizeof(status), "/proc/%d/status", (int)servers[k]);
    FILE *ps = fopen(status, "r");
    while (ps && fgets(line, sizeof(line), ps))
      if (strncmp(line, "VmHWM:", 6) == 0 && atol(line + 6) > hwm_kb) hwm_kb = atol(line + 6);
    if (ps) fclose(ps);
  }
  for (int k = 0; k < instances; k++)
    kill(servers[k], SIGTERM);
  struct rusage before, after; /* the instances' CPU: children's, less the raw-rate child's */
  getrusage(RUSAGE_CHILDREN, &before);
  bool crashed = false;
  for (int k = 0; k < instances; k++) {
    int status = 0;
    waitpid(servers[k], &status, 0);
    bool clean = (WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
                 (WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
    if (!clean) {
      fprintf(stderr, "ns_load: server %d ended with status %d (signal %d): %s/server%d.log\n", k,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1,
              WIFSIGNALED(status) ? WTERMSIG(status) : 0, dir, k);
      crashed = true;
    }
  }
  getrusage(RUSAGE_CHILDREN, &after);
  double cpu_s = (double)(after.ru_utime.tv_sec - before.ru_utime.tv_sec) +
                 (double)(after.ru_stime.tv_sec - before.ru_stime.tv_sec) +
                 (double)(after.ru_utime.tv_usec - before.ru_utime.tv_usec) / 1e6 +
                 (double)(after.ru_stime.tv_usec - before.ru_stime.tv_usec) / 1e6;
  double secs = t_end - t0;
  const char *engine = strncmp(db, "postgres", 8) == 0 ? "PostgreSQL" : "SQLite";
  printf(
      "ns_load: %ld uplinks x %d gateways (%zu datagrams), %ld ABP devices, %s, %d instance%s%s\n",
      uplinks, PER_FRAME, n_msgs, devices, engine, instances, instances > 1 ? "s" : "",
      redis ? " sharing Redis" : "");
  printf("provisioning %ld sessions: %.2f s; server up and serving them %.3f s after start "
         "(sessions stay in the database, none loaded)\n",
         devices, t_prov, t_start);
  printf("raw_loopback_datagrams_per_s %.0f\n", raw);
  printf("server_datagrams_received %lld of %zu (lost in the socket buffer: %lld)\n", datagrams,
         n_msgs, lost);
  printf("uplinks_accepted %lld of %ld, dropped receptions %lld, located %lld\n", accepted, uplinks,
         dropped, located);
  printf("server peak resident memory %ld KiB (%.1f bytes per provisioned session)\n", hwm_kb,
         hwm_kb * 1024.0 / (double)devices);
  printf("server_cpu_us_per_uplink %.0f (all instances, user + system)\n",
         accepted > 0 ? cpu_s * 1e6 / (double)accepted : 0);
  if (acks.n > 0) {
    size_t late = 0;
    for (size_t i = 0; i < acks.n; i++)
      late += acks.lat_ms[i] > 100;
    printf("push_ack_ms p50 %.2f  p99 %.2f  max %.2f  (%zu acks for %zu datagrams; over 100 ms: "
           "%zu)\n",
           acks.lat_ms[acks.n / 2], acks.lat_ms[acks.n * 99 / 100], acks.lat_ms[acks.n - 1], acks.n,
           n_msgs, late);
  }
  printf("load sent and counted in %.2f s; every uplink committed %.2f s later\n",
         t_accepted - t0, t_end - t_accepted);
  printf("uplinks_per_s %.0f   datagrams_per_s %.0f   (%.2f s until all were stored)\n",
         (double)accepted / secs, (double)datagrams / secs, secs);
  if (crashed) return 1; /* the directory stays, with the servers' logs */
  char cmd[200];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0) return 1;
  return 0;
}
