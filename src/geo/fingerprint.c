/*
 * Fingerprinting: locating a frame from which gateways heard it, and how loudly, by
 * comparing with frames whose position was known (a radio map learned by `lorageo
 * calibrate` from records with `truth`).
 *
 * The map keeps its training points (position, RSSI per gateway) and derives from them,
 * on load, a model of what each gateway hears where: the points are binned into cells
 * of `cell_m`; for every cell and gateway a Gaussian kernel (`kernel_m`) over the
 * nearby points gives the chance p that the gateway hears a frame sent there and the
 * mean and spread of its RSSI when it does. A frame is located by the likelihood of
 * what it shows in each cell:
 *
 *   log L(c) = sum over heard g   [ log p_cg + log N(rssi_g; mu_cg, var_cg) ]
 *            + sum over unheard g [ log (1 - p_cg) ]
 *
 * — "not heard by gateway G" is information: a frame nobody near G missed cannot be
 * near G. The unheard sum is precomputed per cell over all gateways (`base`) and the
 * heard gateways' terms are corrected, so a query costs (cells x heard gateways).
 *
 * A frame's RSSIs share an error the map cannot know: its transmitter's antenna and
 * power, the vehicle around it, the fading of the moment at the device. With that
 * common offset b ~ N(0, tau^2) (tau = `offset_db`) integrated out, the heard gateways'
 * Gaussian terms (residuals d_g, inverse variances w_g) become
 *
 *   -1/2 sum w_g d_g^2 + 1/2 (sum w_g d_g)^2 / (1/tau^2 + sum w_g) - 1/2 log(1 + tau^2 sum w_g)
 *
 * (the marginal of a Gaussian linear model, e.g. Bishop, PRML eq. 2.115): a frame
 * uniformly a few dB louder or quieter than the map no longer counts as a mismatch at
 * every gateway, while the differences between gateways keep their full weight. tau
 * is not set by hand: lg_fp_cross_validate picks it by two-fold cross-validation over
 * the training points themselves.
 *
 * The fix is the weighted mean of the cells within a thousandth of the best one's weight
 * (FP_WEIGHT_FLOOR), each weighed by its likelihood to the power `sharpen`: 1 is the
 * posterior mean (what minimises the expected squared error if the model were exact),
 * larger values lean towards the most likely cell (the MAP, sharpen -> infinity). Where
 * between the two is best depends on how far the model is from the truth, so
 * cross-validation over the training points chooses it, with tau.
 * The fix's spread, scaled by factors the same cross-validation measured, gives
 * `accuracy_m` (68 %) and `accuracy_95_m`.
 *
 * Choices measured on the Antwerp development split (docs/geolocation.md): 50 m cells,
 * a 100 m kernel, a per-cell RSSI variance shrunk towards 4 dB with the weight of two
 * points (the city's spread varies from street to street), a Beta(0.5, 1) prior on p.
 * Against a weighted kNN in signal space on the same split the median error falls by
 * about 45 % and the mean by 20 %.
 *
 * The two baselines live here too, so they run from the same map: `knn` (weighted
 * k-nearest neighbours in signal space, an unheard gateway at the map's floor) and
 * `centroid` (the RSSI-weighted centroid of the hearing gateways, no map needed).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "geo/problem.h"
#include "util/util.h"

#define FP_FORMAT       "lorageo-radio-map"
#define FP_VERSION      2 /* 2: offset_db and sharpen (version 1 files read as 0 and 1) */
#define FP_WEIGHT_FLOOR 6.907755 /* log(1000): every cell within 1/1000 of the best weighs */
#define FP_KNN_K        5   /* neighbours of the kNN baseline */
#define FP_P_HEARD      0.5 /* Beta prior of p: pseudo-counts heard ... */
#define FP_P_UNHEARD    1.0 /* ... and not heard */
#define FP_VAR_WEIGHT   2.0 /* points' worth of the prior RSSI variance */
#define FP_NOT_HEARD_DB -200.0

struct lg_radio_map {
  struct lg_fp_params prm;
  struct lg_enu_frame frame;
  size_t n_gw;
  char (*gw)[LG_CAL_NAME_MAX];
  size_t *gw_sorted; /* indexes of gw by name, for bsearch */
  /* training points */
  size_t n_pts;
  double *pt_en;    /* 2 per point */
  float *pt_rssi;   /* n_pts x n_gw, FP_NOT_HEARD_DB where not heard */
  double *pt_floor; /* per point: sum over gateways of (rssi or floor - floor)^2 */
  /* the model per cell */
  size_t n_cells;
  double *cell_en; /* 2 per cell: its centre */
  double *base;    /* sum over all gateways of log(1 - p) */
  struct fp_term {
    float gain; /* log p - log(1 - p) - log(sd) */
    float mu;   /* mean RSSI when heard */
    float iv;   /* 1 / variance */
  } * term;     /* n_cells x n_gw, one cache line serves a (cell, gateway) pair */
  /* per gateway, the cells where the points within the kernel's reach heard it: a frame
   * is only compared with the cells its strongest gateway covers */
  size_t *heard_start; /* n_gw + 1 offsets into heard_cells */
  uint32_t *heard_cells;
};

struct lg_fp_params lg_fp_params_default(void) {
  struct lg_fp_params p = {
      .cell_m = 50.0,
      .kernel_m = 100.0,
      .sigma_db = 4.0,
      .floor_dbm = -125.0,
      .offset_db = 0.0,
      .sharpen = 1.0,
      .k68 = 0.0,
      .k95 = 0.0,
  };
  return p;
}

/* ---- building ------------------------------------------------------------------ */

struct fp_point {
  double lat_deg, lon_deg;
  size_t n;
  int gw[LG_GEO_MAX_RX];
  double rssi[LG_GEO_MAX_RX];
};

struct lg_fp_builder {
  size_t n_gw, cap_gw;
  char (*gw)[LG_CAL_NAME_MAX];
  double *gw_lat, *gw_lon;
  size_t n, cap;
  struct fp_point *pts;
};

struct lg_fp_builder *lg_fp_builder_new(void) {
  return calloc(1, sizeof(struct lg_fp_builder));
}

