/*
 * The Semtech ADR algorithm as ChirpStack's default runs it (chirpstack/src/adr/default.rs,
 * restated in ../shared/reference/phy-sim-adr.md §3.1):
 *   margin = max SNR over the last 20 uplinks at the current DR - required SNR of that DR
 *            - installation margin (10 dB);  steps = trunc(margin / 3)
 *   steps > 0: raise the DR up to the region's fastest 125 kHz LoRa DR, then lower the
 *              power (raise the TXPower index) up to the region's highest index;
 *   steps < 0: raise the power (lower the index) down to 0, and only once 20 uplinks of
 *              the history were sent at the current power (no oscillation); the DR is
 *              never lowered;
 *   NbTrans from the loss rate over the history's frame counters (with 20 entries):
 *              loss < 5 % -> {1,1,2}, < 10 % -> {1,2,3}, < 30 % -> {2,3,3}, else 3,
 *              indexed by the current NbTrans 1..3.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adr/adr_int.h"
#include "util/util.h"

static double loss_rate(const struct lg_adr_uplink *h, size_t n) {
  if (n < 2) return 0;
  uint32_t span = h[n - 1].f_cnt - h[0].f_cnt + 1;
  return span > n ? (double)(span - n) / (double)span : 0;
}

static int nb_trans_for(double loss, int current) {
  static const int table[4][3] = {{1, 1, 2}, {1, 2, 3}, {2, 3, 3}, {3, 3, 3}};
  int row = loss < 0.05 ? 0 : loss < 0.10 ? 1 : loss < 0.30 ? 2 : 3;
  int col = current < 1 ? 0 : current > 3 ? 2 : current - 1;
  return table[row][col];
}

void adr_standard(const struct lg_adr_input *in, struct lg_adr_decision *out) {
  const struct lg_region *r = in->region;
  /* Only uplinks at the current data rate count: ChirpStack clears the history when the
   * DR changes (an SNR measured at SF12 says little about SF7). They are the most recent
   * ones, so the newest entries at this DR, at most LG_ADR_HISTORY of them. */
  size_t first = in->n;
  while (first > 0 && in->history[first - 1].dr == in->current.dr && in->n - first < LG_ADR_HISTORY)
    first--;
  size_t n = in->n - first;
  const struct lg_adr_uplink *h = in->history + first;
  const struct lg_datarate *d = lg_region_dr(r, in->current.dr);
  double required = 0;
  if (n == 0 || d == NULL || d->mod != LG_MOD_LORA ||
      lg_lora_snr_floor_db(d->sf, d->bw_hz, &required)) {
    snprintf(out->reason, sizeof(out->reason), "no history at a LoRa data rate");
    return;
  }
  if (in->standard_every > 0 && ((size_t)in->standard_every > n ||
                                 (h[n - 1].f_cnt + 1) % (uint32_t)in->standard_every != 0)) {
    snprintf(out->reason, sizeof(out->reason),
             "decides on each set of %d frames (%zu at this data rate)", in->standard_every, n);
    return;
  }
  double max_snr = -INFINITY;
  for (size_t i = 0; i < n; i++)
    max_snr = fmax(max_snr, h[i].max_snr_db);
  out->snr_margin_db = max_snr - required - in->installation_margin_db;
  out->steps = (int)(out->snr_margin_db / 3.0); /* truncation toward zero */
  struct lg_adr_settings next = in->current;
  int max_dr = r->max_lora125_dr, max_txp = r->tx_power_max_index;
  int steps = out->steps;
  while (steps > 0 && next.dr < max_dr)
    next.dr++, steps--;
  while (steps > 0 && next.tx_power_index < max_txp)
    next.tx_power_index++, steps--;
  if (steps < 0) {
    size_t at_power = 0;
    for (size_t i = 0; i < n; i++)
      at_power += h[i].tx_power_index == in->current.tx_power_index;
    if (n >= LG_ADR_HISTORY && at_power >= LG_ADR_HISTORY)
      while (steps < 0 && next.tx_power_index > 0)
        next.tx_power_index--, steps++;
  }
  if (next.dr > max_dr) next.dr = max_dr; /* never above the fastest 125 kHz DR */
  out->loss_rate = loss_rate(h, n);
  if (n >= LG_ADR_HISTORY) next.nb_trans = nb_trans_for(out->loss_rate, in->current.nb_trans);
  out->next = next;
  out->change = memcmp(&next, &in->current, sizeof(next)) != 0;
  snprintf(out->reason, sizeof(out->reason),
           "max SNR %.1f dB over %zu uplinks, margin %.1f dB -> %d step(s); loss %.0f %%", max_snr,
           n, out->snr_margin_db, out->steps, 100 * out->loss_rate);
}
