/*
 * `lorageo calibrate -i RECORDS [-o FILE] [--alt M] [--tx-power DBM] [--d0 M]`
 *
 * Learns a deployment's corrections from `solve` records that carry `truth`:
 *  - per-gateway timing offsets (cable, LNA and GPS antenna delays): with the device
 *    known, t_i - |x - g_i| / c = t_emit + offset_i. Alternating least squares over all
 *    frames estimates every frame's t_emit and every gateway's offset; offsets are
 *    relative (their mean is zero), since a delay common to all gateways changes no
 *    time difference;
 *  - the log-distance path-loss model (PL0 at d0 and exponent n, with the shadowing
 *    sigma) by linear regression of RSSI on 10 log10(d / d0), the transmit power held;
 *  - a radio map for fingerprinting (geo/fingerprint.c): every record's position and
 *    what each gateway heard there, with accuracy scales measured by cross-validation.
 *    Written as its own versioned file (--radio-map, by default next to -o FILE as
 *    FILE's name with ".radiomap.json"), named in the calibration as "radio_map".
 * Writes {"gateway_offsets_ns", "gateway_stats", "path_loss", "radio_map", "frames_used",
 * ...}, the file `lorageo solve --calibration` reads.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "solve/records.h"
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

struct obs {
  uint32_t frame;
  uint32_t gw;
  double r_ns; /* t_i - d_i / c, relative to the frame's earliest time */
};

struct calib {
  char (*names)[LG_NAME_MAX];
  size_t n_gw, cap_gw;
  struct obs *obs;
  size_t n_obs, cap_obs;
  uint32_t frames;
  struct reading {
    double x, y;
  } * pl; /* 10 log10(d / d0), RSSI */
  size_t n_pl, cap_pl;
  struct lg_fp_builder *fp; /* the radio map's points */
};

static int gw_index(struct calib *c, const char *name) {
  for (size_t i = 0; i < c->n_gw; i++)
    if (strcmp(c->names[i], name) == 0) return (int)i;
  if (c->n_gw == c->cap_gw) {
    size_t cap = c->cap_gw ? 2 * c->cap_gw : 16;
    char(*n)[LG_NAME_MAX] = realloc(c->names, cap * sizeof(*n));
    if (n == NULL) return -1;
    c->names = n;
    c->cap_gw = cap;
  }
  snprintf(c->names[c->n_gw], LG_NAME_MAX, "%s", name);
  return (int)c->n_gw++;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t n = *cap ? 2 * *cap : 1024;
  while (n < need)
    n *= 2;
  void *q = realloc(*p, n * elem);
  if (q == NULL) return LG_ENOMEM;
  *p = q;
  *cap = n;
  return 0;
}

