/*
 * `solve`'s engine (solve/solve.h): a stream of records in, one JSON line per record out
 * — a fix or {"id", "error"}; a bad record never stops the rest. With `truth` in the
 * records a last line {"summary": ...} gives the thesis' statistics (mean, median and
 * 90th-percentile error, MALE).
 *
 * Records are independent, so they are located by a pool of worker threads in batches
 * of lines; the calling thread reads and writes, batches leave in input order. Modes that
 * need a device's frames in order (`--per-device`, `--track`) run in the calling thread.
 *
 * Without a known sigma (and records without their own sigma_ns) the timing noise is not
 * known, and a wrong guess either drops good receptions as reflections or states an
 * accuracy the fixes do not have. So the first PILOT_LINES records are solved once to
 * measure it (lg_geo_noise_factor: the median of the fixes' normalised chi-square),
 * and every record, those included, is then located with the measured sigma. The
 * summary reports it as "timing_sigma_ns".
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "geo/geo.h"
#include "solve/devices.h"
#include "solve/records.h"
#include "solve/solve.h"
#include "util/outbuf.h"
#include "util/util.h"

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

/* ---- one record ----------------------------------------------------------------- */

struct worker {
  struct lg_geo_solver *solver;
  struct lg_record rec;
};

/* Locates one line; appends its output line. Returns 1 for a fix, 0 otherwise. */
static int solve_line(const struct lg_solve_args *a, struct worker *w, const char *line, size_t len,
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
  const struct lg_solve_args *args;
  pthread_mutex_t mu;
  pthread_cond_t work, done;
  struct batch b[NBATCH];
  bool closing;
};

static bool blank(const char *s, size_t len) {
  return strspn(s, " \t\r\n") >= len;
}

static void run_batch(const struct lg_solve_args *a, struct worker *w, struct batch *b) {
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

static int write_out(struct lg_outbuf *o, FILE *to) {
  if (o->failed) return LG_EIO;
  if (o->len && fwrite(o->p, 1, o->len, to) != o->len) return LG_EIO;
  o->len = 0;
  return 0;
}

/* The threaded path: every record on its own. */
static int solve_parallel(const struct lg_solve_args *a, struct lines *in, FILE *to,
                          struct lg_errors *errs, long *records, long *fixes) {
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
  if (nt == 0) return LG_ENOMEM;
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
      if (write_out(&w->out, to)) rc = -1;
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

static int solve_in_order(const struct lg_solve_args *a, struct lines *in, FILE *to,
                          struct lg_errors *errs, long *records, long *fixes) {
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
    if (out.len > 65536 && write_out(&out, to)) goto out;
  }
  if (devices) {
    *fixes = lg_devices_solve(devices, w->solver, &a->opts, a->alpha, a->mode, &out, errs);
    *records = (long)lg_devices_count(devices);
  }
  rc = write_out(&out, to);
out:
  lg_out_free(&out);
  free(line);
  free(tracks);
  lg_devices_free(devices);
  if (w) lg_geo_solver_free(w->solver);
  free(w);
  return rc;
}

/* Solves every line of the pilot's text with `opts`, the fixes into fixes[] (may be
 * NULL) and, with `frames`, the fits' reflection evidence into it. Returns the fixes'
 * count, or -1 when out of memory. */
static long pilot_pass(struct lg_solve_args *a, struct worker *w, const char *text, size_t len,
                       const struct lg_geo_opts *opts, struct lg_geo_fix *fixes,
                       struct lg_geo_nlos_frames *frames) {
  long n_fix = 0;
  lg_geo_solver_keep_rows(w->solver, frames != NULL);
  for (const char *line = text, *end = text + len; line < end;) {
    const char *nl = memchr(line, '\n', (size_t)(end - line));
    size_t n = nl ? (size_t)(nl - line + 1) : (size_t)(end - line);
    char why[256];
    struct lg_geo_fix fix;
    bool ok = !blank(line, n) && lg_record_parse(line, n, &w->rec, why, sizeof(why)) == 0;
    line += n;
    if (!ok) continue;
    if (a->cal) lg_record_calibrate(a->cal, &w->rec);
    if (lg_geo_solve(w->solver, w->rec.rx, w->rec.n, opts, &fix, NULL, 0) != 0) continue;
    if (fixes) fixes[n_fix] = fix;
    n_fix++;
    if (frames && lg_geo_solver_nlos_rows(w->solver, frames, 1.0) != 0) return -1;
  }
  return n_fix;
}

/*
 * The pilot: reads up to PILOT_LINES lines into *text (given back as the stream *pilot,
 * so every line is still located in order). Unless the noise is given, solves them with
 * the configured sigma as a weak prior and sets a->opts.sigma_ns to what their residuals
 * show, trusted as much as the degrees of freedom behind it. Unless the reflection model
 * is given, solves them again (nls, at that sigma) and learns it from their residuals
 * (lg_geo_nlos_learn) into a->opts.nlos_share and nlos_delay_ns. Returns -1 when out of
 * memory.
 */
static int pilot(struct lg_solve_args *a, FILE *in, char **text, FILE **pilot) {
  size_t len = 0, cap = 0;
  struct lg_geo_fix *fixes = malloc(PILOT_LINES * sizeof(*fixes));
  struct worker *w = calloc(1, sizeof(*w));
  struct lg_geo_nlos_frames *frames = NULL;
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
  }
  if (!a->sigma_given) {
    long n_fix = pilot_pass(a, w, *text, len, &a->opts, fixes, NULL);
    if (n_fix < 0) goto out;
    double f = lg_geo_noise_factor(fixes, (size_t)n_fix);
    if (f > 0) {
      double dof = 0;
      for (long i = 0; i < n_fix; i++)
        dof += fixes[i].dof;
      a->opts.sigma_ns *= f;
      a->opts.sigma_prior_dof = dof;
      a->timing_sigma_ns = a->opts.sigma_ns;
    }
  }
  if (!a->nlos_given) {
    struct lg_geo_opts o = a->opts;
    o.method = LG_GEO_NLS;
    o.nlos_share = 0;
    if ((frames = lg_geo_nlos_frames_new()) == NULL ||
        pilot_pass(a, w, *text, len, &o, NULL, frames) < 0)
      goto out;
    double share, delay_m, sigma_m = o.sigma_ns * 1e-9 * LG_GEO_C_MPS;
    if (lg_geo_nlos_learn(frames, sigma_m, &share, &delay_m) == 0) {
      a->opts.nlos_share = share;
      a->opts.nlos_delay_ns = delay_m / LG_GEO_C_MPS * 1e9;
      a->nlos_learned = true;
    }
  }
  rc = 0;
  if (len > 0 && (*pilot = fmemopen(*text, len, "r")) == NULL) rc = -1;
out:
  free(line);
  free(fixes);
  lg_geo_nlos_frames_free(frames);
  if (w) lg_geo_solver_free(w->solver);
  free(w);
  return rc;
}

