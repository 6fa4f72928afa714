/*
 * `lorageo solve [-i FILE] [--method M] [--per-device] [--track] ...`
 *
 * Locates frames offline: one JSON record per line in (stdin without -i), one JSON line
 * out per record — a fix or {"id", "error"}; a bad record never stops the rest. With
 * `truth` in the records a last line {"summary": ...} gives the thesis' statistics
 * (mean, median and 90th-percentile error, MALE).
 *
 * Records are independent, so they are located by a pool of worker threads in batches
 * of lines; the main thread reads and writes, batches leave in input order. Modes that
 * need a device's frames in order (`--per-device`, `--track`) run in the main thread.
 *
 * Without --sigma-ns (and records without their own sigma_ns) the timing noise is not
 * known, and a wrong guess either drops good receptions as reflections or states an
 * accuracy the fixes do not have. So the first PILOT_LINES records are solved once to
 * measure it (lg_geo_noise_factor: the median of the fixes' normalised chi-square),
 * and every record, those included, is then located with the measured sigma. The
 * summary reports it as "timing_sigma_ns".
 */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/records.h"
#include "cli/solve_devices.h"
#include "geo/geo.h"
#include "util/outbuf.h"
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
    "  --grid-step M        grid method step, m (default 10)\n"
    "  --calibration FILE   gateway timing offsets and path-loss model (lorageo calibrate)\n"
    "  --threads N          worker threads (default: the number of cores)\n"
    "  --tx-power DBM --pl0 DB --d0 M --exponent N --shadowing DB   path-loss model\n";

#define BATCH_LINES 512
#define NBATCH      16
#define PILOT_LINES 1000

/* Lines from the pilot's buffer first, then from the input. */
struct lines {
  FILE *pilot; /* NULL once drained */
  FILE *in;
};

static ssize_t next_line(struct lines *src, char **line, size_t *cap) {
  if (src->pilot) {
    ssize_t n = getline(line, cap, src->pilot);
    if (n != -1) return n;
    fclose(src->pilot);
    src->pilot = NULL;
  }
  return getline(line, cap, src->in);
}

struct solve_args {
  const char *input;
  bool sigma_given;       /* --sigma-ns: the noise is known */
  double timing_sigma_ns; /* measured by the pilot (0: not measured) */
  const char *calibration;
  bool per_device, track;
  enum lg_device_mode mode;
  double alpha;
  long threads;
  struct lg_geo_opts opts;
  struct lg_calibration *cal; /* NULL without --calibration */
};

/* ---- one record ----------------------------------------------------------------- */

struct worker {
  struct lg_geo_solver *solver;
  struct lg_record rec;
};

/* Locates one line; appends its output line. Returns 1 for a fix, 0 otherwise. */
static int solve_line(const struct solve_args *a, struct worker *w, const char *line, size_t len,
                      long line_no, struct lg_outbuf *out, struct lg_errors *errs,
                      struct lg_geo_fix *fix_out) {
  char why[256];
  struct lg_record *r = &w->rec;
  if (lg_record_parse(line, len, r, why, sizeof(why))) {
    lg_solve_error_line(out, r, line_no, why);
    return 0;
  }
  if (a->cal) lg_record_calibrate(a->cal, r);
  struct lg_geo_fix fix;
  if (lg_geo_solve(w->solver, r->rx, r->n, &a->opts, &fix, why, sizeof(why)) != 0) {
    lg_solve_error_line(out, r, line_no, why);
    return 0;
  }
  if (r->has_id)
    lg_out_printf(out, "{\"id\":\"%s\",", r->id);
  else
    lg_out_printf(out, "{\"id\":null,");
  lg_solve_fix_fields(out, &fix, (const char(*)[LG_NAME_MAX])r->gateway, r->n);
  if (r->has_truth) {
    double e = lg_geo_distance_m(fix.lat_deg, fix.lon_deg, r->truth.lat_deg, r->truth.lon_deg);
    lg_errors_add(errs, e,
                  lg_geo_haversine_m(fix.lat_deg, fix.lon_deg, r->truth.lat_deg, r->truth.lon_deg));
    lg_out_printf(out, ",\"error_m\":%.3f", e);
  }
  if (fix_out)
    *fix_out = fix; /* the caller closes the line (--track adds keys) */
  else
    lg_out_printf(out, "}\n");
  return 1;
}

