/*
 * A de-duplicated frame with all its receptions: joins (LoRaWAN 1.0.x OTAA) and data
 * uplinks (session by DevAddr with MIC disambiguation, 32-bit FCnt, retransmission /
 * replay / reset told apart, compare-and-set of the counter, decryption, MAC commands),
 * then storage, the geolocation hook and the Class A answer.
 *
 * FCnt (ChirpStack's rule, ../shared/reference/anchors-ns.md): the database holds the
 * next expected 32-bit counter N. The 16 bits on air equal to (N-1) mod 2^16 mean a
 * retransmission of N-1; otherwise the counter is N + ((wire - N) mod 2^16). A frame
 * whose MIC only verifies with a value below N-1 is a replay; with the 16-bit value
 * itself, and the device allowed to reset, a reboot.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adr/adr.h"
#include "codec/codec.h"
#include "ns/ns_int.h"
#include "util/util.h"

#define MAX_CANDIDATES 8

static void event(struct lg_ns *ns, uint64_t dev_eui, const char *type, json_t *payload) {
  ns_device_event(ns, dev_eui, type, payload);
}

/* ---- receptions --------------------------------------------------------------------- */

static void reception_of(struct lg_ns *ns, const struct ns_rx *x, struct lg_reception_rec *r) {
  const struct lg_gw_rxpk *p = &x->rxpk;
  memset(r, 0, sizeof(*r));
  r->gateway_eui = x->gateway_eui;
  r->has_time = lg_gw_best_time(p, ns->cfg.geo_sigma_ns, &r->time_ns, &r->sigma_ns);
  struct ns_gateway *gw = ns_gateway(ns, x->gateway_eui);
  if (r->has_time && gw) r->time_ns -= llround(gw->timing_offset_ns); /* provisioned delay */
  if (r->has_time && ns->cal) { /* fixed delays learned by `lorageo calibrate` */
    char eui[17];
    snprintf(eui, sizeof(eui), "%016llx", (unsigned long long)x->gateway_eui);
    r->time_ns -= llround(lg_calibration_offset_ns(ns->cal, eui));
  }
  r->has_tmst = p->has_tmst;
  r->tmst = p->tmst;
  r->has_tmms = p->has_tmms;
  r->tmms_ms = p->tmms_ms;
  r->has_ftime = p->has_ftime;
  r->ftime_ns = p->ftime_ns;
  double ant_rssi = NAN;
  int64_t f;
  size_t n_ant = lg_gw_combine_antennas(p, &f, &ant_rssi);
  r->rssi_dbm = p->has_rssi ? p->rssi_dbm : isfinite(ant_rssi) ? ant_rssi : -200;
  r->snr_db = p->has_snr ? p->snr_db : 0;
  r->channel = p->chan;
  r->rf_chain = p->rfch;
  r->antennas = (int)(n_ant ? n_ant : p->n_ant);
  r->n_ant = p->n_ant < 8 ? p->n_ant : 8;
  for (size_t k = 0; k < r->n_ant; k++) {
    const struct lg_gw_antenna *a = &p->ant[k];
    r->ant[k].ant = a->ant;
    r->ant[k].chan = a->chan;
    r->ant[k].has_rssi = a->has_rssi;
    r->ant[k].has_snr = a->has_snr;
    r->ant[k].has_ftime = a->has_ftime;
    r->ant[k].rssi_dbm = a->rssi_dbm;
    r->ant[k].snr_db = a->snr_db;
    r->ant[k].ftime_ns = a->ftime_ns;
  }
  r->freq_hz = p->freq_hz;
  struct ns_gateway *g = ns_gateway(ns, x->gateway_eui);
  if (g && g->has_position) {
    r->has_position = true;
    r->lat_deg = g->lat_deg;
    r->lon_deg = g->lon_deg;
    r->alt_m = g->alt_m;
  }
  r->received_ns = x->received_ns;
}

/* Distinct gateways among the receptions (two RF chains of one gateway count once). */
static int distinct_gateways(const struct ns_frame *f) {
  int n = 0;
  for (size_t i = 0; i < f->n; i++) {
    bool seen = false;
    for (size_t k = 0; k < i && !seen; k++)
      seen = f->rx[k].gateway_eui == f->rx[i].gateway_eui;
    n += !seen;
  }
  return n;
}

/* ---- geolocation hook ------------------------------------------------------------- */

/* The location event's figures as it publishes them: degrees to 1e-9 (0.1 mm), metres and
 * m/s to 1e-3. The stored location keeps every digit; these print as short decimals, which
 * lg_json_text writes without printf (a position's 15 digits through glibc's %.15g were
 * ~4 % of the server's CPU at full load). */
static double event_deg(double v) {
  return fabs(v) <= 360 ? round(v * 1e9) / 1e9 : v;
}

static double event_m(double v) {
  return isfinite(v) && fabs(v) < 1e9 ? round(v * 1e3) / 1e3 : v;
}

/*
 * Locates a frame and keeps the device's filtered track. Gateways are named by their EUI
 * (lower-case hex, as calibrations name them) so what was learned about each applies.
 * `truth`: a reference device's own position, which first measures every method and
 * then teaches the server (geo/live.c). `refine`: a late copy improving a fix already
 * made; the track has had this frame.
 */
