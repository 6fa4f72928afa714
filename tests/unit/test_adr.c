/*
 * adr/standard against the worked cases of ../shared/reference/phy-sim-adr.md §5 R7
 * (ChirpStack semantics, EU868): SF12 needs -20 dB, margin 10 dB, 3 dB per step.
 */
#include "adr/adr.h"
#include "lg_test.h"

static struct lg_adr_decision run(double snr, size_t n, int dr, int txp, int nb,
                                  uint32_t fcnt_gap) {
  static struct lg_adr_uplink h[30];
  for (size_t i = 0; i < n; i++)
    h[i] = (struct lg_adr_uplink){.f_cnt = (uint32_t)i * fcnt_gap,
                                  .dr = dr,
                                  .tx_power_index = txp,
                                  .max_snr_db = i == n - 1 ? snr : snr - 5,
                                  .gateways = 1};
  struct lg_adr_input in = {.region = lg_region_find("EU868"),
                            .history = h,
                            .n = n,
                            .current = {dr, txp, nb},
                            .adr_bit = true,
                            .installation_margin_db = 10};
  struct lg_adr_decision d;
  if (lg_adr_decide(LG_ADR_STANDARD, &in, &d)) LG_FAIL_AT("decide failed");
  return d;
}

int main(void) {
  /* SNRmax -10 at SF12: margin 0, no step. */
  struct lg_adr_decision d = run(-10, 5, 0, 0, 1, 1);
  LG_NEAR(d.snr_margin_db, 0, 1e-12);
  LG_EQ_INT(d.steps, 0);
  LG_CHECK(!d.change);
  /* SNRmax 5: margin 15 -> 5 steps -> DR0 to DR5 (SF7). */
  d = run(5, 5, 0, 0, 1, 1);
  LG_EQ_INT(d.steps, 5);
  LG_EQ_INT(d.next.dr, 5);
  LG_EQ_INT(d.next.tx_power_index, 0);
  LG_CHECK(d.change);
  /* SNRmax 11: 7 steps -> DR5 and 2 power steps (16 -> 12 dBm EIRP). */
  d = run(11, 5, 0, 0, 1, 1);
  LG_EQ_INT(d.next.dr, 5);
  LG_EQ_INT(d.next.tx_power_index, 2);
  int eirp = 0;
  lg_region_tx_power_dbm(lg_region_find("EU868"), d.next.tx_power_index, &eirp);
  LG_EQ_INT(eirp, 12);
  /* Truncation toward zero: margin 5.9 -> 1 step; -5.9 -> -1. */
  d = run(-4.1, 5, 0, 0, 1, 1);
  LG_EQ_INT(d.steps, 1);
  /* Negative steps raise the power only once 20 uplinks were sent at the current power. */
  d = run(-16, 5, 5, 3, 1, 1); /* SF7 needs -7.5: margin -18.5 -> -6 steps */
  LG_EQ_INT(d.steps, -6);
  LG_EQ_INT(d.next.tx_power_index, 3);
  LG_CHECK(!d.change);
  d = run(-16, 20, 5, 3, 1, 1);
  LG_EQ_INT(d.next.tx_power_index, 0);
  LG_EQ_INT(d.next.dr, 5); /* the DR is never lowered */
  /* NbTrans from the loss over 20 uplinks: every other counter missing is 49 % lost -> 3. */
  d = run(-10, 20, 0, 0, 1, 2);
  LG_NEAR(d.loss_rate, 19.0 / 39.0, 1e-9);
  LG_EQ_INT(d.next.nb_trans, 3);
  d = run(-10, 20, 0, 0, 3, 1); /* no loss, NbTrans 3 -> 2 */
  LG_EQ_INT(d.next.nb_trans, 2);
  /* No ADR bit or ADR off: no change, with the reason. */
  struct lg_adr_input in = {.region = lg_region_find("EU868"), .n = 0, .current = {0, 0, 1}};
  LG_EQ_INT(lg_adr_decide(LG_ADR_STANDARD, &in, &d), 0);
  LG_CHECK(!d.change && strstr(d.reason, "ADR bit"));
  LG_EQ_INT(lg_adr_decide(LG_ADR_OFF, &in, &d), 0);
  LG_CHECK(!d.change && strstr(d.reason, "off"));
  LG_EQ_INT(lg_adr_decide(LG_ADR_EADR, &in, &d), 0);
  LG_CHECK(!d.change && strstr(d.reason, "not implemented"));
  enum lg_adr_algo a;
  LG_EQ_INT(lg_adr_algo_parse("standard", &a), 0);
  LG_EQ_INT(a, LG_ADR_STANDARD);
  LG_EQ_INT(lg_adr_algo_parse("fast", &a), LG_EINVAL);
  return lg_test_report("test_adr");
}
