/*
 * The event engine: devices transmit, the air decides which gateways hear them, the
 * network (offline or live) answers. Two kinds of events in one binary heap ordered by
 * (time, sequence): a device's next transmission (EV_TX) and the end of a transmission
 * (EV_END), when its receptions are final. Every random draw of a device comes from its
 * own stream, so a run depends on the seed only.
 */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"
#include "util/util.h"

#define C_MPS 299792458.0
#define MS    1000000LL
#define SEC   1000000000LL

/* ---- models ------------------------------------------------------------------- */

double lg_sim_path_loss_db(const struct lg_sim_channel *c, double d_m) {
  if (d_m < 1) d_m = 1;
  double r = d_m / c->d0_m;
  return c->pl0_db + 10 * c->exponent * (c->natural_log ? log(r) : log10(r));
}

double lg_sim_ns3_isolation_db(int sf_w, int sf_i) {
  static const double m[6][6] = {{6, -16, -18, -19, -19, -20}, {-24, 6, -20, -22, -22, -22},
                                 {-27, -27, 6, -23, -25, -25}, {-30, -30, -30, 6, -26, -28},
                                 {-33, -33, -33, -33, 6, -29}, {-36, -36, -36, -36, -36, 6}};
  return m[sf_w - 7][sf_i - 7];
}

double lg_sim_flora_threshold_db(int sf_w, int sf_i) {
  static const double m[6][6] = {{1, -8, -9, -9, -9, -9},      {-11, 1, -11, -12, -13, -13},
                                 {-15, -13, 1, -13, -14, -15}, {-19, -18, -17, 1, -17, -18},
                                 {-22, -22, -21, -20, 1, -20}, {-25, -25, -25, -24, -23, 1}};
  return m[sf_w - 7][sf_i - 7];
}

int64_t sim_rx_window_ns(int sf, uint32_t bw_hz) {
  return (int64_t)(8.0 * (double)(1 << sf) / (double)bw_hz * 1e9);
}

double sim_uplink_energy_mj(const struct lg_sim_energy *e, int64_t toa_ns, double dbm,
                            int64_t d1_ns, int64_t rx1_ns, int64_t d2_ns, int64_t rx2_ns) {
  double tx = lg_lora_tx_current_ma(dbm) * (double)toa_ns;
  double rx = 0, idle = 0;
  if (e->count_rx_windows) {
    rx = e->rx_ma * (double)(rx1_ns + rx2_ns);
    idle = e->idle_ma * (double)(d1_ns + (rx2_ns > 0 ? d2_ns - d1_ns - rx1_ns : 0));
  }
  return (tx + rx + idle) * e->voltage_v * 1e-9; /* mA * ns * V = 1e-9 mJ */
}

/* ---- events ------------------------------------------------------------------- */

static bool ev_less(const struct event *a, const struct event *b) {
  return a->t_ns < b->t_ns || (a->t_ns == b->t_ns && a->seq < b->seq);
}

/* A 4-ary min-heap: half the depth of a binary one, and a node's children share a cache
 * line, which matters with 100,000 devices' events (the heap was a third of the run). */
#define HEAP_D 4

void sim_schedule(struct sim *s, int64_t t_ns, uint32_t kind, uint32_t idx) {
  if (s->n_heap == s->cap_heap) {
    size_t cap = s->cap_heap ? 2 * s->cap_heap : 1024;
    struct event *h = realloc(s->heap, cap * sizeof(*h));
    if (!h) abort(); /* the heap is sized at start; growing past memory is fatal */
    s->heap = h, s->cap_heap = cap;
  }
  struct event ev = {t_ns, s->seq++, kind, idx};
  size_t i = s->n_heap++;
  while (i > 0 && ev_less(&ev, &s->heap[(i - 1) / HEAP_D])) {
    s->heap[i] = s->heap[(i - 1) / HEAP_D];
    i = (i - 1) / HEAP_D;
  }
  s->heap[i] = ev;
}

static struct event pop(struct sim *s) {
  struct event top = s->heap[0], last = s->heap[--s->n_heap];
  size_t i = 0, n = s->n_heap;
  for (;;) {
    size_t first = HEAP_D * i + 1, m = first;
    if (first >= n) break;
    size_t end = first + HEAP_D < n ? first + HEAP_D : n;
    for (size_t c = first + 1; c < end; c++)
      if (ev_less(&s->heap[c], &s->heap[m])) m = c;
    if (!ev_less(&s->heap[m], &last)) break;
    s->heap[i] = s->heap[m];
    i = m;
  }
  if (n) s->heap[i] = last;
  return top;
}

int64_t sim_next_event_ns(const struct sim *s) {
  return s->n_heap ? s->heap[0].t_ns : INT64_MAX;
}

/* ---- mobility ----------------------------------------------------------------- */

static int path_build(struct path *p, const struct lg_sim_group *g) {
  size_t cap = 4;
  if (g->mobility == LG_SIM_ZIGZAG)
    cap = 2 * ((size_t)((g->by1 - g->by0) / g->zigzag_step_m) + 2) * 2 + 2;
  p->x = calloc(cap, sizeof(double)), p->y = calloc(cap, sizeof(double));
  p->cum = calloc(cap, sizeof(double));
  if (!p->x || !p->y || !p->cum) return LG_ENOMEM;
  size_t n = 0;
  if (g->mobility == LG_SIM_SQUARE) {
    double xs[] = {g->bx0, g->bx1, g->bx1, g->bx0}, ys[] = {g->by0, g->by0, g->by1, g->by1};
    for (int i = 0; i < 4; i++)
      p->x[n] = xs[i], p->y[n++] = ys[i];
  } else { /* zigzag: east-west sweeps northwards, then the same way back */
    size_t up = 0;
    for (double y = g->by0; y <= g->by1 + 1e-9; y += g->zigzag_step_m, up++) {
      bool east = up % 2 == 0;
      p->x[n] = east ? g->bx0 : g->bx1, p->y[n++] = y;
      p->x[n] = east ? g->bx1 : g->bx0, p->y[n++] = y;
    }
    for (size_t k = n - 1; k-- > 1;)
      p->x[n] = p->x[k], p->y[n++] = p->y[k]; /* back */
  }
  p->n = n;
  p->cum[0] = 0;
  for (size_t i = 1; i <= n; i++) {
    size_t j = i % n;
    double seg = hypot(p->x[j] - p->x[i - 1], p->y[j] - p->y[i - 1]);
    if (i < n)
      p->cum[i] = p->cum[i - 1] + seg;
    else
      p->len = p->cum[n - 1] + seg;
  }
  return 0;
}

