/*
 * Class A downlinks: RX1 (the uplink's channel, its data rate less the RX1 offset,
 * `tmst` + RX1 delay) through the gateway that heard the device best among those with
 * a live downlink path; RX2 (the region's frequency and data rate, `tmst` + RX2 delay)
 * or another gateway that heard the uplink when the gateway reports a failure (TX_ACK
 * with an error such as TOO_LATE or COLLISION_PACKET); see advance() for the order.
 * PULL_RESP carries a server token (protocol v2) that the TX_ACK echoes.
 * In a cluster, a gateway whose PULL path another instance holds is a candidate too: the
 * downlink goes to that instance, which sends it if the gateway's duty cycle allows and
 * returns the TX_ACK (cluster.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns/cluster.h"
#include "ns/ns_int.h"
#include "util/util.h"

static int downlink_power_dbm(const struct lg_region *r) {
  int p = r->default_max_eirp_dbm - 2; /* EU868: 14 dBm; antenna gain left for the EIRP limit */
  return p > 27 ? 27 : p;
}

static bool txpk_for(const struct lg_ns *ns, const struct lg_gw_rxpk *up, int dr, uint32_t freq_hz,
                     int64_t delay_ns, const struct ns_dl *dl, struct lg_gw_txpk *tx) {
  const struct lg_datarate *d = lg_region_dr(ns->region, dr);
  if (d == NULL || d->mod != LG_MOD_LORA || !up->has_tmst) return false;
  memset(tx, 0, sizeof(*tx));
  tx->has_tmst = true;
  tx->tmst = up->tmst + (uint32_t)(delay_ns / 1000);
  tx->freq_hz = freq_hz;
  tx->rfch = 0;
  tx->power_dbm = downlink_power_dbm(ns->region);
  tx->sf = d->sf;
  tx->bw_hz = d->bw_hz;
  snprintf(tx->codr, sizeof(tx->codr), "4/5");
  tx->ipol = true;
  tx->size = dl->len;
  return true;
}

/* Under the region's downlink dwell time a window whose transmission would last longer
 * than 400 ms is not used (*has cleared, *cut counted); 1 when the window remains usable. */
static int dwell_ok(const struct lg_ns *ns, bool *has, const struct lg_gw_txpk *tx, int *cut) {
  if (*has && ns_dwell_downlink(ns) &&
      ns_airtime_ns(tx->sf, tx->bw_hz, tx->size, false) > LG_DWELL_LIMIT_NS) {
    *has = false;
    (*cut)++;
  }
  return *has ? 1 : 0;
}

/* Time on air of a downlink (LoRaWAN: no payload CRC, CR 4/5, explicit header). */
static int64_t airtime_ns(const struct lg_gw_txpk *tx) {
  struct lg_lora_tx lt = lg_lora_tx_lorawan(tx->sf, tx->bw_hz);
  struct lg_airtime at;
  lt.crc = false;
  return lg_lora_airtime(&lt, tx->size, &at) == 0 ? at.time_on_air_ns : 0;
}

/* Whether the gateway may transmit tx now under the region's duty cycle. */
static bool duty_cycle_allows(struct lg_ns *ns, struct ns_gateway *g, const struct lg_gw_txpk *tx) {
  if (g->dc == NULL) { /* the first downlink here: in a cluster, the last holder's record */
    if ((g->dc = calloc(1, sizeof(*g->dc))) == NULL) return false;
    if (ns->cluster) ns_cluster_dc_load(ns->cluster, g->eui, g->dc);
  }
  int64_t budget = 0;
  return lg_dc_allows(g->dc, ns->region, tx->freq_hz, airtime_ns(tx), ns_now(ns), &budget);
}

static void send_pull_resp(struct lg_ns *ns, struct ns_gateway *g, uint16_t token,
                           const uint8_t *data, struct lg_gw_txpk *tx) {
  uint8_t buf[1000];
  tx->data = data;
  int n = lg_gw_build_pull_resp(g->version ? g->version : 2, token, tx, buf, sizeof(buf));
  if (n < 0) return;
  ns->io.send(ns->io.ctx, (const struct sockaddr *)&g->pull_addr, g->pull_len, buf, (size_t)n);
  if (g->dc) {
    lg_dc_record(g->dc, ns->region, tx->freq_hz, airtime_ns(tx), ns_now(ns));
    if (ns->cluster) ns_cluster_dc_save(ns->cluster, g->eui, g->dc); /* for the next holder */
  }
  atomic_fetch_add(&ns->m.downlinks[LG_DL_SENT], 1);
}

