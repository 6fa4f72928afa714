/*
 * The network's side of an offline run, in-process: the receptions of a frame gathered
 * (what the server's de-duplication does), the FCnt checked, ADR run with the server's
 * own algorithm (adr/), a Class A downlink answered through the best gateway in RX1 or
 * RX2 within the gateway's duty cycle, and the frame located with the server's solvers
 * (geo/). Frames are not encrypted here: both ends are in one process, and the live
 * mode (live.c) is where the codec and the real server are exercised.
 *
 * Not modelled offline (stated in docs/simulator.md): downlink collisions and the
 * gateway being deaf while it transmits.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"
#include "util/util.h"

/* A downlink of `size` bytes answering `t`, as the server sends it: RX1 (the uplink's
 * channel and DR) through the gateways that heard it best first (up to 4, as
 * ns/downlink.c), each within its sub-band's duty cycle, then RX2 the same way. */
static bool downlink(struct sim *s, struct tx *t, const struct reception *const *by_rssi, int n,
                     int size) {
  const struct lg_region *r = s->sc->region;
  int64_t d1 = t->kind == TX_JOIN ? r->join_accept_delay1_ns : r->receive_delay1_ns;
  int64_t d2 = t->kind == TX_JOIN ? r->join_accept_delay2_ns : r->receive_delay2_ns;
  s->tot.downlinks++;
  bool reach = false;
  for (int w = 1; w <= 2; w++) {
    int dr = r->rx2_dr;
    uint32_t freq = r->rx2_freq_hz;
    if (w == 1) {
      lg_region_rx1_dr(r, t->dr, 0, &dr);
      lg_region_rx1_freq(r, t->freq_hz, &freq);
    }
    const struct lg_datarate *d = lg_region_dr(r, dr);
    const struct lg_subband *b = lg_region_subband(r, freq);
    int64_t at = t->end_ns + (w == 1 ? d1 : d2);
    int band = b ? (int)((b - r->subbands) % SIM_MAX_BANDS) : -1;
    double p = b ? b->max_erp_dbm : r->default_max_eirp_dbm, snr, sens;
    lg_lora_snr_floor_db(d->sf, d->bw_hz, &snr);
    sens = lg_lora_noise_floor_dbm(d->bw_hz, 6) + snr;
    struct lg_lora_tx lt = lg_lora_tx_lorawan(d->sf, d->bw_hz);
    lt.crc = false;
    struct lg_airtime air;
    lg_lora_airtime(&lt, (size_t)size, &air);
    for (int k = 0; k < n && k < 4; k++) {
      struct gw_state *gs = &s->gw[by_rssi[k]->gw];
      /* reach: the uplink's path loss, at the gateway's power (max ERP of the band) */
      if (by_rssi[k]->rssi - t->power_dbm + p < sens) continue;
      reach = true;
      if (s->sc->duty_cycle && b && gs->band_free_ns[band] > at) continue;
      if (s->sc->duty_cycle && b)
        gs->band_free_ns[band] =
            at + air.time_on_air_ns + lg_duty_cycle_off_ns(air.time_on_air_ns, b->duty_cycle);
      gs->downlinks++;
      t->dl_window = w;
      t->dl_toa_ns = air.time_on_air_ns;
      return true;
    }
  }
  if (reach)
    s->tot.downlinks_dc_blocked++;
  else
    s->tot.downlinks_out_of_reach++;
  return false;
}

/* The receptions of a frame the gateways decoded, as the solver takes them (each
 * gateway's ECEF handed over: the solver need not convert it again). */
static size_t frame_receptions(const struct sim *s, const struct tx *t,
                               struct lg_geo_rx rx[LG_GEO_MAX_RX]) {
  size_t n = 0;
  for (uint32_t ri = t->rx_head; ri != UINT32_MAX && n < LG_GEO_MAX_RX; ri = s->rxs[ri].next) {
    const struct reception *r = &s->rxs[ri];
    if (r->lost) continue;
    const struct lg_sim_gateway *gw = &s->sc->gateways[r->gw];
    rx[n] = (struct lg_geo_rx){.lat_deg = gw->lat_deg,
                               .lon_deg = gw->lon_deg,
                               .alt_m = gw->alt_m,
                               .has_time = true,
                               .time_ns = r->stamp_ns,
                               .has_rssi = true,
                               .rssi_dbm = r->rssi,
                               .has_ecef = true};
    memcpy(rx[n++].ecef, gw->ecef, sizeof(gw->ecef));
  }
  return n;
}

