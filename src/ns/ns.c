/*
 * The packet path's entry: datagrams from gateways, de-duplication, the journal's
 * recovery and the ticks. It calls the stages (uplink.c, downlink.c, classc.c, nack.c,
 * fleet.c, behind.c, cluster.c) and they call helpers (base.c, gateways.c, learned.c),
 * never back up here: a one-way chain. A frame is its PHYPayload + frequency + data
 * rate; copies are collected for dedup_window_ms from the first, then processed once
 * with every reception (uplink.c). The set is kept for late_horizon_ms more, so copies
 * from gateways on slow backhaul are still attached to the stored uplink and offered to
 * the geolocation engine — without a second MAC or integration pass.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ns/cluster.h"
#include "ns/journal.h"
#include "ns/ns_int.h"
#include "util/util.h"

struct lg_ns *lg_ns_new(const struct lg_config *cfg, struct lg_store *store,
                        const struct lg_ns_io *io, char *why, size_t why_len) {
  struct lg_ns *ns = calloc(1, sizeof(*ns));
  if (ns == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&ns->links.mu, NULL);
  ns->m.links = &ns->links;
  ns->cfg = *cfg;
  ns->store = store;
  ns->io = *io;
  ns->region = lg_region_find(cfg->region);
  ns->solver = lg_geo_solver_new();
  ns->rng = (uint64_t)ns_now(ns) | 1;
  ns->next_token = (uint16_t)ns_random(ns);
  if (ns->region == NULL || ns->solver == NULL || lg_crypto_init(&ns->crypto) != 0) {
    snprintf(why, why_len, "cannot set up the server (region, solver or crypto)");
    lg_ns_free(ns);
    return NULL;
  }
  ns->pathloss = lg_pathloss_default();
  if (cfg->geo_calibration[0]) {
    char reason[256];
    if ((ns->cal = malloc(sizeof(*ns->cal))) == NULL ||
        lg_calibration_load(cfg->geo_calibration, ns->cal, reason, sizeof(reason)) != 0) {
      snprintf(why, why_len, "[geo] calibration: %s", ns->cal ? reason : "out of memory");
      lg_ns_free(ns);
      return NULL;
    }
    if (ns->cal->has_path_loss) ns->pathloss = ns->cal->path_loss;
    ns_log(ns, "calibration %s: %zu gateway offsets%s%s", cfg->geo_calibration, ns->cal->n,
           ns->cal->has_path_loss ? ", path-loss model" : "",
           ns->cal->radio_map ? ", radio map" : "");
  }
  if (ns_open_live(ns, cfg, why, why_len) != 0 || ns_open_links(ns, cfg, why, why_len) != 0) {
    lg_ns_free(ns);
    return NULL;
  }
  if (cfg->journal[0]) {
    struct lg_journal_opts jo = {.dir = cfg->journal,
                                 .segment_bytes = (int64_t)cfg->journal_segment_mb << 20,
                                 .retention_ns = cfg->journal_retention_ns,
                                 .retention_bytes = cfg->journal_retention_bytes};
    if (lg_journal_open(&ns->journal, &jo, why, why_len) != 0) {
      lg_ns_free(ns);
      return NULL;
    }
    ns->seq = lg_journal_last_seq(ns->journal);
  }
  if (cfg->cluster_redis[0]) {
    if (ns_cluster_open(&ns->cluster, cfg->cluster_redis, ns_random(ns), why, why_len) != 0) {
      lg_ns_free(ns);
      return NULL;
    }
    ns_log(ns, "cluster: sharing frames with the other instances through %s", cfg->cluster_redis);
  }
  if (ns_fleet_open(ns, why, why_len) != 0) { /* alarms and configuration shadow */
    lg_ns_free(ns);
    return NULL;
  }
  /* Storage behind the packet path (behind.c) needs a second connection to the same
   * database (not ":memory:", which is one per connection). In a cluster the frames' owners
   * publish the stored uplink's id through Redis right after the commit, so storage stays
   * on this thread there. LORAGEO_STORE_THREAD=0 keeps it here too (to compare). */
  const char *st_env = getenv("LORAGEO_STORE_THREAD");
  if (!ns->cluster && strcmp(cfg->database, ":memory:") != 0 && cfg->database[0] &&
      !(st_env && strcmp(st_env, "0") == 0) &&
      ns_writer_open(ns, ns->journal ? lg_journal_checkpoint(ns->journal) : 0, why, why_len) != 0) {
    lg_ns_free(ns);
    return NULL;
  }
  return ns;
}

void lg_ns_free(struct lg_ns *ns) {
  if (ns == NULL) return;
  ns_writer_close(ns);
  ns_fleet_close(ns);
  ns_sessions_clear(ns);
  ns_cluster_close(ns->cluster);
  lg_journal_reader_close(ns->catchup);
  lg_journal_close(ns->journal);
  struct ns_gateway *g, *gt;
  HASH_ITER(hh, ns->gateways, g, gt) {
    HASH_DEL(ns->gateways, g);
    if (g->dc) lg_dc_free(g->dc);
    free(g->dc);
    free(g);
  }
  struct ns_frame *f, *ft;
  HASH_ITER(hh, ns->frames, f, ft) {
    HASH_DEL(ns->frames, f);
    ns_frame_reset_rx(f);
    free(f);
  }
  while ((f = ns->free_frames) != NULL) {
    ns->free_frames = f->next_free;
    free(f);
  }
  struct ns_pending *p, *pt;
  HASH_ITER(hh, ns->pending, p, pt) {
    HASH_DEL(ns->pending, p);
    free(p);
  }
  ns_nack_free(ns);
  struct ns_acked *a, *at;
  HASH_ITER(hh, ns->acked, a, at) {
    HASH_DEL(ns->acked, a);
    free(a);
  }
  struct ns_txparam *x, *xt;
  HASH_ITER(hh, ns->txparam, x, xt) {
    HASH_DEL(ns->txparam, x);
    free(x);
  }
  struct ns_key *k, *kt;
  HASH_ITER(hh, ns->keys, k, kt) {
    HASH_DEL(ns->keys, k);
    lg_key_close(&k->key);
    free(k);
  }
  for (size_t i = 0; i < ns->n_events; i++)
    json_decref(ns->events[i].payload);
  free(ns->events);
  if (ns->live) lg_geo_live_wait_idle(ns->live); /* a queued rebuild's map in the file */
  ns_save_live(ns, false); /* when changed: both files, written here */
  ns_save_links(ns, false); /* after the last periodic save, if one runs */
  ns_links_wait(ns);
  lg_linkmap_free(ns->links.map);
  pthread_mutex_destroy(&ns->links.mu);
  lg_geo_live_free(ns->live);
  lg_geo_solver_free(ns->solver);
  lg_calibration_close(ns->cal);
  free(ns->cal);
  lg_crypto_close(&ns->crypto);
  free(ns);
}