/* ---- batches and workers ---------------------------------------------------------- */

enum { B_FREE, B_READY, B_WORKING, B_DONE };

struct batch {
  int state;
  long seq, first_line;
  char *text;
  size_t len, cap;
  size_t offs[BATCH_LINES + 1];
  size_t nlines;
  struct lg_outbuf out;
  struct lg_errors errs;
  long records, fixes;
};

struct pool {
  const struct solve_args *args;
  pthread_mutex_t mu;
  pthread_cond_t work, done;
  struct batch b[NBATCH];
  bool closing;
};

static bool blank(const char *s, size_t len) {
  return strspn(s, " \t\r\n") >= len;
}

static void run_batch(const struct solve_args *a, struct worker *w, struct batch *b) {
  b->out.len = 0;
  b->errs.n = 0;
  b->errs.male_sum = 0;
  b->records = b->fixes = 0;
  for (size_t i = 0; i < b->nlines; i++) {
    const char *line = b->text + b->offs[i];
    size_t len = b->offs[i + 1] - b->offs[i];
    if (blank(line, len)) continue;
    b->records++;
    b->fixes += solve_line(a, w, line, len, b->first_line + (long)i, &b->out, &b->errs, NULL);
  }
}

static void *worker_main(void *arg) {
  struct pool *p = arg;
  struct worker *w = calloc(1, sizeof(*w));
  if (w) w->solver = lg_geo_solver_new();
  pthread_mutex_lock(&p->mu);
  for (;;) {
    struct batch *next = NULL;
    for (int i = 0; i < NBATCH; i++)
      if (p->b[i].state == B_READY && (next == NULL || p->b[i].seq < next->seq)) next = &p->b[i];
    if (next == NULL) {
      if (p->closing) break;
      pthread_cond_wait(&p->work, &p->mu);
      continue;
    }
    next->state = B_WORKING;
    pthread_mutex_unlock(&p->mu);
    if (w && w->solver) {
      run_batch(p->args, w, next);
    } else {
      next->out.len = 0;
      lg_out_printf(&next->out, "{\"id\":null,\"line\":%ld,\"error\":\"out of memory\"}\n",
                    next->first_line);
    }
    pthread_mutex_lock(&p->mu);
    next->state = B_DONE;
    pthread_cond_broadcast(&p->done);
  }
  pthread_mutex_unlock(&p->mu);
  if (w) lg_geo_solver_free(w->solver);
  free(w);
  return NULL;
}

/* Reads up to BATCH_LINES lines into b; returns the number read (0 at EOF). */
static size_t read_batch(struct lines *in, struct batch *b, long *line_no, char **line,
                         size_t *line_cap) {
  b->len = 0;
  b->nlines = 0;
  b->first_line = *line_no + 1;
  ssize_t n;
  while (b->nlines < BATCH_LINES && (n = next_line(in, line, line_cap)) != -1) {
    if (b->len + (size_t)n > b->cap) {
      size_t cap = b->cap ? b->cap : 65536;
      while (cap < b->len + (size_t)n)
        cap *= 2;
      char *t = realloc(b->text, cap);
      if (t == NULL) break;
      b->text = t;
      b->cap = cap;
    }
    memcpy(b->text + b->len, *line, (size_t)n);
    b->offs[b->nlines++] = b->len;
    b->len += (size_t)n;
    (*line_no)++;
  }
  b->offs[b->nlines] = b->len;
  return b->nlines;
}