/* p in ns->pending under a fresh token. */
static void track(struct lg_ns *ns, struct ns_pending *p) {
  struct ns_pending *old;
  p->token = ns->next_token++;
  HASH_FIND(hh, ns->pending, &p->token, sizeof(p->token), old);
  if (old) {
    HASH_DEL(ns->pending, old);
    free(old);
  }
  p->sent_ns = ns_now(ns);
  HASH_ADD(hh, ns->pending, token, sizeof(p->token), p);
}

/* The attempt in flight handed to a Basics Station: one dnmsg with RX1 and RX2 (the station
 * falls back to RX2 itself); an attempt already in RX2 goes as a dnmsg whose first window
 * is RX2 (its delay, frequency and data rate). p is tracked under a fresh token (the
 * dnmsg's diid, echoed by dntxed). False when the station's connection is gone. */
static bool send_station(struct lg_ns *ns, struct ns_gateway *g, struct ns_pending *p,
                         const struct ns_dl_path *path, const struct lg_gw_txpk *tx) {
  track(ns, p);
  struct lg_gw_dl dl = {.diid = p->token, .dev_eui = p->dev_eui, .pdu = p->data, .len = tx->size};
  if (tx->immediate) { /* Class C / multicast: "dC" 2, sent now on the RX2 settings given */
    dl.dev_class = LG_GW_DL_CLASS_C;
    dl.rx2_dr = path->rx2_dr;
    dl.rx2_freq_hz = tx->freq_hz;
  } else { /* Class A: the uplink's xtime, RX1 (or RX2 as the first window) and RX2 */
    dl.dev_class = LG_GW_DL_CLASS_A;
    dl.has_rx1 = true;
    dl.rx_delay_s = p->in_rx2 ? path->rx2_delay_s : path->rx1_delay_s;
    dl.rx1_dr = p->in_rx2 ? path->rx2_dr : path->rx1_dr;
    dl.rx1_freq_hz = p->in_rx2 ? path->rx2.freq_hz : path->rx1.freq_hz;
    dl.rx2_dr = path->rx2_dr;
    dl.rx2_freq_hz = path->rx2.freq_hz;
    dl.has_xtime = path->has_xtime;
    dl.xtime = path->xtime;
    dl.rctx = path->rctx;
  }
  if (ns->io.gw_send(ns->io.gw_ctx, g->eui, &dl) != 0) {
    HASH_DEL(ns->pending, p);
    return false;
  }
  if (g->dc) lg_dc_record(g->dc, ns->region, tx->freq_hz, airtime_ns(tx), ns_now(ns));
  atomic_fetch_add(&ns->m.downlinks[LG_DL_SENT], 1);
  return true;
}

/* The attempt in flight handed to the instance holding its gateway's PULL path. */
static bool hand_to_holder(struct lg_ns *ns, struct ns_pending *p, const struct ns_dl_path *path,
                           const struct lg_gw_txpk *tx) {
  track(ns, p);
  struct ns_cluster_dl d = {.owner = ns_cluster_self(ns->cluster),
                            .gateway_eui = path->gateway_eui,
                            .token = p->token,
                            .tx = *tx};
  d.tx.data = NULL;
  memcpy(d.data, p->data, tx->size);
  if (!ns_cluster_send_dl(ns->cluster, path->holder, &d)) {
    HASH_DEL(ns->pending, p);
    return false;
  }
  atomic_fetch_add(&ns->m.cluster_dl_out, 1);
  return true;
}

/* The attempt after the one in flight failed. A failure about time or budget in RX1
 * (TOO_LATE, no duty-cycle budget) moves to the same gateway's RX2; any other RX1 failure
 * (COLLISION_*, TX_FREQ, TX_POWER, GPS_UNLOCKED: the gateway cannot send it) moves to the
 * next gateway's RX1, or to RX2 when no gateway is left; an RX2 failure moves to the next
 * gateway's RX2 (by then RX1 has passed). False when no path is left. */
static bool advance(struct ns_pending *p, bool timing) {
  if (!p->in_rx2 && (timing || p->path + 1 >= p->n_paths)) {
    p->in_rx2 = true;
    return true;
  }
  if (p->path + 1 >= p->n_paths) return false;
  p->path++;
  return true;
}

