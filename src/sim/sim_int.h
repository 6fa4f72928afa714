/*
 * Inside the simulator: random numbers, the event engine and its records, shared by the
 * offline run (engine.c), the live run (live.c) and the outputs (output.c).
 */
#ifndef LG_SIM_INT_H
#define LG_SIM_INT_H

#include <math.h>
#include <stdio.h>

#include "sim/sim.h"

/* ---- random numbers: xoshiro256** (Blackman & Vigna), one stream per device ------ */

struct rng {
  uint64_t s[4];
  double spare; /* the second normal deviate of the polar method */
  bool has_spare;
};

static inline uint64_t rng_splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static inline void rng_seed(struct rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
  for (int i = 0; i < 4; i++)
    r->s[i] = rng_splitmix(&x);
  r->has_spare = false;
}
static inline uint64_t rng_rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}
static inline uint64_t rng_next(struct rng *r) {
  uint64_t *s = r->s, out = rng_rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3], s[2] ^= t, s[3] = rng_rotl(s[3], 45);
  return out;
}
/* Uniform in [0, 1). */
static inline double rng_uniform(struct rng *r) {
  return (double)(rng_next(r) >> 11) * 0x1p-53;
}
static inline double rng_exp(struct rng *r, double mean) {
  return -mean * log1p(-rng_uniform(r));
}
static inline double rng_normal(struct rng *r) {
  if (r->has_spare) return r->has_spare = false, r->spare;
  double u, v, q;
  do {
    u = 2 * rng_uniform(r) - 1, v = 2 * rng_uniform(r) - 1, q = u * u + v * v;
  } while (q >= 1 || q == 0);
  double f = sqrt(-2 * log(q) / q);
  r->spare = v * f, r->has_spare = true;
  return u * f;
}

/* ---- what a gateway reports ----------------------------------------------------- */

/* The highest SNR (dB) a gateway reports. The SX1301/SX1302 `lsnr` is the
 * demodulator's estimate of the de-spread signal against the noise, and it saturates:
 * packet-forwarder logs of devices next to a gateway read +9 to +13.5 dB, never the
 * 40-60 dB that RSSI minus the noise floor gives there. The simulator's `snr` (records,
 * `lsnr`, the network's ADR) is therefore min(RSSI - noise floor, this). */
#define LG_SIM_SNR_MAX_DB 13.5

/* The gateway's timestamp (ns, simulated time) of a frame ending at `arrival_ns` at its
 * antenna: its clock offset, Gaussian noise, its heavy tail (an extra delay with the
 * tail's probability), the channel's NLOS delay, then truncation to its quantum (a
 * counter reads the last tick passed). Draws from `rng` only for the terms that are on,
 * so scenarios without a tail keep their random streams. */
static inline int64_t sim_gateway_stamp_ns(const struct lg_sim_gateway *g,
                                           const struct lg_sim_channel *ch, int64_t arrival_ns,
                                           struct rng *rng) {
  double stamp = (double)arrival_ns + (double)g->clock_offset_ns;
  if (g->drift_ns_per_s != 0 && arrival_ns > g->drift_start_ns) /* a fault: a drifting clock */
    stamp += g->drift_ns_per_s * (double)(arrival_ns - g->drift_start_ns) * 1e-9;
  if (g->timing_jitter_ns > 0) stamp += g->timing_jitter_ns * rng_normal(rng);
  if (g->timing_tail_probability > 0 && rng_uniform(rng) < g->timing_tail_probability) {
    double extra = rng_exp(rng, g->timing_tail_mean_ns);
    if (g->timing_tail_laplace && rng_uniform(rng) < 0.5) extra = -extra;
    stamp += extra;
  }
  if (ch->nlos_probability > 0 && rng_uniform(rng) < ch->nlos_probability)
    stamp += rng_exp(rng, ch->nlos_delay_mean_ns);
  int64_t t_ns = stamp >= 0 ? (int64_t)(stamp + 0.5) : (int64_t)llround(stamp);
  int64_t q = g->timing_quantum_ns;
  if (q > 1) { /* floor, also for a negative time */
    int64_t r = t_ns % q;
    t_ns -= r < 0 ? r + q : r;
  }
  return t_ns;
}

/* ---- records ------------------------------------------------------------------ */

#define SIM_MAX_BANDS 8
#define SIM_ADR_HIST  LG_ADR_HISTORY

