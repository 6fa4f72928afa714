/*
 * sim — plays devices, gateways and the air between them.
 *
 * A scenario (JSON, see docs/simulator.md) names the region, the gateways, groups of
 * devices with their traffic and mobility, the radio channel and the collision model.
 * The same models run two ways:
 *   offline (lg_sim_run):   the network's side (de-duplication, ADR, geolocation) linked
 *                           in, as fast as the machine allows, deterministic for a seed;
 *   live (lg_sim_run_live): every gateway is a Semtech UDP packet-forwarder client of a
 *                           real `lorageo serve`, devices send real LoRaWAN frames.
 * Facts and reference numbers: ../shared/reference/phy-sim-adr.md (cited as R1..R8).
 * Times are int64 nanoseconds of simulated time from the start of the run.
 */
#ifndef LG_SIM_H
#define LG_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adr/adr.h"
#include "geo/geo.h"
#include "lora/lora.h"

enum lg_sim_collision {
  LG_SIM_COLL_NONE = 0, /* no interference: only sensitivity decides */
  LG_SIM_COLL_LORASIM,  /* Bor et al.: same SF + channel, preamble rule, 6 dB capture */
  LG_SIM_COLL_NS3,      /* Magrin et al.: energy SIR per interferer SF, Goursaud matrix */
  LG_SIM_COLL_FLORA,    /* FLoRa v1.x: power difference per SF pair (Croce), 6-symbol rule */
};

enum lg_sim_mobility {
  LG_SIM_STATIC = 0,
  LG_SIM_WAYPOINT,
  LG_SIM_ZIGZAG,
  LG_SIM_SQUARE,
  LG_SIM_TRACE
};
enum lg_sim_traffic { LG_SIM_PERIODIC = 0, LG_SIM_EXPONENTIAL };
enum lg_sim_activation { LG_SIM_ABP = 0, LG_SIM_OTAA, LG_SIM_RAW };

#define LG_SIM_NAME_MAX  32
#define LG_SIM_MAX_FREQS 16

struct lg_sim_gateway {
  uint64_t eui;
  double lat_deg, lon_deg, alt_m; /* alt includes the antenna height */
  /* Timing of the gateway's receive timestamps (docs/simulator.md, "timing"):
   * stamp = floor((arrival + offset + N(0, jitter) + tail) / quantum) * quantum. */
  double timing_jitter_ns;        /* standard deviation of the timestamp noise */
  bool fine_timestamp;            /* quantum_ns < 1000: live mode sends `ftime` */
  int64_t clock_offset_ns;        /* constant error of this gateway's clock */
  int64_t timing_quantum_ns;      /* timestamps truncated to this step; 0: none */
  double timing_tail_probability; /* a reception's chance of an extra delay (heavy tail) */
  double timing_tail_mean_ns;     /* that delay's mean (exponential) or scale (Laplace) */
  int64_t drift_start_ns;         /* a fault: its clock drifts from then on ... */
  double drift_ns_per_s;          /* ... by this much per second (0: never) */
  bool timing_tail_laplace;       /* the extra delay is Laplace (either sign), else late only */
  double noise_figure_db;
  double antenna_gain_db;
  int paths; /* parallel demodulators (SX1301: 8); 0 = unlimited */
  double ecef[3];
};

struct lg_sim_point {
  int64_t t_ns;
  double e_m, n_m;
};

