/*
 * Simulator models against the reference numbers of ../shared/reference/phy-sim-adr.md:
 * energy (§4 worked example, R5), collision rules (R6 and the LoRaSim/FLoRa rules of
 * §2.1/§2.3), path loss (R4), the mobility paths, and scenario validation messages.
 */
#include <math.h>
#include <stdlib.h>

#include "lg_test.h"
#include "sim/sim_int.h"

static struct tx mk_tx(int sf, int64_t start_ns, int64_t toa_ns) {
  struct tx t;
  memset(&t, 0, sizeof(t));
  t.sf = sf, t.bw_hz = 125000, t.freq_hz = 868100000, t.start_ns = start_ns, t.toa_ns = toa_ns;
  t.end_ns = start_ns + toa_ns;
  return t;
}

static struct reception mk_rx(const struct tx *t, double rssi) {
  struct reception r;
  memset(&r, 0, sizeof(r));
  r.start_ns = t->start_ns, r.end_ns = t->end_ns, r.rssi = (float)rssi,
  r.mw = (float)pow(10, rssi / 10);
  return r;
}

static void energy(void) {
  /* §4 worked example: 23 B at SF7 (61.7 ms), 44 mA TX, 11.2 mA RX, 1.4 mA idle, 3.3 V,
   * ns-3 windows of 8 symbols (RX1 at SF7, RX2 at SF12): 8.96 + 9.99 + 9.20 = 28.2 mJ. */
  struct lg_sim_energy e = {3.3, 11.2, 1.4, true};
  struct lg_airtime at;
  struct lg_lora_tx lt = lg_lora_tx_lorawan(7, 125000);
  lg_lora_airtime(&lt, 23, &at);
  double mj =
      sim_uplink_energy_mj(&e, at.time_on_air_ns, 14, 1000000000LL, sim_rx_window_ns(7, 125000),
                           2000000000LL, sim_rx_window_ns(12, 125000));
  LG_NEAR(mj, 28.2, 0.05);
  LG_NEAR(sim_uplink_energy_mj(&e, at.time_on_air_ns, 14, 0, 0, 0, 0), 8.96, 0.01);
  /* R5, LoRaSim's convention (TX only, 3.0 V): 20 B SF12 CR4/8 = 1712.128 ms x 44 mA x 3 V. */
  struct lg_sim_energy tx_only = {3.0, 0, 0, false};
  lt = lg_lora_tx_lorawan(12, 125000);
  lt.cr = 4;
  lg_lora_airtime(&lt, 20, &at);
  LG_NEAR(at.time_on_air_ms, 1712.128, 1e-6);
  LG_NEAR(sim_uplink_energy_mj(&tx_only, at.time_on_air_ns, 14, 0, 0, 0, 0), 226.0, 0.05);
  LG_NEAR(lg_lora_tx_current_ma(14), 44, 0);
  LG_NEAR(lg_lora_tx_current_ma(17), 90, 0);
  LG_NEAR(lg_lora_tx_current_ma(-5), 22, 0);
  LG_NEAR(lg_lora_tx_current_ma(30), 125, 0);
  LG_NEAR((double)sim_rx_window_ns(12, 125000) / 1e6, 262.144, 1e-6);
}