static int write_out(struct lg_outbuf *o) {
  if (o->failed) return -1;
  if (o->len && fwrite(o->p, 1, o->len, stdout) != o->len) return -1;
  o->len = 0;
  return 0;
}

/* The threaded path: every record on its own. */
static int solve_parallel(const struct solve_args *a, struct lines *in, struct lg_errors *errs,
                          long *records, long *fixes) {
  static struct pool p;
  memset(&p, 0, sizeof(p));
  p.args = a;
  pthread_mutex_init(&p.mu, NULL);
  pthread_cond_init(&p.work, NULL);
  pthread_cond_init(&p.done, NULL);
  pthread_t tid[64];
  long nt = a->threads;
  for (long i = 0; i < nt; i++)
    if (pthread_create(&tid[i], NULL, worker_main, &p) != 0) nt = i;
  if (nt == 0) return -1;
  char *line = NULL;
  size_t line_cap = 0;
  long line_no = 0, seq_read = 0, seq_write = 0;
  bool eof = false;
  int rc = 0;
  pthread_mutex_lock(&p.mu);
  while (!eof || seq_write < seq_read) {
    /* Write finished batches in order. */
    struct batch *w = &p.b[seq_write % NBATCH];
    if (seq_write < seq_read && w->state == B_DONE) {
      pthread_mutex_unlock(&p.mu);
      if (write_out(&w->out)) rc = -1;
      lg_errors_merge(errs, &w->errs);
      *records += w->records;
      *fixes += w->fixes;
      pthread_mutex_lock(&p.mu);
      w->state = B_FREE;
      seq_write++;
      continue;
    }
    /* Fill the next free slot. */
    struct batch *r = &p.b[seq_read % NBATCH];
    if (!eof && r->state == B_FREE && seq_read - seq_write < NBATCH) {
      pthread_mutex_unlock(&p.mu);
      size_t n = read_batch(in, r, &line_no, &line, &line_cap);
      pthread_mutex_lock(&p.mu);
      if (n == 0) {
        eof = true;
        continue;
      }
      r->seq = seq_read++;
      r->state = B_READY;
      pthread_cond_signal(&p.work);
      continue;
    }
    pthread_cond_wait(&p.done, &p.mu);
  }
  p.closing = true;
  pthread_cond_broadcast(&p.work);
  pthread_mutex_unlock(&p.mu);
  for (long i = 0; i < nt; i++)
    pthread_join(tid[i], NULL);
  for (int i = 0; i < NBATCH; i++) {
    free(p.b[i].text);
    lg_out_free(&p.b[i].out);
    free(p.b[i].errs.v);
  }
  free(line);
  return rc;
}

/* ---- in-order modes: --per-device, --track ------------------------------------------ */

struct track_entry {
  char device[LG_NAME_MAX];
  struct lg_track track;
  struct lg_enu_frame frame;
};

static void add_track(struct track_entry **tracks, size_t *n, const struct lg_record *r,
                      const struct lg_geo_fix *fix, struct lg_outbuf *out) {
  if (!r->has_device || r->t_ns == 0) return;
  struct track_entry *e = NULL;
  for (size_t i = 0; i < *n && e == NULL; i++)
    if (strcmp((*tracks)[i].device, r->device) == 0) e = &(*tracks)[i];
  if (e == NULL) {
    struct track_entry *t = realloc(*tracks, (*n + 1) * sizeof(*t));
    if (t == NULL) return;
    *tracks = t;
    e = &t[(*n)++];
    snprintf(e->device, LG_NAME_MAX, "%s", r->device);
    lg_track_init(&e->track, 1.0);
    struct lg_geodetic origin = {fix->lat_deg, fix->lon_deg, fix->alt_m};
    lg_enu_init(&e->frame, &origin);
  }
  struct lg_geodetic g = {fix->lat_deg, fix->lon_deg, fix->alt_m};
  double enu[3];
  lg_enu_from_geodetic(&e->frame, &g, enu);
  if (lg_track_update(&e->track, r->t_ns, enu[0], enu[1], fix->cov_en) != 0) {
    lg_out_printf(out, ",\"track_error\":\"frame older than the track, or no covariance\"");
    return;
  }
  double x[3] = {e->track.x[0], e->track.x[1], enu[2]};
  lg_enu_to_geodetic(&e->frame, x, &g);
  lg_out_printf(
      out, ",\"track_lat\":%.9f,\"track_lon\":%.9f,\"track_accuracy_m\":%.3f,\"speed_mps\":%.3f",
      g.lat_deg, g.lon_deg, sqrt(e->track.p[0][0] + e->track.p[1][1]),
      hypot(e->track.x[2], e->track.x[3]));
}