static int add_record(struct calib *c, const struct lg_record *r, double alt_m, double d0_m) {
  struct lg_geodetic truth = r->truth;
  if (truth.alt_m == 0) truth.alt_m = alt_m;
  double dev[3];
  lg_geo_to_ecef(&truth, dev);
  int timed = 0;
  for (size_t i = 0; i < r->n; i++)
    timed += r->rx[i].has_time;
  for (size_t i = 0; i < r->n; i++) {
    const struct lg_geo_rx *x = &r->rx[i];
    struct lg_geodetic g = {x->lat_deg, x->lon_deg, x->alt_m};
    double e[3];
    lg_geo_to_ecef(&g, e);
    double d = sqrt(pow(e[0] - dev[0], 2) + pow(e[1] - dev[1], 2) + pow(e[2] - dev[2], 2));
    if (x->has_time && timed >= 2) {
      int k = gw_index(c, r->gateway[i]);
      if (k < 0 || grow((void **)&c->obs, &c->cap_obs, c->n_obs + 1, sizeof(struct obs)))
        return LG_ENOMEM;
      c->obs[c->n_obs++] = (struct obs){c->frames, (uint32_t)k,
                                        (double)(x->time_ns - r->t_ns) - d / LG_GEO_C_MPS * 1e9};
    }
    if (x->has_rssi && d > 1.0) {
      if (grow((void **)&c->pl, &c->cap_pl, c->n_pl + 1, sizeof(*c->pl))) return LG_ENOMEM;
      c->pl[c->n_pl++] = (struct reading){10.0 * log10(d / d0_m), x->rssi_dbm};
    }
  }
  if (timed >= 2) c->frames++;
  int rc = lg_fp_builder_add(c->fp, &r->truth, r->rx, r->n);
  return rc == LG_ENOMEM ? -1 : 0; /* a record without named RSSI teaches the map nothing */
}

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
static int write_radio_map(struct calib *cal, const char *output, const char *given, json_t *o) {
  if (lg_fp_builder_count(cal->fp) < 20) {
    json_object_set_new(o, "radio_map_error",
                        json_string("fewer than 20 records with truth and named RSSI receptions"));
    return 0;
  }
  char path[4096];
  radio_map_path(output, given, path, sizeof(path));
  struct lg_fp_params p = lg_fp_params_default();
  bool measured = lg_fp_cross_validate(cal->fp, &p) == 0;
  struct lg_radio_map *m = NULL;
  if (lg_fp_build(cal->fp, &p, &m) != 0)
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

/* Alternating least squares for frame emission times and gateway offsets. */
static void solve_offsets(const struct calib *c, double *off, double *resid_sd, size_t *count) {
  double *emit = calloc(c->frames, sizeof(double));
  size_t *fn = calloc(c->frames, sizeof(size_t));
  double *acc = calloc(c->n_gw, sizeof(double));
  if (!emit || !fn || !acc) goto out;
  memset(off, 0, c->n_gw * sizeof(double));
  for (int iter = 0; iter < 50; iter++) {
    memset(emit, 0, c->frames * sizeof(double));
    memset(fn, 0, c->frames * sizeof(size_t));
    for (size_t i = 0; i < c->n_obs; i++) {
      emit[c->obs[i].frame] += c->obs[i].r_ns - off[c->obs[i].gw];
      fn[c->obs[i].frame]++;
    }
    for (uint32_t f = 0; f < c->frames; f++)
      emit[f] = fn[f] ? emit[f] / (double)fn[f] : 0;
    memset(acc, 0, c->n_gw * sizeof(double));
    memset(count, 0, c->n_gw * sizeof(size_t));
    for (size_t i = 0; i < c->n_obs; i++) {
      acc[c->obs[i].gw] += c->obs[i].r_ns - emit[c->obs[i].frame];
      count[c->obs[i].gw]++;
    }
    double mean = 0;
    for (size_t g = 0; g < c->n_gw; g++) {
      off[g] = count[g] ? acc[g] / (double)count[g] : 0;
      mean += off[g];
    }
    mean /= (double)(c->n_gw ? c->n_gw : 1);
    for (size_t g = 0; g < c->n_gw; g++)
      off[g] -= mean;
  }
  memset(resid_sd, 0, c->n_gw * sizeof(double));
  for (size_t i = 0; i < c->n_obs; i++) {
    double e = c->obs[i].r_ns - emit[c->obs[i].frame] - off[c->obs[i].gw];
    resid_sd[c->obs[i].gw] += e * e;
  }
  for (size_t g = 0; g < c->n_gw; g++)
    resid_sd[g] = count[g] > 1 ? sqrt(resid_sd[g] / (double)(count[g] - 1)) : NAN;
out:
  free(emit);
  free(fn);
  free(acc);
}

static json_t *path_loss_json(const struct calib *c, double tx_power, double d0, char *why,
                              size_t why_len) {
  if (c->n_pl < 3) {
    snprintf(why, why_len, "fewer than 3 RSSI readings with truth");
    return NULL;
  }
  double sx = 0, sy = 0, sxx = 0, sxy = 0, n = (double)c->n_pl;
  for (size_t i = 0; i < c->n_pl; i++) {
    sx += c->pl[i].x;
    sy += c->pl[i].y;
    sxx += c->pl[i].x * c->pl[i].x;
    sxy += c->pl[i].x * c->pl[i].y;
  }
  double var = sxx - sx * sx / n;
  if (!(var > 1e-6 * n)) {
    snprintf(why, why_len, "all RSSI readings at one distance: the exponent is not observable");
    return NULL;
  }
  double slope = (sxy - sx * sy / n) / var, icept = (sy - slope * sx) / n;
  double exponent = -slope, pl0 = tx_power - icept, ss = 0;
  for (size_t i = 0; i < c->n_pl; i++) {
    double e = c->pl[i].y - (icept + slope * c->pl[i].x);
    ss += e * e;
  }
  if (!(exponent >= 0.5 && exponent <= 10)) {
    snprintf(why, why_len, "fitted exponent %.2f is not physical (0.5..10)", exponent);
    return NULL;
  }
  json_t *o = json_object();
  json_object_set_new(o, "tx_power_dbm", json_real(tx_power));
  json_object_set_new(o, "pl0_db", json_real(pl0));
  json_object_set_new(o, "d0_m", json_real(d0));
  json_object_set_new(o, "exponent", json_real(exponent));
  json_object_set_new(o, "sigma_db", json_real(sqrt(ss / (n > 2 ? n - 2 : 1))));
  json_object_set_new(o, "readings", json_integer((json_int_t)c->n_pl));
  return o;
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

  struct calib cal = {.fp = lg_fp_builder_new()};
  struct lg_record *r = malloc(sizeof(*r));
  char *line = NULL, why[256];
  size_t cap = 0;
  ssize_t len;
  long line_no = 0, bad = 0, no_truth = 0;
  int rc = 0;
  if (r == NULL || cal.fp == NULL) {
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
    if (add_record(&cal, r, alt, d0)) {
      rc = lg_cli_fail("calibrate", 1, "out of memory");
      goto out;
    }
  }
  if (cal.frames == 0 && cal.n_pl == 0 && lg_fp_builder_count(cal.fp) == 0) {
    rc =
        lg_cli_fail("calibrate", 1, "no record with \"truth\" and two timed receptions or an RSSI");
    goto out;
  }
  double *off = calloc(cal.n_gw + 1, sizeof(double)), *sd = calloc(cal.n_gw + 1, sizeof(double));
  size_t *count = calloc(cal.n_gw + 1, sizeof(size_t));
  json_t *o = json_object(), *offs = json_object(), *stats = json_object();
  if (off && sd && count) solve_offsets(&cal, off, sd, count);
  for (size_t g = 0; off && sd && count && g < cal.n_gw; g++) {
    json_object_set_new(offs, cal.names[g], json_real(round(off[g] * 10) / 10));
    json_t *st = json_object();
    json_object_set_new(st, "receptions", json_integer((json_int_t)count[g]));
    json_object_set_new(st, "residual_ns",
                        isfinite(sd[g]) ? json_real(round(sd[g] * 10) / 10) : json_null());
    json_object_set_new(stats, cal.names[g], st);
  }
  free(off);
  free(sd);
  free(count);
  json_object_set_new(o, "gateway_offsets_ns", offs);
  json_object_set_new(o, "gateway_stats", stats);
  json_t *pl = path_loss_json(&cal, tx_power, d0, why, sizeof(why));
  if (pl)
    json_object_set_new(o, "path_loss", pl);
  else
    json_object_set_new(o, "path_loss_error", json_string(why));
  if ((output || map_file) && (rc = write_radio_map(&cal, output, map_file, o)) != 0) {
    json_decref(o);
    goto out;
  }
  json_object_set_new(o, "frames_used", json_integer(cal.frames));
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
  free(cal.names);
  free(cal.obs);
  free(cal.pl);
  lg_fp_builder_free(cal.fp);
  if (in != stdin) fclose(in);
  return rc;
}
