/*
 * Censored levels, and what the network learns of its links from them.
 *
 * A gateway hears a frame only when its level (RSSI - TX power) is above the data rate's
 * sensitivity, so the levels heard are the kind fades of a link at the edge of reach: a
 * mean and spread fitted to them alone promise reach where there is none. Every uplink a
 * gateway missed says its level was below that sensitivity. The law is fitted to both (a
 * Tobit model, by expectation-maximisation); a miss that no fade explains (the law puts it
 * far above the sensitivity) is taken, in proportion, to have had another cause, a
 * collision (ADR_OTHER_LOSS).
 *
 * The link map (issue 20, item 3): per gateway and per square cell of the plane, the
 * levels heard from every device the network knows to be static there and the levels the
 * uplinks it missed were below, fitted the same way when asked (and kept until the cell
 * learns more). `predictive` takes a cell's law instead of the device's own path-loss
 * model where the cell has enough. Bounded: at most `max_entries` (gateway, cell) pairs;
 * past that, new ones are not learned (counted).
 */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>

#include "adr/adr_int.h"

#define OTHER_LOSS 0.02 /* a miss's prior chance of a cause other than a fade */
#define LEVELS     4    /* distinct sensitivities a cell keeps its misses at */
#define LAW_MIN    8    /* observations of a (gateway, cell) before its law is used */

void adr_censored_moments(double mu, double sigma, double t, double *w, double *e1, double *e2) {
  double a = (t - mu) / sigma, cdf = gsl_cdf_ugaussian_P(a);
  double lam = cdf > 1e-12 ? exp(-a * a / 2) / 2.5066282746310002 / cdf : -a;
  *e1 = mu - sigma * lam;
  *e2 = sigma * sigma * fmax(1 - a * lam - lam * lam, 0.01) + *e1 * *e1;
  *w = cdf / (cdf + OTHER_LOSS);
}

void adr_censored_normal(size_t nx, double sx, double sxx, const double *t, const double *count,
                         size_t nt, double *mu, double *sigma) {
  double m = nx ? sx / (double)nx : (nt ? t[0] - 6 : 0);
  double v = nx > 1 ? (sxx - sx * m) / (double)(nx - 1) : 0;
  double s = nx >= 5 ? fmax(sqrt(fmax(v, 0)), 2.0) : 6.0;
  for (int it = 0; it < 40 && nt > 0; it++) {
    double s1 = sx, s2 = sxx, n = (double)nx;
    for (size_t j = 0; j < nt; j++) {
      double w, e1, e2;
      adr_censored_moments(m, s, t[j], &w, &e1, &e2);
      w *= count ? count[j] : 1;
      s1 += w * e1, s2 += w * e2, n += w;
    }
    if (n <= 0) break;
    double m_next = s1 / n;
    if (nx >= 5) s = fmax(sqrt(fmax(s2 / n - m_next * m_next, 0)), 2.0);
    bool done = fabs(m_next - m) < 0.01;
    m = m_next;
    if (done) break;
  }
  *mu = m, *sigma = s;
}

struct cell {
  int32_t cx, cy;
  int gw; /* -1: free */
  uint32_t heard;
  double sx, sxx;
  float level[LEVELS], missed[LEVELS]; /* misses by the sensitivity they fell below */
  bool fresh;                          /* mu, sigma fitted to what it holds now */
  double mu, sigma;
};

struct lg_linkmap {
  double cell_m;
  size_t cap, used, max; /* slots (a power of two), taken, allowed */
  uint64_t refused;
  struct cell *c;
};

struct lg_linkmap *lg_linkmap_new(double cell_m, size_t max_entries) {
  struct lg_linkmap *m = calloc(1, sizeof(*m));
  size_t cap = 16;
  while (cap < 2 * max_entries)
    cap *= 2;
  if (m) m->c = malloc(cap * sizeof(*m->c));
  if (m == NULL || m->c == NULL || cell_m <= 0) {
    if (m) free(m->c);
    free(m);
    return NULL;
  }
  for (size_t i = 0; i < cap; i++)
    m->c[i].gw = -1;
  m->cell_m = cell_m, m->cap = cap, m->max = max_entries;
  return m;
}

void lg_linkmap_free(struct lg_linkmap *m) {
  if (m) free(m->c);
  free(m);
}