/* A fix of this uplink for a mobility-aware ADR: the server's solver (auto), as the
 * server would have it; none when fewer than 3 gateways heard the frame. */
static void adr_fix(struct sim *s, const struct tx *t, struct device *d) {
  struct lg_geo_rx rx[LG_GEO_MAX_RX];
  size_t n = frame_receptions(s, t, rx);
  struct lg_geo_opts o = lg_geo_opts_default();
  o.sigma_ns = s->sc->geo_sigma_ns;
  o.sigma_prior_dof = 1e9; /* the scenario states its timing noise */
  o.device_alt_m = s->sc->groups[d->group].alt_m;
  struct lg_geo_fix fix;
  if (n < 3 || lg_geo_solve(s->solver, rx, n, &o, &fix, NULL, 0)) return;
  double enu[3];
  lg_enu_from_geodetic(&s->enu, &(struct lg_geodetic){fix.lat_deg, fix.lon_deg, 0}, enu);
  struct adr_track *k = d->trk;
  k->fix[k->pos] = (struct lg_adr_fix){t->end_ns, t->f_cnt, enu[0], enu[1], fix.accuracy_m};
  k->pos = (uint8_t)((k->pos + 1) % SIM_ADR_FIXES);
  if (k->n < SIM_ADR_FIXES) k->n++;
}

/* The network learns its links from a device it takes to be static: its latest uplink,
 * heard or missed by each gateway, at the median of its fixes (four at least). */
static void learn_link(struct sim *s, const struct lg_adr_input *in) {
  double e[SIM_ADR_FIXES], n[SIM_ADR_FIXES];
  size_t k = in->n_fixes < SIM_ADR_FIXES ? in->n_fixes : SIM_ADR_FIXES;
  if (k < 4 || in->n == 0) return;
  for (size_t i = 0; i < k; i++)
    e[i] = in->fixes[in->n_fixes - k + i].e_m, n[i] = in->fixes[in->n_fixes - k + i].n_m;
  lg_linkmap_uplink(s->linkmap, in, in->n - 1, lg_median(e, k), lg_median(n, k));
}

