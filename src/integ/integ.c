/*
 * The integration dispatcher (integ.h): a bounded queue of events and one thread that
 * decodes uplinks with their device's codec and hands each event to MQTT and the webhook.
 *
 * The one thread keeps events in order and runs the codecs serially (each script has its
 * own lock anyway, and the API may decode on its threads at the same time). A codec that
 * fails adds no `object`: the uplink goes out as it is, followed by a `log` event
 * {level: "ERROR", code: "UPLINK_CODEC", description, f_cnt} — ChirpStack's LogEvent,
 * which is what a ChirpStack application expects for a codec error.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uthash.h>

#include "integ/integ.h"
#include "integ/mqtt.h"
#include "store/store.h"

struct ev {
  uint64_t dev_eui;
  char type[24];
  json_t *payload;
};

struct lg_integ {
  struct lg_ns_metrics *m;
  struct lg_codecs *codecs;
  struct lg_mqtt *mqtt;       /* NULL: off */
  struct lg_webhook *webhook; /* NULL: off */
  struct lg_webhook_target target;
  bool chirpstack; /* [mqtt] format */
  char application_id[64];
  const struct lg_region *region;
  struct lg_store *store; /* this thread's own, for device names and applications' webhooks */
  /* applications' webhooks (store.h lg_webhook_rec), reloaded when they change */
  struct app_hook {
    int64_t id, app_id;
    struct lg_webhook_target t;
    struct lg_webhook *w;
  } *hooks;
  size_t n_hooks;
  unsigned hooks_gen; /* 1 + lg_store_webhooks_generation() as loaded (0: never) */
  struct lg_webhook_target hook_defaults; /* retries and timeouts: [webhook]'s */
  size_t hook_queue_max;
  lg_integ_device_fn device_fn;
  void *device_ctx;
  lg_integ_limit_fn limit_fn; /* set before events flow (serve's start) */
  void *limit_ctx;
  struct day { /* a device's uplinks in the day from its first one counted */
    uint64_t dev_eui;
    int64_t start_ns;
    int count;
    UT_hash_handle hh;
  } *days;
  size_t n_days;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop, started;
  struct ev *q;
  size_t cap, head, n;
};

struct lg_codecs *lg_integ_codecs(struct lg_integ *i) {
  return i->codecs;
}

void lg_integ_set_uplink_limit(struct lg_integ *i, lg_integ_limit_fn fn, void *ctx) {
  pthread_mutex_lock(&i->mu);
  i->limit_fn = fn, i->limit_ctx = ctx;
  pthread_mutex_unlock(&i->mu);
}

/* Counts an uplink against its device's daily limit: the `log` event to raise (the first
 * past the limit in its day), or NULL. Bounded: past 100,000 devices the counts start over. */
static json_t *over_limit(struct lg_integ *i, uint64_t dev_eui, int64_t now_ns) {
  pthread_mutex_lock(&i->mu);
  lg_integ_limit_fn fn = i->limit_fn;
  void *ctx = i->limit_ctx;
  pthread_mutex_unlock(&i->mu);
  int max_up = fn ? fn(ctx, dev_eui) : 0;
  if (max_up <= 0) return NULL;
  struct day *d;
  HASH_FIND(hh, i->days, &dev_eui, sizeof(dev_eui), d);
  if (d == NULL) {
    if (i->n_days >= 100000) {
      struct day *x, *tmp;
      HASH_ITER(hh, i->days, x, tmp) {
        HASH_DEL(i->days, x);
        free(x);
      }
      i->n_days = 0;
    }
    if ((d = calloc(1, sizeof(*d))) == NULL) return NULL;
    d->dev_eui = dev_eui;
    HASH_ADD(hh, i->days, dev_eui, sizeof(d->dev_eui), d);
    i->n_days++;
  }
  if (d->count == 0 || now_ns - d->start_ns >= 86400000000000LL) d->start_ns = now_ns, d->count = 0;
  if (++d->count <= max_up) return NULL;
  atomic_fetch_add(&i->m->uplinks_over_limit, 1);
  if (d->count != max_up + 1) return NULL;
  char why[200];
  snprintf(why, sizeof(why), "more than %d uplinks within 24 h: its profile allows %d a day "
           "(max_uplinks_per_day); they are kept", max_up, max_up);
  return json_pack("{s:s, s:s, s:s}", "level", "WARNING", "code", "UPLINK_LIMIT", "description",
                   why);
}

