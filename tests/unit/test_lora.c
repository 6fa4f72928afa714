/*
 * lora: time on air against the reference table (phy-sim-adr.md §1.2, computed from
 * Semtech AN1200.13 and cross-checked with the AN1200.13 spreadsheet and
 * LoRaMac-node), SNR floors and sensitivities (SX1276 datasheet Table 13), regional
 * parameters (RP002-1.0.3) and duty cycle (R8).
 */
#include "lg_test.h"
#include "lora/lora.h"

static double toa_ms(int sf, uint32_t bw_hz, size_t pl) {
  struct lg_lora_tx tx = lg_lora_tx_lorawan(sf, bw_hz);
  struct lg_airtime at;
  if (lg_lora_airtime(&tx, pl, &at) != 0) return -1;
  return at.time_on_air_ms;
}

static void test_airtime_table(void) {
  /* BW125, CR4/5, explicit header, CRC on, 8-symbol preamble; rows PHY bytes. */
  static const struct {
    size_t pl;
    double ms[6];
  } rows[] = {
      {13, {46.336, 82.432, 164.864, 288.768, 577.536, 1155.072}},
      {20, {56.576, 102.912, 185.344, 370.688, 741.376, 1318.912}},
      {23, {61.696, 113.152, 205.824, 370.688, 823.296, 1482.752}},
      {26, {61.696, 113.152, 205.824, 411.648, 823.296, 1646.592}},
      {51, {102.656, 184.832, 328.704, 616.448, 1314.816, 2465.792}},
      {64, {118.016, 215.552, 390.144, 698.368, 1560.576, 2793.472}},
  };
  for (size_t r = 0; r < LG_ARRAY_LEN(rows); r++)
    for (int sf = 7; sf <= 12; sf++)
      LG_NEAR(toa_ms(sf, 125000, rows[r].pl), rows[r].ms[sf - 7], 1e-9);

  /* Other anchors (R1): SF7/BW250 13 B; SF7/BW500 20 B; US915 DR4 64 B. */
  LG_NEAR(toa_ms(7, 250000, 13), 23.168, 1e-9);
  LG_NEAR(toa_ms(7, 500000, 20), 14.144, 1e-9);
  LG_NEAR(toa_ms(8, 500000, 64), 53.888, 1e-9);

  /* SF12 CR4/8 20 B (LoRaSim experiment 0) = 1712.128 ms. */
  struct lg_lora_tx tx = lg_lora_tx_lorawan(12, 125000);
  struct lg_airtime at;
  tx.cr = 4;
  LG_EQ_INT(lg_lora_airtime(&tx, 20, &at), 0);
  LG_NEAR(at.time_on_air_ms, 1712.128, 1e-9);
  LG_EQ_INT(at.time_on_air_ns, 1712128000);

  /* Downlink ACK: 12 B, no CRC, SF12 = 991.232 ms. */
  tx = lg_lora_tx_lorawan(12, 125000);
  tx.crc = false;
  LG_EQ_INT(lg_lora_airtime(&tx, 12, &at), 0);
  LG_NEAR(at.time_on_air_ms, 991.232, 1e-9);
}