static void path_at(const struct path *p, double s_m, double *x, double *y) {
  s_m = fmod(s_m, p->len);
  if (s_m < 0) s_m += p->len;
  size_t lo = 0, hi = p->n - 1; /* last vertex with cum <= s */
  while (lo < hi) {
    size_t mid = (lo + hi + 1) / 2;
    if (p->cum[mid] <= s_m)
      lo = mid;
    else
      hi = mid - 1;
  }
  size_t j = (lo + 1) % p->n;
  double seg = (lo + 1 < p->n ? p->cum[lo + 1] : p->len) - p->cum[lo];
  double f = seg > 0 ? (s_m - p->cum[lo]) / seg : 0;
  *x = p->x[lo] + f * (p->x[j] - p->x[lo]);
  *y = p->y[lo] + f * (p->y[j] - p->y[lo]);
}

static void trace_at(const struct lg_sim_group *g, int64_t t_ns, double *x, double *y) {
  const struct lg_sim_point *p = g->trace;
  int64_t span = p[g->n_trace - 1].t_ns - p[0].t_ns;
  int64_t t = p[0].t_ns + (span > 0 ? t_ns % span : 0);
  size_t lo = 0, hi = g->n_trace - 1;
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    if (p[mid].t_ns <= t)
      lo = mid;
    else
      hi = mid;
  }
  double f = (double)(t - p[lo].t_ns) / (double)(p[hi].t_ns - p[lo].t_ns);
  if (f > 1) f = 1;
  *x = p[lo].e_m + f * (p[hi].e_m - p[lo].e_m);
  *y = p[lo].n_m + f * (p[hi].n_m - p[lo].n_m);
}

static void waypoint_at(struct device *d, const struct lg_sim_group *g, int64_t t_ns) {
  while (t_ns >= d->way_t1) { /* next leg: pause, then walk to a uniform point */
    d->way_e = d->way_te, d->way_n = d->way_tn;
    d->way_te = g->bx0 + rng_uniform(&d->rng) * (g->bx1 - g->bx0);
    d->way_tn = g->by0 + rng_uniform(&d->rng) * (g->by1 - g->by0);
    d->way_t0 = d->way_t1 + (int64_t)(g->pause_s * 1e9);
    d->way_t1 = d->way_t0 +
                (int64_t)(hypot(d->way_te - d->way_e, d->way_tn - d->way_n) / g->speed_mps * 1e9) +
                1;
  }
  double f = t_ns <= d->way_t0 ? 0 : (double)(t_ns - d->way_t0) / (double)(d->way_t1 - d->way_t0);
  d->e = d->way_e + f * (d->way_te - d->way_e);
  d->n = d->way_n + f * (d->way_tn - d->way_n);
}

static void update_ecef(struct sim *s, struct device *d) {
  struct lg_geodetic g;
  lg_enu_to_geodetic(&s->enu, (double[3]){d->e, d->n, 0}, &g);
  g.alt_m = s->sc->groups[d->group].alt_m;
  lg_geo_to_ecef(&g, d->ecef);
}

void sim_device_position(struct sim *s, struct device *d, int64_t t_ns) {
  const struct lg_sim_group *g = &s->sc->groups[d->group];
  switch (g->mobility) {
  case LG_SIM_STATIC: return; /* fixed at placement, ECEF computed once */
  case LG_SIM_WAYPOINT: waypoint_at(d, g, t_ns); break;
  case LG_SIM_ZIGZAG:
  case LG_SIM_SQUARE:
    path_at(&s->paths[d->group], d->phase_m + g->speed_mps * (double)t_ns * 1e-9, &d->e, &d->n);
    break;
  case LG_SIM_TRACE: trace_at(g, t_ns, &d->e, &d->n); break;
  }
  update_ecef(s, d);
}

/* ---- set-up ------------------------------------------------------------------- */

static double max_reach_m(const struct lg_sim_scenario *sc, const struct lg_sim_group *g) {
  double nf = 1e9, gain = -1e9, snr;
  for (size_t i = 0; i < sc->n_gateways; i++) {
    nf = fmin(nf, sc->gateways[i].noise_figure_db);
    gain = fmax(gain, sc->gateways[i].antenna_gain_db);
  }
  lg_lora_snr_floor_db(12, 125000, &snr);
  double sens = lg_lora_noise_floor_dbm(125000, nf) + snr;
  double p = fmax(g->tx_power_dbm, (double)sc->region->default_max_eirp_dbm);
  double pl = p + gain - sens + 4 * sc->channel.sigma_db + 1;
  double x = (pl - sc->channel.pl0_db) / (10 * sc->channel.exponent);
  return sc->channel.d0_m * (sc->channel.natural_log ? exp(x) : pow(10, x));
}

static int nearest_txp_index(const struct lg_region *r, double dbm) {
  int best = 0;
  double bd = 1e9;
  for (int i = 0; i <= r->tx_power_max_index; i++) {
    int e;
    if (lg_region_tx_power_dbm(r, i, &e) == 0 && fabs(e - dbm) < bd) bd = fabs(e - dbm), best = i;
  }
  return best;
}

static int link_cmp(const void *a, const void *b) {
  float x = ((const struct link *)a)->mean_pl_db, y = ((const struct link *)b)->mean_pl_db;
  return (x > y) - (x < y);
}

/* Installation margin of the initial data rate ("dr": "auto"), as ChirpStack's ADR. */
#define AUTO_DR_MARGIN_DB 10.0

/* The fastest LoRa 125 kHz DR whose floor the device clears by the margin at the gateway
 * with the least mean path loss (the SF assignment of ns-3's helper, with a margin). */
static int auto_dr(struct sim *s, struct device *d, const struct lg_sim_group *g) {
  const struct lg_sim_scenario *sc = s->sc;
  double best = 1e9;
  for (size_t i = 0; i < sc->n_gateways; i++) {
    const double *ge = sc->gateways[i].ecef;
    double dist = sqrt((ge[0] - d->ecef[0]) * (ge[0] - d->ecef[0]) +
                       (ge[1] - d->ecef[1]) * (ge[1] - d->ecef[1]) +
                       (ge[2] - d->ecef[2]) * (ge[2] - d->ecef[2]));
    double pl = lg_sim_path_loss_db(&sc->channel, dist) - sc->gateways[i].antenna_gain_db;
    double sens = lg_lora_noise_floor_dbm(125000, sc->gateways[i].noise_figure_db);
    if (pl + sens < best) best = pl + sens; /* what the floor must stay under */
  }
  for (int dr = sc->region->max_lora125_dr; dr > 0; dr--) {
    const struct lg_datarate *x = lg_region_dr(sc->region, dr);
    double floor_db;
    if (!x || x->mod != LG_MOD_LORA || x->max_app_payload < g->payload_bytes) continue;
    lg_lora_snr_floor_db(x->sf, x->bw_hz, &floor_db);
    if (g->tx_power_dbm - best - floor_db >= AUTO_DR_MARGIN_DB) return dr;
  }
  return 0;
}

