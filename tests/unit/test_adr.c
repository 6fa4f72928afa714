/*
 * adr/standard against the worked cases of ../shared/reference/phy-sim-adr.md §5 R7
 * (ChirpStack semantics, EU868): SF12 needs -20 dB, margin 10 dB, 3 dB per step.
 */
#include "adr/adr.h"
#include "adr/adr_int.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>

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

/* E-ADR's equations on the paper's Table I, computed by hand. */
static void eadr_cases(void) {
  struct lg_eadr_mode m[16];
  LG_EQ_INT(lg_eadr_waspmote_modes(m), 10);
  LG_NEAR(m[0].b_inf, -134, 0);
  LG_NEAR(m[2].b_sup, -128, 0); /* mode 3: [-129, -128] */
  /* in mode 3, measured -127, predicted -121: R_change = 6 / 8 = 0.75 >= alpha */
  LG_NEAR(lg_eadr_change_rate(-127, -121, m[2].b_inf), 0.75, 1e-12);
  /* R_3->b at -121: mode 7 [-123,-120] 4.5/3 = 1.5; mode 8 6/5 = 1.2; mode 6 3/6.5;
   * mode 9 7.5/11; mode 10 (upper bound -94) 17.5/34 -> mode 7 */
  LG_NEAR(lg_eadr_transition_rate(&m[2], &m[6], -121), 1.5, 1e-12);
  LG_NEAR(lg_eadr_transition_rate(&m[2], &m[7], -121), 1.2, 1e-12);
  LG_NEAR(lg_eadr_transition_rate(&m[2], &m[5], -121), 3.0 / 6.5, 1e-12);
  LG_NEAR(lg_eadr_transition_rate(&m[2], &m[8], -121), 7.5 / 11, 1e-12);
  LG_NEAR(lg_eadr_transition_rate(&m[2], &m[9], -121), 17.5 / 34, 1e-12);
  LG_EQ_INT(m[lg_eadr_choose(m, 10, 2, -121)].dr, 7);
  /* measured -127.5, predicted -127: 0.5 / 2 = 0.25 < alpha: stay */
  LG_NEAR(lg_eadr_change_rate(-127.5, -127, m[2].b_inf), 0.25, 1e-12);
  /* LoRaWAN modes of EU868: DR0..DR5 from -137 + 3 dB up, 2.5 dB apart */
  const struct lg_region *eu = lg_region_find("EU868");
  LG_EQ_INT(lg_eadr_lorawan_modes(eu, m), 6);
  LG_NEAR(m[0].b_inf, -134.0, 0.05);
  LG_NEAR(m[5].b_inf, -121.5, 0.05);
  LG_NEAR(m[1].b_sup, m[2].b_inf, 0);
  /* A device walking away from a gateway at (0, 0): fixes at 50, 100, 150 m (FCnt 1-3),
   * RSSI from -70 dB at 1 m with exponent 3 at 14 dBm (TXPower 1). The fit recovers the
   * model; 3 packets ahead it is at 300 m: -130.3 dBm. At DR5, measured -121.3:
   * R_change = 9.03 / 8.81 = 1.03 -> R to DR1 [-131.5, -129] = 3.75 / 2.5 = 1.5 wins. */
  struct lg_adr_gateway gw = {0, 0, 0};
  struct lg_adr_fix fx[3];
  struct lg_adr_uplink h[3];
  for (int i = 0; i < 3; i++) {
    double d = 50.0 * (i + 1);
    fx[i] = (struct lg_adr_fix){(int64_t)(i + 1) * 10000000000LL, (uint32_t)(i + 1), d, 0, 5};
    h[i] = (struct lg_adr_uplink){.f_cnt = (uint32_t)(i + 1),
                                  .dr = 5,
                                  .tx_power_index = 1,
                                  .max_rssi_dbm = 14 - 70 - 30 * log10(d),
                                  .gateways = 1,
                                  .best_gateway = 0,
                                  .t_ns = (int64_t)(i + 1) * 10000000000LL};
  }
  struct lg_adr_input in = {.region = eu,
                            .history = h,
                            .n = 3,
                            .current = {5, 1, 1},
                            .adr_bit = true,
                            .fixes = fx,
                            .n_fixes = 3,
                            .gateways = &gw,
                            .n_gateways = 1};
  struct lg_adr_pathloss pl;
  LG_EQ_INT(lg_adr_fit_pathloss(&in, &pl), 0);
  LG_NEAR(pl.n, 3, 1e-9);
  LG_NEAR(pl.a_dbm, -70, 1e-9);
  struct lg_adr_decision d;
  LG_EQ_INT(lg_adr_decide(LG_ADR_EADR, &in, &d), 0);
  LG_CHECK(d.change);
  LG_EQ_INT(d.next.dr, 1);
  LG_CHECK(strstr(d.reason, "R_change 1.03") != NULL);
  /* walking toward it instead (150, 100, 50 m): 3 packets ahead it would be at -100 m;
   * with bounds [0, 400] it bounces to 100 m: -116 dBm, in DR5's band -> DR5 */
  for (int i = 0; i < 3; i++) {
    double dd = 150.0 - 50.0 * i;
    fx[i].e_m = dd;
    h[i].max_rssi_dbm = 14 - 70 - 30 * log10(dd);
  }
  in.current.dr = 1;
  in.has_bounds = true;
  double b[4] = {0, -10, 400, 10};
  memcpy(in.bounds, b, sizeof(b));
  LG_EQ_INT(lg_adr_decide(LG_ADR_EADR, &in, &d), 0);
  LG_EQ_INT(d.next.dr, 5);
  LG_CHECK(strstr(d.reason, "predicted (100, 0)") != NULL);
  /* not at a multiple of n packets: no decision */
  h[2].f_cnt = 4;
  LG_EQ_INT(lg_adr_decide(LG_ADR_EADR, &in, &d), 0);
  LG_CHECK(!d.change && strstr(d.reason, "every 3 packets"));
}