/* Sends the attempt in flight or, when its gateway lacks that window, a downlink path or
 * duty-cycle budget, the next one. On success p is in ns->pending under a fresh token;
 * otherwise *budget tells whether the duty cycle was what stopped it. */
static bool dispatch(struct lg_ns *ns, struct ns_pending *p, bool *budget) {
  *budget = false;
  for (;;) {
    const struct ns_dl_path *path = &p->paths[p->path];
    const struct lg_gw_txpk *tx = p->in_rx2 ? &path->rx2 : &path->rx1;
    bool has = p->in_rx2 ? path->has_rx2 : path->has_rx1;
    struct ns_gateway *g = ns_gateway(ns, path->gateway_eui);
    if (has && path->holder && hand_to_holder(ns, p, path, tx)) return true;
    if (has && !path->holder && g && g->station && (path->has_xtime || tx->immediate) &&
        ns->io.gw_send) {
      if (duty_cycle_allows(ns, g, tx)) {
        if (send_station(ns, g, p, path, tx)) return true;
      } else {
        *budget = true;
      }
    }
    if (has && !path->holder && g && g->has_pull) {
      if (duty_cycle_allows(ns, g, tx)) {
        track(ns, p);
        struct lg_gw_txpk t = *tx;
        send_pull_resp(ns, g, p->token, p->data, &t);
        return true;
      }
      *budget = true;
      ns_log(ns, "downlink: %s at %016llx is out of duty-cycle budget", p->in_rx2 ? "RX2" : "RX1",
             (unsigned long long)g->eui);
    }
    if (!advance(p, true)) return false;
  }
}

/* The gateways that heard the frame with a live downlink path (here, or in a cluster at
 * another instance) and a tmst, best SNR first (all copies share the uplink's data rate,
 * so SNR orders them by link margin). */
struct candidate {
  const struct ns_rx *rx;
  uint64_t holder;
};

static int candidates(struct lg_ns *ns, const struct ns_frame *f, struct candidate *out) {
  int n = 0;
  for (size_t i = 0; i < f->n; i++) {
    const struct ns_rx *r = &f->rx[i];
    struct ns_gateway *g = ns_gateway(ns, r->gateway_eui);
    if (!g || !g->known || !r->rxpk.has_tmst) continue;
    bool seen = false; /* one path per gateway (a gateway may report two antennas) */
    for (int k = 0; k < n; k++)
      seen |= out[k].rx->gateway_eui == r->gateway_eui;
    if (seen) continue;
    uint64_t holder = 0;
    if (!g->has_pull && !(g->station && r->rxpk.has_xtime)) {
      if (ns->cluster) holder = ns_cluster_holder(ns->cluster, g->eui);
      if (holder == 0 || holder == (ns->cluster ? ns_cluster_self(ns->cluster) : 0)) continue;
    }
    int k = n < NS_DL_CANDIDATES ? n++ : NS_DL_CANDIDATES;
    for (; k > 0 && out[k - 1].rx->rxpk.snr_db < r->rxpk.snr_db; k--)
      if (k < NS_DL_CANDIDATES) out[k] = out[k - 1];
    if (k < NS_DL_CANDIDATES) out[k] = (struct candidate){r, holder};
  }
  return n;
}

/* A device's downlink that will not go out: its application hears of it (a `log` event
 * with ChirpStack's code DOWNLINK_GATEWAY), besides the count and the server's log line. */
static void not_sent(struct lg_ns *ns, const struct ns_pending *p, const char *why) {
  if (p->dev_eui == 0) return; /* multicast: no device to tell */
  char desc[240];
  snprintf(desc, sizeof(desc), "the downlink was not transmitted: %s", why);
  ns_device_event(ns, p->dev_eui, "log",
                  json_pack("{s:s, s:s, s:s, s:o}", "level", "ERROR", "code", "DOWNLINK_GATEWAY",
                            "description", desc, "f_cnt_down",
                            p->has_f_cnt ? json_integer(p->f_cnt) : json_null()));
}