static int init_device(struct sim *s, size_t idx, uint32_t gi, size_t k, size_t *link_cap) {
  const struct lg_sim_scenario *sc = s->sc;
  const struct lg_sim_group *g = &sc->groups[gi];
  struct device *d = &s->dev[idx];
  rng_seed(&d->rng, sc->seed, idx + 1);
  d->group = gi;
  if (g->place_points) {
    d->e = g->points[k % g->n_points].e_m, d->n = g->points[k % g->n_points].n_m;
  } else { /* uniform in the disc */
    double r = g->radius_m * sqrt(rng_uniform(&d->rng)),
           a = 2 * 3.14159265358979323846 * rng_uniform(&d->rng);
    d->e = g->center_e + r * cos(a), d->n = g->center_n + r * sin(a);
  }
  if (g->mobility == LG_SIM_WAYPOINT) {
    d->way_te = d->e, d->way_tn = d->n, d->way_t1 = 0;
    waypoint_at(d, g, 0);
  }
  if (g->mobility == LG_SIM_ZIGZAG || g->mobility == LG_SIM_SQUARE)
    d->phase_m = k == 0 ? 0 : rng_uniform(&d->rng) * s->paths[gi].len;
  sim_device_position(s, d, 0);
  if (g->mobility == LG_SIM_STATIC) update_ecef(s, d);
  d->dr = g->dr;
  d->tx_power_dbm = g->tx_power_dbm;
  d->txp_index = nearest_txp_index(sc->region, g->tx_power_dbm);
  d->nb_trans = 1;
  d->joined = g->activation != LG_SIM_OTAA;
  d->dev_addr = 0x26000000u | (uint32_t)(idx & 0x1ffffff);
  for (int b = 0; b < SIM_MAX_BANDS; b++)
    d->band_free_ns[b] = 0;
  for (int b = 0; b < sc->region->subband_count && b < SIM_MAX_BANDS;
       b++) /* a full hour's budget */
    d->dc_credit_ns[b] = (int64_t)(sc->region->subbands[b].duty_cycle * 3600e9);
  /* first message: spread over one period */
  double first = g->traffic == LG_SIM_EXPONENTIAL ? rng_exp(&d->rng, g->period_s)
                                                  : rng_uniform(&d->rng) * g->period_s;
  d->next_msg_ns = (int64_t)(first * 1e9);
  if (g->mobility == LG_SIM_STATIC) { /* the gateways in reach, once */
    double reach = max_reach_m(sc, g);
    d->link_off = (uint32_t)s->n_links;
    for (size_t i = 0; i < sc->n_gateways; i++) {
      const double *ge = sc->gateways[i].ecef;
      double dist = sqrt((ge[0] - d->ecef[0]) * (ge[0] - d->ecef[0]) +
                         (ge[1] - d->ecef[1]) * (ge[1] - d->ecef[1]) +
                         (ge[2] - d->ecef[2]) * (ge[2] - d->ecef[2]));
      if (dist > reach) continue;
      if (s->n_links == *link_cap) {
        *link_cap = *link_cap ? 2 * *link_cap : 4096;
        struct link *l = realloc(s->links, *link_cap * sizeof(*l));
        if (!l) return LG_ENOMEM;
        s->links = l;
      }
      s->links[s->n_links++] =
          (struct link){(uint32_t)i, (float)lg_sim_path_loss_db(&sc->channel, dist), (float)dist};
    }
    d->link_n = (uint32_t)(s->n_links - d->link_off);
    /* nearest first: a transmission stops at the first gateway it cannot reach */
    qsort(s->links + d->link_off, d->link_n, sizeof(struct link), link_cmp);
  }
  if (g->dr_auto) d->dr = auto_dr(s, d, g);
  if (g->adr != LG_ADR_OFF && !(d->ah = calloc(1, sizeof(*d->ah)))) return LG_ENOMEM;
  if (g->adr == LG_ADR_EADR || g->adr == LG_ADR_PREDICTIVE) {
    d->trk = calloc(1, sizeof(*d->trk));
    if (!d->trk) return LG_ENOMEM;
  }
  sim_schedule(s, d->next_msg_ns, EV_TX, (uint32_t)idx);
  return 0;
}

/* Which devices get which fault and when: a shuffle of the LoRaWAN devices (a stream of
 * its own, so scenarios without faults keep theirs), reboots first, then batteries, then
 * silences; each device at most one. */
static int plan_faults(struct sim *s) {
  const struct lg_sim_faults *f = &s->sc->faults;
  for (size_t i = 0; i < s->n_dev; i++)
    s->dev[i].reboot_ns = s->dev[i].silent_from_ns = s->dev[i].silent_to_ns =
        s->dev[i].battery_from_ns = INT64_MAX;
  int total = f->reboots + f->batteries + f->silences;
  if (total == 0) return 0;
  uint32_t *ids = malloc(s->n_dev * sizeof(*ids));
  if (ids == NULL) return LG_ENOMEM;
  size_t n = 0;
  for (size_t i = 0; i < s->n_dev; i++)
    if (s->sc->groups[s->dev[i].group].activation != LG_SIM_RAW) ids[n++] = (uint32_t)i;
  struct rng r;
  rng_seed(&r, s->sc->seed, 0x300000000ULL);
  for (size_t i = n; i > 1; i--) { /* Fisher-Yates */
    size_t j = (size_t)(rng_uniform(&r) * (double)i);
    uint32_t t = ids[i - 1];
    ids[i - 1] = ids[j], ids[j] = t;
  }
  size_t k = 0;
#define AT(lo, hi) ((int64_t)(((lo) + rng_uniform(&r) * ((hi) - (lo))) * 1e9))
  for (int i = 0; i < f->reboots && k < n; i++)
    s->dev[ids[k++]].reboot_ns = AT(f->reboot_from_s, f->reboot_to_s);
  for (int i = 0; i < f->batteries && k < n; i++)
    s->dev[ids[k++]].battery_from_ns = AT(f->battery_from_s, f->battery_to_s);
  for (int i = 0; i < f->silences && k < n; i++) {
    struct device *d = &s->dev[ids[k++]];
    d->silent_from_ns = AT(f->silence_from_s, f->silence_to_s);
    d->silent_to_ns = d->silent_from_ns + AT(f->silence_min_s, f->silence_max_s);
  }
#undef AT
  free(ids);
  return 0;
}

int sim_device_battery(const struct sim *s, const struct device *d, int64_t t_ns) {
  if (t_ns <= d->battery_from_ns) return 254;
  double over_ns = s->sc->faults.battery_over_s * 1e9;
  double level = 254 - 253 * (double)(t_ns - d->battery_from_ns) / over_ns;
  return level < 1 ? 1 : (int)level;
}

