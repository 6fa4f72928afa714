/*
 * `lorageo calibrate -i RECORDS [-o FILE] [--alt M] [--tx-power DBM] [--d0 M]`
 *
 * Learns a deployment's corrections from `solve` records that carry `truth`
 * (solve/calibrate.c: gateway timing offsets, the path-loss model, the radio map's
 * points). The radio map, with accuracy scales measured by cross-validation, is written
 * as its own versioned file (--radio-map, by default next to -o FILE as FILE's name with
 * ".radiomap.json"), named in the calibration as "radio_map". Writes
 * {"gateway_offsets_ns", "gateway_stats", "path_loss", "radio_map", "frames_used", ...},
 * the file `lorageo solve --calibration` reads.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "solve/calibrate.h"
#include "util/util.h"

static const char usage[] =
    "usage: lorageo calibrate [-i RECORDS] [-o FILE] [--radio-map FILE] [--alt M]\n"
    "                         [--tx-power DBM] [--d0 M]\n"
    "\n"
    "Learns per-gateway timing offsets, the path-loss model and a radio map (for\n"
    "`solve --method fingerprint`) from solve records with \"truth\" (stdin without -i);\n"
    "writes JSON for `lorageo solve --calibration FILE` (stdout without -o).\n"
    "  --radio-map FILE the radio map's file (default: next to -o, \".radiomap.json\";\n"
    "                   without -o and --radio-map no map is written)\n"
    "  --alt M          device height when truth has no \"alt\" (default 0)\n"
    "  --tx-power DBM   transmit power (EIRP) the path-loss fit assumes (default 14)\n"
    "  --d0 M           reference distance of the model (default 1000)\n";

/* The radio map's file name: --radio-map, or -o's name with ".radiomap.json". */
static void radio_map_path(const char *output, const char *given, char *out, size_t len) {
  if (given) {
    snprintf(out, len, "%s", given);
    return;
  }
  size_t n = strlen(output);
  if (n > 5 && strcmp(output + n - 5, ".json") == 0) n -= 5;
  snprintf(out, len, "%.*s.radiomap.json", (int)n, output);
}

/* Builds, cross-validates and writes the radio map; adds its name (relative to the
 * calibration file's directory when they share it) and figures to `o`. */
static int write_radio_map(struct lg_calibrator *cal, const char *output, const char *given,
                           json_t *o) {
  struct lg_fp_builder *points = lg_calibrator_radio_points(cal);
  if (lg_fp_builder_count(points) < 20) {
    json_object_set_new(o, "radio_map_error",
                        json_string("fewer than 20 records with truth and named RSSI receptions"));
    return 0;
  }
  char path[4096];
  radio_map_path(output, given, path, sizeof(path));
  struct lg_fp_params p = lg_fp_params_default();
  bool measured = lg_fp_cross_validate(points, &p) == 0;
  struct lg_radio_map *m = NULL;
  if (lg_fp_build(points, &p, &m) != 0)
    return lg_cli_fail("calibrate", 1, "out of memory building the radio map");
  int rc = lg_radio_map_save(m, path);
  json_object_set_new(o, "radio_map_points", json_integer((json_int_t)lg_radio_map_points(m)));
  json_object_set_new(o, "radio_map_cells", json_integer((json_int_t)lg_radio_map_cells(m)));
  lg_radio_map_free(m);
  if (rc) return lg_cli_fail("calibrate", 1, "cannot write %s", path);
  /* The calibration names the map relative to its own directory (solve resolves it so):
   * a relative path stays as it is when the calibration is in the working directory or
   * loses the calibration's directory when it shares it; otherwise it is made absolute. */
  const char *slash = output ? strrchr(output, '/') : NULL;
  size_t dir = slash ? (size_t)(slash - output) + 1 : 0;
  char name[6200];
  if (path[0] == '/' || (output && dir == 0))
    snprintf(name, sizeof(name), "%s", path);
  else if (output && strncmp(path, output, dir) == 0)
    snprintf(name, sizeof(name), "%s", path + dir);
  else {
    char cwd[2048];
    if (getcwd(cwd, sizeof(cwd)) == NULL) return lg_cli_fail("calibrate", 1, "getcwd failed");
    snprintf(name, sizeof(name), "%s/%s", cwd, path);
  }
  json_object_set_new(o, "radio_map", json_string(name));
  if (measured) {
    json_t *acc = json_object();
    json_object_set_new(acc, "k68", json_real(p.k68));
    json_object_set_new(acc, "k95", json_real(p.k95));
    json_object_set_new(o, "radio_map_accuracy_scale", acc);
  }
  return 0;
}