void ns_send_downlink(struct lg_ns *ns, const struct ns_frame *f, const struct ns_dl *dl) {
  struct candidate best[NS_DL_CANDIDATES];
  int n = candidates(ns, f, best);
  if (n == 0) {
    atomic_fetch_add(&ns->m.downlinks[LG_DL_NO_GATEWAY], 1);
    ns_log(ns, "downlink dropped: no gateway that heard the frame has a downlink path");
    return;
  }
  const struct lg_gw_rxpk *up = &best[0].rx->rxpk;
  int up_dr = 0, rx1_dr = 0;
  uint32_t rx1_freq = 0;
  if (lg_region_dr_for(ns->region, up->sf, up->bw_hz, true, &up_dr) ||
      lg_region_rx1_dr_dwell(ns->region, up_dr, dl->own_rx ? dl->rx1_dr_offset : 0,
                             dl->device_dwell, &rx1_dr) ||
      lg_region_rx1_freq(ns->region, up->freq_hz, &rx1_freq)) {
    atomic_fetch_add(&ns->m.downlinks[LG_DL_ERROR], 1);
    ns_log(ns, "downlink dropped: the uplink's channel or data rate is not in %s",
           ns->region->name);
    return;
  }
  struct ns_pending *p = calloc(1, sizeof(*p));
  if (p == NULL) return;
  memcpy(p->data, dl->phy, dl->len);
  p->dev_eui = f->dev_eui;
  p->has_f_cnt = dl->has_f_cnt, p->f_cnt = dl->f_cnt;
  const struct lg_gw_rxpk *first = &f->rx[0].rxpk;
  if (p->dev_eui == 0 && first->size == 23 && (first->data[0] >> 5) == 0)
    p->dev_eui = lg_get_le64(first->data + 9); /* a join-request's DevEUI */
  int usable = 0, cut = 0; /* windows left once the dwell time is applied, and cut by it */
  for (int i = 0; i < n; i++) {
    struct ns_dl_path *path = &p->paths[p->n_paths++];
    path->gateway_eui = best[i].rx->gateway_eui;
    path->holder = best[i].holder;
    const struct lg_gw_rxpk *rx = &best[i].rx->rxpk;
    path->has_rx1 = txpk_for(ns, rx, rx1_dr, rx1_freq, dl->rx1_delay_ns, dl, &path->rx1);
    int rx2_dr = dl->own_rx ? dl->rx2_dr : ns->region->rx2_dr;
    path->has_rx2 = txpk_for(ns, rx, rx2_dr, dl->own_rx ? dl->rx2_freq_hz : ns->region->rx2_freq_hz,
                             dl->rx2_delay_ns, dl, &path->rx2);
    path->has_xtime = rx->has_xtime;
    path->xtime = rx->xtime;
    path->rctx = rx->rctx;
    path->rx1_dr = rx1_dr;
    path->rx2_dr = rx2_dr;
    path->rx1_delay_s = (int)(dl->rx1_delay_ns / 1000000000LL);
    path->rx2_delay_s = (int)(dl->rx2_delay_ns / 1000000000LL);
    usable += dwell_ok(ns, &path->has_rx1, &path->rx1, &cut) +
              dwell_ok(ns, &path->has_rx2, &path->rx2, &cut);
  }
  if (usable == 0 && cut > 0) {
    atomic_fetch_add(&ns->m.downlinks[LG_DL_DWELL_TIME], 1);
    ns_log(ns, "downlink refused: %zu bytes stay on air longer than %s's 400 ms dwell time in "
               "RX1 and RX2",
           dl->len, ns->region->name);
    not_sent(ns, p, "it stays on air longer than the 400 ms dwell time in RX1 and RX2");
    free(p);
    return;
  }
  bool budget = false;
  if (!dispatch(ns, p, &budget)) {
    atomic_fetch_add(&ns->m.downlinks[budget ? LG_DL_DUTY_CYCLE : LG_DL_ERROR], 1);
    const char *why = budget ? "no gateway has duty-cycle budget left in RX1 or RX2"
                             : "no gateway can carry it";
    ns_log(ns, "downlink refused: %s", why);
    not_sent(ns, p, why);
    free(p);
  }
}