static void collisions(void) {
  struct lg_sim_scenario sc;
  memset(&sc, 0, sizeof(sc));
  sc.capture = true;
  /* ns-3 (R6): SF7 wanted vs a same-SF interferer overlapping fully survives iff it is
   * at least 6 dB stronger. */
  sc.collision = LG_SIM_COLL_NS3;
  for (double diff = 4; diff <= 8; diff += 1) {
    struct tx tw = mk_tx(7, 0, 50000000), ti = mk_tx(7, 0, 50000000);
    struct reception w = mk_rx(&tw, -100), i = mk_rx(&ti, -100 - diff);
    sim_interfere(&sc, &i, &ti, &w, &tw);
    LG_EQ_INT(sim_ns3_lost(&w, &tw), diff < 6);
    LG_CHECK(sim_ns3_lost(&i, &ti)); /* the weaker one never survives */
  }
  /* ... vs an SF12 interferer 10 dB stronger, full overlap: survives (needs >= -20 dB) */
  {
    struct tx tw = mk_tx(7, 0, 50000000), ti = mk_tx(12, -1000000, 1500000000);
    struct reception w = mk_rx(&tw, -100), i = mk_rx(&ti, -90);
    sim_interfere(&sc, &w, &tw, &i, &ti);
    LG_CHECK(!sim_ns3_lost(&w, &tw));
    /* ... but not 25 dB stronger */
    struct reception w2 = mk_rx(&tw, -100), i2 = mk_rx(&ti, -75);
    sim_interfere(&sc, &w2, &tw, &i2, &ti);
    LG_CHECK(sim_ns3_lost(&w2, &tw));
  }
  /* energy scaling: an interferer overlapping 10 % of the packet counts 10 dB less, so an
   * equal-power one at 10 % overlap leaves SIR 10 dB >= 6: survives */
  {
    struct tx tw = mk_tx(7, 0, 50000000), ti = mk_tx(7, 45000000, 50000000);
    struct reception w = mk_rx(&tw, -100), i = mk_rx(&ti, -100);
    sim_interfere(&sc, &i, &ti, &w, &tw);
    LG_NEAR(10 * log10(pow(10, -10.0) * 50e6 / w.interf[0]), 10, 1e-5); /* mW kept as float */
    LG_CHECK(!sim_ns3_lost(&w, &tw));
  }
  /* LoRaSim (§2.1): the newcomer's last 5 preamble symbols decide; 6 dB capture. */
  sc.collision = LG_SIM_COLL_LORASIM;
  int64_t tsym = 1024000; /* SF7 BW125: 1.024 ms */
  {
    struct tx told = mk_tx(7, 0, 50000000), tnew = mk_tx(7, 50000000 - 3 * tsym + 1000, 50000000);
    struct reception o = mk_rx(&told, -100), n = mk_rx(&tnew, -100);
    sim_interfere(&sc, &n, &tnew, &o, &told); /* the old one ends within 3 symbols: no harm */
    LG_CHECK(!o.lost && !n.lost);
  }
  {
    struct tx told = mk_tx(7, 0, 50000000), tnew = mk_tx(7, 10000000, 50000000);
    struct reception o = mk_rx(&told, -100), n = mk_rx(&tnew, -104);
    sim_interfere(&sc, &n, &tnew, &o, &told); /* within 6 dB: both lost */
    LG_CHECK(o.lost && n.lost);
    struct reception o2 = mk_rx(&told, -100), n2 = mk_rx(&tnew, -107);
    sim_interfere(&sc, &n2, &tnew, &o2, &told); /* 7 dB weaker newcomer: only it is lost */
    LG_CHECK(!o2.lost && n2.lost);
    struct tx t9 = mk_tx(9, 10000000, 50000000);
    struct reception o3 = mk_rx(&told, -100), n3 = mk_rx(&t9, -100);
    sim_interfere(&sc, &n3, &t9, &o3, &told); /* LoRaSim: SFs are orthogonal */
    LG_CHECK(!o3.lost && !n3.lost);
    struct tx tf = tnew;
    tf.freq_hz = 868300000;
    struct reception o4 = mk_rx(&told, -100), n4 = mk_rx(&tf, -100);
    sim_interfere(&sc, &n4, &tf, &o4, &told); /* another channel */
    LG_CHECK(!o4.lost && !n4.lost);
  }
  /* FLoRa (§2.3): co-SF needs 1 dB; SF7 vs SF12 is lost when 9 dB (or more) weaker. */
  sc.collision = LG_SIM_COLL_FLORA;
  {
    struct tx told = mk_tx(7, 0, 50000000), tnew = mk_tx(7, 10000000, 50000000);
    struct reception o = mk_rx(&told, -100), n = mk_rx(&tnew, -98.5);
    sim_interfere(&sc, &n, &tnew, &o, &told);
    LG_CHECK(o.lost && !n.lost);
    struct tx t12 = mk_tx(12, 10000000, 1500000000);
    struct reception o2 = mk_rx(&told, -100), n2 = mk_rx(&t12, -91.5);
    sim_interfere(&sc, &n2, &t12, &o2, &told);
    LG_CHECK(!o2.lost);
    struct reception o3 = mk_rx(&told, -100), n3 = mk_rx(&t12, -90);
    sim_interfere(&sc, &n3, &t12, &o3, &told);
    LG_CHECK(o3.lost);
  }
  /* capture off: any same-SF overlap destroys both, whatever the powers */
  sc.capture = false;
  {
    struct tx told = mk_tx(7, 0, 50000000), tnew = mk_tx(7, 49000000, 50000000);
    struct reception o = mk_rx(&told, -60), n = mk_rx(&tnew, -120);
    sim_interfere(&sc, &n, &tnew, &o, &told);
    LG_CHECK(o.lost && n.lost);
  }
}

