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
 * past that, new ones are not learned (counted). Saved to and loaded from a JSON file
 * (the server keeps it across restarts).
 */
#include <errno.h>
#include <fcntl.h>
#include <gsl/gsl_cdf.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adr/adr_int.h"
#include "util/util.h"

#define LEVELS     4    /* distinct sensitivities a cell keeps its misses at */
#define LAW_MIN    8    /* observations of a (gateway, cell) before its law is used */

struct cell {
  int32_t cx, cy;
  uint64_t gw;
  bool used;
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
  if (m) m->c = calloc(cap, sizeof(*m->c));
  if (m == NULL || m->c == NULL || !(cell_m > 0)) {
    if (m) free(m->c);
    free(m);
    return NULL;
  }
  m->cell_m = cell_m, m->cap = cap, m->max = max_entries;
  return m;
}

void lg_linkmap_free(struct lg_linkmap *m) {
  if (m) free(m->c);
  free(m);
}

/* The slot of gateway gw in cell (cx, cy): found, or a free one taken (create), or NULL. */
static struct cell *cell_at(struct lg_linkmap *m, uint64_t gw, int32_t cx, int32_t cy,
                            bool create) {
  uint64_t h = ((uint64_t)(uint32_t)cx * 0x9E3779B97F4A7C15ULL) ^
               ((uint64_t)(uint32_t)cy * 0xC2B2AE3D27D4EB4FULL) ^ (gw * 0x165667B19E3779F9ULL);
  for (size_t i = (size_t)(h ^ (h >> 29)) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    struct cell *c = &m->c[i];
    if (c->used && c->gw == gw && c->cx == cx && c->cy == cy) return c;
    if (c->used) continue;
    if (!create) return NULL;
    if (m->used >= m->max) {
      m->refused++;
      return NULL;
    }
    m->used++;
    *c = (struct cell){.cx = cx, .cy = cy, .gw = gw, .used = true};
    return c;
  }
}

/* The slot of (gw, the cell of (e, n)). */
static struct cell *slot(struct lg_linkmap *m, uint64_t gw, double e, double n, bool create) {
  double x = floor(e / m->cell_m), y = floor(n / m->cell_m);
  if (!(fabs(x) < 2e9 && fabs(y) < 2e9)) return NULL; /* not a place on the plane */
  return cell_at(m, gw, (int32_t)x, (int32_t)y, create);
}

void lg_linkmap_heard(struct lg_linkmap *m, uint64_t gw, double e, double n, double level_db) {
  struct cell *c = m && isfinite(level_db) ? slot(m, gw, e, n, true) : NULL;
  if (c == NULL) return;
  c->heard++, c->sx += level_db, c->sxx += level_db * level_db, c->fresh = false;
}

/* Counts a miss below `below_db` in c: its sensitivity's bucket, a free one, or the
 * nearest. */
static void add_missed(struct cell *c, double below_db, float count) {
  size_t k = 0, near = 0;
  while (k < LEVELS && c->missed[k] > 0 && fabsf(c->level[k] - (float)below_db) > 0.5f)
    k++;
  if (k == LEVELS) {
    for (size_t j = 1; j < LEVELS; j++)
      if (fabsf(c->level[j] - (float)below_db) < fabsf(c->level[near] - (float)below_db)) near = j;
    k = near;
  }
  if (c->missed[k] == 0) c->level[k] = (float)below_db;
  c->missed[k] += count, c->fresh = false;
}

void lg_linkmap_missed(struct lg_linkmap *m, uint64_t gw, double e, double n, double below_db) {
  struct cell *c = m && isfinite(below_db) ? slot(m, gw, e, n, true) : NULL;
  if (c) add_missed(c, below_db, 1);
}

void lg_linkmap_uplink(struct lg_linkmap *m, const struct lg_adr_input *in, size_t i, double e,
                       double n) {
  const struct lg_adr_uplink *u = &in->history[i];
  double tx = adr_tx_power_dbm(in, u->tx_power_index), sens;
  if (m == NULL || u->n_rx == 0 || adr_dr_sensitivity(in->region, u->dr, &sens)) return;
  /* more gateways heard it than receptions are kept (the strongest LG_ADR_MAX_RX): one
   * not among them may have heard it too, so no gateway is taken to have missed it */
  bool complete = u->gateways <= u->n_rx;
  for (size_t g = 0; g < in->n_gateways && g < LG_ADR_MAX_GW; g++) {
    int j = 0;
    while (j < u->n_rx && (size_t)u->rx[j].gateway != g)
      j++;
    if (j < u->n_rx)
      lg_linkmap_heard(m, in->gateways[g].id, e, n, u->rx[j].rssi_dbm - tx);
    else if (complete)
      lg_linkmap_missed(m, in->gateways[g].id, e, n, sens - tx);
  }
}

