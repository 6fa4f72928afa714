/*
 * HTTP webhooks (integ.h): a sender thread per target with a bounded queue of events.
 *
 * Delivery is in order and at least once: the oldest event is POSTed until the target
 * answers 2xx; a transport error or another status waits retry_ms, doubling at each try up
 * to retry_max_ms, and after max_attempts tries the event is dropped (counted as
 * "attempts") and the next one goes. A full queue drops its oldest event (counted as
 * "queue_full"), so a target that is down for long costs bounded memory and the newest
 * events survive. Stopping interrupts a back-off at once; the request in flight finishes
 * (it is bounded by timeout_ms).
 *
 * The request: POST {url}?event={type} (ChirpStack's HTTP integration adds the same query
 * parameter), Content-Type: application/json, the target's headers, the event's JSON.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "integ/integ.h"

struct item {
  uint64_t seq; /* tells the head apart after the queue moved under a request */
  char type[24];
  char *body;
};

struct lg_webhook {
  struct lg_webhook_target t;
  struct lg_ns_metrics *m;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool stop;
  struct item *q; /* ring */
  size_t cap, head, n;
  uint64_t next_seq;
  CURL *curl;
  struct curl_slist *headers;
};

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "lorageo: [webhook] ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

bool lg_webhook_wants(const struct lg_webhook_target *t, const char *type) {
  if (!t->events[0]) return true;
  size_t n = strlen(type);
  for (const char *p = t->events; *p;) {
    while (*p == ' ' || *p == ',') p++;
    size_t k = strcspn(p, ", ");
    if (k == n && strncmp(p, type, n) == 0) return true;
    p += k;
  }
  return false;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ctx) {
  (void)ptr;
  (void)ctx;
  return size * nmemb;
}

/* One POST; true on a 2xx answer. */
static bool post(struct lg_webhook *w, const struct item *it) {
  char url[700];
  snprintf(url, sizeof(url), "%s%sevent=%s", w->t.url, strchr(w->t.url, '?') ? "&" : "?",
           it->type);
  curl_easy_setopt(w->curl, CURLOPT_URL, url);
  curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, it->body);
  curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(it->body));
  CURLcode rc = curl_easy_perform(w->curl);
  long status = 0;
  if (rc == CURLE_OK) curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
  bool ok = rc == CURLE_OK && status >= 200 && status < 300;
  if (!ok) {
    if (rc != CURLE_OK)
      log_line("%s: %s", w->t.url, curl_easy_strerror(rc));
    else
      log_line("%s answered %ld", w->t.url, status);
  }
  return ok;
}

static void drop_head(struct lg_webhook *w) {
  free(w->q[w->head].body);
  w->head = (w->head + 1) % w->cap;
  w->n--;
  atomic_store(&w->m->webhook_waiting, w->n);
}

static void *run(void *arg) {
  struct lg_webhook *w = arg;
  pthread_mutex_lock(&w->mu);
  while (!w->stop) {
    if (w->n == 0) {
      pthread_cond_wait(&w->cv, &w->mu);
      continue;
    }
    struct item it = w->q[w->head];
    it.body = strdup(it.body); /* the queue may drop its copy while we post */
    pthread_mutex_unlock(&w->mu);
    int attempt = 0;
    bool ok = false;
    int64_t wait_ms = w->t.retry_ms;
    while (it.body && !ok) {
      attempt++;
      ok = post(w, &it);
      atomic_fetch_add(&w->m->webhook_requests[ok], 1);
      if (ok || attempt >= w->t.max_attempts) break;
      pthread_mutex_lock(&w->mu); /* back off, or stop */
      struct timespec until;
      clock_gettime(CLOCK_REALTIME, &until);
      until.tv_sec += (time_t)(wait_ms / 1000);
      until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
      if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
      while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0) {
      }
      bool stopping = w->stop;
      pthread_mutex_unlock(&w->mu);
      if (stopping) break;
      wait_ms = wait_ms * 2 > w->t.retry_max_ms ? w->t.retry_max_ms : wait_ms * 2;
    }
    free(it.body);
    pthread_mutex_lock(&w->mu);
    if (w->stop && !ok) break; /* it stays queued: counted with the rest below */
    if (ok) {
      atomic_fetch_add(&w->m->webhook_sent, 1);
    } else {
      atomic_fetch_add(&w->m->webhook_dropped[1], 1);
      log_line("%s event dropped after %d attempts", it.type, attempt);
    }
    /* the head is still ours unless the queue overflowed meanwhile and dropped it */
    if (w->n && w->q[w->head].seq == it.seq) drop_head(w);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

struct lg_webhook *lg_webhook_start(const struct lg_webhook_target *t, size_t queue_max,
                                    struct lg_ns_metrics *metrics, char *why, size_t why_len) {
  struct lg_webhook *w = calloc(1, sizeof(*w));
  if (w == NULL || (w->q = calloc(queue_max, sizeof(*w->q))) == NULL ||
      (w->curl = curl_easy_init()) == NULL) {
    snprintf(why, why_len, "webhook: out of memory");
    if (w) free(w->q);
    free(w);
    return NULL;
  }
  w->t = *t;
  w->m = metrics;
  w->cap = queue_max;
  char copy[sizeof(t->headers)];
  snprintf(copy, sizeof(copy), "%s", t->headers);
  w->headers = curl_slist_append(NULL, "Content-Type: application/json");
  for (char *save = NULL, *h = strtok_r(copy, "|", &save); h; h = strtok_r(NULL, "|", &save)) {
    while (*h == ' ') h++;
    if (*h) w->headers = curl_slist_append(w->headers, h);
  }
  curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, w->headers);
  curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, (long)t->timeout_ms);
  curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)t->timeout_ms);
  curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "lorageo-webhook");
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  if (pthread_create(&w->thread, NULL, run, w) != 0) {
    snprintf(why, why_len, "webhook: cannot start its thread");
    curl_slist_free_all(w->headers);
    curl_easy_cleanup(w->curl);
    free(w->q);
    free(w);
    return NULL;
  }
  return w;
}

void lg_webhook_stop(struct lg_webhook *w) {
  if (w == NULL) return;
  pthread_mutex_lock(&w->mu);
  w->stop = true;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  if (w->n) log_line("%zu events still waiting for %s are dropped at exit", w->n, w->t.url);
  atomic_fetch_add(&w->m->webhook_dropped[0], w->n);
  while (w->n)
    drop_head(w);
  curl_slist_free_all(w->headers);
  curl_easy_cleanup(w->curl);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w->q);
  free(w);
}

void lg_webhook_post(struct lg_webhook *w, const char *type, const char *body) {
  char *copy = strdup(body);
  if (copy == NULL) return;
  pthread_mutex_lock(&w->mu);
  if (w->n == w->cap) { /* full: the oldest goes */
    drop_head(w);
    atomic_fetch_add(&w->m->webhook_dropped[0], 1);
  }
  struct item *it = &w->q[(w->head + w->n) % w->cap];
  snprintf(it->type, sizeof(it->type), "%s", type);
  it->body = copy;
  it->seq = ++w->next_seq;
  w->n++;
  atomic_store(&w->m->webhook_waiting, w->n);
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}
