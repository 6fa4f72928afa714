/*
 * Storage behind the packet path: a thread of its own writes what the packet thread
 * decided, and a cache of sessions lets the packet thread decide without waiting for it.
 *
 * The packet thread judges a frame from the cached session (counter, keys), accepts it in
 * the cache, and hands the writes (the uplink with its receptions, its location, late
 * copies, events) to the storage thread as operations of the open batch; a closed slice of
 * windows pushes its batch with the journal position up to which everything is then
 * decided. The storage thread takes every batch queued, writes them in one transaction
 * (statements prepared once and reused; several batches waiting become one commit), and
 * only then publishes their events and lets the journal's checkpoint pass them. So:
 *
 * - a PUSH_ACK still means "journalled" (the journal is untouched by this), and the
 *   checkpoint never passes a frame whose writes are not committed: after a crash the
 *   journal runs it again;
 * - the counter stays exactly-once: the storage thread writes each accepted counter with a
 *   compare-and-set in the same transaction as its uplink (lg_store_fcnt_up_advance: "only
 *   while nothing at or above it was accepted"), and drops the uplink with everything
 *   hanging on it when the compare-and-set fails (another instance got there first, or the
 *   cache was stale): counted as a replay, the cache entry re-read;
 * - the uplink's database id is not known when the packet thread moves on: later writes
 *   (locations, late copies) name the uplink by a ticket the storage thread maps to the id;
 * - MQTT events are built from the records in memory (lg_store_uplink_json_of) and go out
 *   after their commit, in order, from this thread;
 * - on PostgreSQL, where each answer waited for is a round trip, a transaction's operations
 *   are sent in one pipeline (send_all, store_pipe.c): the uplinks' ids taken beforehand, the
 *   compare-and-set in the uplink's own statement, the rows hanging on an uplink written only
 *   if it is; which uplinks were refused is read once every answer is in (settle), with the
 *   same consequences as above. SQLite answers in-process: one operation at a time (apply).
 *
 * A failed write or commit rolls the transaction back; every batch queued behind it (same
 * epoch) is discarded unwritten, and the packet thread, told at its next tick, forgets its
 * frames and sessions and runs the journal again from the checkpoint (store_failed in ns.c)
 * — the path a failed synchronous batch took before.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ns/ns_int.h"
#include "util/util.h"

enum wop_kind { W_UPLINK, W_LATE_RX, W_LOCATION, W_EVENT };

struct wop {
  struct wop *next;
  enum wop_kind kind;
  uint64_t ticket; /* W_UPLINK: its own; others: the uplink they belong to (0: none) */
  uint64_t dev_eui;
  int64_t at_ns;
  /* W_UPLINK */
  struct lg_uplink_rec *u;
  struct lg_reception_rec *rx; /* n of them (W_LATE_RX: one) */
  size_t n;
  bool exact; /* a counter reset: compare-and-set against `expected` */
  uint32_t expected;
  int gateways;
  size_t mark; /* PostgreSQL: its compare-and-set's answer, read after the pipeline */
  /* W_LOCATION */
  struct lg_location_rec l;
  /* W_EVENT */
  char type[16];
  json_t *payload;
  json_t *publish; /* what goes to io.on_event after the commit */
};

struct wbatch {
  struct wop *head, *tail;
  size_t n;
  uint64_t no, epoch, upto;
  bool advance; /* upto is where the checkpoint may go once this is committed */
  struct wbatch *next;
};

enum { TICKETS = 1 << 16 };

struct ns_writer {
  struct lg_ns *ns;
  struct lg_store *store; /* the storage thread's own connection */
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t work, done;
  struct wbatch *q_head, *q_tail; /* pushed, not yet taken */
  bool stop;
  uint64_t committed_no;   /* the last batch done (written or discarded) */
  uint64_t committed_upto; /* the checkpoint the committed batches allow */
  uint64_t ok_commits;
  bool failed;
  uint64_t failed_epoch; /* batches of this epoch and before are discarded */
  char why[256];
  uint64_t conflicts[64]; /* DevEUIs whose compare-and-set failed, for the packet thread */
  size_t n_conflicts;
  /* the packet thread's */
  struct wbatch *cur;
  uint64_t next_no, pushed_no, epoch, next_ticket;
  uint64_t written; /* the storage thread's: uplinks written in the open transaction */
  atomic_size_t backlog; /* operations pushed and not done */
  /* the storage thread's: ticket -> uplink id (-1: refused), the last TICKETS uplinks */
  struct {
    uint64_t ticket;
    int64_t id;
  } ids[TICKETS];
  int64_t *new_ids; /* the storage thread's, PostgreSQL: the open transaction's uplink ids */
  size_t new_ids_cap;
};

