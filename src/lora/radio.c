/*
 * Demodulation floor and sensitivity of LoRa receivers.
 *
 * SNR floor: SX1276 datasheet rev 4, Table 13 ("LoRa demodulator SNR"): SF6 -5 dB,
 * SF7 -7.5, SF8 -10, SF9 -12.5, SF10 -15, SF11 -17.5, SF12 -20; SF5 -2.5 dB from the
 * SX1261/2 datasheet. The same table is used by ChirpStack's and ns-3's ADR.
 * Sensitivity: S = -174 dBm/Hz + 10 log10(BW) + NF + SNR_floor (AN1200.22 "LoRa
 * Modulation Basics" §4).
 */
#include <math.h>

#include "lora/lora.h"
#include "util/util.h"

static bool lorawan_bw(uint32_t bw_hz) {
  return bw_hz == 125000 || bw_hz == 250000 || bw_hz == 500000;
}

int lg_lora_snr_floor_db(int sf, uint32_t bw_hz, double *snr_db) {
  if (sf < 5 || sf > 12 || !lorawan_bw(bw_hz)) return LG_EINVAL;
  *snr_db = -2.5 * (sf - 4); /* SF5 -2.5 ... SF12 -20 in 2.5 dB steps */
  return 0;
}

double lg_lora_noise_floor_dbm(uint32_t bw_hz, double noise_figure_db) {
  /* 10 log10(BW) of the LoRa bandwidths, as log10 gives them (this runs for every
   * simulated reception) */
  double bw_db = bw_hz == 125000   ? 50.96910013008056
                 : bw_hz == 250000 ? 53.979400086720375
                 : bw_hz == 500000 ? 56.98970004336019
                                   : 10.0 * log10((double)bw_hz);
  return -174.0 + bw_db + noise_figure_db;
}

int lg_lora_sensitivity_dbm(int sf, uint32_t bw_hz, double noise_figure_db, double *dbm) {
  double snr;
  int err = lg_lora_snr_floor_db(sf, bw_hz, &snr);
  if (err) return err;
  if (!(noise_figure_db >= 0.0 && noise_figure_db <= 30.0)) return LG_EINVAL;
  *dbm = lg_lora_noise_floor_dbm(bw_hz, noise_figure_db) + snr;
  return 0;
}

double lg_lora_tx_current_ma(double dbm) {
  /* LoRaSim's table (phy-sim-adr.md §2.1), mA for -2..20 dBm; PA_BOOST row 2..14 dBm. */
  static const double ma[] = {22, 22, 22, 23, 24, 24, 24, 25, 25,  25,  25, 26,
                              31, 32, 34, 35, 44, 82, 85, 90, 105, 115, 125};
  long i = lround(dbm) + 2;
  if (i < 0) i = 0;
  if (i > 22) i = 22;
  return ma[i];
}