struct lg_ns_metrics *lg_ns_metrics(struct lg_ns *ns) {
  return &ns->m;
}

/* Frames are large (room for 64 receptions) and come and go at the uplink rate: a free
 * list keeps their pages mapped instead of faulting fresh ones in for every frame. */
#define FREE_FRAMES_MAX 4096

bool ns_frame_add_rx(struct ns_frame *f, const struct ns_rx *rx) {
  if (f->n == f->cap) { /* doubled, up to LG_GEO_MAX_RX */
    if (f->cap >= LG_GEO_MAX_RX) return false;
    size_t cap = 2 * f->cap < LG_GEO_MAX_RX ? 2 * f->cap : LG_GEO_MAX_RX;
    struct ns_rx *big = f->rx == f->rx_inline ? malloc(cap * sizeof(*big))
                                              : realloc(f->rx, cap * sizeof(*big));
    if (big == NULL) return false;
    if (f->rx == f->rx_inline) memcpy(big, f->rx, f->n * sizeof(*big));
    f->rx = big;
    f->cap = cap;
  }
  f->rx[f->n++] = *rx;
  return true;
}

void ns_frame_reset_rx(struct ns_frame *f) {
  if (f->rx != f->rx_inline) free(f->rx);
  f->rx = f->rx_inline;
  f->cap = NS_RX_INLINE;
  f->n = 0;
}

static struct ns_frame *frame_alloc(struct lg_ns *ns) {
  struct ns_frame *f = ns->free_frames;
  if (f) {
    ns->free_frames = f->next_free;
    ns->n_free--;
    return f;
  }
  if ((f = malloc(sizeof(*f))) == NULL) return NULL;
  f->rx = f->rx_inline;
  f->cap = NS_RX_INLINE;
  f->n = 0;
  return f;
}

static void frame_free(struct lg_ns *ns, struct ns_frame *f) {
  ns_frame_reset_rx(f);
  if (ns->n_free >= FREE_FRAMES_MAX) {
    free(f);
    return;
  }
  f->next_free = ns->free_frames;
  ns->free_frames = f;
  ns->n_free++;
}

/* How long the cluster's keys of a frame live: its window, its late horizon, and time for a
 * survivor to notice that its owner died and pick it up (cluster.c: 3 s of silence). */
static int cluster_ttl_ms(const struct lg_ns *ns) {
  return 2 * (ns->cfg.dedup_window_ms + ns->cfg.late_horizon_ms) + 10000;
}

/* Redis came and went: said once each way. */
static void cluster_state(struct lg_ns *ns, bool ok) {
  if (ok == !ns->cluster_down) return;
  ns->cluster_down = !ok;
  ns_log(ns, ok ? "cluster: Redis is back"
                : "cluster: Redis unreachable; frames are processed "
                  "by the instance that received them");
}

/* A copy for Redis at the batch's end, kept with the frame's others (for its owner, or for
 * whoever picks the frame up if the owner dies). */
static void share_copy(struct lg_ns *ns, struct ns_frame *f, const struct ns_rx *rx, bool first) {
  if (ns->n_shared == NS_SHARED_MAX) lg_ns_flush(ns);
  ns->shared[ns->n_shared++] = (struct ns_shared){f, first, *rx};
}

/* The journal's group commit: one fdatasync for the datagrams of a batch. */
static int journal_sync(struct lg_ns *ns, bool wait) {
  if (!ns->journal) return 0;
  if ((wait ? lg_journal_sync(ns->journal) : lg_journal_sync_request(ns->journal)) == 0) return 0;
  atomic_fetch_add(&ns->m.journal_errors, 1);
  uint64_t n = atomic_load(&ns->m.journal_errors);
  if (n <= 10 || n % 1000 == 0)
    ns_log(ns, "journal %s: writing failed (#%llu): these datagrams are not acknowledged",
           lg_journal_dir(ns->journal), (unsigned long long)n);
  return LG_EIO;
}

int lg_ns_journal_async(struct lg_ns *ns, void (*notify)(void *ctx), void *ctx) {
  if (!ns->journal) return 0;
  if (notify == NULL) {
    lg_journal_syncer_stop(ns->journal);
    return 0;
  }
  return lg_journal_syncer_start(ns->journal, notify, ctx);
}

uint64_t lg_ns_journal_seq(const struct lg_ns *ns) {
  return ns->seq;
}

uint64_t lg_ns_journal_synced(const struct lg_ns *ns) {
  return ns->journal ? lg_journal_synced(ns->journal) : UINT64_MAX;
}

void lg_ns_journal_failed(const struct lg_ns *ns, uint64_t *from, uint64_t *to) {
  *from = *to = 0;
  if (ns->journal) lg_journal_sync_failed(ns->journal, from, to);
}

static int flush_batch(struct lg_ns *ns, bool wait);

int lg_ns_flush(struct lg_ns *ns) {
  return flush_batch(ns, true);
}

int lg_ns_flush_request(struct lg_ns *ns) {
  return flush_batch(ns, false);
}

static int flush_batch(struct lg_ns *ns, bool wait) {
  int rc = journal_sync(ns, wait);
  if (ns->n_shared == 0) return rc;
  struct ns_cluster_copy q[NS_SHARED_MAX];
  size_t n = ns->n_shared;
  for (size_t i = 0; i < n; i++) {
    struct ns_frame *f = ns->shared[i].f;
    q[i] = (struct ns_cluster_copy){.key = f->key, .key_len = f->key_len, .rx = &ns->shared[i].rx};
  }
  cluster_state(ns, ns_cluster_copies(ns->cluster, q, n, cluster_ttl_ms(ns)));
  for (size_t i = 0; i < n; i++) {
    struct ns_shared *s = &ns->shared[i];
    if (s->first) s->f->remote = !q[i].mine; /* the first to hand one in owns it */
    if (!q[i].mine && q[i].uplink_id > 0) {  /* the owner stored it already: a late copy */
      atomic_fetch_add(&ns->m.late_copies, 1);
      ns_attach_copy(ns, q[i].uplink_id, s->f->first_ns, &s->rx);
    }
  }
  ns->n_shared = 0;
  return rc;
}

/* Whether gateway `eui` gave `f` a reception in another datagram already: then this is a
 * second copy from it (a replayed datagram, a forwarder sending twice, or a device repeating
 * the frame on the same channel), not a reception of its own. Two receptions in one
 * datagram (two RF chains of one gateway) are both kept. */
static bool same_gateway_again(const struct lg_ns *ns, const struct ns_frame *f, uint64_t eui) {
  for (size_t i = 0; i < f->n; i++)
    if (f->rx[i].gateway_eui == eui && f->rx[i].seq != ns->seq) return true;
  return false;
}