int sim_init(struct sim *s, const struct lg_sim_scenario *sc, struct sim_network net) {
  memset(s, 0, sizeof(*s));
  s->sc = sc;
  s->net = net;
  lg_enu_init(&s->enu, &(struct lg_geodetic){sc->origin_lat, sc->origin_lon, 0});
  for (size_t i = 0; i < sc->n_groups; i++)
    s->n_dev += (size_t)sc->groups[i].count;
  s->dev = calloc(s->n_dev ? s->n_dev : 1, sizeof(*s->dev));
  s->gw = calloc(sc->n_gateways, sizeof(*s->gw));
  s->paths = calloc(sc->n_groups, sizeof(*s->paths));
  if (!s->dev || !s->gw || !s->paths) return LG_ENOMEM;
  for (size_t i = 0; i < sc->n_groups; i++)
    if ((sc->groups[i].mobility == LG_SIM_ZIGZAG || sc->groups[i].mobility == LG_SIM_SQUARE) &&
        path_build(&s->paths[i], &sc->groups[i]))
      return LG_ENOMEM;
  for (int i = 0; i <= 800; i++)
    s->q_table[i] = (float)gsl_cdf_ugaussian_Q((i - 400) / 100.0);
  for (size_t i = 0; i < sc->n_gateways; i++)
    for (int b = 0; b < 3; b++)
      s->gw[i].noise_floor_dbm[b] =
          lg_lora_noise_floor_dbm(125000u << b, sc->gateways[i].noise_figure_db);
  s->max_gain_db = -1e9, s->min_nf_db = 1e9;
  for (size_t i = 0; i < sc->n_gateways; i++) {
    s->max_gain_db = fmax(s->max_gain_db, sc->gateways[i].antenna_gain_db);
    s->min_nf_db = fmin(s->min_nf_db, sc->gateways[i].noise_figure_db);
  }
  s->adr_gw = calloc(sc->n_gateways, sizeof(*s->adr_gw));
  if (!s->adr_gw) return LG_ENOMEM;
  for (size_t i = 0; i < sc->n_gateways; i++) {
    double enu[3];
    lg_enu_from_geodetic(
        &s->enu, &(struct lg_geodetic){sc->gateways[i].lat_deg, sc->gateways[i].lon_deg, 0}, enu);
    s->adr_gw[i] = (struct lg_adr_gateway){enu[0], enu[1], i};
  }
  for (uint32_t gi = 0; gi < sc->n_groups && !s->linkmap; gi++) /* a network running predictive */
    if (sc->groups[gi].adr == LG_ADR_PREDICTIVE &&
        !(s->linkmap = lg_linkmap_new(SIM_LINK_CELL_M, SIM_LINK_ENTRIES)))
      return LG_ENOMEM;
  s->cap_heap = 2 * s->n_dev + 1024;
  s->heap = malloc(s->cap_heap * sizeof(*s->heap));
  if (!s->heap) return LG_ENOMEM;
  size_t idx = 0, link_cap = 0;
  for (uint32_t gi = 0; gi < sc->n_groups; gi++)
    for (size_t k = 0; k < (size_t)sc->groups[gi].count; k++)
      if (init_device(s, idx++, gi, k, &link_cap)) return LG_ENOMEM;
  if (plan_faults(s)) return LG_ENOMEM;
  s->free_tx = s->free_rx = UINT32_MAX;
  s->solver = lg_geo_solver_new();
  return s->solver ? 0 : LG_ENOMEM;
}

void sim_free(struct sim *s) {
  for (size_t i = 0; s->gw && i < s->sc->n_gateways; i++)
    free(s->gw[i].active);
  for (size_t i = 0; s->paths && i < s->sc->n_groups; i++) {
    free(s->paths[i].x);
    free(s->paths[i].y);
    free(s->paths[i].cum);
  }
  for (int i = 0; i < LG_GEO_METHOD_COUNT; i++)
    free(s->geo[i].err);
  free(s->geo_mean.err);
  lg_geo_solver_free(s->solver);
  for (size_t i = 0; s->dev && i < s->n_dev; i++) {
    free(s->dev[i].trk);
    free(s->dev[i].ah);
  }
  free(s->adr_gw);
  lg_linkmap_free(s->linkmap);
  free(s->paths);
  free(s->gw);
  free(s->dev);
  free(s->links);
  free(s->txs);
  free(s->rxs);
  free(s->heap);
}

/* ---- pools -------------------------------------------------------------------- */

static uint32_t tx_alloc(struct sim *s) {
  if (s->free_tx != UINT32_MAX) {
    uint32_t i = s->free_tx;
    s->free_tx = s->txs[i].next_free;
    return i;
  }
  if (s->n_txs == s->cap_txs) {
    uint32_t cap = s->cap_txs ? 2 * s->cap_txs : 1024;
    struct tx *t = realloc(s->txs, cap * sizeof(*t));
    if (!t) abort();
    s->txs = t, s->cap_txs = cap;
  }
  return s->n_txs++;
}

static uint32_t rx_alloc(struct sim *s) {
  if (s->free_rx != UINT32_MAX) {
    uint32_t i = s->free_rx;
    s->free_rx = s->rxs[i].next;
    return i;
  }
  if (s->n_rxs == s->cap_rxs) {
    uint32_t cap = s->cap_rxs ? 2 * s->cap_rxs : 4096;
    struct reception *r = realloc(s->rxs, cap * sizeof(*r));
    if (!r) abort();
    s->rxs = r, s->cap_rxs = cap;
  }
  return s->n_rxs++;
}

/* ---- the air ------------------------------------------------------------------ */

void sim_interfere(const struct lg_sim_scenario *sc, struct reception *p, const struct tx *tp,
                   struct reception *q, const struct tx *tq) {
  if (q->end_ns <= p->start_ns || tp->freq_hz != tq->freq_hz) return;
  bool same_sf = tp->sf == tq->sf;
  if (!sc->capture) { /* ALOHA: any overlap of the same SF on the channel destroys both */
    if (same_sf) p->lost = q->lost = true;
    return;
  }
  switch (sc->collision) {
  case LG_SIM_COLL_NONE: return;
  case LG_SIM_COLL_LORASIM: {
    if (!same_sf) return;
    int64_t tsym = (int64_t)((double)(1 << tp->sf) / tp->bw_hz * 1e9);
    if (q->end_ns <= p->start_ns + 3 * tsym) return; /* p's last 5 preamble symbols are clean */
    double diff = p->rssi - q->rssi;
    if (fabs(diff) < 6)
      p->lost = q->lost = true;
    else if (diff < 0)
      p->lost = true;
    else
      q->lost = true;
    return;
  }
  case LG_SIM_COLL_NS3: {
    double ov = (double)((p->end_ns < q->end_ns ? p->end_ns : q->end_ns) - p->start_ns);
    p->interf[tq->sf - 7] += q->mw * ov;
    q->interf[tp->sf - 7] += p->mw * ov;
    return;
  }
  case LG_SIM_COLL_FLORA: {
    int64_t tsym_p = (int64_t)((double)(1 << tp->sf) / tp->bw_hz * 1e9);
    if (q->end_ns > p->start_ns + 2 * tsym_p &&
        p->rssi - q->rssi < lg_sim_flora_threshold_db(tp->sf, tq->sf))
      p->lost = true;
    /* p (the interferer of q) ends after q's critical point, as it starts after q */
    if (q->rssi - p->rssi < lg_sim_flora_threshold_db(tq->sf, tp->sf)) q->lost = true;
    return;
  }
  }
}

