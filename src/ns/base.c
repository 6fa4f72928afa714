/*
 * The helpers every stage of the packet path uses (ns_int.h): the clock, logging and the
 * counted, rate-limited drop and storage-error lines, the batch of writes and the events
 * that wait for its commit, the random source and the cache of AES keys. They call only
 * lower modules (store, lorawan, util), never a stage: ns.c and the stages call them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "ns/ns_int.h"
#include "util/util.h"

static const char *const drop_names[LG_DROP_COUNT] = {"short",
                                                      "version",
                                                      "type",
                                                      "zero_eui",
                                                      "json",
                                                      "unknown_gateway",
                                                      "bad_rxpk",
                                                      "crc",
                                                      "bad_phy_payload",
                                                      "unsupported_mtype",
                                                      "unknown_device",
                                                      "mic",
                                                      "replay",
                                                      "devnonce_reused",
                                                      "storage",
                                                      "frequency",
                                                      "data_rate",
                                                      "gateway_address",
                                                      "gateway_network"};
static const char *const shed_names[LG_SHED_COUNT] = {"unknown_device", "mic", "open_frames",
                                                      "late_horizon", "unknown_gateway"};
static const char *const dl_names[LG_DL_COUNT] = {"sent",    "ok",         "too_late",
                                                  "error",   "no_gateway", "duty_cycle",
                                                  "retried", "ack_limit",  "dwell_time"};

const double lg_ns_accuracy_bounds_m[LG_NS_ACCURACY_BUCKETS - 1] = {5,   10,  20,  50,
                                                                    100, 200, 500, 1000};

const char *lg_drop_name(enum lg_drop d) {
  return (unsigned)d < LG_DROP_COUNT ? drop_names[d] : "unknown";
}

const char *lg_shed_name(enum lg_shed s) {
  return (unsigned)s < LG_SHED_COUNT ? shed_names[s] : "unknown";
}

const char *lg_dl_result_name(enum lg_dl_result r) {
  return (unsigned)r < LG_DL_COUNT ? dl_names[r] : "unknown";
}

int64_t ns_now(struct lg_ns *ns) {
  return ns->replaying ? ns->replay_now_ns : ns->io.now_ns(ns->io.ctx);
}

void ns_store_error(struct lg_ns *ns, const char *what) {
  atomic_fetch_add(&ns->m.store_errors, 1);
  ns->batch_failed = true;
  ns_store_error_log(ns, what, lg_store_errmsg(ns->store));
}

void ns_store_error_log(struct lg_ns *ns, const char *what, const char *msg) {
  int64_t now = ns->io.now_ns(ns->io.ctx);
  /* Rate-limited: one line per 10 s, saying how many failed since the last. */
  if (ns->store_logged_ns != 0 && now - ns->store_logged_ns < 10000000000LL) {
    ns->store_unlogged++;
    return;
  }
  ns_log(ns, "storage: %s failed: %s (%llu more failures since the last such line)", what, msg,
         (unsigned long long)ns->store_unlogged);
  ns->store_logged_ns = now;
  ns->store_unlogged = 0;
}

void ns_batch_begin(struct lg_ns *ns) {
  ns->batch_failed = false;
  ns->batch_open = lg_store_begin(ns->store) == 0;
  if (!ns->batch_open) ns_store_error(ns, "starting a transaction");
}

bool ns_batch_end(struct lg_ns *ns) {
  if (!ns->batch_open) {
    bool ok = !ns->batch_failed;
    ns->batch_failed = false;
    return ok;
  }
  ns->batch_open = false;
  bool ok;
  if (ns->batch_failed) { /* not kept in part: the journal runs it again once storage works */
    if (lg_store_rollback(ns->store) != 0)
      ns_log(ns, "storage: rolling back failed: %s", lg_store_errmsg(ns->store));
    ok = false;
  } else {
    ok = lg_store_commit(ns->store) == 0;
    if (!ok) ns_store_error(ns, "committing a batch");
  }
  ns->batch_failed = false;
  if (!ok && !ns->journal) ns_log(ns, "storage: a batch was not stored; its uplinks are lost");
  for (size_t i = 0; i < ns->n_events; i++) { /* a lost batch's events announce nothing */
    struct ns_event *e = &ns->events[i];
    if (ok)
      ns->io.on_event(ns->io.event_ctx ? ns->io.event_ctx : ns->io.ctx, e->dev_eui, e->type,
                      e->payload);
    else
      json_decref(e->payload);
  }
  ns->n_events = 0;
  return ok;
}