static void locate(struct lg_ns *ns, const struct ns_frame *f, const struct lg_geodetic *truth,
                   bool refine) {
  struct lg_geo_rx rx[LG_GEO_MAX_RX];
  char names[LG_GEO_MAX_RX][17];
  uint64_t euis[LG_GEO_MAX_RX];
  size_t n = 0;
  for (size_t i = 0; i < f->n && n < LG_GEO_MAX_RX; i++) {
    bool dup = false;
    for (size_t k = 0; k < i && !dup; k++)
      dup = f->rx[k].gateway_eui == f->rx[i].gateway_eui;
    if (dup) continue; /* one measure per gateway: its antennas are combined already */
    struct lg_reception_rec r;
    reception_of(ns, &f->rx[i], &r);
    if (!r.has_position) continue;
    snprintf(names[n], sizeof(names[n]), "%016llx", (unsigned long long)r.gateway_eui);
    euis[n] = r.gateway_eui;
    rx[n] = (struct lg_geo_rx){.lat_deg = r.lat_deg,
                               .lon_deg = r.lon_deg,
                               .alt_m = r.alt_m,
                               .has_time = r.has_time,
                               .time_ns = r.time_ns,
                               .sigma_ns = r.sigma_ns,
                               .has_rssi = true,
                               .rssi_dbm = r.rssi_dbm,
                               .name = names[n]};
    n++;
  }
  struct lg_geo_opts o = lg_geo_opts_default();
  o.method = ns->cfg.geo_method;
  o.min_gateways = ns->cfg.geo_min_gateways;
  o.device_alt_m = ns->cfg.geo_device_alt_m;
  o.sigma_ns = ns->cfg.geo_sigma_ns;
  o.pathloss = ns->pathloss;
  if (truth && n > 0) {
    (void)lg_geo_live_reference(ns->live, ns->solver, rx, n, truth, &o);
    if (lg_geo_live_references(ns->live) >= ns->live_saved_refs + 100) ns_save_live(ns, true);
  }
  size_t timed = 0;
  for (size_t i = 0; i < n; i++)
    timed += rx[i].has_time;
  if (timed < (size_t)ns->cfg.geo_min_gateways && n < 3) return; /* nothing to locate with */
  struct lg_geo_fix fix;
  char why[160];
  if (lg_geo_live_locate(ns->live, ns->solver, rx, n, &o, &fix, why, sizeof(why)) != 0) {
    ns_log(ns, "no location for %016llx fcnt %u: %s", (unsigned long long)f->dev_eui, f->f_cnt,
           why);
    return;
  }
  struct lg_geo_track_point tp = {0};
  bool tracked = !refine && lg_geo_live_track(ns->live, ns->solver, f->dev_eui, f->first_ns,
                                              &fix, &tp) == 0;
  if (!refine) /* a position jump (fleet.c), judged against the device's track */
    ns_fleet_position(ns, f->dev_eui, fix.lat_deg, fix.lon_deg, fix.accuracy_m, tracked ? &tp : NULL);
  struct lg_location_rec l = {.uplink_id = f->uplink_id,
                              .dev_eui = f->dev_eui,
                              .f_cnt = f->f_cnt,
                              .lat_deg = fix.lat_deg,
                              .lon_deg = fix.lon_deg,
                              .alt_m = fix.alt_m,
                              .accuracy_m = fix.accuracy_m,
                              .accuracy_95_m = fix.accuracy_95_m,
                              .gdop = fix.gdop,
                              .gateways = fix.gateways_used,
                              .created_ns = ns_now(ns),
                              .has_track = tracked,
                              .track_lat_deg = tp.lat_deg,
                              .track_lon_deg = tp.lon_deg,
                              .track_accuracy_m = tp.accuracy_m,
                              .outlier = tracked && tp.outlier};
  snprintf(l.method, sizeof(l.method), "%s", lg_geo_method_name(fix.method));
  json_t *outliers = json_array(); /* receptions whose timing the others contradict */
  for (size_t i = 0; i < n && !refine; i++) /* gateway clocks (fleet.c: an alarm) */
    if (rx[i].has_time)
      ns_fleet_gateway_rx(ns, euis[i], true, (fix.timing_outliers & (1ull << i)) != 0);
  for (size_t i = 0; i < n; i++) {
    if (!(fix.timing_outliers & (1ull << i))) continue;
    if (l.n_timing_outliers < LG_STORE_MAX_OUTLIERS)
      l.timing_outliers[l.n_timing_outliers++] = euis[i];
    json_array_append_new(outliers, json_string(names[i]));
    atomic_fetch_add(&ns->m.timing_outliers, 1);
    ns_log(ns, "%016llx FCnt %u: gateway %s's time disagrees with the other receptions: "
               "kept out of the fix",
           (unsigned long long)f->dev_eui, f->f_cnt, names[i]);
  }
  if (ns->writer) {
    ns_write_location(ns, ns->cur_ticket, &l); /* its uplink_id: the ticket's, once written */
  } else if (lg_store_location_add(ns->store, &l) != 0) {
    ns_store_error(ns, "storing a location");
    json_decref(outliers);
    return;
  }
  atomic_fetch_add(&ns->m.locations[(unsigned)fix.method % LG_GEO_METHOD_COUNT], 1);
  for (int b = 0; b < LG_NS_ACCURACY_BUCKETS; b++) /* cumulative, as Prometheus buckets are */
    if (b == LG_NS_ACCURACY_BUCKETS - 1 || fix.accuracy_m <= lg_ns_accuracy_bounds_m[b])
      atomic_fetch_add(&ns->m.accuracy_le[b], 1);
  atomic_fetch_add(&ns->m.accuracy_sum_mm, (uint64_t)llround(fmin(fix.accuracy_m, 1e9) * 1000));
  json_t *ev =
      json_pack("{s:f, s:f, s:f, s:f, s:f, s:s, s:i, s:I}", "latitude", event_deg(fix.lat_deg),
                "longitude", event_deg(fix.lon_deg), "altitude", event_m(fix.alt_m), "accuracy_m",
                event_m(fix.accuracy_m), "accuracy_95_m", event_m(fix.accuracy_95_m), "method",
                l.method, "gateways", fix.gateways_used, "f_cnt", (json_int_t)f->f_cnt);
  if (ev) json_object_set_new(ev, "timing_outliers", outliers);
  else json_decref(outliers);
  if (ev && tracked)
    json_object_set_new(ev, "track",
                        json_pack("{s:f, s:f, s:f, s:f, s:b}", "latitude", event_deg(tp.lat_deg),
                                  "longitude", event_deg(tp.lon_deg), "accuracy_m",
                                  event_m(tp.accuracy_m), "speed_mps", event_m(tp.speed_mps),
                                  "outlier", tp.outlier));
  event(ns, f->dev_eui, "location", ev);
}

void ns_attach_copy(struct lg_ns *ns, int64_t uplink_id, int64_t first_ns, const struct ns_rx *rx) {
  struct lg_reception_rec r;
  reception_of(ns, rx, &r);
  if (lg_store_reception_add(ns->store, uplink_id, &r, true) != 0) {
    ns_store_error(ns, "storing a late copy");
    return;
  }
  ns_log(ns, "late copy from %016llx attached to uplink %lld (%.0f ms after the first)",
         (unsigned long long)rx->gateway_eui, (long long)uplink_id,
         (double)(rx->received_ns - first_ns) / 1e6);
}

void ns_late_copy(struct lg_ns *ns, struct ns_frame *f, const struct ns_rx *rx) {
  if (f->uplink_id == 0 && f->ticket == 0) return; /* the frame was refused: nothing to attach to */
  if (ns->writer) {
    struct lg_reception_rec r;
    reception_of(ns, rx, &r);
    ns_write_late_rx(ns, f->ticket, &r);
    ns_log(ns, "late copy from %016llx attached to %016llx FCnt %u (%.0f ms after the first)",
           (unsigned long long)rx->gateway_eui, (unsigned long long)f->dev_eui, f->f_cnt,
           (double)(rx->received_ns - f->first_ns) / 1e6);
  } else {
    ns_attach_copy(ns, f->uplink_id, f->first_ns, rx);
  }
  ns->cur_ticket = f->ticket;
  locate(ns, f, NULL, true); /* one more reception may refine the position */
  ns->cur_ticket = 0;
}

/* ---- joins ------------------------------------------------------------------------- */

