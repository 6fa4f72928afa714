/*
 * Scenario files: JSON (jansson) to struct lg_sim_scenario, every field checked, every
 * error naming its field by path ("groups[1].traffic.period_s: ..."). Unknown keys are
 * refused too: a misspelt key would otherwise silently fall back to a default.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "util/util.h"

#define LG_PATH 256 /* a field path such as groups[3].mobility.bounds */

/* Field paths and messages are cut at LG_PATH / why_len on purpose: a long path only
 * shortens an error message. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

struct ctx {
  char *why;
  size_t why_len;
  const char *base_dir;
  struct lg_enu_frame enu;
};

__attribute__((format(printf, 3, 4))) static int fail(struct ctx *c, const char *path,
                                                      const char *fmt, ...) {
  va_list ap;
  int n = snprintf(c->why, c->why_len, "%s: ", path);
  va_start(ap, fmt);
  if (n >= 0 && (size_t)n < c->why_len) vsnprintf(c->why + n, c->why_len - (size_t)n, fmt, ap);
  va_end(ap);
  return LG_EINVAL;
}

static void join_path(char *out, size_t cap, const char *path, const char *key) {
  snprintf(out, cap, "%s%s%s", path, *path ? "." : "", key);
}

/* Refuses keys of `o` in neither of the NULL-terminated lists (`more` may be NULL). */
static int only_keys2(struct ctx *c, const char *path, json_t *o, const char *const *allowed,
                      const char *const *more) {
  const char *key;
  json_t *v;
  json_object_foreach(o, key, v) {
    bool ok = false;
    for (const char *const *a = allowed; *a && !ok; a++)
      ok = strcmp(*a, key) == 0;
    for (const char *const *a = more; a && *a && !ok; a++)
      ok = strcmp(*a, key) == 0;
    if (!ok) {
      char p[LG_PATH];
      join_path(p, sizeof(p), path, key);
      return fail(c, p, "unknown key");
    }
  }
  return 0;
}

static int only_keys(struct ctx *c, const char *path, json_t *o, const char *const *allowed) {
  return only_keys2(c, path, o, allowed, NULL);
}

static int num(struct ctx *c, const char *path, json_t *o, const char *key, double def, double lo,
               double hi, double *out) {
  char p[LG_PATH];
  join_path(p, sizeof(p), path, key);
  json_t *v = json_object_get(o, key);
  if (v == NULL) {
    if (isnan(def)) return fail(c, p, "required");
    *out = def;
    return 0;
  }
  if (!json_is_number(v)) return fail(c, p, "expected a number");
  double x = json_number_value(v);
  if (!(x >= lo && x <= hi)) return fail(c, p, "%g is outside %g..%g", x, lo, hi);
  *out = x;
  return 0;
}

static int integer(struct ctx *c, const char *path, json_t *o, const char *key, long long def,
                   long long lo, long long hi, long long *out) {
  char p[LG_PATH];
  join_path(p, sizeof(p), path, key);
  json_t *v = json_object_get(o, key);
  if (v == NULL) {
    *out = def;
    return 0;
  }
  if (!json_is_integer(v)) return fail(c, p, "expected an integer");
  long long x = json_integer_value(v);
  if (x < lo || x > hi) return fail(c, p, "%lld is outside %lld..%lld", x, lo, hi);
  *out = x;
  return 0;
}

static int boolean(struct ctx *c, const char *path, json_t *o, const char *key, bool def,
                   bool *out) {
  char p[LG_PATH];
  join_path(p, sizeof(p), path, key);
  json_t *v = json_object_get(o, key);
  if (v == NULL) {
    *out = def;
    return 0;
  }
  if (!json_is_boolean(v)) return fail(c, p, "expected true or false");
  *out = json_is_true(v);
  return 0;
}

/* A string member that must be one of `names`; its index in *out. */
static int choice(struct ctx *c, const char *path, json_t *o, const char *key, int def,
                  const char *const *names, int *out) {
  char p[LG_PATH];
  join_path(p, sizeof(p), path, key);
  json_t *v = json_object_get(o, key);
  if (v == NULL) {
    *out = def;
    return 0;
  }
  for (int i = 0; json_is_string(v) && names[i]; i++)
    if (strcmp(names[i], json_string_value(v)) == 0) return *out = i, 0;
  char list[160] = "";
  for (int i = 0; names[i]; i++)
    snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", names[i]);
  return fail(c, p, "expected one of %s", list);
}

static int object(struct ctx *c, const char *path, json_t *o, const char *key, json_t **out) {
  char p[LG_PATH];
  join_path(p, sizeof(p), path, key);
  *out = json_object_get(o, key);
  if (*out != NULL && !json_is_object(*out)) return fail(c, p, "expected an object");
  return 0;
}

/* A position: {"lat", "lon"} or {"east_m", "north_m"} relative to the origin. */
static int position(struct ctx *c, const char *path, json_t *o, double *e, double *n) {
  static const char *const keys[] = {"lat", "lon", "east_m", "north_m", "alt", NULL};
  if (!json_is_object(o))
    return fail(c, path, "expected {\"lat\",\"lon\"} or {\"east_m\",\"north_m\"}");
  if (only_keys(c, path, o, keys)) return LG_EINVAL;
  if (json_object_get(o, "lat") || json_object_get(o, "lon")) {
    double lat, lon;
    if (num(c, path, o, "lat", NAN, -90, 90, &lat) || num(c, path, o, "lon", NAN, -180, 180, &lon))
      return LG_EINVAL;
    double enu[3];
    lg_enu_from_geodetic(&c->enu, &(struct lg_geodetic){lat, lon, 0}, enu);
    *e = enu[0], *n = enu[1];
    return 0;
  }
  if (num(c, path, o, "east_m", NAN, -1e7, 1e7, e) || num(c, path, o, "north_m", NAN, -1e7, 1e7, n))
    return LG_EINVAL;
  return 0;
}

static void enu_to_latlon(struct ctx *c, double e, double n, double *lat, double *lon) {
  struct lg_geodetic g;
  lg_enu_to_geodetic(&c->enu, (double[3]){e, n, 0}, &g);
  *lat = g.lat_deg, *lon = g.lon_deg;
}

/* What every gateway (or the grid's template) may set, besides where it stands. */
static const char *const gw_setting_keys[] = {"alt",
                                              "antenna_height_m",
                                              "timing_jitter_ns",
                                              "fine_timestamp",
                                              "clock_offset_ns",
                                              "noise_figure_db",
                                              "antenna_gain_db",
                                              "paths",
                                              "timing",
                                              NULL};