void lg_fp_builder_free(struct lg_fp_builder *b) {
  if (b == NULL) return;
  free(b->gw);
  free(b->gw_lat);
  free(b->gw_lon);
  free(b->pts);
  free(b);
}

size_t lg_fp_builder_count(const struct lg_fp_builder *b) {
  return b->n;
}

static int builder_gateway(struct lg_fp_builder *b, const char *name, double lat, double lon) {
  for (size_t i = 0; i < b->n_gw; i++)
    if (strcmp(b->gw[i], name) == 0) return (int)i;
  if (strlen(name) >= LG_CAL_NAME_MAX) return LG_ETOOLONG;
  if (b->n_gw == b->cap_gw) {
    size_t cap = b->cap_gw ? 2 * b->cap_gw : 32;
    if (cap > LG_CAL_MAX_GW) return LG_ETOOLONG;
    char(*g)[LG_CAL_NAME_MAX] = realloc(b->gw, cap * sizeof(*g));
    if (g) b->gw = g;
    double *la = realloc(b->gw_lat, cap * sizeof(double));
    if (la) b->gw_lat = la;
    double *lo = realloc(b->gw_lon, cap * sizeof(double));
    if (lo) b->gw_lon = lo;
    if (!g || !la || !lo) return LG_ENOMEM;
    b->cap_gw = cap;
  }
  snprintf(b->gw[b->n_gw], LG_CAL_NAME_MAX, "%s", name);
  b->gw_lat[b->n_gw] = lat;
  b->gw_lon[b->n_gw] = lon;
  return (int)b->n_gw++;
}

int lg_fp_builder_add(struct lg_fp_builder *b, const struct lg_geodetic *truth,
                      const struct lg_geo_rx *rx, size_t n) {
  if (!(fabs(truth->lat_deg) <= 90 && fabs(truth->lon_deg) <= 180)) return LG_EINVAL;
  if (b->n == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 1024;
    struct fp_point *p = realloc(b->pts, cap * sizeof(*p));
    if (p == NULL) return LG_ENOMEM;
    b->pts = p;
    b->cap = cap;
  }
  struct fp_point *p = &b->pts[b->n];
  p->lat_deg = truth->lat_deg;
  p->lon_deg = truth->lon_deg;
  p->n = 0;
  for (size_t i = 0; i < n && i < LG_GEO_MAX_RX; i++) {
    if (!rx[i].has_rssi || rx[i].name == NULL || !isfinite(rx[i].rssi_dbm)) continue;
    int g = builder_gateway(b, rx[i].name, rx[i].lat_deg, rx[i].lon_deg);
    if (g < 0) return g;
    bool dup = false; /* a gateway counts once: its strongest copy */
    for (size_t k = 0; k < p->n; k++)
      if (p->gw[k] == g) {
        if (rx[i].rssi_dbm > p->rssi[k]) p->rssi[k] = rx[i].rssi_dbm;
        dup = true;
      }
    if (dup) continue;
    p->gw[p->n] = g;
    p->rssi[p->n++] = rx[i].rssi_dbm;
  }
  if (p->n == 0) return LG_EINVAL;
  b->n++;
  return 0;
}

/* ---- the map: model derived from the points ------------------------------------ */

/* Orders gw_sorted by name (insertion sort: at most LG_CAL_MAX_GW, once per load). */
static void sort_gateways(struct lg_radio_map *m) {
  for (size_t i = 0; i < m->n_gw; i++) {
    size_t v = i, j = i;
    for (; j > 0 && strcmp(m->gw[m->gw_sorted[j - 1]], m->gw[v]) > 0; j--)
      m->gw_sorted[j] = m->gw_sorted[j - 1];
    m->gw_sorted[j] = v;
  }
}

