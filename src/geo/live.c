/*
 * What a running server learns about locating its devices (geo.h, "live"):
 *  - the timing noise its fixes show (lg_geo_noise_factor over the last LIVE_NOISE_RING
 *    fixes with residual degrees of freedom, re-measured every LIVE_NOISE_EVERY), so a
 *    wrong configured sigma neither drops good receptions nor states false radii;
 *  - the reflections they show (lg_geo_nlos_learn over LIVE_NLOS_FRAMES nls fits at one
 *    noise scale, again after LIVE_NLOS_REST more): the share of receptions late and
 *    their mean delay, which then widen the radii and take a likely late reception out
 *    (nlos.c), as `solve`'s pilot does; unless the configuration gives a model;
 *  - from reference devices (frames with a known true position): each gateway's fixed
 *    offset and noise scale (the online form of `lorageo calibrate`'s alternating least
 *    squares: the frame's emission time from the current offsets, then each gateway's
 *    residual folded into a decaying mean), and a radio map for fingerprinting, rebuilt
 *    from the newest max_points reference frames every LIVE_REBUILD_EVERY new ones (a
 *    fifth of those kept, when more; every LIVE_CHOOSE_EVERY-th, the first included, also
 *    lets cross-validation choose the map's common-offset spread and posterior power);
 *  - how good each method really is: the errors of the last `window` reference frames
 *    per method, located by every method the frame allows, as median and 90th percentile;
 *  - one constant-velocity Kalman track per device (at most max_devices, the least
 *    recently heard dropped first), with an outlier gate: a fix whose Mahalanobis distance
 *    from the prediction exceeds the gate leaves the track as it was, and three in a row
 *    restart it where the fixes now are.
 * Everything is bounded by the options; all of it but the tracks survives a restart
 * through lg_geo_live_save/load (a calibration file and its radio map, the formats
 * `lorageo calibrate` writes). One thread locates; lg_geo_live_accuracy() may be called
 * from another (a mutex guards the error windows).
 *
 * A rebuild takes 0.05-1 s at 5,000 points (cross-validation is most of it), far longer
 * than a forwarder waits for its PUSH_ACK, so it never runs on the thread that locates
 * (issue 15). That thread hands a worker thread, started with the first rebuild and owned
 * by this object, a snapshot: a compact copy of the kept points, oldest first, with the
 * parameters to start from (~1 ms at 5,000). There is one job slot: while a rebuild is
 * queued or running, a due one waits and is handed over at the first reference frame after
 * the slot is free, with every point kept by then (due rebuilds coalesce; nothing queues
 * up). The worker builds and cross-validates exactly as the synchronous path did (the same
 * map from the same points) and leaves the map in the slot; the locating thread takes it
 * out under the mutex at its next locate or reference call and swaps it in. Only that
 * thread reads or frees the map in use, so locating never sees one being freed. The job
 * slot's state says who owns the snapshot: the locating thread while idle, the worker
 * while queued or running. lg_geo_live_wait_idle() waits for a running rebuild (load
 * does, so a restarted server locates with its map at once; the tests do); free waits for
 * it and joins the worker. opts.rebuild_inline (or a worker that cannot start) rebuilds on
 * the calling thread through the same code.
 *
 * Saving writes the radio map file from a map built over the kept points (~20 ms at
 * 5,000), so the periodic save (lg_geo_live_save_soon) does not build it on the locating
 * thread either. Once a save path is known (lg_geo_live_set_save_path), every rebuild the
 * worker runs anyway also writes its map to the map file (written beside and renamed: the
 * file on disk is always a whole map); the periodic save writes only the small state file,
 * and names the map file in it only once a map has been written there, so a state file
 * never points at a missing map. The map file holds the points of the last rebuild (points
 * kept since then are saved by the next one, or at stop); no rebuild is started for a save.
 * The save at stop (lg_geo_live_save) waits for the slot and writes both itself.
 */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "geo/geo.h"
#include "util/util.h"

#define LIVE_NOISE_RING    512
#define LIVE_NOISE_EVERY   64
#define LIVE_NLOS_FRAMES   1000  /* nls fits that teach the reflection model */
#define LIVE_NLOS_REST     9000  /* nls fits passed by after each lesson (see learn_nlos) */
#define LIVE_REBUILD_EVERY 100   /* new reference frames, or a fifth of those kept if more */
#define LIVE_CV_POINTS     2000  /* the newest points that measure the radii */
#define LIVE_CHOOSE_EVERY  5     /* map rebuilds; the others keep the last choice */
#define LIVE_MIN_MAP       40    /* reference frames before a first radio map */
#define LIVE_DECAY         0.995 /* a gateway's offset follows its last ~200 frames */
#define LIVE_MIN_SAMPLES   20    /* before a gateway's learned sigma is used */
#define LIVE_OUTLIERS      3     /* consecutive gated fixes that restart a track */

struct live_gateway {
  char name[LG_CAL_NAME_MAX];
  double w, off_sum, var_sum; /* decaying weights and sums */
  double offset_ns;           /* off_sum / w */
  size_t samples;
  UT_hash_handle hh;
};

struct live_track {
  uint64_t device;
  struct lg_track track;
  struct lg_enu_frame frame;
  int outliers;
  UT_hash_handle hh;
};

struct live_point {
  struct lg_geodetic truth;
  size_t n;
  struct lg_geo_rx rx[LG_GEO_MAX_RX]; /* names point into names[] */
  char names[LG_GEO_MAX_RX][LG_CAL_NAME_MAX];
};

/* A rebuild's input and output (see the top): points oldest first, each a run of rx[]
 * whose names point into name[]. */
struct live_job {
  size_t n_points, cap_points;
  struct lg_geodetic *truth;
  size_t *first, *count; /* a point's receptions: rx[first .. first + count) */
  size_t n_rx, cap_rx;
  struct lg_geo_rx *rx;
  char (*name)[LG_CAL_NAME_MAX];
  struct lg_fp_params choice; /* in: offset_db and sharpen to start from */
  bool choose;                /* in: cross-validation chooses them too */
  bool chosen;                /* out: choice holds what it chose */
  struct lg_radio_map *map;   /* out: NULL when the build failed */
};