static const char *const gw_place_keys[] = {"eui", "lat", "lon", "east_m", "north_m", NULL};
static const char *const grid_keys[] = {"rows", "cols", "spacing_m", NULL};

/*
 * A "timing" block (per gateway, or scenario-wide as every gateway's default): the
 * legacy gateway timing model of issue 14 item 6. `offset_ns` a fixed error of the
 * gateway's clock (cable and GPS antenna delays, a badly set PPS: tens of us seen),
 * `noise_ns` the standard deviation of its Gaussian noise, `quantum_ns` the step its
 * timestamps are truncated to (1000: a GPS time derived from the 1 us `tmst` counter),
 * `tail` a heavy tail: with `probability` an extra delay, exponential (late only, as a
 * missed first path or a late interrupt) or Laplace (either sign) of scale `mean_ns`.
 * Fields not given keep the values from `g` (the defaults).
 */
static int timing_block(struct ctx *c, const char *p, json_t *t, struct lg_sim_gateway *g) {
  static const char *const keys[] = {"offset_ns", "noise_ns", "quantum_ns", "tail", NULL};
  static const char *const tkeys[] = {"probability", "mean_ns", "kind", NULL};
  static const char *const kinds[] = {"exponential", "laplace", NULL};
  char tp[LG_PATH];
  long long offset, quantum;
  json_t *tail;
  if (!json_is_object(t)) return fail(c, p, "expected an object");
  if (only_keys(c, p, t, keys) ||
      integer(c, p, t, "offset_ns", g->clock_offset_ns, -1000000000, 1000000000, &offset) ||
      num(c, p, t, "noise_ns", g->timing_jitter_ns, 0, 1e7, &g->timing_jitter_ns) ||
      integer(c, p, t, "quantum_ns", g->timing_quantum_ns, 0, 1000000, &quantum) ||
      object(c, p, t, "tail", &tail))
    return LG_EINVAL;
  g->clock_offset_ns = offset;
  g->timing_quantum_ns = quantum;
  g->fine_timestamp = quantum < 1000;
  if (tail == NULL) return 0;
  join_path(tp, sizeof(tp), p, "tail");
  int kind = g->timing_tail_laplace;
  if (only_keys(c, tp, tail, tkeys) ||
      num(c, tp, tail, "probability", NAN, 0, 1, &g->timing_tail_probability) ||
      num(c, tp, tail, "mean_ns", NAN, 0, 1e7, &g->timing_tail_mean_ns) ||
      choice(c, tp, tail, "kind", 0, kinds, &kind))
    return LG_EINVAL;
  g->timing_tail_laplace = kind == 1;
  if (g->timing_tail_probability > 0 && !(g->timing_tail_mean_ns > 0))
    return fail(c, tp, "mean_ns must be > 0 when probability is > 0");
  return 0;
}

/* The settings of one gateway (position excluded) from `o`, defaults from `def`. */
static int gateway_settings(struct ctx *c, const char *p, json_t *o,
                            const struct lg_sim_gateway *def, struct lg_sim_gateway *g,
                            double *height) {
  long long paths, offset;
  json_t *timing = json_object_get(o, "timing");
  static const char *const old_keys[] = {"timing_jitter_ns", "fine_timestamp", "clock_offset_ns"};
  for (int k = 0; timing && k < 3; k++)
    if (json_object_get(o, old_keys[k])) {
      char tp[LG_PATH];
      join_path(tp, sizeof(tp), p, old_keys[k]);
      return fail(c, tp, "not together with \"timing\" (use timing.%s)",
                  k == 0   ? "noise_ns"
                  : k == 1 ? "quantum_ns"
                           : "offset_ns");
    }
  bool fine = def->fine_timestamp;
  if (num(c, p, o, "antenna_height_m", *height, 0, 1000, height) ||
      num(c, p, o, "timing_jitter_ns", def->timing_jitter_ns, 0, 1e7, &g->timing_jitter_ns) ||
      boolean(c, p, o, "fine_timestamp", def->fine_timestamp, &fine) ||
      integer(c, p, o, "clock_offset_ns", def->clock_offset_ns, -1000000000, 1000000000, &offset) ||
      num(c, p, o, "noise_figure_db", def->noise_figure_db, 0, 30, &g->noise_figure_db) ||
      num(c, p, o, "antenna_gain_db", def->antenna_gain_db, -10, 30, &g->antenna_gain_db) ||
      integer(c, p, o, "paths", def->paths, 0, 64, &paths))
    return LG_EINVAL;
  g->paths = (int)paths;
  g->clock_offset_ns = offset;
  if (json_object_get(o, "fine_timestamp")) { /* the older key: microsecond counters or none */
    g->fine_timestamp = fine;
    g->timing_quantum_ns = fine ? 0 : 1000;
  }
  if (timing) {
    char tp[LG_PATH];
    join_path(tp, sizeof(tp), p, "timing");
    return timing_block(c, tp, timing, g);
  }
  return 0;
}

