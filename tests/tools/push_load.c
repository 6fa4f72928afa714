/*
 * push_load: gateways sending real PUSH_DATA over UDP to `lorageo serve`, counting which
 * uplinks were acknowledged (tests/cli/test_journal.sh: nothing acknowledged is lost).
 *
 *   push_load provision DB DEVICES
 *       8 gateways and DEVICES ABP devices (DevEUI 0102030400000000 + d, DevAddr
 *       26000000 + d, one key) in the database DB.
 *   push_load send HOST:PORT RATE SECONDS DEVICES FIRST_UPLINK ACKED_FILE
 *       RATE uplinks a second for SECONDS, paced every millisecond; uplink k is device
 *       k % DEVICES with FCnt k / DEVICES, heard by 4 of the gateways (4 datagrams). An
 *       uplink is acknowledged when a PUSH_ACK came for any of its datagrams; those go to
 *       ACKED_FILE as "dev_eui_hex|f_cnt" lines. Prints {"sent": N, "acked": M}.
 *   push_load repeat HOST:PORT COPIES SPACING_MS
 *       one uplink of device 0 (FCnt 0) from one gateway, COPIES times, SPACING_MS apart.
 *   push_load flood HOST:PORT RATE SECONDS KIND
 *       RATE distinct worthless frames a second through gateway 7, paced: KIND "mic" (a
 *       provisioned DevAddr, wrong MIC), "unknown" (DevAddrs nobody has) or "join" (join-
 *       requests from unknown DevEUIs). Prints {"sent": N}.
 *
 * A PUSH_ACK is matched to its datagram by the token (the datagram's number mod 65536): at
 * these rates a token is reused only after seconds, while an ACK comes within milliseconds.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <math.h>
#include <poll.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lorawan/lorawan.h"
#include "store/store.h"
#include "util/util.h"

#define GATEWAYS  8
#define PER_FRAME 4
static uint64_t GW_EUI(long g) {
  return 0xaa555a0000000100ull + (uint64_t)g;
}
static uint64_t DEV_EUI(long d) {
  return 0x0102030400000000ull + (uint64_t)d;
}
static uint32_t DEV_ADDR(long d) {
  return 0x26000000u + (uint32_t)d;
}

static uint8_t key[16];

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_key(void) {
  for (int i = 0; i < 16; i++)
    key[i] = (uint8_t)(i * 17 + 3);
}

static int provision(const char *db, long devices) {
  struct lg_store *st;
  char why[256];
  if (lg_store_open(&st, db, why, sizeof(why))) return fprintf(stderr, "%s\n", why), 1;
  int rc = 0;
  for (int g = 0; g < GATEWAYS; g++) {
    struct lg_gateway_rec gw = {.eui = GW_EUI(g),
                                .has_position = true,
                                .lat_deg = 55.78 + 0.02 * cos(g * 0.785),
                                .lon_deg = 12.46 + 0.035 * sin(g * 0.785),
                                .alt_m = 30};
    rc |= lg_store_gateway_put(st, &gw);
  }
  rc |= lg_store_begin(st);
  for (long d = 0; d < devices; d++) {
    struct lg_device_rec dev = {.dev_eui = DEV_EUI(d), .has_session = true, .dev_addr = DEV_ADDR(d)};
    memcpy(dev.nwk_s_key, key, 16);
    memcpy(dev.app_s_key, key, 16);
    snprintf(dev.adr, sizeof(dev.adr), "off");
    rc |= lg_store_device_put(st, &dev);
  }
  rc |= lg_store_commit(st);
  lg_store_close(st);
  if (rc) fprintf(stderr, "push_load: provisioning failed\n");
  return rc ? 1 : 0;
}

/* The PHYPayload of device d's uplink with counter fcnt, base64 into b64. */
static size_t uplink_b64(struct lg_key *k, long d, uint32_t fcnt, char *b64) {
  struct lg_frame f;
  memset(&f, 0, sizeof(f));
  f.mtype = LG_MTYPE_UNCONFIRMED_UP;
  f.u.data.dev_addr = DEV_ADDR(d);
  f.u.data.f_cnt16 = (uint16_t)fcnt;
  f.u.data.has_f_port = true;
  f.u.data.f_port = 1;
  f.u.data.frm_payload_len = 12;
  uint8_t plain[12] = "lorageo load";
  lg_payload_crypt(k, f.u.data.dev_addr, fcnt, false, plain, 12, f.u.data.frm_payload);
  uint8_t phy[64];
  size_t len = 0;
  lg_frame_encode(&f, phy, sizeof(phy), &len);
  lg_data_mic(k, phy, len - 4, f.u.data.dev_addr, fcnt, false, phy + len - 4);
  EVP_EncodeBlock((unsigned char *)b64, phy, (int)len);
  return len;
}

