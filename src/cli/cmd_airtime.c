/*
 * `lorageo airtime --sf N --bw KHZ --payload BYTES [--cr 1..4] [--preamble N]
 *                  [--no-crc] [--implicit-header] [--ldro auto|on|off]`
 * or `lorageo airtime --region NAME --dr N --payload BYTES ...` (SF and bandwidth from the
 * region's LoRa data rate N).
 * Prints {"time_on_air_ms": .., "payload_symbols": .., ...} for a PHYPayload of BYTES.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lora/lora.h"
#include "util/util.h"

static const char usage[] =
    "usage: lorageo airtime --sf N --bw KHZ --payload BYTES [--cr 1..4] [--preamble N]\n"
    "                       [--no-crc] [--implicit-header] [--ldro auto|on|off]\n"
    "       lorageo airtime --region NAME --dr N --payload BYTES [...]\n"
    "\n"
    "Time on air of one LoRa packet (Semtech AN1200.13). Defaults are LoRaWAN's:\n"
    "CR 4/5 (--cr 1), 8 preamble symbols, explicit header, CRC on, low-data-rate\n"
    "optimisation on when a symbol lasts more than 16 ms.\n"
    "  --sf N           spreading factor 6..12\n"
    "  --bw KHZ         bandwidth in kHz, e.g. 125, 250, 500\n"
    "  --payload BYTES  PHYPayload length 0..255 (LoRaWAN: MHDR through MIC)\n"
    "  --cr 1..4        coding rate 4/5..4/8\n"
    "  --preamble N     programmed preamble symbols (6..65535)\n"
    "  --no-crc         no payload CRC (LoRaWAN downlinks)\n"
    "  --implicit-header\n"
    "  --ldro MODE      auto (default), on or off\n"
    "  --region NAME    a region (lorageo region lists them); with --dr instead of --sf/--bw\n"
    "  --dr N           the region's LoRa data rate N; adds \"max_phy_payload\" (M + 5)\n";

static int parse_bw_khz(const char *s, uint32_t *bw_hz) {
  char *end = NULL;
  double khz = strtod(s, &end);
  if (end == s || *end != '\0' || !(khz >= 7.8 && khz <= 1625.0)) return LG_EINVAL;
  *bw_hz = (uint32_t)lround(khz * 1000.0);
  return 0;
}

int lg_cmd_airtime(int argc, char **argv) {
  static const struct option opts[] = {
      {"sf", required_argument, NULL, 's'},
      {"bw", required_argument, NULL, 'b'},
      {"payload", required_argument, NULL, 'p'},
      {"cr", required_argument, NULL, 'c'},
      {"preamble", required_argument, NULL, 'r'},
      {"no-crc", no_argument, NULL, 'n'},
      {"implicit-header", no_argument, NULL, 'i'},
      {"ldro", required_argument, NULL, 'l'},
      {"region", required_argument, NULL, 'g'},
      {"dr", required_argument, NULL, 'd'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct lg_lora_tx tx = lg_lora_tx_lorawan(0, 0);
  long v = 0, payload = -1, dr = -1;
  const struct lg_region *region = NULL;
  int c;
  optind = 1;
  opterr = 0; /* we report bad options ourselves, on one line */
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'h': fputs(usage, stdout); return 0;
    case 's':
      if (lg_cli_parse_long(optarg, 6, 12, &v))
        return lg_cli_fail("airtime", 2, "--sf: expected 6..12, got '%s'", optarg);
      tx.sf = (int)v;
      break;
    case 'b':
      if (parse_bw_khz(optarg, &tx.bw_hz))
        return lg_cli_fail("airtime", 2, "--bw: expected kHz 7.8..1625, got '%s'", optarg);
      break;
    case 'p':
      if (lg_cli_parse_long(optarg, 0, 255, &payload))
        return lg_cli_fail("airtime", 2, "--payload: expected bytes 0..255, got '%s'", optarg);
      break;
    case 'c':
      if (lg_cli_parse_long(optarg, 1, 4, &v))
        return lg_cli_fail("airtime", 2, "--cr: expected 1..4 (4/5..4/8), got '%s'", optarg);
      tx.cr = (int)v;
      break;
    case 'r':
      if (lg_cli_parse_long(optarg, 6, 65535, &v))
        return lg_cli_fail("airtime", 2, "--preamble: expected 6..65535, got '%s'", optarg);
      tx.preamble_symbols = (int)v;
      break;
    case 'n': tx.crc = false; break;
    case 'i': tx.implicit_header = true; break;
    case 'l':
      if (strcmp(optarg, "auto") == 0)
        tx.ldro = LG_LDRO_AUTO;
      else if (strcmp(optarg, "on") == 0)
        tx.ldro = LG_LDRO_ON;
      else if (strcmp(optarg, "off") == 0)
        tx.ldro = LG_LDRO_OFF;
      else
        return lg_cli_fail("airtime", 2, "--ldro: expected auto, on or off, got '%s'", optarg);
      break;
    case 'g':
      if ((region = lg_region_find(optarg)) == NULL) {
        char names[256];
        return lg_cli_fail("airtime", 2, "--region: unknown region '%s': expected one of %s",
                           optarg, lg_region_names(names, sizeof(names)));
      }
      break;
    case 'd':
      if (lg_cli_parse_long(optarg, 0, 15, &dr))
        return lg_cli_fail("airtime", 2, "--dr: expected 0..15, got '%s'", optarg);
      break;
    default: return lg_cli_bad_option("airtime", c, argv);
    }
  }
  if (optind != argc) return lg_cli_fail("airtime", 2, "unexpected argument '%s'", argv[optind]);
  const struct lg_datarate *d = NULL;
  if ((region == NULL) != (dr < 0))
    return lg_cli_fail("airtime", 2, "--region and --dr go together (see --help)");
  if (region) {
    if (tx.sf != 0 || tx.bw_hz != 0)
      return lg_cli_fail("airtime", 2, "--dr replaces --sf and --bw: give one or the other");
    d = lg_region_dr(region, (int)dr);
    if (d == NULL || d->mod != LG_MOD_LORA)
      return lg_cli_fail("airtime", 2, "--dr: DR%ld is not a LoRa data rate of %s", dr,
                         region->name);
    tx.sf = d->sf;
    tx.bw_hz = d->bw_hz;
  }
  if (tx.sf == 0 || tx.bw_hz == 0 || payload < 0)
    return lg_cli_fail("airtime", 2, "--sf, --bw and --payload are required (see --help)");

  struct lg_airtime at;
  if (lg_lora_airtime(&tx, (size_t)payload, &at))
    return lg_cli_fail("airtime", 1, "parameters out of range");
  json_t *o = json_object();
  json_object_set_new(o, "time_on_air_ms", json_real(at.time_on_air_ms));
  json_object_set_new(o, "payload_symbols", json_integer(at.payload_symbols));
  json_object_set_new(o, "symbol_ms", json_real((double)at.symbol_ns / 1e6));
  json_object_set_new(o, "preamble_ms", json_real(at.preamble_ms));
  json_object_set_new(o, "ldro", json_boolean(at.ldro));
  if (d) {
    json_object_set_new(o, "region", json_string(region->name));
    json_object_set_new(o, "dr", json_integer(dr));
    json_object_set_new(o, "sf", json_integer(d->sf));
    json_object_set_new(o, "bw_khz", json_integer(d->bw_hz / 1000));
    /* MHDR + MACPayload (M) + MIC */
    json_object_set_new(o, "max_phy_payload",
                        d->max_mac_payload < 0 ? json_null()
                                               : json_integer(d->max_mac_payload + 5));
  }
  return lg_cli_print_json(stdout, o) ? lg_cli_fail("airtime", 1, "cannot write output") : 0;
}