/* Twenty uplinks a minute apart at DR0 and 14 dBm (TXPower 1), heard by one gateway at
 * (0, 0) with RSSI -70 dB at 1 m and exponent 3, each with its fix: the i-th at
 * d0 + step i + wobble (i % 2) m east, its RSSI off the law by scatter x (i % 3 - 1) dB. */
static struct lg_adr_input one_gateway_track(struct lg_adr_fix fx[20], struct lg_adr_uplink h[20],
                                             const struct lg_adr_gateway *gw, double d0,
                                             double step, double wobble, double scatter) {
  for (int i = 0; i < 20; i++) {
    double d = d0 + step * i + wobble * (i % 2);
    fx[i] = (struct lg_adr_fix){(int64_t)i * 60000000000LL, (uint32_t)i + 1, d, 0, 5};
    h[i] = (struct lg_adr_uplink){.f_cnt = (uint32_t)i + 1,
                                  .dr = 0,
                                  .tx_power_index = 1,
                                  .max_rssi_dbm = 14 - 70 - 30 * log10(d) + (i % 3 - 1) * scatter,
                                  .gateways = 1,
                                  .best_gateway = 0,
                                  .t_ns = (int64_t)i * 60000000000LL};
  }
  return (struct lg_adr_input){.region = lg_region_find("EU868"),
                               .history = h,
                               .n = 20,
                               .current = {0, 1, 1},
                               .adr_bit = true,
                               .fixes = fx,
                               .n_fixes = 20,
                               .gateways = gw,
                               .n_gateways = 1,
                               .period_ns = 60000000000LL,
                               .mobility = LG_ADR_MOB_MOBILE}; /* the track, also when still */
}

/* predictive: the setting that costs least per delivered message among those the next
 * uplink's predicted RSSI reaches with the target probability; its gateways' RSSI
 * statistics when positions are missing; standard, no bolder than now, as the last resort. */
static void predictive_cases(void) {
  struct lg_adr_gateway gw = {0, 0, 0};
  struct lg_adr_fix fx[20];
  struct lg_adr_uplink h[20];
  /* a static device 60 m from the gateway, 20 uplinks, 2 dB of scatter around -70/n=3 */
  struct lg_adr_input in = one_gateway_track(fx, h, &gw, 60, 0, 1, 2.0);
  struct lg_adr_decision d;
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &in, &d), 0);
  /* about -110 dBm at 14 dBm with 2 dB of scatter: SF7 (floor -124.5) holds with room to
   * spare, so DR5 at less power than now (TXPower > 1), and the probability it promised
   * reaches the target */
  LG_EQ_INT(d.next.dr, 5);
  LG_CHECK(d.next.tx_power_index > 1);
  const char *ph = strstr(d.reason, "P(sent and heard) ");
  LG_CHECK(ph != NULL && atof(ph + 18) >= LG_ADR_TARGET);
  /* the same device moving away at 1 m/s: 60 s later it is 60 m further, so it keeps
   * more power (or a slower DR) than the static one */
  struct lg_adr_decision still = d;
  for (int i = 0; i < 20; i++) {
    double dd = 60 + i * 60.0;
    fx[i].e_m = dd;
    h[i].max_rssi_dbm = 14 - 70 - 30 * log10(dd) + (i % 3 - 1) * 2.0;
  }
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &in, &d), 0);
  LG_CHECK(d.next.dr < still.next.dr || d.next.tx_power_index < still.next.tx_power_index);
  LG_CHECK(strstr(d.reason, "next at (1") != NULL); /* predicted past 1,140 m */
  /* without positions: its gateway's RSSI statistics. Moving away from 60 to 1,200 m, its
   * RSSI - TX spans -126 to -163 dB (mean -155, sd 10 dB): no setting reaches the target;
   * near the likeliest (DR0 at the top power), the cheapest per delivered message: DR0 at
   * the top power or one step below. Standard, trusting the best SNR, would not. */
  in.n_fixes = 0;
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &in, &d), 0);
  LG_CHECK(strstr(d.reason, "too few positions; its gateways' RSSI") != NULL);
  LG_EQ_INT(d.next.dr, 0);
  LG_CHECK(d.next.tx_power_index <= 1);
  /* every gateway's receptions known, and each gateway heard once (twenty in turn):
   * nothing steady to go on. A device never located, with no area: standard's answer,
   * said so */
  struct lg_adr_gateway gw3[3] = {{0, 0, 0}, {100, 0, 1}, {0, 100, 2}};
  in.gateways = gw3, in.n_gateways = 3;
  for (int i = 0; i < 20; i++)
    h[i].n_rx = 1, h[i].rx[0] = (struct lg_adr_rx){i, h[i].max_rssi_dbm};
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &in, &d), 0);
  struct lg_adr_decision s;
  lg_adr_decide(LG_ADR_STANDARD, &in, &s);
  LG_CHECK(strstr(d.reason, "no gateway hears it steadily; standard:") != NULL);
  LG_EQ_INT(d.next.dr, s.next.dr);
  LG_EQ_INT(d.next.tx_power_index, s.next.tx_power_index);
  LG_CHECK(s.next.dr > in.current.dr); /* (it goes faster) */
  /* the same for a device with an area to move in: standard is bolder, so kept */
  in.has_bounds = true;
  in.bounds[0] = -10, in.bounds[1] = -10, in.bounds[2] = 2000, in.bounds[3] = 10;
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &in, &d), 0);
  LG_CHECK(!d.change && d.next.dr == in.current.dr);
  LG_CHECK(strstr(d.reason, "a mover: standard would be bolder") != NULL);
}