static void join(struct lg_ns *ns, struct ns_frame *f, const struct lg_frame *fr) {
  const struct lg_gw_rxpk *up = &f->rx[0].rxpk;
  const struct lg_join_request *jr = &fr->u.join_req;
  struct lg_device_rec d;
  if (f->from_journal) { /* its join-accept's moment has passed: the device joins again */
    atomic_fetch_add(&ns->m.journal_skipped, 1);
    return;
  }
  if (lg_store_device_get(ns->store, jr->dev_eui, &d) != 0 || !d.otaa ||
      d.join_eui != jr->join_eui) {
    ns_drop(ns, LG_DROP_UNKNOWN_DEVICE,
            "join-request from unknown DevEUI %016llx / JoinEUI %016llx",
            (unsigned long long)jr->dev_eui, (unsigned long long)jr->join_eui);
    return;
  }
  struct lg_key *app = ns_key(ns, d.app_key);
  uint8_t mic[4];
  if (app == NULL) return;
  lg_join_mic(app, up->data, up->size - 4, mic);
  if (memcmp(mic, fr->mic, 4) != 0) {
    ns_drop(ns, LG_DROP_MIC, "join-request from %016llx: wrong MIC",
            (unsigned long long)jr->dev_eui);
    return;
  }
  /* a device whose session ran (an uplink accepted on it) joining again has rebooted */
  bool rejoin = d.has_session && d.fcnt_up_next > 0;
  int rc = lg_store_devnonce_use(ns->store, jr->dev_eui, jr->dev_nonce);
  if (rc == LG_EEXIST) {
    ns_drop(ns, LG_DROP_DEVNONCE, "join-request from %016llx reuses DevNonce %u (replay?)",
            (unsigned long long)jr->dev_eui, jr->dev_nonce);
    return;
  }
  if (rc) {
    ns_drop(ns, LG_DROP_STORE, "join-request from %016llx: storage failed",
            (unsigned long long)jr->dev_eui);
    return;
  }
  /* DevAddr under the NetID: type-0 NetIDs give 7 NwkID bits on top (LoRaWAN Backend
   * Interfaces §13); the rest random, not used by another session. */
  uint32_t dev_addr = 0;
  for (int tries = 0; tries < 16; tries++) {
    dev_addr = ((ns->cfg.net_id & 0x7f) << 25) | (uint32_t)(ns_random(ns) & 0x1ffffff);
    bool used = true;
    if (lg_store_dev_addr_used(ns->store, dev_addr, &used) == 0 && !used) break;
  }
  struct lg_join_accept ja = {.join_nonce = (d.join_nonce + 1) & 0xffffff,
                              .net_id = ns->cfg.net_id,
                              .dev_addr = dev_addr,
                              .dl_settings = (uint8_t)(ns->region->rx2_dr & 0x0f),
                              .rx_delay = (uint8_t)(ns->region->receive_delay1_ns / 1000000000LL)};
  uint8_t nwk_s[16], app_s[16];
  struct ns_dl dl = {.rx1_delay_ns = ns->region->join_accept_delay1_ns,
                     .rx2_delay_ns = ns->region->join_accept_delay2_ns};
  size_t body = 0;
  dl.phy[0] = 0x20;
  if (lg_derive_session_keys_10(app, ja.join_nonce, ja.net_id, jr->dev_nonce, nwk_s, app_s) ||
      lg_join_accept_write(&ja, dl.phy + 1, sizeof(dl.phy) - 1, &body) ||
      lg_join_mic(app, dl.phy, 1 + body, dl.phy + 1 + body) ||
      lg_join_accept_encrypt(app, dl.phy + 1, body + 4, dl.phy + 1))
    return;
  dl.len = 1 + body + 4;
  if (lg_store_activate(ns->store, jr->dev_eui, dev_addr, ja.join_nonce, nwk_s, app_s)) {
    ns_drop(ns, LG_DROP_STORE, "join of %016llx: storage failed", (unsigned long long)jr->dev_eui);
    return;
  }
  if (lg_store_activation_add(ns->store, jr->dev_eui, dev_addr, ja.join_nonce, jr->dev_nonce,
                              ns_now(ns)) != 0)
    ns_store_error(ns, "recording an activation");
  atomic_fetch_add(&ns->m.joins, 1);
  char addr_hex[9];
  snprintf(addr_hex, sizeof(addr_hex), "%08x", dev_addr);
  event(ns, jr->dev_eui, "join",
        json_pack("{s:s, s:I, s:I}", "dev_addr", addr_hex, "join_nonce", (json_int_t)ja.join_nonce,
                  "dev_nonce", (json_int_t)jr->dev_nonce));
  ns_log(ns, "join: %016llx has DevAddr %08x (JoinNonce %u, DevNonce %u)",
         (unsigned long long)jr->dev_eui, dev_addr, ja.join_nonce, jr->dev_nonce);
  ns_txparam_reset(ns, jr->dev_eui); /* a new session starts from the region's defaults */
  if (rejoin) {
    char why[96];
    snprintf(why, sizeof(why), "unexpected rejoin (its session had reached FCnt %u)",
             d.fcnt_up_next - 1);
    ns_fleet_reboot(ns, &d, why);
  }
  dl.device_dwell = ns_device_downlink_dwell(ns, jr->dev_eui);
  ns_send_downlink(ns, f, &dl);
}

/* ---- data uplinks ----------------------------------------------------------------- */

struct session_match {
  struct lg_device_rec dev;
  uint32_t f_cnt;
  enum { M_NEW, M_RETRANSMISSION, M_RESET, M_REPLAY } kind;
  size_t candidates; /* sessions that use the DevAddr */
};

static bool mic_ok(struct lg_ns *ns, const struct lg_device_rec *d, const struct lg_gw_rxpk *up,
                   const struct lg_frame *fr, uint32_t f_cnt) {
  struct lg_key *k = ns_key(ns, d->nwk_s_key);
  uint8_t mic[4];
  if (k == NULL) return false;
  int rc = lg_data_mic(k, up->data, up->size - 4, fr->u.data.dev_addr, f_cnt, false, mic);
  return rc == 0 && memcmp(mic, fr->mic, 4) == 0;
}

/* Finds the session whose key verifies the frame, and what its counter means. */
static bool match_session(struct lg_ns *ns, const struct lg_gw_rxpk *up, const struct lg_frame *fr,
                          struct session_match *m) {
  struct lg_device_rec cand[MAX_CANDIDATES];
  size_t n = 0;
  if (ns_sessions_by_addr(ns, fr->u.data.dev_addr, cand, MAX_CANDIDATES, &n) != 0) {
    ns_store_error(ns, "reading the sessions of a DevAddr");
    n = 0;
  }
  m->candidates = n;
  uint16_t wire = fr->u.data.f_cnt16;
  for (size_t i = 0; i < n; i++) {
    uint32_t next = cand[i].fcnt_up_next;
    m->dev = cand[i];
    if (next > 0 && wire == (uint16_t)(next - 1) && mic_ok(ns, &cand[i], up, fr, next - 1)) {
      m->f_cnt = next - 1;
      m->kind = M_RETRANSMISSION;
      return true;
    }
    uint32_t ahead = lg_fcnt_extend(next, wire); /* the first counter >= next with these low bits */
    if (mic_ok(ns, &cand[i], up, fr, ahead)) {
      m->f_cnt = ahead;
      m->kind = M_NEW;
      return true;
    }
    uint32_t behind = ahead - 0x10000u; /* the same low bits, one epoch back: an old frame */
    if (ahead >= 0x10000u && mic_ok(ns, &cand[i], up, fr, behind)) {
      m->f_cnt = behind;
      /* behind == wire: the first epoch, which is also what a rebooted device sends */
      m->kind = behind == wire && cand[i].fcnt_resets_allowed ? M_RESET : M_REPLAY;
      return true;
    }
    if (wire < next && ahead != wire && mic_ok(ns, &cand[i], up, fr, wire)) {
      m->f_cnt = wire;
      m->kind = cand[i].fcnt_resets_allowed ? M_RESET : M_REPLAY;
      return true;
    }
  }
  return false;
}

/* DeviceTimeAns: GPS time at the end of the uplink, from the first reception that carries
 * a GPS time (tmms, else the gateway's GPS-synchronised "time"), else the server's clock. */
static void device_time(const struct ns_frame *f, uint8_t *answers,
                        size_t *ans_len) {
  int64_t gps_ns = -1;
  for (size_t k = 0; k < f->n && gps_ns < 0; k++) {
    const struct lg_gw_rxpk *r = &f->rx[k].rxpk;
    if (r->has_tmms)
      gps_ns = r->tmms_ms * 1000000LL;
    else if (r->has_time)
      gps_ns = lg_gw_unix_to_gps_ns(r->time_ns);
  }
  if (gps_ns < 0) gps_ns = lg_gw_unix_to_gps_ns(f->first_ns);
  struct lg_mac_cmd a = {.cid = LG_MAC_DEVICE_TIME, .uplink = false};
  a.u.device_time_ans.gps_seconds = (uint32_t)(gps_ns / 1000000000LL);
  a.u.device_time_ans.fraction = (uint8_t)((gps_ns % 1000000000LL) * 256 / 1000000000LL);
  lg_mac_encode(&a, answers, LG_FOPTS_MAX, ans_len);
}