struct lg_sim_group {
  char name[LG_SIM_NAME_MAX];
  int count;
  enum lg_sim_activation activation;
  enum lg_sim_traffic traffic;
  double period_s, period_jitter_s; /* periodic: period +- uniform jitter; exponential: mean */
  int payload_bytes;                /* application payload (FRMPayload) */
  double confirmed_share;           /* fraction of uplinks sent confirmed */
  int dr;                           /* initial data rate of the region */
  bool
      dr_auto; /* "auto": the fastest DR with a 10 dB margin at the best gateway (mean path loss) */
  int sf, cr;  /* raw LoRa (activation "none"): SF and coding rate 1..4 */
  uint32_t bw_hz;
  double tx_power_dbm;
  enum lg_adr_algo adr;
  double adr_target; /* predictive: P(next uplink sent and heard), "adr_target" */
  /* "reference": the devices send their own position (Cayenne LPP GPS, 11 bytes) and live
   * mode provisions them as reference devices (issue 14) */
  bool reference;
  /* "class": "C": listens on RX2 between its uplinks (live mode: provisioned so, and takes
   * downlinks sent at any time); "multicast": its devices form one multicast group */
  bool class_c;
  bool multicast;
  int64_t profile_id; /* live mode with --api: provisioned with this device profile (0: none) */
  uint32_t mc_addr;
  uint8_t mc_nwk_s_key[16], mc_app_s_key[16];
  int freq_count;
  uint32_t freqs_hz[LG_SIM_MAX_FREQS]; /* default: the region's default channels */
  /* placement, in metres east/north of the scenario origin */
  bool place_points;
  double center_e, center_n, radius_m; /* uniform in a disc (radius 0: all at the centre) */
  size_t n_points;
  struct lg_sim_point *points; /* explicit positions (count = n_points) */
  double alt_m;
  /* mobility */
  enum lg_sim_mobility mobility;
  double speed_mps, pause_s;
  double bx0, by0, bx1, by1; /* bounds (east/north, m) of waypoint, zigzag, square */
  double zigzag_step_m;      /* zigzag: distance between sweeps */
  size_t n_trace;
  struct lg_sim_point *trace; /* trace: timed positions, looped */
};

struct lg_sim_channel {
  double d0_m, pl0_db, exponent, sigma_db; /* log-distance path loss + shadowing */
  bool natural_log;                        /* LoRaSim rev 218 used ln instead of log10 */
  double nlos_probability;                 /* a reception's arrival delayed by NLOS */
  double nlos_delay_mean_ns;               /* exponential delay of such receptions */
};

struct lg_sim_energy {
  double voltage_v;
  double rx_ma, idle_ma; /* receive and idle (between windows) currents */
  bool count_rx_windows; /* add RX1/RX2 listening to the energy per uplink */
};

/* Faults the simulator injects (issue 19: what the fleet's alarms must find), each device at
 * most one of them, picked from the seed; ground truth in faults.csv (live mode's --out). */
#define LG_SIM_MAX_DRIFTS 8
struct lg_sim_faults {
  int config_port; /* devices take configuration frames on it and report theirs (222) */
  int reboots;     /* devices that reboot once in [reboot_from_s, reboot_to_s] */
  double reboot_from_s, reboot_to_s;
  int batteries; /* devices whose battery falls from 254 to 1 over battery_over_s, */
  double battery_over_s, battery_from_s, battery_to_s; /* starting in [from, to] */
  int silences; /* devices off for min_s..max_s, starting in [silence_from_s, silence_to_s] */
  double silence_min_s, silence_max_s, silence_from_s, silence_to_s;
  size_t n_drifts; /* gateways whose clock drifts from start_s at ns_per_s */
  struct {
    int gateway;
    double start_s, ns_per_s;
  } drift[LG_SIM_MAX_DRIFTS];
};