/* predictive: a mover's target is bought only while it is worth its price. A device
 * moving slowly away from one gateway (5 m a minute, 3 dB of scatter, RSSI -70 dB at 1 m,
 * exponent 3): from 100 m on, the target holds at DR2 with power to spare, cap or not. From
 * 250 m on, the last points of delivery need the top power, at about twice the transmit
 * current: worth a delivered message 50 times its least charge, it stops short at the power
 * below and says so; at any price it takes the top power and reaches the target. */
static void worth_cases(void) {
  struct lg_adr_gateway gw = {0, 0, 0};
  struct lg_adr_fix fx[20];
  struct lg_adr_uplink h[20];
  double bases[2] = {100, 250};
  for (int b = 0; b < 2; b++) {
    struct lg_adr_input in = one_gateway_track(fx, h, &gw, bases[b], 5, 0, 3.0);
    in.current = (struct lg_adr_settings){5, 5, 1}; /* far from either answer: no hysteresis */
    struct lg_adr_decision capped, any;
    LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &in, &capped), 0);
    in.worth = -1;
    LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &in, &any), 0);
    const char *pc = strstr(capped.reason, "P(sent and heard) ");
    const char *pa = strstr(any.reason, "P(sent and heard) ");
    LG_CHECK(pc != NULL && pa != NULL);
    LG_CHECK(pa != NULL && atof(pa + 18) >= LG_ADR_TARGET);
    if (b == 0) { /* a good link: the same answer */
      LG_EQ_INT(capped.next.dr, any.next.dr);
      LG_EQ_INT(capped.next.tx_power_index, any.next.tx_power_index);
      LG_CHECK(strstr(capped.reason, "short of it") == NULL);
    } else { /* the top power not bought: same data rate, less power, short of the target */
      LG_EQ_INT(any.next.tx_power_index, 0);
      LG_EQ_INT(capped.next.dr, any.next.dr);
      LG_CHECK(capped.next.tx_power_index > any.next.tx_power_index);
      LG_CHECK(pc != NULL && atof(pc + 18) < LG_ADR_TARGET && atof(pc + 18) > 0.95);
      LG_CHECK(strstr(capped.reason, "(short of it: the rest costs more than a message is worth)"));
    }
  }
}

/* The Waspmote modes (the paper's Table I) as data rates; Semtech's "each set of 20
 * frames" for standard; E-ADR's zone rule; predictive for a stationary device and with a
 * duty cycle it cannot afford. */