struct adr_hist {
  float snr, rssi;
  uint32_t f_cnt, t_ms;
  uint16_t best_gw;
  uint8_t dr, txp, gws, size;
};

/* The network's ADR history of a device (allocated only when its ADR is on). */
struct adr_ring {
  uint8_t n, pos;
  struct adr_hist h[SIM_ADR_HIST];
};

/* The positions the network knows of a device under a mobility-aware ADR (eadr,
 * predictive), newest last; allocated only for those devices. */
#define SIM_ADR_FIXES    20
#define SIM_LINK_CELL_M  250.0 /* the link map's cells (predictive) */
#define SIM_LINK_ENTRIES 65536 /* its (gateway, cell) pairs at most */
struct adr_track {
  struct lg_adr_fix fix[SIM_ADR_FIXES];
  uint8_t n, pos;
  /* every gateway's reception of each history entry (same ring index as hist[]) */
  uint8_t n_rx[SIM_ADR_HIST];
  struct {
    uint16_t gw;
    float rssi;
  } rx[SIM_ADR_HIST][LG_ADR_MAX_RX];
};

struct link {
  uint32_t gw;
  float mean_pl_db; /* mean path loss of this device-gateway pair */
  float dist_m;
};

struct device {
  struct rng rng;
  uint32_t group;
  double e, n;         /* current position on the local plane (m) */
  double ecef[3];      /* current position, ECEF (m) */
  double way_e, way_n; /* waypoint mobility: the leg's start, target and timing */
  double way_te, way_tn;
  int64_t way_t0, way_t1;
  double phase_m;            /* zigzag/square: distance along the path at t = 0 */
  uint32_t link_off, link_n; /* static devices: gateways in reach (links[]) */
  /* device MAC */
  uint32_t dev_addr;
  uint32_t f_cnt; /* last FCnt used */
  uint16_t dev_nonce;
  bool joined;
  int dr, txp_index, nb_trans;
  double tx_power_dbm;
  int copies_left;  /* NbTrans repetitions still to send of the current message */
  int retries_left; /* confirmed retransmissions still allowed */
  bool confirmed, acked, adr_ack_req, has_message, msg_ok;
  uint32_t adr_ack_cnt;
  int join_attempts;
  int64_t next_msg_ns;                 /* when the application produces its next message */
  int64_t band_free_ns[SIM_MAX_BANDS]; /* device duty cycle per sub-band */
  int64_t dc_credit_ns[SIM_MAX_BANDS]; /* hourly duty cycle: what is left of the budget */
  /* network side (offline) */
  uint32_t net_f_cnt;
  bool net_has_f_cnt;
  struct adr_ring *ah; /* the network's ADR history, for devices with ADR on */
  bool adr_pending;
  struct lg_adr_settings adr_next;
  struct adr_track *trk;
  double mean_sum_e, mean_sum_n; /* running mean of this device's fixes */
  uint32_t mean_count;
  /* statistics */
  uint32_t tx_count, msgs, msgs_delivered, msgs_lost;
  double airtime_ms, energy_mj, energy_tx_mj;
  /* live mode: keys, see live.c */
  struct live_dev *live;
  /* faults (issue 19): its reboot, its silence [from, to), its battery's fall (INT64_MAX:
   * none); and what configuration frames set: its own period (0: its group's) and the
   * channels it may use (bit i: its group's i-th frequency; 0: all) */
  int64_t reboot_ns, silent_from_ns, silent_to_ns, battery_from_ns;
  double period_s;
  uint16_t ch_mask;
};

struct reception {
  uint32_t tx, gw, next;    /* next: the transmission's next reception (UINT32_MAX: none) */
  int64_t start_ns, end_ns; /* arrival at the gateway (true time) */
  int64_t stamp_ns;         /* the gateway's timestamp of the arrival (with its errors) */
  float rssi, snr;
  float mw; /* received power, mW (ns-3 interference) */
  bool lost, no_path;
  double interf[6]; /* ns-3: interference energy (mW ns) per interferer SF 7..12 */
};

enum tx_kind { TX_RAW = 0, TX_JOIN, TX_DATA };

