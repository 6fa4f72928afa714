/*
 * Log-distance path loss (001_*.txt §2: Friis free space as its n = 2 case), used to
 * turn RSSI into range for `rssi` and `hybrid`, and calibrated per deployment by
 * `lorageo calibrate`.
 */
#include <math.h>

#include "geo/geo.h"

struct lg_pathloss lg_pathloss_default(void) {
  /* Petäjäjärvi et al., "On the coverage of LPWANs: range evaluation and channel
   * attenuation model for LoRa technology" (ITST 2015), Oulu, 868 MHz: B = 128.95 dB at
   * 1 km, n = 2.32, sigma = 7.8 dB. */
  struct lg_pathloss m = {
      .tx_power_dbm = 14.0, .pl0_db = 128.95, .d0_m = 1000.0, .exponent = 2.32, .sigma_db = 7.8};
  return m;
}

struct lg_pathloss lg_pathloss_friis(double freq_hz, double tx_power_dbm) {
  /* Friis: PL(d) = 20 log10(4 pi d f / c); at d0 = 1 m that is 20 log10(4 pi f / c). */
  struct lg_pathloss m = {
      .tx_power_dbm = tx_power_dbm,
      .pl0_db = 20.0 * log10(4.0 * LG_PI * freq_hz / LG_GEO_C_MPS),
      .d0_m = 1.0,
      .exponent = 2.0,
      .sigma_db = 0.0,
  };
  return m;
}

double lg_pathloss_rssi(const struct lg_pathloss *m, double dist_m) {
  double d = fmax(dist_m, 1.0);
  return m->tx_power_dbm - m->pl0_db - 10.0 * m->exponent * log10(d / m->d0_m);
}

double lg_pathloss_distance(const struct lg_pathloss *m, double rssi_dbm) {
  return m->d0_m * pow(10.0, (m->tx_power_dbm - m->pl0_db - rssi_dbm) / (10.0 * m->exponent));
}
