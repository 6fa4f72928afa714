/*
 * adr — adaptive data rate: from a device's recent uplinks to its next data rate,
 * transmit power and number of transmissions (NbTrans), or no change, with the reason.
 *
 * The interface every algorithm shares (issue 6 adds E-ADR and the predictive one):
 * the history of uplinks, oldest first, and the device's current settings in; a decision
 * out. `standard` is the Semtech algorithm as ChirpStack runs it
 * (../shared/reference/phy-sim-adr.md §3.1).
 */
#ifndef LG_ADR_H
#define LG_ADR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lora/lora.h"

enum lg_adr_algo { LG_ADR_OFF = 0, LG_ADR_STANDARD, LG_ADR_EADR, LG_ADR_PREDICTIVE };

/* "off", "standard", "eadr", "predictive" <-> the enum; LG_EINVAL for another name. */
int lg_adr_algo_parse(const char *name, enum lg_adr_algo *a);
const char *lg_adr_algo_name(enum lg_adr_algo a);

/* Whether a device moves (adr/mobility.c classifies it from what the server sees). */
enum lg_adr_mobility_class { LG_ADR_MOB_UNKNOWN = 0, LG_ADR_MOB_STATIC, LG_ADR_MOB_MOBILE };

#define LG_ADR_MAX_RX 8 /* receptions of one uplink kept for the path-loss fit */

struct lg_adr_uplink {
  uint32_t f_cnt;
  int dr;
  int tx_power_index; /* the device's power setting when it sent this uplink */
  double max_snr_db;  /* best SNR over the gateways that heard it */
  double max_rssi_dbm;
  int gateways;
  int best_gateway; /* index into lg_adr_input.gateways of the best reception, -1 unknown */
  int64_t t_ns;     /* when it was received */
  int size;         /* PHYPayload bytes (0: unknown): its time on air at another DR */
  int n_rx;         /* every gateway's reception (0: only the best is known) */
  struct lg_adr_rx {
    int gateway; /* index into lg_adr_input.gateways */
    double rssi_dbm;
  } rx[LG_ADR_MAX_RX];
};

/* A position estimate of the device (for eadr and predictive), on a local plane. */
struct lg_adr_fix {
  int64_t t_ns;
  uint32_t f_cnt;
  double e_m, n_m;
  double accuracy_m; /* DRMS; <= 0: unknown */
};

/* A gateway's position on the same plane, and what names it to the link map (stable
 * across decisions: the server's gateway EUI, the simulator's gateway index). */
struct lg_adr_gateway {
  double e_m, n_m;
  uint64_t id;
};

struct lg_adr_settings {
  int dr;
  int tx_power_index;
  int nb_trans;
};

struct lg_adr_input {
  const struct lg_region *region;
  const struct lg_adr_uplink *history; /* oldest first, at most LG_ADR_HISTORY used */
  size_t n;
  struct lg_adr_settings current;
  bool adr_bit;                  /* the last uplink asked for network-controlled ADR */
  double installation_margin_db; /* default 10 dB (ChirpStack) */
  /* standard: 0 decides on any history (ChirpStack); N decides only on each N-th frame
   * with N uplinks at the current DR (Semtech's recommended algorithm as the E-ADR
   * paper's "basic ADR" runs it: a new configuration after each set of 20 frames) */
  int standard_every;
  /* the data rates are the Waspmote modes of lg_region_waspmote (eadr: the paper's
   * Table I RSSI bounds instead of the LoRaWAN ones) */
  bool waspmote_modes;
  /* mobility-aware algorithms (eadr, predictive); all optional */
  const struct lg_adr_fix *fixes; /* oldest first */
  size_t n_fixes;
  const struct lg_adr_gateway *gateways;
  size_t n_gateways;
  /* what the caller knows of the device's motion (the simulator: its mobility model);
   * LG_ADR_MOB_UNKNOWN (the server): predictive classifies it from the history */
  enum lg_adr_mobility_class mobility;
  bool has_bounds; /* the area the device moves in (its mobility model), e0 n0 e1 n1 */
  double bounds[4];
  int64_t period_ns;      /* expected time to the next uplink (predictive), 0: unknown */
  double target_delivery; /* predictive: P(sent and heard), 0: LG_ADR_TARGET */
  double worth; /* predictive: a mover's delivered message in least charges per delivered
                 * message, 0: LG_ADR_WORTH, < 0: the target at any price (experiments) */
  bool keep_locatable; /* predictive: a moving device keeps P(3+ gateways) >= LG_ADR_GEO_TARGET */
  /* predictive: what the network learned of its links (lg_linkmap), keyed by the
   * gateways' ids, on the same plane; NULL: the device's own model only */
  struct lg_linkmap *links;
};