/* MAC commands of an uplink; answers go into `answers` (FOpts of the reply). */
static void mac_commands(struct lg_ns *ns, const struct ns_frame *f, const struct lg_device_rec *d,
                         const uint8_t *buf, size_t len, uint8_t *answers, size_t *ans_len,
                         int up_dr) {
  struct lg_mac_cmd cmds[32];
  size_t count = 0, bad = 0;
  int rc = lg_mac_parse(buf, len, true, cmds, LG_ARRAY_LEN(cmds), &count, &bad);
  if (rc)
    ns_log(ns, "%016llx: MAC commands: %s at byte %zu", (unsigned long long)d->dev_eui,
           lg_strerror(rc), bad);
  for (size_t i = 0; i < count; i++) {
    const struct lg_mac_cmd *c = &cmds[i];
    if (c->cid == LG_MAC_LINK_CHECK) {
      /* Margin: best SNR over the demodulation floor of the uplink's data rate. */
      double floor_db = -20, best = -100;
      const struct lg_datarate *dr = lg_region_dr(ns->region, up_dr);
      if (dr) lg_lora_snr_floor_db(dr->sf, dr->bw_hz, &floor_db);
      for (size_t k = 0; k < f->n; k++)
        best = fmax(best, f->rx[k].rxpk.snr_db);
      struct lg_mac_cmd a = {.cid = LG_MAC_LINK_CHECK, .uplink = false};
      double margin = best - floor_db;
      a.u.link_check_ans.margin_db = (uint8_t)(margin < 0 ? 0 : margin > 254 ? 254 : margin);
      a.u.link_check_ans.gw_cnt = (uint8_t)distinct_gateways(f);
      lg_mac_encode(&a, answers, LG_FOPTS_MAX, ans_len);
    } else if (c->cid == LG_MAC_LINK_ADR) {
      ns_fleet_mac_answer(ns, d, c); /* a channel mask of the configuration shadow */
      /* LinkADRAns: all three bits set means the device took the pending settings. */
      if (!d->has_adr_pending) {
        /* not ADR's: the shadow's channel mask (fleet.c) */
      } else if (c->u.link_adr_ans.power_ack && c->u.link_adr_ans.dr_ack &&
          c->u.link_adr_ans.ch_mask_ack) {
        if (lg_store_adr_applied(ns->store, d->dev_eui) != 0) ns_store_error(ns, "applying ADR");
      } else {
        if (lg_store_adr_pending(ns->store, d->dev_eui, false, 0, 0, 0) != 0)
          ns_store_error(ns, "clearing a LinkADRReq");
        ns_log(ns, "%016llx refused LinkADRReq (power %d, data rate %d, channel mask %d)",
               (unsigned long long)d->dev_eui, c->u.link_adr_ans.power_ack,
               c->u.link_adr_ans.dr_ack, c->u.link_adr_ans.ch_mask_ack);
      }
    } else if (c->cid == LG_MAC_TX_PARAM_SETUP) {
      ns_txparam_answered(ns, d->dev_eui); /* its dwell settings are ours now (dwell.c) */
      ns_log(ns, "%016llx took the dwell-time settings (TxParamSetupAns)",
             (unsigned long long)d->dev_eui);
    } else if (c->cid == LG_MAC_DEV_STATUS) {
      if (lg_store_device_status(ns->store, d->dev_eui, c->u.dev_status_ans.battery,
                                 c->u.dev_status_ans.margin_db) != 0)
        ns_store_error(ns, "recording a DevStatusAns");
      event(ns, d->dev_eui, "status",
            json_pack("{s:i, s:i}", "battery", c->u.dev_status_ans.battery, "margin",
                      c->u.dev_status_ans.margin_db));
      ns_fleet_mac_answer(ns, d, c); /* battery and margin alarms */
    } else if (c->cid == LG_MAC_RX_PARAM_SETUP) {
      ns_fleet_mac_answer(ns, d, c); /* the configuration shadow's RX2 */
    } else if (c->cid == LG_MAC_DEVICE_TIME) {
      device_time(f, answers, ans_len);
    } else if (c->cid == LG_MAC_DEVICE_MODE) {
      /* DeviceModeInd: the device switched class; confirmed with the class it runs now */
      uint8_t cls = c->u.device_mode.device_class;
      if (cls == LG_DEVICE_CLASS_A || cls == LG_DEVICE_CLASS_C) {
        if (lg_store_device_class_set(ns->store, d->dev_eui, cls == LG_DEVICE_CLASS_C) != 0)
          ns_store_error(ns, "recording a DeviceModeInd");
        ns_log(ns, "%016llx: DeviceModeInd, now Class %c", (unsigned long long)d->dev_eui,
               cls == LG_DEVICE_CLASS_C ? 'C' : 'A');
      } else {
        cls = d->class_c ? LG_DEVICE_CLASS_C : LG_DEVICE_CLASS_A; /* RFU: stays as it was */
      }
      struct lg_mac_cmd a = {.cid = LG_MAC_DEVICE_MODE, .uplink = false};
      a.u.device_mode.device_class = cls;
      lg_mac_encode(&a, answers, LG_FOPTS_MAX, ans_len);
    } else {
      ns_log(ns, "%016llx: %s received", (unsigned long long)d->dev_eui, lg_mac_name(c->cid, true));
    }
  }
}

/* The network's plane, set at the first place the link map hears of (the lock held). */
static void links_frame(struct lg_ns *ns, double lat_deg, double lon_deg) {
  if (ns->links.framed) return;
  ns->links.origin[0] = lat_deg, ns->links.origin[1] = lon_deg;
  lg_enu_init(&ns->links.frame, &(struct lg_geodetic){lat_deg, lon_deg, 0});
  ns->links.framed = true;
}

/* After the map learned from an uplink (the lock held, and released here): its figures in
 * /metrics, and a save every NS_LINK_SAVE_EVERY such uplinks. */
static void links_learned(struct lg_ns *ns) {
  uint64_t refused = 0;
  size_t cells = lg_linkmap_size(ns->links.map, &refused);
  pthread_mutex_unlock(&ns->links.mu);
  atomic_store(&ns->m.adr_link_cells, cells);
  atomic_store(&ns->m.adr_link_refused, refused);
  atomic_fetch_add(&ns->m.adr_link_uplinks, 1);
  if (++ns->links_unsaved >= NS_LINK_SAVE_EVERY) ns_save_links(ns, true);
}

/* For eadr and predictive: the history's gateways, receptions and locations on the
 * network's plane (origin: the link map's, or the first gateway the hook saw), as
 * lg_adr_input wants them. */