static int solve_in_order(const struct solve_args *a, struct lines *in, struct lg_errors *errs,
                          long *records, long *fixes) {
  struct worker *w = calloc(1, sizeof(*w));
  struct lg_devices *devices = a->per_device ? lg_devices_new() : NULL;
  struct lg_outbuf out = {0};
  struct track_entry *tracks = NULL;
  size_t ntracks = 0;
  char *line = NULL, why[256];
  size_t cap = 0;
  ssize_t len;
  long line_no = 0;
  int rc = -1;
  if (w == NULL || (w->solver = lg_geo_solver_new()) == NULL || (a->per_device && !devices))
    goto out;
  while ((len = next_line(in, &line, &cap)) != -1) {
    line_no++;
    if (blank(line, (size_t)len)) continue;
    (*records)++;
    if (devices) {
      if (lg_record_parse(line, (size_t)len, &w->rec, why, sizeof(why)) == 0) {
        if (a->cal) lg_record_calibrate(a->cal, &w->rec);
        if (lg_devices_add(devices, &w->rec, why, sizeof(why)) == 0) continue;
      }
      lg_solve_error_line(&out, &w->rec, line_no, why);
    } else {
      struct lg_geo_fix fix;
      if (solve_line(a, w, line, (size_t)len, line_no, &out, errs, &fix)) {
        (*fixes)++;
        add_track(&tracks, &ntracks, &w->rec, &fix, &out);
        lg_out_printf(&out, "}\n");
      }
    }
    if (out.len > 65536 && write_out(&out)) goto out;
  }
  if (devices) {
    *fixes = lg_devices_solve(devices, w->solver, &a->opts, a->alpha, a->mode, &out, errs);
    *records = (long)lg_devices_count(devices);
  }
  rc = write_out(&out);
out:
  lg_out_free(&out);
  free(line);
  free(tracks);
  lg_devices_free(devices);
  if (w) lg_geo_solver_free(w->solver);
  free(w);
  return rc;
}

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
      {O_ALPHA, &a->alpha, 1e-6, 0.5, "--alpha"},
      {O_ALT, &a->opts.device_alt_m, -1000, 20000, "--alt"},
      {O_SIGMA, &a->opts.sigma_ns, 0.001, 1e7, "--sigma-ns"},
      {O_GRID, &a->opts.grid_step_m, 0.1, 10000, "--grid-step"},
      {O_TXP, &a->opts.pathloss.tx_power_dbm, -30, 40, "--tx-power"},
      {O_PL0, &a->opts.pathloss.pl0_db, 0, 250, "--pl0"},
      {O_D0, &a->opts.pathloss.d0_m, 0.01, 1e6, "--d0"},
      {O_EXP, &a->opts.pathloss.exponent, 0.5, 10, "--exponent"},
      {O_SHADOW, &a->opts.pathloss.sigma_db, 0, 40, "--shadowing"},
  };
  long v;
  int c;
  bool no_outlier = false;
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
      if (c == O_SIGMA) {
        a->sigma_given = true;
        a->opts.sigma_prior_dof = 1e9; /* the user knows it */
      }
    }
    if (handled) continue;
    switch (c) {
    case 'h': fputs(usage, stdout); return -1;
    case 'i': a->input = optarg; break;
    case O_METHOD:
      if (lg_geo_method_parse(optarg, &a->opts.method))
        return lg_cli_fail("solve", 2,
                           "--method: expected auto, nls, lls, grid, rssi, hybrid, fingerprint, "
                           "knn or centroid, got '%s'",
                           optarg);
      break;
    case O_PER_DEVICE: a->per_device = true; break;
    case O_MODE:
      if (strcmp(optarg, "static") == 0)
        a->mode = LG_MODE_STATIC;
      else if (strcmp(optarg, "mobile") == 0)
        a->mode = LG_MODE_MOBILE;
      else if (strcmp(optarg, "auto") == 0)
        a->mode = LG_MODE_AUTO;
      else
        return lg_cli_fail("solve", 2, "--mode: expected static, mobile or auto, got '%s'", optarg);
      break;
    case O_TRACK: a->track = true; break;
    case O_3D: a->opts.solve_altitude = true; break;
    case O_NO_ROBUST: a->opts.robust = false; break;
    case O_SIGMA: break; /* parsed above */
    case O_NO_OUTLIER: no_outlier = true; break;
    case O_CAL: a->calibration = optarg; break;
    case O_MIN_GW:
      if (lg_cli_parse_long(optarg, 2, LG_GEO_MAX_RX, &v))
        return lg_cli_fail("solve", 2, "--min-gateways: expected 2..%d, got '%s'", LG_GEO_MAX_RX,
                           optarg);
      a->opts.min_gateways = (int)v;
      break;
    case O_THREADS:
      if (lg_cli_parse_long(optarg, 1, 64, &a->threads))
        return lg_cli_fail("solve", 2, "--threads: expected 1..64, got '%s'", optarg);
      break;
    default: return lg_cli_bad_option("solve", c, argv);
    }
  }
  if (optind != argc) return lg_cli_fail("solve", 2, "unexpected argument '%s'", argv[optind]);
  if (no_outlier) a->alpha = 0; /* aggregate(): alpha 0 skips the GESD test */
  if (a->per_device && a->track)
    return lg_cli_fail("solve", 2, "--per-device and --track exclude each other");
  return 0;
}