static void test_airtime_ldro(void) {
  struct lg_lora_tx tx = lg_lora_tx_lorawan(10, 125000);
  struct lg_airtime at;
  LG_EQ_INT(lg_lora_airtime(&tx, 20, &at), 0);
  LG_CHECK(!at.ldro); /* 8.192 ms symbol */
  tx.sf = 11;
  LG_EQ_INT(lg_lora_airtime(&tx, 20, &at), 0);
  LG_CHECK(at.ldro); /* 16.384 ms symbol */
  tx = lg_lora_tx_lorawan(12, 250000);
  LG_EQ_INT(lg_lora_airtime(&tx, 20, &at), 0);
  LG_CHECK(at.ldro);
  tx = lg_lora_tx_lorawan(12, 500000);
  LG_EQ_INT(lg_lora_airtime(&tx, 20, &at), 0);
  LG_CHECK(!at.ldro);

  /* Forcing LDRO off at SF12/125 shortens the packet: 20 B, DE=0 gives
   * 8 + ceil((160-48+28+16)/48)*5 = 8 + 4*5 = 28 symbols; DE=1 gives 8+ceil(156/40)*5 = 28. */
  tx = lg_lora_tx_lorawan(12, 125000);
  tx.ldro = LG_LDRO_OFF;
  LG_EQ_INT(lg_lora_airtime(&tx, 20, &at), 0);
  LG_EQ_INT(at.payload_symbols, 28);
  LG_EQ_INT(lg_lora_airtime(&tx, 51, &at), 0);
  /* 8*51-48+28+16 = 404; /48 -> 8.42 -> 9 blocks: 8 + 45 = 53 */
  LG_EQ_INT(at.payload_symbols, 53);
  tx.ldro = LG_LDRO_ON; /* 404/40 -> 10.1 -> 11 blocks: 8 + 55 = 63 */
  LG_EQ_INT(lg_lora_airtime(&tx, 51, &at), 0);
  LG_EQ_INT(at.payload_symbols, 63);

  /* Implicit header removes 20 bits; SF7 13 B: (104-28+28+16-20)/28 = 100/28 -> 4 blocks */
  tx = lg_lora_tx_lorawan(7, 125000);
  tx.implicit_header = true;
  LG_EQ_INT(lg_lora_airtime(&tx, 13, &at), 0);
  LG_EQ_INT(at.payload_symbols, 8 + 4 * 5);
  /* An empty implicit-header packet without CRC has only the 8 fixed symbols. */
  tx.crc = false;
  LG_EQ_INT(lg_lora_airtime(&tx, 0, &at), 0);
  LG_EQ_INT(at.payload_symbols, 8);

  /* Range checks. */
  tx = lg_lora_tx_lorawan(13, 125000);
  LG_EQ_INT(lg_lora_airtime(&tx, 10, &at), LG_EINVAL);
  tx = lg_lora_tx_lorawan(7, 125000);
  tx.cr = 5;
  LG_EQ_INT(lg_lora_airtime(&tx, 10, &at), LG_EINVAL);
  tx.cr = 1;
  LG_EQ_INT(lg_lora_airtime(&tx, 256, &at), LG_EINVAL);
}

static void test_snr_sensitivity(void) {
  static const double floor_db[] = {-7.5, -10, -12.5, -15, -17.5, -20};
  static const double sens_dbm[] = {-124.5, -127.0, -129.5, -132.0, -134.5, -137.0};
  double v;
  for (int sf = 7; sf <= 12; sf++) {
    LG_EQ_INT(lg_lora_snr_floor_db(sf, 125000, &v), 0);
    LG_NEAR(v, floor_db[sf - 7], 1e-12);
    LG_EQ_INT(lg_lora_sensitivity_dbm(sf, 125000, 6.0, &v), 0);
    LG_NEAR(v, sens_dbm[sf - 7], 0.05); /* noise floor -117.03 dBm */
  }
  LG_EQ_INT(lg_lora_snr_floor_db(6, 125000, &v), 0);
  LG_NEAR(v, -5.0, 1e-12);
  LG_NEAR(lg_lora_noise_floor_dbm(125000, 6.0), -117.03, 0.005);
  /* 500 kHz costs 10log10(4) = 6.02 dB of sensitivity. */
  double s125, s500;
  lg_lora_sensitivity_dbm(12, 125000, 6.0, &s125);
  lg_lora_sensitivity_dbm(12, 500000, 6.0, &s500);
  LG_NEAR(s500 - s125, 6.0206, 1e-3);
  LG_EQ_INT(lg_lora_snr_floor_db(13, 125000, &v), LG_EINVAL);
  LG_EQ_INT(lg_lora_snr_floor_db(7, 100000, &v), LG_EINVAL);
}