static int gateways(struct ctx *c, json_t *root, struct lg_sim_scenario *sc) {
  json_t *gws = json_object_get(root, "gateways");
  struct lg_sim_gateway def = {
      .timing_jitter_ns = 10, .fine_timestamp = true, .noise_figure_db = 6, .paths = 8};
  json_t *timing = json_object_get(root, "timing"); /* every gateway's default timing */
  if (timing && timing_block(c, "timing", timing, &def)) return LG_EINVAL;
  if (json_is_object(gws)) { /* {"grid": {...}}: rows x cols around the origin */
    static const char *const keys[] = {"grid", NULL};
    json_t *grid = json_object_get(gws, "grid");
    if (only_keys(c, "gateways", gws, keys)) return LG_EINVAL;
    if (!json_is_object(grid)) return fail(c, "gateways.grid", "expected an object");
    long long rows, cols;
    double spacing, alt, height = 0;
    struct lg_sim_gateway g = def;
    if (only_keys2(c, "gateways.grid", grid, grid_keys, gw_setting_keys) ||
        integer(c, "gateways.grid", grid, "rows", 0, 1, 1000, &rows) ||
        integer(c, "gateways.grid", grid, "cols", 0, 1, 1000, &cols) ||
        num(c, "gateways.grid", grid, "spacing_m", NAN, 1, 1e6, &spacing) ||
        num(c, "gateways.grid", grid, "alt", 0, -500, 9000, &alt) ||
        gateway_settings(c, "gateways.grid", grid, &def, &g, &height))
      return LG_EINVAL;
    if (rows < 1 || cols < 1) return fail(c, "gateways.grid", "rows and cols are required");
    sc->n_gateways = (size_t)(rows * cols);
    sc->gateways = calloc(sc->n_gateways, sizeof(*sc->gateways));
    if (!sc->gateways) return LG_ENOMEM;
    for (long long r = 0; r < rows; r++)
      for (long long k = 0; k < cols; k++) {
        struct lg_sim_gateway *x = &sc->gateways[r * cols + k];
        *x = g;
        x->eui = 0x00005a5a00000000ULL + (uint64_t)(r * cols + k + 1);
        double e = ((double)k - (double)(cols - 1) / 2) * spacing;
        double n = ((double)r - (double)(rows - 1) / 2) * spacing;
        enu_to_latlon(c, e, n, &x->lat_deg, &x->lon_deg);
        x->alt_m = alt + height;
      }
    return 0;
  }
  if (!json_is_array(gws) || json_array_size(gws) == 0)
    return fail(c, "gateways", "expected a non-empty array or {\"grid\": {...}}");
  sc->n_gateways = json_array_size(gws);
  sc->gateways = calloc(sc->n_gateways, sizeof(*sc->gateways));
  if (!sc->gateways) return LG_ENOMEM;
  for (size_t i = 0; i < sc->n_gateways; i++) {
    char p[LG_PATH];
    snprintf(p, sizeof(p), "gateways[%zu]", i);
    json_t *o = json_array_get(gws, i);
    struct lg_sim_gateway *g = &sc->gateways[i];
    *g = def;
    double e, n, alt, height = 0;
    if (!json_is_object(o)) return fail(c, p, "expected an object");
    if (only_keys2(c, p, o, gw_place_keys, gw_setting_keys) ||
        gateway_settings(c, p, o, &def, g, &height) || num(c, p, o, "alt", 0, -500, 9000, &alt))
      return LG_EINVAL;
    json_t *pos = json_pack("{}");
    const char *const pk[] = {"lat", "lon", "east_m", "north_m"};
    for (int k = 0; k < 4; k++)
      if (json_object_get(o, pk[k])) json_object_set(pos, pk[k], json_object_get(o, pk[k]));
    int r = position(c, p, pos, &e, &n);
    json_decref(pos);
    if (r) return r;
    enu_to_latlon(c, e, n, &g->lat_deg, &g->lon_deg);
    g->alt_m = alt + height;
    g->eui = 0x00005a5a00000000ULL + i + 1;
    json_t *eui = json_object_get(o, "eui");
    if (eui) {
      char ep[LG_PATH];
      snprintf(ep, sizeof(ep), "%s.eui", p);
      uint8_t b[8];
      size_t nb;
      if (!json_is_string(eui) || strlen(json_string_value(eui)) != 16 ||
          lg_hex_decode(json_string_value(eui), 16, b, 8, &nb))
        return fail(c, ep, "expected 16 hex digits");
      g->eui = 0;
      for (int k = 0; k < 8; k++)
        g->eui = g->eui << 8 | b[k];
      if (g->eui == 0) return fail(c, ep, "must not be zero");
    }
  }
  for (size_t i = 0; i < sc->n_gateways; i++)
    for (size_t k = 0; k < i; k++)
      if (sc->gateways[i].eui == sc->gateways[k].eui) {
        char p[LG_PATH];
        snprintf(p, sizeof(p), "gateways[%zu].eui", i);
        return fail(c, p, "the same as gateways[%zu]", k);
      }
  return 0;
}

/* A trace file: lines "t_s,lat,lon" (a header line and '#' comments are skipped). */
static int load_trace(struct ctx *c, const char *p, const char *file, struct lg_sim_group *g) {
  char path[1024];
  if (file[0] == '/' || c->base_dir == NULL)
    snprintf(path, sizeof(path), "%s", file);
  else
    snprintf(path, sizeof(path), "%s/%s", c->base_dir, file);
  FILE *f = fopen(path, "r");
  if (!f) return fail(c, p, "cannot open %s: %s", path, strerror(errno));
  char line[256];
  size_t cap = 0, lineno = 0;
  int rc = 0;
  while (fgets(line, sizeof(line), f)) {
    lineno++;
    double t, lat, lon;
    if (line[0] == '#' || line[0] == '\n') continue;
    if (sscanf(line, "%lf,%lf,%lf", &t, &lat, &lon) != 3) {
      if (lineno == 1) continue; /* header */
      rc = fail(c, p, "%s line %zu: expected t_s,lat,lon", path, lineno);
      break;
    }
    if (fabs(lat) > 90 || fabs(lon) > 180 || t < 0 ||
        (g->n_trace && (int64_t)(t * 1e9) <= g->trace[g->n_trace - 1].t_ns)) {
      rc = fail(c, p, "%s line %zu: bad position or time not increasing", path, lineno);
      break;
    }
    if (g->n_trace == cap) {
      cap = cap ? 2 * cap : 64;
      struct lg_sim_point *np = realloc(g->trace, cap * sizeof(*np));
      if (!np) {
        rc = LG_ENOMEM;
        break;
      }
      g->trace = np;
    }
    double enu[3];
    lg_enu_from_geodetic(&c->enu, &(struct lg_geodetic){lat, lon, 0}, enu);
    g->trace[g->n_trace++] = (struct lg_sim_point){(int64_t)llround(t * 1e9), enu[0], enu[1]};
  }
  fclose(f);
  if (rc == 0 && g->n_trace < 2) rc = fail(c, p, "%s: a trace needs at least 2 positions", path);
  return rc;
}

static int bounds(struct ctx *c, const char *p, json_t *m, struct lg_sim_group *g) {
  char bp[LG_PATH];
  join_path(bp, sizeof(bp), p, "bounds");
  json_t *b = json_object_get(m, "bounds");
  static const char *const keys[] = {"east_m", "north_m", NULL};
  if (!json_is_object(b))
    return fail(c, bp, "expected {\"east_m\": [min, max], \"north_m\": [min, max]}");
  if (only_keys(c, bp, b, keys)) return LG_EINVAL;
  json_t *e = json_object_get(b, "east_m"), *n = json_object_get(b, "north_m");
  if (!json_is_array(e) || !json_is_array(n) || json_array_size(e) != 2 ||
      json_array_size(n) != 2 || !json_is_number(json_array_get(e, 0)) ||
      !json_is_number(json_array_get(e, 1)) || !json_is_number(json_array_get(n, 0)) ||
      !json_is_number(json_array_get(n, 1)))
    return fail(c, bp, "expected {\"east_m\": [min, max], \"north_m\": [min, max]}");
  g->bx0 = json_number_value(json_array_get(e, 0)),
  g->bx1 = json_number_value(json_array_get(e, 1));
  g->by0 = json_number_value(json_array_get(n, 0)),
  g->by1 = json_number_value(json_array_get(n, 1));
  if (!(g->bx1 > g->bx0) || !(g->by1 > g->by0)) return fail(c, bp, "need min < max");
  return 0;
}