static void reproduction_cases(void) {
  const struct lg_region *eu = lg_region_find("EU868");
  struct lg_region w;
  lg_region_waspmote(eu, &w);
  static const int sf[10] = {12, 12, 10, 12, 10, 11, 9, 9, 8, 7};
  static const int bw[10] = {125, 250, 125, 500, 250, 500, 250, 500, 500, 500};
  for (int i = 0; i < 10; i++) {
    const struct lg_datarate *d = lg_region_dr(&w, i);
    LG_CHECK(d && d->sf == sf[i] && d->bw_hz == (uint32_t)bw[i] * 1000);
  }
  LG_CHECK(lg_region_dr(&w, 10) == NULL);
  LG_EQ_INT(w.max_lora125_dr, 9);
  LG_CHECK(w.subbands == eu->subbands && w.rx2_freq_hz == eu->rx2_freq_hz);
  /* mode 1 of 156 bytes: 5,906.432 ms, the drone's frame (8 + 160 symbols + 12.25) */
  struct lg_lora_tx lt = lg_lora_tx_lorawan(12, 125000);
  struct lg_airtime at;
  LG_EQ_INT(lg_lora_airtime(&lt, 156, &at), 0);
  LG_NEAR((double)at.time_on_air_ns / 1e6, 5906.432, 1e-6);

  /* standard, Semtech's way: nothing until the 20th frame, then ChirpStack's steps */
  struct lg_adr_uplink h[20];
  for (int i = 0; i < 20; i++)
    h[i] = (struct lg_adr_uplink){.f_cnt = (uint32_t)i, .dr = 0, .max_snr_db = 5, .gateways = 1};
  struct lg_adr_input in = {.region = eu,
                            .history = h,
                            .n = 19,
                            .current = {0, 0, 1},
                            .adr_bit = true,
                            .installation_margin_db = 10,
                            .standard_every = 20};
  struct lg_adr_decision d;
  LG_EQ_INT(lg_adr_decide(LG_ADR_STANDARD, &in, &d), 0);
  LG_CHECK(!d.change && strstr(d.reason, "each set of 20 frames"));
  in.n = 20; /* FCnt 19: the 20th frame; margin 5 + 20 - 10 = 15 dB: 5 steps */
  LG_EQ_INT(lg_adr_decide(LG_ADR_STANDARD, &in, &d), 0);
  LG_CHECK(d.change);
  LG_EQ_INT(d.next.dr, 5);
  in.standard_every = 0, in.n = 1; /* ChirpStack: at once */
  LG_EQ_INT(lg_adr_decide(LG_ADR_STANDARD, &in, &d), 0);
  LG_EQ_INT(d.next.dr, 5);

  /* E-ADR on the Waspmote modes, a device in mode 1 near its gateway (RSSI -70 dB at 1 m,
   * n = 3, 14 dBm) at 5, 7.5 and 10 m: measured -86 dBm, far outside mode 1's
   * [-134, -131] and inside mode 10's zone (>= -114), which is then "the current mode" of
   * eq. 4-5. */
  struct lg_adr_gateway gw = {0, 0, 0};
  struct lg_adr_fix fx[3];
  struct lg_adr_uplink u[3];
  for (int i = 0; i < 3; i++) {
    double dd = 5.0 + 2.5 * i; /* moving away, 2.5 m per uplink */
    fx[i] = (struct lg_adr_fix){(int64_t)(i + 1) * 10000000000LL, (uint32_t)(i + 1), dd, 0, 1};
    u[i] = (struct lg_adr_uplink){.f_cnt = (uint32_t)(i + 1),
                                  .dr = 0,
                                  .tx_power_index = 1,
                                  .max_rssi_dbm = 14 - 70 - 30 * log10(dd),
                                  .gateways = 1,
                                  .best_gateway = 0,
                                  .t_ns = (int64_t)(i + 1) * 10000000000LL};
  }
  struct lg_adr_input e = {.region = &w,
                           .history = u,
                           .n = 3,
                           .current = {0, 1, 1},
                           .adr_bit = true,
                           .fixes = fx,
                           .n_fixes = 3,
                           .gateways = &gw,
                           .n_gateways = 1,
                           .waspmote_modes = true};
  /* predicted 3 packets on at 17.5 m: 14 - 70 - 37.3 = -93.3 dBm, in mode 10's band */
  LG_EQ_INT(lg_adr_decide(LG_ADR_EADR, &e, &d), 0);
  LG_CHECK(d.change);
  LG_EQ_INT(d.next.dr, 9); /* mode 10: -93.3 is above -114 */
  LG_CHECK(strstr(d.reason, "RSSI -93.3") != NULL);
  /* farther: 60, 70, 80 m. Measured -113.09 dBm (mode 10's zone); predicted at 110 m
   * -117.24 dBm. R_change = 4.15 / 3.24 = 1.28 >= 0.5; eq. 5 from mode 10 (B_inf -114):
   * mode 8 [-120, -117] 1.5 / 3.0 = 0.50, mode 10 10 / 26.48 = 0.38, mode 7 3 / 8.52 =
   * 0.35, mode 9 0 -> mode 8, DR 7. */
  for (int i = 0; i < 3; i++) {
    double dd = 60.0 + 10 * i;
    fx[i].e_m = dd;
    u[i].max_rssi_dbm = 14 - 70 - 30 * log10(dd);
  }
  LG_EQ_INT(lg_adr_decide(LG_ADR_EADR, &e, &d), 0);
  LG_EQ_INT(d.next.dr, 7);

  /* predictive, stationary: one gateway, RSSI - TX = -125 dB +- 1 dB (20 uplinks at
   * 14 dBm). SF7/125's sensitivity (NF 6 dB): -174 + 51.0 + 6 - 7.5 = -124.53 dBm; the
   * spread is 2 dB (its floor), 2.05 dB for the next uplink (x sqrt(1 + 1/20): the mean's
   * own uncertainty). A target of 0.94 needs a margin of 1.555 sigma = 3.19 dB:
   * (16 - 2k) - 125 >= -124.53 + 3.19 -> k <= 6.17; TXPower 7 (2 dBm) is short of it. At
   * DR5, TXPower 6 (4 dBm, 24 mA, margin 3.53 dB, P 0.958) costs 24 / 0.958 = 25.06 mA
   * per delivered frame's second, TXPower 5 (6 dBm, 25 mA, P 0.9965) 25.09: TXPower 6;
   * any slower DR doubles the air. */
  struct lg_adr_uplink sh[20];
  for (int i = 0; i < 20; i++)
    sh[i] = (struct lg_adr_uplink){.f_cnt = (uint32_t)i,
                                   .dr = 0,
                                   .tx_power_index = 1,
                                   .max_rssi_dbm = 14 - 125 + (i % 2 ? 1.0 : -1.0),
                                   .gateways = 1,
                                   .best_gateway = 0};
  struct lg_adr_input st = {.region = eu,
                            .history = sh,
                            .n = 20,
                            .current = {0, 1, 1},
                            .adr_bit = true,
                            .mobility = LG_ADR_MOB_STATIC};
  /* by default a static device aims at 0.995: 2.576 sigma = 5.28 dB, k <= 5.59; TXPower 5
   * (P 0.9965) and TXPower 4 (8 dBm, the same 25 mA, P 0.9999) cost 25.09 and 25.003: 4 */
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &st, &d), 0);
  LG_EQ_INT(d.next.dr, 5);
  LG_EQ_INT(d.next.tx_power_index, 4);
  LG_CHECK(strstr(d.reason, "(target 0.995)") != NULL);
  /* the target given (the server's [adr] target_delivery): 0.94 as computed above, and
   * TXPower 4 (25.003) still beats TXPower 6 (25.06) */
  st.target_delivery = 0.94;
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &st, &d), 0);
  LG_EQ_INT(d.next.dr, 5);
  LG_EQ_INT(d.next.tx_power_index, 4);
  LG_CHECK(strstr(d.reason, "(target 0.940)") != NULL);
  LG_CHECK(strstr(d.reason, "stationary") != NULL);
  /* already there, and still meeting the target: kept (no downlink for nothing) */
  st.current = d.next;
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &st, &d), 0);
  LG_CHECK(!d.change);
  /* the same device losing one uplink in six (20 of frame counters 0..22): 3/23 = 0.130
   * lost against 0.06 allowed, so the allowed miss chance becomes 0.06^2 / 0.130 = 0.0276:
   * a target of 0.972 (margin >= 1.917 sigma = 3.93 dB -> k <= 5.80: TXPower 6 is now
   * short). The misses are no fades at this gateway (26 dB below its mean at DR0), so the
   * censored fit does not move: TXPower 4. */
  for (int i = 0; i < 20; i++)
    sh[i].f_cnt = (uint32_t)(i * 6 / 5);
  st.current = (struct lg_adr_settings){0, 1, 1};
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &st, &d), 0);
  LG_EQ_INT(d.next.dr, 5);
  LG_EQ_INT(d.next.tx_power_index, 4);
  LG_CHECK(strstr(d.reason, "(target 0.972)") != NULL);
  /* a counter reset within the history (an ABP device that rebooted) is no loss: the
   * configured target again */
  for (int i = 0; i < 20; i++)
    sh[i].f_cnt = (uint32_t)(i < 10 ? 1000 + i : i - 10);
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &st, &d), 0);
  LG_EQ_INT(d.next.tx_power_index, 4);
  LG_CHECK(strstr(d.reason, "(target 0.940)") != NULL);
  for (int i = 0; i < 20; i++)
    sh[i].f_cnt = (uint32_t)i;
  /* a stricter target: 0.99999 needs 4.265 sigma = 8.74 dB, k <= 3.90: TXPower 3 (margin
   * 9.53 dB; TXPower 4's 7.53 dB gives P 0.99988, short of it) */
  st.target_delivery = 0.99999;
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &st, &d), 0);
  LG_EQ_INT(d.next.dr, 5);
  LG_EQ_INT(d.next.tx_power_index, 3);
  st.target_delivery = 0;

  /* the duty cycle: a 156-byte frame every 10 s in EU868 (1 %) affords 100 ms of air
   * per frame; at mode 1 (5.9 s) 1.7 % of the messages could be sent at all. A device
   * whose fixes say it is 5 m from a gateway and which would be heard at any mode is put
   * on a fast one; with no duty-cycle rule (size unknown) the same holds. */
  for (int i = 0; i < 3; i++) {
    fx[i].e_m = 5;
    u[i].max_rssi_dbm = 14 - 70 - 30 * log10(5.0);
    u[i].size = 156;
  }
  e.period_ns = 10000000000LL;
  e.has_bounds = true;
  double b[4] = {0, -5, 10, 5};
  memcpy(e.bounds, b, sizeof(b));
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &e, &d), 0);
  LG_CHECK(d.change && d.next.dr >= 8);
}