void lg_integ_set_device_info(struct lg_integ *i, lg_integ_device_fn fn, void *ctx) {
  pthread_mutex_lock(&i->mu);
  i->device_fn = fn;
  i->device_ctx = ctx;
  pthread_mutex_unlock(&i->mu);
}

/* The device's deviceInfo: the configured application, its name from storage, then the
 * hook's answer over them. */
static void device_of(struct lg_integ *i, uint64_t dev_eui, struct lg_integ_device *d) {
  memset(d, 0, sizeof(*d));
  snprintf(d->application_id, sizeof(d->application_id), "%s", i->application_id);
  struct lg_device_rec rec;
  if (i->store && lg_store_device_get(i->store, dev_eui, &rec) == 0) {
    snprintf(d->device_name, sizeof(d->device_name), "%s", rec.name);
    d->class_c = rec.class_c;
  }
  pthread_mutex_lock(&i->mu);
  lg_integ_device_fn fn = i->device_fn;
  void *ctx = i->device_ctx;
  pthread_mutex_unlock(&i->mu);
  if (fn) fn(ctx, dev_eui, d);
}

/* The applications' webhooks as the store has them now: senders of removed ones stopped
 * (what they still hold is dropped, counted), new ones started, the others kept running. */
static void reload_hooks(struct lg_integ *i) {
  unsigned gen = lg_store_webhooks_generation();
  if (i->store == NULL || i->hooks_gen == gen + 1) return;
  struct lg_webhook_rec *rows = calloc(256, sizeof(*rows));
  struct app_hook *next = calloc(256, sizeof(*next));
  size_t n = 0, k = 0;
  if (rows == NULL || next == NULL || lg_store_webhooks_all(i->store, rows, 256, &n) != 0) {
    free(rows), free(next);
    return; /* tried again with the next event */
  }
  i->hooks_gen = gen + 1;
  if (n == 256) /* the table may hold more: said, not hidden */
    fprintf(stderr, "lorageo: applications' webhooks: only the first 256 are served\n");
  for (size_t r = 0; r < n; r++) {
    struct app_hook *h = &next[k];
    for (size_t o = 0; o < i->n_hooks; o++)
      if (i->hooks[o].w && i->hooks[o].id == rows[r].id) *h = i->hooks[o], i->hooks[o].w = NULL;
    if (h->w == NULL) {
      char why[256];
      h->id = rows[r].id, h->app_id = rows[r].application_id;
      h->t = i->hook_defaults;
      snprintf(h->t.url, sizeof(h->t.url), "%s", rows[r].url);
      snprintf(h->t.headers, sizeof(h->t.headers), "%s", rows[r].headers);
      snprintf(h->t.events, sizeof(h->t.events), "%s", rows[r].events);
      h->t.chirpstack = rows[r].chirpstack;
      if ((h->w = lg_webhook_start(&h->t, i->hook_queue_max, i->m, why, sizeof(why))) == NULL) {
        fprintf(stderr, "lorageo: webhook %lld of application %lld: %s\n", (long long)h->id,
                (long long)h->app_id, why);
        continue;
      }
    }
    k++;
  }
  for (size_t o = 0; o < i->n_hooks; o++)
    lg_webhook_stop(i->hooks[o].w); /* removed ones */
  free(i->hooks);
  free(rows);
  i->hooks = next, i->n_hooks = k;
}

/* An event's body for a webhook: lorageo's (the event with its dev_eui, which MQTT's topic
 * carries) or ChirpStack's. The text, or NULL. */
static char *hook_body(json_t *payload, json_t *cs, bool chirpstack, uint64_t dev_eui) {
  json_t *body = chirpstack ? json_incref(cs) : json_copy(payload);
  if (body && !chirpstack && json_object_get(body, "dev_eui") == NULL) {
    char eui[17];
    snprintf(eui, sizeof(eui), "%016" PRIx64, dev_eui);
    json_object_set_new(body, "dev_eui", json_string(eui));
  }
  char *text = body ? lg_json_text(body, NULL) : NULL;
  json_decref(body);
  return text;
}