static int mobility(struct ctx *c, const char *gp, json_t *o, struct lg_sim_group *g) {
  static const char *const kinds[] = {"static", "waypoint", "zigzag", "square", "trace", NULL};
  static const char *const keys[] = {"kind",   "speed_mps", "pause_s", "bounds",
                                     "step_m", "file",      NULL};
  char p[LG_PATH];
  join_path(p, sizeof(p), gp, "mobility");
  json_t *m;
  int kind;
  if (object(c, gp, o, "mobility", &m)) return LG_EINVAL;
  if (m == NULL) return g->mobility = LG_SIM_STATIC, 0;
  if (only_keys(c, p, m, keys) || choice(c, p, m, "kind", 0, kinds, &kind)) return LG_EINVAL;
  g->mobility = (enum lg_sim_mobility)kind;
  if (g->mobility == LG_SIM_STATIC) return 0;
  if (g->mobility == LG_SIM_TRACE) {
    json_t *f = json_object_get(m, "file");
    char fp[LG_PATH];
    join_path(fp, sizeof(fp), p, "file");
    if (!json_is_string(f)) return fail(c, fp, "expected the path of a t_s,lat,lon file");
    return load_trace(c, fp, json_string_value(f), g);
  }
  if (num(c, p, m, "speed_mps", NAN, 0.01, 500, &g->speed_mps) ||
      num(c, p, m, "pause_s", 0, 0, 1e6, &g->pause_s) || bounds(c, p, m, g) ||
      num(c, p, m, "step_m", (g->by1 - g->by0) / 4, 0.1, 1e6, &g->zigzag_step_m))
    return LG_EINVAL;
  return 0;
}

static int placement(struct ctx *c, const char *gp, json_t *o, struct lg_sim_group *g) {
  static const char *const kinds[] = {"disc", "points", NULL};
  static const char *const keys[] = {"kind", "center", "radius_m", "points", NULL};
  char p[LG_PATH];
  join_path(p, sizeof(p), gp, "placement");
  json_t *pl;
  int kind;
  if (object(c, gp, o, "placement", &pl)) return LG_EINVAL;
  if (pl == NULL) return 0; /* the origin */
  if (only_keys(c, p, pl, keys) || choice(c, p, pl, "kind", 0, kinds, &kind)) return LG_EINVAL;
  if (kind == 0) {
    json_t *ce = json_object_get(pl, "center");
    char cp[LG_PATH];
    join_path(cp, sizeof(cp), p, "center");
    if (ce && position(c, cp, ce, &g->center_e, &g->center_n)) return LG_EINVAL;
    return num(c, p, pl, "radius_m", 0, 0, 1e6, &g->radius_m);
  }
  json_t *pts = json_object_get(pl, "points");
  char pp[LG_PATH];
  join_path(pp, sizeof(pp), p, "points");
  if (!json_is_array(pts) || json_array_size(pts) == 0)
    return fail(c, pp, "expected a non-empty array");
  g->place_points = true;
  g->n_points = json_array_size(pts);
  g->points = calloc(g->n_points, sizeof(*g->points));
  if (!g->points) return LG_ENOMEM;
  for (size_t i = 0; i < g->n_points; i++) {
    char ip[LG_PATH];
    snprintf(ip, sizeof(ip), "%s[%zu]", pp, i);
    if (position(c, ip, json_array_get(pts, i), &g->points[i].e_m, &g->points[i].n_m))
      return LG_EINVAL;
  }
  return 0;
}

static int radio(struct ctx *c, const char *gp, json_t *o, const struct lg_region *reg,
                 struct lg_sim_group *g) {
  char p[LG_PATH];
  long long v;
  json_t *r;
  if (object(c, gp, o, "radio", &r)) return LG_EINVAL;
  join_path(p, sizeof(p), gp, "radio");
  if (g->activation != LG_SIM_RAW) {
    if (r) return fail(c, p, "only for activation \"none\" (LoRaWAN devices use \"dr\")");
    const struct lg_datarate *d = lg_region_dr(reg, g->dr);
    if (!d || d->mod != LG_MOD_LORA || !d->uplink) {
      char dp[LG_PATH];
      join_path(dp, sizeof(dp), gp, "dr");
      return fail(c, dp, "DR%d is not a LoRa uplink data rate of %s", g->dr, reg->name);
    }
    g->sf = d->sf, g->bw_hz = d->bw_hz, g->cr = 1;
    return 0;
  }
  static const char *const keys[] = {"sf", "bw_khz", "cr", NULL};
  if (!r) return fail(c, p, "required for activation \"none\" ({\"sf\", \"bw_khz\", \"cr\"})");
  if (only_keys(c, p, r, keys) || integer(c, p, r, "sf", 12, 7, 12, &v)) return LG_EINVAL;
  g->sf = (int)v;
  if (integer(c, p, r, "bw_khz", 125, 125, 500, &v)) return LG_EINVAL;
  if (v != 125 && v != 250 && v != 500) return fail(c, p, "bw_khz: expected 125, 250 or 500");
  g->bw_hz = (uint32_t)v * 1000;
  if (integer(c, p, r, "cr", 1, 1, 4, &v)) return LG_EINVAL;
  g->cr = (int)v;
  return 0;
}

static int frequencies(struct ctx *c, const char *gp, json_t *o, const struct lg_region *reg,
                       struct lg_sim_group *g) {
  char p[LG_PATH];
  join_path(p, sizeof(p), gp, "frequencies_mhz");
  json_t *f = json_object_get(o, "frequencies_mhz");
  if (f == NULL) {
    g->freq_count =
        reg->default_ch_count < LG_SIM_MAX_FREQS ? reg->default_ch_count : LG_SIM_MAX_FREQS;
    for (int i = 0; i < g->freq_count; i++)
      g->freqs_hz[i] = reg->default_ch[i].freq_hz;
    return 0;
  }
  if (!json_is_array(f) || json_array_size(f) == 0 || json_array_size(f) > LG_SIM_MAX_FREQS)
    return fail(c, p, "expected an array of 1..%d frequencies", LG_SIM_MAX_FREQS);
  g->freq_count = (int)json_array_size(f);
  for (int i = 0; i < g->freq_count; i++) {
    json_t *x = json_array_get(f, (size_t)i);
    if (!json_is_number(x) || json_number_value(x) < 100 || json_number_value(x) > 3000)
      return fail(c, p, "entry %d: expected MHz between 100 and 3000", i);
    g->freqs_hz[i] = (uint32_t)llround(json_number_value(x) * 1e6);
  }
  return 0;
}