static void free_op(struct wop *o, bool published) {
  if (o->payload) json_decref(o->payload);
  if (o->publish && !published) json_decref(o->publish);
  free(o);
}

static void free_batch(struct wbatch *b) {
  for (struct wop *o = b->head, *next; o; o = next) {
    next = o->next;
    free_op(o, false);
  }
  free(b);
}

static int64_t ticket_id(struct ns_writer *w, uint64_t ticket) {
  if (ticket == 0) return 0;
  return w->ids[ticket % TICKETS].ticket == ticket ? w->ids[ticket % TICKETS].id : 0;
}

/* An uplink whose counter was accepted elsewhere meanwhile (another instance, or a stale
 * session): a replay, not stored; its session is read again. */
static void refused(struct ns_writer *w, struct wop *o) {
  struct lg_ns *ns = w->ns;
  atomic_fetch_add(&ns->m.dropped[LG_DROP_REPLAY], 1);
  ns_log(ns, "%016llx: FCnt %u taken meanwhile (another instance, or a stale session): "
             "not stored",
         (unsigned long long)o->dev_eui, o->u->f_cnt);
  pthread_mutex_lock(&w->mu);
  if (w->n_conflicts < sizeof(w->conflicts) / sizeof(w->conflicts[0]))
    w->conflicts[w->n_conflicts++] = o->dev_eui;
  pthread_mutex_unlock(&w->mu);
}

/* The `up` event's payload (stored; MQTT gets the uplink itself, lg_store_uplink_json_of). */
static json_t *up_payload(const struct wop *o, int64_t id) {
  return json_pack("{s:I, s:I, s:i, s:I, s:b, s:b, s:i}", "uplink_id", (json_int_t)id, "f_cnt",
                   (json_int_t)o->u->f_cnt, "f_port", o->u->f_port, "frequency",
                   (json_int_t)o->u->freq_hz, "confirmed", o->u->confirmed, "adr", o->u->adr,
                   "gateways", o->gateways);
}

/* A stored uplink: counted, and its MQTT `up` made ready for after the commit. */
static void stored(struct ns_writer *w, struct wop *o) {
  w->written++;
  if (w->ns->io.on_event != NULL) {
    o->publish = lg_store_uplink_json_of(o->u, o->rx, o->n);
    snprintf(o->type, sizeof(o->type), "up");
  }
}

/* One operation in the open transaction, each statement's answer waited for (SQLite):
 * LG_EIO fails the transaction. */
static int apply(struct ns_writer *w, struct wop *o) {
  struct lg_ns *ns = w->ns;
  bool publish = ns->io.on_event != NULL;
  switch (o->kind) {
  case W_UPLINK: {
    /* the device's last-seen in the counter's UPDATE: one write of its row, not two */
    int rc = o->exact ? lg_store_fcnt_up_cas(w->store, o->dev_eui, o->expected, o->u->f_cnt,
                                             o->u->received_ns)
                      : lg_store_fcnt_up_advance(w->store, o->dev_eui, o->u->f_cnt, o->at_ns);
    size_t slot = o->ticket % TICKETS;
    w->ids[slot].ticket = o->ticket, w->ids[slot].id = -1;
    if (rc == LG_EBUSY) return refused(w, o), 0;
    int64_t id = 0;
    if (rc) return LG_EIO;
    /* no savepoint of its own: a failure here fails the whole batch, which is run again */
    rc = lg_store_uplink_add_in_batch(w->store, o->u, o->rx, o->n, &id);
    if (rc) return LG_EIO;
    w->ids[slot].id = id;
    json_t *ev = up_payload(o, id);
    if (ev == NULL || lg_store_event_add(w->store, o->dev_eui, "up", ev, o->at_ns) != 0)
      return LG_EIO;
    stored(w, o);
    return 0;
  }
  case W_LATE_RX: {
    int64_t id = ticket_id(w, o->ticket);
    if (id <= 0) return 0; /* refused, or older than the map: nothing to attach to */
    return lg_store_reception_add(w->store, id, o->rx, true) ? LG_EIO : 0;
  }
  case W_LOCATION: {
    int64_t id = ticket_id(w, o->ticket);
    if (id < 0) return 0;
    o->l.uplink_id = id;
    return lg_store_location_add(w->store, &o->l) ? LG_EIO : 0;
  }
  case W_EVENT: {
    if (ticket_id(w, o->ticket) < 0) return 0; /* its uplink was refused */
    json_t *p = o->payload;
    o->payload = NULL;
    if (publish) o->publish = json_incref(p);
    return lg_store_event_add(w->store, o->dev_eui, o->type, p, o->at_ns) ? LG_EIO : 0;
  }
  }
  return 0;
}