/* Forgets the oldest frame (processed: its late horizon is cut short). */
static void forget_oldest(struct lg_ns *ns) {
  struct ns_frame *f = ns->oldest;
  ns->oldest = f->next;
  if (ns->oldest == NULL) ns->newest = NULL;
  HASH_DEL(ns->frames, f);
  ns->n_frames--;
  frame_free(ns, f);
}

/* Room for a new frame under max_open_frames. Past half of it, a new frame must show it is
 * worth keeping (a known device's session whose key verifies it); at the cap, a stored
 * frame's late horizon gives way first, then new frames are refused. Returns false (with
 * the reason counted) when the frame is shed. */
static bool admit_frame(struct lg_ns *ns, const struct lg_gw_rxpk *r) {
  size_t cap = (size_t)ns->cfg.max_open_frames;
  size_t open = (size_t)atomic_load(&ns->m.open_windows);
  if (open >= cap / 2 && !ns->replaying) {
    enum lg_shed why;
    if (!ns_frame_worth(ns, r, &why)) {
      atomic_fetch_add(&ns->m.shed[why], 1);
      return false;
    }
  }
  while (ns->n_frames >= cap && ns->oldest && ns->oldest->processed && ns->oldest != ns->closing) {
    forget_oldest(ns);
    atomic_fetch_add(&ns->m.shed[LG_SHED_LATE_HORIZON], 1);
  }
  if (ns->n_frames < cap) return true;
  atomic_fetch_add(&ns->m.shed[LG_SHED_OPEN_FRAMES], 1);
  return false;
}

static void add_reception(struct lg_ns *ns, struct ns_gateway *g, const struct lg_gw_rxpk *r) {
  /* The frame's identity: frequency, data rate and PHYPayload. */
  uint8_t key[sizeof(((struct ns_frame *)0)->key)];
  lg_put_le32(key, r->freq_hz);
  lg_put_le32(key + 4, (uint32_t)(r->sf << 24) | r->bw_hz | (r->mod == LG_GW_MOD_FSK ? 1u : 0u));
  memcpy(key + 8, r->data, r->size);
  size_t key_len = 8 + r->size;
  int64_t now = ns_now(ns);
  atomic_fetch_add(&ns->m.receptions, 1);
  ns_fleet_gateway_rx(ns, g->eui, false, false); /* a gateway silent: an alarm (fleet.c) */

  struct ns_frame *f;
  HASH_FIND(hh, ns->frames, key, key_len, f);
  struct ns_rx rx = {.gateway_eui = g->eui, .seq = ns->seq, .rxpk = *r, .received_ns = now};
  if (f != NULL && f->remote) {
    atomic_fetch_add(&ns->m.duplicates, 1);
    share_copy(ns, f, &rx, false);
    return;
  }
  if (f != NULL && same_gateway_again(ns, f, g->eui)) {
    atomic_fetch_add(&ns->m.dup_same_gateway, 1);
    return;
  }
  if (f != NULL && f->processed) {
    ns_frame_add_rx(f, &rx);
    atomic_fetch_add(&ns->m.late_copies, 1);
    ns_late_copy(ns, f, &rx);
    return;
  }
  if (f != NULL) {
    ns_frame_add_rx(f, &rx);
    atomic_fetch_add(&ns->m.duplicates, 1);
    if (ns->cluster) share_copy(ns, f, &rx, false);
    return;
  }
  if (!admit_frame(ns, r)) return;
  if ((f = frame_alloc(ns)) == NULL) return;
  memcpy(f->key, key, key_len);
  f->key_len = key_len;
  f->processed = false;
  f->remote = false;
  f->recovered = false;
  f->from_journal = ns->replaying;
  f->first_seq = ns->seq;
  f->taken = 0;
  f->uplink_id = 0;
  f->ticket = 0;
  f->dev_eui = 0;
  f->f_cnt = 0;
  f->first_ns = now;
  f->deadline_ns = now + (int64_t)ns->cfg.dedup_window_ms * 1000000;
  f->forget_ns = f->deadline_ns + (int64_t)ns->cfg.late_horizon_ms * 1000000;
  ns_frame_reset_rx(f);
  ns_frame_add_rx(f, &rx);
  HASH_ADD(hh, ns->frames, key, f->key_len, f);
  ns->n_frames++;
  f->next = NULL;
  if (ns->newest)
    ns->newest->next = f;
  else
    ns->oldest = f;
  ns->newest = f;
  if (ns->next_due == NULL) ns->next_due = f;
  atomic_fetch_add(&ns->m.open_windows, 1);
  if (ns->cluster) share_copy(ns, f, &rx, true);
}

/* The owner, before processing: the copies the other instances handed in join its own. */
static void cluster_collect(struct lg_ns *ns, struct ns_frame *f) {
  struct ns_rx got[LG_GEO_MAX_RX];
  size_t n = ns_cluster_collect_read(ns->cluster, false, got, LG_GEO_MAX_RX, &f->taken);
  for (size_t i = 0; i < n; i++)
    ns_frame_add_rx(f, &got[i]);
}

/* The owner, after committing (a frame closed in Redis is a frame stored): the stored
 * uplink was published (ns_cluster_done_ask); copies handed in meanwhile are late. */
static void cluster_done(struct lg_ns *ns, struct ns_frame *f) {
  struct ns_rx late[LG_GEO_MAX_RX];
  size_t n = ns_cluster_done_read(ns->cluster, late, LG_GEO_MAX_RX);
  for (size_t i = 0; i < n; i++) {
    ns_frame_add_rx(f, &late[i]);
    atomic_fetch_add(&ns->m.late_copies, 1);
    ns_late_copy(ns, f, &late[i]);
  }
}

/* Whether a reception's radio settings are the region's (issue 16: a frame at 100 MHz is
 * no LoRaWAN uplink here): the frequency one of a fixed plan's uplink channels (US915,
 * AU915, CN470) or inside the band's edges (EU868 863-870 MHz ...), and (SF, bandwidth)
 * one of its uplink data rates. Dropped with the reason. */
static bool radio_ok(struct lg_ns *ns, const struct ns_gateway *g, const struct lg_gw_rxpk *r) {
  const struct lg_region *reg = ns->region;
  bool freq_ok = lg_region_uplink_freq_ok(reg, r->freq_hz);
  if (!freq_ok) {
    ns_drop(ns, LG_DROP_FREQUENCY, "gateway %016llx: %.6f MHz is no %s uplink frequency",
            (unsigned long long)g->eui, r->freq_hz / 1e6, reg->name);
    return false;
  }
  int dr = 0;
  if (lg_region_dr_for(reg, r->sf, r->bw_hz, true, &dr) != 0) {
    ns_drop(ns, LG_DROP_DATA_RATE, "gateway %016llx: SF%d BW%u kHz is no %s uplink data rate",
            (unsigned long long)g->eui, r->sf, r->bw_hz / 1000, reg->name);
    return false;
  }
  return true;
}

