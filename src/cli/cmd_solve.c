/*
 * `lorageo solve [-i FILE] [--method M] [--per-device] [--track] ...`: locates frames
 * offline, one JSON record per line in (stdin without -i), one JSON line out per record.
 * This file reads the command line and the calibration; solve/stream.c does the work
 * (lg_solve_run).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "geo/geo.h"
#include "solve/solve.h"
#include "util/util.h"

static const char usage[] =
    "usage: lorageo solve [-i FILE] [--method M] [options]\n"
    "\n"
    "Locates frames from their receptions. Input: JSON lines\n"
    "  {\"id\", \"device\"?, \"rx\": [{\"gateway\", \"lat\", \"lon\", \"alt\"?, \"time_ns\"?, "
    "\"rssi\"?,\n"
    "   \"snr\"?, \"sigma_ns\"?}], \"truth\"?: {\"lat\", \"lon\"}}\n"
    "Output: one JSON line per record, {\"id\", \"lat\", \"lon\", \"method\", \"accuracy_m\", "
    "\"gdop\",\n"
    "\"gateways_used\", ...} or {\"id\", \"error\"}; with truth, a final {\"summary\": ...}.\n"
    "  -i, --input FILE     read FILE instead of stdin\n"
    "  --method M           auto (default), nls, lls, grid, rssi, hybrid, fingerprint,\n"
    "                       knn (both need a radio map: --calibration), centroid\n"
    "  --per-device         aggregate each static device's frames (GESD + sample mean)\n"
    "  --alpha A            GESD significance for --per-device (default 0.05)\n"
    "  --no-outlier-test    --per-device: average every TDOA sample (no GESD)\n"
    "  --mode M             --per-device: static (default), mobile (Kalman track) or auto\n"
    "  --track              Kalman-filter each device's fixes (moving devices)\n"
    "  --alt M              device height above the ellipsoid, m (default 0)\n"
    "  --3d                 solve the height too (needs 5+ gateways)\n"
    "  --sigma-ns N         timing noise of a reception, ns (default 50)\n"
    "  --min-gateways N     timed receptions for TDOA under auto (default 3)\n"
    "  --no-robust          keep receptions that look like reflections\n"
    "  --nlos-share S       share of receptions reflected (0..0.2; default: learned\n"
    "                       from the input's residuals, 0 turns the model off)\n"
    "  --nlos-delay-ns D    their mean delay, ns (default: learned)\n"
    "  --grid-step M        grid method step, m (default 10)\n"
    "  --calibration FILE   gateway timing offsets and path-loss model (lorageo calibrate)\n"
    "  --threads N          worker threads (default: the number of cores)\n"
    "  --tx-power DBM --pl0 DB --d0 M --exponent N --shadowing DB   path-loss model\n";

/* The command line: where the records and the calibration come from, and the run. */
struct solve_args {
  const char *input;       /* -i (stdin without) */
  const char *calibration; /* --calibration */
  struct lg_solve_args run;
};

