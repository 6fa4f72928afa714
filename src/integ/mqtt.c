/*
 * MQTT integration; see mqtt.h for the delivery rules. The network thread here (not
 * libmosquitto's loop_start) keeps the connection: it connects and reconnects, reads
 * PUBACKs and commands, writes what a publish left over and keeps the session alive;
 * every libmosquitto callback runs on it. A publish writes its event to the socket from
 * the publishing thread (libmosquitto does so for a client that runs no thread of its
 * own), with no wake-up of another thread: libmosquitto's loop_start thread woke once per
 * event, and one that did all the writing cost as much (bench/RESULTS.md).
 *
 * One mutex, mu, serialises every call into libmosquitto once connected: the publisher
 * holds it, and the network thread holds it around loop_read / loop_write / loop_misc /
 * disconnect (never while it waits in poll or connects). So the socket is never closed
 * under a writer, a TLS session is never used by two threads at once, and the callbacks
 * (which run inside those calls) find mu held and must not take it. mu also guards the
 * waiting queue and the connected flag, so an event never overtakes an older one that is
 * still waiting; publishers call into libmosquitto only while connected, and connected
 * turns true only in on_connect, so a connect in progress (without mu) has no company.
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include "integ/mqtt.h"

#include <inttypes.h>
#include <mosquitto.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "integ/integ.h"
#include "store/store.h"
#include "util/util.h"

struct waiting {
  char *topic, *payload;
};

struct lg_mqtt {
  struct mosquitto *mosq;
  struct lg_store *store; /* this thread's own handle, for command/down */
  char prefix[64];
  bool chirpstack; /* [mqtt] format = chirpstack: its topics for commands */
  pthread_mutex_t mu;
  bool connected;
  struct waiting *q; /* ring of cap entries */
  size_t cap, head, n;
  struct lg_ns_metrics *metrics;
  _Atomic(struct lg_codecs *) codecs; /* command/down's `object` (NULL: refused) */
  int qos;                            /* [mqtt] qos: 0 or 1 */
  char host[256];
  int port;
  pthread_t net; /* the network thread (net_run) */
  bool net_started;
  int wake_fd; /* eventfd: wakes the network thread (events to send, stop) */
  atomic_bool stopping;
  atomic_bool acked;      /* the broker accepted a connection: the back-off starts again */
  atomic_bool connecting; /* the network thread is in a (blocking) connect */
  atomic_bool broken;     /* a publish's write failed: the network thread starts afresh */
};

void lg_mqtt_set_codecs(struct lg_mqtt *m, struct lg_codecs *c) {
  atomic_store(&m->codecs, c);
}

/* A command's queue item: `data`, or `object` through the device's codec. */
static int command_item(struct lg_mqtt *m, uint64_t dev_eui, json_t *b, struct lg_queue_item *q,
                        char *why, size_t why_len) {
  json_t *object = json_object_get(b, "object");
  if (object == NULL) return lg_queue_item_parse(b, q, why, why_len);
  json_t *port = json_object_get(b, "f_port"), *conf = json_object_get(b, "confirmed");
  if (json_object_get(b, "data") && !json_is_null(json_object_get(b, "data")) &&
      json_string_length(json_object_get(b, "data")) > 0)
    return snprintf(why, why_len, "give either data or object, not both"), LG_EINVAL;
  if (port && (!json_is_integer(port) || json_integer_value(port) < 0 ||
               json_integer_value(port) > 223))
    return snprintf(why, why_len, "f_port: expected 1..223"), LG_EINVAL;
  int f_port = port && json_integer_value(port) > 0 ? (int)json_integer_value(port) : -1;
  int rc = lg_codec_downlink(atomic_load(&m->codecs), dev_eui, object, &f_port, q->data,
                             sizeof(q->data), &q->len, why, why_len);
  q->f_port = f_port;
  q->confirmed = conf && json_is_true(conf);
  return rc;
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "lorageo: [mqtt] ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void wake(struct lg_mqtt *m) {
  uint64_t one = 1;
  if (write(m->wake_fd, &one, sizeof(one)) < 0) { /* the counter is full: it is awake */
  }
}

enum sent { SENT, KEPT, REFUSED };