static void push_data(struct lg_ns *ns, struct ns_gateway *g, const char *body, size_t len) {
  struct lg_gw_push *pp = &ns->push;
  char why[160];
  if (lg_gw_parse_push(body, len, pp, why, sizeof(why)) != 0) {
    ns_drop(ns, LG_DROP_JSON, "gateway %016llx: %s", (unsigned long long)g->eui, why);
    return;
  }
  atomic_fetch_add(&ns->m.datagrams_handled, 1);
  for (size_t i = 0; i < pp->n_crc_bad; i++)
    ns_drop(ns, LG_DROP_CRC, "gateway %016llx: CRC failed", (unsigned long long)g->eui);
  for (size_t i = pp->n_crc_bad; i < pp->n_rejected; i++)
    ns_drop(ns, LG_DROP_RXPK, "gateway %016llx: %s", (unsigned long long)g->eui, why);
  /* A stat's position (anyone can send one: docs/security.md) never moves a surveyed
   * gateway, unless it is marked position_from_gateway; it places one without a position. */
  if (pp->has_stat && pp->stat.has_position && (!g->has_position || g->position_from_gateway)) {
    g->has_position = true;
    g->lat_deg = pp->stat.lat_deg;
    g->lon_deg = pp->stat.lon_deg;
    g->alt_m = pp->stat.alt_m;
  }
  g->rx_unwritten += (int)pp->n_rxpk;
  int64_t now = ns_now(ns);
  bool stat_pos = pp->has_stat && pp->stat.has_position;
  if (!ns->replaying && (stat_pos || now - g->seen_written_ns > 10000000000LL)) {
    if (lg_store_gateway_seen(ns->store, g->eui, now, g->rx_unwritten, stat_pos, pp->stat.lat_deg,
                              pp->stat.lon_deg, pp->stat.alt_m) != 0)
      ns_store_error(ns, "recording a gateway's last-seen time");
    g->seen_written_ns = now;
    g->rx_unwritten = 0;
  }
  for (size_t i = 0; i < pp->n_rxpk; i++)
    if (pp->rxpk[i].mod == LG_GW_MOD_LORA && radio_ok(ns, g, &pp->rxpk[i]))
      add_reception(ns, g, &pp->rxpk[i]);
}

/* A PUSH_DATA from a provisioned gateway into the journal (the batch's sync comes before
 * its PUSH_ACKs: lg_ns_flush). False when it could not be written: not acknowledged. */
static bool journal_append(struct lg_ns *ns, uint64_t eui, const struct sockaddr *from,
                           socklen_t from_len, const uint8_t *buf, size_t len) {
  struct lg_journal_rec r = {.received_ns = ns->io.now_ns(ns->io.ctx),
                             .gateway_eui = eui,
                             .data = buf,
                             .len = len};
  r.from_len = from_len <= LG_JOURNAL_ADDR_MAX ? from_len : 0;
  memcpy(r.from, from, r.from_len);
  if (lg_journal_append(ns->journal, &r) != 0) {
    atomic_fetch_add(&ns->m.journal_errors, 1);
    return false;
  }
  ns->seq = r.seq;
  atomic_fetch_add(&ns->m.journal_records, 1);
  return true;
}

/* The same host: address family and IP address (the port is not compared). */
static bool same_host(const struct sockaddr *a, const struct sockaddr_storage *b) {
  if (a->sa_family != b->ss_family) return false;
  if (a->sa_family == AF_INET)
    return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                  &((const struct sockaddr_in *)b)->sin_addr, sizeof(struct in_addr)) == 0;
  if (a->sa_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
  return false;
}

/*
 * Gateway trust on a protocol without authentication: a provisioned gateway's source host
 * is pinned at its first datagram; the same EUI from another host is refused — not
 * acknowledged, not journalled, counted as "gateway_address" — so a spoofer elsewhere
 * cannot take the downlink path (PULL_DATA) or add forged receptions. The port is free: a
 * forwarder's two sockets and a restarted forwarder's new ones come from its host. A
 * gateway that really moved (a new address) keeps sending from it while nothing comes from
 * the old one: after gateway_move_after_s of that the pin moves, logged and counted. What
 * this cannot stop — a spoofer on the gateway's host or its path, forging its address — is
 * in docs/security.md.
 */
static bool address_ok(struct lg_ns *ns, struct ns_gateway *g, const struct sockaddr *from,
                       socklen_t from_len) {
  struct ns_pin *p = &g->pin;
  if (from_len == 0 || from_len > sizeof(p->addr) ||
      (from->sa_family != AF_INET && from->sa_family != AF_INET6))
    return true; /* no address to judge */
  if (!p->set || same_host(from, &p->addr)) {
    if (!p->set) {
      memcpy(&p->addr, from, from_len);
      p->set = true;
    }
    p->cand_since_ns = 0; /* the pinned host speaks: no move under way */
    return true;
  }
  int64_t now = ns_now(ns);
  if (p->cand_since_ns == 0 || !same_host(from, &p->cand)) {
    memcpy(&p->cand, from, from_len);
    p->cand_since_ns = now;
  } else if (ns->cfg.gateway_move_after_s > 0 &&
             now - p->cand_since_ns >= (int64_t)ns->cfg.gateway_move_after_s * 1000000000LL) {
    memcpy(&p->addr, from, from_len);
    p->cand_since_ns = 0;
    atomic_fetch_add(&ns->m.gateway_moves, 1);
    ns_log(ns, "gateway %016llx now sends from a new address (nothing from the old one for %d s)",
           (unsigned long long)g->eui, ns->cfg.gateway_move_after_s);
    return true;
  }
  ns_drop(ns, LG_DROP_GATEWAY_ADDRESS,
          "gateway %016llx: a datagram from another host than the one it was first heard from",
          (unsigned long long)g->eui);
  return false;
}

/* [security] gateway_networks: when set, only datagrams from those networks are read at
 * all (no ACK, no journal); the rest are dropped and counted. Journal records were judged
 * when they came. */
static bool network_ok(struct lg_ns *ns, const struct sockaddr *from, socklen_t from_len) {
  if (ns->cfg.gateway_nets.n == 0 || ns->replaying) return true;
  if (from_len > 0 && lg_netlist_has(&ns->cfg.gateway_nets, from)) return true;
  char host[INET6_ADDRSTRLEN] = "?";
  if (from_len > 0 && from->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)from)->sin_addr, host,
              sizeof(host));
  else if (from_len > 0 && from->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)from)->sin6_addr, host,
              sizeof(host));
  ns_drop(ns, LG_DROP_GATEWAY_NETWORK,
          "a datagram from %s, outside [security] gateway_networks (%.200s)", host,
          ns->cfg.gateway_networks);
  return false;
}