static int apply_all(struct ns_writer *w, struct wbatch *list) {
  for (struct wbatch *b = list; b; b = b->next) {
    if (b->n == (size_t)-1) continue; /* discarded */
    for (struct wop *o = b->head; o; o = o->next)
      if (apply(w, o)) return LG_EIO;
  }
  return 0;
}

/* PostgreSQL: one operation sent in the pipeline, its uplink's id (W_UPLINK) taken before.
 * What apply() decides from each answer is decided by the statements themselves (an
 * uplink's rows are written only if its compare-and-set held) and, for the storage thread's
 * own records, after every answer is in (settle). */
static int send_op(struct ns_writer *w, struct wop *o, int64_t new_id) {
  struct lg_store *s = w->store;
  int64_t id = o->kind == W_UPLINK ? new_id : ticket_id(w, o->ticket);
  switch (o->kind) {
  case W_UPLINK: {
    size_t slot = o->ticket % TICKETS;
    w->ids[slot].ticket = o->ticket, w->ids[slot].id = id; /* -1 once refused */
    int64_t seen_ns = o->exact ? o->u->received_ns : o->at_ns; /* as apply()'s two paths */
    json_t *ev = up_payload(o, id);
    if (ev == NULL) return LG_ENOMEM;
    return lg_store_pipe_uplink(s, o->u, o->rx, o->n, id, o->exact, o->expected, seen_ns, ev,
                                o->at_ns, &o->mark)
               ? LG_EIO
               : 0;
  }
  case W_LATE_RX:
    if (id <= 0) return 0; /* refused, or older than the map */
    return lg_store_pipe_reception(s, id, o->rx, true) ? LG_EIO : 0;
  case W_LOCATION:
    if (id < 0) return 0;
    o->l.uplink_id = id;
    return lg_store_pipe_location(s, &o->l) ? LG_EIO : 0;
  case W_EVENT: {
    if (id < 0) return 0;
    json_t *p = o->payload;
    o->payload = NULL;
    if (w->ns->io.on_event != NULL) o->publish = json_incref(p); /* withdrawn if refused */
    return lg_store_pipe_event(s, o->dev_eui, o->type, p, o->at_ns, id) ? LG_EIO : 0;
  }
  }
  return 0;
}

/* After the pipeline's answers: each uplink stored or refused, as apply() decides at once. */
static void settle(struct ns_writer *w, struct wop *o) {
  if (o->kind == W_UPLINK) {
    if (lg_store_pipe_stored(w->store, o->mark)) {
      stored(w, o);
      return;
    }
    size_t slot = o->ticket % TICKETS;
    if (w->ids[slot].ticket == o->ticket) w->ids[slot].id = -1;
    refused(w, o);
  } else if (o->kind == W_EVENT && o->publish && ticket_id(w, o->ticket) < 0) {
    json_decref(o->publish); /* its uplink was refused: not written, not announced */
    o->publish = NULL;
  }
}