/* With mu held. SENT: libmosquitto took the message. KEPT: the connection broke under the
 * write; the message waits for the next (at QoS 1 libmosquitto keeps its own copy and
 * sends it after reconnecting: that is SENT, or our copy would go out again), and no
 * publish calls into libmosquitto until on_connect. REFUSED: it never can be sent (a
 * topic or size the client refuses), logged and counted as dropped. */
static enum sent send_now(struct lg_mqtt *m, const char *topic, const char *payload) {
  int rc = mosquitto_publish(m->mosq, NULL, topic, (int)strlen(payload), payload, m->qos, false);
  bool broke = rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_ERRNO ||
               rc == MOSQ_ERR_TLS;
  if (broke) {
    m->connected = false; /* the network thread ends the connection and reconnects */
    atomic_store(&m->metrics->mqtt_connected, 0);
    atomic_store(&m->broken, true);
    wake(m);
    if (m->qos == 0) return KEPT;
  } else if (rc != MOSQ_ERR_SUCCESS) {
    log_line("event on %s refused by the MQTT client: %s", topic, mosquitto_strerror(rc));
    atomic_fetch_add(&m->metrics->mqtt_dropped, 1);
    return REFUSED;
  }
  atomic_fetch_add(&m->metrics->mqtt_published, 1);
  /* A write the socket could not take whole: the network thread sends the rest. */
  if (!broke && mosquitto_want_write(m->mosq)) wake(m);
  return SENT;
}

/* With mu held: sends what waits, oldest first, until the connection breaks. */
static void flush(struct lg_mqtt *m) {
  while (m->n && m->connected) {
    struct waiting *w = &m->q[m->head];
    if (send_now(m, w->topic, w->payload) == KEPT) break;
    free(w->topic);
    free(w->payload);
    m->head = (m->head + 1) % m->cap;
    m->n--;
  }
  atomic_store(&m->metrics->mqtt_waiting, m->n);
}

static void on_connect(struct mosquitto *mosq, void *ctx, int rc) {
  struct lg_mqtt *m = ctx;
  if (rc != 0) {
    log_line("broker refused the connection: %s", mosquitto_connack_string(rc));
    return;
  }
  char topic[128];
  if (m->chirpstack)
    snprintf(topic, sizeof(topic), "application/+/device/+/command/down");
  else
    snprintf(topic, sizeof(topic), "%s/device/+/command/down", m->prefix);
  mosquitto_subscribe(mosq, NULL, topic, 1);
  atomic_store(&m->acked, true);
  /* mu is held: the network thread's loop call (net_run) */
  m->connected = true;
  atomic_store(&m->metrics->mqtt_connected, 1);
  size_t waiting = m->n;
  flush(m);
  log_line("connected; %zu waiting events sent", waiting);
}

static void on_disconnect(struct mosquitto *mosq, void *ctx, int rc) {
  (void)mosq;
  struct lg_mqtt *m = ctx;
  /* mu is held: the network thread's loop call (net_run) */
  m->connected = false;
  atomic_store(&m->metrics->mqtt_connected, 0);
  if (rc) log_line("connection lost (%s); reconnecting", mosquitto_strerror(rc));
}

/* {prefix}/device/{dev_eui}/command/down: the API's queue body; with format = chirpstack,
 * application/{application_id}/device/{dev_eui}/command/down: ChirpStack's
 * {devEui, confirmed, fPort, data}. */
