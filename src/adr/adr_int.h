/* Inside adr/: the algorithms and the helpers they share. */
#ifndef LG_ADR_INT_H
#define LG_ADR_INT_H

#include "adr/adr.h"

void adr_standard(const struct lg_adr_input *in, struct lg_adr_decision *out);
void adr_eadr(const struct lg_adr_input *in, struct lg_adr_decision *out);
void adr_predictive(const struct lg_adr_input *in, struct lg_adr_decision *out);

/* Distance (m) from (e, n) to the nearest gateway, its index in *which. */
double adr_nearest_gateway_m(const struct lg_adr_input *in, double e, double n, size_t *which);
/* Keeps (e, n) inside the device's bounds by reflection (no-op without bounds). */
void adr_reflect(const struct lg_adr_input *in, double *e, double *n);
/* EIRP (dBm) of TXPower index `index` in the input's region. */
double adr_tx_power_dbm(const struct lg_adr_input *in, int index);
/* Fits the log-distance model to the history's receptions at positions pos[i] (for the
 * uplinks with has_pos[i]); see lg_adr_fit_pathloss. `censored`: also every gateway that
 * did not hear a positioned uplink, as a level below its sensitivity (a Tobit fit), when
 * the history has every gateway's reception. */
int adr_fit(const struct lg_adr_input *in, const double (*pos)[2], const bool *has_pos,
            bool censored, struct lg_adr_pathloss *m);
/* A level's law censored below t (adr/link.c): under N(mu, sigma), E[X | X < t] in *e1,
 * E[X^2 | X < t] in *e2, and in *w the weight of a miss at t as a fade (not a collision). */
void adr_censored_moments(double mu, double sigma, double t, double *w, double *e1, double *e2);
/* N(mu, sigma) fitted to nx levels heard (their sum sx and sum of squares sxx) and to
 * misses below t[j] (count[j] of each; NULL: one each); sigma at least 2 dB, 6 dB below 5
 * heard. */
void adr_censored_normal(size_t nx, double sx, double sxx, const double *t, const double *count,
                         size_t nt, double *mu, double *sigma);
/* The sensitivity (dBm) of LoRa data rate dr of region r at a gateway of 6 dB noise figure. */
int adr_dr_sensitivity(const struct lg_region *r, int dr, double *sens);

/* RSSI (dBm) the model expects at dist_m for a device sending at tx_dbm. */
double adr_expected_rssi(const struct lg_adr_pathloss *m, double tx_dbm, double dist_m);

#endif