/*
 * The pilot: reads up to PILOT_LINES lines into *text (given back as the stream *pilot,
 * so every line is still located in order), solves them with the configured sigma as a
 * weak prior, and sets a->opts.sigma_ns to what their residuals show, trusted as much as
 * the degrees of freedom behind it. Returns -1 when out of memory.
 */
static int measure_noise(struct solve_args *a, FILE *in, char **text, FILE **pilot) {
  size_t len = 0, cap = 0, n_fix = 0;
  struct lg_geo_fix *fixes = malloc(PILOT_LINES * sizeof(*fixes));
  struct worker *w = calloc(1, sizeof(*w));
  char *line = NULL;
  size_t line_cap = 0;
  int rc = -1;
  if (fixes == NULL || w == NULL || (w->solver = lg_geo_solver_new()) == NULL) goto out;
  ssize_t n;
  for (int k = 0; k < PILOT_LINES && (n = getline(&line, &line_cap, in)) != -1; k++) {
    if (len + (size_t)n + 1 > cap) {
      size_t c = cap ? 2 * cap : 1 << 16;
      while (c < len + (size_t)n + 1)
        c *= 2;
      char *t = realloc(*text, c);
      if (t == NULL) goto out;
      *text = t;
      cap = c;
    }
    memcpy(*text + len, line, (size_t)n);
    len += (size_t)n;
    char why[256];
    if (blank(line, (size_t)n) || lg_record_parse(line, (size_t)n, &w->rec, why, sizeof(why)))
      continue;
    if (a->cal) lg_record_calibrate(a->cal, &w->rec);
    if (lg_geo_solve(w->solver, w->rec.rx, w->rec.n, &a->opts, &fixes[n_fix], NULL, 0) == 0)
      n_fix++;
  }
  double f = lg_geo_noise_factor(fixes, n_fix);
  if (f > 0) {
    double dof = 0;
    for (size_t i = 0; i < n_fix; i++)
      dof += fixes[i].dof;
    a->opts.sigma_ns *= f;
    a->opts.sigma_prior_dof = dof;
    a->timing_sigma_ns = a->opts.sigma_ns;
  }
  rc = 0;
  if (len > 0 && (*pilot = fmemopen(*text, len, "r")) == NULL) rc = -1;
out:
  free(line);
  free(fixes);
  if (w) lg_geo_solver_free(w->solver);
  free(w);
  return rc;
}