bool ns_send_now(struct lg_ns *ns, uint64_t dev_eui, const uint64_t *gws, size_t n, uint32_t freq_hz,
                 int dr, const struct ns_dl *dl, uint64_t *via, bool *budget) {
  const struct lg_datarate *d = lg_region_dr(ns->region, dr);
  *budget = false;
  if (d == NULL || d->mod != LG_MOD_LORA || dl->len > sizeof(((struct ns_pending *)0)->data))
    return false;
  struct ns_pending *p = calloc(1, sizeof(*p));
  if (p == NULL) return false;
  memcpy(p->data, dl->phy, dl->len);
  p->dev_eui = dev_eui; /* (a Basics Station's dnmsg names it; 0 for a multicast group) */
  p->has_f_cnt = dl->has_f_cnt, p->f_cnt = dl->f_cnt;
  for (size_t i = 0; i < n && p->n_paths < NS_DL_CANDIDATES; i++) {
    struct ns_gateway *g = ns_gateway(ns, gws[i]);
    if (g == NULL || !g->known || (!g->has_pull && !(g->station && ns->io.gw_send)))
      continue; /* (a cluster peer's: not yet) */
    struct ns_dl_path *path = &p->paths[p->n_paths++];
    path->gateway_eui = gws[i];
    path->rx2_dr = dr;
    struct lg_gw_txpk *tx = &path->rx1;
    tx->immediate = true;
    tx->freq_hz = freq_hz;
    tx->power_dbm = downlink_power_dbm(ns->region);
    tx->sf = d->sf;
    tx->bw_hz = d->bw_hz;
    snprintf(tx->codr, sizeof(tx->codr), "4/5");
    tx->ipol = true;
    tx->size = dl->len;
    path->rx2 = *tx; /* "RX2" of an immediate send: the same again (after TOO_LATE) */
    path->has_rx1 = path->has_rx2 = true;
  }
  if (p->n_paths == 0 || !dispatch(ns, p, budget)) {
    free(p);
    return false;
  }
  *via = p->paths[p->path].gateway_eui;
  return true;
}

void ns_tx_ack(struct lg_ns *ns, uint16_t token, uint64_t gateway_eui, const char *error) {
  struct ns_pending *p;
  HASH_FIND(hh, ns->pending, &token, sizeof(token), p);
  if (p == NULL || p->paths[p->path].gateway_eui != gateway_eui) {
    ns_log(ns, "TX_ACK from %016llx with unknown token %04x (%s)", (unsigned long long)gateway_eui,
           token, error);
    return;
  }
  HASH_DEL(ns->pending, p);
  if (strcmp(error, "NONE") == 0) {
    atomic_fetch_add(&ns->m.downlinks[LG_DL_OK], 1);
    if (p->dev_eui) { /* the gateway sent it (ChirpStack's txack) */
      char gw[17];
      snprintf(gw, sizeof(gw), "%016llx", (unsigned long long)gateway_eui);
      ns_event(ns, p->dev_eui, "txack",
               json_pack("{s:s, s:o, s:b}", "gateway_eui", gw, "f_cnt_down",
                         p->has_f_cnt ? json_integer(p->f_cnt) : json_null(), "rx2", p->in_rx2));
    }
    free(p);
    return;
  }
  /* DUTY_CYCLE and NO_PATH are a cluster holder's answers (ns_cluster_tick) */
  bool too_late = strcmp(error, "TOO_LATE") == 0, no_budget = strcmp(error, "DUTY_CYCLE") == 0;
  atomic_fetch_add(&ns->m.downlinks[too_late    ? LG_DL_TOO_LATE
                                    : no_budget ? LG_DL_DUTY_CYCLE
                                                : LG_DL_ERROR],
                   1);
  bool budget = false;
  if (advance(p, too_late || no_budget) && dispatch(ns, p, &budget)) {
    atomic_fetch_add(&ns->m.downlinks[LG_DL_RETRIED], 1);
    ns_log(ns, "downlink %04x refused by %016llx (%s): retrying in %s on %016llx", token,
           (unsigned long long)gateway_eui, error, p->in_rx2 ? "RX2" : "RX1",
           (unsigned long long)p->paths[p->path].gateway_eui);
    return;
  }
  ns_log(ns, "downlink %04x failed at %016llx: %s; no other path%s", token,
         (unsigned long long)gateway_eui, error, budget ? " with duty-cycle budget" : "");
  char why[160];
  snprintf(why, sizeof(why), "%016llx answered %s and no other path%s is left",
           (unsigned long long)gateway_eui, error, budget ? " with duty-cycle budget" : "");
  not_sent(ns, p, why);
  free(p);
}