static void adr(struct sim *s, struct device *d, const struct tx *t, const struct reception *best,
                int gws) {
  struct adr_ring *r = d->ah;
  if (r == NULL) return; /* ADR off: the network keeps no history */
  if (d->trk) {          /* mobility-aware ADR: keep every gateway's reception of this uplink */
    uint8_t k = 0;
    for (uint32_t ri = t->rx_head; ri != UINT32_MAX && k < LG_ADR_MAX_RX; ri = s->rxs[ri].next)
      if (!s->rxs[ri].lost) {
        d->trk->rx[r->pos][k].gw = (uint16_t)s->rxs[ri].gw;
        d->trk->rx[r->pos][k++].rssi = s->rxs[ri].rssi;
      }
    d->trk->n_rx[r->pos] = k;
  }
  struct adr_hist *h = &r->h[r->pos];
  *h = (struct adr_hist){best->snr,
                         best->rssi,
                         t->f_cnt,
                         (uint32_t)(t->end_ns / 1000000),
                         (uint16_t)best->gw,
                         (uint8_t)t->dr,
                         (uint8_t)d->txp_index,
                         (uint8_t)gws,
                         (uint8_t)(t->size > 255 ? 255 : t->size)};
  r->pos = (uint8_t)((r->pos + 1) % SIM_ADR_HIST);
  if (r->n < SIM_ADR_HIST) r->n++;
  const struct lg_sim_group *g = &s->sc->groups[d->group];
  if (g->adr == LG_ADR_OFF || !t->adr) return;
  struct lg_adr_uplink up[SIM_ADR_HIST];
  for (int i = 0; i < r->n; i++) {
    const struct adr_hist *x = &r->h[(r->pos + SIM_ADR_HIST - r->n + i) % SIM_ADR_HIST];
    int at = (r->pos + SIM_ADR_HIST - r->n + i) % SIM_ADR_HIST;
    up[i] = (struct lg_adr_uplink){.f_cnt = x->f_cnt,
                                   .dr = x->dr,
                                   .tx_power_index = x->txp,
                                   .max_snr_db = x->snr,
                                   .max_rssi_dbm = x->rssi,
                                   .gateways = x->gws,
                                   .best_gateway = x->best_gw,
                                   .t_ns = (int64_t)x->t_ms * 1000000,
                                   .size = x->size};
    for (int j = 0; d->trk && j < d->trk->n_rx[at]; j++)
      up[i].rx[up[i].n_rx++] = (struct lg_adr_rx){d->trk->rx[at][j].gw, d->trk->rx[at][j].rssi};
  }
  struct lg_adr_input in = {.region = s->sc->region,
                            .history = up,
                            .n = r->n,
                            .current = {d->dr, d->txp_index, d->nb_trans},
                            .adr_bit = true,
                            .installation_margin_db = 10,
                            .target_delivery = g->adr_target,
                            .standard_every = s->sc->standard_every,
                            .waspmote_modes = s->sc->waspmote_modes};
  struct lg_adr_fix fixes[SIM_ADR_FIXES];
  if (d->trk) { /* eadr, predictive: positions, gateways, the area, the period */
    adr_fix(s, t, d);
    for (int i = 0; i < d->trk->n; i++)
      fixes[i] = d->trk->fix[(d->trk->pos + SIM_ADR_FIXES - d->trk->n + i) % SIM_ADR_FIXES];
    in.fixes = fixes, in.n_fixes = d->trk->n;
    in.gateways = s->adr_gw, in.n_gateways = s->sc->n_gateways;
    if (!s->sc->adr_classify) /* told the model (the default), or classified as the server does */
      in.mobility = g->mobility == LG_SIM_STATIC ? LG_ADR_MOB_STATIC : LG_ADR_MOB_MOBILE;
    if (g->mobility == LG_SIM_WAYPOINT || g->mobility == LG_SIM_ZIGZAG ||
        g->mobility == LG_SIM_SQUARE) {
      in.has_bounds = true;
      in.bounds[0] = g->bx0, in.bounds[1] = g->by0, in.bounds[2] = g->bx1, in.bounds[3] = g->by1;
    }
    in.period_ns = (int64_t)(g->period_s * 1e9);
    in.links = s->linkmap;
  }
  struct lg_adr_decision dec;
  lg_adr_decide(g->adr, &in, &dec);
  sim_output_adr(s, t, d, &dec);
  if (g->adr == LG_ADR_PREDICTIVE && dec.mobility.cls == LG_ADR_MOB_STATIC)
    learn_link(s, &in);
  if (dec.mobility.classified) { /* scored against the truth: the mobility model */
    bool moves = g->mobility != LG_SIM_STATIC;
    if (dec.mobility.cls == LG_ADR_MOB_UNKNOWN)
      s->tot.mob_unknown++;
    else
      s->tot.mob_verdicts++,
          s->tot.mob_correct[moves] += (dec.mobility.cls == LG_ADR_MOB_MOBILE) == moves,
          s->tot.mob_truth[moves]++;
  }
  bool same = d->adr_pending && d->adr_next.dr == dec.next.dr &&
              d->adr_next.tx_power_index == dec.next.tx_power_index &&
              d->adr_next.nb_trans == dec.next.nb_trans;
  if (dec.change &&
      !same) { /* a new decision (one still waiting for a downlink is not counted again) */
    d->adr_pending = true;
    d->adr_next = dec.next;
    s->tot.adr_decisions++;
  }
}