int lg_cmd_calibrate(int argc, char **argv) {
  static const struct option opts[] = {{"input", required_argument, NULL, 'i'},
                                       {"output", required_argument, NULL, 'o'},
                                       {"alt", required_argument, NULL, 'a'},
                                       {"tx-power", required_argument, NULL, 't'},
                                       {"d0", required_argument, NULL, 'd'},
                                       {"radio-map", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *input = NULL, *output = NULL, *map_file = NULL;
  double alt = 0, tx_power = 14, d0 = 1000;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":hi:o:", opts, NULL)) != -1) {
    char *end = NULL;
    double v = 0;
    if (c == 'a' || c == 't' || c == 'd') {
      v = strtod(optarg, &end);
      if (end == optarg || *end != '\0' || !isfinite(v) || (c == 'd' && !(v > 0)))
        return lg_cli_fail("calibrate", 2, "--%s: expected a number, got '%s'",
                           c == 'a'   ? "alt"
                           : c == 't' ? "tx-power"
                                      : "d0",
                           optarg);
    }
    switch (c) {
    case 'h': fputs(usage, stdout); return 0;
    case 'i': input = optarg; break;
    case 'o': output = optarg; break;
    case 'a': alt = v; break;
    case 't': tx_power = v; break;
    case 'd': d0 = v; break;
    case 'r': map_file = optarg; break;
    default: return lg_cli_bad_option("calibrate", c, argv);
    }
  }
  if (optind != argc) return lg_cli_fail("calibrate", 2, "unexpected argument '%s'", argv[optind]);
  FILE *in = input ? fopen(input, "r") : stdin;
  if (in == NULL) return lg_cli_fail("calibrate", 1, "cannot open %s", input);

  struct lg_calibrator *cal = lg_calibrator_new(alt, tx_power, d0);
  struct lg_record *r = malloc(sizeof(*r));
  char *line = NULL, why[256];
  size_t cap = 0;
  ssize_t len;
  long line_no = 0, bad = 0, no_truth = 0;
  int rc = 0;
  if (r == NULL || cal == NULL) {
    rc = lg_cli_fail("calibrate", 1, "out of memory");
    goto out;
  }
  while ((len = getline(&line, &cap, in)) != -1) {
    line_no++;
    if (strspn(line, " \t\r\n") >= (size_t)len) continue;
    if (lg_record_parse(line, (size_t)len, r, why, sizeof(why))) {
      fprintf(stderr, "lorageo calibrate: line %ld skipped: %s\n", line_no, why);
      bad++;
      continue;
    }
    if (!r->has_truth) {
      no_truth++;
      continue;
    }
    if (lg_calibrator_add(cal, r)) {
      rc = lg_cli_fail("calibrate", 1, "out of memory");
      goto out;
    }
  }
  if (lg_calibrator_empty(cal)) {
    rc =
        lg_cli_fail("calibrate", 1, "no record with \"truth\" and two timed receptions or an RSSI");
    goto out;
  }
  json_t *o = lg_calibrator_result(cal);
  if ((output || map_file) && (rc = write_radio_map(cal, output, map_file, o)) != 0) {
    json_decref(o);
    goto out;
  }
  json_object_set_new(o, "frames_used", json_integer(lg_calibrator_frames(cal)));
  json_object_set_new(o, "records_without_truth", json_integer(no_truth));
  json_object_set_new(o, "records_rejected", json_integer(bad));
  FILE *out = output ? fopen(output, "w") : stdout;
  if (out == NULL) {
    json_decref(o);
    rc = lg_cli_fail("calibrate", 1, "cannot write %s", output);
    goto out;
  }
  if (lg_cli_print_json(out, o)) rc = lg_cli_fail("calibrate", 1, "cannot write output");
  if (out != stdout) fclose(out);
out:
  free(line);
  free(r);
  lg_calibrator_free(cal);
  if (in != stdin) fclose(in);
  return rc;
}