void lg_ns_datagram(struct lg_ns *ns, const struct sockaddr *from, socklen_t from_len,
                    const uint8_t *buf, size_t len) {
  static const enum lg_drop drops[] = {LG_DROP_SHORT, LG_DROP_VERSION, LG_DROP_TYPE,
                                       LG_DROP_ZERO_EUI};
  atomic_fetch_add(&ns->m.datagrams, 1);
  if (!network_ok(ns, from, from_len)) return;
  struct lg_gw_header h;
  int err = lg_gw_parse_header(buf, len, &h);
  if (err) {
    ns_drop(ns, drops[LG_GW_ESHORT - err], "datagram of %zu bytes: %s", len, lg_gw_strerror(err));
    return;
  }
  struct ns_gateway *g = ns_gateway(ns, h.gateway_eui);
  if (g && g->known && !ns->replaying && !ns->from_station &&
      !address_ok(ns, g, from, from_len))
    return;
  bool keep = true; /* journalled, when it must be */
  /* At max_open_frames with no stored frame left to forget (storage is behind and every
   * frame held waits for it), a PUSH_DATA would be acknowledged and its frames then shed:
   * lost after the promise. It is refused unacknowledged instead (the forwarder knows; the
   * socket is still read). */
  if (h.type == LG_GW_PUSH_DATA && !ns->replaying && g && g->known &&
      ns->n_frames >= (size_t)ns->cfg.max_open_frames &&
      !(ns->oldest && ns->oldest->processed && ns->oldest != ns->closing)) {
    atomic_fetch_add(&ns->m.shed[LG_SHED_OPEN_FRAMES], 1);
    return;
  }
  if (h.type == LG_GW_PUSH_DATA && !ns->replaying) {
    if (ns->journal && g && g->known)
      keep = journal_append(ns, h.gateway_eui, from, from_len, buf, len);
    else if (!ns->journal)
      ns->seq = ++ns->local_seq;
  }
  if (h.type != LG_GW_TX_ACK && keep && !ns->replaying && !ns->from_station) { /* the transport holds it until
                                                          * lg_ns_flush says it is on disk */
    uint8_t ack[4];
    lg_gw_build_ack(&h, ack);
    ns->io.send(ns->io.ctx, from, from_len, ack, sizeof(ack));
  }
  if (g == NULL) return;
  if (!g->known) {
    ns_drop(ns, LG_DROP_UNKNOWN_GATEWAY, "gateway %016llx is not provisioned (POST /api/gateways)",
            (unsigned long long)h.gateway_eui);
    return;
  }
  /* Catching up from the journal: this one is taken from there in its turn. */
  if (h.type == LG_GW_PUSH_DATA && !ns->replaying && (ns->catchup || ns->store_waiting)) {
    atomic_fetch_add(&ns->m.datagrams_handled, 1); /* handled when its record's turn comes */
    return;
  }
  const char *body = (const char *)buf + h.body_off;
  size_t body_len = len - h.body_off;
  switch (h.type) {
  case LG_GW_PULL_DATA:
    atomic_fetch_add(&ns->m.datagrams_handled, 1);
    g->has_pull = true;
    g->version = h.version;
    memcpy(&g->pull_addr, from, from_len < sizeof(g->pull_addr) ? from_len : sizeof(g->pull_addr));
    g->pull_len = from_len;
    if (ns->cluster && ns_now(ns) - g->announced_ns > 5000000000LL) {
      ns_cluster_gateway(ns->cluster, g->eui); /* any instance can reach it through here */
      g->announced_ns = ns_now(ns);
    }
    if (ns_now(ns) - g->seen_written_ns > 10000000000LL) {
      if (lg_store_gateway_seen(ns->store, g->eui, ns_now(ns), g->rx_unwritten, false, 0, 0, 0))
        ns_store_error(ns, "recording a gateway's last-seen time");
      g->seen_written_ns = ns_now(ns);
      g->rx_unwritten = 0;
    }
    break;
  case LG_GW_TX_ACK: {
    char error[32];
    if (lg_gw_parse_txack(body, body_len, error, sizeof(error)) != 0) {
      ns_drop(ns, LG_DROP_JSON, "gateway %016llx: TX_ACK body is not JSON",
              (unsigned long long)g->eui);
      return;
    }
    atomic_fetch_add(&ns->m.datagrams_handled, 1);
    if (!ns->cluster || !ns_tx_ack_forwarded(ns, h.token, g->eui, error))
      ns_tx_ack(ns, h.token, g->eui, error);
    break;
  }
  default: push_data(ns, g, body, body_len); break;
  }
}

void lg_ns_station_datagram(struct lg_ns *ns, const uint8_t *buf, size_t len) {
  struct sockaddr_storage none; /* no source address: nothing to pin */
  memset(&none, 0, sizeof(none));
  ns->from_station = true;
  lg_ns_datagram(ns, (const struct sockaddr *)&none, 0, buf, len);
  ns->from_station = false;
}

void lg_ns_station_link(struct lg_ns *ns, uint64_t eui, bool up) {
  struct ns_gateway *g = ns_gateway(ns, eui);
  if (g) g->station = up;
}

bool lg_ns_gateway_known(struct lg_ns *ns, uint64_t eui) {
  struct ns_gateway *g = ns_gateway(ns, eui);
  return g && g->known;
}

int lg_ns_gateway_token(struct lg_ns *ns, uint64_t eui, char hash[65]) {
  struct lg_gateway_rec rec;
  int rc = lg_store_gateway_get(ns->store, eui, &rec);
  if (rc) return rc;
  memcpy(hash, rec.station_token_hash, 65);
  return 0;
}

void lg_ns_station_txed(struct lg_ns *ns, uint64_t eui, int64_t diid) {
  if (diid < 0 || diid > UINT16_MAX) {
    ns_log(ns, "station %016llx: dntxed for diid %lld, which no downlink of this server has",
           (unsigned long long)eui, (long long)diid);
    return;
  }
  ns_tx_ack(ns, (uint16_t)diid, eui, "NONE");
}

/* Frames whose owner died, picked up here (at most ORPHANS_MAX a tick): processed from
 * every copy kept in Redis. Returns them (heap frames, closed by the caller after the
 * commit). */