struct tx {
  uint32_t dev, rx_head, n_rx, next_free;
  enum tx_kind kind;
  int64_t start_ns, end_ns, toa_ns;
  uint32_t freq_hz;
  int sf, dr, cr, band;
  uint32_t bw_hz;
  double power_dbm;
  uint32_t f_cnt;
  bool confirmed, adr, adr_ack_req;
  int dl_window;     /* the receive window a downlink answered in: 0 none, 1, 2 */
  int64_t dl_toa_ns; /* that downlink's time on air */
  int size;          /* PHYPayload bytes */
  uint8_t phy[256];  /* live mode: the frame as sent */
};

struct event {
  int64_t t_ns;
  uint64_t seq;
  uint32_t kind, idx;
};
enum { EV_TX = 0, EV_END };

struct gw_state {
  uint32_t *active; /* receptions on air at this gateway */
  uint32_t n_active, cap_active;
  int64_t band_free_ns[SIM_MAX_BANDS]; /* downlink duty cycle per sub-band */
  uint64_t heard, lost_collision, lost_no_path, downlinks;
  int64_t tmst_base_ns;      /* live: concentrator counter offset */
  double noise_floor_dbm[3]; /* at 125, 250, 500 kHz with this gateway's noise figure */
};

struct geo_stats {
  float *err;
  size_t n, cap;
  uint64_t tried, failed;
};

struct sim_totals {
  uint64_t tx, tx_delivered, rx, rx_lost_collision, rx_lost_no_path;
  uint64_t msgs, msgs_delivered, msgs_overwritten, joins_sent, joins_accepted, confirmed_acked;
  uint64_t downlinks, downlinks_dc_blocked, downlinks_out_of_reach;
  uint64_t adr_decisions, dc_waits;
  /* predictive's mobility verdicts against the mobility model ([0] static, [1] moving) */
  uint64_t mob_verdicts, mob_unknown, mob_correct[2], mob_truth[2];
  double airtime_ms, energy_mj;
  double airtime_unsent_ms; /* what the overwritten messages would have taken, as planned */
};

struct sim;

/* What happens to a finished transmission on the network's side. */
struct sim_network {
  /* The transmission `t` starts (may be NULL). */
  void (*sent)(struct sim *s, struct tx *t, void *ctx);
  /* The transmission `t` ended; its receptions are final (lost flags set). */
  void (*uplink)(struct sim *s, struct tx *t, void *ctx);
  void *ctx;
};

/* A closed path (zigzag, square) a group's devices follow. */
struct path {
  double *x, *y, *cum; /* vertices and the distance to each along the path */
  size_t n;
  double len;
};

struct sim {
  const struct lg_sim_scenario *sc;
  struct path *paths; /* per group */
  struct lg_enu_frame enu;
  int64_t now_ns;
  struct device *dev;
  size_t n_dev;
  struct link *links;
  size_t n_links;
  struct gw_state *gw;
  struct tx *txs;
  uint32_t n_txs, cap_txs, free_tx;
  struct reception *rxs;
  uint32_t n_rxs, cap_rxs, free_rx;
  struct event *heap;
  size_t n_heap, cap_heap;
  uint64_t seq;
  double max_gain_db, min_nf_db; /* over the gateways: bounds of any link's reach */
  float q_table[801];            /* Q(z) = P(N(0,1) > z) for z = -4 .. 4 in steps of 0.01 */
  struct sim_network net;
  struct sim_totals tot;
  struct geo_stats geo[LG_GEO_METHOD_COUNT]; /* per enum lg_geo_method */
  struct geo_stats geo_mean;
  struct lg_geo_solver *solver;
  struct lg_adr_gateway *adr_gw; /* gateway positions on the local plane, for ADR */
  struct lg_linkmap *linkmap;    /* what predictive's network learns of its links */
  FILE *f_tx, *f_pos, *f_frames, *f_adr;
  uint64_t frames_written;
  /* map.png's frame: the site (gateways and every true position written), not the fixes */
  double site_lat_deg[2], site_lon_deg[2];
  bool has_site;
  bool live;
};

/* engine.c */
int sim_init(struct sim *s, const struct lg_sim_scenario *sc, struct sim_network net);
void sim_free(struct sim *s);
/* Processes events up to and including simulated time `until_ns`; false when none are left. */
bool sim_run_until(struct sim *s, int64_t until_ns);
int64_t sim_next_event_ns(const struct sim *s);
/* At the end of a run: count the periodic messages a device waiting for its duty cycle
 * never got to send (as overwritten). */