static int gw_lookup(const struct lg_radio_map *m, const char *name) {
  size_t lo = 0, hi = m->n_gw;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(m->gw[m->gw_sorted[mid]], name);
    if (c == 0) return (int)m->gw_sorted[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

void lg_radio_map_free(struct lg_radio_map *m) {
  if (m == NULL) return;
  free(m->gw);
  free(m->gw_sorted);
  free(m->pt_en);
  free(m->pt_rssi);
  free(m->pt_floor);
  free(m->cell_en);
  free(m->base);
  free(m->term);
  free(m->heard_start);
  free(m->heard_cells);
  free(m);
}

struct cell_key {
  int64_t ix, iy;
  size_t idx;
};

static int cmp_cell_key(const void *a, const void *b) {
  const struct cell_key *x = a, *y = b;
  if (x->ix != y->ix) return (x->ix > y->ix) - (x->ix < y->ix);
  return (x->iy > y->iy) - (x->iy < y->iy);
}

/* Kernel sums of one cell from the points in the 3x3 blocks of `block_m` around it. */
static void cell_model(struct lg_radio_map *m, size_t c, const struct cell_key *blocks,
                       size_t n_blocks, double block_m, double *h, double *s, double *s2,
                       uint8_t *heard) {
  const double *ce = &m->cell_en[2 * c];
  const double inv2h2 = 1.0 / (2.0 * m->prm.kernel_m * m->prm.kernel_m);
  const double reach2 = 9.0 * m->prm.kernel_m * m->prm.kernel_m;
  size_t G = m->n_gw;
  memset(h, 0, G * sizeof(double));
  memset(s, 0, G * sizeof(double));
  memset(s2, 0, G * sizeof(double));
  double w_sum = 0;
  int64_t bx = (int64_t)floor(ce[0] / block_m), by = (int64_t)floor(ce[1] / block_m);
  for (int64_t dx = -1; dx <= 1; dx++) {
    struct cell_key lo = {bx + dx, by - 1, 0};
    /* blocks are sorted by (ix, iy): find the first of this column at or above by-1 */
    size_t a = 0, z = n_blocks;
    while (a < z) {
      size_t mid = (a + z) / 2;
      if (cmp_cell_key(&blocks[mid], &lo) < 0)
        a = mid + 1;
      else
        z = mid;
    }
    for (size_t k = a; k < n_blocks && blocks[k].ix == bx + dx && blocks[k].iy <= by + 1; k++) {
      size_t i = blocks[k].idx;
      double de = m->pt_en[2 * i] - ce[0], dn = m->pt_en[2 * i + 1] - ce[1];
      double d2 = de * de + dn * dn;
      if (d2 > reach2) continue;
      double w = exp(-d2 * inv2h2);
      w_sum += w;
      const float *r = &m->pt_rssi[i * G];
      for (size_t g = 0; g < G; g++) {
        if (r[g] <= FP_NOT_HEARD_DB) continue;
        h[g] += w;
        s[g] += w * r[g];
        s2[g] += w * r[g] * r[g];
      }
    }
  }
  double base = 0;
  double var0 = m->prm.sigma_db * m->prm.sigma_db;
  for (size_t g = 0; g < G; g++) {
    double p = (h[g] + FP_P_HEARD) / (w_sum + FP_P_HEARD + FP_P_UNHEARD);
    double mu = (s[g] + m->prm.floor_dbm * FP_P_HEARD) / (h[g] + FP_P_HEARD);
    double var = var0;
    if (h[g] > 1e-12) {
      double mean = s[g] / h[g];
      double v = fmax(0.0, s2[g] / h[g] - mean * mean);
      var = (v * h[g] + var0 * FP_VAR_WEIGHT) / (h[g] + FP_VAR_WEIGHT);
    }
    base += log1p(-p);
    m->term[c * G + g] = (struct fp_term){(float)(log(p) - log1p(-p) - 0.5 * log(var)),
                                          (float)mu, (float)(1.0 / var)};
    heard[g] = h[g] > 0;
  }
  m->base[c] = base;
}

/* Per gateway, the cells where a point within the kernel's reach (3 kernels) heard it
 * (heard[c * G + g]); elsewhere the model has only the prior: heard at the floor with a
 * small p, a cell no frame its strongest gateway heard loudly will prefer. */
static int heard_index(struct lg_radio_map *m, const uint8_t *heard) {
  size_t G = m->n_gw, total = 0;
  for (size_t i = 0; i < m->n_cells * G; i++)
    total += heard[i];
  m->heard_cells = malloc((total ? total : 1) * sizeof(uint32_t));
  if (m->heard_cells == NULL || m->n_cells > UINT32_MAX) return LG_ENOMEM;
  size_t k = 0;
  for (size_t g = 0; g < G; g++) {
    m->heard_start[g] = k;
    for (size_t c = 0; c < m->n_cells; c++)
      if (heard[c * G + g]) m->heard_cells[k++] = (uint32_t)c;
  }
  m->heard_start[G] = k;
  return 0;
}

/* Derives cells and their model from the points (m->pt_* and the gateways set). */
static int map_derive(struct lg_radio_map *m) {
  size_t N = m->n_pts, G = m->n_gw;
  double cell = m->prm.cell_m, block = 3.0 * m->prm.kernel_m;
  struct cell_key *keys = malloc(N * sizeof(*keys));
  struct cell_key *blocks = malloc(N * sizeof(*blocks));
  double *h = malloc(3 * G * sizeof(double));
  m->gw_sorted = malloc(G * sizeof(size_t));
  m->pt_floor = malloc(N * sizeof(double));
  int rc = LG_ENOMEM;
  if (!keys || !blocks || !h || !m->gw_sorted || !m->pt_floor) goto out;
  sort_gateways(m);
  for (size_t i = 0; i < N; i++) {
    double e = m->pt_en[2 * i], n = m->pt_en[2 * i + 1];
    keys[i] = (struct cell_key){(int64_t)floor(e / cell), (int64_t)floor(n / cell), i};
    blocks[i] = (struct cell_key){(int64_t)floor(e / block), (int64_t)floor(n / block), i};
    double f = 0;
    for (size_t g = 0; g < G; g++) {
      float r = m->pt_rssi[i * G + g];
      if (r > FP_NOT_HEARD_DB) f += (r - m->prm.floor_dbm) * (r - m->prm.floor_dbm);
    }
    m->pt_floor[i] = f;
  }
  qsort(keys, N, sizeof(*keys), cmp_cell_key);
  qsort(blocks, N, sizeof(*blocks), cmp_cell_key);
  size_t nc = 0;
  for (size_t i = 0; i < N; i++)
    if (i == 0 || cmp_cell_key(&keys[i], &keys[i - 1]) != 0) nc++;
  m->n_cells = nc;
  m->cell_en = malloc(2 * nc * sizeof(double));
  m->base = malloc(nc * sizeof(double));
  m->term = malloc(nc * G * sizeof(*m->term));
  m->heard_start = calloc(G + 1, sizeof(size_t));
  if (!m->cell_en || !m->base || !m->term || !m->heard_start) goto out;
  size_t c = 0;
  for (size_t i = 0; i < N; i++) {
    if (i > 0 && cmp_cell_key(&keys[i], &keys[i - 1]) == 0) continue;
    m->cell_en[2 * c] = ((double)keys[i].ix + 0.5) * cell;
    m->cell_en[2 * c + 1] = ((double)keys[i].iy + 0.5) * cell;
    c++;
  }
  uint8_t *heard = malloc(nc * G);
  if (heard == NULL) goto out;
  for (c = 0; c < nc; c++)
    cell_model(m, c, blocks, N, block, h, h + G, h + 2 * G, heard + c * G);
  rc = heard_index(m, heard);
  free(heard);
out:
  free(keys);
  free(blocks);
  free(h);
  return rc;
}

/* A map from gateways (names, positions) and points (lat/lon + per-gateway RSSI). */
static struct lg_radio_map *map_new(const struct lg_fp_params *prm, size_t n_gw, size_t n_pts) {
  struct lg_radio_map *m = calloc(1, sizeof(*m));
  if (m == NULL) return NULL;
  m->prm = *prm;
  m->n_gw = n_gw;
  m->n_pts = n_pts;
  m->gw = calloc(n_gw ? n_gw : 1, sizeof(*m->gw));
  m->pt_en = malloc(2 * (n_pts ? n_pts : 1) * sizeof(double));
  m->pt_rssi = malloc((n_pts * n_gw > 0 ? n_pts * n_gw : 1) * sizeof(float));
  if (!m->gw || !m->pt_en || !m->pt_rssi) {
    lg_radio_map_free(m);
    return NULL;
  }
  for (size_t i = 0; i < n_pts * n_gw; i++)
    m->pt_rssi[i] = (float)FP_NOT_HEARD_DB;
  return m;
}

static void map_set_origin(struct lg_radio_map *m, double lat_deg, double lon_deg) {
  struct lg_geodetic o = {lat_deg, lon_deg, 0};
  lg_enu_init(&m->frame, &o);
}

static void map_point(struct lg_radio_map *m, size_t i, double lat_deg, double lon_deg) {
  struct lg_geodetic g = {lat_deg, lon_deg, 0};
  double enu[3];
  lg_enu_from_geodetic(&m->frame, &g, enu);
  m->pt_en[2 * i] = enu[0];
  m->pt_en[2 * i + 1] = enu[1];
}

int lg_fp_build(const struct lg_fp_builder *b, const struct lg_fp_params *prm,
                struct lg_radio_map **out) {
  *out = NULL;
  if (b->n == 0 || b->n_gw == 0) return LG_EINVAL;
  struct lg_radio_map *m = map_new(prm, b->n_gw, b->n);
  if (m == NULL) return LG_ENOMEM;
  double lat = 0, lon = 0;
  for (size_t i = 0; i < b->n; i++) {
    lat += b->pts[i].lat_deg;
    lon += b->pts[i].lon_deg;
  }
  map_set_origin(m, lat / (double)b->n, lon / (double)b->n);
  for (size_t g = 0; g < b->n_gw; g++)
    memcpy(m->gw[g], b->gw[g], LG_CAL_NAME_MAX);
  for (size_t i = 0; i < b->n; i++) {
    const struct fp_point *p = &b->pts[i];
    map_point(m, i, p->lat_deg, p->lon_deg);
    for (size_t k = 0; k < p->n; k++)
      m->pt_rssi[i * b->n_gw + (size_t)p->gw[k]] = (float)p->rssi[k];
  }
  int rc = map_derive(m);
  if (rc) {
    lg_radio_map_free(m);
    return rc;
  }
  *out = m;
  return 0;
}

size_t lg_radio_map_points(const struct lg_radio_map *m) {
  return m->n_pts;
}

size_t lg_radio_map_point(const struct lg_radio_map *m, size_t i, struct lg_geodetic *truth,
                          struct lg_geo_rx rx[LG_GEO_MAX_RX]) {
  double enu[3] = {m->pt_en[2 * i], m->pt_en[2 * i + 1], 0};
  lg_enu_to_geodetic(&m->frame, enu, truth);
  size_t k = 0;
  for (size_t g = 0; g < m->n_gw && k < LG_GEO_MAX_RX; g++) {
    float r = m->pt_rssi[i * m->n_gw + g];
    if (r <= FP_NOT_HEARD_DB) continue;
    rx[k++] = (struct lg_geo_rx){.has_rssi = true, .rssi_dbm = r, .name = m->gw[g]};
  }
  return k;
}

size_t lg_radio_map_cells(const struct lg_radio_map *m) {
  return m->n_cells;
}

struct lg_fp_params lg_radio_map_params(const struct lg_radio_map *m) {
  return m->prm;
}


/* ---- locating ------------------------------------------------------------------ */

/* The query's receptions as (gateway index, RSSI), each map gateway once (strongest). */
static size_t query_of(const struct lg_radio_map *m, const struct lg_geo_rx *rx, size_t n,
                       int *gw, double *rssi) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!rx[i].has_rssi || rx[i].name == NULL || !isfinite(rx[i].rssi_dbm)) continue;
    int g = gw_lookup(m, rx[i].name);
    if (g < 0) continue;
    bool dup = false;
    for (size_t j = 0; j < k; j++)
      if (gw[j] == g) {
        if (rx[i].rssi_dbm > rssi[j]) rssi[j] = rx[i].rssi_dbm;
        dup = true;
      }
    if (dup) continue;
    gw[k] = g;
    rssi[k++] = rx[i].rssi_dbm;
  }
  return k;
}