static void test_eu868(void) {
  const struct lg_region *eu = lg_region_find("eu868");
  LG_CHECK(eu != NULL);
  if (eu == NULL) return;
  LG_EQ_STR(eu->name, "EU868");
  static const int sf[] = {12, 11, 10, 9, 8, 7, 7};
  static const int n[] = {51, 51, 51, 115, 242, 242, 242, 242};
  for (int dr = 0; dr <= 7; dr++) {
    const struct lg_datarate *d = lg_region_dr(eu, dr);
    LG_CHECK(d != NULL);
    if (d == NULL) continue;
    LG_EQ_INT(d->max_app_payload, n[dr]);
    LG_EQ_INT(d->max_mac_payload, n[dr] + 8);
    if (dr < 7) {
      LG_EQ_INT(d->sf, sf[dr]);
      LG_EQ_INT(d->bw_hz, dr == 6 ? 250000 : 125000);
    } else {
      LG_EQ_INT(d->mod, LG_MOD_FSK);
    }
  }
  LG_CHECK(lg_region_dr(eu, 8) && lg_region_dr(eu, 8)->mod == LG_MOD_LR_FHSS); /* RP002 DR8 */
  LG_CHECK(lg_region_dr(eu, 12) == NULL);
  LG_CHECK(lg_region_dr(eu, -1) == NULL);
  int dr = -1;
  LG_EQ_INT(lg_region_dr_for(eu, 9, 125000, true, &dr), 0);
  LG_EQ_INT(dr, 3);
  LG_EQ_INT(lg_region_dr_for(eu, 9, 500000, true, &dr), LG_ENOTFOUND);

  int p = 0;
  LG_EQ_INT(lg_region_tx_power_dbm(eu, 0, &p), 0);
  LG_EQ_INT(p, 16);
  LG_EQ_INT(lg_region_tx_power_dbm(eu, 7, &p), 0);
  LG_EQ_INT(p, 2);
  LG_EQ_INT(lg_region_tx_power_dbm(eu, 8, &p), LG_EINVAL);

  LG_EQ_INT(eu->default_ch_count, 3);
  LG_EQ_INT(eu->default_ch[0].freq_hz, 868100000);
  LG_EQ_INT(eu->default_ch[2].freq_hz, 868500000);
  LG_EQ_INT(eu->rx2_freq_hz, 869525000);
  LG_EQ_INT(eu->rx2_dr, 0);
  LG_EQ_INT(eu->receive_delay1_ns, 1000000000);
  LG_EQ_INT(eu->join_accept_delay2_ns, 6000000000);

  LG_EQ_INT(lg_region_rx1_dr(eu, 5, 0, &dr), 0);
  LG_EQ_INT(dr, 5);
  LG_EQ_INT(lg_region_rx1_dr(eu, 5, 3, &dr), 0);
  LG_EQ_INT(dr, 2);
  LG_EQ_INT(lg_region_rx1_dr(eu, 1, 5, &dr), 0);
  LG_EQ_INT(dr, 0);
  LG_EQ_INT(lg_region_rx1_dr(eu, 1, 6, &dr), LG_EINVAL);
  uint32_t f = 0;
  LG_EQ_INT(lg_region_rx1_freq(eu, 868300000, &f), 0);
  LG_EQ_INT(f, 868300000);

  const struct lg_subband *b = lg_region_subband(eu, 868100000);
  LG_CHECK(b != NULL && b->duty_cycle == 0.01);
  b = lg_region_subband(eu, 869525000);
  LG_CHECK(b != NULL && b->duty_cycle == 0.10);
  b = lg_region_subband(eu, 868800000);
  LG_CHECK(b != NULL && b->duty_cycle == 0.001);
  LG_CHECK(lg_region_subband(eu, 869300000) == NULL);
  /* R8: after a 1482.752 ms frame at 1 % the sub-band stays closed 146.79 s. */
  LG_NEAR((double)lg_duty_cycle_off_ns(1482752000, 0.01) / 1e9, 146.792448, 1e-6);
  /* and 23 B at SF7 (61.696 ms + 6.1 s off) allows at most 583 frames/h. */
  int64_t cycle = 61696000 + lg_duty_cycle_off_ns(61696000, 0.01);
  LG_EQ_INT(3600000000000LL / cycle, 583);
}