static void adr_positions(struct lg_ns *ns, const struct lg_store_adr_uplink *sh,
                          struct lg_adr_uplink *h, size_t n, struct lg_adr_input *in,
                          struct lg_adr_gateway *gws, struct lg_adr_fix *fixes) {
  size_t ng = 0, nf = 0;
  for (size_t i = 0; i < n; i++) {
    int best = -1;
    for (int j = 0; j < sh[i].n_rx && j < LG_ADR_MAX_RX; j++) {
      const struct lg_store_adr_rx *r = &sh[i].rx[j];
      if (!ns->links.framed) { /* set once; the API reads it under the lock */
        pthread_mutex_lock(&ns->links.mu);
        links_frame(ns, r->lat_deg, r->lon_deg);
        pthread_mutex_unlock(&ns->links.mu);
      }
      size_t g = 0;
      while (g < ng && gws[g].id != r->gateway_eui)
        g++;
      if (g == ng) {
        if (ng == LG_ADR_MAX_GW) continue;
        double enu[3];
        lg_enu_from_geodetic(&ns->links.frame, &(struct lg_geodetic){r->lat_deg, r->lon_deg, 0},
                             enu);
        gws[ng++] = (struct lg_adr_gateway){enu[0], enu[1], r->gateway_eui};
      }
      h[i].rx[h[i].n_rx++] = (struct lg_adr_rx){(int)g, r->rssi_dbm};
      if (best < 0 || r->rssi_dbm > sh[i].rx[best].rssi_dbm) best = j;
    }
    if (best >= 0) h[i].best_gateway = h[i].rx[best].gateway;
    if (sh[i].has_fix && ns->links.framed) {
      double enu[3];
      lg_enu_from_geodetic(&ns->links.frame,
                           &(struct lg_geodetic){sh[i].fix_lat_deg, sh[i].fix_lon_deg, 0}, enu);
      fixes[nf++] =
          (struct lg_adr_fix){sh[i].received_ns, sh[i].f_cnt, enu[0], enu[1], sh[i].fix_accuracy_m};
    }
  }
  in->gateways = gws, in->n_gateways = ng;
  in->fixes = fixes, in->n_fixes = nf;
}

/* The network learns its links from a device predictive took to be static: its latest
 * uplink, heard or missed by each gateway that heard it in its history, at the median of
 * its fixes (four at least), as the simulator does. */
static void learn_links(struct lg_ns *ns, const struct lg_adr_input *in,
                        const struct lg_adr_decision *dec) {
  if (ns->links.map == NULL || dec->mobility.cls != LG_ADR_MOB_STATIC || in->n_fixes < 4 ||
      in->n == 0)
    return;
  double e[LG_ADR_HISTORY], n[LG_ADR_HISTORY];
  size_t k = in->n_fixes < LG_ADR_HISTORY ? in->n_fixes : LG_ADR_HISTORY;
  for (size_t i = 0; i < k; i++)
    e[i] = in->fixes[in->n_fixes - k + i].e_m, n[i] = in->fixes[in->n_fixes - k + i].n_m;
  pthread_mutex_lock(&ns->links.mu);
  lg_linkmap_uplink(ns->links.map, in, in->n - 1, lg_median(e, k), lg_median(n, k));
  links_learned(ns);
}

/* A reference device says where it is (its payload): whatever its ADR, each gateway that
 * heard this uplink learns its link at that place, and each gateway that has learned there
 * before and missed it learns that its level was below the data rate's sensitivity (one
 * never heard there is not counted: it may be off, far or new). */
static void learn_reference_links(struct lg_ns *ns, const struct ns_frame *f,
                                  const struct lg_geodetic *truth, int dr, int txp) {
  double sens;
  int eirp = 14;
  if (ns->links.map == NULL || lg_adr_sensitivity_dbm(ns->region, dr, &sens) != 0) return;
  lg_region_tx_power_dbm(ns->region, txp, &eirp);
  pthread_mutex_lock(&ns->links.mu);
  links_frame(ns, truth->lat_deg, truth->lon_deg);
  double enu[3];
  lg_enu_from_geodetic(&ns->links.frame, &(struct lg_geodetic){truth->lat_deg, truth->lon_deg, 0},
                       enu);
  for (size_t i = 0; i < f->n; i++) /* heard (one reception per gateway: issue 15) */
    if (f->rx[i].rxpk.has_rssi)
      lg_linkmap_heard(ns->links.map, f->rx[i].gateway_eui, enu[0], enu[1],
                       f->rx[i].rxpk.rssi_dbm - eirp);
  struct ns_gateway *g, *gt;
  HASH_ITER(hh, ns->gateways, g, gt) { /* missed, where it has heard before */
    bool heard = false;
    for (size_t i = 0; i < f->n && !heard; i++)
      heard = f->rx[i].gateway_eui == g->eui;
    if (!heard && lg_linkmap_has(ns->links.map, g->eui, enu[0], enu[1]))
      lg_linkmap_missed(ns->links.map, g->eui, enu[0], enu[1], sens - eirp);
  }
  links_learned(ns);
}

/* The ADR hook: the device's history to its algorithm; a change goes out as LinkADRReq in
 * this uplink's answer and waits for its LinkADRAns. Every decision is stored with its
 * reason (GET /api/devices/{dev_eui}/adr). */
