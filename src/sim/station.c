/*
 * The simulator's gateways as LoRa Basics Stations (`sim --station URI`): each one asks
 * URI/router-info for its traffic endpoint, connects there (with the bearer token of
 * --station-token, and over TLS the CA / client certificate given), sends `version`, waits
 * for `router_config`, asks for a `timesync`, then carries the simulation's frames as
 * updf/jreq/propdf and takes dnmsg downlinks (live.c decides what they do). libwebsockets'
 * client on its own poll loop, serviced from the simulator's loop without blocking.
 */
#include <jansson.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw/gw.h"
#include "sim/sim_int.h"
#include "util/util.h"

#define QUEUE 256
#define MAX_MSG 16384

enum phase { PH_INFO = 0, PH_CONNECTING, PH_READY, PH_FAILED };

struct station {
  struct sim_stations *all;
  size_t gi;
  uint64_t eui;
  struct lws *wsi;
  enum phase phase;
  bool info_done; /* router-info answered: traffic_path holds the endpoint */
  char traffic_path[256], traffic_host[128];
  int traffic_port;
  bool traffic_tls;
  char why[200];
  char *in;
  size_t in_len;
  char *q[QUEUE];
  size_t qlen[QUEUE];
  unsigned q_head, q_n;
};

struct sim_stations {
  struct lws_context *ctx;
  const struct lg_sim_live_options *o;
  struct station *st;
  size_t n;
  char host[128];
  int port;
  bool tls;
  sim_station_msg_fn on_msg;
  void *cb_ctx;
  uint64_t dropped; /* messages not sent: a queue was full */
};

static void push(struct station *s, const char *msg, size_t len) {
  if (s->q_n == QUEUE || s->wsi == NULL) {
    s->all->dropped++;
    return;
  }
  char *b = malloc(LWS_PRE + len);
  if (!b) return;
  memcpy(b + LWS_PRE, msg, len);
  unsigned k = (s->q_head + s->q_n++) % QUEUE;
  s->q[k] = b;
  s->qlen[k] = len;
  lws_callback_on_writable(s->wsi);
}

static void drop_queue(struct station *s) {
  for (; s->q_n; s->q_n--, s->q_head = (s->q_head + 1) % QUEUE)
    free(s->q[s->q_head]);
}

static int connect_to(struct station *s, const char *path, const char *host, int port, bool tls) {
  struct lws_client_connect_info ci;
  memset(&ci, 0, sizeof(ci));
  ci.context = s->all->ctx;
  ci.address = host;
  ci.port = port;
  ci.path = path;
  ci.host = host;
  ci.origin = host;
  ci.ssl_connection = tls ? LCCSCF_USE_SSL : 0;
  ci.protocol = NULL;
  ci.opaque_user_data = s;
  ci.pwsi = &s->wsi;
  return lws_client_connect_via_info(&ci) ? 0 : -1;
}

/* ws[s]://host:port/path into its parts. */
static int parse_uri(const char *uri, bool *tls, char *host, size_t host_cap, int *port,
                     char *path, size_t path_cap) {
  const char *p;
  if (strncmp(uri, "wss://", 6) == 0)
    *tls = true, p = uri + 6;
  else if (strncmp(uri, "ws://", 5) == 0)
    *tls = false, p = uri + 5;
  else
    return LG_EINVAL;
  const char *slash = strchr(p, '/'), *end = slash ? slash : p + strlen(p);
  const char *colon = memchr(p, ':', (size_t)(end - p));
  if (!colon || (size_t)(colon - p) >= host_cap) return LG_EINVAL;
  memcpy(host, p, (size_t)(colon - p));
  host[colon - p] = '\0';
  *port = atoi(colon + 1);
  snprintf(path, path_cap, "%s", slash ? slash : "/");
  return *port > 0 ? 0 : -1;
}