/* A seeded normal deviate (Box-Muller on a 64-bit LCG): test data, not a model. */
static double gauss(uint64_t *st) {
  *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
  double u1 = ((double)(*st >> 11) + 0.5) / 9007199254740992.0;
  *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
  double u2 = ((double)(*st >> 11) + 0.5) / 9007199254740992.0;
  return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

/* A device 3 gateways hear: `step_m` east per uplink from 300 m (0: static), RSSI from a
 * log-distance law with 4 dB of fresh fading per uplink, fixes with 30 m of error. */
static void mobility_history(struct lg_adr_uplink *h, struct lg_adr_fix *fx, size_t n,
                             double step_m, uint64_t seed) {
  const struct lg_adr_gateway gw[3] = {{0, 0, 0}, {2000, 0, 1}, {1000, 1500, 2}};
  uint64_t st = seed;
  for (size_t i = 0; i < n; i++) {
    double e = 300 + step_m * (double)i, no = 200;
    h[i] = (struct lg_adr_uplink){.f_cnt = (uint32_t)i + 1,
                                  .dr = 0,
                                  .tx_power_index = 0,
                                  .gateways = 3,
                                  .t_ns = (int64_t)i * 300000000000LL,
                                  .n_rx = 3};
    for (int g = 0; g < 3; g++) {
      double d = hypot(e - gw[g].e_m, no - gw[g].n_m);
      h[i].rx[g] = (struct lg_adr_rx){g, 14 - 40 - 35 * log10(d) + 4 * gauss(&st)};
    }
    h[i].max_rssi_dbm = h[i].rx[0].rssi_dbm;
    fx[i] =
        (struct lg_adr_fix){h[i].t_ns, h[i].f_cnt, e + 21 * gauss(&st), no + 21 * gauss(&st), 30};
  }
}

/* The mobility classifier (adr/mobility.c): what the server sees tells static from moving,
 * an ADR change is not motion, too little history is "unknown", and predictive says how it
 * took the device in its reason. */
static void mobility_cases(void) {
  const struct lg_region *eu = lg_region_find("EU868");
  const struct lg_adr_gateway gw[3] = {{0, 0, 0}, {2000, 0, 1}, {1000, 1500, 2}};
  struct lg_adr_uplink h[20];
  struct lg_adr_fix fx[20];
  struct lg_adr_input in = {.region = eu,
                            .history = h,
                            .n = 20,
                            .current = {0, 0, 1},
                            .adr_bit = true,
                            .fixes = fx,
                            .n_fixes = 20,
                            .gateways = gw,
                            .n_gateways = 3,
                            .period_ns = 300000000000LL};
  struct lg_adr_mobility m;
  int wrong_static = 0, wrong_moving = 0;
  for (uint64_t seed = 1; seed <= 50; seed++) {
    mobility_history(h, fx, 20, 0, seed);
    LG_EQ_INT(lg_adr_classify_mobility(&in, &m), 0);
    wrong_static += m.cls != LG_ADR_MOB_STATIC;
    mobility_history(h, fx, 20, 60, seed); /* a walker: 60 m per 5-minute period */
    LG_EQ_INT(lg_adr_classify_mobility(&in, &m), 0);
    wrong_moving += m.cls != LG_ADR_MOB_MOBILE;
  }
  LG_CHECK(wrong_static <= 1);
  LG_CHECK(wrong_moving <= 1);
  /* without positions the RSSI alone: the walker's trend, the static device's fades */
  in.n_fixes = 0;
  mobility_history(h, fx, 20, 60, 7);
  lg_adr_classify_mobility(&in, &m);
  LG_EQ_INT(m.cls, LG_ADR_MOB_MOBILE);
  LG_CHECK(strstr(m.why, "successive/overall") != NULL);
  mobility_history(h, fx, 20, 0, 7);
  lg_adr_classify_mobility(&in, &m);
  LG_EQ_INT(m.cls, LG_ADR_MOB_STATIC);
  /* a static device whose ADR moved it to DR5 after 10 uplinks: the far gateway stops
   * hearing it, which is no run of motion (only the uplinks at the latest settings count) */
  for (int i = 10; i < 20; i++)
    h[i].dr = 5, h[i].n_rx = 2;
  lg_adr_classify_mobility(&in, &m);
  LG_CHECK(m.cls != LG_ADR_MOB_MOBILE);
  /* too little to go on */
  in.n = LG_ADR_MOB_MIN - 1;
  lg_adr_classify_mobility(&in, &m);
  LG_EQ_INT(m.cls, LG_ADR_MOB_UNKNOWN);
  /* predictive, not told: the decision's reason says how it took the device, and why */
  in.n = 20, in.n_fixes = 20;
  mobility_history(h, fx, 20, 0, 3);
  struct lg_adr_decision d;
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &in, &d), 0);
  LG_CHECK(d.mobility.classified && d.mobility.cls == LG_ADR_MOB_STATIC);
  LG_CHECK(strstr(d.reason, "classified static") != NULL);
  LG_CHECK(strstr(d.reason, "; mobility static: ") != NULL);
  /* told (the simulator's model): no classification, no such words */
  in.mobility = LG_ADR_MOB_MOBILE;
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &in, &d), 0);
  LG_CHECK(!d.mobility.classified && strstr(d.reason, "; mobility ") == NULL);
  /* what the network learned there replaces the device's own model: its three gateways'
   * links around it learned 25 dB weaker than its fit says, the decision takes a more
   * robust data rate, and its reason says where its laws came from */
  LG_CHECK(strstr(d.reason, "links learned") == NULL);
  struct lg_linkmap *links = lg_linkmap_new(250, 1000);
  uint64_t st = 11;
  for (int g = 0; g < 3; g++)
    for (double e = -250; e <= 1000; e += 250)
      for (double no = -250; no <= 750; no += 250)
        for (int k = 0; k < 12; k++) {
          double dist = hypot(e + 125 - gw[g].e_m, no + 125 - gw[g].n_m);
          lg_linkmap_heard(links, (uint64_t)g, e + 125, no + 125,
                           -40 - 35 * log10(dist) - 25 + 3 * gauss(&st));
        }
  in.links = links;
  struct lg_adr_decision dl;
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &in, &dl), 0);
  LG_CHECK(strstr(dl.reason, "; links learned there: 3 of 3 gateways") != NULL);
  LG_CHECK(dl.next.dr < d.next.dr || dl.next.tx_power_index < d.next.tx_power_index);
  in.links = NULL;
  lg_linkmap_free(links);
}