void sim_finish(struct sim *s);
void sim_schedule(struct sim *s, int64_t t_ns, uint32_t kind, uint32_t idx);
/* The device's position (ENU and geodetic) at time t. */
void sim_device_position(struct sim *s, struct device *d, int64_t t_ns);
/* Applies what a downlink carried to the device. */
struct dl_effect {
  bool ack, join_accept, link_adr;
  int dr, txp_index, nb_trans;
  uint16_t ch_mask; /* LinkADRReq's (ChMaskCntl 0); 0: unchanged */
  uint32_t dev_addr;
};
/* The device's battery as DevStatusAns reports it (1..254) at time t. */
int sim_device_battery(const struct sim *s, const struct device *d, int64_t t_ns);
/* Its uplink period (s): its own, set by a configuration frame, or its group's. */
static inline double sim_device_period_s(const struct sim *s, const struct device *d) {
  return d->period_s > 0 ? d->period_s : s->sc->groups[d->group].period_s;
}
void sim_device_downlink(struct sim *s, struct device *d, const struct dl_effect *e);
/* Energy (mJ) of an uplink of `toa_ns` at `dbm`, with the receive windows the device
 * opened (rx1_ns / rx2_ns listening, 0 when skipped) after delays d1/d2. */
double sim_uplink_energy_mj(const struct lg_sim_energy *e, int64_t toa_ns, double dbm,
                            int64_t d1_ns, int64_t rx1_ns, int64_t d2_ns, int64_t rx2_ns);
/* Listening time (ns) of an empty receive window at sf/bw: 8 symbols (ns-3). */
int64_t sim_rx_window_ns(int sf, uint32_t bw_hz);

/* Collision models: a new reception `p` (of `tp`) arrives where `q` (of `tq`) is on air;
 * marks either lost (LoRaSim, FLoRa, ALOHA) or adds interference energy (ns-3). */
void sim_interfere(const struct lg_sim_scenario *sc, struct reception *p, const struct tx *tp,
                   struct reception *q, const struct tx *tq);
/* ns-3, at the end of a reception: is any interferer SF's SIR below the Goursaud isolation? */
bool sim_ns3_lost(const struct reception *r, const struct tx *t);

/* network.c: the in-process network of the offline run */
void sim_offline_uplink(struct sim *s, struct tx *t, void *ctx);

/* output.c */
int sim_outputs_open(struct sim *s, const char *dir, bool transmissions, char *why, size_t why_len);
void sim_output_tx(struct sim *s, const struct tx *t, bool delivered);
void sim_output_fix(struct sim *s, const struct tx *t, const struct device *d, const char *method,
                    double lat, double lon, double err_m, int gws);
/* One `lorageo solve` record of a located frame (frames.jsonl), times since 2026-01-01. */
void sim_output_frame(struct sim *s, const struct tx *t, const struct device *d);
/* adr.csv: one line per ADR run of the network, its decision and reason. */
void sim_output_adr(struct sim *s, const struct tx *t, const struct device *d,
                    const struct lg_adr_decision *dec);
char *sim_summary(struct sim *s);
int sim_outputs_close(struct sim *s, const char *dir, bool plots, const char *summary, char *why,
                      size_t why_len);
void geo_stats_add(struct geo_stats *g, double err);

/* ---- station.c: the gateways as LoRa Basics Stations (live mode) ---------------- */

struct sim_stations;
/* A text message from the server to station `gi` (router_config, dnmsg, timesync). */
typedef void (*sim_station_msg_fn)(void *ctx, size_t gi, const char *json, size_t len);
/* Connects one station per EUI to o->station_uri (router-info, then traffic, version →
 * router_config), waiting up to 10 s. 0, or LG_E* with the first refusal's reason. *out is
 * set either way (free it with sim_stations_close). */
int sim_stations_open(struct sim_stations **out, const struct lg_sim_live_options *o,
                      const uint64_t *euis, size_t n, sim_station_msg_fn on_msg, void *cb_ctx,
                      char *why, size_t why_len);
void sim_stations_send(struct sim_stations *a, size_t gi, const char *msg, size_t len);
/* Services the connections for about wait_ms (at least once). */
void sim_stations_service(struct sim_stations *a, int wait_ms);
/* 1 with a reason when a station lost its connection. */
int sim_stations_failed(const struct sim_stations *a, char *why, size_t why_len);
void sim_stations_close(struct sim_stations *a);

#endif