#define ORPHANS_MAX 32
static size_t recover_orphans(struct lg_ns *ns, struct ns_frame **out) {
  uint8_t keys[ORPHANS_MAX][sizeof(((struct ns_frame *)0)->key)];
  size_t key_len[ORPHANS_MAX];
  size_t n = ns_cluster_orphans(ns->cluster, &keys[0][0], sizeof(keys[0]), key_len, ORPHANS_MAX);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    struct ns_frame *f = malloc(sizeof(*f));
    struct ns_rx *all = malloc(LG_GEO_MAX_RX * sizeof(*all)); /* every copy kept in Redis */
    if (f == NULL || all == NULL) {
      free(f), free(all);
      break;
    }
    memset(f, 0, offsetof(struct ns_frame, rx));
    f->rx = all;
    f->cap = LG_GEO_MAX_RX;
    memcpy(f->key, keys[i], key_len[i]);
    f->key_len = key_len[i];
    ns_cluster_ready(ns->cluster);
    ns_cluster_collect_ask(ns->cluster, f->key, f->key_len);
    f->n = ns_cluster_collect_read(ns->cluster, true, f->rx, LG_GEO_MAX_RX, &f->taken);
    if (f->n == 0) { /* its copies expired: nothing left to process */
      ns_frame_reset_rx(f);
      free(f);
      continue;
    }
    f->first_ns = f->rx[0].received_ns;
    for (size_t j = 1; j < f->n; j++)
      if (f->rx[j].received_ns < f->first_ns) f->first_ns = f->rx[j].received_ns;
    f->processed = f->recovered = true;
    ns_log(ns, "cluster: picked up a frame of a silent instance (%zu copies)", f->n);
    ns_process_frame(ns, f);
    atomic_fetch_add(&ns->m.cluster_recovered, 1);
    out[k++] = f;
  }
  return k;
}

/* The owner's side of a cluster round after the commit: the stored uplinks published,
 * late copies taken (pipelined, in the order asked). */
static void cluster_close(struct lg_ns *ns, struct ns_frame *first, struct ns_frame *end,
                          struct ns_frame **extra, size_t n_extra) {
  if (!ns_cluster_ready(ns->cluster)) return;
  int ttl = cluster_ttl_ms(ns);
  for (struct ns_frame *f = first; f != end; f = f->next)
    if (!f->remote)
      ns_cluster_done_ask(ns->cluster, f->key, f->key_len, f->uplink_id, f->taken, ttl);
  for (size_t i = 0; i < n_extra; i++)
    ns_cluster_done_ask(ns->cluster, extra[i]->key, extra[i]->key_len, extra[i]->uplink_id,
                        extra[i]->taken, ttl);
  for (struct ns_frame *f = first; f != end; f = f->next)
    if (!f->remote) cluster_done(ns, f);
  for (size_t i = 0; i < n_extra; i++)
    cluster_done(ns, extra[i]);
}

/* Everything up to the datagram before the oldest frame not yet processed is stored (frames
 * are processed in the order their first datagram came; each batch is committed or wholly
 * undone). Catching up, the journal's records after the last one run are not handled yet. */
static uint64_t decided_upto(const struct lg_ns *ns) {
  uint64_t upto = ns->catchup ? ns->replayed_seq : ns->seq;
  if (ns->next_due && ns->next_due->first_seq > 0 && ns->next_due->first_seq - 1 < upto)
    upto = ns->next_due->first_seq - 1;
  return upto;
}

static void checkpoint(struct lg_ns *ns, bool force) {
  if (!ns->journal) return;
  if (ns->store_down) {
    atomic_store(&ns->m.journal_lag,
                 lg_journal_last_seq(ns->journal) - lg_journal_checkpoint(ns->journal));
    return;
  }
  uint64_t upto = decided_upto(ns);
  if (ns->writer) ns_writer_upto(ns, &upto); /* not past writes still queued */
  if (lg_journal_checkpoint_set(ns->journal, upto, ns->io.now_ns(ns->io.ctx), force) != 0)
    ns_log(ns, "journal %s: the checkpoint could not be written", lg_journal_dir(ns->journal));
  uint64_t last = lg_journal_last_seq(ns->journal), cp = lg_journal_checkpoint(ns->journal);
  atomic_store(&ns->m.journal_lag, last - cp);
  atomic_store(&ns->m.journal_bytes, (uint64_t)lg_journal_bytes(ns->journal));
}

/* Every frame forgotten (their datagrams are in the journal, or, without one, lost). */
static void forget_all(struct lg_ns *ns) {
  while (ns->oldest) {
    if (!ns->oldest->processed) atomic_fetch_sub(&ns->m.open_windows, 1);
    forget_oldest(ns);
  }
  ns->next_due = NULL;
}

/* Runs the journal again from the checkpoint, a slice per tick (catch_up). */
static int start_catch_up(struct lg_ns *ns) {
  char why[256];
  lg_journal_reader_close(ns->catchup);
  ns->catchup = NULL;
  if (lg_journal_flush(ns->journal) != 0) return LG_EIO;
  uint64_t cp = lg_journal_checkpoint(ns->journal);
  int rc = lg_journal_reader_open(&ns->catchup, lg_journal_dir(ns->journal), cp, why, sizeof(why));
  if (rc) ns_log(ns, "journal: %s", why);
  ns->replayed_seq = cp;
  return rc;
}

/* A batch was not stored. With a journal its frames (and every frame in memory) wait there:
 * the checkpoint stays where it is, and once storage works again the journal is run from
 * it. /api/health says so meanwhile. */
static void store_failed(struct lg_ns *ns) {
  if (!ns->store_down) {
    ns_log(ns, "storage fails%s", ns->journal ? ": frames wait in the journal until it works"
                                              : " and no journal is kept: frames are lost");
    ns->store_reason_i ^= 1;
    char *why = ns->store_reason[ns->store_reason_i];
    snprintf(why, sizeof(ns->store_reason[0]), "storage fails: %s%s",
             ns->store_why ? ns->store_why : lg_store_errmsg(ns->store),
             ns->journal ? " (frames wait in the journal)" : "");
    atomic_store(&ns->m.store_reason, why);
    atomic_store(&ns->m.store_down, 1);
  }
  ns->store_down = true;
  ns->store_why = NULL;
  if (ns->writer) { /* the cached counters count frames that were not stored */
    ns_writer_abort(ns);
    ns_sessions_clear(ns);
  }
  ns->store_waiting = ns->journal != NULL;
  ns->store_retry_ns = ns->io.now_ns(ns->io.ctx) + 1000000000LL;
  if (!ns->journal) return;
  forget_all(ns);
  lg_journal_reader_close(ns->catchup);
  ns->catchup = NULL; /* reopened at the checkpoint when it is time to try again */
}