static int send_all(struct ns_writer *w, struct wbatch *list) {
  size_t n = 0, k = 0;
  for (struct wbatch *b = list; b; b = b->next)
    for (struct wop *o = b->head; b->n != (size_t)-1 && o; o = o->next)
      n += o->kind == W_UPLINK;
  if (n > w->new_ids_cap) {
    int64_t *ids = realloc(w->new_ids, n * sizeof(*ids));
    if (ids == NULL) return LG_ENOMEM;
    w->new_ids = ids, w->new_ids_cap = n;
  }
  if (lg_store_uplink_ids(w->store, n, w->new_ids) || lg_store_pipe_begin(w->store))
    return LG_EIO;
  int rc = 0;
  for (struct wbatch *b = list; rc == 0 && b; b = b->next)
    for (struct wop *o = b->head; rc == 0 && b->n != (size_t)-1 && o; o = o->next)
      rc = send_op(w, o, o->kind == W_UPLINK ? w->new_ids[k++] : 0);
  if (lg_store_pipe_end(w->store) || rc) return LG_EIO; /* ended either way */
  for (struct wbatch *b = list; b; b = b->next)
    for (struct wop *o = b->head; b->n != (size_t)-1 && o; o = o->next)
      settle(w, o);
  return 0;
}

static void *run(void *arg) {
  struct ns_writer *w = arg;
  struct lg_ns *ns = w->ns;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (w->q_head == NULL && !w->stop)
      pthread_cond_wait(&w->work, &w->mu);
    if (w->q_head == NULL) break;
    struct wbatch *list = w->q_head;
    w->q_head = w->q_tail = NULL;
    /* Batches of an epoch that failed are discarded unwritten — also those taken after the
     * packet thread heard of the failure: their frames were judged by counters that counted
     * the failed batch's frames, which the journal runs again. */
    uint64_t failed_epoch = w->failed_epoch;
    pthread_mutex_unlock(&w->mu);

    uint64_t last_no = 0, upto = 0;
    bool advance = false, ok = true, any = false;
    size_t ops = 0;
    for (struct wbatch *b = list; b; b = b->next) {
      last_no = b->no;
      ops += b->n;
      if (b->epoch <= failed_epoch) b->n = (size_t)-1; /* discarded */
      else any = true;
    }
    w->written = 0;
    if (any) {
      ok = lg_store_begin(w->store) == 0 &&
           (lg_store_pipelined(w->store) ? send_all(w, list) : apply_all(w, list)) == 0;
      for (struct wbatch *b = list; b; b = b->next)
        if (b->n != (size_t)-1 && b->advance) advance = true, upto = b->upto;
      if (ok) {
        ok = lg_store_commit(w->store) == 0;
        /* lorageo_uplinks_total counts uplinks stored, as it did when they were written
         * on the packet thread (a test or a dashboard reading the API after it finds them) */
        if (ok) atomic_fetch_add(&ns->m.uplinks, w->written);
      } else if (lg_store_rollback(w->store) != 0) {
        ns_log(ns, "storage: rolling back failed: %s", lg_store_errmsg(w->store));
      }
    }
    char why[256] = "";
    if (!ok) {
      atomic_fetch_add(&ns->m.store_errors, 1);
      snprintf(why, sizeof(why), "%s", lg_store_errmsg(w->store));
    }
    /* The events of what was committed, in order; a refused batch's announce nothing. */
    void *ctx = ns->io.event_ctx ? ns->io.event_ctx : ns->io.ctx;
    for (struct wbatch *b = list, *next; b; b = next) {
      next = b->next;
      for (struct wop *o = b->head, *on; o; o = on) {
        on = o->next;
        bool out = ok && b->n != (size_t)-1 && o->publish;
        if (out) ns->io.on_event(ctx, o->dev_eui, o->type, o->publish);
        free_op(o, out);
      }
      b->head = NULL;
      free(b);
    }
    pthread_mutex_lock(&w->mu);
    w->committed_no = last_no;
    if (ok && any) {
      w->ok_commits++;
      if (advance) w->committed_upto = upto;
    } else if (!ok && !w->failed) {
      w->failed = true;
      w->failed_epoch = w->epoch; /* every batch pushed so far */
      snprintf(w->why, sizeof(w->why), "%s", why);
    }
    atomic_fetch_sub(&w->backlog, ops);
    pthread_cond_broadcast(&w->done);
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

int ns_writer_open(struct lg_ns *ns, uint64_t checkpoint, char *why, size_t why_len) {
  struct ns_writer *w = calloc(1, sizeof(*w));
  if (w == NULL) return snprintf(why, why_len, "out of memory"), LG_ENOMEM;
  w->ns = ns;
  w->epoch = 1; /* failed_epoch 0: nothing discarded */
  w->committed_upto = checkpoint;
  if (lg_store_open(&w->store, ns->cfg.database, why, why_len) != 0) {
    free(w);
    return LG_EIO;
  }
  lg_store_share_kek(w->store, ns->store); /* it wraps keys as the server's connection does */
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->work, NULL);
  pthread_cond_init(&w->done, NULL);
  if (pthread_create(&w->th, NULL, run, w) != 0) {
    lg_store_close(w->store);
    free(w);
    return snprintf(why, why_len, "cannot start the storage thread"), LG_EIO;
  }
  ns->writer = w;
  return 0;
}