struct lg_sim_scenario {
  struct lg_sim_faults faults;
  const struct lg_region *region;
  struct lg_region *custom_region; /* owned: the Waspmote modes ("modes": "waspmote") */
  bool waspmote_modes;
  int standard_every; /* "adr_standard": "semtech": standard decides each 20 frames */
  /* "adr_mobility": "model" (default: predictive is told each group's mobility model) or
   * "classify" (it tells movers from static devices as the server does, from what it sees) */
  bool adr_classify;
  uint64_t seed;
  int64_t duration_ns;
  double origin_lat, origin_lon; /* ENU origin (default: the first gateway) */
  size_t n_gateways;
  struct lg_sim_gateway *gateways;
  size_t n_groups;
  struct lg_sim_group *groups;
  struct lg_sim_channel channel;
  enum lg_sim_collision collision;
  bool capture; /* false: any overlap of the same SF and channel destroys both */
  bool duty_cycle;
  bool dc_hourly; /* "hourly": a budget per hour (bursts allowed); else an off time per frame */
  struct lg_sim_energy energy;
  /* geolocation of delivered uplinks (offline): a bit per enum lg_geo_method */
  unsigned geo_methods;
  int geo_min_gateways;
  bool geo_mean; /* also the per-device running mean of static devices' fixes */
  double geo_sigma_ns;
};

/* Loads and validates a scenario; on error returns LG_EINVAL with a reason naming the
 * bad field (e.g. "groups[1].mobility.kind: expected one of ...") in `why`. */
int lg_sim_scenario_load(const char *path, struct lg_sim_scenario *sc, char *why, size_t why_len);
/* The same from a JSON text (tests). */
int lg_sim_scenario_parse(const char *json, const char *base_dir, struct lg_sim_scenario *sc,
                          char *why, size_t why_len);
void lg_sim_scenario_free(struct lg_sim_scenario *sc);

struct lg_sim_options {
  const char *out_dir; /* NULL: no files, summary only */
  bool progress;       /* a progress line on stderr */
  bool plots;          /* PNG plots with gnuplot when out_dir is set and gnuplot exists */
  bool transmissions;  /* write transmissions.csv (large) */
};

/* Runs a scenario offline. The summary (JSON object, caller frees with free()) goes to
 * *summary_json. LG_EIO when an output file cannot be written (reason in why). */
int lg_sim_run(const struct lg_sim_scenario *sc, const struct lg_sim_options *o,
               char **summary_json, char *why, size_t why_len);

struct lg_sim_live_options {
  const char *server;    /* HOST:PORT of the Semtech UDP bridge */
  const char *api_url;   /* e.g. http://127.0.0.1:8080: devices and gateways provisioned */
  const char *api_token; /* Bearer token, or NULL */
  double speed;          /* simulated seconds per wall-clock second (>= 1) */
  const char *out_dir;
  bool progress;
  /* A downlink up to this late (wall-clock ms) is still sent at the time it asked for: at
   * a high --speed no server answers within RX1's 1 s / speed (0: TOO_LATE as a gateway). */
  double downlink_grace_ms;
  /* --station ws[s]://HOST:PORT: the gateways are LoRa Basics Stations of the server's
   * [basicstation] bind (router-info, then traffic) instead of UDP forwarders; with a
   * bearer token, and over TLS a CA file and an optional client certificate and key */
  const char *station_uri;
  const char *station_token;
  const char *station_ca, *station_cert, *station_key;
};

/* Runs a scenario live against a server. With api_url, the devices are provisioned through
 * the API (one that exists there with other counters or keys is a provisioning conflict,
 * said on stderr and counted in the summary), and at the end the summary says how many of
 * this run's uplinks the server stored: none of those it sent is an error (LG_EIO, why set,
 * *summary_json still given). */
int lg_sim_run_live(const struct lg_sim_scenario *sc, const struct lg_sim_live_options *o,
                    char **summary_json, char *why, size_t why_len);

/* ---- models, exposed for tests ------------------------------------------------ */

/* Mean path loss (dB) of the channel at distance d (m, clamped to >= 1 m). */
double lg_sim_path_loss_db(const struct lg_sim_channel *c, double d_m);

/* ns-3 isolation (dB) a wanted SF `sf_w` needs against interferer SF `sf_i` (Goursaud). */
double lg_sim_ns3_isolation_db(int sf_w, int sf_i);
/* FLoRa's power-difference threshold (dB) for wanted SF `sf_w` against `sf_i`. */
double lg_sim_flora_threshold_db(int sf_w, int sf_i);

#endif