/* Storage works again (a batch was stored): said once. */
static void store_ok(struct lg_ns *ns) {
  if (!ns->store_down) return;
  ns->store_down = false;
  atomic_store(&ns->m.store_down, 0);
  atomic_store(&ns->m.store_reason, NULL);
  ns_log(ns, "storage works again");
}

/* The journal was run again and storage is still said to fail: its frames had all been
 * stored before (a failed batch held only other writes, or a later one went through before
 * the failure was heard of), so no commit is coming to say it works. Once nothing is
 * waiting to be written, a write of its own asks; if that fails too, the journal is run
 * again in a second, as after any failure. */
static void probe_store(struct lg_ns *ns) {
  uint64_t upto = UINT64_MAX;
  if (ns->writer && !ns_writer_upto(ns, &upto)) return; /* their commit will say */
  if (lg_store_probe_write(ns->store, ns_now(ns)) == 0) {
    store_ok(ns);
    return;
  }
  ns_store_error(ns, "a probe write after the journal's run"); /* counted, logged */
  ns->store_why = NULL;
  store_failed(ns);
}

#define POLL_EVERY_NS 5000000LL
/* Writes queued for the storage thread at most (~1 KB each: ~32 MB). */
#define WRITER_BACKLOG_MAX 32768

/* Storage behind: a failed write is handled as a failed batch was (frames and cached
 * sessions forgotten, the journal run again from the checkpoint); a commit after that
 * means storage works again; sessions whose counter was taken meanwhile are read again. */
static void writer_check(struct lg_ns *ns) {
  char why[256];
  uint64_t commits, conflicts[64];
  size_t n = 0;
  int failed = ns_writer_poll(ns, why, sizeof(why), &commits, conflicts, &n);
  for (size_t i = 0; i < n; i++)
    ns_session_stale(ns, conflicts[i]);
  if (failed) {
    ns_store_error_log(ns, "a batch of writes", why); /* counted by the storage thread */
    snprintf(ns->store_why_buf, sizeof(ns->store_why_buf), "%s", why);
    ns->store_why = ns->store_why_buf;
    store_failed(ns);
  } else if (commits != ns->writer_commits && ns->store_down && !ns->store_waiting) {
    store_ok(ns);
  }
  ns->writer_commits = commits;
}

/* Closes up to `max` windows whose deadline has passed, in creation order (the window is
 * the same for all), in one transaction. In a cluster, the copies the others handed in are
 * asked for all of them at once. Returns whether more are due. */
static bool close_windows(struct lg_ns *ns, int64_t now, int max) {
  struct ns_frame *first = ns->next_due, *end = first;
  int count = 0;
  for (; end && now >= end->deadline_ns && count < max; count++)
    end = end->next;
  if (count == 0) return false;
  if (ns->cluster && ns_cluster_ready(ns->cluster)) {
    for (struct ns_frame *f = first; f != end; f = f->next)
      if (!f->remote) ns_cluster_collect_ask(ns->cluster, f->key, f->key_len);
    for (struct ns_frame *f = first; f != end; f = f->next) /* all read before processing */
      if (!f->remote) cluster_collect(ns, f);
  }
  if (ns->writer) {
    /* Storage behind: a backlog past its bound holds the windows open (their frames are
     * in the journal), and max_open_frames then sheds new frames, counted, rather than
     * memory growing or the loop waiting. */
    if (ns_writer_backlog(ns) > WRITER_BACKLOG_MAX) return false;
    ns->batch_failed = false; /* this thread's own writes (joins, downlinks) autocommit */
  } else {
    ns_batch_begin(ns); /* these frames' writes: one commit */
    if (!ns->batch_open) {
      store_failed(ns);
      return false;
    }
  }
  int64_t polled = ns_now(ns);
  struct ns_frame *f = first;
  for (int k = 0; k < count; k++, f = f->next) {
    f->processed = true;
    atomic_fetch_sub(&ns->m.open_windows, 1);
    if (!f->remote) ns_process_frame(ns, f); /* another instance's frame is its to process */
    /* A slow store (PostgreSQL: ~1.5 ms a frame) makes a slice long: the socket is read
     * every POLL_EVERY_NS within it too. A copy of a frame of this slice then joins it or,
     * once it is stored, is attached as a late copy; a new frame is appended to the list
     * (hence the count: the slice ends where it was planned to, and the next one starts
     * at whatever follows it now). In a cluster only between slices: a copy read here
     * would also be handed to Redis, where this slice's frames were already collected. */
    if (!ns->cluster && !ns->replaying && ns->io.poll && ns_now(ns) - polled > POLL_EVERY_NS) {
      ns->closing = f; /* a new frame at the cap must not forget this one: its next is read */
      ns->io.poll(ns->io.ctx);
      ns->closing = NULL;
      polled = ns_now(ns);
    }
  }
  ns->next_due = f;
  if (ns->writer) {
    if (ns->batch_failed) { /* a write of this thread failed: the slice runs again */
      ns->batch_failed = false;
      store_failed(ns);
      return false;
    }
    ns_writer_push(ns, true, decided_upto(ns));
  } else if (!ns_batch_end(ns)) {
    store_failed(ns);
    return false;
  } else {
    store_ok(ns);
  }
  if (ns->cluster) cluster_close(ns, first, f, NULL, 0);
  checkpoint(ns, false);
  return f && now >= f->deadline_ns;
}

/* Windows closed per transaction, and how long one tick may keep closing them: a backlog
 * is worked off in slices, so the loop keeps reading (and acknowledging) datagrams. */
#define TICK_FRAMES    64
#define TICK_BUDGET_NS 50000000LL

static void forget_expired(struct lg_ns *ns, int64_t now) {
  while (ns->oldest && ns->oldest->processed && now >= ns->oldest->forget_ns)
    forget_oldest(ns);
}

/* One journal record through the pipeline as it came, at its own time: windows that its
 * time closes are closed. No answer goes out (nothing is sent while replaying). */
static void replay_record(struct lg_ns *ns, const struct lg_journal_rec *r) {
  ns->replaying = true;
  ns->replay_now_ns = r->received_ns;
  ns->seq = r->seq;
  lg_ns_datagram(ns, (const struct sockaddr *)r->from, r->from_len, r->data, r->len);
  atomic_fetch_sub(&ns->m.datagrams, 1); /* counted when it came */
  atomic_fetch_add(&ns->m.journal_replayed, 1);
  while (!ns->store_waiting && close_windows(ns, r->received_ns, TICK_FRAMES)) {
  }
  forget_expired(ns, r->received_ns);
  ns->replaying = false;
  ns->replayed_seq = r->seq;
}

/* Catching up: journal records run for at most `budget_ns`, the socket read every 5 ms
 * (its PUSH_DATA are journalled and acknowledged, and wait their turn). */