void ns_writer_close(struct lg_ns *ns) {
  struct ns_writer *w = ns->writer;
  if (w == NULL) return;
  ns_writer_push(ns, false, 0); /* what is left is written before the thread ends */
  pthread_mutex_lock(&w->mu);
  w->stop = true;
  pthread_cond_signal(&w->work);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->th, NULL);
  lg_store_close(w->store);
  free(w->new_ids);
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->work);
  pthread_cond_destroy(&w->done);
  ns->writer = NULL;
  free(w);
}

static struct wbatch *cur(struct ns_writer *w) {
  if (w->cur == NULL && (w->cur = calloc(1, sizeof(*w->cur))) != NULL) {
    w->cur->no = ++w->next_no;
    w->cur->epoch = w->epoch;
  }
  return w->cur;
}

uint64_t ns_writer_batch_no(struct lg_ns *ns) {
  struct wbatch *b = cur(ns->writer);
  return b ? b->no : ns->writer->next_no;
}

static struct wop *op(struct lg_ns *ns, enum wop_kind kind, size_t extra) {
  struct wbatch *b = cur(ns->writer);
  struct wop *o = b ? calloc(1, sizeof(*o) + extra) : NULL;
  if (o == NULL) {
    ns_store_error(ns, "queueing a write (out of memory)");
    return NULL;
  }
  o->kind = kind;
  if (b->tail) b->tail->next = o;
  else b->head = o;
  b->tail = o;
  b->n++;
  return o;
}

void ns_writer_push(struct lg_ns *ns, bool advance, uint64_t upto) {
  struct ns_writer *w = ns->writer;
  struct wbatch *b = w->cur;
  if (b == NULL && advance) b = cur(w);
  if (b == NULL) return;
  w->cur = NULL;
  b->advance = advance, b->upto = upto;
  w->pushed_no = b->no;
  atomic_fetch_add(&w->backlog, b->n);
  pthread_mutex_lock(&w->mu);
  if (w->q_tail) w->q_tail->next = b;
  else w->q_head = b;
  w->q_tail = b;
  pthread_cond_signal(&w->work);
  pthread_mutex_unlock(&w->mu);
}

void ns_writer_abort(struct lg_ns *ns) {
  struct ns_writer *w = ns->writer;
  if (w && w->cur) {
    free_batch(w->cur);
    w->cur = NULL;
  }
}

bool ns_writer_wait(struct lg_ns *ns) {
  struct ns_writer *w = ns->writer;
  ns_writer_push(ns, false, 0);
  pthread_mutex_lock(&w->mu);
  while (w->committed_no < w->pushed_no)
    pthread_cond_wait(&w->done, &w->mu);
  bool ok = !w->failed;
  pthread_mutex_unlock(&w->mu);
  return ok;
}

size_t ns_writer_backlog(struct lg_ns *ns) {
  return atomic_load(&ns->writer->backlog);
}

bool ns_writer_upto(struct lg_ns *ns, uint64_t *upto) {
  struct ns_writer *w = ns->writer;
  pthread_mutex_lock(&w->mu);
  /* A failed batch is done but not stored: until the packet thread has heard of it (and
   * stopped advancing the checkpoint), the checkpoint stays at what was committed. */
  bool idle = !w->failed && w->committed_no >= w->pushed_no && (w->cur == NULL || w->cur->n == 0);
  if (!idle) *upto = w->committed_upto < *upto ? w->committed_upto : *upto;
  pthread_mutex_unlock(&w->mu);
  return idle;
}

uint64_t ns_writer_committed(struct lg_ns *ns) {
  struct ns_writer *w = ns->writer;
  pthread_mutex_lock(&w->mu);
  uint64_t no = w->committed_no;
  pthread_mutex_unlock(&w->mu);
  return no;
}