/* The fix from a weighted set of points: their weighted mean, and their spread about it
 * (plus floor_var per axis) as its radii (below). */
struct moments {
  double ws, e, n, ee, en, nn; /* sums of w, w e, w n, w e^2, w e n, w n^2 */
  double e0, n0;               /* the origin of the sums (the first point): no cancellation */
};

static void moments_add(struct moments *mo, double w, double e, double n) {
  if (mo->ws == 0) mo->e0 = e, mo->n0 = n;
  e -= mo->e0, n -= mo->n0;
  mo->ws += w, mo->e += w * e, mo->n += w * n;
  mo->ee += w * e * e, mo->en += w * e * n, mo->nn += w * n * n;
}

static void fix_from_moments(const struct lg_radio_map *m, const struct moments *mo,
                             double floor_var, struct lg_geo_fix *fix) {
  double e = mo->e / mo->ws, n = mo->n / mo->ws;
  double cee = fmax(mo->ee / mo->ws - e * e, 0) + floor_var;
  double cen = mo->en / mo->ws - e * n;
  double cnn = fmax(mo->nn / mo->ws - n * n, 0) + floor_var;
  e += mo->e0, n += mo->n0;
  double spread = sqrt(cee + cnn);
  /* Without a measured scale (a map built without cross-validation), a circular
   * Gaussian's: DRMS x 1.0676 holds 68 %, x 1.7308 holds 95 %. */
  double k68 = m && m->prm.k68 > 0 ? m->prm.k68 : 1.0676;
  double k95 = m && m->prm.k95 > 0 ? m->prm.k95 : 1.7308;
  fix->accuracy_m = k68 * spread;
  fix->accuracy_95_m = k95 * spread;
  /* The covariance a tracker folds in: the spread scaled so that its DRMS radius holds
   * 68 % as the measured scale says. */
  double s2 = (k68 / 1.0676) * (k68 / 1.0676);
  fix->cov_en[0] = cee * s2;
  fix->cov_en[1] = cen * s2;
  fix->cov_en[2] = cnn * s2;
  struct lg_geodetic g;
  double enu[3] = {e, n, 0};
  lg_enu_to_geodetic(&m->frame, enu, &g);
  fix->lat_deg = g.lat_deg;
  fix->lon_deg = g.lon_deg;
  fix->alt_m = 0;
  fix->gdop = 0;
  fix->residual_m = 0;
}

