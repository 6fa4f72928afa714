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

struct lg_adr_uplink {
  uint32_t f_cnt;
  int dr;
  int tx_power_index; /* the device's power setting when it sent this uplink */
  double max_snr_db;  /* best SNR over the gateways that heard it */
  double max_rssi_dbm;
  int gateways;
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
};

#define LG_ADR_HISTORY 20

struct lg_adr_decision {
  bool change;
  struct lg_adr_settings next;
  double snr_margin_db;
  int steps;
  double loss_rate;
  char reason[160];
};

/* Decides for one device. Always fills *out (no change, with the reason, when the
 * algorithm does not apply). LG_EINVAL for an unusable input (no region). */
int lg_adr_decide(enum lg_adr_algo algo, const struct lg_adr_input *in,
                  struct lg_adr_decision *out);

#endif