static void path_loss(void) {
  /* R4: LoRaSim/FLoRa model, 14 dBm, SF12 vs the ns-3 gateway sensitivity -142.5 dBm
   * reaches 1001 m; Oulu at 1 km is 128.95 dB. */
  struct lg_sim_channel lorasim = {40, 127.41, 2.08, 0, false, 0, 0};
  double pl = 14 + 142.5, d = 40 * pow(10, (pl - 127.41) / 20.8);
  LG_NEAR(d, 1001, 1);
  LG_NEAR(lg_sim_path_loss_db(&lorasim, d), pl, 1e-9);
  struct lg_sim_channel oulu = {1000, 128.95, 2.32, 7.8, false, 0, 0};
  LG_NEAR(lg_sim_path_loss_db(&oulu, 1000), 128.95, 1e-12);
  LG_NEAR(lg_sim_path_loss_db(&oulu, 10000), 128.95 + 23.2, 1e-9);
  struct lg_sim_channel ln = lorasim;
  ln.natural_log = true; /* LoRaSim rev 218: 98.95 m is its SF12 reach at -132.25 dBm */
  LG_NEAR(lg_sim_path_loss_db(&ln, 98.95), 14 + 132.25, 0.01);
}

static const char *bad(const char *json) {
  static char why[512];
  struct lg_sim_scenario sc;
  why[0] = 0;
  if (lg_sim_scenario_parse(json, NULL, &sc, why, sizeof(why)) == 0) {
    lg_sim_scenario_free(&sc);
    return "(accepted)";
  }
  return why;
}

#define GW  "\"gateways\":[{\"lat\":55.78,\"lon\":12.52}]"
#define GRP "{\"count\":2,\"traffic\":{\"kind\":\"periodic\",\"period_s\":60}}"

static void expect_prefix(const char *got, const char *prefix) {
  lg_test_checks++;
  if (strncmp(got, prefix, strlen(prefix)) != 0)
    LG_FAIL_AT("error '%s' should start with '%s'", got, prefix);
}

static void validation(void) {
  struct lg_sim_scenario sc;
  char why[512];
  const char *ok = "{\"duration_s\":60," GW ",\"groups\":[" GRP "]}";
  LG_EQ_INT(lg_sim_scenario_parse(ok, NULL, &sc, why, sizeof(why)), 0);
  LG_EQ_INT(sc.n_gateways, 1);
  LG_EQ_INT(sc.groups[0].count, 2);
  LG_EQ_INT(sc.collision, LG_SIM_COLL_LORASIM);
  LG_NEAR(sc.channel.pl0_db, 128.95, 0); /* Oulu by default */
  LG_EQ_INT(sc.groups[0].sf, 12);        /* DR0 */
  lg_sim_scenario_free(&sc);
  expect_prefix(bad("{"), "line 1");
  expect_prefix(bad("[]"), "scenario: expected a JSON object");
  expect_prefix(bad("{" GW ",\"groups\":[" GRP "]}"), "duration_s: required");
  expect_prefix(bad("{\"duration_s\":60,\"region\":\"XX\"," GW ",\"groups\":[" GRP "]}"),
                "region:");
  expect_prefix(bad("{\"duration_s\":60,\"gateways\":[],"
                    "\"groups\":[" GRP "]}"),
                "gateways:");
  expect_prefix(
      bad("{\"duration_s\":60,\"gateways\":[{\"lat\":95,\"lon\":1}],\"groups\":[" GRP "]}"),
      "gateways[0].lat: 95 is outside");
  expect_prefix(bad("{\"duration_s\":60," GW ",\"groups\":[" GRP ",{\"count\":1}]}"),
                "groups[1].traffic: required");
  expect_prefix(
      bad("{\"duration_s\":60," GW
          ",\"groups\":[{\"count\":1,\"traffic\":{\"kind\":\"poisson\",\"period_s\":1}}]}"),
      "groups[0].traffic.kind: expected one of periodic, exponential");
  expect_prefix(bad("{\"duration_s\":60," GW ",\"groups\":[{\"count\":1,\"trafic\":{}}]}"),
                "groups[0].trafic: unknown key");
  expect_prefix(bad("{\"duration_s\":60," GW
                    ",\"groups\":[{\"count\":1,\"dr\":7,\"traffic\":{\"period_s\":1}}]}"),
                "groups[0].dr: DR7 is not a LoRa uplink data rate");
  expect_prefix(
      bad("{\"duration_s\":60," GW
          ",\"groups\":[{\"count\":1,\"payload_bytes\":100,\"traffic\":{\"period_s\":1}}]}"),
      "groups[0].payload_bytes: 100 bytes exceed DR0's maximum of 51");
  expect_prefix(bad("{\"duration_s\":60," GW
                    ",\"groups\":[{\"count\":1,\"adr\":\"fast\",\"traffic\":{\"period_s\":1}}]}"),
                "groups[0].adr: expected one of off, standard, eadr, predictive");
  expect_prefix(bad("{\"duration_s\":60," GW
                    ",\"groups\":[{\"count\":1,\"traffic\":{\"period_s\":1},"
                    "\"mobility\":{\"kind\":\"zigzag\",\"speed_mps\":3}}]}"),
                "groups[0].mobility.bounds: expected");
  expect_prefix(bad("{\"duration_s\":60," GW
                    ",\"groups\":[{\"count\":1,\"traffic\":{\"period_s\":1},"
                    "\"mobility\":{\"kind\":\"trace\",\"file\":\"/nonexistent.csv\"}}]}"),
                "groups[0].mobility.file: cannot open /nonexistent.csv");
  expect_prefix(
      bad("{\"duration_s\":60," GW ",\"groups\":[" GRP "],\"collisions\":{\"model\":\"ns2\"}}"),
      "collisions.model: expected one of none, lorasim, ns3, flora");
  expect_prefix(bad("{\"duration_s\":60," GW ",\"groups\":[" GRP
                    "],\"channel\":{\"path_loss\":{\"exponent\":0}}}"),
                "channel.path_loss.exponent: 0 is outside");
  expect_prefix(
      bad("{\"duration_s\":60,\"gateways\":[{\"east_m\":0,\"north_m\":0}],\"groups\":[" GRP "]}"),
      "origin: required");
  expect_prefix(
      bad("{\"duration_s\":60,\"gateways\":[{\"lat\":1,\"lon\":1,\"eui\":\"00\"}],\"groups\":[" GRP
          "]}"),
      "gateways[0].eui: expected 16 hex digits");
  expect_prefix(bad("{\"duration_s\":60," GW ",\"groups\":[" GRP
                    "],\"geolocation\":{\"methods\":[\"magic\"]}}"),
                "geolocation.methods: entry 0");
  expect_prefix(
      bad("{\"duration_s\":60," GW
          ",\"groups\":[{\"count\":1,\"activation\":\"none\",\"traffic\":{\"period_s\":1}}]}"),
      "groups[0].radio: required");
}