static void fix_from_weighted(const struct lg_radio_map *m, const double *en, const double *w,
                              size_t k, double floor_var, struct lg_geo_fix *fix) {
  struct moments mo = {0};
  for (size_t i = 0; i < k; i++)
    moments_add(&mo, w[i], en[2 * i], en[2 * i + 1]);
  fix_from_moments(m, &mo, floor_var, fix);
}

int lg_radio_map_locate(const struct lg_radio_map *m, double *scratch,
                        const struct lg_geo_rx *rx, size_t n, struct lg_geo_fix *fix, char *why,
                        size_t why_len) {
  int gw[LG_GEO_MAX_RX];
  double rssi[LG_GEO_MAX_RX];
  size_t q = query_of(m, rx, n, gw, rssi);
  if (q == 0) {
    snprintf(why, why_len, "no gateway that heard this frame (with an RSSI) is in the radio map");
    return LG_EINVAL;
  }
  size_t G = m->n_gw;
  double *ll = scratch;
  /* Cells whose likelihood falls more than `reach` below the best cannot weigh in the fix
   * (FP_WEIGHT_FLOOR after sharpening): their costly terms are skipped once a bound
   * puts them there. */
  const double reach = FP_WEIGHT_FLOOR / m->prm.sharpen;
  double top = -INFINITY;
  /* The candidates: the cells where the frame's strongest gateway was heard nearby
   * (every cell if it never was). */
  size_t strongest = 0;
  for (size_t j = 1; j < q; j++)
    if (rssi[j] > rssi[strongest]) strongest = j;
  const uint32_t *cand = &m->heard_cells[m->heard_start[gw[strongest]]];
  size_t n_cand = m->heard_start[gw[strongest] + 1] - m->heard_start[gw[strongest]];
  bool all = n_cand == 0;
  if (all) n_cand = m->n_cells;
  float rssi_f[LG_GEO_MAX_RX];
  for (size_t j = 0; j < q; j++)
    rssi_f[j] = (float)rssi[j];
  const double tau2 = m->prm.offset_db * m->prm.offset_db;
  const double inv_tau2 = tau2 > 0 ? 1.0 / tau2 : 0.0;
  for (size_t i = 0; i < n_cand; i++) {
    size_t c = all ? i : cand[i];
    double l = m->base[c];
    const struct fp_term *t = &m->term[c * G];
    if (tau2 <= 0) {
      for (size_t j = 0; j < q; j++) {
        const struct fp_term *tg = &t[gw[j]];
        double d = rssi[j] - tg->mu;
        l += tg->gain - 0.5 * d * d * tg->iv;
      }
    } else {
      /* in float, as the terms are: a few parts in 1e7 of a likelihood of tens */
      float lf = 0, sw = 0, swd = 0;
      for (size_t j = 0; j < q; j++) {
        const struct fp_term *tg = &t[gw[j]];
        float d = rssi_f[j] - tg->mu, wd = tg->iv * d;
        lf += tg->gain - 0.5f * d * wd;
        sw += tg->iv;
        swd += wd;
      }
      l += lf;
      /* The frame's common offset integrated out (top of file). Its two terms cost a
       * division and a log: a cell that cannot reach the best ones even with the
       * bound 0.5 tau^2 swd^2 on the first (the log term is never positive) is left
       * at that bound, which keeps it out. */
      double bound = l + 0.5 * tau2 * swd * swd;
      if (bound >= top - reach) {
        l += 0.5 * swd * swd / (inv_tau2 + sw);
        if (l >= top - reach) l -= 0.5 * log1p(tau2 * sw);
      } else {
        l = bound;
      }
    }
    ll[c] = l;
    if (l > top) top = l;
  }
  /* The fix: every cell within reach of the best, weighed by its likelihood to the power
   * `sharpen` (the posterior's tail beyond it weighs less than a thousandth a cell). */
  struct moments mo = {0};
  for (size_t i = 0; i < n_cand; i++) {
    size_t c = all ? i : cand[i];
    if (!(ll[c] >= top - reach)) continue; /* (and a NaN, which would poison the mean) */
    moments_add(&mo, exp(m->prm.sharpen * (ll[c] - top)), m->cell_en[2 * c], m->cell_en[2 * c + 1]);
  }
  if (!(mo.ws > 0)) {
    snprintf(why, why_len, "the radio map gives this frame no finite likelihood anywhere");
    return LG_ENOTFOUND;
  }
  memset(fix, 0, sizeof(*fix));
  /* a cell's own extent: uniform over the square, cell^2 / 12 per axis */
  fix_from_moments(m, &mo, m->prm.cell_m * m->prm.cell_m / 12.0, fix);
  fix->method = LG_GEO_FINGERPRINT;
  fix->gateways_used = (int)q;
  return 0;
}

int lg_radio_map_knn(const struct lg_radio_map *m, const struct lg_geo_rx *rx, size_t n,
                     struct lg_geo_fix *fix, char *why, size_t why_len) {
  int gw[LG_GEO_MAX_RX];
  double rssi[LG_GEO_MAX_RX];
  size_t q = query_of(m, rx, n, gw, rssi);
  if (q == 0) {
    snprintf(why, why_len, "no gateway that heard this frame (with an RSSI) is in the radio map");
    return LG_EINVAL;
  }
  /* |v - x|^2 over all gateways, unheard ones at the floor on both sides:
   * the point's own distance from the floor, corrected for the query's gateways. */
  const double fl = m->prm.floor_dbm;
  size_t best[FP_KNN_K];
  double dist[FP_KNN_K];
  size_t k = 0;
  for (size_t i = 0; i < m->n_pts; i++) {
    const float *r = &m->pt_rssi[i * m->n_gw];
    double d2 = m->pt_floor[i];
    for (size_t j = 0; j < q; j++) {
      double v = r[gw[j]] > FP_NOT_HEARD_DB ? r[gw[j]] : fl;
      d2 += (v - rssi[j]) * (v - rssi[j]) - (v - fl) * (v - fl);
    }
    if (k == FP_KNN_K && d2 >= dist[k - 1]) continue;
    size_t j = k < FP_KNN_K ? k++ : k - 1;
    while (j > 0 && dist[j - 1] > d2) {
      dist[j] = dist[j - 1];
      best[j] = best[j - 1];
      j--;
    }
    dist[j] = d2;
    best[j] = i;
  }
  double en[2 * FP_KNN_K], w[FP_KNN_K];
  for (size_t i = 0; i < k; i++) {
    en[2 * i] = m->pt_en[2 * best[i]];
    en[2 * i + 1] = m->pt_en[2 * best[i] + 1];
    w[i] = 1.0 / (sqrt(fmax(dist[i], 0.0)) + 1e-3);
  }
  memset(fix, 0, sizeof(*fix));
  struct lg_radio_map plain = *m; /* the kNN baseline's own scales */
  plain.prm.k68 = m->prm.knn_k68;
  plain.prm.k95 = m->prm.knn_k95;
  fix_from_weighted(&plain, en, w, k, m->prm.cell_m * m->prm.cell_m / 12.0, fix);
  fix->method = LG_GEO_KNN;
  fix->gateways_used = (int)q;
  return 0;
}