static void test_us915(void) {
  const struct lg_region *us = lg_region_find("US915");
  LG_CHECK(us != NULL);
  if (us == NULL) return;
  LG_CHECK(lg_region_find("AS923") == lg_region_find("AS923-1"));
  LG_CHECK(lg_region_find("XX915") == NULL);
  const struct lg_datarate *d = lg_region_dr(us, 0);
  LG_CHECK(d && d->sf == 10 && d->bw_hz == 125000 && d->max_app_payload == 11);
  d = lg_region_dr(us, 4);
  LG_CHECK(d && d->sf == 8 && d->bw_hz == 500000 && d->uplink && !d->downlink);
  LG_CHECK(lg_region_dr(us, 5) && lg_region_dr(us, 5)->mod == LG_MOD_LR_FHSS);
  LG_CHECK(lg_region_dr(us, 7) == NULL);
  d = lg_region_dr(us, 8);
  LG_CHECK(d && d->sf == 12 && d->bw_hz == 500000 && d->downlink && d->max_app_payload == 53);
  d = lg_region_dr(us, 13);
  LG_CHECK(d && d->sf == 7 && d->max_app_payload == 242);
  int p = 0;
  LG_EQ_INT(lg_region_tx_power_dbm(us, 0, &p), 0);
  LG_EQ_INT(p, 30);
  LG_EQ_INT(lg_region_tx_power_dbm(us, 14, &p), 0);
  LG_EQ_INT(p, 2);
  LG_EQ_INT(us->default_ch_count, 72);
  LG_EQ_INT(us->default_ch[63].freq_hz, 914900000);
  LG_EQ_INT(us->default_ch[64].freq_hz, 903000000);
  LG_EQ_INT(us->default_ch[71].freq_hz, 914200000);

  static const int table[5][4] = {
      {10, 9, 8, 8}, {11, 10, 9, 8}, {12, 11, 10, 9}, {13, 12, 11, 10}, {13, 13, 12, 11}};
  int dr = 0;
  for (int up = 0; up <= 4; up++)
    for (int off = 0; off <= 3; off++) {
      LG_EQ_INT(lg_region_rx1_dr(us, up, off, &dr), 0);
      LG_EQ_INT(dr, table[up][off]);
    }
  LG_EQ_INT(lg_region_rx1_dr(us, 8, 0, &dr), LG_EINVAL); /* DR8 is downlink only */
  uint32_t f = 0;
  LG_EQ_INT(lg_region_rx1_freq(us, 902300000, &f), 0);
  LG_EQ_INT(f, 923300000);
  LG_EQ_INT(lg_region_rx1_freq(us, 903900000, &f), 0); /* channel 8 → downlink 0 */
  LG_EQ_INT(f, 923300000);
  LG_EQ_INT(lg_region_rx1_freq(us, 904100000, &f), 0); /* channel 9 → downlink 1 */
  LG_EQ_INT(f, 923900000);
  LG_EQ_INT(lg_region_rx1_freq(us, 903000000 + 1600000 * 7, &f), 0); /* 500 kHz ch 71 */
  LG_EQ_INT(f, 927500000);
  LG_EQ_INT(lg_region_rx1_freq(us, 902400000, &f), LG_EINVAL);
  LG_EQ_INT(us->rx2_freq_hz, 923300000);
  LG_EQ_INT(us->rx2_dr, 8);
  LG_CHECK(lg_region_subband(us, 902300000) == NULL);
}

int main(void) {
  test_airtime_table();
  test_airtime_ldro();
  test_snr_sensitivity();
  test_eu868();
  test_us915();
  return lg_test_report("test_lora");
}