/* ---- command line ---------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, struct solve_args *a) {
  enum {
    O_METHOD = 256,
    O_PER_DEVICE,
    O_ALPHA,
    O_TRACK,
    O_ALT,
    O_3D,
    O_SIGMA,
    O_MIN_GW,
    O_NO_ROBUST,
    O_NLOS_SHARE,
    O_NLOS_DELAY,
    O_NO_OUTLIER,
    O_GRID,
    O_CAL,
    O_TXP,
    O_PL0,
    O_D0,
    O_EXP,
    O_SHADOW,
    O_THREADS,
    O_MODE
  };
  static const struct option opts[] = {
      {"input", required_argument, NULL, 'i'},
      {"method", required_argument, NULL, O_METHOD},
      {"per-device", no_argument, NULL, O_PER_DEVICE},
      {"alpha", required_argument, NULL, O_ALPHA},
      {"track", no_argument, NULL, O_TRACK},
      {"alt", required_argument, NULL, O_ALT},
      {"3d", no_argument, NULL, O_3D},
      {"sigma-ns", required_argument, NULL, O_SIGMA},
      {"min-gateways", required_argument, NULL, O_MIN_GW},
      {"no-robust", no_argument, NULL, O_NO_ROBUST},
      {"nlos-share", required_argument, NULL, O_NLOS_SHARE},
      {"nlos-delay-ns", required_argument, NULL, O_NLOS_DELAY},
      {"no-outlier-test", no_argument, NULL, O_NO_OUTLIER},
      {"grid-step", required_argument, NULL, O_GRID},
      {"calibration", required_argument, NULL, O_CAL},
      {"threads", required_argument, NULL, O_THREADS},
      {"mode", required_argument, NULL, O_MODE},
      {"tx-power", required_argument, NULL, O_TXP},
      {"pl0", required_argument, NULL, O_PL0},
      {"d0", required_argument, NULL, O_D0},
      {"exponent", required_argument, NULL, O_EXP},
      {"shadowing", required_argument, NULL, O_SHADOW},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct {
    int opt;
    double *dst;
    double lo, hi;
    const char *name;
  } nums[] = {
      {O_ALPHA, &a->run.alpha, 1e-6, 0.5, "--alpha"},
      {O_ALT, &a->run.opts.device_alt_m, -1000, 20000, "--alt"},
      {O_SIGMA, &a->run.opts.sigma_ns, 0.001, 1e7, "--sigma-ns"},
      {O_NLOS_SHARE, &a->run.opts.nlos_share, 0, 0.2, "--nlos-share"},
      {O_NLOS_DELAY, &a->run.opts.nlos_delay_ns, 1, 1e5, "--nlos-delay-ns"},
      {O_GRID, &a->run.opts.grid_step_m, 0.1, 10000, "--grid-step"},
      {O_TXP, &a->run.opts.pathloss.tx_power_dbm, -30, 40, "--tx-power"},
      {O_PL0, &a->run.opts.pathloss.pl0_db, 0, 250, "--pl0"},
      {O_D0, &a->run.opts.pathloss.d0_m, 0.01, 1e6, "--d0"},
      {O_EXP, &a->run.opts.pathloss.exponent, 0.5, 10, "--exponent"},
      {O_SHADOW, &a->run.opts.pathloss.sigma_db, 0, 40, "--shadowing"},
  };
  long v;
  int c;
  bool no_outlier = false, nlos_share = false, nlos_delay = false;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":hi:", opts, NULL)) != -1) {
    bool handled = false;
    for (size_t k = 0; k < LG_ARRAY_LEN(nums); k++) {
      if (c != nums[k].opt) continue;
      char *end = NULL;
      double x = strtod(optarg, &end);
      if (end == optarg || *end != '\0' || !(x >= nums[k].lo && x <= nums[k].hi))
        return lg_cli_fail("solve", 2, "%s: expected a number in [%g, %g], got '%s'", nums[k].name,
                           nums[k].lo, nums[k].hi, optarg);
      *nums[k].dst = x;
      handled = true;
      if (c == O_NLOS_SHARE) nlos_share = true;
      if (c == O_NLOS_DELAY) nlos_delay = true;
      if (c == O_SIGMA) {
        a->run.sigma_given = true;
        a->run.opts.sigma_prior_dof = 1e9; /* the user knows it */
      }
    }
    if (handled) continue;
    switch (c) {
    case 'h': fputs(usage, stdout); return -1;
    case 'i': a->input = optarg; break;
    case O_METHOD:
      if (lg_geo_method_parse(optarg, &a->run.opts.method))
        return lg_cli_fail("solve", 2,
                           "--method: expected auto, nls, lls, grid, rssi, hybrid, fingerprint, "
                           "knn or centroid, got '%s'",
                           optarg);
      break;
    case O_PER_DEVICE: a->run.per_device = true; break;
    case O_MODE:
      if (strcmp(optarg, "static") == 0)
        a->run.mode = LG_MODE_STATIC;
      else if (strcmp(optarg, "mobile") == 0)
        a->run.mode = LG_MODE_MOBILE;
      else if (strcmp(optarg, "auto") == 0)
        a->run.mode = LG_MODE_AUTO;
      else
        return lg_cli_fail("solve", 2, "--mode: expected static, mobile or auto, got '%s'", optarg);
      break;
    case O_TRACK: a->run.track = true; break;
    case O_3D: a->run.opts.solve_altitude = true; break;
    case O_NO_ROBUST: a->run.opts.robust = false; break;
    case O_SIGMA: break; /* parsed above */
    case O_NO_OUTLIER: no_outlier = true; break;
    case O_CAL: a->calibration = optarg; break;
    case O_MIN_GW:
      if (lg_cli_parse_long(optarg, 2, LG_GEO_MAX_RX, &v))
        return lg_cli_fail("solve", 2, "--min-gateways: expected 2..%d, got '%s'", LG_GEO_MAX_RX,
                           optarg);
      a->run.opts.min_gateways = (int)v;
      break;
    case O_THREADS:
      if (lg_cli_parse_long(optarg, 1, 64, &a->run.threads))
        return lg_cli_fail("solve", 2, "--threads: expected 1..64, got '%s'", optarg);
      break;
    default: return lg_cli_bad_option("solve", c, argv);
    }
  }
  if (optind != argc) return lg_cli_fail("solve", 2, "unexpected argument '%s'", argv[optind]);
  if (no_outlier) a->run.alpha = 0; /* aggregate(): alpha 0 skips the GESD test */
  if (nlos_delay && !nlos_share)
    return lg_cli_fail("solve", 2, "--nlos-delay-ns needs --nlos-share");
  if (nlos_share && a->run.opts.nlos_share > 0 && !nlos_delay)
    return lg_cli_fail("solve", 2, "--nlos-share above 0 needs --nlos-delay-ns");
  a->run.nlos_given = nlos_share;
  if (a->run.per_device && a->run.track)
    return lg_cli_fail("solve", 2, "--per-device and --track exclude each other");
  return 0;
}