/* ---- the file ------------------------------------------------------------------ */

int lg_radio_map_save(const struct lg_radio_map *m, const char *path) {
  FILE *f = fopen(path, "w");
  if (f == NULL) return LG_EIO;
  fprintf(f,
          "{\"format\":\"%s\",\"version\":%d,\n\"params\":{\"cell_m\":%.3f,\"kernel_m\":%.3f,"
          "\"sigma_db\":%.3f,\"floor_dbm\":%.2f,\"offset_db\":%.3f,\"sharpen\":%.3f,"
          "\"k68\":%.5f,\"k95\":%.5f,\"knn_k68\":%.5f,\"knn_k95\":%.5f},\n\"gateways\":[",
          FP_FORMAT, FP_VERSION, m->prm.cell_m, m->prm.kernel_m, m->prm.sigma_db,
          m->prm.floor_dbm, m->prm.offset_db, m->prm.sharpen, m->prm.k68, m->prm.k95,
          m->prm.knn_k68, m->prm.knn_k95);
  for (size_t g = 0; g < m->n_gw; g++) {
    json_t *s = json_string(m->gw[g]);
    char *t = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
    fprintf(f, "%s%s", g ? "," : "", t ? t : "\"\"");
    free(t);
    json_decref(s);
  }
  fprintf(f, "],\n\"points\":[\n");
  for (size_t i = 0; i < m->n_pts; i++) {
    double enu[3] = {m->pt_en[2 * i], m->pt_en[2 * i + 1], 0};
    struct lg_geodetic g;
    lg_enu_to_geodetic(&m->frame, enu, &g);
    fprintf(f, "%s[%.7f,%.7f,[", i ? ",\n" : "", g.lat_deg, g.lon_deg);
    bool first = true;
    for (size_t k = 0; k < m->n_gw; k++) {
      float r = m->pt_rssi[i * m->n_gw + k];
      if (r <= FP_NOT_HEARD_DB) continue;
      fprintf(f, "%s[%zu,%.1f]", first ? "" : ",", k, (double)r);
      first = false;
    }
    fprintf(f, "]]");
  }
  fprintf(f, "]}\n");
  int bad = ferror(f);
  if (fclose(f) != 0 || bad) return LG_EIO;
  return 0;
}

static int param_in(json_t *o, const char *key, double lo, double hi, double *out, char *why,
                    size_t why_len) {
  json_t *v = json_object_get(o, key);
  if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi)) {
    snprintf(why, why_len, "\"params\".\"%s\" must be a number in [%g, %g]", key, lo, hi);
    return LG_EINVAL;
  }
  *out = json_number_value(v);
  return 0;
}

/* Reads one point [lat, lon, [[gateway index, rssi], ...]] into the map. */
static int load_point(struct lg_radio_map *m, size_t i, json_t *pt, char *why, size_t why_len) {
  json_t *rx = json_array_get(pt, 2);
  double lat = json_number_value(json_array_get(pt, 0));
  double lon = json_number_value(json_array_get(pt, 1));
  if (!json_is_array(pt) || json_array_size(pt) != 3 || !json_is_number(json_array_get(pt, 0)) ||
      !json_is_number(json_array_get(pt, 1)) || !(fabs(lat) <= 90 && fabs(lon) <= 180) ||
      !json_is_array(rx)) {
    snprintf(why, why_len, "point %zu: expected [lat, lon, [[gateway, rssi], ...]]", i);
    return LG_EINVAL;
  }
  map_point(m, i, lat, lon);
  size_t k;
  json_t *e;
  json_array_foreach(rx, k, e) {
    json_t *gi = json_array_get(e, 0), *r = json_array_get(e, 1);
    if (!json_is_integer(gi) || json_integer_value(gi) < 0 ||
        (size_t)json_integer_value(gi) >= m->n_gw || !json_is_number(r) ||
        !(json_number_value(r) > -200 && json_number_value(r) < 50)) {
      snprintf(why, why_len, "point %zu: reception %zu: expected [gateway index, rssi dBm]", i, k);
      return LG_EINVAL;
    }
    m->pt_rssi[i * m->n_gw + (size_t)json_integer_value(gi)] = (float)json_number_value(r);
  }
  return 0;
}