static void on_message(struct mosquitto *mosq, void *ctx, const struct mosquitto_message *msg) {
  (void)mosq;
  struct lg_mqtt *m = ctx;
  char eui_hex[17];
  uint64_t dev_eui = 0;
  size_t plen = strlen(m->prefix);
  const char *t = msg->topic;
  const char *dev = m->chirpstack && strncmp(t, "application/", 12) == 0
                        ? strstr(t + 12, "/device/")
                    : strncmp(t, m->prefix, plen) == 0 ? t + plen
                                                       : NULL;
  bool ok = dev && sscanf(dev, "/device/%16[0-9a-fA-F]/", eui_hex) == 1 && strlen(eui_hex) == 16;
  if (ok) dev_eui = strtoull(eui_hex, NULL, 16);
  json_error_t je;
  json_t *b = ok ? json_loadb(msg->payload, (size_t)msg->payloadlen, 0, &je) : NULL;
  if (b && m->chirpstack) { /* ChirpStack's names into ours */
    json_t *ours = lg_chirpstack_command(b);
    json_decref(b);
    b = ours;
  }
  struct lg_queue_item q;
  struct lg_device_rec d;
  char why[200] = "topic: expected {prefix}/device/{16 hex digits}/command/down, or "
                  "application/{id}/device/{16 hex digits}/command/down";
  if (ok && b == NULL) snprintf(why, sizeof(why), "not JSON: %s", je.text);
  ok = ok && b && command_item(m, dev_eui, b, &q, why, sizeof(why)) == 0;
  if (ok && lg_store_device_get(m->store, dev_eui, &d)) {
    snprintf(why, sizeof(why), "no device %016" PRIx64, dev_eui);
    ok = false;
  }
  if (ok && lg_store_queue_push(m->store, dev_eui, q.f_port, q.data, q.len, q.confirmed)) {
    snprintf(why, sizeof(why), "storage failed");
    ok = false;
  }
  json_decref(b);
  atomic_fetch_add(&m->metrics->mqtt_commands[ok], 1);
  if (!ok) log_line("command on %s refused: %s", msg->topic, why);
}

/* Sleeps up to ms unless woken (stop). */
static void nap(struct lg_mqtt *m, int ms) {
  struct pollfd p = {.fd = m->wake_fd, .events = POLLIN};
  uint64_t v;
  if (poll(&p, 1, ms) > 0 && read(m->wake_fd, &v, sizeof(v)) < 0) { /* drained */
  }
}

/* The network thread: connects (again after a loss, with a back-off of 1 s doubling to
 * 30 s until the broker accepts one), then waits on the socket and wake_fd: writes what
 * publishes queued, reads PUBACKs and commands, and keeps the session alive. */
static void *net_run(void *arg) {
  struct lg_mqtt *m = arg;
  int backoff_s = 1, was;
  bool tried = false, said = false, want_write = false;
  while (!atomic_load(&m->stopping)) {
    if (atomic_exchange(&m->acked, false)) backoff_s = 1, said = false;
    if (mosquitto_socket(m->mosq) < 0) {
      if (tried) {
        nap(m, backoff_s * 1000);
        backoff_s = backoff_s * 2 > 30 ? 30 : backoff_s * 2;
      }
      if (atomic_load(&m->stopping)) break;
      atomic_store(&m->broken, false); /* whatever broke, this connection replaces it */
      atomic_store(&m->connecting, true);
      int rc = tried ? mosquitto_reconnect(m->mosq) : mosquitto_connect(m->mosq, m->host, m->port, 30);
      atomic_store(&m->connecting, false);
      tried = true;
      if (rc != MOSQ_ERR_SUCCESS) {
        if (!said) log_line("cannot reach %s:%d yet (%s); retrying", m->host, m->port,
                            mosquitto_strerror(rc));
        said = true;
        continue;
      }
      want_write = true; /* look once: whatever the connect left to send */
    }
    struct pollfd p[2] = {
        {.fd = mosquitto_socket(m->mosq), .events = POLLIN | (want_write ? POLLOUT : 0)},
        {.fd = m->wake_fd, .events = POLLIN}};
    if (poll(p, 2, 1000) < 0) continue;
    uint64_t v;
    if ((p[1].revents & POLLIN) && read(m->wake_fd, &v, sizeof(v)) < 0) { /* drained */
    }
    int rc = MOSQ_ERR_SUCCESS;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &was); /* a stop's cancel: never with mu */
    pthread_mutex_lock(&m->mu);
    if (atomic_exchange(&m->broken, false) && !m->connected)
      mosquitto_disconnect(m->mosq); /* closed when it is read; on_connect after the next */
    /* on POLLOUT too: a TLS handshake that waited to write goes on in a read */
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR | POLLOUT))
      rc = mosquitto_loop_read(m->mosq, 64);
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(m->mosq) >= 0 && mosquitto_want_write(m->mosq))
      rc = mosquitto_loop_write(m->mosq, 1024);
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(m->mosq) >= 0) rc = mosquitto_loop_misc(m->mosq);
    want_write = mosquitto_socket(m->mosq) >= 0 && mosquitto_want_write(m->mosq);
    pthread_mutex_unlock(&m->mu);
    pthread_setcancelstate(was, NULL);
    (void)rc; /* a lost connection closed the socket and said so (on_disconnect) */
  }
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &was);
  pthread_mutex_lock(&m->mu);
  if (mosquitto_socket(m->mosq) >= 0) {
    mosquitto_disconnect(m->mosq);
    mosquitto_loop_write(m->mosq, 1024);
  }
  m->connected = false;
  pthread_mutex_unlock(&m->mu);
  return NULL;
}

