/*
 * LoRa Basics Station LNS on libwebsockets (station.h has the design). libwebsockets runs
 * on the server's libuv loop (a foreign loop), so its callbacks and lg_ns share one thread:
 * a station's updf is handed to the pipeline as it arrives, and a downlink the scheduler
 * decides is queued on the station's connection at once.
 */
#include "ns/station.h"

#include <ctype.h>
#include <libwebsockets.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uthash.h>

#include "gw/gw.h"
#include "lora/lora.h"
#include "store/store.h"
#include "util/util.h"

#define OUT_QUEUE 32 /* messages waiting to be written on one connection */

enum role { ROLE_NONE = 0, ROLE_ROUTER_INFO, ROLE_TRAFFIC };

struct out_msg {
  size_t len;
  unsigned char *buf; /* LWS_PRE bytes of room, then the message */
};

/* One websocket connection (libwebsockets' per-session data, zeroed when it opens). */
struct conn {
  struct lws *wsi;
  enum role role;
  uint64_t eui;
  bool linked; /* in st->traffic: the gateway's current traffic connection */
  char host[128];
  char *in; /* the message being received (fragments joined), LG_STATION_MAX_MSG at most */
  size_t in_len;
  struct out_msg out[OUT_QUEUE];
  unsigned out_head, out_n;
  UT_hash_handle hh;
};

struct lg_station {
  uv_loop_t *loop;
  struct lws_context *ctx;
  struct lg_ns *ns;
  struct lg_ns_metrics *m;
  const struct lg_region *region;
  bool tls, client_certs;
  int max_connections, n_connections;
  int port; /* the bind's: added to a Host header that carries none */
  struct conn *traffic; /* by gateway EUI: the open traffic connections */
  struct lg_gw_push scratch;
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Queues a text message on c (copied). False when its queue is full. */
static bool send_text(struct conn *c, const char *msg, size_t len) {
  if (c->out_n == OUT_QUEUE) return false;
  unsigned char *b = malloc(LWS_PRE + len);
  if (b == NULL) return false;
  memcpy(b + LWS_PRE, msg, len);
  c->out[(c->out_head + c->out_n++) % OUT_QUEUE] = (struct out_msg){len, b};
  lws_callback_on_writable(c->wsi);
  return true;
}

static void free_conn(struct conn *c) {
  for (unsigned i = 0; i < c->out_n; i++)
    free(c->out[(c->out_head + i) % OUT_QUEUE].buf);
  c->out_n = 0;
  free(c->in);
  c->in = NULL;
}

/* The token a station presents: "Authorization: Bearer <token>" (tc.key's usual line), or
 * the header's whole value (a tc.key holding only the token). Trimmed of blanks and CR/LF. */
static size_t presented_token(struct lws *wsi, char *tok, size_t cap) {
  int n = lws_hdr_copy(wsi, tok, (int)cap, WSI_TOKEN_HTTP_AUTHORIZATION);
  if (n <= 0) return 0;
  char *p = tok;
  while (*p && isspace((unsigned char)*p))
    p++;
  if (strncasecmp(p, "Bearer ", 7) == 0) p += 7;
  while (*p && isspace((unsigned char)*p))
    p++;
  size_t len = strlen(p);
  while (len && isspace((unsigned char)p[len - 1]))
    len--;
  memmove(tok, p, len);
  tok[len] = '\0';
  return len;
}

/* Which endpoint a request's path names: /router-info, or /traffic/<EUI> (any EUI form). */
static enum role route(struct lws *wsi, uint64_t *eui) {
  char uri[256];
  if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0) return ROLE_NONE;
  if (strcmp(uri, "/router-info") == 0) return ROLE_ROUTER_INFO;
  if (strncmp(uri, "/traffic/", 9) == 0 &&
      lg_station_parse_eui(uri + 9, strlen(uri + 9), eui) == 0 && *eui != 0)
    return ROLE_TRAFFIC;
  return ROLE_NONE;
}

/* Whether a connection may open (the websocket handshake): a known endpoint, room for it,
 * and for traffic a provisioned gateway whose token (if it has one) was presented. */