/* One gateway's PUSH_DATA with one rxpk; its length. */
static size_t push_data(uint8_t *b, size_t cap, uint16_t token, int g, const char *b64,
                        size_t size, uint32_t tmst, int64_t gps_ns) {
  b[0] = 2, b[1] = (uint8_t)token, b[2] = (uint8_t)(token >> 8), b[3] = 0;
  for (int i = 0; i < 8; i++)
    b[4 + i] = (uint8_t)(GW_EUI(g) >> (56 - 8 * i));
  int n = snprintf((char *)b + 12, cap - 12,
                   "{\"rxpk\":[{\"tmms\":%lld,\"ftime\":%lld,\"tmst\":%u,\"chan\":0,\"rfch\":0,"
                   "\"freq\":868.1,\"stat\":1,\"modu\":\"LORA\",\"datr\":\"SF7BW125\","
                   "\"codr\":\"4/5\",\"rssi\":-90,\"lsnr\":7.5,\"size\":%zu,\"data\":\"%s\"}]}",
                   (long long)(gps_ns / 1000000), (long long)(gps_ns % 1000000000), tmst, size, b64);
  return 12 + (size_t)n;
}

static int open_to(const char *hostport, struct sockaddr_in *to) {
  char host[64];
  const char *colon = strrchr(hostport, ':');
  if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host)) return -1;
  memcpy(host, hostport, (size_t)(colon - hostport));
  host[colon - hostport] = '\0';
  *to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
  if (inet_pton(AF_INET, host, &to->sin_addr) != 1) return -1;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int big = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  return fd;
}

/* One socket per gateway, as real packet forwarders have: their PUSH_ACKs do not share
 * one receive buffer. */
struct acks {
  int fd[GATEWAYS];
  _Atomic long uplink_of[65536]; /* token -> uplink index */
  _Atomic bool *acked;           /* per uplink */
  atomic_bool stop;
};

static void *ack_reader(void *arg) {
  struct acks *a = arg;
  struct pollfd p[GATEWAYS];
  for (int g = 0; g < GATEWAYS; g++)
    p[g] = (struct pollfd){.fd = a->fd[g], .events = POLLIN};
  uint8_t b[16];
  while (!atomic_load(&a->stop)) {
    if (poll(p, GATEWAYS, 100) <= 0) continue;
    for (int g = 0; g < GATEWAYS; g++) {
      ssize_t n;
      while ((n = recv(a->fd[g], b, sizeof(b), MSG_DONTWAIT)) >= 0) {
        if (n != 4 || b[3] != 1) continue; /* PUSH_ACK: version, token, 1 */
        long u = atomic_load(&a->uplink_of[b[1] | b[2] << 8]);
        if (u >= 0) atomic_store(&a->acked[u], true);
      }
    }
  }
  return NULL;
}

static int send_load(const char *hostport, double rate, double secs, long devices, long first,
                     const char *acked_path) {
  struct sockaddr_in to;
  static struct acks a;
  for (int g = 0; g < GATEWAYS; g++)
    if ((a.fd[g] = open_to(hostport, &to)) < 0)
      return fprintf(stderr, "push_load: bad address %s\n", hostport), 2;
  long total = (long)(rate * secs);
  a.acked = calloc((size_t)total + 1, sizeof(*a.acked));
  for (int i = 0; i < 65536; i++)
    a.uplink_of[i] = -1;
  struct lg_crypto crypto;
  struct lg_key k;
  lg_crypto_init(&crypto);
  lg_key_init(&k, &crypto, key);
  pthread_t th;
  if (a.acked == NULL || pthread_create(&th, NULL, ack_reader, &a)) return 1;
  int64_t emit = (int64_t)time(NULL) * 1000000000LL;
  double t0 = now_s();
  uint32_t dgram = 0;
  for (long i = 0; i < total; i++) {
    while (now_s() - t0 < (double)i / rate) /* paced */
      usleep(200);
    long u = first + i;
    char b64[100];
    size_t size = uplink_b64(&k, u % devices, (uint32_t)(u / devices), b64);
    int64_t gps = emit + (int64_t)i * 1000000 - 315964800000000000LL + 18000000000LL;
    for (int c = 0; c < PER_FRAME; c++, dgram++) {
      uint8_t b[600];
      uint16_t token = (uint16_t)dgram;
      atomic_store(&a.uplink_of[token], i);
      int g = (int)((u + c) % GATEWAYS);
      size_t n = push_data(b, sizeof(b), token, g, b64, size, (uint32_t)(u * 1000), gps + 3000 * c);
      sendto(a.fd[g], b, n, 0, (struct sockaddr *)&to, sizeof(to));
    }
  }
  usleep(500000); /* the last PUSH_ACKs */
  atomic_store(&a.stop, true);
  pthread_join(th, NULL);
  lg_key_close(&k);
  lg_crypto_close(&crypto);
  FILE *out = fopen(acked_path, "w");
  if (out == NULL) return 1;
  long acked = 0;
  for (long i = 0; i < total; i++) {
    if (!atomic_load(&a.acked[i])) continue;
    long u = first + i;
    fprintf(out, "%016llx|%ld\n", (unsigned long long)DEV_EUI(u % devices), u / devices);
    acked++;
  }
  fclose(out);
  free(a.acked);
  printf("{\"sent\": %ld, \"acked\": %ld, \"seconds\": %.2f}\n", total, acked, now_s() - t0);
  return 0;
}