/* The slot of (gw, the cell of (e, n)): found, or a free one taken (create), or NULL. */
static struct cell *slot(struct lg_linkmap *m, int gw, double e, double n, bool create) {
  int32_t cx = (int32_t)floor(e / m->cell_m), cy = (int32_t)floor(n / m->cell_m);
  uint64_t h = ((uint64_t)(uint32_t)cx * 0x9E3779B97F4A7C15ULL) ^
               ((uint64_t)(uint32_t)cy * 0xC2B2AE3D27D4EB4FULL) ^ ((uint64_t)(uint32_t)gw * 0x165667B1ULL);
  for (size_t i = (size_t)(h ^ (h >> 29)) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    struct cell *c = &m->c[i];
    if (c->gw == gw && c->cx == cx && c->cy == cy) return c;
    if (c->gw >= 0) continue;
    if (!create) return NULL;
    if (m->used >= m->max) {
      m->refused++;
      return NULL;
    }
    m->used++;
    *c = (struct cell){.cx = cx, .cy = cy, .gw = gw};
    return c;
  }
}

void lg_linkmap_heard(struct lg_linkmap *m, int gw, double e, double n, double level_db) {
  struct cell *c = gw >= 0 ? slot(m, gw, e, n, true) : NULL;
  if (c == NULL) return;
  c->heard++, c->sx += level_db, c->sxx += level_db * level_db, c->fresh = false;
}

void lg_linkmap_missed(struct lg_linkmap *m, int gw, double e, double n, double below_db) {
  struct cell *c = gw >= 0 ? slot(m, gw, e, n, true) : NULL;
  if (c == NULL) return;
  size_t k = 0, near = 0; /* its sensitivity's bucket, a free one, or the nearest */
  while (k < LEVELS && c->missed[k] > 0 && fabsf(c->level[k] - (float)below_db) > 0.5f)
    k++;
  if (k == LEVELS) {
    for (size_t j = 1; j < LEVELS; j++)
      if (fabsf(c->level[j] - (float)below_db) < fabsf(c->level[near] - (float)below_db)) near = j;
    k = near;
  }
  if (c->missed[k] == 0) c->level[k] = (float)below_db;
  c->missed[k]++, c->fresh = false;
}

void lg_linkmap_uplink(struct lg_linkmap *m, const struct lg_adr_input *in, size_t i, double e,
                       double n) {
  const struct lg_adr_uplink *u = &in->history[i];
  double tx = adr_tx_power_dbm(in, u->tx_power_index), sens;
  if (m == NULL || u->n_rx == 0 || adr_dr_sensitivity(in->region, u->dr, &sens)) return;
  for (size_t g = 0; g < in->n_gateways && g < LG_ADR_MAX_GW; g++) {
    int j = 0;
    while (j < u->n_rx && (size_t)u->rx[j].gateway != g)
      j++;
    if (j < u->n_rx)
      lg_linkmap_heard(m, (int)g, e, n, u->rx[j].rssi_dbm - tx);
    else
      lg_linkmap_missed(m, (int)g, e, n, sens - tx);
  }
}

bool lg_linkmap_law(struct lg_linkmap *m, int gw, double e, double n, double *mu, double *sigma) {
  struct cell *c = m && gw >= 0 ? slot(m, gw, e, n, false) : NULL;
  if (c == NULL) return false;
  double seen = c->heard;
  for (size_t k = 0; k < LEVELS; k++)
    seen += c->missed[k];
  if (c->heard < 3 || seen < LAW_MIN) return false;
  if (!c->fresh) {
    double t[LEVELS], w[LEVELS];
    size_t nt = 0;
    for (size_t k = 0; k < LEVELS; k++)
      if (c->missed[k] > 0) t[nt] = c->level[k], w[nt++] = c->missed[k];
    adr_censored_normal(c->heard, c->sx, c->sxx, t, w, nt, &c->mu, &c->sigma);
    c->fresh = true;
  }
  *mu = c->mu, *sigma = c->sigma;
  return true;
}

size_t lg_linkmap_size(const struct lg_linkmap *m, uint64_t *refused) {
  if (refused) *refused = m ? m->refused : 0;
  return m ? m->used : 0;
}