bool sim_ns3_lost(const struct reception *r, const struct tx *t) {
  double sig = r->mw * (double)t->toa_ns;
  for (int k = 0; k < 6; k++)
    if (r->interf[k] > 0 &&
        10 * log10(sig / r->interf[k]) < lg_sim_ns3_isolation_db(t->sf, k + 7) - 1e-9)
      return true; /* (1e-9: exactly at the threshold survives, as in ns-3) */
  return false;
}

static int bw_index(uint32_t bw_hz) {
  return bw_hz >= 500000 ? 2 : bw_hz >= 250000 ? 1 : 0;
}

/* Q(z) = P(N(0,1) > z) from the table (linear between its points), 0 from z = 4 on. */
static inline double q_of(const struct sim *s, double z) {
  if (z >= 4) return 0;
  if (z <= -4) return 1;
  double x = (z + 4) * 100;
  int i = (int)x;
  return s->q_table[i] + (x - i) * (s->q_table[i + 1] - s->q_table[i]);
}

/* The chance that gateway gi hears t over a link of mean path loss mean_pl (shadowing
 * on); its noise floor in *nf. */
static double hear_chance(const struct sim *s, const struct tx *t, uint32_t gi, double mean_pl,
                          double snr_floor, double *nf) {
  const struct lg_sim_gateway *g = &s->sc->gateways[gi];
  *nf = s->gw[gi].noise_floor_dbm[bw_index(t->bw_hz)];
  double margin = t->power_dbm + g->antenna_gain_db - mean_pl - (*nf + snr_floor);
  return q_of(s, -margin / s->sc->channel.sigma_db); /* the fade (in sigmas) it needs */
}

static void receive(struct sim *s, uint32_t ti, uint32_t gi, double dist_m, double rssi, double nf,
                    struct device *d);

/*
 * Does gateway gi hear transmission ti over a link of mean path loss mean_pl? The
 * shadowing N(0, sigma) is drawn by inversion: with u uniform, N = Q^-1(u), the link
 * closes iff N >= z, i.e. u <= Q(z) — decided from a table of Q, so a far gateway costs
 * one uniform draw (hear_links thins a static device's far ones further); Q^-1 (GSL) runs
 * only for the receptions that happen.
 */
static void hear(struct sim *s, uint32_t ti, uint32_t gi, double dist_m, double mean_pl,
                 double snr_floor, struct device *d) {
  const struct lg_sim_scenario *sc = s->sc;
  const struct lg_sim_gateway *g = &sc->gateways[gi];
  struct tx *t = &s->txs[ti];
  double nf, rssi;
  if (sc->channel.sigma_db > 0) {
    double q = hear_chance(s, t, gi, mean_pl, snr_floor, &nf);
    if (q <= 0) return;
    double u = rng_uniform(&d->rng);
    if (u >= q || u <= 0) return; /* below sensitivity: not heard */
    rssi = t->power_dbm + g->antenna_gain_db - mean_pl +
           sc->channel.sigma_db * gsl_cdf_ugaussian_Qinv(u);
    if (rssi < nf + snr_floor) rssi = nf + snr_floor; /* the table's interpolation edge */
  } else {
    nf = s->gw[gi].noise_floor_dbm[bw_index(t->bw_hz)];
    if (t->power_dbm + g->antenna_gain_db - mean_pl - (nf + snr_floor) < 0) return;
    rssi = t->power_dbm + g->antenna_gain_db - mean_pl;
  }
  receive(s, ti, gi, dist_m, rssi, nf, d);
}

/*
 * A static device's gateways, nearest (lowest mean path loss) first, each heard with its
 * own chance q_k. Near ones are decided one by one (hear). In the tail, where the chance
 * under the best gateway's gain and noise figure (the envelope e_k >= q_k, never rising
 * along the list) is below one half, the trials are thinned: the next candidate is drawn
 * e_k-geometrically ahead and kept with chance q_j / e_k, the uniform of a kept one
 * (uniform on (0, q_j)) giving its fade. The same law as one trial per gateway, for a few
 * draws instead of one per gateway in reach (about a hundred in the city).
 */
static void hear_links(struct sim *s, uint32_t ti, struct device *d, double snr_floor,
                       double reach_db) {
  const struct lg_sim_scenario *sc = s->sc;
  double sigma = sc->channel.sigma_db;
  const struct tx *t = &s->txs[ti];
  double env_base =
      t->power_dbm + s->max_gain_db - (lg_lora_noise_floor_dbm(t->bw_hz, s->min_nf_db) + snr_floor);
  const struct link *links = &s->links[d->link_off];
  for (uint32_t k = 0; k < d->link_n;) {
    if (links[k].mean_pl_db > reach_db) break;
    double env = sigma > 0 ? q_of(s, (links[k].mean_pl_db - env_base) / sigma) : 1;
    if (env > 0.5) {
      hear(s, ti, links[k].gw, links[k].dist_m, links[k].mean_pl_db, snr_floor, d);
      k++;
      continue;
    }
    if (env <= 0) break;
    double skip = floor(log1p(-rng_uniform(&d->rng)) / log1p(-env));
    if (skip >= (double)(d->link_n - k)) break;
    k += (uint32_t)skip;
    const struct link *l = &links[k++];
    if (l->mean_pl_db > reach_db) break;
    double nf, q = hear_chance(s, &s->txs[ti], l->gw, l->mean_pl_db, snr_floor, &nf);
    double u = rng_uniform(&d->rng) * env;
    if (u >= q || u <= 0) continue;
    const struct lg_sim_gateway *g = &sc->gateways[l->gw];
    double rssi = s->txs[ti].power_dbm + g->antenna_gain_db - l->mean_pl_db +
                  sigma * gsl_cdf_ugaussian_Qinv(u);
    if (rssi < nf + snr_floor) rssi = nf + snr_floor;
    receive(s, ti, l->gw, l->dist_m, rssi, nf, d);
  }
}

/* Gateway gi has heard transmission ti at rssi: the reception, its timestamp, and the
 * interference with what the gateway is already receiving. */