static void adr_step(struct lg_ns *ns, const struct lg_device_rec *d, const struct lg_uplink_rec *u,
                     bool adr_bit, uint8_t *answers, size_t *ans_len) {
  enum lg_adr_algo algo;
  if (lg_adr_algo_parse(d->adr, &algo) != 0 || algo == LG_ADR_OFF || u->dr < 0) return;
  static _Thread_local struct lg_store_adr_uplink sh[LG_ADR_HISTORY];
  static _Thread_local struct lg_adr_uplink h[LG_ADR_HISTORY];
  size_t n = 0;
  bool mobile = algo == LG_ADR_EADR || algo == LG_ADR_PREDICTIVE;
  if (lg_store_adr_history(ns->store, d->dev_eui, sh, LG_ADR_HISTORY, &n, mobile) != 0) return;
  for (size_t i = 0; i < n; i++)
    h[i] = (struct lg_adr_uplink){.f_cnt = sh[i].f_cnt,
                                  .dr = sh[i].dr,
                                  .tx_power_index = sh[i].tx_power_index,
                                  .max_snr_db = sh[i].max_snr_db,
                                  .max_rssi_dbm = sh[i].max_rssi_dbm,
                                  .gateways = sh[i].gateways,
                                  .best_gateway = -1,
                                  .t_ns = sh[i].received_ns,
                                  .size = sh[i].size};
  struct lg_adr_input in = {
      .region = ns->region,
      .history = h,
      .n = n,
      .current = {u->dr, d->tx_power_index, d->nb_trans > 0 ? d->nb_trans : 1},
      .adr_bit = adr_bit,
      /* its profile's margin, else the server's */
      .installation_margin_db =
          d->has_adr_margin ? d->adr_margin_db : ns->cfg.adr_installation_margin_db,
      /* its profile's target, else the server's (0: by mobility, adr.h) */
      .target_delivery = d->has_adr_target ? d->adr_target : ns->cfg.adr_target_delivery};
  struct lg_adr_gateway gws[LG_ADR_MAX_GW];
  struct lg_adr_fix fixes[LG_ADR_HISTORY];
  if (mobile) adr_positions(ns, sh, h, n, &in, gws, fixes);
  if (algo == LG_ADR_PREDICTIVE) in.links = ns->links.map;
  struct ns_fleet_limits lim; /* the device's configuration shadow (fleet.c) */
  ns_fleet_adr_limits(ns, d->dev_eui, &lim);
  if (lim.has_margin) in.installation_margin_db = lim.margin_db;
  struct lg_adr_decision dec;
  if (in.links) pthread_mutex_lock(&ns->links.mu); /* its laws are fitted when asked */
  int decided = lg_adr_decide(algo, &in, &dec);
  if (in.links) pthread_mutex_unlock(&ns->links.mu);
  if (decided != 0) return;
  if (algo == LG_ADR_PREDICTIVE) learn_links(ns, &in, &dec);
  if ((lim.has_max_dr && dec.next.dr > lim.max_dr) ||
      (lim.has_min_txp && dec.next.tx_power_index < lim.min_tx_power_index)) {
    if (lim.has_max_dr && dec.next.dr > lim.max_dr) dec.next.dr = lim.max_dr;
    if (lim.has_min_txp && dec.next.tx_power_index < lim.min_tx_power_index)
      dec.next.tx_power_index = lim.min_tx_power_index;
    size_t l = strlen(dec.reason);
    snprintf(dec.reason + l, sizeof(dec.reason) - l, "; within its configured caps");
    dec.change = dec.next.dr != in.current.dr || dec.next.tx_power_index !=
                 in.current.tx_power_index || dec.next.nb_trans != in.current.nb_trans;
  }
  /* Under a 400 ms dwell time no LinkADRReq may ask for a data rate at which the device's
   * frames (this one's size) would stay on air longer, nor one RP002 forbids under it. */
  int min_dr = ns_dwell_min_uplink_dr(ns, d->dev_eui, u->phy_len);
  if (dec.next.dr < min_dr) {
    char why[sizeof(dec.reason)];
    snprintf(why, sizeof(why), "%.90s; DR%d raised to DR%d (400 ms dwell time)", dec.reason,
             dec.next.dr, min_dr);
    snprintf(dec.reason, sizeof(dec.reason), "%s", why);
    dec.next.dr = min_dr;
    dec.change = dec.next.dr != in.current.dr || dec.next.tx_power_index !=
                 in.current.tx_power_index || dec.next.nb_trans != in.current.nb_trans;
  }
  atomic_fetch_add(&ns->m.adr_decisions[dec.change ? 1 : 0], 1);
  struct lg_store_adr_decision rec = {.dev_eui = d->dev_eui,
                                      .f_cnt = u->f_cnt,
                                      .change = dec.change,
                                      .dr_from = in.current.dr,
                                      .dr_to = dec.next.dr,
                                      .tx_power_from = in.current.tx_power_index,
                                      .tx_power_to = dec.next.tx_power_index,
                                      .nb_trans_from = in.current.nb_trans,
                                      .nb_trans_to = dec.next.nb_trans,
                                      .snr_margin_db = dec.snr_margin_db,
                                      .created_ns = ns_now(ns)};
  snprintf(rec.algorithm, sizeof(rec.algorithm), "%s", lg_adr_algo_name(algo));
  snprintf(rec.reason, sizeof(rec.reason), "%s", dec.reason);
  if (!dec.change) {
    if (lg_store_adr_decision_add(ns->store, &rec) != 0) ns_store_error(ns, "recording ADR");
    return;
  }
  /* Channel mask: the region's (EU-style plans: the default channels, ChMaskCntl 0;
   * US915/AU915: all 125 kHz channels on and the 500 kHz ones by the mask, ChMaskCntl 6). */
  struct lg_mac_cmd req = {.cid = LG_MAC_LINK_ADR, .uplink = false};
  req.u.link_adr_req.dr = (uint8_t)dec.next.dr;
  req.u.link_adr_req.tx_power = (uint8_t)dec.next.tx_power_index;
  req.u.link_adr_req.ch_mask = lim.has_ch_mask ? lim.ch_mask : ns->region->link_adr_ch_mask;
  req.u.link_adr_req.ch_mask_cntl =
      (uint8_t)(lim.has_ch_mask ? 0 : ns->region->link_adr_ch_mask_cntl);
  req.u.link_adr_req.nb_trans = (uint8_t)dec.next.nb_trans;
  if (lg_mac_encode(&req, answers, LG_FOPTS_MAX, ans_len) != 0) {
    snprintf(rec.reason, sizeof(rec.reason), "not sent (no room in FOpts): %.120s", dec.reason);
    rec.change = false;
    if (lg_store_adr_decision_add(ns->store, &rec) != 0) ns_store_error(ns, "recording ADR");
    return;
  }
  if (lg_store_adr_decision_add(ns->store, &rec) != 0) ns_store_error(ns, "recording ADR");
  event(ns, d->dev_eui, "adr",
        json_pack("{s:i, s:i, s:i, s:s}", "dr", dec.next.dr, "tx_power_index",
                  dec.next.tx_power_index, "nb_trans", dec.next.nb_trans, "reason", dec.reason));
  if (lg_store_adr_pending(ns->store, d->dev_eui, true, dec.next.dr, dec.next.tx_power_index,
                           dec.next.nb_trans) != 0)
    ns_store_error(ns, "recording a LinkADRReq");
}

/* The most FRMPayload bytes a queued downlink may carry in this answer: what RX1's data
 * rate allows (the region's M, under dwell its dwell table's, and 400 ms on air under
 * downlink dwell) less the frame's overhead (MHDR, FHDR with FOpts, FPort, MIC). */
static size_t queue_cap(struct lg_ns *ns, const struct ns_frame *f, bool device_dwell,
                        size_t fopts_len) {
  const struct lg_gw_rxpk *up = &f->rx[0].rxpk;
  int up_dr = 0, rx1_dr = 0;
  if (lg_region_dr_for(ns->region, up->sf, up->bw_hz, true, &up_dr) ||
      lg_region_rx1_dr_dwell(ns->region, up_dr, 0, device_dwell, &rx1_dr))
    return 242;
  size_t phy = ns_downlink_max_phy(ns, rx1_dr, device_dwell), overhead = 13 + fopts_len;
  size_t n = phy > overhead ? phy - overhead : 0;
  return n < 242 ? n : 242;
}

/* Builds and sends the Class A answer: ACK, MAC answers and/or one queued downlink. */
static void answer(struct lg_ns *ns, const struct ns_frame *f, const struct lg_device_rec *d,
                   bool ack, const uint8_t *fopts, size_t fopts_len) {
  bool device_dwell = ns_device_downlink_dwell(ns, d->dev_eui);
  struct ns_dl dl = {.rx1_delay_ns = ns->region->receive_delay1_ns,
                     .rx2_delay_ns = ns->region->receive_delay2_ns,
                     .device_dwell = device_dwell};
  struct ns_fleet_limits lim; /* RX2 as its RXParamSetupAns accepted */
  ns_fleet_adr_limits(ns, d->dev_eui, &lim);
  if (lim.has_rx)
    dl.own_rx = true, dl.rx1_dr_offset = lim.rx1_dr_offset, dl.rx2_dr = lim.rx2_dr,
    dl.rx2_freq_hz = lim.rx2_freq_hz;
  struct ns_down_info in;
  bool built = ns_data_down(ns, d, ack, fopts, fopts_len, queue_cap(ns, f, device_dwell, fopts_len),
                            &dl, &in);
  if (in.discarded)
    event(ns, d->dev_eui, "queue_discarded",
          json_pack("{s:i, s:I, s:I, s:s}", "f_port", in.f_port_discarded, "bytes",
                    (json_int_t)in.len_discarded, "max_bytes", (json_int_t)in.cap, "reason",
                    "larger than the downlink's data rate allows (dwell time or region limit)"));
  if (!built) return;
  dl.has_f_cnt = true, dl.f_cnt = in.f_cnt;
  ns_send_downlink(ns, f, &dl);
  if (lg_store_downlink_add(ns->store, d->dev_eui, in.f_cnt, in.f_port, in.confirmed, ack,
                            fopts_len, ns_now(ns)) != 0 ||
      ns_downlink_event(ns, d->dev_eui, &in, ack, fopts_len, "A") != 0)
    ns_store_error(ns, "recording a downlink");
  if (in.confirmed) ns_nack_awaiting(ns, d->dev_eui, true);
}