static bool admit(struct lg_station *st, struct lws *wsi) {
  uint64_t eui = 0;
  enum role r = route(wsi, &eui);
  const char *why = NULL;
  char hash[65] = "", tok[600];
  if (r == ROLE_NONE)
    why = "no such endpoint (expected /router-info or /traffic/<EUI>)";
  else if (st->n_connections >= st->max_connections)
    why = "[basicstation] max_connections reached";
  else if (r == ROLE_TRAFFIC) {
    int rc = lg_ns_gateway_token(st->ns, eui, hash);
    size_t n = presented_token(wsi, tok, sizeof(tok));
    if (rc == LG_ENOTFOUND)
      why = "gateway not provisioned (POST /api/gateways)";
    else if (rc)
      why = "storage failed reading the gateway";
    else if (hash[0] && n == 0)
      why = "the gateway has a station_token and none was presented";
    else if (hash[0] && !lg_store_token_ok(tok, n, hash))
      why = "wrong station token";
  }
  if (why == NULL) return true;
  atomic_fetch_add(&st->m->station_refused, 1);
  fprintf(stderr, "lorageo: basicstation: refused %s%016llx: %s\n",
          r == ROLE_TRAFFIC ? "gateway " : "a connection, ", (unsigned long long)eui, why);
  return false;
}

static void link_traffic(struct lg_station *st, struct conn *c) {
  struct conn *old;
  HASH_FIND(hh, st->traffic, &c->eui, sizeof(c->eui), old);
  if (old) { /* the same gateway again (it reconnected): the new connection wins */
    HASH_DEL(st->traffic, old);
    old->linked = false;
    lws_set_timeout(old->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
  }
  HASH_ADD(hh, st->traffic, eui, sizeof(c->eui), c);
  c->linked = true;
  lg_ns_station_link(st->ns, c->eui, true);
  atomic_fetch_add(&st->m->station_connected, 1);
}

static void unlink_traffic(struct lg_station *st, struct conn *c) {
  if (!c->linked) return;
  HASH_DEL(st->traffic, c);
  c->linked = false;
  lg_ns_station_link(st->ns, c->eui, false);
  atomic_fetch_sub(&st->m->station_connected, 1);
}

static void router_info(struct lg_station *st, struct conn *c) {
  char why[80], out[512], uri[256];
  uint64_t eui = 0;
  int n;
  if (lg_station_parse_router(c->in, c->in_len, &eui, why, sizeof(why)) != 0) {
    atomic_fetch_add(&st->m->station_malformed, 1);
    fprintf(stderr, "lorageo: basicstation: router-info: %s\n", why);
    n = lg_station_router_info(0, NULL, why, out, sizeof(out));
  } else if (!lg_ns_gateway_known(st->ns, eui)) {
    atomic_fetch_add(&st->m->station_refused, 1);
    n = lg_station_router_info(eui, NULL, "gateway not provisioned", out, sizeof(out));
  } else {
    const char *close_br = strrchr(c->host, ']'), *colon = strrchr(c->host, ':');
    bool has_port = colon && (!close_br || colon > close_br);
    char port[16] = "";
    if (!has_port) snprintf(port, sizeof(port), ":%d", st->port);
    snprintf(uri, sizeof(uri), "%s://%s%s/traffic/%016llx", st->tls ? "wss" : "ws", c->host, port,
             (unsigned long long)eui);
    n = lg_station_router_info(eui, uri, NULL, out, sizeof(out));
    atomic_fetch_add(&st->m->station_router_info, 1);
  }
  if (n > 0) send_text(c, out, (size_t)n);
}

/* One message of a traffic connection. */
static void traffic(struct lg_station *st, struct conn *c) {
  struct lg_station_up msg;
  char why[160], out[8192];
  if (lg_station_parse(c->in, c->in_len, st->region, &msg, why, sizeof(why)) != 0) {
    atomic_fetch_add(&st->m->station_malformed, 1);
    fprintf(stderr, "lorageo: basicstation: gateway %016llx: %s\n", (unsigned long long)c->eui,
            why);
    return;
  }
  atomic_fetch_add(&st->m->station_messages[msg.type], 1);
  int n = 0;
  switch (msg.type) {
  case LG_STATION_VERSION:
    fprintf(stderr, "lorageo: basicstation: gateway %016llx connected (station %s, protocol %d)\n",
            (unsigned long long)c->eui, msg.station, msg.protocol);
    if ((n = lg_station_router_config(st->region, now_s(), out, sizeof(out))) > 0)
      send_text(c, out, (size_t)n);
    break;
  case LG_STATION_UPDF:
  case LG_STATION_JREQ: {
    uint8_t dg[2048];
    n = lg_station_push_datagram(c->eui, &msg.rx, dg, sizeof(dg));
    if (n > 0) lg_ns_station_datagram(st->ns, dg, (size_t)n);
    break;
  }
  case LG_STATION_DNTXED:
    atomic_fetch_add(&st->m->station_dntxed, 1);
    lg_ns_station_txed(st->ns, c->eui, msg.diid);
    break;
  case LG_STATION_TIMESYNC: {
    int64_t gps_us = lg_gw_unix_to_gps_ns(now_ns()) / 1000;
    if ((n = lg_station_timesync(msg.txtime_us, gps_us, now_s(), out, sizeof(out))) > 0)
      send_text(c, out, (size_t)n);
    break;
  }
  case LG_STATION_PROPDF: /* proprietary frames: counted, not interpreted */
  case LG_STATION_UNKNOWN: break;
  }
}

/* A fragment of a message: joined to the rest; the whole message is handled. */
static int receive(struct lg_station *st, struct conn *c, const void *in, size_t len) {
  if (c->in_len + len > LG_STATION_MAX_MSG) {
    atomic_fetch_add(&st->m->station_malformed, 1);
    fprintf(stderr, "lorageo: basicstation: gateway %016llx: a message longer than %d bytes: "
                    "connection closed\n",
            (unsigned long long)c->eui, LG_STATION_MAX_MSG);
    return -1;
  }
  if (c->in == NULL && (c->in = malloc(LG_STATION_MAX_MSG)) == NULL) return -1;
  memcpy(c->in + c->in_len, in, len);
  c->in_len += len;
  if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi) > 0) return 0;
  if (lws_frame_is_binary(c->wsi)) {
    atomic_fetch_add(&st->m->station_malformed, 1);
  } else if (c->role == ROLE_ROUTER_INFO) {
    router_info(st, c);
  } else {
    traffic(st, c);
  }
  c->in_len = 0;
  return 0;
}