static void receive(struct sim *s, uint32_t ti, uint32_t gi, double dist_m, double rssi, double nf,
                    struct device *d) {
  const struct lg_sim_scenario *sc = s->sc;
  const struct lg_sim_gateway *g = &sc->gateways[gi];
  struct tx *t;
  uint32_t ri = rx_alloc(s);
  struct reception *r = &s->rxs[ri];
  t = &s->txs[ti];
  memset(r, 0, sizeof(*r));
  r->tx = ti, r->gw = gi;
  int64_t prop = (int64_t)(dist_m / C_MPS * 1e9 + 0.5); /* >= 0: llround's answer */
  r->start_ns = t->start_ns + prop, r->end_ns = t->end_ns + prop;
  /* What the gateway reports is the demodulator's estimate, which saturates: no SX130x
   * reports an SNR above LG_SIM_SNR_MAX_DB however strong the signal (see sim_int.h). */
  r->rssi = (float)rssi, r->snr = (float)fmin(rssi - nf, LG_SIM_SNR_MAX_DB),
  r->mw = (float)exp(rssi * 0.23025850929940458); /* 10^(rssi / 10) */
  r->stamp_ns = sim_gateway_stamp_ns(g, &sc->channel, r->end_ns, &d->rng);
  struct gw_state *gs = &s->gw[gi];
  uint32_t busy = 0;
  for (uint32_t k = 0; k < gs->n_active; k++) {
    struct reception *q = &s->rxs[gs->active[k]];
    if (q->end_ns <= r->start_ns) continue;
    if (!q->no_path) busy++;
    sim_interfere(sc, r, &s->txs[r->tx], q, &s->txs[q->tx]);
  }
  if (g->paths > 0 && busy >= (uint32_t)g->paths) r->no_path = r->lost = true;
  if (gs->n_active == gs->cap_active) {
    gs->cap_active = gs->cap_active ? 2 * gs->cap_active : 16;
    uint32_t *a = realloc(gs->active, gs->cap_active * sizeof(*a));
    if (!a) abort();
    gs->active = a;
  }
  gs->active[gs->n_active++] = ri;
  r->next = t->rx_head;
  t->rx_head = ri;
  t->n_rx++;
}

/* ---- devices ------------------------------------------------------------------ */

/* Hourly duty cycle (as LoRaMac-node's band time credits and the ETSI one-hour window):
 * a budget of dc x 1 h per sub-band, refilled at the duty-cycle rate, full at start;
 * band_free_ns holds the time of the last update. */
static int64_t dc_credit(const struct device *d, const struct lg_subband *b, int band,
                         int64_t now) {
  int64_t cap = (int64_t)(b->duty_cycle * 3600e9);
  int64_t c =
      d->dc_credit_ns[band] + (int64_t)((double)(now - d->band_free_ns[band]) * b->duty_cycle);
  return c > cap ? cap : c;
}

/* Time on air of the device's next frame as it stands (before a channel is chosen). */
static int64_t planned_toa_ns(const struct sim *s, const struct device *d,
                              const struct lg_sim_group *g, enum tx_kind kind) {
  struct lg_lora_tx lt;
  size_t size;
  if (kind == TX_RAW) {
    lt = lg_lora_tx_lorawan(g->sf, g->bw_hz);
    lt.cr = g->cr, size = (size_t)g->payload_bytes;
  } else {
    const struct lg_datarate *dr = lg_region_dr(s->sc->region, d->dr);
    lt = lg_lora_tx_lorawan(dr->sf, dr->bw_hz);
    size = kind == TX_JOIN ? 23 : 13 + (size_t)g->payload_bytes;
  }
  struct lg_airtime at;
  lg_lora_airtime(&lt, size, &at);
  return at.time_on_air_ns;
}

static void new_message(struct sim *s, struct device *d, const struct lg_sim_group *g) {
  if (g->traffic == LG_SIM_PERIODIC) { /* slots that passed while the device waited (duty
                                          cycle): the application overwrote those messages */
    int64_t period = (int64_t)(sim_device_period_s(s, d) * 1e9);
    while (s->now_ns >= d->next_msg_ns + period) {
      d->msgs++, d->msgs_lost++, s->tot.msgs++, s->tot.msgs_overwritten++;
      s->tot.airtime_unsent_ms += (double)planned_toa_ns(s, d, g, TX_DATA) / 1e6;
      d->next_msg_ns += period;
    }
  }
  d->has_message = true;
  d->msg_ok = d->acked = false;
  d->msgs++;
  s->tot.msgs++;
  if (d->joined && g->activation != LG_SIM_RAW) d->f_cnt++;
  d->confirmed = g->confirmed_share > 0 && rng_uniform(&d->rng) < g->confirmed_share;
  d->copies_left = d->confirmed ? 0 : d->nb_trans - 1;
  d->retries_left = d->confirmed ? 7 : 0; /* 8 transmissions at most (ns-3 MaxTransmissions) */
  if (g->traffic == LG_SIM_PERIODIC) {
    double j = g->period_jitter_s > 0 ? (2 * rng_uniform(&d->rng) - 1) * g->period_jitter_s : 0;
    d->next_msg_ns += (int64_t)((sim_device_period_s(s, d) + j) * 1e9);
  } else if (g->activation != LG_SIM_RAW) {
    d->next_msg_ns += (int64_t)(rng_exp(&d->rng, g->period_s) * 1e9);
  }
  /* device-side ADR back-off (LoRaMac-node, phy-sim-adr.md §3.4) */
  if (g->adr != LG_ADR_OFF && d->joined) {
    d->adr_ack_cnt++;
    const struct lg_region *r = s->sc->region;
    d->adr_ack_req = d->adr_ack_cnt >= (uint32_t)r->adr_ack_limit;
    uint32_t c = d->adr_ack_cnt, lim = (uint32_t)r->adr_ack_limit, del = (uint32_t)r->adr_ack_delay;
    if (c == lim + del) {
      d->txp_index = 0;
      int e;
      lg_region_tx_power_dbm(r, 0, &e);
      d->tx_power_dbm = e;
    }
    if (c >= lim + 2 * del && (c - lim - 2 * del) % del == 0) {
      if (d->dr > 0)
        d->dr--;
      else
        d->nb_trans = 1;
    }
  }
}

static void finish_message(struct sim *s, struct device *d) {
  if (!d->has_message) return;
  d->has_message = false;
  if (d->msg_ok)
    d->msgs_delivered++, s->tot.msgs_delivered++;
  else
    d->msgs_lost++;
}