int lg_cmd_solve(int argc, char **argv) {
  struct solve_args a = {.alpha = 0.05, .opts = lg_geo_opts_default()};
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  a.threads = cores > 0 ? (cores > 64 ? 64 : cores) : 1;
  int rc = parse_args(argc, argv, &a);
  if (rc) return rc < 0 ? 0 : rc;
  char why[256];
  if (a.calibration) {
    a.cal = malloc(sizeof(*a.cal));
    if (a.cal == NULL) return lg_cli_fail("solve", 1, "out of memory");
    if (lg_calibration_load(a.calibration, a.cal, why, sizeof(why))) {
      lg_calibration_close(a.cal);
      free(a.cal);
      return lg_cli_fail("solve", 1, "--calibration: %s", why);
    }
    if (a.cal->has_path_loss) a.opts.pathloss = a.cal->path_loss;
    a.opts.radio_map = a.cal->radio_map;
  }
  if ((a.opts.method == LG_GEO_FINGERPRINT || a.opts.method == LG_GEO_KNN) &&
      a.opts.radio_map == NULL) {
    lg_calibration_close(a.cal);
    free(a.cal);
    return lg_cli_fail("solve", 2,
                       "--method %s needs a radio map: --calibration FILE written by `lorageo "
                       "calibrate` from records with RSSI and truth",
                       lg_geo_method_name(a.opts.method));
  }
  FILE *in = stdin;
  if (a.input && (in = fopen(a.input, "r")) == NULL) {
    lg_calibration_close(a.cal);
    free(a.cal);
    return lg_cli_fail("solve", 1, "cannot open %s", a.input);
  }
  struct lg_errors errs = {0};
  long records = 0, fixes = 0;
  bool in_order = a.per_device || a.track;
  struct lines lines = {.pilot = NULL, .in = in};
  char *pilot_text = NULL;
  if (!a.sigma_given && measure_noise(&a, in, &pilot_text, &lines.pilot) != 0) {
    lg_calibration_close(a.cal);
    free(a.cal);
    if (in != stdin) fclose(in);
    return lg_cli_fail("solve", 1, "out of memory");
  }
  rc = in_order ? solve_in_order(&a, &lines, &errs, &records, &fixes)
                : solve_parallel(&a, &lines, &errs, &records, &fixes);
  if (lines.pilot) fclose(lines.pilot);
  free(pilot_text);
  if (rc == 0 && errs.n > 0) {
    struct lg_outbuf out = {0};
    lg_solve_summary_line(&out, &errs, records, fixes);
    if (a.timing_sigma_ns > 0 && out.len > 3) { /* inside the summary object */
      out.len -= 3;
      lg_out_printf(&out, ",\"timing_sigma_ns\":%.1f}}\n", a.timing_sigma_ns);
    }
    rc = write_out(&out);
    lg_out_free(&out);
  }
  if (in != stdin) fclose(in);
  free(errs.v);
  lg_calibration_close(a.cal);
  free(a.cal);
  if (rc == 0 && fflush(stdout) != 0) rc = -1;
  return rc ? lg_cli_fail("solve", 1, "cannot write output") : 0;
}