static int repeat(const char *hostport, long copies, double spacing_ms) {
  struct sockaddr_in to;
  int fd = open_to(hostport, &to);
  if (fd < 0) return fprintf(stderr, "push_load: bad address %s\n", hostport), 2;
  struct lg_crypto crypto;
  struct lg_key k;
  lg_crypto_init(&crypto);
  lg_key_init(&k, &crypto, key);
  char b64[100];
  size_t size = uplink_b64(&k, 0, 0, b64);
  int64_t gps = (int64_t)time(NULL) * 1000000000LL - 315964800000000000LL + 18000000000LL;
  for (long i = 0; i < copies; i++) {
    uint8_t b[600];
    size_t n = push_data(b, sizeof(b), (uint16_t)i, 0, b64, size, 123456, gps);
    sendto(fd, b, n, 0, (struct sockaddr *)&to, sizeof(to));
    usleep((useconds_t)(spacing_ms * 1000));
  }
  lg_key_close(&k);
  lg_crypto_close(&crypto);
  close(fd);
  printf("{\"sent\": %ld}\n", copies);
  return 0;
}

static int flood(const char *hostport, double rate, double secs, const char *kind) {
  struct sockaddr_in to;
  int fd = open_to(hostport, &to);
  if (fd < 0) return fprintf(stderr, "push_load: bad address %s\n", hostport), 2;
  long total = (long)(rate * secs);
  double t0 = now_s();
  int64_t gps = (int64_t)time(NULL) * 1000000000LL - 315964800000000000LL + 18000000000LL;
  for (long i = 0; i < total; i++) {
    while (now_s() - t0 < (double)i / rate)
      usleep(100);
    uint8_t phy[32];
    size_t len;
    if (strcmp(kind, "join") == 0) { /* MHDR, JoinEUI, DevEUI, DevNonce, MIC */
      phy[0] = 0x00;
      lg_put_le64(phy + 1, 0x70b3d57ed0000000ull);
      lg_put_le64(phy + 9, 0xdead000000000000ull + (uint64_t)i);
      lg_put_le16(phy + 17, (uint16_t)i);
      lg_put_le32(phy + 19, (uint32_t)i);
      len = 23;
    } else { /* unconfirmed data up, FCtrl 0, FCnt, FPort 1, 4 bytes, MIC */
      uint32_t addr = strcmp(kind, "mic") == 0 ? DEV_ADDR(i % 1000) : 0x7e000000u + (uint32_t)i;
      phy[0] = 0x40;
      lg_put_le32(phy + 1, addr);
      phy[5] = 0;
      lg_put_le16(phy + 6, (uint16_t)(i / 1000));
      phy[8] = 1;
      lg_put_le32(phy + 9, (uint32_t)i);
      lg_put_le32(phy + 13, 0x12345678u ^ (uint32_t)i);
      len = 17;
    }
    char b64[64];
    EVP_EncodeBlock((unsigned char *)b64, phy, (int)len);
    uint8_t b[600];
    size_t n = push_data(b, sizeof(b), (uint16_t)i, GATEWAYS - 1, b64, len, (uint32_t)i, gps);
    sendto(fd, b, n, 0, (struct sockaddr *)&to, sizeof(to));
  }
  printf("{\"sent\": %ld, \"seconds\": %.2f}\n", total, now_s() - t0);
  return 0;
}

int main(int argc, char **argv) {
  make_key();
  if (argc == 4 && strcmp(argv[1], "provision") == 0) return provision(argv[2], atol(argv[3]));
  if (argc == 8 && strcmp(argv[1], "send") == 0)
    return send_load(argv[2], atof(argv[3]), atof(argv[4]), atol(argv[5]), atol(argv[6]), argv[7]);
  if (argc == 6 && strcmp(argv[1], "flood") == 0)
    return flood(argv[2], atof(argv[3]), atof(argv[4]), argv[5]);
  if (argc == 5 && strcmp(argv[1], "repeat") == 0)
    return repeat(argv[2], atol(argv[3]), atof(argv[4]));
  fprintf(stderr, "usage: push_load provision DB DEVICES | send HOST:PORT RATE SECONDS DEVICES "
                  "FIRST_UPLINK ACKED_FILE | repeat HOST:PORT COPIES SPACING_MS\n");
  return 2;
}