static void device_tx(struct sim *s, uint32_t di) {
  const struct lg_sim_scenario *sc = s->sc;
  struct device *d = &s->dev[di];
  const struct lg_sim_group *g = &sc->groups[d->group];
  if (d->link_n) __builtin_prefetch(&s->links[d->link_off]); /* read once the frame is made */
  if (s->now_ns >= sc->duration_ns) return;
  if (s->now_ns >= d->silent_from_ns && s->now_ns < d->silent_to_ns) { /* off: back later */
    d->has_message = false;
    d->next_msg_ns = d->silent_to_ns;
    if (d->silent_to_ns < sc->duration_ns) sim_schedule(s, d->silent_to_ns, EV_TX, di);
    return;
  }
  if (s->now_ns >= d->reboot_ns) { /* a reboot: its session (OTAA) or its counter (ABP) lost */
    d->reboot_ns = INT64_MAX;
    d->has_message = false;
    if (g->activation == LG_SIM_OTAA)
      d->joined = false, d->join_attempts = 0;
    else
      d->f_cnt = 0;
  }
  if (d->has_message && d->confirmed &&
      d->acked) { /* live: the ACK came after the retry was planned */
    finish_message(s, d);
    if (d->next_msg_ns > s->now_ns) return sim_schedule(s, d->next_msg_ns, EV_TX, di);
  }
  enum tx_kind kind = g->activation == LG_SIM_RAW ? TX_RAW : d->joined ? TX_DATA : TX_JOIN;
  int64_t planned = sc->dc_hourly ? planned_toa_ns(s, d, g, kind) : 0;
  /* channel: uniform among those whose sub-band is free */
  int cand[LG_SIM_MAX_FREQS], nc = 0;
  int64_t earliest = INT64_MAX;
  for (int i = 0; i < g->freq_count; i++) {
    if (d->ch_mask && i < 16 && !(d->ch_mask >> i & 1)) continue; /* off by a LinkADRReq */
    const struct lg_subband *b =
        sc->duty_cycle ? lg_region_subband(sc->region, g->freqs_hz[i]) : NULL;
    int band = b ? (int)((b - sc->region->subbands) % SIM_MAX_BANDS) : 0;
    int64_t free_at = 0;
    if (b && sc->dc_hourly) { /* enough of the hour's budget left for this frame? */
      int64_t credit = dc_credit(d, b, band, s->now_ns);
      free_at = credit >= planned
                    ? s->now_ns
                    : s->now_ns + (int64_t)((double)(planned - credit) / b->duty_cycle) + 1;
    } else if (b) {
      free_at = d->band_free_ns[band];
    }
    if (free_at <= s->now_ns)
      cand[nc++] = i;
    else if (free_at < earliest)
      earliest = free_at;
  }
  if (nc == 0) { /* every channel waits for its duty cycle */
    s->tot.dc_waits++;
    sim_schedule(s, earliest, EV_TX, di);
    return;
  }
  if (kind != TX_JOIN && !d->has_message) new_message(s, d, g);
  int fi = cand[nc > 1 ? (int)(rng_uniform(&d->rng) * nc) : 0];
  sim_device_position(s, d, s->now_ns);
  uint32_t ti = tx_alloc(s);
  struct tx *t = &s->txs[ti];
  memset(t, 0, offsetof(struct tx, phy));
  t->dev = di, t->kind = kind, t->rx_head = UINT32_MAX;
  t->freq_hz = g->freqs_hz[fi];
  t->power_dbm = d->tx_power_dbm;
  if (kind == TX_RAW) {
    t->sf = g->sf, t->bw_hz = g->bw_hz, t->cr = g->cr, t->dr = -1, t->size = g->payload_bytes;
  } else {
    const struct lg_datarate *dr = lg_region_dr(sc->region, d->dr);
    t->sf = dr->sf, t->bw_hz = dr->bw_hz, t->cr = 1, t->dr = d->dr;
    t->size = kind == TX_JOIN ? 23 : 13 + g->payload_bytes;
    t->f_cnt = d->f_cnt;
    t->confirmed = kind == TX_DATA && d->confirmed;
    t->adr = g->adr != LG_ADR_OFF;
    t->adr_ack_req = d->adr_ack_req;
  }
  if (s->net.sent) s->net.sent(s, t, s->net.ctx); /* live: the frame is built (size known) */
  struct lg_lora_tx lt = lg_lora_tx_lorawan(t->sf, t->bw_hz);
  lt.cr = t->cr;
  struct lg_airtime at;
  lg_lora_airtime(&lt, (size_t)t->size, &at);
  t->toa_ns = at.time_on_air_ns;
  t->start_ns = s->now_ns, t->end_ns = s->now_ns + t->toa_ns;
  const struct lg_subband *b = lg_region_subband(sc->region, t->freq_hz);
  t->band = b ? (int)((b - sc->region->subbands) % SIM_MAX_BANDS) : -1;
  if (sc->duty_cycle && b && sc->dc_hourly) { /* spend the budget */
    d->dc_credit_ns[t->band] = dc_credit(d, b, t->band, s->now_ns) - t->toa_ns;
    d->band_free_ns[t->band] = s->now_ns;
  } else if (sc->duty_cycle && b) {
    d->band_free_ns[t->band] = t->end_ns + lg_duty_cycle_off_ns(t->toa_ns, b->duty_cycle);
  }
  if (kind == TX_JOIN) d->join_attempts++, s->tot.joins_sent++;
  /* who hears it */
  if (g->mobility == LG_SIM_STATIC) {
    double snr_floor, reach_db; /* the largest mean path loss a 4-sigma fade could still bridge */
    lg_lora_snr_floor_db(t->sf, t->bw_hz, &snr_floor);
    reach_db = t->power_dbm + s->max_gain_db -
               (lg_lora_noise_floor_dbm(t->bw_hz, s->min_nf_db) + snr_floor) +
               4 * sc->channel.sigma_db;
    hear_links(s, ti, d, snr_floor, reach_db);
    t = &s->txs[ti];
  } else {
    double snr_floor;
    lg_lora_snr_floor_db(t->sf, t->bw_hz, &snr_floor);
    for (uint32_t k = 0; k < sc->n_gateways; k++) {
      const double *ge = sc->gateways[k].ecef;
      double dist = sqrt((ge[0] - d->ecef[0]) * (ge[0] - d->ecef[0]) +
                         (ge[1] - d->ecef[1]) * (ge[1] - d->ecef[1]) +
                         (ge[2] - d->ecef[2]) * (ge[2] - d->ecef[2]));
      hear(s, ti, k, dist, lg_sim_path_loss_db(&sc->channel, dist), snr_floor, d);
      t = &s->txs[ti];
    }
  }
  d->tx_count++;
  d->airtime_ms += (double)t->toa_ns / 1e6;
  s->tot.tx++;
  s->tot.airtime_ms += (double)t->toa_ns / 1e6;
  sim_schedule(s, t->end_ns + MS, EV_END, ti); /* + 1 ms: the last gateway's copy has ended */
}

void sim_device_downlink(struct sim *s, struct device *d, const struct dl_effect *e) {
  const struct lg_region *r = s->sc->region;
  d->adr_ack_cnt = 0;
  d->adr_ack_req = false;
  if (e->join_accept) {
    d->joined = true;
    d->dev_addr = e->dev_addr;
    d->f_cnt = 0;
    d->join_attempts = 0;
    d->net_has_f_cnt = false;
    if (d->ah) d->ah->n = d->ah->pos = 0;
    s->tot.joins_accepted++;
  }
  if (e->ack && d->has_message && d->confirmed) {
    d->acked = true;
    s->tot.confirmed_acked++;
  }
  if (e->link_adr) {
    int eirp;
    if (lg_region_dr(r, e->dr) && lg_region_tx_power_dbm(r, e->txp_index, &eirp) == 0) {
      d->dr = e->dr;
      d->txp_index = e->txp_index;
      d->tx_power_dbm = eirp;
      d->nb_trans = e->nb_trans > 0 ? e->nb_trans : 1;
    }
    const struct lg_sim_group *g = &s->sc->groups[d->group];
    uint16_t usable = (uint16_t)(g->freq_count >= 16 ? 0xffff : (1u << g->freq_count) - 1);
    if (e->ch_mask & usable) d->ch_mask = e->ch_mask & usable; /* none of its own: ignored */
  }
}