static void fail(struct station *s, const char *what, const char *detail) {
  if (s->phase == PH_FAILED) return;
  s->phase = PH_FAILED;
  snprintf(s->why, sizeof(s->why), "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
}

static void on_message(struct station *s) {
  json_t *o = json_loadb(s->in, s->in_len, 0, NULL);
  if (s->phase == PH_INFO) { /* the router-info answer */
    json_t *uri = json_object_get(o, "uri"), *err = json_object_get(o, "error");
    if (json_is_string(uri) &&
        parse_uri(json_string_value(uri), &s->traffic_tls, s->traffic_host,
                  sizeof(s->traffic_host), &s->traffic_port, s->traffic_path,
                  sizeof(s->traffic_path)) == 0) {
      s->info_done = true; /* this connection is done with; the traffic one comes next */
      lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
      s->wsi = NULL;
      drop_queue(s);
    } else
      fail(s, "router-info answered no usable uri",
           json_is_string(err) ? json_string_value(err) : "(none)");
    json_decref(o);
    return;
  }
  const char *type = json_string_value(json_object_get(o, "msgtype"));
  if (type && strcmp(type, "router_config") == 0 && s->phase == PH_CONNECTING) {
    s->phase = PH_READY;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char ts_msg[96];
    int n = snprintf(ts_msg, sizeof(ts_msg), "{\"msgtype\":\"timesync\",\"txtime\":%lld}",
                     (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
    push(s, ts_msg, (size_t)n);
  }
  json_decref(o);
  s->all->on_msg(s->all->cb_ctx, s->gi, s->in, s->in_len);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
  (void)user;
  struct station *s = lws_get_opaque_user_data(wsi);
  if (s == NULL) return 0;
  switch (reason) {
  case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
    const char *tok = s->all->o->station_token;
    if (tok && s->phase == PH_CONNECTING) {
      unsigned char **p = in, *end = *p + len;
      char v[600];
      int n = snprintf(v, sizeof(v), "Bearer %s", tok);
      if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, (unsigned char *)v, n,
                                       p, end))
        return -1;
    }
    return 0;
  }
  case LWS_CALLBACK_CLIENT_ESTABLISHED:
    if (s->phase == PH_INFO) {
      char m[64];
      int n = snprintf(m, sizeof(m), "{\"router\":\"%016llx\"}", (unsigned long long)s->eui);
      push(s, m, (size_t)n);
    } else {
      static const char v[] = "{\"msgtype\":\"version\",\"station\":\"lorageo-sim\","
                              "\"firmware\":null,\"package\":null,\"model\":\"sim\","
                              "\"protocol\":2,\"features\":\"\"}";
      push(s, v, sizeof(v) - 1);
    }
    return 0;
  case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    s->wsi = NULL;
    fail(s, "connection refused or failed", in ? (const char *)in : "no reason given");
    return 0;
  case LWS_CALLBACK_CLIENT_RECEIVE:
    if (s->in_len + len > MAX_MSG) return -1;
    if (!s->in && !(s->in = malloc(MAX_MSG))) return -1;
    memcpy(s->in + s->in_len, in, len);
    s->in_len += len;
    if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
      on_message(s);
      s->in_len = 0;
    }
    return 0;
  case LWS_CALLBACK_CLIENT_WRITEABLE:
    if (s->q_n) {
      unsigned k = s->q_head;
      int n = lws_write(wsi, (unsigned char *)s->q[k] + LWS_PRE, s->qlen[k], LWS_WRITE_TEXT);
      free(s->q[k]);
      s->q_head = (s->q_head + 1) % QUEUE;
      s->q_n--;
      if (n < 0) return -1;
      if (s->q_n) lws_callback_on_writable(wsi);
    }
    return 0;
  case LWS_CALLBACK_CLIENT_CLOSED:
  case LWS_CALLBACK_WSI_DESTROY:
    if (s->wsi == wsi) {
      s->wsi = NULL;
      drop_queue(s);
      if (s->phase == PH_READY || s->phase == PH_CONNECTING)
        fail(s, "the server closed the traffic connection", NULL);
    }
    return 0;
  default: return 0;
  }
}

static const struct lws_protocols protocols[] = {{"lorageo-sim-station", callback, 0, MAX_MSG, 0,
                                                  NULL, 0},
                                                 {NULL, NULL, 0, 0, 0, NULL, 0}};