#define LG_ADR_MAX_GW     64   /* predictive: gateways weighed per decision */
#define LG_ADR_TARGET     0.985 /* predictive: default P(next uplink sent and heard) */
#define LG_ADR_TARGET_STATIC 0.995/* predictive: at least this for a static device */
/* predictive: a mover's delivered message is worth this many times the least charge per
 * delivered message any setting offers it; a target that costs more is not bought */
#define LG_ADR_WORTH      50.0
#define LG_ADR_GEO_TARGET 0.9  /* predictive: P(3+ gateways hear) a moving device keeps */
#define LG_EADR_N         3    /* E-ADR adapts every n packets (paper §V) */
#define LG_EADR_ALPHA     0.5  /* configuration change threshold (eq. 4) */
#define LG_EADR_MARGIN_DB 3.0  /* LoRaWAN mode bounds: demodulator floor + this */

/* A configuration mode of E-ADR: an RSSI interval [b_inf, b_sup] and what it means. */
struct lg_eadr_mode {
  double b_inf, b_sup; /* dBm */
  int dr;              /* LoRaWAN table: the region's DR; Waspmote table: the mode number */
};

/* The paper's Table I (ten Waspmote SX1272 modes; mode 10's upper bound taken as
 * b_inf + 20 dB) and the LoRaWAN table of `region` (125 kHz LoRa DRs, bounds at the
 * gateway sensitivity, NF 6 dB, + LG_EADR_MARGIN_DB). Return the count (<= 16). */
size_t lg_eadr_waspmote_modes(struct lg_eadr_mode *out);
size_t lg_eadr_lorawan_modes(const struct lg_region *region, struct lg_eadr_mode *out);

/* Eq. 4: R_change = |RSSI_real(n) - RSSI_estim(2n)| / |B_inf(n) - RSSI_estim(2n)|. */
double lg_eadr_change_rate(double rssi_real, double rssi_estim, double b_inf_current);
/* Eq. 5: R_{A->B} = (|B_sup(b) - B_inf(a)| / 2) / (|B_sup(b) - RSSI| + |B_inf(b) - RSSI|). */
double lg_eadr_transition_rate(const struct lg_eadr_mode *a, const struct lg_eadr_mode *b,
                               double rssi_estim);
/* Eq. 6: the index in modes[] of the largest R_{A->B} from mode index `a`. */
size_t lg_eadr_choose(const struct lg_eadr_mode *modes, size_t n, size_t a, double rssi_estim);

/* A log-distance model fitted to a device's own uplinks: RSSI = a - 10 n log10(d) + N(0, s). */
struct lg_adr_pathloss {
  double a_dbm; /* at 1 m, for the device's power at the time (normalised to 0 dBm TX) */
  double n;     /* exponent */
  double sigma_db;
  size_t points;
};
/* Fits from the uplinks that have a fix and a best gateway; with fewer than 3 usable
 * points or too little spread in distance, n stays at 2.7 and only a is fitted (or,
 * with none, LG_ENOTFOUND). */
int lg_adr_fit_pathloss(const struct lg_adr_input *in, struct lg_adr_pathloss *m);

#define LG_ADR_HISTORY 20

#define LG_ADR_MOB_MIN 8 /* uplinks in the history before a mobility verdict */
struct lg_adr_mobility {
  enum lg_adr_mobility_class cls;
  bool classified; /* by lg_adr_classify_mobility (false: what the caller said) */
  char why[200];
};

struct lg_adr_decision {
  bool change;
  struct lg_adr_settings next;
  double snr_margin_db;
  int steps;
  double loss_rate;
  struct lg_adr_mobility mobility; /* predictive: how it took the device's motion */
  char reason[512];
};