void ns_event(struct lg_ns *ns, uint64_t dev_eui, const char *type, json_t *payload) {
  if (ns->io.on_event == NULL) { /* nobody listens (tests, tools) */
    json_decref(payload);
    return;
  }
  if (!ns->batch_open) {
    ns->io.on_event(ns->io.event_ctx ? ns->io.event_ctx : ns->io.ctx, dev_eui, type, payload);
    return;
  }
  if (ns->n_events == ns->cap_events) {
    size_t cap = ns->cap_events ? 2 * ns->cap_events : 64;
    struct ns_event *e = realloc(ns->events, cap * sizeof(*e));
    if (e == NULL) { /* no room to wait: out now rather than never */
      ns->io.on_event(ns->io.event_ctx ? ns->io.event_ctx : ns->io.ctx, dev_eui, type, payload);
      return;
    }
    ns->events = e, ns->cap_events = cap;
  }
  struct ns_event *e = &ns->events[ns->n_events++];
  e->dev_eui = dev_eui;
  snprintf(e->type, sizeof(e->type), "%s", type);
  e->payload = payload;
}

void ns_log(struct lg_ns *ns, const char *fmt, ...) {
  (void)ns;
  va_list ap;
  struct timespec ts; /* milliseconds: what happened within one de-duplication window */
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  char when[32];
  gmtime_r(&ts.tv_sec, &tm);
  strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(stderr, "%s.%03dZ lorageo: ", when, (int)(ts.tv_nsec / 1000000));
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

void ns_drop(struct lg_ns *ns, enum lg_drop why, const char *fmt, ...) {
  if (why == LG_DROP_STORE) ns_store_error(ns, "a write");
  uint64_t n = atomic_fetch_add(&ns->m.dropped[why], 1) + 1;
  /* Rate-limited: the first ten of each reason, then every thousandth. */
  if (n > 10 && n % 1000 != 0) return;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  ns_log(ns, "dropped (%s, #%llu): %s", drop_names[why], (unsigned long long)n, msg);
}

uint64_t ns_random(struct lg_ns *ns) {
  ns->rng ^= ns->rng << 13;
  ns->rng ^= ns->rng >> 7;
  ns->rng ^= ns->rng << 17;
  return ns->rng;
}
#define NS_KEYS_MAX 4096

struct lg_key *ns_key(struct lg_ns *ns, const uint8_t bytes[16]) {
  struct ns_key *k;
  HASH_FIND(hh, ns->keys, bytes, 16, k);
  if (k) { /* most recently used goes last */
    HASH_DEL(ns->keys, k);
    HASH_ADD(hh, ns->keys, bytes, 16, k);
    return &k->key;
  }
  if (ns->n_keys >= NS_KEYS_MAX && (k = ns->keys) != NULL) { /* evict the least recent */
    HASH_DEL(ns->keys, k);
    lg_key_close(&k->key); /* wipes the key bytes too */
    ns->n_keys--;
  } else if ((k = malloc(sizeof(*k))) == NULL) {
    return NULL;
  }
  memcpy(k->bytes, bytes, 16);
  if (lg_key_init(&k->key, &ns->crypto, bytes) != 0) {
    free(k);
    return NULL;
  }
  HASH_ADD(hh, ns->keys, bytes, 16, k);
  ns->n_keys++;
  return &k->key;
}