/* The frame's session and counter: true when it is a new uplink to store (m filled in);
 * false when it ends here — no session verifies it, a replay, a retransmission (its ACK
 * said again when lost), or a journal record stored before the stop. */
static bool accept_frame(struct lg_ns *ns, struct ns_frame *f, const struct lg_frame *fr,
                         struct session_match *m) {
  const struct lg_gw_rxpk *up = &f->rx[0].rxpk;
  const struct lg_data_frame *df = &fr->u.data;
  bool confirmed = fr->mtype == LG_MTYPE_CONFIRMED_UP;
  /* The counter's compare-and-set fails when another instance accepted one of the
   * device's frames since the device was read: read it again and judge again. */
  for (int attempt = 0;; attempt++) {
    if (!match_session(ns, up, fr, m)) {
      ns_drop(ns, LG_DROP_MIC, "DevAddr %08x FCnt %u: no session's key verifies the MIC",
              df->dev_addr, df->f_cnt16);
      if (m->candidates > 0) ns_fleet_mic_failure(ns, df->dev_addr); /* a DevAddr of ours */
      return false;
    }
    f->dev_eui = m->dev.dev_eui;
    f->f_cnt = m->f_cnt;
    /* A frame picked up from an instance that died (cluster.c) comes seconds late: the
     * device's counter may have moved past it. It was accepted then; it is kept if no
     * uplink with its counter was stored since it was sent, and never answered (its
     * receive windows have passed). */
    if (f->recovered && m->kind != M_NEW && m->kind != M_RESET &&
        lg_store_uplink_has(ns->store, m->dev.dev_eui, m->f_cnt, f->first_ns - 60000000000LL) ==
            0) {
      ns_log(ns, "%016llx: FCnt %u kept, received by a silent instance %.1f s ago",
             (unsigned long long)m->dev.dev_eui, m->f_cnt,
             (double)(ns_now(ns) - f->first_ns) / 1e9);
      return true;
    }
    if (f->from_journal && (m->kind == M_REPLAY || m->kind == M_RETRANSMISSION)) {
      atomic_fetch_add(&ns->m.journal_skipped, 1); /* stored before the stop: not again */
      return false;
    }
    if (m->kind == M_REPLAY) {
      ns_drop(ns, LG_DROP_REPLAY, "%016llx: FCnt %u replayed (expected %u or more)",
              (unsigned long long)m->dev.dev_eui, m->f_cnt, m->dev.fcnt_up_next);
      return false;
    }
    if (m->kind == M_RETRANSMISSION) {
      atomic_fetch_add(&ns->m.retransmissions, 1);
      if (confirmed && ns_ack_take(ns, m->dev.dev_eui, m->f_cnt, true, m->dev.nb_trans))
        answer(ns, f, &m->dev, true, NULL, 0); /* the ACK was lost: say it again */
      return false;
    }
    if (ns->writer) { /* the compare-and-set goes with the uplink's write (behind.c) */
      ns_session_accepted(ns, df->dev_addr, m->dev.dev_eui, m->f_cnt);
      return true;
    }
    if (lg_store_fcnt_up_cas(ns->store, m->dev.dev_eui, m->dev.fcnt_up_next, m->f_cnt, -1) == 0)
      return true;
    if (attempt == 2) {
      ns_drop(ns, LG_DROP_REPLAY, "%016llx: FCnt %u taken concurrently",
              (unsigned long long)m->dev.dev_eui, m->f_cnt);
      return false;
    }
  }
}

/* The uplink's record: its payload decrypted, its MAC commands run (their answers in
 * answers), and a reference device's position from its payload as the truth (*has_truth). */
static void uplink_record(struct lg_ns *ns, const struct ns_frame *f, const struct lg_frame *fr,
                          const struct session_match *m, struct lg_uplink_rec *u, uint8_t *answers,
                          size_t *ans_len, struct lg_geodetic *truth) {
  const struct lg_gw_rxpk *up = &f->rx[0].rxpk;
  const struct lg_data_frame *df = &fr->u.data;
  memset(u, 0, sizeof(*u));
  u->dev_eui = m->dev.dev_eui;
  u->dev_addr = df->dev_addr;
  u->f_cnt = m->f_cnt;
  u->f_port = df->has_f_port ? df->f_port : -1;
  u->confirmed = fr->mtype == LG_MTYPE_CONFIRMED_UP;
  u->adr = df->fctrl & LG_FCTRL_ADR;
  u->dr = -1;
  lg_region_dr_for(ns->region, up->sf, up->bw_hz, true, &u->dr);
  u->freq_hz = up->freq_hz;
  memcpy(u->phy, up->data, up->size);
  u->phy_len = up->size;
  u->received_ns = f->rx[0].received_ns;
  u->tx_power_index = m->dev.tx_power_index;
  if (df->has_f_port) {
    struct lg_key *k =
        ns_key(ns, df->f_port == 0 ? lg_device_nwk_enc_key(&m->dev) : m->dev.app_s_key);
    if (k)
      lg_payload_crypt(k, df->dev_addr, m->f_cnt, false, df->frm_payload, df->frm_payload_len,
                       u->data);
    u->data_len = df->frm_payload_len;
    if (df->f_port == 0)
      mac_commands(ns, f, &m->dev, u->data, u->data_len, answers, ans_len, u->dr);
  }
  if (df->f_opts_len)
    mac_commands(ns, f, &m->dev, df->f_opts, df->f_opts_len, answers, ans_len, u->dr);
  if (m->dev.reference && df->has_f_port && df->f_port > 0) { /* it says where it is */
    char why[160];
    if (lg_codec_position(u->data, u->data_len, truth, NULL, why, sizeof(why)) == 0) {
      u->has_truth = true;
      u->truth_lat_deg = truth->lat_deg;
      u->truth_lon_deg = truth->lon_deg;
      u->truth_alt_m = truth->alt_m;
    } else {
      atomic_fetch_add(&ns->m.reference_payload_errors, 1);
      ns_log(ns, "reference device %016llx FCnt %u: no position in its payload: %s",
             (unsigned long long)m->dev.dev_eui, m->f_cnt, why);
    }
  }
}

/* The ACK bit answers our latest confirmed downlink; without it, a confirmed downlink the
 * device did not get counts against it (nack.c). */
static void ack_bit(struct lg_ns *ns, uint64_t dev_eui, bool ack) {
  uint32_t acked = 0;
  if (ack && lg_store_downlink_acked(ns->store, dev_eui, ns_now(ns), &acked) == 0) {
    ns_log(ns, "%016llx acknowledged confirmed downlink FCnt %u", (unsigned long long)dev_eui,
           acked);
    event(ns, dev_eui, "ack",
          json_pack("{s:I, s:b}", "f_cnt_down", (json_int_t)acked, "acknowledged", 1));
    ns_nack_awaiting(ns, dev_eui, false);
  } else if (!ack) {
    ns_nack_uplink(ns, dev_eui);
  }
}

/* The uplink and its receptions written: queued for the storage thread (with the
 * counter's compare-and-set and the `up` event), or, without one, here. False: not. */