static int writeable(struct conn *c) {
  if (c->out_n == 0) return 0;
  struct out_msg *m = &c->out[c->out_head];
  int n = lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
  free(m->buf);
  c->out_head = (c->out_head + 1) % OUT_QUEUE;
  c->out_n--;
  if (n < (int)m->len) return -1;
  if (c->out_n) lws_callback_on_writable(c->wsi);
  return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
  struct lws_context *ctx = lws_get_context(wsi);
  struct lg_station *st = ctx ? lws_context_user(ctx) : NULL;
  struct conn *c = user;
  switch (reason) {
  case LWS_CALLBACK_HTTP: /* a plain HTTP request: the endpoints are websockets */
    lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, "websocket endpoints only");
    return -1;
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: return admit(st, wsi) ? 0 : 1;
  case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
    /* libwebsockets takes this callback's word over OpenSSL's (0 accepts): keep OpenSSL's
     * verdict (len is its preverify_ok), so a certificate client_ca_file did not sign fails */
    if (len) return 0;
    if (st) atomic_fetch_add(&st->m->station_refused, 1);
    fprintf(stderr, "lorageo: basicstation: refused a client certificate: %s\n",
            X509_verify_cert_error_string(X509_STORE_CTX_get_error((X509_STORE_CTX *)user)));
    return 1;
  case LWS_CALLBACK_ESTABLISHED:
    memset(c, 0, sizeof(*c));
    c->wsi = wsi;
    c->role = route(wsi, &c->eui);
    if (lws_hdr_copy(wsi, c->host, sizeof(c->host), WSI_TOKEN_HOST) <= 0)
      snprintf(c->host, sizeof(c->host), "localhost");
    st->n_connections++;
    if (c->role == ROLE_TRAFFIC) link_traffic(st, c);
    return 0;
  case LWS_CALLBACK_RECEIVE: return receive(st, c, in, len);
  case LWS_CALLBACK_SERVER_WRITEABLE: return writeable(c);
  case LWS_CALLBACK_CLOSED:
    if (c->wsi) {
      unlink_traffic(st, c);
      st->n_connections--;
      free_conn(c);
      c->wsi = NULL;
    }
    return 0;
  default: return 0;
  }
}