static void catch_up(struct lg_ns *ns, int64_t budget_ns) {
  int64_t t0 = ns->io.now_ns(ns->io.ctx), polled = t0;
  while (ns->catchup && ns->io.now_ns(ns->io.ctx) - t0 < budget_ns) {
    struct lg_journal_rec r;
    int rc = lg_journal_next(ns->catchup, &r);
    if (rc < 0) {
      ns_log(ns, "journal %s: reading failed; catching up again in 1 s", lg_journal_dir(ns->journal));
      lg_journal_reader_close(ns->catchup);
      ns->catchup = NULL;
      ns->store_waiting = true; /* retried like a store failure */
      ns->store_retry_ns = t0 + 1000000000LL;
      return;
    }
    if (rc == 0) {
      if (ns->replayed_seq < lg_journal_last_seq(ns->journal)) { /* buffered: write it out */
        if (lg_journal_flush(ns->journal) != 0) return;
        if (lg_journal_next(ns->catchup, &r) != 1) return;
      } else {
        ns_log(ns, "journal: caught up (%llu records run again, %llu of their frames stored "
                   "before)",
               (unsigned long long)atomic_load(&ns->m.journal_replayed),
               (unsigned long long)atomic_load(&ns->m.journal_skipped));
        lg_journal_reader_close(ns->catchup);
        ns->catchup = NULL;
        if (ns->store_down) probe_store(ns);
        checkpoint(ns, true);
        return;
      }
    }
    replay_record(ns, &r);
    if (ns->io.poll && ns->catchup && ns->io.now_ns(ns->io.ctx) - polled > POLL_EVERY_NS) {
      ns->io.poll(ns->io.ctx);
      polled = ns->io.now_ns(ns->io.ctx);
    }
  }
}

uint64_t lg_ns_recover(struct lg_ns *ns) {
  if (!ns->journal) return 0;
  uint64_t last = lg_journal_last_seq(ns->journal), cp = lg_journal_checkpoint(ns->journal);
  /* /metrics shows the lag from the start: it answers before the first tick runs the
   * journal, and a lag of 0 there would say everything journalled is stored already */
  atomic_store(&ns->m.journal_lag, last > cp ? last - cp : 0);
  atomic_store(&ns->m.journal_bytes, (uint64_t)lg_journal_bytes(ns->journal));
  if (last <= cp) return 0;
  ns_log(ns, "journal %s: %llu records after the checkpoint (%llu) run again", 
         lg_journal_dir(ns->journal), (unsigned long long)(last - cp), (unsigned long long)cp);
  if (start_catch_up(ns) != 0) return 0;
  return last - cp;
}

bool lg_ns_catching_up(const struct lg_ns *ns) {
  return ns->catchup != NULL || ns->store_waiting;
}

int lg_ns_replay(struct lg_ns *ns, const char *dir, uint64_t after_seq,
                 struct lg_ns_replay_stats *st, char *why, size_t why_len) {
  struct lg_journal_reader *rd;
  memset(st, 0, sizeof(*st));
  int rc = lg_journal_reader_open(&rd, dir, after_seq, why, why_len);
  if (rc) return rc;
  struct lg_journal_rec r;
  int64_t last_ns = 0;
  while ((rc = lg_journal_next(rd, &r)) == 1 && !ns->store_down) {
    replay_record(ns, &r);
    last_ns = r.received_ns;
    st->records++;
  }
  st->damaged = lg_journal_reader_damaged(rd);
  lg_journal_reader_close(rd);
  if (rc < 0) return snprintf(why, why_len, "journal %s: reading failed", dir), LG_EIO;
  ns->replaying = true; /* the last windows, at their own time */
  ns->replay_now_ns = last_ns + (int64_t)(ns->cfg.dedup_window_ms + ns->cfg.late_horizon_ms) * 1000000 + 1;
  while (!ns->store_down && close_windows(ns, ns->replay_now_ns, TICK_FRAMES)) {
    if (ns->writer) writer_check(ns);
  }
  if (ns->writer && !ns_writer_wait(ns)) writer_check(ns);
  ns->replaying = false;
  forget_all(ns);
  if (ns->store_down)
    return snprintf(why, why_len, "storage failed: %s", lg_store_errmsg(ns->store)), LG_EIO;
  return 0;
}

size_t lg_ns_drain(struct lg_ns *ns) {
  size_t n = (size_t)atomic_load(&ns->m.open_windows);
  ns->io.poll = NULL; /* the socket is closed for reading */
  lg_ns_flush(ns);
  while (!ns->store_down && close_windows(ns, INT64_MAX, TICK_FRAMES)) {
    if (ns->writer) writer_check(ns);
  }
  if (ns->writer && !ns_writer_wait(ns)) writer_check(ns); /* everything written */
  checkpoint(ns, true);
  if (ns->store_down) return 0;
  return n;
}

void lg_ns_tick(struct lg_ns *ns) {
  int64_t now = ns_now(ns);
  lg_ns_flush_request(ns);
  if (ns->writer) writer_check(ns);
  if (ns->store_waiting && now >= ns->store_retry_ns) { /* storage may work again */
    ns->store_waiting = false;
    if (start_catch_up(ns) != 0) ns->store_waiting = true, ns->store_retry_ns = now + 1000000000LL;
  }
  if (ns->catchup) catch_up(ns, TICK_BUDGET_NS);
  if (ns->cluster) ns_cluster_tick(ns, now); /* downlinks and TX_ACKs from the others */
  while (close_windows(ns, now, TICK_FRAMES) && ns_now(ns) - now < TICK_BUDGET_NS)
    if (ns->io.poll) ns->io.poll(ns->io.ctx);
  if (ns->cluster && now - ns->orphans_checked_ns >= 1000000000LL) {
    ns->orphans_checked_ns = now;
    struct ns_frame *orphans[ORPHANS_MAX];
    ns_batch_begin(ns);
    size_t n = recover_orphans(ns, orphans);
    ns_batch_end(ns);
    if (n) cluster_close(ns, NULL, NULL, orphans, n);
    for (size_t i = 0; i < n; i++)
      ns_frame_reset_rx(orphans[i]), free(orphans[i]);
  }
  /* Forget frames past the late-copy horizon, oldest first. */
  forget_expired(ns, now);
  if (ns->writer) ns_writer_push(ns, false, 0); /* late copies and events of this tick */
  if (ns->next_due == NULL || ns->store_down) checkpoint(ns, false); /* idle: all stored */
  if (!ns->catchup && !ns->store_down) ns_classc_tick(ns); /* Class C and multicast */
  if (!ns->catchup && !ns->store_down) ns_nack_tick(ns, now);
  if (!ns->catchup && !ns->store_down) ns_fleet_tick(ns, now); /* silent devices and gateways */
  ns_pending_expire(ns, now);
}