/* predictive's path-loss fit with the misses censored (a Tobit fit): a mover's uplinks at
 * known positions, 12 gateways, RSSI - TX = -30 - 35 log10(d) with 8 dB fades, heard only
 * above SF7's floor. Fitted to what was heard, the slope flattens (the far gateways are
 * heard on kind fades only, and this draw leaves too few for a slope); with the misses
 * it comes back near 3.5. */
static void censored_fit_cases(void) {
  const struct lg_region *eu = lg_region_find("EU868");
  struct lg_adr_gateway gw[12];
  for (int g = 0; g < 12; g++)
    gw[g] = (struct lg_adr_gateway){2500.0 * (g % 4) - 3750, 2500.0 * (g / 4) - 2500, (uint64_t)g};
  struct lg_adr_uplink h[20];
  double pos[20][2];
  bool has[20];
  uint64_t st = 11;
  double floor_db = lg_lora_noise_floor_dbm(125000, 6) - 7.5 - 14; /* SF7, 14 dBm */
  for (int i = 0; i < 20; i++) {
    pos[i][0] = -3000 + 300.0 * i, pos[i][1] = 400 * sin(i / 3.0), has[i] = true;
    h[i] = (struct lg_adr_uplink){.f_cnt = (uint32_t)i + 1, .dr = 5, .tx_power_index = 1,
                                  .t_ns = (int64_t)i * 60000000000LL, .best_gateway = -1};
    for (int g = 0; g < 12 && h[i].n_rx < LG_ADR_MAX_RX; g++) {
      double d = hypot(gw[g].e_m - pos[i][0], gw[g].n_m - pos[i][1]);
      double v = -30 - 35 * log10(d) + 8 * gauss(&st);
      if (v < floor_db) continue;
      h[i].rx[h[i].n_rx++] = (struct lg_adr_rx){g, v + 14};
    }
  }
  struct lg_adr_input in = {.region = eu, .history = h, .n = 20, .current = {5, 1, 1},
                            .adr_bit = true, .gateways = gw, .n_gateways = 12};
  struct lg_adr_pathloss heard, all;
  LG_EQ_INT(adr_fit(&in, (const double(*)[2])pos, has, false, &heard), 0);
  LG_EQ_INT(adr_fit(&in, (const double(*)[2])pos, has, true, &all), 0);
  LG_CHECK(fabs(all.n - 3.5) < fabs(heard.n - 3.5));
  LG_CHECK(fabs(all.n - 3.5) < 0.5);
  LG_CHECK(all.sigma_db > heard.sigma_db); /* the fades the misses hid */
  /* at 2 km, where most frames are missed, it expects what the law gives, within 3 dB */
  LG_CHECK(fabs(all.a_dbm - 10 * all.n * log10(2000) - (-30 - 35 * log10(2000))) < 3);
}