static bool store_uplink(struct lg_ns *ns, struct ns_frame *f, const struct lg_uplink_rec *u,
                         bool reset, uint32_t fcnt_expected) {
  struct lg_reception_rec rx[LG_GEO_MAX_RX];
  for (size_t i = 0; i < f->n; i++)
    reception_of(ns, &f->rx[i], &rx[i]);
  if (ns->writer) {
    f->ticket = ns_write_uplink(ns, u, rx, f->n, reset, fcnt_expected, distinct_gateways(f));
    if (f->ticket == 0) return false;
    ns->cur_ticket = f->ticket; /* counted in lorageo_uplinks_total once committed */
    return true;
  }
  if (lg_store_uplink_add(ns->store, u, rx, f->n, &f->uplink_id) != 0) {
    ns_drop(ns, LG_DROP_STORE, "%016llx FCnt %u: storing the uplink failed",
            (unsigned long long)u->dev_eui, u->f_cnt);
    return false;
  }
  atomic_fetch_add(&ns->m.uplinks, 1);
  /* MQTT's `up` is the uplink as the API shows it, built from the records in hand */
  if (ns->io.on_event) ns_event(ns, u->dev_eui, "up", lg_store_uplink_json_of(u, rx, f->n));
  json_t *up_ev = json_pack("{s:I, s:I, s:i, s:I, s:b, s:b, s:i}", "uplink_id",
                            (json_int_t)f->uplink_id, "f_cnt", (json_int_t)u->f_cnt, "f_port",
                            u->f_port, "frequency", (json_int_t)u->freq_hz, "confirmed",
                            u->confirmed, "adr", u->adr, "gateways", distinct_gateways(f));
  if (up_ev && lg_store_event_add(ns->store, u->dev_eui, "up", up_ev, ns_now(ns)) != 0)
    ns_store_error(ns, "recording an event");
  return true;
}

/* What goes back in the receive windows: ADR's step, dwell settings, the configuration
 * shadow, the ACK of a confirmed uplink, and the MAC answers so far. */
static void answer_uplink(struct lg_ns *ns, const struct ns_frame *f, const struct lg_device_rec *d,
                          const struct lg_uplink_rec *u, bool adr_bit, uint8_t *answers,
                          size_t ans_len) {
  struct lg_device_rec now_dev; /* after this uplink's LinkADRAns, if any */
  /* With storage behind: no ADR, no read; with ADR, its history must hold this uplink and
   * the ones before it, so the packet thread waits for their commit (a cost only devices
   * with ADR pay; an in-memory history is what would remove it). */
  bool have_dev;
  if (ns->writer && strcmp(d->adr, "off") == 0)
    now_dev = *d, have_dev = true;
  else
    have_dev = (ns->writer == NULL || ns_writer_wait(ns)) &&
               lg_store_device_get(ns->store, d->dev_eui, &now_dev) == 0;
  if (have_dev) adr_step(ns, &now_dev, u, adr_bit, answers, &ans_len);
  ns_txparam_request(ns, d->dev_eui, answers, &ans_len); /* dwell settings (dwell.c) */
  ns_fleet_answer(ns, have_dev ? &now_dev : d, u->dr, answers, &ans_len); /* the shadow */
  if (u->confirmed) ns_ack_take(ns, d->dev_eui, u->f_cnt, false, d->nb_trans);
  answer(ns, f, d, u->confirmed, answers, ans_len);
}

/* A data uplink: accepted (session, counter), recorded, stored, located, learned from,
 * answered. */
static void data_uplink(struct lg_ns *ns, struct ns_frame *f, const struct lg_frame *fr) {
  const struct lg_data_frame *df = &fr->u.data;
  struct session_match m;
  if (!accept_frame(ns, f, fr, &m)) return;
  if (m.kind == M_RESET) {
    char why[64];
    snprintf(why, sizeof(why), "frame counter reset to %u (expected %u)", m.f_cnt,
             m.dev.fcnt_up_next);
    ns_fleet_reboot(ns, &m.dev, why);
    ns_log(ns, "%016llx: frame counter reset to %u", (unsigned long long)m.dev.dev_eui, m.f_cnt);
    event(ns, m.dev.dev_eui, "reset",
          json_pack("{s:I, s:I}", "f_cnt", (json_int_t)m.f_cnt, "f_cnt_expected",
                    (json_int_t)m.dev.fcnt_up_next));
  }
  struct lg_uplink_rec u;
  struct lg_geodetic truth;
  uint8_t answers[LG_FOPTS_MAX];
  size_t ans_len = 0;
  uplink_record(ns, f, fr, &m, &u, answers, &ans_len, &truth);
  ack_bit(ns, m.dev.dev_eui, df->fctrl & LG_FCTRL_ACK);
  if (!store_uplink(ns, f, &u, m.kind == M_RESET, m.dev.fcnt_up_next)) return;
  ns_fleet_uplink(ns, &m.dev, m.f_cnt, u.f_port, u.data, u.data_len); /* alarms, life cycle */
  locate(ns, f, u.has_truth ? &truth : NULL, false);
  if (u.has_truth) learn_reference_links(ns, f, &truth, u.dr, u.tx_power_index);
  ns_dwell_uplink_check(ns, f);                /* counted, not dropped: dwell.c says why */
  if (f->recovered || f->from_journal) return; /* its receive windows are long gone */
  answer_uplink(ns, f, &m.dev, &u, df->fctrl & LG_FCTRL_ADR, answers, ans_len);
}

bool ns_frame_worth(struct lg_ns *ns, const struct lg_gw_rxpk *r, enum lg_shed *why) {
  struct lg_frame fr;
  *why = LG_SHED_MIC;
  if (lg_frame_decode(r->data, r->size, &fr) != 0) return false;
  if (fr.mtype == LG_MTYPE_JOIN_REQUEST) {
    struct lg_device_rec d;
    const struct lg_join_request *jr = &fr.u.join_req;
    if (lg_store_device_get(ns->store, jr->dev_eui, &d) != 0 || !d.otaa ||
        d.join_eui != jr->join_eui) {
      *why = LG_SHED_UNKNOWN_DEVICE;
      return false;
    }
    struct lg_key *app = ns_key(ns, d.app_key);
    uint8_t mic[4];
    return app && lg_join_mic(app, r->data, r->size - 4, mic) == 0 &&
           memcmp(mic, fr.mic, 4) == 0;
  }
  if (fr.mtype != LG_MTYPE_UNCONFIRMED_UP && fr.mtype != LG_MTYPE_CONFIRMED_UP) return false;
  struct session_match m;
  if (match_session(ns, r, &fr, &m)) return true;
  size_t n = 0;
  struct lg_device_rec one;
  if (lg_store_devices_by_addr(ns->store, fr.u.data.dev_addr, &one, 1, &n) == 0 && n == 0)
    *why = LG_SHED_UNKNOWN_DEVICE;
  return false;
}

void ns_process_frame(struct lg_ns *ns, struct ns_frame *f) {
  ns->frame_ns = f->first_ns; /* what the fleet observes happened then (fleet.c) */
  const struct lg_gw_rxpk *up = &f->rx[0].rxpk;
  struct lg_frame fr;
  int rc = lg_frame_decode(up->data, up->size, &fr);
  if (rc) {
    ns_drop(ns, LG_DROP_PHY, "PHYPayload of %zu bytes: %s", up->size, lg_strerror(rc));
    return;
  }
  switch (fr.mtype) {
  case LG_MTYPE_JOIN_REQUEST: join(ns, f, &fr); break;
  case LG_MTYPE_UNCONFIRMED_UP:
  case LG_MTYPE_CONFIRMED_UP: data_uplink(ns, f, &fr); break;
  default: ns_drop(ns, LG_DROP_MTYPE, "%s from a gateway", lg_mtype_name(fr.mtype)); break;
  }
  ns->cur_ticket = 0;
  ns->frame_ns = 0;
}