/* "multicast": {"mc_addr", "mc_nwk_s_key", "mc_app_s_key"}: the group's devices are the
 * members of one multicast group (Class C: they listen on RX2 between uplinks). */
static int multicast(struct ctx *c, const char *p, json_t *o, struct lg_sim_group *g) {
  static const char *const keys[] = {"mc_addr", "mc_nwk_s_key", "mc_app_s_key", NULL};
  static const char *const names[] = {"mc_addr", "mc_nwk_s_key", "mc_app_s_key"};
  json_t *m;
  char mp[LG_PATH];
  join_path(mp, sizeof(mp), p, "multicast");
  if (object(c, p, o, "multicast", &m)) return LG_EINVAL;
  if (m == NULL) return 0;
  if (only_keys(c, mp, m, keys)) return LG_EINVAL;
  if (!g->class_c) return fail(c, mp, "multicast members must be \"class\": \"C\"");
  uint8_t addr[4], *out[3] = {addr, g->mc_nwk_s_key, g->mc_app_s_key};
  size_t len[3] = {4, 16, 16};
  for (int i = 0; i < 3; i++) {
    json_t *v = json_object_get(m, names[i]);
    size_t n = 0;
    if (!json_is_string(v) || json_string_length(v) != 2 * len[i] ||
        lg_hex_decode(json_string_value(v), 2 * len[i], out[i], len[i], &n)) {
      char kp[LG_PATH];
      join_path(kp, sizeof(kp), mp, names[i]);
      return fail(c, kp, "expected %zu hex digits", 2 * len[i]);
    }
  }
  g->multicast = true;
  g->mc_addr = (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 | (uint32_t)addr[2] << 8 | addr[3];
  return 0;
}

static int group(struct ctx *c, const char *p, json_t *o, const struct lg_sim_scenario *sc,
                 struct lg_sim_group *g) {
  static const char *const keys[] = {"name",
                                     "count",
                                     "activation",
                                     "traffic",
                                     "payload_bytes",
                                     "confirmed_share",
                                     "dr",
                                     "tx_power_dbm",
                                     "adr",
                                     "radio",
                                     "frequencies_mhz",
                                     "placement",
                                     "alt_m",
                                     "mobility",
                                     "adr_target",
                                     "reference",
                                     "class",
                                     "multicast",
                                     "profile_id",
                                     NULL};
  static const char *const acts[] = {"abp", "otaa", "none", NULL};
  static const char *const classes[] = {"A", "C", NULL};
  static const char *const adrs[] = {"off", "standard", "eadr", "predictive", NULL};
  static const char *const traffics[] = {"periodic", "exponential", NULL};
  static const char *const tkeys[] = {"kind", "period_s", "jitter_s", NULL};
  long long v;
  int k;
  if (!json_is_object(o)) return fail(c, p, "expected an object");
  if (only_keys(c, p, o, keys)) return LG_EINVAL;
  json_t *name = json_object_get(o, "name");
  if (name && (!json_is_string(name) || strlen(json_string_value(name)) >= LG_SIM_NAME_MAX)) {
    char np[LG_PATH];
    join_path(np, sizeof(np), p, "name");
    return fail(c, np, "expected a string of up to %d characters", LG_SIM_NAME_MAX - 1);
  }
  snprintf(g->name, sizeof(g->name), "%.31s", name ? json_string_value(name) : p);
  if (integer(c, p, o, "count", 1, 0, 10000000, &v)) return LG_EINVAL;
  g->count = (int)v;
  if (choice(c, p, o, "activation", 0, acts, &k)) return LG_EINVAL;
  g->activation = (enum lg_sim_activation)k;
  json_t *t;
  char tp[LG_PATH];
  join_path(tp, sizeof(tp), p, "traffic");
  if (object(c, p, o, "traffic", &t)) return LG_EINVAL;
  if (t == NULL) return fail(c, tp, "required ({\"kind\", \"period_s\"})");
  if (only_keys(c, tp, t, tkeys) || choice(c, tp, t, "kind", 0, traffics, &k) ||
      num(c, tp, t, "period_s", NAN, 0.001, 1e8, &g->period_s) ||
      num(c, tp, t, "jitter_s", 0, 0, 1e8, &g->period_jitter_s))
    return LG_EINVAL;
  g->traffic = (enum lg_sim_traffic)k;
  if (g->period_jitter_s > g->period_s) return fail(c, tp, "jitter_s must not exceed period_s");
  if (integer(c, p, o, "payload_bytes", 10, 0, 222, &v)) return LG_EINVAL;
  g->payload_bytes = (int)v;
  if (integer(c, p, o, "profile_id", 0, 0, INT64_MAX, &v)) return LG_EINVAL;
  g->profile_id = v;
  if (num(c, p, o, "confirmed_share", 0, 0, 1, &g->confirmed_share)) return LG_EINVAL;
  json_t *dr = json_object_get(o, "dr");
  if (json_is_string(dr) && strcmp(json_string_value(dr), "auto") == 0) {
    g->dr_auto = true, v = 0; /* checked as DR0, the slowest, below */
  } else if (dr && !json_is_integer(dr)) {
    char dp[LG_PATH];
    join_path(dp, sizeof(dp), p, "dr");
    return fail(c, dp, "expected a data rate index or \"auto\"");
  } else if (integer(c, p, o, "dr", 0, 0, LG_REGION_MAX_DR - 1, &v)) {
    return LG_EINVAL;
  }
  g->dr = (int)v;
  if (num(c, p, o, "tx_power_dbm", sc->region->default_max_eirp_dbm - 2, -10, 30, &g->tx_power_dbm))
    return LG_EINVAL;
  if (choice(c, p, o, "adr", 0, adrs, &k)) return LG_EINVAL;
  g->adr = (enum lg_adr_algo)k;
  if (num(c, p, o, "adr_target", 0, 0.5, 0.9999, &g->adr_target)) return LG_EINVAL;
  if (boolean(c, p, o, "reference", false, &g->reference)) return LG_EINVAL;
  if (g->reference) {
    if (json_object_get(o, "payload_bytes") && g->payload_bytes != 11)
      return fail(c, p, "a reference group's payload is its position: 11 bytes (Cayenne LPP GPS)");
    g->payload_bytes = 11;
  }
  if (choice(c, p, o, "class", 0, classes, &k)) return LG_EINVAL;
  g->class_c = k == 1;
  if (multicast(c, p, o, g)) return LG_EINVAL;
  if (g->activation == LG_SIM_RAW && (g->class_c || g->multicast))
    return fail(c, p, "raw LoRa devices (activation \"none\") have no class or multicast group");
  if (g->activation == LG_SIM_RAW && g->adr != LG_ADR_OFF) {
    char ap[LG_PATH];
    join_path(ap, sizeof(ap), p, "adr");
    return fail(c, ap, "raw LoRa devices (activation \"none\") have no ADR");
  }
  if (g->activation == LG_SIM_RAW && g->confirmed_share > 0) {
    char ap[LG_PATH];
    join_path(ap, sizeof(ap), p, "confirmed_share");
    return fail(c, ap, "raw LoRa devices (activation \"none\") send no confirmed frames");
  }
  if (radio(c, p, o, sc->region, g) || frequencies(c, p, o, sc->region, g) ||
      placement(c, p, o, g) || num(c, p, o, "alt_m", 1.5, -500, 20000, &g->alt_m) ||
      mobility(c, p, o, g))
    return LG_EINVAL;
  if (g->activation != LG_SIM_RAW) {
    const struct lg_datarate *d = lg_region_dr(sc->region, g->dr);
    if (g->payload_bytes > d->max_app_payload) {
      char pp[LG_PATH];
      join_path(pp, sizeof(pp), p, "payload_bytes");
      return fail(c, pp, "%d bytes exceed DR%d's maximum of %d in %s", g->payload_bytes, g->dr,
                  d->max_app_payload, sc->region->name);
    }
  }
  return 0;
}

static int groups(struct ctx *c, json_t *root, struct lg_sim_scenario *sc) {
  json_t *a = json_object_get(root, "groups");
  if (!json_is_array(a) || json_array_size(a) == 0)
    return fail(c, "groups", "expected a non-empty array");
  sc->n_groups = json_array_size(a);
  sc->groups = calloc(sc->n_groups, sizeof(*sc->groups));
  if (!sc->groups) return LG_ENOMEM;
  for (size_t i = 0; i < sc->n_groups; i++) {
    char p[LG_PATH];
    snprintf(p, sizeof(p), "groups[%zu]", i);
    if (group(c, p, json_array_get(a, i), sc, &sc->groups[i])) return LG_EINVAL;
  }
  return 0;
}

static int channel(struct ctx *c, json_t *root, struct lg_sim_scenario *sc) {
  static const char *const keys[] = {"path_loss", "nlos", NULL};
  static const char *const pkeys[] = {"d0_m", "pl0_db", "exponent", "sigma_db", "log", NULL};
  static const char *const nkeys[] = {"probability", "mean_delay_ns", NULL};
  static const char *const logs[] = {"log10", "ln", NULL};
  struct lg_sim_channel *ch = &sc->channel;
  json_t *o, *pl = NULL, *nl = NULL;
  /* Oulu (Petajajarvi et al. 2015; FLoRa's LoRaPathLossOulu): reaches kilometres. */
  *ch = (struct lg_sim_channel){.d0_m = 1000, .pl0_db = 128.95, .exponent = 2.32, .sigma_db = 7.8};
  if (object(c, "", root, "channel", &o)) return LG_EINVAL;
  if (o == NULL) return 0;
  if (only_keys(c, "channel", o, keys) || object(c, "channel", o, "path_loss", &pl) ||
      object(c, "channel", o, "nlos", &nl))
    return LG_EINVAL;
  int lg = 0;
  if (pl && (only_keys(c, "channel.path_loss", pl, pkeys) ||
             num(c, "channel.path_loss", pl, "d0_m", ch->d0_m, 0.01, 1e6, &ch->d0_m) ||
             num(c, "channel.path_loss", pl, "pl0_db", ch->pl0_db, 0, 300, &ch->pl0_db) ||
             num(c, "channel.path_loss", pl, "exponent", ch->exponent, 1, 8, &ch->exponent) ||
             num(c, "channel.path_loss", pl, "sigma_db", ch->sigma_db, 0, 30, &ch->sigma_db) ||
             choice(c, "channel.path_loss", pl, "log", 0, logs, &lg)))
    return LG_EINVAL;
  ch->natural_log = lg == 1;
  if (nl && (only_keys(c, "channel.nlos", nl, nkeys) ||
             num(c, "channel.nlos", nl, "probability", 0, 0, 1, &ch->nlos_probability) ||
             num(c, "channel.nlos", nl, "mean_delay_ns", 0, 0, 1e6, &ch->nlos_delay_mean_ns)))
    return LG_EINVAL;
  return 0;
}

/* "faults": {"config_port", "reboots": {"devices", "from_s", "to_s"}, "dying_batteries":
 * {"devices", "over_s", "from_s", "to_s"}, "silences": {"devices", "min_s", "max_s", "from_s",
 * "to_s"}, "gateway_drift": [{"gateway", "start_s", "ns_per_s"}]} (docs/simulator.md) */
static int faults(struct ctx *c, json_t *root, struct lg_sim_scenario *sc) {
  static const char *const keys[] = {"config_port", "reboots",       "dying_batteries",
                                     "silences",    "gateway_drift", NULL};
  static const char *const rkeys[] = {"devices", "from_s", "to_s", NULL};
  static const char *const bkeys[] = {"devices", "over_s", "from_s", "to_s", NULL};
  static const char *const skeys[] = {"devices", "min_s", "max_s", "from_s", "to_s", NULL};
  static const char *const dkeys[] = {"gateway", "start_s", "ns_per_s", NULL};
  struct lg_sim_faults *f = &sc->faults;
  double end = (double)sc->duration_ns / 1e9;
  json_t *o, *r, *b, *si;
  long long v;
  f->config_port = 222;
  if (object(c, "", root, "faults", &o)) return LG_EINVAL;
  if (o == NULL) return 0;
  if (only_keys(c, "faults", o, keys) || integer(c, "faults", o, "config_port", 222, 1, 223, &v))
    return LG_EINVAL;
  f->config_port = (int)v;
  if (object(c, "faults", o, "reboots", &r) || object(c, "faults", o, "dying_batteries", &b) ||
      object(c, "faults", o, "silences", &si))
    return LG_EINVAL;
  if (r) {
    if (only_keys(c, "faults.reboots", r, rkeys) ||
        integer(c, "faults.reboots", r, "devices", 0, 0, 10000000, &v) ||
        num(c, "faults.reboots", r, "from_s", 0, 0, end, &f->reboot_from_s) ||
        num(c, "faults.reboots", r, "to_s", end, f->reboot_from_s, end, &f->reboot_to_s))
      return LG_EINVAL;
    f->reboots = (int)v;
  }
  if (b) {
    if (only_keys(c, "faults.dying_batteries", b, bkeys) ||
        integer(c, "faults.dying_batteries", b, "devices", 0, 0, 10000000, &v) ||
        num(c, "faults.dying_batteries", b, "over_s", 3 * 86400, 1, 1e9, &f->battery_over_s) ||
        num(c, "faults.dying_batteries", b, "from_s", 0, 0, end, &f->battery_from_s) ||
        num(c, "faults.dying_batteries", b, "to_s", end, f->battery_from_s, end, &f->battery_to_s))
      return LG_EINVAL;
    f->batteries = (int)v;
  }
  if (si) {
    if (only_keys(c, "faults.silences", si, skeys) ||
        integer(c, "faults.silences", si, "devices", 0, 0, 10000000, &v) ||
        num(c, "faults.silences", si, "min_s", 3600, 1, 1e9, &f->silence_min_s) ||
        num(c, "faults.silences", si, "max_s", f->silence_min_s, f->silence_min_s, 1e9,
            &f->silence_max_s) ||
        num(c, "faults.silences", si, "from_s", 0, 0, end, &f->silence_from_s) ||
        num(c, "faults.silences", si, "to_s", end, f->silence_from_s, end, &f->silence_to_s))
      return LG_EINVAL;
    f->silences = (int)v;
  }
  json_t *d = json_object_get(o, "gateway_drift"), *x;
  size_t i;
  if (d && (!json_is_array(d) || json_array_size(d) > LG_SIM_MAX_DRIFTS))
    return fail(c, "faults.gateway_drift", "expected an array of at most %d", LG_SIM_MAX_DRIFTS);
  json_array_foreach(d, i, x) {
    char p[LG_PATH];
    snprintf(p, sizeof(p), "faults.gateway_drift[%zu]", i);
    if (!json_is_object(x)) return fail(c, p, "expected {\"gateway\", \"start_s\", \"ns_per_s\"}");
    if (only_keys(c, p, x, dkeys) ||
        integer(c, p, x, "gateway", -1, 0, (long long)sc->n_gateways - 1, &v) ||
        num(c, p, x, "start_s", 0, 0, end, &f->drift[i].start_s) ||
        num(c, p, x, "ns_per_s", NAN, -1e6, 1e6, &f->drift[i].ns_per_s))
      return LG_EINVAL;
    if (v < 0) return fail(c, p, "gateway: required (its index in gateways)");
    f->drift[i].gateway = (int)v;
    sc->gateways[v].drift_start_ns = (int64_t)(f->drift[i].start_s * 1e9);
    sc->gateways[v].drift_ns_per_s = f->drift[i].ns_per_s;
    f->n_drifts = i + 1;
  }
  long long devices = 0;
  for (size_t k = 0; k < sc->n_groups; k++)
    devices += sc->groups[k].activation == LG_SIM_RAW ? 0 : sc->groups[k].count;
  if ((long long)f->reboots + f->batteries + f->silences > devices)
    return fail(c, "faults",
                "%d faulty devices of %lld LoRaWAN devices: each has at most one fault",
                f->reboots + f->batteries + f->silences, devices);
  return 0;
}

static int rest(struct ctx *c, json_t *root, struct lg_sim_scenario *sc) {
  static const char *const ckeys[] = {"model", "capture", NULL};
  static const char *const models[] = {"none", "lorasim", "ns3", "flora", NULL};
  static const char *const ekeys[] = {"voltage_v", "rx_ma", "idle_ma", "count_rx_windows", NULL};
  static const char *const gkeys[] = {"methods", "min_gateways", "sigma_ns", "mean", NULL};
  json_t *co, *en, *ge;
  int model = LG_SIM_COLL_LORASIM;
  if (object(c, "", root, "collisions", &co) || object(c, "", root, "energy", &en) ||
      object(c, "", root, "geolocation", &ge))
    return LG_EINVAL;
  if (co && (only_keys(c, "collisions", co, ckeys) ||
             choice(c, "collisions", co, "model", LG_SIM_COLL_LORASIM, models, &model)))
    return LG_EINVAL;
  sc->collision = (enum lg_sim_collision)model;
  sc->capture = true;
  if (co && boolean(c, "collisions", co, "capture", true, &sc->capture)) return LG_EINVAL;
  json_t *dc = json_object_get(root, "duty_cycle");
  if (json_is_string(dc) && strcmp(json_string_value(dc), "hourly") == 0) {
    sc->duty_cycle = sc->dc_hourly = true;
  } else if (dc && !json_is_boolean(dc)) {
    return fail(c, "duty_cycle",
                "expected true (an off time after each frame), \"hourly\" or false");
  } else {
    sc->duty_cycle = dc == NULL || json_is_true(dc);
  }
  /* ns-3's currents at 3.3 V (phy-sim-adr.md §2.2); TX current from the PA_BOOST table. */
  sc->energy = (struct lg_sim_energy){3.3, 11.2, 1.4, true};
  if (en && (only_keys(c, "energy", en, ekeys) ||
             num(c, "energy", en, "voltage_v", 3.3, 1, 12, &sc->energy.voltage_v) ||
             num(c, "energy", en, "rx_ma", 11.2, 0, 100, &sc->energy.rx_ma) ||
             num(c, "energy", en, "idle_ma", 1.4, 0, 100, &sc->energy.idle_ma) ||
             boolean(c, "energy", en, "count_rx_windows", true, &sc->energy.count_rx_windows)))
    return LG_EINVAL;
  sc->geo_min_gateways = 3;
  sc->geo_sigma_ns = 50;
  if (ge == NULL) return 0;
  long long v;
  if (only_keys(c, "geolocation", ge, gkeys) ||
      integer(c, "geolocation", ge, "min_gateways", 3, 3, 64, &v) ||
      num(c, "geolocation", ge, "sigma_ns", 50, 0.1, 1e6, &sc->geo_sigma_ns) ||
      boolean(c, "geolocation", ge, "mean", false, &sc->geo_mean))
    return LG_EINVAL;
  sc->geo_min_gateways = (int)v;
  json_t *m = json_object_get(ge, "methods");
  if (m == NULL)
    m = json_pack("[s]", "nls");
  else
    json_incref(m);
  int rc = 0;
  if (!json_is_array(m) || json_array_size(m) == 0)
    rc = fail(c, "geolocation.methods", "expected an array such as [\"nls\", \"lls\", \"grid\"]");
  for (size_t i = 0; rc == 0 && i < json_array_size(m); i++) {
    enum lg_geo_method gm;
    json_t *x = json_array_get(m, i);
    if (!json_is_string(x) || lg_geo_method_parse(json_string_value(x), &gm) ||
        gm == LG_GEO_FINGERPRINT || gm == LG_GEO_KNN) /* they need a radio map */
      rc = fail(c, "geolocation.methods",
                "entry %zu: expected nls, lls, grid, rssi, hybrid, centroid or auto", i);
    else
      sc->geo_methods |= 1u << gm;
  }
  json_decref(m);
  return rc;
}

int lg_sim_scenario_parse(const char *text, const char *base_dir, struct lg_sim_scenario *sc,
                          char *why, size_t why_len) {
  static const char *const keys[] = {
      "name",       "description", "region",       "seed",    "duration_s",
      "origin",     "gateways",    "groups",       "channel", "collisions",
      "duty_cycle", "energy",      "geolocation",  "modes",   "adr_standard",
      "timing",     "faults",      "adr_mobility", NULL};
  struct ctx c;
  memset(&c, 0, sizeof(c));
  c.why = why, c.why_len = why_len, c.base_dir = base_dir;
  memset(sc, 0, sizeof(*sc));
  json_error_t err;
  json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &err);
  if (!root) {
    snprintf(why, why_len, "line %d column %d: %s", err.line, err.column, err.text);
    return LG_EINVAL;
  }
  int rc = LG_EINVAL;
  json_t *reg = json_object_get(root, "region");
  long long seed;
  double dur;
  if (!json_is_object(root)) {
    fail(&c, "scenario", "expected a JSON object");
    goto out;
  }
  if (only_keys(&c, "", root, keys)) goto out;
  sc->region = lg_region_find(reg ? (json_is_string(reg) ? json_string_value(reg) : "?") : "EU868");
  if (!sc->region) {
    char names[256];
    fail(&c, "region", "expected one of %s", lg_region_names(names, sizeof(names)));
    goto out;
  }
  /* The E-ADR paper's devices use Waspmote modes, not LoRaWAN data rates: "modes":
   * "waspmote" makes the scenario's data rates its Table I (mode m = DR m - 1). */
  static const char *const mode_tables[] = {"lorawan", "waspmote", NULL};
  static const char *const standards[] = {"chirpstack", "semtech", NULL};
  static const char *const mobilities[] = {"model", "classify", NULL};
  int table = 0, standard = 0, mobility_from = 0;
  if (choice(&c, "", root, "modes", 0, mode_tables, &table) ||
      choice(&c, "", root, "adr_standard", 0, standards, &standard) ||
      choice(&c, "", root, "adr_mobility", 0, mobilities, &mobility_from))
    goto out;
  sc->adr_classify = mobility_from == 1;
  if (table == 1) {
    if (strcmp(sc->region->name, "EU868") != 0) {
      fail(&c, "modes", "\"waspmote\" needs region EU868 (the paper's band)");
      goto out;
    }
    if (!(sc->custom_region = malloc(sizeof(*sc->custom_region)))) {
      fail(&c, "modes", "out of memory");
      goto out;
    }
    lg_region_waspmote(sc->region, sc->custom_region);
    sc->region = sc->custom_region;
    sc->waspmote_modes = true;
  }
  sc->standard_every = standard == 1 ? LG_ADR_HISTORY : 0;
  if (integer(&c, "", root, "seed", 1, 0, INT64_MAX, &seed) ||
      num(&c, "", root, "duration_s", NAN, 0.001, 1e9, &dur))
    goto out;
  sc->seed = (uint64_t)seed;
  sc->duration_ns = (int64_t)llround(dur * 1e9);
  /* The origin of the local plane: given, or the first listed gateway. */
  json_t *origin = json_object_get(root, "origin"),
         *gw0 = json_array_get(json_object_get(root, "gateways"), 0);
  if (origin) {
    static const char *const okeys[] = {"lat", "lon", NULL};
    if (!json_is_object(origin) || only_keys(&c, "origin", origin, okeys) ||
        num(&c, "origin", origin, "lat", NAN, -90, 90, &sc->origin_lat) ||
        num(&c, "origin", origin, "lon", NAN, -180, 180, &sc->origin_lon)) {
      if (!json_is_object(origin)) fail(&c, "origin", "expected {\"lat\", \"lon\"}");
      goto out;
    }
  } else if (json_is_object(gw0) && json_is_number(json_object_get(gw0, "lat")) &&
             json_is_number(json_object_get(gw0, "lon"))) {
    sc->origin_lat = json_number_value(json_object_get(gw0, "lat"));
    sc->origin_lon = json_number_value(json_object_get(gw0, "lon"));
  } else if (json_is_object(gw0) || json_is_object(json_object_get(root, "gateways"))) {
    fail(&c, "origin", "required when gateways are placed in metres ({\"lat\", \"lon\"})");
    goto out;
  }
  lg_enu_init(&c.enu, &(struct lg_geodetic){sc->origin_lat, sc->origin_lon, 0});
  if (gateways(&c, root, sc) || groups(&c, root, sc) || channel(&c, root, sc) ||
      rest(&c, root, sc) || faults(&c, root, sc))
    goto out;
  for (size_t i = 0; i < sc->n_gateways; i++) {
    struct lg_sim_gateway *g = &sc->gateways[i];
    lg_geo_to_ecef(&(struct lg_geodetic){g->lat_deg, g->lon_deg, g->alt_m}, g->ecef);
  }
  rc = 0;
out:
  json_decref(root);
  if (rc) lg_sim_scenario_free(sc);
  return rc;
}