int ns_writer_poll(struct lg_ns *ns, char *why, size_t why_len, uint64_t *ok_commits,
                   uint64_t *conflicts, size_t *n_conflicts) {
  struct ns_writer *w = ns->writer;
  pthread_mutex_lock(&w->mu);
  int failed = w->failed;
  if (failed) {
    snprintf(why, why_len, "%s", w->why);
    w->failed = false;
    w->epoch++; /* what comes after starts afresh (the failed epoch is discarded) */
  }
  *ok_commits = w->ok_commits;
  memcpy(conflicts, w->conflicts, w->n_conflicts * sizeof(*conflicts));
  *n_conflicts = w->n_conflicts;
  w->n_conflicts = 0;
  pthread_mutex_unlock(&w->mu);
  if (failed) ns_writer_abort(ns); /* the open batch belongs to the failed epoch too */
  return failed;
}

uint64_t ns_write_uplink(struct lg_ns *ns, const struct lg_uplink_rec *u,
                         const struct lg_reception_rec *rx, size_t n, bool exact,
                         uint32_t expected, int gateways) {
  struct wop *o = op(ns, W_UPLINK, sizeof(*u) + n * sizeof(*rx));
  if (o == NULL) return 0;
  o->u = (struct lg_uplink_rec *)(o + 1);
  o->rx = (struct lg_reception_rec *)(o->u + 1);
  memcpy(o->u, u, sizeof(*u));
  memcpy(o->rx, rx, n * sizeof(*rx));
  o->n = n;
  o->exact = exact, o->expected = expected, o->gateways = gateways;
  o->dev_eui = u->dev_eui;
  o->at_ns = ns_now(ns);
  o->ticket = ++ns->writer->next_ticket;
  return o->ticket;
}

void ns_write_late_rx(struct lg_ns *ns, uint64_t ticket, const struct lg_reception_rec *r) {
  struct wop *o = op(ns, W_LATE_RX, sizeof(*r));
  if (o == NULL) return;
  o->rx = (struct lg_reception_rec *)(o + 1);
  memcpy(o->rx, r, sizeof(*r));
  o->n = 1;
  o->ticket = ticket;
}

void ns_write_location(struct lg_ns *ns, uint64_t ticket, const struct lg_location_rec *l) {
  struct wop *o = op(ns, W_LOCATION, 0);
  if (o == NULL) return;
  o->l = *l;
  o->ticket = ticket;
}

void ns_write_event(struct lg_ns *ns, uint64_t ticket, uint64_t dev_eui, const char *type,
                    json_t *payload) {
  struct wop *o = op(ns, W_EVENT, 0);
  if (o == NULL) {
    json_decref(payload);
    return;
  }
  o->ticket = ticket;
  o->dev_eui = dev_eui;
  o->at_ns = ns_now(ns);
  snprintf(o->type, sizeof(o->type), "%s", type);
  o->payload = payload;
}

/* ---- the sessions, cached for the packet thread -------------------------------------- */

/* A cached entry is used as is while writes of its counters are queued (the store does not
 * have them yet: the cache is the truth), else for SESSION_TTL_NS after it was read while
 * no device was written (lg_store_devices_generation): a device changed by the API is seen
 * at its next frame, one changed by another process (another instance, `lorageo
 * provision`) within a second; a counter moved by another instance meanwhile is caught by
 * the storage thread's compare-and-set. */
#define SESSION_TTL_NS 1000000000LL
enum { SESSIONS_MAX = 65536, SESSION_DEVS = 8 };

struct ns_session {
  uint32_t dev_addr;
  size_t n;
  int64_t loaded_ns;
  unsigned gen;
  uint64_t inflight; /* the writer batch whose commit brings the store up to this entry */
  unsigned queue_gen[SESSION_DEVS]; /* 1 + the queue generation its queue was seen empty at */
  UT_hash_handle hh; /* insertion order = the order they were read: the oldest go first */
  struct lg_device_rec dev[]; /* n of them (most DevAddrs have one session) */
};

static void session_drop(struct lg_ns *ns, struct ns_session *s) {
  HASH_DEL(ns->sessions, s);
  free(s);
}