int lg_radio_map_load(const char *path, struct lg_radio_map **out, char *why, size_t why_len) {
  *out = NULL;
  json_error_t err;
  json_t *root = json_load_file(path, 0, &err);
  if (root == NULL) {
    snprintf(why, why_len, "%s:%d: %s", path, err.line, err.text);
    return LG_EINVAL;
  }
  int rc = LG_EINVAL;
  struct lg_radio_map *m = NULL;
  json_t *prm = json_object_get(root, "params"), *gws = json_object_get(root, "gateways");
  json_t *pts = json_object_get(root, "points");
  const char *fmt = json_string_value(json_object_get(root, "format"));
  if (fmt == NULL || strcmp(fmt, FP_FORMAT) != 0) {
    snprintf(why, why_len, "%s: not a radio map (\"format\" is not \"%s\")", path, FP_FORMAT);
    goto out;
  }
  json_int_t version = json_integer_value(json_object_get(root, "version"));
  if (version < 1 || version > FP_VERSION) { /* an older lorageo refuses version 2 by name */
    snprintf(why, why_len, "%s: radio map version %lld, this lorageo reads versions 1-%d", path,
             (long long)version, FP_VERSION);
    goto out;
  }
  if (!json_is_object(prm) || !json_is_array(gws) || !json_is_array(pts) ||
      json_array_size(gws) == 0 || json_array_size(gws) > LG_CAL_MAX_GW ||
      json_array_size(pts) == 0) {
    snprintf(why, why_len, "%s: needs \"params\", 1..%d \"gateways\" and some \"points\"", path,
             LG_CAL_MAX_GW);
    goto out;
  }
  struct lg_fp_params p = lg_fp_params_default();
  char sub[200];
  if (param_in(prm, "cell_m", 1, 10000, &p.cell_m, sub, sizeof(sub)) ||
      param_in(prm, "kernel_m", 1, 10000, &p.kernel_m, sub, sizeof(sub)) ||
      param_in(prm, "sigma_db", 0.1, 40, &p.sigma_db, sub, sizeof(sub)) ||
      param_in(prm, "floor_dbm", -199, 0, &p.floor_dbm, sub, sizeof(sub)) ||
      param_in(prm, "k68", 0, 1000, &p.k68, sub, sizeof(sub)) ||
      param_in(prm, "k95", 0, 1000, &p.k95, sub, sizeof(sub)) ||
      param_in(prm, "knn_k68", 0, 1000, &p.knn_k68, sub, sizeof(sub)) ||
      param_in(prm, "knn_k95", 0, 1000, &p.knn_k95, sub, sizeof(sub)) ||
      /* absent from maps written before they existed: no common offset, the mean */
      (json_object_get(prm, "offset_db") != NULL &&
       param_in(prm, "offset_db", 0, 40, &p.offset_db, sub, sizeof(sub))) ||
      (json_object_get(prm, "sharpen") != NULL &&
       param_in(prm, "sharpen", 0.1, 100, &p.sharpen, sub, sizeof(sub)))) {
    snprintf(why, why_len, "%s: %s", path, sub);
    goto out;
  }
  m = map_new(&p, json_array_size(gws), json_array_size(pts));
  if (m == NULL) {
    snprintf(why, why_len, "%s: out of memory", path);
    rc = LG_ENOMEM;
    goto out;
  }
  size_t i;
  json_t *v;
  json_array_foreach(gws, i, v) {
    if (!json_is_string(v) || json_string_length(v) >= LG_CAL_NAME_MAX) {
      snprintf(why, why_len, "%s: gateway %zu: expected a name under %d bytes", path, i,
               LG_CAL_NAME_MAX);
      goto out;
    }
    snprintf(m->gw[i], LG_CAL_NAME_MAX, "%s", json_string_value(v));
  }
  /* the local frame at the points' centroid, as when the map was built */
  double lat = 0, lon = 0;
  json_array_foreach(pts, i, v) {
    lat += json_number_value(json_array_get(v, 0));
    lon += json_number_value(json_array_get(v, 1));
  }
  map_set_origin(m, lat / (double)m->n_pts, lon / (double)m->n_pts);
  json_array_foreach(pts, i, v) {
    if (load_point(m, i, v, sub, sizeof(sub))) {
      snprintf(why, why_len, "%s: %s", path, sub);
      goto out;
    }
  }
  rc = map_derive(m);
  if (rc) snprintf(why, why_len, "%s: out of memory", path);
out:
  json_decref(root);
  if (rc)
    lg_radio_map_free(m);
  else
    *out = m;
  return rc;
}

/* ---- honest accuracy: cross-validation --------------------------------------- */