int lg_solve_run(struct lg_solve_args *a, FILE *in, FILE *to) {
  struct lg_errors errs = {0};
  long records = 0, fixes = 0;
  struct lines lines = {.pilot = NULL, .in = in};
  char *pilot_text = NULL;
  if ((!a->sigma_given || !a->nlos_given) && pilot(a, in, &pilot_text, &lines.pilot) != 0) {
    free(pilot_text);
    return LG_ENOMEM;
  }
  int rc = a->per_device || a->track ? solve_in_order(a, &lines, to, &errs, &records, &fixes)
                                     : solve_parallel(a, &lines, to, &errs, &records, &fixes);
  if (lines.pilot) fclose(lines.pilot);
  free(pilot_text);
  if (rc == 0 && errs.n > 0) {
    struct lg_outbuf out = {0};
    lg_solve_summary_line(&out, &errs, records, fixes);
    if (a->timing_sigma_ns > 0 && out.len > 3) { /* inside the summary object */
      out.len -= 3;
      lg_out_printf(&out, ",\"timing_sigma_ns\":%.1f}}\n", a->timing_sigma_ns);
    }
    if (a->nlos_learned && out.len > 3) {
      out.len -= 3;
      lg_out_printf(&out, ",\"nlos_share\":%.4f,\"nlos_delay_ns\":%.1f}}\n", a->opts.nlos_share,
                    a->opts.nlos_delay_ns);
    }
    rc = write_out(&out, to);
    lg_out_free(&out);
  }
  free(errs.v);
  if (rc == 0 && fflush(to) != 0) rc = LG_EIO;
  return rc == LG_ENOMEM ? LG_ENOMEM : rc ? LG_EIO : 0; /* no worker thread: LG_ENOMEM */
}