/* mqtt://HOST[:PORT] (1883) or mqtts://HOST[:PORT] (8883, TLS). */
static int parse_url(const char *url, char *host, size_t host_len, int *port, bool *tls) {
  *tls = strncmp(url, "mqtts://", 8) == 0;
  const char *p = *tls ? url + 8 : strncmp(url, "mqtt://", 7) == 0 ? url + 7 : NULL;
  if (p == NULL || *p == '\0') return LG_EINVAL;
  const char *colon = strrchr(p, ':');
  size_t n = colon ? (size_t)(colon - p) : strlen(p);
  if (n == 0 || n >= host_len) return LG_EINVAL;
  memcpy(host, p, n);
  host[n] = '\0';
  *port = *tls ? 8883 : 1883;
  if (colon) {
    char *end;
    long v = strtol(colon + 1, &end, 10);
    if (*end || v < 1 || v > 65535) return LG_EINVAL;
    *port = (int)v;
  }
  return 0;
}

struct lg_mqtt *lg_mqtt_start(const struct lg_config *cfg, struct lg_ns_metrics *metrics, char *why,
                              size_t why_len) {
  char host[256];
  int port;
  bool tls;
  if (parse_url(cfg->mqtt_url, host, sizeof(host), &port, &tls)) {
    snprintf(why, why_len, "[mqtt] url '%s': expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]",
             cfg->mqtt_url);
    return NULL;
  }
  struct lg_mqtt *m = calloc(1, sizeof(*m));
  if (m == NULL) return NULL;
  pthread_mutex_init(&m->mu, NULL);
  m->metrics = metrics;
  snprintf(m->prefix, sizeof(m->prefix), "%s", cfg->mqtt_topic_prefix);
  m->chirpstack = cfg->mqtt_chirpstack;
  char note[512];
  m->cap = (size_t)cfg->mqtt_queue_max;
  m->qos = cfg->mqtt_qos;
  m->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  m->q = calloc(m->cap, sizeof(*m->q));
  mosquitto_lib_init();
  m->mosq = mosquitto_new(NULL, true, m);
  if (m->q == NULL || m->mosq == NULL || m->wake_fd < 0 ||
      lg_config_open_store(cfg, NULL, &m->store, NULL, note, sizeof(note), why, why_len) != 0) {
    if (m->q == NULL || m->mosq == NULL || m->wake_fd < 0)
      snprintf(why, why_len, "mqtt: out of memory or file descriptors");
    lg_mqtt_stop(m);
    return NULL;
  }
  if (cfg->mqtt_username[0])
    mosquitto_username_pw_set(m->mosq, cfg->mqtt_username,
                              cfg->mqtt_password[0] ? cfg->mqtt_password : NULL);
  /* TLS: the broker's certificate checked against ca_file (or the system's CAs), and a
   * client certificate when cert_file and key_file are given. */
  int trc = !tls ? MOSQ_ERR_SUCCESS
                 : mosquitto_tls_set(m->mosq, cfg->mqtt_ca_file[0] ? cfg->mqtt_ca_file : NULL,
                                     cfg->mqtt_ca_file[0] ? NULL : "/etc/ssl/certs",
                                     cfg->mqtt_cert_file[0] ? cfg->mqtt_cert_file : NULL,
                                     cfg->mqtt_key_file[0] ? cfg->mqtt_key_file : NULL, NULL);
  if (trc != MOSQ_ERR_SUCCESS) {
    snprintf(why, why_len, "[mqtt] TLS files: %s", mosquitto_strerror(trc));
    lg_mqtt_stop(m);
    return NULL;
  }
  mosquitto_connect_callback_set(m->mosq, on_connect);
  mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
  mosquitto_message_callback_set(m->mosq, on_message);
  /* libmosquitto's own in-flight window; beyond it messages wait inside libmosquitto. */
  mosquitto_max_inflight_messages_set(m->mosq, 1000);
  snprintf(m->host, sizeof(m->host), "%s", host);
  m->port = port;
  if (pthread_create(&m->net, NULL, net_run, m) != 0) {
    snprintf(why, why_len, "mqtt: cannot start the network thread");
    lg_mqtt_stop(m);
    return NULL;
  }
  m->net_started = true;
  return m;
}