bool lg_linkmap_has(struct lg_linkmap *m, uint64_t gw, double e, double n) {
  return m && slot(m, gw, e, n, false) != NULL;
}

bool lg_linkmap_law(struct lg_linkmap *m, uint64_t gw, double e, double n, double *mu,
                    double *sigma) {
  struct cell *c = m ? slot(m, gw, e, n, false) : NULL;
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

size_t lg_linkmap_cells(struct lg_linkmap *m, uint64_t gw, struct lg_linkmap_cell *out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; m && i < m->cap; i++) {
    struct cell *c = &m->c[i];
    if (!c->used || c->gw != gw) continue;
    if (n < cap) {
      double missed = 0;
      for (size_t k = 0; k < LEVELS; k++)
        missed += c->missed[k];
      out[n] = (struct lg_linkmap_cell){c->cx, c->cy, c->heard, missed, false, 0, 0};
      double ce = (c->cx + 0.5) * m->cell_m, cn = (c->cy + 0.5) * m->cell_m;
      out[n].has_law = lg_linkmap_law(m, gw, ce, cn, &out[n].mu, &out[n].sigma);
    }
    n++;
  }
  return n;
}

struct lg_linkmap *lg_linkmap_extract(const struct lg_linkmap *m, uint64_t gw, size_t max_entries) {
  struct lg_linkmap *x = lg_linkmap_new(m ? m->cell_m : 1, max_entries);
  for (size_t i = 0; x && m && i < m->cap; i++) {
    const struct cell *c = &m->c[i];
    struct cell *d = c->used && c->gw == gw ? cell_at(x, gw, c->cx, c->cy, true) : NULL;
    if (d) *d = *c;
  }
  return x;
}

double lg_linkmap_cell_m(const struct lg_linkmap *m) {
  return m ? m->cell_m : 0;
}

struct lg_linkmap *lg_linkmap_clone(const struct lg_linkmap *m) {
  struct lg_linkmap *c = malloc(sizeof(*c));
  if (c) *c = *m, c->c = malloc(m->cap * sizeof(*m->c));
  if (c == NULL || c->c == NULL) {
    free(c);
    return NULL;
  }
  memcpy(c->c, m->c, m->cap * sizeof(*m->c));
  return c;
}

size_t lg_linkmap_size(const struct lg_linkmap *m, uint64_t *refused) {
  if (refused) *refused = m ? m->refused : 0;
  return m ? m->used : 0;
}

/*
 * The file: {"format": "lorageo-linkmap", "version": 1, "origin": {"lat", "lon"},
 * "cell_m", "cells": [[gateway (16 hex digits), cx, cy, heard, sum of levels, sum of their
 * squares, [[below_db, misses], ...]], ...]}.
 */