/* Mobility from what the server sees (adr/mobility.c): the device's positions, its RSSI
 * at each gateway in time order, which gateways hear it. `why` gives the figures. */
int lg_adr_classify_mobility(const struct lg_adr_input *in, struct lg_adr_mobility *out);
const char *lg_adr_mobility_name(enum lg_adr_mobility_class c);

/* What the network learns of its links (adr/linkmap.c): per gateway (its id) and square
 * cell of the plane, levels (RSSI - TX power) heard and the sensitivities missed uplinks
 * were below; a cell's law is their censored fit. At most max_entries (gateway, cell)
 * pairs. Not thread-safe: one thread learns and reads it (the server's packet thread). */
struct lg_linkmap;
struct lg_linkmap *lg_linkmap_new(double cell_m, size_t max_entries);
void lg_linkmap_free(struct lg_linkmap *m);
void lg_linkmap_heard(struct lg_linkmap *m, uint64_t gw, double e, double n, double level_db);
void lg_linkmap_missed(struct lg_linkmap *m, uint64_t gw, double e, double n, double below_db);
/* Uplink i of in->history sent from (e, n): every gateway of in->gateways heard it (its
 * level) or missed it (below the sensitivity of its data rate). */
void lg_linkmap_uplink(struct lg_linkmap *m, const struct lg_adr_input *in, size_t i, double e,
                       double n);
/* Whether gateway gw has learned anything in the cell of (e, n). */
bool lg_linkmap_has(struct lg_linkmap *m, uint64_t gw, double e, double n);
/* The sensitivity (dBm) of the region's LoRa data rate dr at a gateway (6 dB noise figure):
 * what a level is censored below when a gateway misses a frame; LG_EINVAL: not LoRa. */
int lg_adr_sensitivity_dbm(const struct lg_region *r, int dr, double *sens);
/* The law of gateway gw's level in the cell of (e, n); false: not enough learned there. */
bool lg_linkmap_law(struct lg_linkmap *m, uint64_t gw, double e, double n, double *mu,
                    double *sigma);
/* (gateway, cell) pairs learned; *refused: new ones not learned for the cap. */
size_t lg_linkmap_size(const struct lg_linkmap *m, uint64_t *refused);
/* The map to a file and back (JSON, written beside and renamed), with the geodetic origin
 * of its plane (lat, lon in degrees), which the caller keeps. Load: into a new map of
 * max_entries; LG_EINVAL with the reason for a file that is not one. */
/* What a gateway learned in one cell (cx, cy: the cell's index on the plane, its corner at
 * (cx, cy) x cell_m); has_law: enough for a law (mu, sigma of RSSI - TX power, dB). */
struct lg_linkmap_cell {
  int32_t cx, cy;
  uint32_t heard;
  double missed;
  bool has_law;
  double mu, sigma;
};
/* Gateway gw's cells, at most cap into out (any order); the count of all of them. */
size_t lg_linkmap_cells(struct lg_linkmap *m, uint64_t gw, struct lg_linkmap_cell *out, size_t cap);
double lg_linkmap_cell_m(const struct lg_linkmap *m);
/* A new map holding gateway gw's cells only (at most max_entries): taken under a lock, its
 * laws fitted after it is released; NULL: no memory. */
struct lg_linkmap *lg_linkmap_extract(const struct lg_linkmap *m, uint64_t gw, size_t max_entries);
/* A copy (to save on another thread while this one goes on learning); NULL: no memory. */
struct lg_linkmap *lg_linkmap_clone(const struct lg_linkmap *m);
int lg_linkmap_save(const struct lg_linkmap *m, const double origin[2], const char *path,
                    char *why, size_t why_len);
int lg_linkmap_load(const char *path, size_t max_entries, struct lg_linkmap **out,
                    double origin[2], char *why, size_t why_len);

/* Decides for one device. Always fills *out (no change, with the reason, when the
 * algorithm does not apply). LG_EINVAL for an unusable input (no region). */
int lg_adr_decide(enum lg_adr_algo algo, const struct lg_adr_input *in,
                  struct lg_adr_decision *out);

#endif