static void locate(struct sim *s, struct tx *t, struct device *d) {
  const struct lg_sim_scenario *sc = s->sc;
  const struct lg_sim_group *g = &sc->groups[d->group];
  struct lg_geo_rx rx[LG_GEO_MAX_RX];
  size_t n = frame_receptions(s, t, rx);
  if (n < (size_t)sc->geo_min_gateways) return;
  sim_output_frame(s, t, d);
  for (int m = 0; m < LG_GEO_METHOD_COUNT; m++) {
    if (!(sc->geo_methods & (1u << m))) continue;
    struct lg_geo_opts o = lg_geo_opts_default();
    o.method = (enum lg_geo_method)m;
    o.min_gateways = sc->geo_min_gateways;
    o.sigma_ns = sc->geo_sigma_ns;
    o.sigma_prior_dof = 1e9; /* the scenario states its timing noise */
    o.device_alt_m = g->alt_m;
    o.pathloss = (struct lg_pathloss){t->power_dbm, sc->channel.pl0_db, sc->channel.d0_m,
                                      sc->channel.exponent, sc->channel.sigma_db};
    struct lg_geo_fix fix;
    s->geo[m].tried++;
    if (lg_geo_solve(s->solver, rx, n, &o, &fix, NULL, 0)) {
      s->geo[m].failed++;
      continue;
    }
    /* The horizontal error in the scenario's local frame: within a millimetre per
     * kilometre of the geodesic at a city's scale, for a tenth of a fix's cost. */
    double fe[3];
    lg_enu_from_geodetic(&s->enu,
                         &(struct lg_geodetic){fix.lat_deg, fix.lon_deg, s->enu.origin.alt_m}, fe);
    double err = sqrt((fe[0] - d->e) * (fe[0] - d->e) + (fe[1] - d->n) * (fe[1] - d->n));
    geo_stats_add(&s->geo[m], err);
    sim_output_fix(s, t, d, lg_geo_method_name((enum lg_geo_method)m), fix.lat_deg, fix.lon_deg,
                   err, fix.gateways_used);
    if (sc->geo_mean && g->mobility == LG_SIM_STATIC &&
        (sc->geo_methods & ~(1u << m)) < (1u << m)) {
      double enu[3]; /* the running mean of the first listed method's fixes */
      lg_enu_from_geodetic(&s->enu, &(struct lg_geodetic){fix.lat_deg, fix.lon_deg, 0}, enu);
      d->mean_sum_e += enu[0], d->mean_sum_n += enu[1], d->mean_count++;
    }
  }
}

void sim_offline_uplink(struct sim *s, struct tx *t, void *ctx) {
  (void)ctx;
  struct device *d = &s->dev[t->dev];
  const struct reception *top[4] = {NULL}; /* the 4 best receptions, strongest first */
  int gws = 0, n = 0;
  for (uint32_t ri = t->rx_head; ri != UINT32_MAX; ri = s->rxs[ri].next) {
    const struct reception *r = &s->rxs[ri];
    if (r->lost) continue;
    gws++;
    int k = n < 4 ? n++ : 4;
    while (k > 0 && top[k - 1]->rssi < r->rssi) {
      if (k < 4) top[k] = top[k - 1];
      k--;
    }
    if (k < 4) top[k] = r;
  }
  if (n == 0) return;
  const struct reception *best = top[0];
  if (s->sc->geo_methods && !s->live) locate(s, t, d);
  if (t->kind == TX_RAW) return;
  if (t->kind == TX_JOIN) {
    if (downlink(s, t, top, n, 17)) /* join-accept without CFList */
      sim_device_downlink(s, d, &(struct dl_effect){.join_accept = true, .dev_addr = d->dev_addr});
    return;
  }
  bool fresh = !d->net_has_f_cnt || t->f_cnt > d->net_f_cnt;
  if (fresh) {
    d->net_f_cnt = t->f_cnt, d->net_has_f_cnt = true;
    adr(s, d, t, best, gws);
  }
  if (!t->confirmed && !d->adr_pending && !t->adr_ack_req) return;
  int size = 13 + (d->adr_pending ? 5 : 0); /* MHDR FHDR MIC (+ LinkADRReq in FOpts) */
  if (!downlink(s, t, top, n, size)) return;
  struct dl_effect e = {.ack = t->confirmed};
  if (d->adr_pending) {
    e.link_adr = true;
    e.dr = d->adr_next.dr, e.txp_index = d->adr_next.tx_power_index,
    e.nb_trans = d->adr_next.nb_trans;
    d->adr_pending = false;
  }
  sim_device_downlink(s, d, &e);
}