int lg_sim_scenario_load(const char *path, struct lg_sim_scenario *sc, char *why, size_t why_len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(why, why_len, "cannot open %s: %s", path, strerror(errno));
    return LG_EIO;
  }
  char *text = NULL;
  size_t len = 0, cap = 0, n;
  char buf[65536];
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
    if (len + n + 1 > cap) {
      cap = 2 * (len + n + 1);
      char *t = realloc(text, cap);
      if (!t) {
        free(text);
        fclose(f);
        return LG_ENOMEM;
      }
      text = t;
    }
    memcpy(text + len, buf, n);
    len += n;
  }
  fclose(f);
  if (!text) {
    snprintf(why, why_len, "%s is empty", path);
    return LG_EINVAL;
  }
  text[len] = 0;
  char dir[1024];
  snprintf(dir, sizeof(dir), "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash)
    *slash = 0;
  else
    snprintf(dir, sizeof(dir), ".");
  int rc = lg_sim_scenario_parse(text, dir, sc, why, why_len);
  free(text);
  return rc;
}

void lg_sim_scenario_free(struct lg_sim_scenario *sc) {
  for (size_t i = 0; sc->groups && i < sc->n_groups; i++) {
    free(sc->groups[i].points);
    free(sc->groups[i].trace);
  }
  free(sc->groups);
  free(sc->gateways);
  free(sc->custom_region);
  memset(sc, 0, sizeof(*sc));
}