int lg_linkmap_save(const struct lg_linkmap *m, const double origin[2], const char *path,
                    char *why, size_t why_len) {
  json_t *cells = json_array(), *o = NULL;
  for (size_t i = 0; cells && i < m->cap; i++) {
    const struct cell *c = &m->c[i];
    if (!c->used) continue;
    json_t *missed = json_array();
    for (size_t k = 0; missed && k < LEVELS; k++)
      if (c->missed[k] > 0)
        json_array_append_new(missed, json_pack("[f, f]", (double)c->level[k], (double)c->missed[k]));
    char eui[17];
    snprintf(eui, sizeof(eui), "%016llx", (unsigned long long)c->gw);
    json_array_append_new(cells, json_pack("[s, i, i, I, f, f, o]", eui, (int)c->cx, (int)c->cy,
                                           (json_int_t)c->heard, c->sx, c->sxx, missed));
  }
  if (cells)
    o = json_pack("{s:s, s:i, s:{s:f, s:f}, s:f, s:o}", "format", "lorageo-linkmap", "version", 1,
                  "origin", "lat", origin[0], "lon", origin[1], "cell_m", m->cell_m, "cells", cells);
  char tmp[4200];
  int rc = LG_EIO, fd = -1;
  if (o == NULL || snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
    snprintf(why, why_len, "cannot write %s: out of memory or too long a name", path);
  } else if (json_dump_file(o, tmp, JSON_COMPACT) != 0 || (fd = open(tmp, O_RDONLY)) < 0 ||
             fsync(fd) != 0 || rename(tmp, path) != 0) {
    /* written whole and on disk before it replaces the last one: a crash leaves either */
    snprintf(why, why_len, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
  } else {
    rc = 0;
  }
  if (fd >= 0) close(fd);
  json_decref(o);
  return rc;
}

static int bad(char *why, size_t why_len, const char *path, const char *what) {
  snprintf(why, why_len, "%s: %s", path, what);
  return LG_EINVAL;
}

int lg_linkmap_load(const char *path, size_t max_entries, struct lg_linkmap **out,
                    double origin[2], char *why, size_t why_len) {
  json_error_t err;
  json_t *o = json_load_file(path, 0, &err), *cells = NULL;
  const char *format = NULL;
  int version = 0;
  double cell_m = 0;
  *out = NULL;
  if (o == NULL) {
    snprintf(why, why_len, "%s: %s (line %d)", path, err.text, err.line);
    return LG_EINVAL;
  }
  if (json_unpack(o, "{s:s, s:i, s:{s:F, s:F}, s:F, s:o}", "format", &format, "version", &version,
                  "origin", "lat", &origin[0], "lon", &origin[1], "cell_m", &cell_m, "cells",
                  &cells) != 0 ||
      strcmp(format, "lorageo-linkmap") != 0 || !json_is_array(cells)) {
    json_decref(o);
    return bad(why, why_len, path, "not a link map (format, version, origin, cell_m, cells)");
  }
  if (version != 1 || !(cell_m >= 1 && cell_m <= 1e5) || !(fabs(origin[0]) <= 90) ||
      !(fabs(origin[1]) <= 180)) {
    json_decref(o);
    return bad(why, why_len, path, "unsupported version, cell size or origin");
  }
  struct lg_linkmap *m = lg_linkmap_new(cell_m, max_entries);
  if (m == NULL) {
    json_decref(o);
    return bad(why, why_len, path, "out of memory");
  }
  size_t i;
  json_t *e;
  json_array_foreach(cells, i, e) {
    const char *eui;
    json_int_t cx, cy, heard;
    double sx, sxx;
    json_t *missed;
    uint8_t b[8];
    size_t nb = 0;
    if (json_unpack(e, "[s, I, I, I, F, F, o]", &eui, &cx, &cy, &heard, &sx, &sxx, &missed) != 0 ||
        strlen(eui) != 16 || lg_hex_decode(eui, 16, b, sizeof(b), &nb) != 0 ||
        cx < INT32_MIN || cx > INT32_MAX || cy < INT32_MIN || cy > INT32_MAX || heard < 0 ||
        heard > 1000000000 || !(heard == 0 ? sx == 0 && sxx == 0
                                           : fabs(sx) <= 400.0 * (double)heard &&
                                                 sxx >= 0 && sxx <= 160000.0 * (double)heard) ||
        !json_is_array(missed)) {
      char what[100];
      snprintf(what, sizeof(what), "cell %zu is not [gateway, cx, cy, heard, sum, sum of squares, misses] in range", i);
      lg_linkmap_free(m);
      json_decref(o);
      return bad(why, why_len, path, what);
    }
    uint64_t gw = 0;
    for (size_t k = 0; k < 8; k++)
      gw = gw << 8 | b[k];
    struct cell *c = cell_at(m, gw, (int32_t)cx, (int32_t)cy, true);
    if (c == NULL) continue; /* over this server's cap: counted as refused */
    if (c->heard > 0 || c->missed[0] > 0) {
      lg_linkmap_free(m);
      json_decref(o);
      return bad(why, why_len, path, "a (gateway, cell) pair given twice");
    }
    c->heard = (uint32_t)heard, c->sx = sx, c->sxx = sxx, c->fresh = false;
    size_t k;
    json_t *mv;
    json_array_foreach(missed, k, mv) {
      double below, count;
      if (json_unpack(mv, "[F, F]", &below, &count) == 0 && fabs(below) <= 400 && count > 0 &&
          count < 1e9)
        add_missed(c, below, (float)count);
    }
  }
  json_decref(o);
  *out = m;
  return 0;
}