bool ns_ack_take(struct lg_ns *ns, uint64_t dev_eui, uint32_t f_cnt, bool retransmission,
                 int nb_trans) {
  struct ns_acked *a;
  HASH_FIND(hh, ns->acked, &dev_eui, sizeof(dev_eui), a);
  if (a == NULL) {
    if ((a = calloc(1, sizeof(*a))) == NULL) return false;
    a->dev_eui = dev_eui;
    HASH_ADD(hh, ns->acked, dev_eui, sizeof(a->dev_eui), a);
  } else if (retransmission && a->f_cnt == f_cnt && a->acks >= (nb_trans > 1 ? nb_trans : 1)) {
    atomic_fetch_add(&ns->m.downlinks[LG_DL_ACK_LIMIT], 1);
    ns_log(ns, "%016llx: FCnt %u retransmitted again, not ACKed (%d ACKs given, NbTrans %d)",
           (unsigned long long)dev_eui, f_cnt, a->acks, nb_trans);
    return false;
  }
  if (a->f_cnt != f_cnt || !retransmission) a->f_cnt = f_cnt, a->acks = 0;
  a->acks++;
  return true;
}

void ns_pending_expire(struct lg_ns *ns, int64_t now_ns) {
  struct ns_pending *p, *tmp;
  HASH_ITER(hh, ns->pending, p, tmp) {
    if (now_ns - p->sent_ns > 30000000000LL) { /* no TX_ACK (protocol v1 gateways) */
      HASH_DEL(ns->pending, p);
      free(p);
    }
  }
}

bool ns_tx_ack_forwarded(struct lg_ns *ns, uint16_t token, uint64_t gateway_eui,
                         const char *error) {
  struct ns_pending *p;
  HASH_FIND(hh, ns->pending, &token, sizeof(token), p);
  if (p && p->paths[p->path].gateway_eui == gateway_eui) return false; /* this one's own */
  int64_t now = ns_now(ns);
  for (int i = 0; i < NS_FORWARDED; i++) {
    struct ns_forwarded *w = &ns->forwarded[i];
    if (w->owner == 0 || w->token != token || w->gateway_eui != gateway_eui ||
        now - w->sent_ns > 30000000000LL)
      continue;
    struct ns_cluster_ack a = {.gateway_eui = gateway_eui, .token = token};
    snprintf(a.error, sizeof(a.error), "%s", error);
    if (!ns_cluster_send_ack(ns->cluster, w->owner, &a))
      ns_log(ns, "cluster: TX_ACK %04x of %016llx could not be returned (Redis)", token,
             (unsigned long long)gateway_eui);
    w->owner = 0;
    return true;
  }
  return false;
}

/* A downlink another instance decided, for a gateway held here: sent if the gateway's
 * duty cycle allows, else refused back to it with the reason. */
static void send_for(struct lg_ns *ns, struct ns_cluster_dl *d) {
  struct ns_gateway *g = ns_gateway(ns, d->gateway_eui);
  const char *refused = NULL;
  if (g == NULL || !g->has_pull || d->tx.size > sizeof(d->data))
    refused = "NO_PATH";
  else if (!duty_cycle_allows(ns, g, &d->tx))
    refused = "DUTY_CYCLE";
  if (refused) {
    struct ns_cluster_ack a = {.gateway_eui = d->gateway_eui, .token = d->token};
    snprintf(a.error, sizeof(a.error), "%s", refused);
    ns_cluster_send_ack(ns->cluster, d->owner, &a);
    ns_log(ns, "cluster: downlink %04x for %016llx refused here: %s", d->token,
           (unsigned long long)d->gateway_eui, refused);
    return;
  }
  ns->forwarded[ns->n_forwarded++ % NS_FORWARDED] = (struct ns_forwarded){
      .owner = d->owner, .gateway_eui = d->gateway_eui, .token = d->token, .sent_ns = ns_now(ns)};
  atomic_fetch_add(&ns->m.cluster_dl_in, 1);
  send_pull_resp(ns, g, d->token, d->data, &d->tx);
}

void ns_cluster_tick(struct lg_ns *ns, int64_t now_ns) {
  struct ns_cluster_dl dl[16];
  struct ns_cluster_ack ack[64];
  size_t n_dl = 0, n_ack = 0;
  ns_cluster_poll(ns->cluster, now_ns, dl, 16, &n_dl, ack, 64, &n_ack);
  for (size_t i = 0; i < n_dl; i++)
    send_for(ns, &dl[i]);
  for (size_t i = 0; i < n_ack; i++) {
    ack[i].error[sizeof(ack[i].error) - 1] = 0;
    ns_tx_ack(ns, ack[i].token, ack[i].gateway_eui, ack[i].error);
  }
}