static void mobility(void) {
  /* a zigzag over 100 x 40 m with 20 m steps: sweeps at y = 0, 20, 40, then back */
  const char *j =
      "{\"duration_s\":60,\"origin\":{\"lat\":55,\"lon\":12},\"gateways\":[{\"east_m\":0,\"north_"
      "m\":0}],"
      "\"groups\":[{\"count\":1,\"traffic\":{\"period_s\":1},\"placement\":{\"kind\":\"points\","
      "\"points\":[{\"east_m\":0,\"north_m\":0}]},\"mobility\":{\"kind\":\"zigzag\",\"speed_mps\":"
      "10,"
      "\"bounds\":{\"east_m\":[0,100],\"north_m\":[0,40]},\"step_m\":20}}]}";
  struct lg_sim_scenario sc;
  char why[256];
  LG_EQ_INT(lg_sim_scenario_parse(j, NULL, &sc, why, sizeof(why)), 0);
  struct sim s;
  LG_EQ_INT(sim_init(&s, &sc, (struct sim_network){0}), 0);
  /* out: 100 + 20 + 100 + 20 + 100 = 340 m; back the same way: 680 m in all */
  LG_NEAR(s.paths[0].len, 680, 1e-9);
  struct device *d = &s.dev[0];
  sim_device_position(&s, d, 5000000000LL); /* 50 m: half the first sweep */
  LG_NEAR(d->e, 50, 1e-9);
  LG_NEAR(d->n, 0, 1e-9);
  sim_device_position(&s, d, 13000000000LL); /* 130 m: the second sweep, 10 m from the east */
  LG_NEAR(d->e, 90, 1e-9);
  LG_NEAR(d->n, 20, 1e-9);
  sim_device_position(&s, d, 68000000000LL + 5000000000LL); /* a lap later: the same place */
  LG_NEAR(d->e, 50, 1e-6);
  sim_free(&s);
  lg_sim_scenario_free(&sc);
}

int main(void) {
  energy();
  collisions();
  path_loss();
  validation();
  mobility();
  return lg_test_report("test_sim");
}