/* One event to the webhooks of the device's application. */
static void to_app_hooks(struct lg_integ *i, uint64_t dev_eui, const char *type, json_t *payload) {
  reload_hooks(i);
  struct lg_device_rec rec;
  if (i->n_hooks == 0 || lg_store_device_get(i->store, dev_eui, &rec) != 0) return;
  json_t *cs = NULL;
  const char *cs_type = type;
  struct lg_integ_device dev;
  for (size_t k = 0; k < i->n_hooks; k++) {
    struct app_hook *h = &i->hooks[k];
    if (h->app_id != rec.application_id || !lg_webhook_wants(&h->t, type)) continue;
    if (h->t.chirpstack && cs == NULL) {
      device_of(i, dev_eui, &dev);
      cs = lg_chirpstack_event(type, dev_eui, payload, &dev, i->region, &cs_type);
      if (cs == NULL) continue; /* no ChirpStack event of this type */
    }
    char *text = hook_body(payload, cs, h->t.chirpstack, dev_eui);
    if (text) lg_webhook_post(h->w, h->t.chirpstack ? cs_type : type, text);
    free(text);
  }
  json_decref(cs);
}

/* One event to MQTT and the webhooks, in the configured format; consumes payload. */
static void fan_out(struct lg_integ *i, uint64_t dev_eui, const char *type, json_t *payload) {
  to_app_hooks(i, dev_eui, type, payload);
  bool to_hook = i->webhook && lg_webhook_wants(&i->target, type);
  json_t *cs = NULL;
  const char *cs_type = NULL;
  struct lg_integ_device dev;
  if (i->chirpstack || (to_hook && i->target.chirpstack)) {
    device_of(i, dev_eui, &dev);
    cs = lg_chirpstack_event(type, dev_eui, payload, &dev, i->region, &cs_type);
  }
  if (to_hook) {
    char *text = hook_body(payload, cs, i->target.chirpstack, dev_eui);
    if (text) lg_webhook_post(i->webhook, i->target.chirpstack ? cs_type : type, text);
    free(text);
  }
  if (i->mqtt && !i->chirpstack) {
    lg_mqtt_event(i->mqtt, dev_eui, type, json_incref(payload));
  } else if (i->mqtt && cs) {
    char topic[200];
    snprintf(topic, sizeof(topic), "application/%s/device/%016" PRIx64 "/event/%s",
             dev.application_id, dev_eui, cs_type);
    lg_mqtt_publish(i->mqtt, topic, json_incref(cs));
  }
  json_decref(cs);
  json_decref(payload);
}

