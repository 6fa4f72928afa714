/*
 * `lorageo sim SCENARIO.json [--out DIR] [--server HOST:PORT [--api URL] [--speed K]]
 *                            [--seed N] [--duration-s T] [--no-transmissions] [--no-plots]
 *                            [--quiet]`
 *
 * Offline (default): the scenario runs in-process as fast as the machine allows and the
 * summary (JSON) goes to stdout; with --out the transmissions, positions, summary and
 * plots go to DIR. Live (--server): the simulated gateways are packet forwarders of the
 * server at HOST:PORT and the run takes real time divided by --speed.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sim/sim.h"

static const char usage[] =
    "usage: lorageo sim SCENARIO.json [--out DIR] [--seed N] [--duration-s T]\n"
    "                   [--server HOST:PORT [--api URL] [--speed K] [--downlink-grace-ms M]]\n"
    "                   [--station ws[s]://HOST:PORT [--station-token T] [--station-ca F]\n"
    "                    [--station-cert F --station-key F]]\n"
    "                   [--no-transmissions] [--no-plots] [--quiet]\n"
    "\n"
    "Plays the devices, gateways and radio channel of a scenario (docs/simulator.md).\n"
    "  --out DIR           write transmissions.csv, positions.csv, summary.json and PNG plots\n"
    "  --seed N            override the scenario's seed\n"
    "  --duration-s T      override the scenario's duration\n"
    "  --server HOST:PORT  live: drive a running `lorageo serve` over the Semtech UDP protocol\n"
    "  --api URL           live: provision the gateways and devices through this HTTP API\n"
    "                      first (token from LORAGEO_API_TOKEN)\n"
    "  --speed K           live: simulated seconds per second (default 1)\n"
    "  --downlink-grace-ms M  live: a downlink late by up to M ms of wall-clock time still\n"
    "                      goes out in the window it asked for (at a high --speed no\n"
    "                      server answers within RX1's 1 s / K; default 0: TOO_LATE)\n"
    "  --station URI       live: the gateways are LoRa Basics Stations of the server's\n"
    "                      [basicstation] bind (router-info, then traffic) instead of UDP\n"
    "  --station-token T   their bearer token (also set on the gateways when --api is given)\n"
    "  --station-ca F      wss://: the server's CA;  --station-cert/--station-key: a client\n"
    "                      certificate\n"
    "  --no-transmissions  do not write transmissions.csv (large runs)\n"
    "  --no-plots          do not draw PNG plots\n"
    "  --quiet             no progress line on stderr\n"
    "The summary (delivery, air time, energy, position errors) is printed as JSON.\n";

int lg_cmd_sim(int argc, char **argv) {
  static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
                                       {"seed", required_argument, NULL, 's'},
                                       {"duration-s", required_argument, NULL, 'd'},
                                       {"server", required_argument, NULL, 'S'},
                                       {"api", required_argument, NULL, 'a'},
                                       {"speed", required_argument, NULL, 'k'},
                                       {"downlink-grace-ms", required_argument, NULL, 'g'},
                                       {"station", required_argument, NULL, 'B'},
                                       {"station-token", required_argument, NULL, 'K'},
                                       {"station-ca", required_argument, NULL, 'C'},
                                       {"station-cert", required_argument, NULL, 'E'},
                                       {"station-key", required_argument, NULL, 'Y'},
                                       {"no-transmissions", no_argument, NULL, 'T'},
                                       {"no-plots", no_argument, NULL, 'P'},
                                       {"quiet", no_argument, NULL, 'q'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *out = NULL, *server = NULL, *api = NULL, *station = NULL, *st_token = NULL,
             *st_ca = NULL, *st_cert = NULL, *st_key = NULL;
  long seed = -1;
  double duration = 0, speed = 1, grace_ms = 0;
  bool tx = true, plots = true, quiet = false;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
    case 'o': out = optarg; break;
    case 'S': server = optarg; break;
    case 'a': api = optarg; break;
    case 'B': station = optarg; break;
    case 'K': st_token = optarg; break;
    case 'C': st_ca = optarg; break;
    case 'E': st_cert = optarg; break;
    case 'Y': st_key = optarg; break;
    case 'T': tx = false; break;
    case 'P': plots = false; break;
    case 'q': quiet = true; break;
    case 's':
      if (lg_cli_parse_long(optarg, 0, 0x7fffffffL, &seed))
        return lg_cli_fail("sim", 2, "--seed: expected a non-negative integer, got '%s'", optarg);
      break;
    case 'd':
    case 'k': {
      double v = strtod(optarg, &end);
      if (end == optarg || *end || !isfinite(v) || v <= 0 || (c == 'k' && v < 1))
        return lg_cli_fail("sim", 2, "--%s: expected a number %s, got '%s'",
                           c == 'd' ? "duration-s" : "speed", c == 'd' ? "> 0" : ">= 1", optarg);
      if (c == 'd')
        duration = v;
      else
        speed = v;
      break;
    }
    case 'g': {
      double v = strtod(optarg, &end);
      if (end == optarg || *end || !isfinite(v) || v < 0 || v > 10000)
        return lg_cli_fail("sim", 2, "--downlink-grace-ms: expected ms 0..10000, got '%s'", optarg);
      grace_ms = v;
      break;
    }
    case 'h': fputs(usage, stdout); return 0;
    default: return lg_cli_bad_option("sim", c, argv);
    }
  }
  if (optind != argc - 1) return lg_cli_fail("sim", 2, "expected one SCENARIO.json (see --help)");
  struct lg_sim_scenario sc;
  char why[512];
  if (lg_sim_scenario_load(argv[optind], &sc, why, sizeof(why)))
    return lg_cli_fail("sim", 1, "%s: %s", argv[optind], why);
  if (seed >= 0) sc.seed = (uint64_t)seed;
  if (duration > 0) sc.duration_ns = (int64_t)(duration * 1e9);
  char *summary = NULL;
  int rc;
  if (!station && (st_token || st_ca || st_cert || st_key)) {
    lg_sim_scenario_free(&sc);
    return lg_cli_fail("sim", 2, "--station-token/-ca/-cert/-key need --station URI");
  }
  if ((server || station) && (sc.waspmote_modes || sc.standard_every)) {
    lg_sim_scenario_free(&sc);
    return lg_cli_fail("sim", 2,
                       "%s: \"modes\": \"waspmote\" and \"adr_standard\": \"semtech\" are "
                       "for offline runs (a live server speaks LoRaWAN data rates and runs "
                       "ChirpStack's standard ADR)",
                       argv[optind]);
  }
  if (server || station) {
    struct lg_sim_live_options lo = {.server = server,
                                     .api_url = api,
                                     .api_token = getenv("LORAGEO_API_TOKEN"),
                                     .speed = speed,
                                     .out_dir = out,
                                     .progress = !quiet,
                                     .downlink_grace_ms = grace_ms,
                                     .station_uri = station,
                                     .station_token = st_token,
                                     .station_ca = st_ca,
                                     .station_cert = st_cert,
                                     .station_key = st_key};
    rc = lg_sim_run_live(&sc, &lo, &summary, why, sizeof(why));
  } else {
    struct lg_sim_options o = {out, !quiet && isatty(2), plots, tx};
    if (!quiet && !isatty(2)) o.progress = true;
    rc = lg_sim_run(&sc, &o, &summary, why, sizeof(why));
  }
  lg_sim_scenario_free(&sc);
  if (rc) {
    if (summary) printf("%s\n", summary); /* a live run that failed: what it did, then why */
    free(summary);
    return lg_cli_fail("sim", 1, "%s", why);
  }
  printf("%s\n", summary ? summary : "{}");
  free(summary);
  return 0;
}
