/*
 * `lorageo plan --target-m D --sigma-ns S [--confidence P] [--sf N --bw KHZ
 *               --payload BYTES] [--duty-cycle F] [--period-s T]`
 *
 * How many frames a static device must send, and how long that takes, for the mean of
 * its TDOA series to be within D metres with probability P (thesis §5.6-5.7):
 *   n = (z sigma / t_th)^2, t_th = D / c, z the two-sided normal quantile (eq. 5.6),
 *   each frame then costs its time on air / duty cycle of wall time (eq. 5.11), or the
 *   application's period when that is longer.
 * sigma is the standard deviation of one TDOA series, as the thesis measured it.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "geo/geo.h"
#include "lora/lora.h"

static const char usage[] =
    "usage: lorageo plan --target-m D --sigma-ns S [--confidence P] [--sf N] [--bw KHZ]\n"
    "                    [--payload BYTES] [--ldro auto|on|off] [--duty-cycle F] [--period-s T]\n"
    "\n"
    "Frames a static device must send so that the mean of each TDOA series is within D\n"
    "metres with probability P (thesis eq. 5.6), and the time that takes (eq. 5.11).\n"
    "  --target-m D      allowed error, m\n"
    "  --sigma-ns S      standard deviation of one TDOA series, ns\n"
    "  --confidence P    default 0.95\n"
    "  --sf N --bw KHZ --payload BYTES   the uplink (default SF7, 125 kHz, 14 bytes)\n"
    "  --ldro MODE       low-data-rate optimisation (the thesis' example forces it on)\n"
    "  --duty-cycle F    of the sub-band (default 0.01, EU868 g1)\n"
    "  --period-s T      the application's uplink period, if longer than the duty cycle allows\n";

int lg_cmd_plan(int argc, char **argv) {
  static const struct option opts[] = {{"target-m", required_argument, NULL, 't'},
                                       {"sigma-ns", required_argument, NULL, 's'},
                                       {"confidence", required_argument, NULL, 'c'},
                                       {"sf", required_argument, NULL, 'f'},
                                       {"bw", required_argument, NULL, 'b'},
                                       {"payload", required_argument, NULL, 'p'},
                                       {"duty-cycle", required_argument, NULL, 'd'},
                                       {"period-s", required_argument, NULL, 'r'},
                                       {"ldro", required_argument, NULL, 'l'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  double target = NAN, sigma = NAN, conf = 0.95, bw_khz = 125, dc = 0.01, period = 0;
  long sf = 7, payload = 14;
  enum lg_ldro ldro = LG_LDRO_AUTO;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    char *end = NULL;
    double v = 0;
    if (c == 't' || c == 's' || c == 'c' || c == 'b' || c == 'd' || c == 'r') {
      v = strtod(optarg, &end);
      if (end == optarg || *end != '\0' || !isfinite(v))
        return lg_cli_fail("plan", 2, "%s: expected a number, got '%s'", argv[optind - 1], optarg);
    }
    switch (c) {
    case 'h': fputs(usage, stdout); return 0;
    case 't': target = v; break;
    case 's': sigma = v; break;
    case 'c': conf = v; break;
    case 'b': bw_khz = v; break;
    case 'd': dc = v; break;
    case 'r': period = v; break;
    case 'l':
      if (strcmp(optarg, "auto") == 0)
        ldro = LG_LDRO_AUTO;
      else if (strcmp(optarg, "on") == 0)
        ldro = LG_LDRO_ON;
      else if (strcmp(optarg, "off") == 0)
        ldro = LG_LDRO_OFF;
      else
        return lg_cli_fail("plan", 2, "--ldro: expected auto, on or off, got '%s'", optarg);
      break;
    case 'f':
      if (lg_cli_parse_long(optarg, 6, 12, &sf))
        return lg_cli_fail("plan", 2, "--sf: expected 6..12, got '%s'", optarg);
      break;
    case 'p':
      if (lg_cli_parse_long(optarg, 0, 255, &payload))
        return lg_cli_fail("plan", 2, "--payload: expected 0..255, got '%s'", optarg);
      break;
    default: return lg_cli_bad_option("plan", c, argv);
    }
  }
  if (optind != argc) return lg_cli_fail("plan", 2, "unexpected argument '%s'", argv[optind]);
  if (!(target > 0) || !(sigma > 0))
    return lg_cli_fail("plan", 2, "--target-m and --sigma-ns (both > 0) are required");
  if (!(conf > 0 && conf < 1)) return lg_cli_fail("plan", 2, "--confidence: expected 0 < P < 1");
  if (!(dc > 0 && dc <= 1)) return lg_cli_fail("plan", 2, "--duty-cycle: expected 0 < F <= 1");
  if (!(period >= 0)) return lg_cli_fail("plan", 2, "--period-s: expected >= 0");
  struct lg_lora_tx tx = lg_lora_tx_lorawan((int)sf, (uint32_t)lround(bw_khz * 1000));
  tx.ldro = ldro;
  struct lg_airtime at;
  if (lg_lora_airtime(&tx, (size_t)payload, &at))
    return lg_cli_fail("plan", 2, "--bw: unusable bandwidth");

  double t_th_ns = target / LG_GEO_C_MPS * 1e9;
  double n = ceil(lg_plan_samples(sigma, t_th_ns, conf));
  double per_frame_s = fmax(at.time_on_air_ms / 1e3 / dc, period);
  json_t *o = json_object();
  json_object_set_new(o, "samples", json_integer((json_int_t)n));
  json_object_set_new(o, "tolerance_ns", json_real(t_th_ns));
  json_object_set_new(o, "time_on_air_ms", json_real(at.time_on_air_ms));
  json_object_set_new(o, "seconds_per_frame", json_real(per_frame_s));
  json_object_set_new(o, "time_s", json_real(n * per_frame_s));
  return lg_cli_print_json(stdout, o) ? lg_cli_fail("plan", 1, "cannot write output") : 0;
}