static void lws_log(int level, const char *line) {
  (void)level, (void)line; /* failures are reported through the stations' own reasons */
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int sim_stations_open(struct sim_stations **out, const struct lg_sim_live_options *o,
                      const uint64_t *euis, size_t n, sim_station_msg_fn on_msg, void *cb_ctx,
                      char *why, size_t why_len) {
  struct sim_stations *a = calloc(1, sizeof(*a));
  *out = a;
  if (!a || !(a->st = calloc(n ? n : 1, sizeof(*a->st)))) return LG_ENOMEM;
  a->o = o;
  a->n = n;
  a->on_msg = on_msg;
  a->cb_ctx = cb_ctx;
  char path[16];
  if (parse_uri(o->station_uri, &a->tls, a->host, sizeof(a->host), &a->port, path,
                sizeof(path)) != 0)
    return snprintf(why, why_len, "--station: expected ws://HOST:PORT or wss://HOST:PORT, got '%s'",
                    o->station_uri),
           LG_EINVAL;
  lws_set_log_level(LLL_ERR, lws_log);
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof(info));
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.options = a->tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
  info.client_ssl_ca_filepath = o->station_ca;
  info.client_ssl_cert_filepath = o->station_cert;
  info.client_ssl_private_key_filepath = o->station_key;
  info.timeout_secs = 10;
  if ((a->ctx = lws_create_context(&info)) == NULL)
    return snprintf(why, why_len, "--station: libwebsockets could not start (certificates?)"),
           LG_EIO;
  for (size_t i = 0; i < n; i++) {
    struct station *s = &a->st[i];
    s->all = a;
    s->gi = i;
    s->eui = euis[i];
    if (connect_to(s, "/router-info", a->host, a->port, a->tls))
      fail(s, "cannot connect to", o->station_uri);
  }
  /* every station through router-info, connected and configured (10 s at most) */
  double t0 = mono_s();
  for (;;) {
    size_t ready = 0;
    for (size_t i = 0; i < n; i++) {
      struct station *s = &a->st[i];
      if (s->phase == PH_FAILED)
        return snprintf(why, why_len, "basicstation: gateway %016llx: %s",
                        (unsigned long long)s->eui, s->why),
               LG_EIO;
      if (s->phase == PH_INFO && s->info_done && s->wsi == NULL) {
        s->phase = PH_CONNECTING;
        if (connect_to(s, s->traffic_path, s->traffic_host, s->traffic_port, s->traffic_tls))
          fail(s, "cannot connect to its traffic endpoint", NULL);
      }
      ready += s->phase == PH_READY;
    }
    if (ready == n) return 0;
    if (mono_s() - t0 > 10)
      return snprintf(why, why_len, "basicstation: %zu of %zu stations not configured after 10 s",
                      n - ready, n),
             LG_EIO;
    lws_service(a->ctx, -1);
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
}

void sim_stations_send(struct sim_stations *a, size_t gi, const char *msg, size_t len) {
  if (gi < a->n && a->st[gi].phase == PH_READY) push(&a->st[gi], msg, len);
}

void sim_stations_service(struct sim_stations *a, int wait_ms) {
  double end = mono_s() + wait_ms / 1000.0;
  do {
    lws_service(a->ctx, -1);
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  } while (mono_s() < end);
}

int sim_stations_failed(const struct sim_stations *a, char *why, size_t why_len) {
  for (size_t i = 0; i < a->n; i++)
    if (a->st[i].phase == PH_FAILED)
      return snprintf(why, why_len, "basicstation: gateway %016llx: %s",
                      (unsigned long long)a->st[i].eui, a->st[i].why),
             1;
  return 0;
}

void sim_stations_close(struct sim_stations *a) {
  if (a == NULL) return;
  if (a->ctx) lws_context_destroy(a->ctx);
  for (size_t i = 0; a->st && i < a->n; i++) {
    drop_queue(&a->st[i]);
    free(a->st[i].in);
  }
  free(a->st);
  free(a);
}
