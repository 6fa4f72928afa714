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
/* RSSI (dBm) the model expects at dist_m for a device sending at tx_dbm. */
double adr_expected_rssi(const struct lg_adr_pathloss *m, double tx_dbm, double dist_m);

#endif