static void handle(struct lg_integ *i, struct ev *e) {
  if (strcmp(e->type, "up") != 0) {
    fan_out(i, e->dev_eui, e->type, e->payload);
    return;
  }
  char why[512];
  bool had = json_object_get(e->payload, "object") != NULL;
  int rc = lg_codecs_uplink_object(i->codecs, e->payload, why, sizeof(why));
  if (rc == 0 && !had && json_object_get(e->payload, "object"))
    atomic_fetch_add(&i->m->codec_decoded, 1);
  json_t *log = NULL;
  if (rc) {
    atomic_fetch_add(&i->m->codec_errors, 1);
    log = json_pack("{s:s, s:s, s:s, s:O}", "level", "ERROR", "code", "UPLINK_CODEC",
                    "description", why, "f_cnt", json_object_get(e->payload, "f_cnt"));
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  json_t *limit = over_limit(i, e->dev_eui, (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);
  fan_out(i, e->dev_eui, "up", e->payload);
  if (log) fan_out(i, e->dev_eui, "log", log);
  if (limit) fan_out(i, e->dev_eui, "log", limit);
}

static void *run(void *arg) {
  struct lg_integ *i = arg;
  pthread_mutex_lock(&i->mu);
  for (;;) {
    while (!i->stop && i->n == 0)
      pthread_cond_wait(&i->cv, &i->mu);
    if (i->n == 0) break; /* stopping, and everything queued was handled */
    struct ev e = i->q[i->head];
    i->head = (i->head + 1) % i->cap;
    i->n--;
    pthread_mutex_unlock(&i->mu);
    handle(i, &e);
    pthread_mutex_lock(&i->mu);
  }
  pthread_mutex_unlock(&i->mu);
  return NULL;
}

struct lg_integ *lg_integ_start(const struct lg_config *cfg, struct lg_ns_metrics *metrics,
                                char *why, size_t why_len) {
  struct lg_integ *i = calloc(1, sizeof(*i));
  if (i == NULL) return NULL;
  i->m = metrics;
  /* Events pile up here only while a codec is slow (MQTT and the webhook queue on their
   * own, with their own bounds and counters): 20000 of ~1-2 KB at most. */
  i->cap = 20000;
  pthread_mutex_init(&i->mu, NULL);
  pthread_cond_init(&i->cv, NULL);
  i->chirpstack = cfg->mqtt_chirpstack;
  snprintf(i->application_id, sizeof(i->application_id), "%s", cfg->mqtt_application_id);
  i->region = lg_region_find(cfg->region);
  i->q = calloc(i->cap, sizeof(*i->q));
  i->codecs = lg_codecs_new(cfg->codec_dir, cfg->codec_js_timeout_ms,
                            (size_t)cfg->codec_js_memory_kb * 1024);
  if (i->q == NULL || i->codecs == NULL) {
    snprintf(why, why_len, "integration: out of memory");
    lg_integ_stop(i);
    return NULL;
  }
  char note[256];
  /* device names for deviceInfo, applications' webhooks; best effort */
  if (lg_config_open_store(cfg, NULL, &i->store, NULL, note, sizeof(note), why, why_len) != 0)
    i->store = NULL;
  i->hook_defaults = (struct lg_webhook_target){.max_attempts = cfg->webhook_max_attempts,
                                                .retry_ms = cfg->webhook_retry_ms,
                                                .retry_max_ms = cfg->webhook_retry_max_ms,
                                                .timeout_ms = cfg->webhook_timeout_ms};
  i->hook_queue_max = (size_t)cfg->webhook_queue_max;
  if (cfg->mqtt_url[0] && (i->mqtt = lg_mqtt_start(cfg, metrics, why, why_len)) == NULL) {
    lg_integ_stop(i);
    return NULL;
  }
  if (i->mqtt) lg_mqtt_set_codecs(i->mqtt, i->codecs);
  if (cfg->webhook_url[0]) {
    struct lg_webhook_target *t = &i->target;
    snprintf(t->url, sizeof(t->url), "%s", cfg->webhook_url);
    snprintf(t->headers, sizeof(t->headers), "%s", cfg->webhook_headers);
    snprintf(t->events, sizeof(t->events), "%s", cfg->webhook_events);
    t->chirpstack = cfg->mqtt_chirpstack;
    t->max_attempts = cfg->webhook_max_attempts;
    t->retry_ms = cfg->webhook_retry_ms;
    t->retry_max_ms = cfg->webhook_retry_max_ms;
    t->timeout_ms = cfg->webhook_timeout_ms;
    if ((i->webhook = lg_webhook_start(t, (size_t)cfg->webhook_queue_max, metrics, why,
                                       why_len)) == NULL) {
      lg_integ_stop(i);
      return NULL;
    }
  }
  if (pthread_create(&i->thread, NULL, run, i) != 0) {
    snprintf(why, why_len, "integration: cannot start its thread");
    lg_integ_stop(i);
    return NULL;
  }
  i->started = true;
  return i;
}

void lg_integ_stop(struct lg_integ *i) {
  if (i == NULL) return;
  if (i->started) { /* what is queued is handled first: handed to MQTT and the webhook */
    pthread_mutex_lock(&i->mu);
    i->stop = true;
    pthread_cond_broadcast(&i->cv);
    pthread_mutex_unlock(&i->mu);
    pthread_join(i->thread, NULL);
  }
  for (size_t k = 0; k < i->n; k++)
    json_decref(i->q[(i->head + k) % i->cap].payload);
  lg_webhook_stop(i->webhook);
  for (size_t k = 0; k < i->n_hooks; k++)
    lg_webhook_stop(i->hooks[k].w);
  free(i->hooks);
  struct day *d, *tmp;
  HASH_ITER(hh, i->days, d, tmp) {
    HASH_DEL(i->days, d);
    free(d);
  }
  lg_mqtt_stop(i->mqtt);
  lg_store_close(i->store);
  lg_codecs_free(i->codecs);
  pthread_cond_destroy(&i->cv);
  pthread_mutex_destroy(&i->mu);
  free(i->q);
  free(i);
}

void lg_integ_event(struct lg_integ *i, uint64_t dev_eui, const char *type, json_t *payload) {
  if (payload == NULL) return;
  pthread_mutex_lock(&i->mu);
  if (i->n == i->cap) { /* full: the oldest goes */
    json_decref(i->q[i->head].payload);
    i->head = (i->head + 1) % i->cap;
    i->n--;
    atomic_fetch_add(&i->m->integ_dropped, 1);
  }
  struct ev *e = &i->q[(i->head + i->n) % i->cap];
  e->dev_eui = dev_eui;
  snprintf(e->type, sizeof(e->type), "%s", type);
  e->payload = payload;
  i->n++;
  pthread_cond_signal(&i->cv);
  pthread_mutex_unlock(&i->mu);
}