int lg_cmd_solve(int argc, char **argv) {
  struct solve_args a = {.run = {.alpha = 0.05, .opts = lg_geo_opts_default()}};
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  a.run.threads = cores > 0 ? (cores > 64 ? 64 : cores) : 1;
  int rc = parse_args(argc, argv, &a);
  if (rc) return rc < 0 ? 0 : rc;
  char why[256];
  if (a.calibration) {
    a.run.cal = malloc(sizeof(*a.run.cal));
    if (a.run.cal == NULL) return lg_cli_fail("solve", 1, "out of memory");
    if (lg_calibration_load(a.calibration, a.run.cal, why, sizeof(why))) {
      lg_calibration_close(a.run.cal);
      free(a.run.cal);
      return lg_cli_fail("solve", 1, "--calibration: %s", why);
    }
    if (a.run.cal->has_path_loss) a.run.opts.pathloss = a.run.cal->path_loss;
    a.run.opts.radio_map = a.run.cal->radio_map;
  }
  if ((a.run.opts.method == LG_GEO_FINGERPRINT || a.run.opts.method == LG_GEO_KNN) &&
      a.run.opts.radio_map == NULL) {
    lg_calibration_close(a.run.cal);
    free(a.run.cal);
    return lg_cli_fail("solve", 2,
                       "--method %s needs a radio map: --calibration FILE written by `lorageo "
                       "calibrate` from records with RSSI and truth",
                       lg_geo_method_name(a.run.opts.method));
  }
  FILE *in = stdin;
  if (a.input && (in = fopen(a.input, "r")) == NULL) {
    lg_calibration_close(a.run.cal);
    free(a.run.cal);
    return lg_cli_fail("solve", 1, "cannot open %s", a.input);
  }
  rc = lg_solve_run(&a.run, in, stdout);
  if (in != stdin) fclose(in);
  lg_calibration_close(a.run.cal);
  free(a.run.cal);
  if (rc == LG_ENOMEM) return lg_cli_fail("solve", 1, "out of memory");
  return rc ? lg_cli_fail("solve", 1, "cannot write output") : 0;
}