void lg_mqtt_stop(struct lg_mqtt *m) {
  if (m == NULL) return;
  if (m->net_started) {
    atomic_store(&m->stopping, true);
    wake(m);
    /* A connect to a host that drops packets blocks for minutes: not a stop's. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 3;
    if (pthread_timedjoin_np(m->net, NULL, &until) != 0) {
      if (atomic_load(&m->connecting)) log_line("stopping while connecting to the broker");
      pthread_cancel(m->net);
      pthread_join(m->net, NULL);
    }
  }
  if (m->mosq) mosquitto_destroy(m->mosq);
  if (m->wake_fd >= 0) close(m->wake_fd);
  for (size_t i = 0; i < m->n; i++) {
    struct waiting *w = &m->q[(m->head + i) % m->cap];
    free(w->topic);
    free(w->payload);
  }
  if (m->n) log_line("%zu events still waiting for the broker are dropped at exit", m->n);
  free(m->q);
  lg_store_close(m->store);
  pthread_mutex_destroy(&m->mu);
  mosquitto_lib_cleanup();
  free(m);
}

void lg_mqtt_event(struct lg_mqtt *m, uint64_t dev_eui, const char *type, json_t *payload) {
  char topic[160];
  const char *slash = strchr(type, '/');
  if (slash && strncmp(type, "gateway/", 8) == 0) /* a gateway's event: gateway/{eui}/event/... */
    snprintf(topic, sizeof(topic), "%s/gateway/%016" PRIx64 "/event/%s", m->prefix, dev_eui, slash + 1);
  else if (slash && strncmp(type, "dev_addr/", 9) == 0) /* a DevAddr's (MIC failures) */
    snprintf(topic, sizeof(topic), "%s/dev_addr/%08" PRIx64 "/event/%s", m->prefix, dev_eui, slash + 1);
  else
    snprintf(topic, sizeof(topic), "%s/device/%016" PRIx64 "/event/%s", m->prefix, dev_eui, type);
  lg_mqtt_publish(m, topic, payload);
}

void lg_mqtt_publish(struct lg_mqtt *m, const char *topic, json_t *payload) {
  char *text = lg_json_text(payload, NULL); /* json_dumps' bytes, faster (json_text.c) */
  json_decref(payload);
  if (text == NULL) return;
  pthread_mutex_lock(&m->mu);
  if (m->connected && m->n == 0 && send_now(m, topic, text) != KEPT) {
    pthread_mutex_unlock(&m->mu);
    free(text);
    return;
  }
  char *copy = strdup(topic);
  if (copy == NULL) { /* out of memory: this one is dropped, counted */
    free(text);
    atomic_fetch_add(&m->metrics->mqtt_dropped, 1);
    pthread_mutex_unlock(&m->mu);
    return;
  }
  if (m->n == m->cap) { /* full: the oldest goes */
    struct waiting *w = &m->q[m->head];
    free(w->topic);
    free(w->payload);
    m->head = (m->head + 1) % m->cap;
    m->n--;
    atomic_fetch_add(&m->metrics->mqtt_dropped, 1);
  }
  struct waiting *w = &m->q[(m->head + m->n) % m->cap];
  w->topic = copy;
  w->payload = text;
  m->n++;
  atomic_store(&m->metrics->mqtt_waiting, m->n);
  pthread_mutex_unlock(&m->mu);
}