enum live_job_state { JOB_IDLE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct lg_geo_live {
  struct lg_geo_live_opts o;
  /* noise */
  struct lg_geo_fix noise[LIVE_NOISE_RING];
  size_t noise_n, noise_next, noise_since;
  double noise_factor, noise_dof;
  /* the last re-measure's ratio to the scale before it; 0: none yet, or too few fixes
   * with residual degrees of freedom (fits without carry no reflection evidence either) */
  double noise_step;
  /* reflections: the fits' evidence since the last lesson, and what was learned (share
   * 0: none supported) */
  struct lg_geo_nlos_frames *nlos;
  struct lg_geo_nlos_fit nlos_fit; /* the fit in progress over the full set */
  double nlos_scale;                /* the noise factor when the set began, */
  double nlos_sigma_ns;             /* and the noise its fits are weighed at */
  bool nlos_fitting;
  size_t nlos_rest; /* nls fits still to pass by before the next set */
  double nlos_share, nlos_delay_ns;
  /* gateways */
  struct live_gateway *gateways;
  size_t n_gateways;
  /* radio map */
  struct live_point *points;
  size_t n_points, next_point, since_build, builds;
  struct lg_fp_params fp_choice; /* offset_db and sharpen, as cross-validation chose */
  struct lg_radio_map *map; /* learned; NULL before LIVE_MIN_MAP points; only the
                             * locating thread reads, swaps and frees it */
  const struct lg_radio_map *base_map;
  /* the rebuild worker; job_mu guards job_state and quit, the state who owns job */
  struct live_job job;
  pthread_mutex_t job_mu;
  pthread_cond_t job_wake, job_idle;
  enum live_job_state job_state;
  atomic_bool job_done; /* job_state == JOB_DONE, read without the lock */
  bool quit, worker_started;
  /* under job_mu: the map file each built map is written to ("": none yet), whether one
   * was written there, and the last background write that failed ("": none) */
  char map_path[4200];
  bool map_written;
  char save_why[300];
  pthread_t worker;
  /* accuracy windows, by method */
  pthread_mutex_t mu;
  double *err[LG_GEO_METHOD_COUNT];
  size_t err_n[LG_GEO_METHOD_COUNT], err_next[LG_GEO_METHOD_COUNT];
  uint64_t references;
  /* tracks */
  struct live_track *tracks;
  size_t n_tracks;
};

static void job_free(struct live_job *job);
static void take_map(struct lg_geo_live *l);

struct lg_geo_live_opts lg_geo_live_opts_default(void) {
  return (struct lg_geo_live_opts){.max_devices = 100000,
                                   .window = 500,
                                   .max_points = 5000,
                                   .max_gateways = 4096,
                                   .accel_sigma_mps2 = 1.0,
                                   .gate_d2 = 13.8155}; /* chi-square(2) at 99.9 % */
}

struct lg_geo_live *lg_geo_live_new(const struct lg_geo_live_opts *o) {
  struct lg_geo_live *l = calloc(1, sizeof(*l));
  if (l == NULL) return NULL;
  l->o = *o;
  l->fp_choice = lg_fp_params_default();
  if (l->o.window < 10) l->o.window = 10;
  pthread_mutex_init(&l->mu, NULL);
  pthread_mutex_init(&l->job_mu, NULL);
  pthread_cond_init(&l->job_wake, NULL);
  pthread_cond_init(&l->job_idle, NULL);
  for (int m = 0; m < LG_GEO_METHOD_COUNT; m++)
    if ((l->err[m] = malloc(l->o.window * sizeof(double))) == NULL) {
      lg_geo_live_free(l);
      return NULL;
    }
  if (l->o.max_points > 0 && (l->points = calloc(l->o.max_points, sizeof(*l->points))) == NULL) {
    lg_geo_live_free(l);
    return NULL;
  }
  return l;
}

void lg_geo_live_free(struct lg_geo_live *l) {
  if (l == NULL) return;
  lg_geo_nlos_frames_free(l->nlos);
  if (l->worker_started) { /* a running rebuild ends first; a queued one is dropped */
    pthread_mutex_lock(&l->job_mu);
    l->quit = true;
    pthread_cond_signal(&l->job_wake);
    pthread_mutex_unlock(&l->job_mu);
    pthread_join(l->worker, NULL);
  }
  struct live_gateway *g, *gt;
  HASH_ITER(hh, l->gateways, g, gt) {
    HASH_DEL(l->gateways, g);
    free(g);
  }
  struct live_track *t, *tt;
  HASH_ITER(hh, l->tracks, t, tt) {
    HASH_DEL(l->tracks, t);
    free(t);
  }
  for (int m = 0; m < LG_GEO_METHOD_COUNT; m++)
    free(l->err[m]);
  free(l->points);
  lg_radio_map_free(l->map);
  job_free(&l->job); /* and a finished map nobody took */
  pthread_cond_destroy(&l->job_idle);
  pthread_cond_destroy(&l->job_wake);
  pthread_mutex_destroy(&l->job_mu);
  pthread_mutex_destroy(&l->mu);
  free(l);
}

void lg_geo_live_set_radio_map(struct lg_geo_live *l, const struct lg_radio_map *m) {
  l->base_map = m;
}

/* ---- gateways ------------------------------------------------------------------- */

static struct live_gateway *gateway(struct lg_geo_live *l, const char *name, bool create) {
  struct live_gateway *g = NULL;
  HASH_FIND_STR(l->gateways, name, g);
  if (g || !create || strlen(name) >= LG_CAL_NAME_MAX || l->n_gateways >= l->o.max_gateways)
    return g;
  if ((g = calloc(1, sizeof(*g))) == NULL) return NULL;
  snprintf(g->name, sizeof(g->name), "%s", name);
  HASH_ADD_STR(l->gateways, name, g);
  l->n_gateways++;
  return g;
}

double lg_geo_live_offset_ns(const struct lg_geo_live *l, const char *name) {
  struct live_gateway *g = NULL;
  if (name) HASH_FIND_STR(l->gateways, name, g);
  return g && g->samples >= LIVE_MIN_SAMPLES ? g->offset_ns : 0.0;
}

double lg_geo_live_sigma_ns(const struct lg_geo_live *l, const char *name) {
  struct live_gateway *g = NULL;
  if (name) HASH_FIND_STR(l->gateways, name, g);
  return g && g->samples >= LIVE_MIN_SAMPLES && g->w > 0 ? sqrt(g->var_sum / g->w) : 0.0;
}

/* One reference frame's timed receptions: the online ALS step (see the top). */
static void learn_offsets(struct lg_geo_live *l, const struct lg_geo_rx *rx, size_t n,
                          const struct lg_geodetic *truth) {
  double dev[3], r_ns[LG_GEO_MAX_RX];
  struct live_gateway *g[LG_GEO_MAX_RX];
  lg_geo_to_ecef(truth, dev);
  int64_t t0 = 0;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (rx[i].has_time && rx[i].name && (k == 0 || rx[i].time_ns < t0)) {
      t0 = rx[i].time_ns;
      k++;
    }
  if (k < 2) return;
  double emit = 0;
  k = 0;
  for (size_t i = 0; i < n && k < LG_GEO_MAX_RX; i++) {
    if (!rx[i].has_time || rx[i].name == NULL) continue;
    if ((g[k] = gateway(l, rx[i].name, true)) == NULL) continue;
    struct lg_geodetic p = {rx[i].lat_deg, rx[i].lon_deg, rx[i].alt_m};
    double e[3];
    lg_geo_to_ecef(&p, e);
    double d = sqrt(pow(e[0] - dev[0], 2) + pow(e[1] - dev[1], 2) + pow(e[2] - dev[2], 2));
    r_ns[k] = (double)(rx[i].time_ns - t0) - d / LG_GEO_C_MPS * 1e9;
    emit += r_ns[k] - (g[k]->samples ? g[k]->offset_ns : 0);
    k++;
  }
  if (k < 2) return;
  emit /= (double)k;
  for (size_t j = 0; j < k; j++) {
    double r = r_ns[j] - emit;
    struct live_gateway *gw = g[j];
    double resid = r - (gw->samples ? gw->offset_ns : r);
    gw->w = gw->w * LIVE_DECAY + 1;
    gw->off_sum = gw->off_sum * LIVE_DECAY + r;
    gw->var_sum = gw->var_sum * LIVE_DECAY + resid * resid;
    gw->offset_ns = gw->off_sum / gw->w;
    gw->samples++;
  }
}

/* ---- locating ------------------------------------------------------------------- */

static void learn_noise(struct lg_geo_live *l, const struct lg_geo_fix *fix) {
  if (fix->dof < 1 || fix->method != LG_GEO_NLS) return;
  l->noise[l->noise_next] = *fix;
  l->noise_next = (l->noise_next + 1) % LIVE_NOISE_RING;
  if (l->noise_n < LIVE_NOISE_RING) l->noise_n++;
  if (++l->noise_since < LIVE_NOISE_EVERY) return;
  l->noise_since = 0;
  double f = lg_geo_noise_factor(l->noise, l->noise_n);
  l->noise_step = f;
  if (f > 0) {
    double dof = 0;
    for (size_t i = 0; i < l->noise_n; i++)
      dof += l->noise[i].dof;
    pthread_mutex_lock(&l->mu); /* the API reads the factor */
    /* fixes were solved at the learned sigma already: the factor compounds */
    l->noise_factor = (l->noise_factor > 0 ? l->noise_factor : 1.0) * f;
    pthread_mutex_unlock(&l->mu);
    l->noise_dof = dof;
    /* the ring's fixes as if solved at the new scale (chi^2 goes as 1 / sigma^2), so the
     * next measure has all LIVE_NOISE_RING of them: starting it afresh left 64 fixes and
     * a factor that jumped by a third from one measure to the next */
    for (size_t i = 0; i < l->noise_n; i++)
      l->noise[i].chi2 /= f * f;
  }
}

/* Whether the next fit's reflection evidence goes into a set: one being collected, or a
 * new one once the rest is over and the noise scale has settled (its last re-measure
 * within 10 %: the evidence is weighed at the scale the set began at, and a set begun
 * while the configured sigma was still five times the measured one taught a share of
 * 0.086 for 0.05). A set keeps going when the scale moves later (rescaled, learn_nlos). */
static bool nlos_collecting(const struct lg_geo_live *l) {
  return !l->nlos_fitting && l->nlos_rest == 0 &&
         (l->nlos != NULL || fabs(log(l->noise_step)) < 0.1);
}

/* The last fit's reflection evidence (s kept its rows) into the set; once it holds
 * LIVE_NLOS_FRAMES fits, the model is fitted to them one EM iteration a call (each ~1 ms
 * at that size: a whole fit, tens of iterations, would stall the locating thread), the
 * set frozen meanwhile, then adopted (share 0: the fits support none). The next set begins
 * LIVE_NLOS_REST fits later: a site's reflections change slowly, and learning back to
 * back (some 30 iterations of ~1 ms per 1,000 fits) was a fifth of the server's CPU under
 * load. sigma_ns: the noise the fits were solved at. */
static void learn_nlos(struct lg_geo_live *l, const struct lg_geo_solver *s,
                       const struct lg_geo_fix *fix, double sigma_ns) {
  if (l->nlos_fitting) {
    if (!lg_geo_nlos_fit_step(l->nlos, &l->nlos_fit)) return;
    double share = 0, delay_m = 0;
    if (lg_geo_nlos_fit_verdict(l->nlos, &l->nlos_fit, &share, &delay_m) != 0)
      share = delay_m = 0;
    pthread_mutex_lock(&l->mu);
    l->nlos_share = share;
    l->nlos_delay_ns = delay_m / LG_GEO_C_MPS * 1e9;
    pthread_mutex_unlock(&l->mu);
    lg_geo_nlos_frames_free(l->nlos);
    l->nlos = NULL;
    l->nlos_fitting = false;
    l->nlos_rest = LIVE_NLOS_REST;
    return;
  }
  if (fix->method != LG_GEO_NLS) return;
  if (l->nlos_rest > 0) {
    l->nlos_rest--;
    return;
  }
  if (!nlos_collecting(l)) return;
  /* the noise scale moves between fits (re-measured every LIVE_NOISE_EVERY): each fit's
   * evidence is weighed at the scale the set began at, sigma0 */
  double now = l->noise_factor > 0 ? l->noise_factor : 1.0;
  if (l->nlos == NULL) {
    if ((l->nlos = lg_geo_nlos_frames_new()) == NULL) return;
    l->nlos_scale = now;
    l->nlos_sigma_ns = sigma_ns;
  }
  double k = now / l->nlos_scale;
  if (lg_geo_solver_nlos_rows(s, l->nlos, k * k) != 0 ||
      lg_geo_nlos_frames_count(l->nlos) < LIVE_NLOS_FRAMES)
    return;
  /* warm from what was learned before: a few iterations when nothing changed */
  lg_geo_nlos_fit_start(&l->nlos_fit, l->nlos_sigma_ns * 1e-9 * LG_GEO_C_MPS, l->nlos_share,
                        l->nlos_delay_ns * 1e-9 * LG_GEO_C_MPS);
  l->nlos_fitting = true;
}

void lg_geo_live_nlos(struct lg_geo_live *l, double *share, double *delay_ns) {
  pthread_mutex_lock(&l->mu);
  *share = l->nlos_share;
  *delay_ns = l->nlos_delay_ns;
  pthread_mutex_unlock(&l->mu);
}

double lg_geo_live_noise_factor(struct lg_geo_live *l) {
  pthread_mutex_lock(&l->mu);
  double f = l->noise_factor > 0 ? l->noise_factor : 1.0;
  pthread_mutex_unlock(&l->mu);
  return f;
}

/* The receptions with learned offsets taken off and learned noise scales given, and the
 * options with the learned noise and radio map. */
static void prepare(const struct lg_geo_live *l, const struct lg_geo_rx *rx, size_t n,
                    const struct lg_geo_opts *base, struct lg_geo_rx *out, struct lg_geo_opts *o) {
  *o = *base;
  if (l->noise_factor > 0) {
    o->sigma_ns *= l->noise_factor;
    o->sigma_prior_dof = fmax(o->sigma_prior_dof, l->noise_dof);
  }
  if (!(base->nlos_share > 0) && l->nlos_share > 0) {
    o->nlos_share = l->nlos_share;
    o->nlos_delay_ns = l->nlos_delay_ns;
  }
  if (l->map)
    o->radio_map = l->map;
  else if (l->base_map)
    o->radio_map = l->base_map;
  for (size_t i = 0; i < n; i++) {
    out[i] = rx[i];
    if (!rx[i].has_time) continue;
    out[i].time_ns -= llround(lg_geo_live_offset_ns(l, rx[i].name));
    /* a gateway's own noise learned from reference frames first; else the reception's
     * (a gateway's fine timestamp carries the configured [geo] sigma_ns, a guess) at the
     * scale the fixes show: left unscaled, it counted as known and the measured scale
     * never reached it (the factor then fell without end: 0.002 after 1,800 uplinks) */
    double s = lg_geo_live_sigma_ns(l, rx[i].name);
    if (s > 0)
      out[i].sigma_ns = s;
    else if (rx[i].sigma_ns > 0 && l->noise_factor > 0)
      out[i].sigma_ns = rx[i].sigma_ns * l->noise_factor;
  }
}

int lg_geo_live_locate(struct lg_geo_live *l, struct lg_geo_solver *s, const struct lg_geo_rx *rx,
                       size_t n, const struct lg_geo_opts *base, struct lg_geo_fix *fix, char *why,
                       size_t why_len) {
  if (n > LG_GEO_MAX_RX) n = LG_GEO_MAX_RX;
  struct lg_geo_rx adj[LG_GEO_MAX_RX];
  struct lg_geo_opts o;
  take_map(l);
  prepare(l, rx, n, base, adj, &o);
  /* the rows of the fit's reflection evidence, when they go into a set */
  lg_geo_solver_keep_rows(s, !(base->nlos_share > 0) && nlos_collecting(l));
  int rc = lg_geo_solve(s, adj, n, &o, fix, why, why_len);
  lg_geo_solver_keep_rows(s, false);
  if (rc == 0 && !(base->nlos_share > 0)) learn_nlos(l, s, fix, o.sigma_ns);
  if (rc == 0) learn_noise(l, fix);
  return rc;
}

/* ---- reference frames ------------------------------------------------------------ */

static void add_error(struct lg_geo_live *l, enum lg_geo_method m, double err_m) {
  if ((unsigned)m >= LG_GEO_METHOD_COUNT) return;
  l->err[m][l->err_next[m]] = err_m;
  l->err_next[m] = (l->err_next[m] + 1) % l->o.window;
  if (l->err_n[m] < l->o.window) l->err_n[m]++;
}

static void keep_point(struct lg_geo_live *l, const struct lg_geo_rx *rx, size_t n,
                       const struct lg_geodetic *truth) {
  size_t usable = 0;
  for (size_t i = 0; i < n; i++)
    usable += rx[i].has_rssi && rx[i].name && strlen(rx[i].name) < LG_CAL_NAME_MAX;
  if (l->o.max_points == 0 || usable == 0) return; /* the oldest point stays */
  struct live_point *p = &l->points[l->next_point];
  p->truth = *truth;
  p->n = 0;
  for (size_t i = 0; i < n && p->n < LG_GEO_MAX_RX; i++) {
    if (!rx[i].has_rssi || rx[i].name == NULL || strlen(rx[i].name) >= LG_CAL_NAME_MAX) continue;
    snprintf(p->names[p->n], LG_CAL_NAME_MAX, "%s", rx[i].name);
    p->rx[p->n] = rx[i];
    p->rx[p->n].name = p->names[p->n];
    p->n++;
  }
  l->next_point = (l->next_point + 1) % l->o.max_points;
  if (l->n_points < l->o.max_points) l->n_points++;
  l->since_build++;
}

/* ---- the radio map's rebuilds (see the top) --------------------------------------- */

void lg_geo_live_build_map(const struct lg_geodetic *truth, const struct lg_geo_rx *rx,
                           const size_t *first, const size_t *count, size_t n, bool choose,
                           struct lg_fp_params *p, bool *chosen, struct lg_radio_map **out) {
  *out = NULL;
  *chosen = false;
  struct lg_fp_builder *b = lg_fp_builder_new(), *cv = lg_fp_builder_new();
  bool ok = b != NULL && cv != NULL;
  for (size_t k = 0; ok && k < n; k++)
    ok = lg_fp_builder_add(b, &truth[k], &rx[first[k]], count[k]) != LG_ENOMEM &&
         (n - k > LIVE_CV_POINTS ||
          lg_fp_builder_add(cv, &truth[k], &rx[first[k]], count[k]) != LG_ENOMEM);
  if (ok) {
    /* under 40 points: the defaults and the Gaussian scales */
    if (choose)
      *chosen = lg_fp_cross_validate(cv, p) == 0;
    else
      (void)lg_fp_cross_validate_scales(cv, p);
    if (lg_fp_build(b, p, out) != 0) *out = NULL;
  }
  lg_fp_builder_free(cv);
  lg_fp_builder_free(b);
}

/* The job's map from its points (lg_geo_live_build_map: the cost grows with the square of
 * the points when it chooses, 2,000 take ~0.1 s, 20,000 ~9 s). Runs on the worker, or
 * inline; touches nothing but the job. */
static void job_run(struct live_job *job) {
  lg_radio_map_free(job->map); /* NULL: take_map emptied the slot before it was queued */
  struct lg_fp_params p = lg_fp_params_default();
  p.offset_db = job->choice.offset_db;
  p.sharpen = job->choice.sharpen;
  lg_geo_live_build_map(job->truth, job->rx, job->first, job->count, job->n_points, job->choose,
                        &p, &job->chosen, &job->map);
  if (job->chosen) job->choice = p;
}

static void job_free(struct live_job *job) {
  free(job->truth);
  free(job->first);
  free(job->count);
  free(job->rx);
  free(job->name);
  lg_radio_map_free(job->map);
}

/* Copies the kept points, oldest first, into the job (its arrays grow to fit and are
 * kept for the next one: at most max_points x LG_GEO_MAX_RX receptions). Only while the
 * locating thread owns the job. */
static int job_fill(struct lg_geo_live *l, struct live_job *job) {
  size_t n_rx = 0;
  for (size_t i = 0; i < l->n_points; i++)
    n_rx += l->points[i].n;
  if (job->cap_points < l->n_points) {
    size_t cap = l->o.max_points;
    struct lg_geodetic *t = realloc(job->truth, cap * sizeof(*t));
    if (t) job->truth = t;
    size_t *f = realloc(job->first, cap * sizeof(*f));
    if (f) job->first = f;
    size_t *c = realloc(job->count, cap * sizeof(*c));
    if (c) job->count = c;
    if (!t || !f || !c) return LG_ENOMEM;
    job->cap_points = cap;
  }
  if (job->cap_rx < n_rx) {
    size_t cap = 2 * n_rx;
    if (cap > l->o.max_points * LG_GEO_MAX_RX) cap = l->o.max_points * LG_GEO_MAX_RX;
    struct lg_geo_rx *r = realloc(job->rx, cap * sizeof(*r));
    if (r) job->rx = r;
    char(*nm)[LG_CAL_NAME_MAX] = realloc(job->name, cap * sizeof(*nm));
    if (nm) job->name = nm;
    if (!r || !nm) return LG_ENOMEM;
    job->cap_rx = cap;
  }
  job->n_points = job->n_rx = 0;
  for (size_t k = 0; k < l->n_points; k++) {
    size_t i = (l->next_point + l->o.max_points - l->n_points + k) % l->o.max_points;
    const struct live_point *pt = &l->points[i];
    job->truth[k] = pt->truth;
    job->first[k] = job->n_rx;
    job->count[k] = pt->n;
    for (size_t j = 0; j < pt->n; j++, job->n_rx++) {
      job->rx[job->n_rx] = pt->rx[j];
      memcpy(job->name[job->n_rx], pt->names[j], LG_CAL_NAME_MAX);
      job->rx[job->n_rx].name = job->name[job->n_rx];
    }
  }
  job->n_points = l->n_points;
  job->choice = l->fp_choice;
  return 0;
}

/* The radio map file, written beside and renamed into place. */
static int write_map_file(const struct lg_radio_map *m, const char *map_path) {
  char tmp[4300];
  snprintf(tmp, sizeof(tmp), "%s.tmp", map_path);
  return m && lg_radio_map_save(m, tmp) == 0 && rename(tmp, map_path) == 0 ? 0 : LG_EIO;
}

/* After a build, by whoever ran it (the slot still theirs): its map into the map file,
 * once a save path is known. */
static void job_save(struct lg_geo_live *l) {
  char path[sizeof(l->map_path)];
  pthread_mutex_lock(&l->job_mu);
  memcpy(path, l->map_path, sizeof(path));
  pthread_mutex_unlock(&l->job_mu);
  if (path[0] == '\0' || l->job.map == NULL) return;
  int rc = write_map_file(l->job.map, path);
  pthread_mutex_lock(&l->job_mu);
  if (rc)
    snprintf(l->save_why, sizeof(l->save_why), "cannot write %s", path);
  else
    l->map_written = true;
  pthread_mutex_unlock(&l->job_mu);
}

static void *rebuild_worker(void *arg) {
  struct lg_geo_live *l = arg;
  pthread_mutex_lock(&l->job_mu);
  for (;;) {
    while (!l->quit && l->job_state != JOB_QUEUED)
      pthread_cond_wait(&l->job_wake, &l->job_mu);
    if (l->quit) break;
    l->job_state = JOB_RUNNING;
    pthread_mutex_unlock(&l->job_mu);
    job_run(&l->job);
    job_save(l);
    pthread_mutex_lock(&l->job_mu);
    l->job_state = JOB_DONE;
    atomic_store(&l->job_done, true);
    pthread_cond_broadcast(&l->job_idle);
  }
  pthread_mutex_unlock(&l->job_mu);
  return NULL;
}

/* A finished rebuild into use (the locating thread; cheap when there is none): the map
 * taken out of the slot under the mutex, the one it replaces freed here, where nothing
 * else reads it. The old map stays when the build failed. */
static void take_map(struct lg_geo_live *l) {
  if (!atomic_load(&l->job_done)) return;
  pthread_mutex_lock(&l->job_mu);
  struct lg_radio_map *m = l->job.map;
  l->job.map = NULL;
  if (l->job.chosen) l->fp_choice = l->job.choice;
  l->job_state = JOB_IDLE;
  atomic_store(&l->job_done, false);
  pthread_mutex_unlock(&l->job_mu);
  if (m) {
    lg_radio_map_free(l->map);
    l->map = m;
  }
}

void lg_geo_live_wait_idle(struct lg_geo_live *l) {
  pthread_mutex_lock(&l->job_mu);
  while (l->job_state == JOB_QUEUED || l->job_state == JOB_RUNNING)
    pthread_cond_wait(&l->job_idle, &l->job_mu);
  pthread_mutex_unlock(&l->job_mu);
  take_map(l);
}

bool lg_geo_live_rebuilding(struct lg_geo_live *l) {
  pthread_mutex_lock(&l->job_mu);
  bool busy = l->job_state == JOB_QUEUED || l->job_state == JOB_RUNNING;
  pthread_mutex_unlock(&l->job_mu);
  return busy;
}

/* A new radio map from the kept points, on the worker (see the top); false when the job
 * slot is taken (the rebuild stays due) or the snapshot found no memory (the old map
 * stays, as when a build fails). */
static bool rebuild_map(struct lg_geo_live *l) {
  take_map(l);
  pthread_mutex_lock(&l->job_mu);
  bool busy = l->job_state != JOB_IDLE; /* queued or running: it waits */
  pthread_mutex_unlock(&l->job_mu);
  if (busy) return false;
  /* idle: only this thread leaves JOB_IDLE, so the job is this thread's until queued */
  if (job_fill(l, &l->job) != 0) return true;
  l->job.choose = l->builds++ % LIVE_CHOOSE_EVERY == 0;
  if (!l->o.rebuild_inline && !l->worker_started)
    l->worker_started = pthread_create(&l->worker, NULL, rebuild_worker, l) == 0;
  pthread_mutex_lock(&l->job_mu);
  l->job_state = l->worker_started ? JOB_QUEUED : JOB_RUNNING;
  pthread_cond_signal(&l->job_wake);
  pthread_mutex_unlock(&l->job_mu);
  if (!l->worker_started) { /* inline: the same code, on this thread */
    job_run(&l->job);
    job_save(l);
    pthread_mutex_lock(&l->job_mu);
    l->job_state = JOB_DONE;
    atomic_store(&l->job_done, true);
    pthread_mutex_unlock(&l->job_mu);
    take_map(l);
  }
  return true;
}

int lg_geo_live_reference(struct lg_geo_live *l, struct lg_geo_solver *s,
                          const struct lg_geo_rx *rx, size_t n, const struct lg_geodetic *truth,
                          const struct lg_geo_opts *base) {
  if (!(fabs(truth->lat_deg) <= 90 && fabs(truth->lon_deg) <= 180)) return LG_EINVAL;
  if (n > LG_GEO_MAX_RX) n = LG_GEO_MAX_RX;
  /* how good each method is, before this frame teaches anything */
  struct lg_geo_rx adj[LG_GEO_MAX_RX];
  struct lg_geo_opts o;
  take_map(l);
  prepare(l, rx, n, base, adj, &o);
  static const enum lg_geo_method methods[] = {LG_GEO_AUTO, LG_GEO_NLS, LG_GEO_FINGERPRINT,
                                               LG_GEO_CENTROID, LG_GEO_RSSI};
  double err[LG_ARRAY_LEN(methods)];
  bool ok[LG_ARRAY_LEN(methods)];
  for (size_t k = 0; k < LG_ARRAY_LEN(methods); k++) {
    struct lg_geo_fix fix;
    o.method = methods[k];
    ok[k] = lg_geo_solve(s, adj, n, &o, &fix, NULL, 0) == 0;
    err[k] = ok[k] ? lg_geo_distance_m(fix.lat_deg, fix.lon_deg, truth->lat_deg, truth->lon_deg)
                   : 0;
  }
  pthread_mutex_lock(&l->mu);
  for (size_t k = 0; k < LG_ARRAY_LEN(methods); k++)
    if (ok[k]) add_error(l, methods[k], err[k]);
  l->references++;
  pthread_mutex_unlock(&l->mu);
  /* then learn from it */
  learn_offsets(l, rx, n, truth);
  keep_point(l, rx, n, truth);
  size_t every = l->n_points / 5 > LIVE_REBUILD_EVERY ? l->n_points / 5 : LIVE_REBUILD_EVERY;
  if (l->n_points >= LIVE_MIN_MAP &&
      (l->map == NULL ? l->since_build >= LIVE_MIN_MAP : l->since_build >= every) &&
      rebuild_map(l))
    l->since_build = 0;
  return 0;
}

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int lg_geo_live_accuracy(struct lg_geo_live *l, enum lg_geo_method m, size_t *count,
                         double *median_m, double *p90_m) {
  if ((unsigned)m >= LG_GEO_METHOD_COUNT) return LG_EINVAL;
  double v[4096];
  pthread_mutex_lock(&l->mu);
  size_t n = l->err_n[m] < LG_ARRAY_LEN(v) ? l->err_n[m] : LG_ARRAY_LEN(v);
  memcpy(v, l->err[m], n * sizeof(double));
  pthread_mutex_unlock(&l->mu);
  *count = n;
  if (n == 0) return LG_ENOTFOUND;
  qsort(v, n, sizeof(double), cmp_dbl);
  *median_m = v[(n - 1) / 2];
  *p90_m = v[(size_t)(0.9 * (double)(n - 1))];
  return 0;
}

uint64_t lg_geo_live_references(struct lg_geo_live *l) {
  pthread_mutex_lock(&l->mu);
  uint64_t n = l->references;
  pthread_mutex_unlock(&l->mu);
  return n;
}

/* ---- tracks ------------------------------------------------------------------- */

int lg_geo_live_track(struct lg_geo_live *l, const struct lg_geo_solver *s, uint64_t device,
                      int64_t t_ns, const struct lg_geo_fix *fix, struct lg_geo_track_point *out) {
  struct live_track *t = NULL;
  HASH_FIND(hh, l->tracks, &device, sizeof(device), t);
  if (t) {
    HASH_DEL(l->tracks, t); /* re-added below: the hash's order is then least recent first */
  } else {
    if (l->n_tracks >= l->o.max_devices && l->tracks) {
      struct live_track *old = l->tracks;
      HASH_DEL(l->tracks, old);
      free(old);
      l->n_tracks--;
    }
    if ((t = calloc(1, sizeof(*t))) == NULL) return LG_ENOMEM;
    t->device = device;
    lg_track_init(&t->track, l->o.accel_sigma_mps2);
    struct lg_geodetic origin = {fix->lat_deg, fix->lon_deg, 0};
    lg_enu_init(&t->frame, &origin);
    l->n_tracks++;
  }
  HASH_ADD(hh, l->tracks, device, sizeof(t->device), t);
  struct lg_geodetic g = {fix->lat_deg, fix->lon_deg, 0};
  double enu[3];
  lg_enu_from_geodetic(&t->frame, &g, enu);
  double d2 = 0;
  int rc = lg_track_gate(&t->track, t_ns, enu[0], enu[1], fix->cov_en, &d2);
  if (rc) return rc; /* a frame older than the track, or no covariance */
  out->outlier = t->track.started && d2 > l->o.gate_d2;
  if (out->outlier && ++t->outliers >= LIVE_OUTLIERS) { /* it really is elsewhere now */
    lg_track_init(&t->track, l->o.accel_sigma_mps2);
    lg_enu_init(&t->frame, &g);
    lg_enu_from_geodetic(&t->frame, &g, enu);
    out->outlier = false;
  }
  if (!out->outlier) {
    t->outliers = 0;
    if ((rc = lg_track_update(&t->track, t_ns, enu[0], enu[1], fix->cov_en)) != 0) return rc;
  }
  double x[3] = {t->track.x[0], t->track.x[1], 0}, cov[3];
  /* the position as of this frame: predicted to t_ns when the fix was gated out */
  if (out->outlier) {
    double dt = (double)(t_ns - t->track.t_ns) * 1e-9;
    x[0] += t->track.x[2] * dt;
    x[1] += t->track.x[3] * dt;
  }
  cov[0] = t->track.p[0][0];
  cov[1] = t->track.p[0][1];
  cov[2] = t->track.p[1][1];
  lg_enu_to_geodetic(&t->frame, x, &g);
  out->lat_deg = g.lat_deg;
  out->lon_deg = g.lon_deg;
  out->accuracy_m = lg_geo_solver_radius(s, cov, false);
  out->speed_mps = hypot(t->track.x[2], t->track.x[3]);
  return 0;
}

size_t lg_geo_live_tracks(const struct lg_geo_live *l) {
  return l->n_tracks;
}

/* ---- persistence ----------------------------------------------------------------- */

/* The state file (offsets, noise scales, the learning's sums), naming the radio map file
 * beside it when there are points; written beside and renamed into place. */
static int write_state(struct lg_geo_live *l, const char *path, const char *map_path, char *why,
                       size_t why_len) {
  json_t *o = json_object(), *offs = json_object(), *sig = json_object(), *w = json_object();
  struct live_gateway *g, *gt;
  HASH_ITER(hh, l->gateways, g, gt) {
    json_object_set_new(offs, g->name, json_real(round(g->offset_ns * 10) / 10));
    json_object_set_new(sig, g->name, json_real(g->w > 0 ? sqrt(g->var_sum / g->w) : 0));
    json_t *st = json_pack("{s:f, s:f, s:f, s:I}", "w", g->w, "off_sum", g->off_sum, "var_sum",
                           g->var_sum, "samples", (json_int_t)g->samples);
    json_object_set_new(w, g->name, st);
  }
  json_object_set_new(o, "gateway_offsets_ns", offs);
  json_object_set_new(o, "gateway_sigma_ns", sig);
  json_object_set_new(o, "live",
                      json_pack("{s:o, s:f, s:f, s:I, s:f, s:f}", "gateways", w, "noise_factor",
                                l->noise_factor, "noise_dof", l->noise_dof, "references",
                                (json_int_t)l->references, "nlos_share", l->nlos_share,
                                "nlos_delay_ns", l->nlos_delay_ns));
  if (map_path) {
    const char *base = strrchr(map_path, '/');
    json_object_set_new(o, "radio_map", json_string(base ? base + 1 : map_path));
  }
  char tmp[4300];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  int rc = 0;
  if (json_dump_file(o, tmp, JSON_INDENT(1)) != 0 || rename(tmp, path) != 0) {
    snprintf(why, why_len, "cannot write %s", path);
    rc = LG_EIO;
  }
  json_decref(o);
  return rc;
}

void lg_geo_live_set_save_path(struct lg_geo_live *l, const char *path) {
  char map_path[sizeof(l->map_path)];
  snprintf(map_path, sizeof(map_path), "%s.radiomap.json", path);
  pthread_mutex_lock(&l->job_mu);
  if (strcmp(l->map_path, map_path) != 0) {
    memcpy(l->map_path, map_path, sizeof(map_path));
    l->map_written = false; /* a map file there is not one this object wrote (load reads it) */
  }
  pthread_mutex_unlock(&l->job_mu);
}

int lg_geo_live_save(struct lg_geo_live *l, const char *path, char *why, size_t why_len) {
  lg_geo_live_set_save_path(l, path);
  lg_geo_live_wait_idle(l); /* the slot's job writes the same file: it finishes first */
  if (l->n_points == 0) return write_state(l, path, NULL, why, why_len);
  char map_path[sizeof(l->map_path)];
  snprintf(map_path, sizeof(map_path), "%s.radiomap.json", path);
  /* the points, oldest first, as a radio map file (built on the way, so the file is what
   * solve reads) with the parameters of the map in use */
  struct lg_fp_builder *b = lg_fp_builder_new();
  struct lg_radio_map *m = NULL;
  for (size_t k = 0; b && k < l->n_points; k++) {
    const struct live_point *pt =
        &l->points[(l->next_point + l->o.max_points - l->n_points + k) % l->o.max_points];
    (void)lg_fp_builder_add(b, &pt->truth, pt->rx, pt->n);
  }
  struct lg_fp_params p = l->map ? lg_radio_map_params(l->map) : lg_fp_params_default();
  int rc = b && lg_fp_build(b, &p, &m) == 0 ? write_map_file(m, map_path) : LG_EIO;
  lg_radio_map_free(m);
  lg_fp_builder_free(b);
  if (rc) {
    snprintf(why, why_len, "cannot write %s", map_path);
    return rc;
  }
  pthread_mutex_lock(&l->job_mu);
  l->map_written = true;
  pthread_mutex_unlock(&l->job_mu);
  return write_state(l, path, map_path, why, why_len);
}

int lg_geo_live_save_soon(struct lg_geo_live *l, const char *path, char *why, size_t why_len) {
  lg_geo_live_set_save_path(l, path);
  pthread_mutex_lock(&l->job_mu);
  bool written = l->map_written;
  char failed[sizeof(l->save_why)];
  memcpy(failed, l->save_why, sizeof(failed));
  l->save_why[0] = '\0';
  pthread_mutex_unlock(&l->job_mu);
  char map_path[sizeof(l->map_path)];
  snprintf(map_path, sizeof(map_path), "%s.radiomap.json", path);
  int rc = write_state(l, path, written ? map_path : NULL, why, why_len);
  if (rc == 0) /* the state is saved; a failed background write is said all the same */
    snprintf(why, why_len, "%s", failed);
  return rc;
}

int lg_geo_live_load(struct lg_geo_live *l, const char *path, char *why, size_t why_len) {
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  if (root == NULL) {
    snprintf(why, why_len, "%s:%d: %s", path, err.line, err.text);
    return LG_EINVAL;
  }
  json_t *live = json_object_get(root, "live"), *gws = json_object_get(live, "gateways");
  int rc = LG_EINVAL;
  if (!json_is_object(live) || !json_is_object(gws)) {
    snprintf(why, why_len, "%s: not a file lorageo serve wrote (no \"live\")", path);
    goto out;
  }
  lg_geo_live_wait_idle(l); /* no rebuild runs while the points change under it */
  const char *name;
  json_t *v;
  json_object_foreach(gws, name, v) {
    struct live_gateway *g = gateway(l, name, true);
    json_t *w = json_object_get(v, "w"), *o = json_object_get(v, "off_sum"),
           *s = json_object_get(v, "var_sum"), *n = json_object_get(v, "samples");
    if (g == NULL || !json_is_number(w) || !json_is_number(o) || !json_is_number(s) ||
        !json_is_integer(n) || !(json_number_value(w) > 0)) {
      snprintf(why, why_len, "%s: gateway \"%s\": bad learned state", path, name);
      goto out;
    }
    g->w = json_number_value(w);
    g->off_sum = json_number_value(o);
    g->var_sum = json_number_value(s);
    g->samples = (size_t)json_integer_value(n);
    g->offset_ns = g->off_sum / g->w;
  }
  l->noise_factor = json_number_value(json_object_get(live, "noise_factor"));
  l->noise_dof = json_number_value(json_object_get(live, "noise_dof"));
  double share = json_number_value(json_object_get(live, "nlos_share"));
  double delay = json_number_value(json_object_get(live, "nlos_delay_ns"));
  if (share > 0 && share <= 0.2 && delay > 0 && delay <= 1e5) { /* else none: relearned */
    l->nlos_share = share;
    l->nlos_delay_ns = delay;
    l->nlos_rest = LIVE_NLOS_REST; /* kept, and relearned as after a lesson */
  }
  l->references = (uint64_t)json_integer_value(json_object_get(live, "references"));
  const char *map = json_string_value(json_object_get(root, "radio_map"));
  if (map) {
    char full[4200];
    const char *slash = strrchr(path, '/');
    if (map[0] == '/' || slash == NULL)
      snprintf(full, sizeof(full), "%s", map);
    else
      snprintf(full, sizeof(full), "%.*s/%s", (int)(slash - path), path, map);
    char sub[300];
    struct lg_radio_map *m = NULL;
    if (lg_radio_map_load(full, &m, sub, sizeof(sub)) != 0) {
      snprintf(why, why_len, "%s: %s", path, sub);
      goto out;
    }
    pthread_mutex_lock(&l->job_mu); /* the map file the saves write holds a whole map */
    if (strcmp(full, l->map_path) == 0) l->map_written = true;
    pthread_mutex_unlock(&l->job_mu);
    /* the points back into the ring (the map file holds them), the map built again */
    for (size_t i = 0; i < lg_radio_map_points(m); i++) {
      struct lg_geodetic truth;
      struct lg_geo_rx rx[LG_GEO_MAX_RX];
      size_t k = lg_radio_map_point(m, i, &truth, rx);
      keep_point(l, rx, k, &truth);
    }
    lg_radio_map_free(m);
    if (l->n_points > 0 && rebuild_map(l)) l->since_build = 0;
    lg_geo_live_wait_idle(l); /* a restarted server locates with its map at once */
  }
  rc = 0;
out:
  json_decref(root);
  return rc;
}