static void end_tx(struct sim *s, uint32_t ti) {
  const struct lg_sim_scenario *sc = s->sc;
  struct tx *t = &s->txs[ti];
  struct device *d = &s->dev[t->dev];
  const struct lg_sim_group *g = &sc->groups[d->group];
  bool delivered = false;
  for (uint32_t ri = t->rx_head; ri != UINT32_MAX; ri = s->rxs[ri].next) {
    struct reception *r = &s->rxs[ri];
    struct gw_state *gs = &s->gw[r->gw];
    for (uint32_t k = 0; k < gs->n_active; k++)
      if (gs->active[k] == ri) {
        gs->active[k] = gs->active[--gs->n_active];
        break;
      }
    if (sc->collision == LG_SIM_COLL_NS3 && sc->capture && !r->lost) {
      double sig = r->mw * (double)t->toa_ns;
      for (int k = 0; k < 6 && !r->lost; k++)
        if (r->interf[k] > 0 &&
            10 * log10(sig / r->interf[k]) < lg_sim_ns3_isolation_db(t->sf, k + 7))
          r->lost = true;
    }
    s->tot.rx++;
    gs->heard++;
    if (r->no_path)
      gs->lost_no_path++, s->tot.rx_lost_no_path++;
    else if (r->lost)
      gs->lost_collision++, s->tot.rx_lost_collision++;
    delivered |= !r->lost;
  }
  if (delivered) s->tot.tx_delivered++, d->msg_ok |= t->kind != TX_JOIN;
  t->dl_window = 0;
  if (s->net.uplink) s->net.uplink(s, t, s->net.ctx);
  /* energy: the transmission and the receive windows the device opened */
  const struct lg_region *reg = sc->region;
  double e;
  if (t->kind == TX_RAW) {
    e = sim_uplink_energy_mj(&(struct lg_sim_energy){sc->energy.voltage_v, 0, 0, false}, t->toa_ns,
                             t->power_dbm, 0, 0, 0, 0);
  } else {
    int64_t d1 = t->kind == TX_JOIN ? reg->join_accept_delay1_ns : reg->receive_delay1_ns;
    int64_t d2 = t->kind == TX_JOIN ? reg->join_accept_delay2_ns : reg->receive_delay2_ns;
    const struct lg_datarate *rx2 = lg_region_dr(reg, reg->rx2_dr);
    int64_t w1 = t->dl_window == 1 ? t->dl_toa_ns : sim_rx_window_ns(t->sf, t->bw_hz);
    int64_t w2 = t->dl_window == 1   ? 0
                 : t->dl_window == 2 ? t->dl_toa_ns
                                     : sim_rx_window_ns(rx2->sf, rx2->bw_hz);
    e = sim_uplink_energy_mj(&sc->energy, t->toa_ns, t->power_dbm, d1, w1, d2, w2);
  }
  d->energy_mj += e;
  d->energy_tx_mj +=
      lg_lora_tx_current_ma(t->power_dbm) * (double)t->toa_ns * sc->energy.voltage_v * 1e-9;
  s->tot.energy_mj += e;
  sim_output_tx(s, t, delivered);
  /* the device's next transmission */
  int64_t end = t->end_ns, next;
  int64_t rx_done = end + reg->receive_delay2_ns + sim_rx_window_ns(12, 125000);
  if (t->kind == TX_RAW) {
    finish_message(s, d);
    /* LoRaSim's loop: wait an exponential gap after each packet, or keep the period */
    next = g->traffic == LG_SIM_EXPONENTIAL ? end + (int64_t)(rng_exp(&d->rng, g->period_s) * 1e9)
                                            : d->next_msg_ns;
    if (next < end) next = end;
  } else if (t->kind == TX_JOIN) {
    if (d->joined) {
      next = end + reg->join_accept_delay2_ns + SEC;
    } else { /* back off: doubling from 10 s, capped at an hour, randomised */
      double base = fmin(10.0 * (double)(1 << (d->join_attempts < 9 ? d->join_attempts : 9)), 3600);
      next =
          end + reg->join_accept_delay2_ns + (int64_t)(base * (0.5 + rng_uniform(&d->rng)) * 1e9);
    }
  } else if (d->confirmed && !d->acked && d->retries_left > 0) {
    d->retries_left--;
    next = rx_done + (int64_t)((1 + 2 * rng_uniform(&d->rng)) * 1e9); /* ACK_TIMEOUT 1..3 s */
  } else if (d->copies_left > 0) {
    d->copies_left--;
    next = rx_done;
  } else {
    finish_message(s, d);
    next = d->next_msg_ns > rx_done ? d->next_msg_ns : rx_done;
  }
  for (uint32_t ri = t->rx_head; ri != UINT32_MAX;) { /* free the receptions */
    uint32_t n = s->rxs[ri].next;
    s->rxs[ri].next = s->free_rx;
    s->free_rx = ri;
    ri = n;
  }
  t->next_free = s->free_tx;
  s->free_tx = ti;
  if (next < sc->duration_ns)
    sim_schedule(s, next, EV_TX, t->dev);
  else
    finish_message(s, d);
}

void sim_finish(struct sim *s) {
  for (size_t i = 0; i < s->n_dev; i++) { /* periodic slots a waiting device never reached */
    struct device *d = &s->dev[i];
    const struct lg_sim_group *g = &s->sc->groups[d->group];
    if (g->traffic != LG_SIM_PERIODIC || g->activation == LG_SIM_RAW || !d->joined) continue;
    int64_t period = (int64_t)(g->period_s * 1e9);
    while (d->next_msg_ns < s->sc->duration_ns) {
      d->msgs++, d->msgs_lost++, s->tot.msgs++, s->tot.msgs_overwritten++;
      s->tot.airtime_unsent_ms += (double)planned_toa_ns(s, d, g, TX_DATA) / 1e6;
      d->next_msg_ns += period;
    }
  }
}

bool sim_run_until(struct sim *s, int64_t until_ns) {
  while (s->n_heap && s->heap[0].t_ns <= until_ns) {
    struct event ev = pop(s);
    s->now_ns = ev.t_ns;
    /* The city's devices do not fit in the cache: start loading the next event's device
     * while this one is handled (a third of the engine's time was waiting for it). */
    if (s->n_heap && s->heap[0].kind == EV_TX) __builtin_prefetch(&s->dev[s->heap[0].idx]);
    if (ev.kind == EV_TX)
      device_tx(s, ev.idx);
    else
      end_tx(s, ev.idx);
  }
  return s->n_heap > 0;
}