static const struct lws_protocols protocols[] = {
    {"lorageo-lns", callback, sizeof(struct conn), LG_STATION_MAX_MSG, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

/* io.gw_send: a dnmsg on the gateway's traffic connection. */
static int station_send(void *ctx, uint64_t eui, const struct lg_gw_dl *dl) {
  struct lg_station *st = ctx;
  struct conn *c;
  HASH_FIND(hh, st->traffic, &eui, sizeof(eui), c);
  if (c == NULL) return LG_ENOTFOUND;
  char out[2048];
  int n = lg_station_dnmsg(dl, now_s(), out, sizeof(out));
  if (n < 0) return n;
  if (!send_text(c, out, (size_t)n)) return LG_ENOSPC;
  atomic_fetch_add(&st->m->station_dnmsg, 1);
  return 0;
}

struct lg_station *lg_station_new(uv_loop_t *loop) {
  struct lg_station *st = calloc(1, sizeof(*st));
  if (st) st->loop = loop;
  return st;
}

void lg_station_io(struct lg_station *st, struct lg_ns_io *io) {
  io->gw_send = station_send;
  io->gw_ctx = st;
}

static void lws_log(int level, const char *line) {
  (void)level;
  fprintf(stderr, "lorageo: basicstation (libwebsockets): %s", line);
}

int lg_station_start(struct lg_station *st, const struct lg_config *cfg, struct lg_ns *ns,
                     char *why, size_t why_len) {
  st->ns = ns;
  st->m = lg_ns_metrics(ns);
  st->region = lg_region_find(cfg->region);
  st->max_connections = cfg->bs_max_connections;
  st->tls = cfg->bs_cert_file[0] != '\0';
  st->client_certs = cfg->bs_client_ca_file[0] != '\0';
  char host[64];
  const char *colon = strrchr(cfg->bs_bind, ':');
  int port = colon ? atoi(colon + 1) : 0;
  if (!colon || port <= 0 || port > 65535 || (size_t)(colon - cfg->bs_bind) >= sizeof(host))
    return snprintf(why, why_len, "[basicstation] bind '%s': expected HOST:PORT", cfg->bs_bind),
           LG_EINVAL;
  st->port = port;
  memcpy(host, cfg->bs_bind, (size_t)(colon - cfg->bs_bind));
  host[colon - cfg->bs_bind] = '\0';
  lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
  void *loops[1] = {st->loop};
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof(info));
  info.port = port;
  info.iface = host[0] && strcmp(host, "0.0.0.0") != 0 ? host : NULL;
  info.protocols = protocols;
  info.user = st;
  info.foreign_loops = loops;
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8;
  if (st->tls) {
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = cfg->bs_cert_file;
    info.ssl_private_key_filepath = cfg->bs_key_file;
  }
  if (st->client_certs) {
    info.options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT;
    info.ssl_ca_filepath = cfg->bs_client_ca_file;
  }
  info.timeout_secs = 20;
  info.ka_time = 60; /* TCP keepalive: a station gone silent is noticed */
  info.ka_probes = 3;
  info.ka_interval = 10;
  st->ctx = lws_create_context(&info);
  if (st->ctx == NULL)
    return snprintf(why, why_len,
                    "[basicstation] cannot listen on %s (port in use, or a certificate or key "
                    "that does not load)",
                    cfg->bs_bind),
           LG_EIO;
  return 0;
}

void lg_station_free(struct lg_station *st) {
  if (st == NULL) return;
  if (st->ctx) {
    lws_context_destroy(st->ctx);
    /* a foreign loop: libwebsockets' handles close as the loop runs, then a second destroy
     * frees the context (libwebsockets' foreign-loop teardown) */
    for (int i = 0; i < 100 && uv_run(st->loop, UV_RUN_NOWAIT); i++) {
    }
    lws_context_destroy(st->ctx);
  }
  free(st);
}