static int cmp_dbl(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* What cross-validation chooses among: the common-offset spread (dB; 0: none) and the
 * posterior's power in the fix (1: its mean). */
static const double fp_offsets_db[] = {0.0, 1.0, 2.0, 3.0, 4.0, 6.0};
static const double fp_sharpens[] = {1.0, 1.5, 2.0, 3.0};
#define FP_N_OFFSETS  (sizeof(fp_offsets_db) / sizeof(fp_offsets_db[0]))
#define FP_N_SHARPENS (sizeof(fp_sharpens) / sizeof(fp_sharpens[0]))

/* The two half maps of a cross-validation: maps[f] is built from the points i with
 * i % 2 == f and locates the others. */
struct fp_cv {
  const struct lg_fp_builder *b;
  struct lg_radio_map *maps[2];
  double *scratch[2];
};

static void cv_clear(struct fp_cv *cv) {
  for (size_t f = 0; f < 2; f++) {
    free(cv->scratch[f]);
    lg_radio_map_free(cv->maps[f]);
    cv->scratch[f] = NULL;
    cv->maps[f] = NULL;
  }
}

/* Builds both half maps with p (its scales zeroed: spreads as Gaussian DRMS x 1.0676). */
static int cv_build(struct fp_cv *cv, struct lg_fp_builder *half, const struct lg_fp_params *p) {
  cv_clear(cv);
  for (size_t f = 0; f < 2; f++) {
    half->n = 0;
    for (size_t i = f; i < cv->b->n; i += 2)
      half->pts[half->n++] = cv->b->pts[i];
    struct lg_fp_params q = *p;
    q.k68 = q.k95 = q.knn_k68 = q.knn_k95 = 0;
    int rc = lg_fp_build(half, &q, &cv->maps[f]);
    if (rc) return rc;
    if ((cv->scratch[f] = malloc(cv->maps[f]->n_cells * sizeof(double))) == NULL)
      return LG_ENOMEM;
  }
  return 0;
}

/* Held-out point i of the builder as a query. */
static size_t cv_query(const struct lg_fp_builder *b, size_t i, struct lg_geo_rx *rx) {
  const struct fp_point *pt = &b->pts[i];
  for (size_t k = 0; k < pt->n; k++)
    rx[k] = (struct lg_geo_rx){.has_rssi = true, .rssi_dbm = pt->rssi[k],
                               .name = b->gw[pt->gw[k]]};
  return pt->n;
}

/* Mean error (m) of the fingerprint fixes of every held-out point, the maps' common
 * offset and power set to offset_db and sharpen. */
static double cv_mean_error(struct fp_cv *cv, double offset_db, double sharpen) {
  struct lg_geo_rx rx[LG_GEO_MAX_RX];
  struct lg_geo_fix fix;
  char why[128];
  double sum = 0;
  size_t n_fix = 0;
  for (size_t f = 0; f < 2; f++) {
    cv->maps[f]->prm.offset_db = offset_db;
    cv->maps[f]->prm.sharpen = sharpen;
    for (size_t i = 1 - f; i < cv->b->n; i += 2) {
      size_t n = cv_query(cv->b, i, rx);
      if (lg_radio_map_locate(cv->maps[f], cv->scratch[f], rx, n, &fix, why, sizeof(why)) != 0)
        continue;
      sum += lg_geo_distance_m(fix.lat_deg, fix.lon_deg, cv->b->pts[i].lat_deg,
                               cv->b->pts[i].lon_deg);
      n_fix++;
    }
  }
  return n_fix ? sum / (double)n_fix : INFINITY;
}

/*
 * Two-fold cross-validation over the builder's points (even and odd in the order
 * added: consecutive frames of a moving device fall on both sides, as new frames of a
 * known area would). Each half's map locates the other half. Chosen on the training
 * points alone, never on the frames a benchmark then tests:
 * 1. the common-offset spread (offset_db) and the posterior's power (sharpen): the pair
 *    of fp_offsets_db x fp_sharpens with the least mean error over both held-out
 *    halves, then the 8 pairs 0.5 dB / 0.25 around it (the grid's best on Antwerp,
 *    2 dB / 2 and 2 dB / 1.5, became 2.5 / 2 and 1.5 / 1.75). Both act when a frame is located, not
 * on the model, so what is measured on the half maps carries over to the full one; a parameter of
 * the model's derivation would not (the half maps are half as dense as the one built after: a
 * weaker detection prior, best on the half maps, was worse on the full one).
 *    (lg_fp_cross_validate_scales skips this step and keeps p's.)
 * 2. with them, the ratio of the error to the fix's spread; its 68th and 95th
 *    percentiles are the scales of accuracy_m and accuracy_95_m (likewise for kNN).
 *    Maps built on half the points are sparser than the full one, so the scales err on
 *    the safe side.
 */
static int cross_validate(const struct lg_fp_builder *b, struct lg_fp_params *p, bool choose) {
  if (b->n < 40) return LG_EINVAL;
  double *ratio = malloc(2 * b->n * sizeof(double)), *ratio_knn = ratio + b->n;
  struct lg_fp_builder half = *b;
  half.pts = malloc(((b->n + 1) / 2) * sizeof(*half.pts));
  struct fp_cv cv = {.b = b};
  struct lg_fp_params chosen = *p;
  int rc = LG_ENOMEM;
  size_t nr = 0, nk = 0;
  if (!ratio || !half.pts) goto out;
  if ((rc = cv_build(&cv, &half, &chosen)) != 0) goto out;
  double best = INFINITY;
  for (size_t o = 0; choose && o < FP_N_OFFSETS; o++)
    for (size_t k = 0; k < FP_N_SHARPENS; k++) {
      double e = cv_mean_error(&cv, fp_offsets_db[o], fp_sharpens[k]);
      if (e < best) {
        best = e;
        chosen.offset_db = fp_offsets_db[o];
        chosen.sharpen = fp_sharpens[k];
      }
    }
  /* then the pairs half a step of the grid's finest around the best (8 passes) */
  const double o0 = chosen.offset_db, s0 = chosen.sharpen;
  for (int dx = -1; choose && dx <= 1; dx++)
    for (int dy = -1; dy <= 1; dy++) {
      double o = o0 + 0.5 * dx, sh = s0 + 0.25 * dy;
      if ((dx == 0 && dy == 0) || o < 0 || sh < 1.0) continue;
      double e = cv_mean_error(&cv, o, sh);
      if (e < best) {
        best = e;
        chosen.offset_db = o;
        chosen.sharpen = sh;
      }
    }
  for (size_t f = 0; f < 2; f++) {
    cv.maps[f]->prm.offset_db = chosen.offset_db;
    cv.maps[f]->prm.sharpen = chosen.sharpen;
  }
  struct lg_geo_rx rx[LG_GEO_MAX_RX];
  struct lg_geo_fix fix;
  char why[128];
  for (size_t f = 0; f < 2; f++) {
    struct lg_radio_map *m = cv.maps[f];
    for (size_t i = 1 - f; i < b->n; i += 2) {
      const struct fp_point *pt = &b->pts[i];
      size_t n = cv_query(b, i, rx);
      if (lg_radio_map_locate(m, cv.scratch[f], rx, n, &fix, why, sizeof(why)) != 0) continue;
      double spread = fix.accuracy_m / 1.0676;
      double err = lg_geo_distance_m(fix.lat_deg, fix.lon_deg, pt->lat_deg, pt->lon_deg);
      if (spread > 0) ratio[nr++] = err / spread;
      if (lg_radio_map_knn(m, rx, n, &fix, why, sizeof(why)) != 0) continue;
      spread = fix.accuracy_m / 1.0676;
      err = lg_geo_distance_m(fix.lat_deg, fix.lon_deg, pt->lat_deg, pt->lon_deg);
      if (spread > 0) ratio_knn[nk++] = err / spread;
    }
  }
  rc = LG_EINVAL;
  if (nr < 20 || nk < 20) goto out;
  qsort(ratio, nr, sizeof(double), cmp_dbl);
  qsort(ratio_knn, nk, sizeof(double), cmp_dbl);
  chosen.k68 = ratio[(size_t)(0.68 * (double)(nr - 1))];
  chosen.k95 = ratio[(size_t)(0.95 * (double)(nr - 1))];
  chosen.knn_k68 = ratio_knn[(size_t)(0.68 * (double)(nk - 1))];
  chosen.knn_k95 = ratio_knn[(size_t)(0.95 * (double)(nk - 1))];
  *p = chosen;
  rc = 0;
out:
  cv_clear(&cv);
  free(ratio);
  free(half.pts);
  return rc;
}

int lg_fp_cross_validate(const struct lg_fp_builder *b, struct lg_fp_params *p) {
  return cross_validate(b, p, true);
}

int lg_fp_cross_validate_scales(const struct lg_fp_builder *b, struct lg_fp_params *p) {
  return cross_validate(b, p, false);
}