int ns_sessions_by_addr(struct lg_ns *ns, uint32_t dev_addr, struct lg_device_rec *out, size_t cap,
                        size_t *n) {
  if (ns->writer == NULL) return lg_store_devices_by_addr(ns->store, dev_addr, out, cap, n);
  struct ns_session *s = NULL;
  HASH_FIND(hh, ns->sessions, &dev_addr, sizeof(dev_addr), s);
  int64_t now = ns->io.now_ns(ns->io.ctx);
  unsigned gen = lg_store_devices_generation();
  bool busy = s && s->inflight > ns_writer_committed(ns);
  if (s && !(busy || (s->gen == gen && now - s->loaded_ns < SESSION_TTL_NS))) {
    session_drop(ns, s);
    s = NULL;
  }
  if (s == NULL) {
    struct lg_device_rec d[SESSION_DEVS];
    size_t k = 0;
    int rc = lg_store_devices_by_addr(ns->store, dev_addr, d, SESSION_DEVS, &k);
    if (rc) return rc;
    if (k == 0) return *n = 0, 0; /* unknown DevAddrs are not remembered: floods */
    if ((s = calloc(1, sizeof(*s) + k * sizeof(*d))) == NULL)
      return *n = k < cap ? k : cap, memcpy(out, d, *n * sizeof(*d)), 0;
    s->dev_addr = dev_addr;
    s->n = k;
    memcpy(s->dev, d, k * sizeof(*d));
    s->loaded_ns = now;
    s->gen = gen;
    HASH_ADD(hh, ns->sessions, dev_addr, sizeof(s->dev_addr), s);
    if (HASH_COUNT(ns->sessions) > SESSIONS_MAX) { /* the oldest read, unless still written */
      uint64_t done = ns_writer_committed(ns);
      struct ns_session *e, *tmp;
      int looked = 0;
      HASH_ITER(hh, ns->sessions, e, tmp) {
        if (HASH_COUNT(ns->sessions) <= SESSIONS_MAX || ++looked > 64) break;
        if (e != s && e->inflight <= done) session_drop(ns, e);
      }
    }
  }
  *n = s->n < cap ? s->n : cap;
  memcpy(out, s->dev, *n * sizeof(*out));
  return 0;
}

static struct lg_device_rec *session_dev(struct lg_ns *ns, uint32_t dev_addr, uint64_t dev_eui,
                                         struct ns_session **sp) {
  struct ns_session *s = NULL;
  HASH_FIND(hh, ns->sessions, &dev_addr, sizeof(dev_addr), s);
  for (size_t i = 0; s && i < s->n; i++)
    if (s->dev[i].dev_eui == dev_eui) return *sp = s, &s->dev[i];
  return NULL;
}

void ns_session_accepted(struct lg_ns *ns, uint32_t dev_addr, uint64_t dev_eui, uint32_t f_cnt) {
  struct ns_session *s;
  struct lg_device_rec *d = session_dev(ns, dev_addr, dev_eui, &s);
  if (d == NULL) return;
  d->fcnt_up_next = f_cnt + 1;
  s->inflight = ns_writer_batch_no(ns);
}

void ns_session_stale(struct lg_ns *ns, uint64_t dev_eui) {
  struct ns_session *s, *tmp;
  HASH_ITER(hh, ns->sessions, s, tmp) {
    for (size_t i = 0; i < s->n; i++)
      if (s->dev[i].dev_eui == dev_eui) s->loaded_ns = INT64_MIN / 2; /* read again when idle */
  }
}

void ns_sessions_clear(struct lg_ns *ns) {
  struct ns_session *s, *tmp;
  HASH_ITER(hh, ns->sessions, s, tmp) session_drop(ns, s);
}

bool ns_session_queue_empty(struct lg_ns *ns, uint32_t dev_addr, uint64_t dev_eui) {
  struct ns_session *s;
  if (ns->writer == NULL || session_dev(ns, dev_addr, dev_eui, &s) == NULL) return false;
  struct lg_device_rec *d = session_dev(ns, dev_addr, dev_eui, &s);
  return s->queue_gen[d - s->dev] == lg_store_queue_generation() + 1;
}

void ns_session_queue_seen_empty(struct lg_ns *ns, uint32_t dev_addr, uint64_t dev_eui,
                                 unsigned queue_gen) {
  struct ns_session *s;
  struct lg_device_rec *d = ns->writer ? session_dev(ns, dev_addr, dev_eui, &s) : NULL;
  if (d) s->queue_gen[d - s->dev] = queue_gen + 1;
}