/* The link map: a (gateway, cell)'s law fitted to what was heard and what was missed
 * (the heard alone look 3+ dB stronger), nothing where nothing was learned, a cap kept. */
static void linkmap_cases(void) {
  struct lg_linkmap *m = lg_linkmap_new(250, 4);
  LG_CHECK(m != NULL);
  uint64_t st = 5;
  double sum = 0, mu, sg;
  int heard = 0;
  for (int i = 0; i < 300; i++) {
    double v = -130 + 6 * gauss(&st);
    if (v >= -132)
      lg_linkmap_heard(m, 2, 100, 100, v), sum += v, heard++;
    else
      lg_linkmap_missed(m, 2, 120, 90, -132);
  }
  LG_CHECK(sum / heard > -127);
  LG_CHECK(lg_linkmap_law(m, 2, 200, 10, &mu, &sg)); /* the same 250 m cell */
  LG_CHECK(fabs(mu + 130) < 1.0 && fabs(sg - 6) < 1.0);
  LG_CHECK(!lg_linkmap_law(m, 2, 300, 10, &mu, &sg)); /* the next cell: nothing learned */
  LG_CHECK(!lg_linkmap_law(m, 3, 100, 100, &mu, &sg)); /* another gateway */
  LG_CHECK(lg_linkmap_has(m, 2, 200, 10) && !lg_linkmap_has(m, 3, 100, 100) &&
           !lg_linkmap_has(m, 2, 300, 10));
  for (int c = 0; c < 10; c++)
    lg_linkmap_heard(m, 1, 250.0 * c + 1, 0, -100);
  uint64_t refused = 0;
  LG_EQ_INT(lg_linkmap_size(m, &refused), 4);
  LG_CHECK(refused == 7);

  /* to a file and back: the same law, the origin kept, the cap of the loading side */
  char path[] = "/tmp/lorageo-linkmap-XXXXXX", why[300] = "";
  int fd = mkstemp(path);
  LG_CHECK(fd >= 0);
  close(fd);
  const double origin[2] = {51.2194, 4.4025};
  double o2[2] = {0, 0}, mu2, sg2;
  LG_CHECK(lg_linkmap_law(m, 2, 200, 10, &mu, &sg));
  LG_CHECK(lg_linkmap_save(m, origin, path, why, sizeof(why)) == 0);
  struct lg_linkmap *back = NULL;
  LG_CHECK(lg_linkmap_load(path, 100, &back, o2, why, sizeof(why)) == 0);
  LG_CHECK(back != NULL && o2[0] == origin[0] && o2[1] == origin[1]);
  LG_EQ_INT(lg_linkmap_size(back, NULL), 4);
  LG_CHECK(lg_linkmap_law(back, 2, 200, 10, &mu2, &sg2));
  LG_CHECK(fabs(mu2 - mu) < 1e-6 && fabs(sg2 - sg) < 1e-6);
  LG_CHECK(!lg_linkmap_law(back, 3, 100, 100, &mu2, &sg2));
  lg_linkmap_free(back);
  /* a copy saved (what the server writes on a thread of its own), with a cell west and
   * south of the origin and a gateway EUI with its top bit set */
  const uint64_t eui = 0xFFFE024B080E1039ULL;
  struct lg_linkmap *m2 = lg_linkmap_new(250, 100);
  for (int k = 0; k < 10; k++)
    lg_linkmap_heard(m2, eui, -600, -10, -120 + k);
  struct lg_linkmap *copy = lg_linkmap_clone(m2);
  LG_CHECK(copy != NULL);
  lg_linkmap_heard(m2, eui, -600, -10, -50); /* the original goes on; the copy does not */
  lg_linkmap_free(m2);
  LG_CHECK(lg_linkmap_save(copy, origin, path, why, sizeof(why)) == 0);
  lg_linkmap_free(copy);
  LG_CHECK(lg_linkmap_load(path, 100, &back, o2, why, sizeof(why)) == 0);
  LG_CHECK(lg_linkmap_law(back, eui, -510, -200, &mu2, &sg2)); /* cell (-3, -1) */
  LG_CHECK(fabs(mu2 + 115.5) < 1e-6);
  LG_CHECK(!lg_linkmap_law(back, eui, -400, -10, &mu2, &sg2)); /* cell (-2, -1): nothing */
  lg_linkmap_free(back);
  LG_CHECK(lg_linkmap_save(m, origin, path, why, sizeof(why)) == 0); /* the four-pair map again */
  /* one gateway's cells apart (what the API fits outside the server's lock) */
  struct lg_linkmap *one = lg_linkmap_extract(m, 2, 16);
  struct lg_linkmap_cell cells[4];
  LG_EQ_INT(lg_linkmap_size(one, NULL), 1);
  LG_EQ_INT(lg_linkmap_cells(one, 2, cells, 4), 1);
  LG_CHECK(cells[0].cx == 0 && cells[0].cy == 0 && cells[0].has_law && fabs(cells[0].mu - mu) < 1e-9);
  LG_CHECK(cells[0].heard + cells[0].missed == 300);
  LG_EQ_INT(lg_linkmap_cells(one, 1, cells, 4), 0);
  LG_EQ_INT(lg_linkmap_cells(m, 1, cells, 2), 3); /* gateway 1 has 3 cells; 2 given */
  lg_linkmap_free(one);
  struct lg_linkmap *small = NULL; /* a smaller cap: what does not fit is counted */
  LG_CHECK(lg_linkmap_load(path, 2, &small, o2, why, sizeof(why)) == 0);
  LG_EQ_INT(lg_linkmap_size(small, &refused), 2);
  LG_CHECK(refused == 2);
  lg_linkmap_free(small);
  /* files that are not link maps: refused with the reason, nothing loaded */
  static const char *const broken[] = {
      "{\"format\": \"lorageo-linkmap\"",
      "{\"format\": \"other\", \"version\": 1, \"origin\": {\"lat\": 1, \"lon\": 2}, "
      "\"cell_m\": 250, \"cells\": []}",
      "{\"format\": \"lorageo-linkmap\", \"version\": 1, \"origin\": {\"lat\": 91, "
      "\"lon\": 2}, \"cell_m\": 250, \"cells\": []}",
      "{\"format\": \"lorageo-linkmap\", \"version\": 1, \"origin\": {\"lat\": 1, \"lon\": 2}, "
      "\"cell_m\": 250, \"cells\": [[\"00000000000000zz\", 0, 0, 3, -300, 30000, []]]}",
      "{\"format\": \"lorageo-linkmap\", \"version\": 1, \"origin\": {\"lat\": 1, \"lon\": 2}, "
      "\"cell_m\": 250, \"cells\": [[\"0000000000000001\", 0, 0, -3, -300, 30000, []]]}",
      /* a level sum no level could give */
      "{\"format\": \"lorageo-linkmap\", \"version\": 1, \"origin\": {\"lat\": 1, \"lon\": 2}, "
      "\"cell_m\": 250, \"cells\": [[\"0000000000000001\", 0, 0, 3, -1e300, 30000, []]]}",
      /* one (gateway, cell) twice */
      "{\"format\": \"lorageo-linkmap\", \"version\": 1, \"origin\": {\"lat\": 1, \"lon\": 2}, "
      "\"cell_m\": 250, \"cells\": [[\"0000000000000001\", 0, 0, 3, -300, 30000, []], "
      "[\"0000000000000001\", 0, 0, 3, -300, 30000, []]]}"};
  for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
    FILE *f = fopen(path, "w");
    LG_CHECK(f != NULL);
    fputs(broken[i], f);
    fclose(f);
    struct lg_linkmap *x = (struct lg_linkmap *)1;
    why[0] = '\0';
    LG_CHECK(lg_linkmap_load(path, 100, &x, o2, why, sizeof(why)) == LG_EINVAL);
    LG_CHECK(x == NULL && strstr(why, path) != NULL);
  }
  unlink(path);
  lg_linkmap_free(m);
}

int main(void) {
  reproduction_cases();
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
  LG_CHECK(!d.change && strstr(d.reason, "ADR bit"));
  in.adr_bit = true;
  LG_EQ_INT(lg_adr_decide(LG_ADR_PREDICTIVE, &in, &d), 0);
  LG_CHECK(!d.change && strstr(d.reason, "no uplink"));
  eadr_cases();
  predictive_cases();
  worth_cases();
  mobility_cases();
  censored_fit_cases();
  linkmap_cases();
  enum lg_adr_algo a;
  LG_EQ_INT(lg_adr_algo_parse("standard", &a), 0);
  LG_EQ_INT(a, LG_ADR_STANDARD);
  LG_EQ_INT(lg_adr_algo_parse("fast", &a), LG_EINVAL);
  return lg_test_report("test_adr");
}
