/*
 * What a run leaves behind: transmissions.csv (one line per transmission), positions.csv
 * (true and estimated position of every located frame), summary.json and PNG plots drawn
 * by gnuplot from those files. Everything here is a function of the simulated events
 * only (no wall-clock values), so one seed gives byte-identical files.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sim/sim_int.h"
#include "util/util.h"

/* One fix's error into a method's statistics (network.c adds them, the summary reads them). */
void geo_stats_add(struct geo_stats *g, double err) {
  if (g->n == g->cap) {
    g->cap = g->cap ? 2 * g->cap : 4096;
    float *e = realloc(g->err, g->cap * sizeof(*e));
    if (!e) abort();
    g->err = e;
  }
  g->err[g->n++] = (float)err;
}

static FILE *open_in(const char *dir, const char *name, char *why, size_t why_len) {
  char path[1200];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) snprintf(why, why_len, "cannot write %s: %s", path, strerror(errno));
  return f;
}

int sim_outputs_open(struct sim *s, const char *dir, bool transmissions, char *why,
                     size_t why_len) {
  if (mkdir(dir, 0755) && errno != EEXIST) {
    snprintf(why, why_len, "cannot create %s: %s", dir, strerror(errno));
    return LG_EIO;
  }
  if (transmissions) {
    if (!(s->f_tx = open_in(dir, "transmissions.csv", why, why_len))) return LG_EIO;
    fputs("t_s,device,group,kind,f_cnt,dr,sf,bw_khz,freq_mhz,power_dbm,toa_ms,energy_mj,"
          "east_m,north_m,gateways,collided,delivered,rx\n",
          s->f_tx);
  }
  if (s->sc->geo_methods) {
    if (!(s->f_pos = open_in(dir, "positions.csv", why, why_len))) return LG_EIO;
    fputs("t_s,device,method,true_lat,true_lon,est_lat,est_lon,error_m,gateways\n", s->f_pos);
    if (!(s->f_frames = open_in(dir, "frames.jsonl", why, why_len))) return LG_EIO;
  }
  bool adr = false;
  for (size_t i = 0; i < s->sc->n_groups; i++)
    adr |= s->sc->groups[i].adr != LG_ADR_OFF;
  if (adr) {
    if (!(s->f_adr = open_in(dir, "adr.csv", why, why_len))) return LG_EIO;
    fputs("t_s,device,f_cnt,dr,tx_power_index,next_dr,next_tx_power_index,change,reason\n",
          s->f_adr);
  }
  return 0;
}

void sim_output_adr(struct sim *s, const struct tx *t, const struct device *d,
                    const struct lg_adr_decision *dec) {
  if (!s->f_adr) return;
  fprintf(s->f_adr, "%.3f,%u,%u,%d,%d,%d,%d,%d,\"", (double)t->end_ns / 1e9, t->dev, t->f_cnt,
          t->dr, d->txp_index, dec->next.dr, dec->next.tx_power_index, dec->change);
  for (const char *c = dec->reason; *c; c++) /* CSV: quotes doubled */
    fputs(*c == '"' ? "\"\"" : (char[2]){*c, 0}, s->f_adr);
  fputs("\"\n", s->f_adr);
}

void sim_output_tx(struct sim *s, const struct tx *t, bool delivered) {
  if (!s->f_tx) return;
  static const char *const kinds[] = {"raw", "join", "data"};
  const struct device *d = &s->dev[t->dev];
  int collided = 0;
  for (uint32_t ri = t->rx_head; ri != UINT32_MAX; ri = s->rxs[ri].next)
    collided += s->rxs[ri].lost;
  double e =
      lg_lora_tx_current_ma(t->power_dbm) * (double)t->toa_ns * s->sc->energy.voltage_v * 1e-9;
  fprintf(s->f_tx, "%.6f,%u,%s,%s,%u,%d,%d,%u,%.3f,%.1f,%.3f,%.3f,%.1f,%.1f,%u,%d,%d,",
          (double)t->start_ns / 1e9, t->dev, s->sc->groups[d->group].name, kinds[t->kind], t->f_cnt,
          t->dr, t->sf, t->bw_hz / 1000, t->freq_hz / 1e6, t->power_dbm, (double)t->toa_ns / 1e6, e,
          d->e, d->n, t->n_rx, collided, delivered);
  /* each reception: gateway:rssi:snr:timestamp error (ns):lost */
  for (uint32_t ri = t->rx_head; ri != UINT32_MAX; ri = s->rxs[ri].next) {
    const struct reception *r = &s->rxs[ri];
    fprintf(s->f_tx, "%s%016llx:%.1f:%.1f:%lld:%d", ri == t->rx_head ? "" : "|",
            (unsigned long long)s->sc->gateways[r->gw].eui, r->rssi, r->snr,
            (long long)(r->stamp_ns - r->end_ns), r->lost);
  }
  fputc('\n', s->f_tx);
}

/* Grows the site's box (map.png's frame) to hold a point. */
static void site_add(struct sim *s, double lat_deg, double lon_deg) {
  if (!s->has_site) {
    s->site_lat_deg[0] = s->site_lat_deg[1] = lat_deg;
    s->site_lon_deg[0] = s->site_lon_deg[1] = lon_deg;
    s->has_site = true;
    return;
  }
  s->site_lat_deg[0] = fmin(s->site_lat_deg[0], lat_deg);
  s->site_lat_deg[1] = fmax(s->site_lat_deg[1], lat_deg);
  s->site_lon_deg[0] = fmin(s->site_lon_deg[0], lon_deg);
  s->site_lon_deg[1] = fmax(s->site_lon_deg[1], lon_deg);
}

void sim_output_fix(struct sim *s, const struct tx *t, const struct device *d, const char *method,
                    double lat, double lon, double err_m, int gws) {
  if (!s->f_pos) return;
  struct lg_geodetic g;
  lg_enu_to_geodetic(&s->enu, (double[3]){d->e, d->n, 0}, &g);
  fprintf(s->f_pos, "%.6f,%u,%s,%.7f,%.7f,%.7f,%.7f,%.2f,%d\n", (double)t->start_ns / 1e9, t->dev,
          method, g.lat_deg, g.lon_deg, lat, lon, err_m, gws);
  site_add(s, g.lat_deg, g.lon_deg);
}

#define FRAME_EPOCH_NS 1767225600000000000LL /* 2026-01-01T00:00:00Z */

void sim_output_frame(struct sim *s, const struct tx *t, const struct device *d) {
  if (!s->f_frames) return;
  struct lg_geodetic g;
  lg_enu_to_geodetic(&s->enu, (double[3]){d->e, d->n, 0}, &g);
  fprintf(s->f_frames, "{\"id\":\"f%llu\",\"device\":\"d%u\",\"rx\":[",
          (unsigned long long)++s->frames_written, t->dev);
  bool first = true;
  for (uint32_t ri = t->rx_head; ri != UINT32_MAX; ri = s->rxs[ri].next) {
    const struct reception *r = &s->rxs[ri];
    if (r->lost) continue;
    const struct lg_sim_gateway *gw = &s->sc->gateways[r->gw];
    fprintf(s->f_frames,
            "%s{\"gateway\":\"%016llx\",\"lat\":%.7f,\"lon\":%.7f,\"alt\":%.1f,\"time_ns\":%lld,"
            "\"rssi\":%.1f,\"snr\":%.1f}",
            first ? "" : ",", (unsigned long long)gw->eui, gw->lat_deg, gw->lon_deg, gw->alt_m,
            (long long)(FRAME_EPOCH_NS + r->stamp_ns), r->rssi, r->snr);
    first = false;
  }
  fprintf(s->f_frames, "],\"truth\":{\"lat\":%.7f,\"lon\":%.7f}}\n", g.lat_deg, g.lon_deg);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static double q(const float *v, size_t n, double p) { /* linear interpolation, sorted v */
  double pos = p * (double)(n - 1);
  size_t i = (size_t)pos;
  if (i + 1 >= n) return v[n - 1];
  return v[i] + (pos - (double)i) * (v[i + 1] - v[i]);
}

static json_t *error_stats(struct geo_stats *g) {
  json_t *o = json_object();
  json_object_set_new(o, "fixes", json_integer((json_int_t)g->n));
  json_object_set_new(o, "failed", json_integer((json_int_t)g->failed));
  if (g->n == 0) return o;
  qsort(g->err, g->n, sizeof(float), cmp_float);
  double sum = 0, sq = 0;
  for (size_t i = 0; i < g->n; i++)
    sum += g->err[i], sq += (double)g->err[i] * g->err[i];
  json_object_set_new(o, "mean_m", json_real(round(sum / (double)g->n * 100) / 100));
  json_object_set_new(o, "rms_m", json_real(round(sqrt(sq / (double)g->n) * 100) / 100));
  json_object_set_new(o, "median_m", json_real(round(q(g->err, g->n, 0.5) * 100) / 100));
  json_object_set_new(o, "p90_m", json_real(round(q(g->err, g->n, 0.9) * 100) / 100));
  json_object_set_new(o, "max_m", json_real(round(g->err[g->n - 1] * 100) / 100.0));
  return o;
}

static json_t *r3(double x) {
  return json_real(round(x * 1000) / 1000);
}

char *sim_summary(struct sim *s) {
  const struct lg_sim_scenario *sc = s->sc;
  const struct sim_totals *t = &s->tot;
  static const char *const models[] = {"none", "lorasim", "ns3", "flora"};
  json_t *o = json_object();
  json_object_set_new(o, "region", json_string(sc->region->name));
  json_object_set_new(o, "seed", json_integer((json_int_t)sc->seed));
  json_object_set_new(o, "duration_s", r3((double)sc->duration_ns / 1e9));
  json_object_set_new(o, "devices", json_integer((json_int_t)s->n_dev));
  json_object_set_new(o, "gateways", json_integer((json_int_t)sc->n_gateways));
  json_object_set_new(o, "collision_model", json_string(models[sc->collision]));
  json_object_set_new(o, "capture", json_boolean(sc->capture));
  json_object_set_new(o, "transmissions", json_integer((json_int_t)t->tx));
  json_object_set_new(o, "transmissions_delivered", json_integer((json_int_t)t->tx_delivered));
  json_object_set_new(o, "der", r3(t->tx ? (double)t->tx_delivered / (double)t->tx : 0));
  json_object_set_new(o, "messages", json_integer((json_int_t)t->msgs));
  json_object_set_new(o, "messages_delivered", json_integer((json_int_t)t->msgs_delivered));
  json_object_set_new(o, "delivery_ratio",
                      r3(t->msgs ? (double)t->msgs_delivered / (double)t->msgs : 0));
  json_object_set_new(o, "messages_overwritten", json_integer((json_int_t)t->msgs_overwritten));
  json_object_set_new(o, "receptions", json_integer((json_int_t)t->rx));
  json_object_set_new(o, "receptions_lost_collision",
                      json_integer((json_int_t)t->rx_lost_collision));
  json_object_set_new(o, "receptions_lost_no_path", json_integer((json_int_t)t->rx_lost_no_path));
  json_object_set_new(o, "duty_cycle_waits", json_integer((json_int_t)t->dc_waits));
  json_object_set_new(o, "joins",
                      json_pack("{s:I,s:I}", "sent", (json_int_t)t->joins_sent, "accepted",
                                (json_int_t)t->joins_accepted));
  json_object_set_new(o, "downlinks",
                      json_pack("{s:I,s:I,s:I,s:I}", "attempted", (json_int_t)t->downlinks,
                                "blocked_duty_cycle", (json_int_t)t->downlinks_dc_blocked,
                                "out_of_reach", (json_int_t)t->downlinks_out_of_reach,
                                "confirmed_acked", (json_int_t)t->confirmed_acked));
  json_object_set_new(o, "adr_decisions", json_integer((json_int_t)t->adr_decisions));
  if (s->linkmap) { /* what predictive's network learned of its links */
    uint64_t refused;
    size_t cells = lg_linkmap_size(s->linkmap, &refused);
    json_object_set_new(o, "adr_links", json_pack("{s:I,s:I}", "gateway_cells", (json_int_t)cells,
                                                  "refused", (json_int_t)refused));
  }
  if (t->mob_verdicts + t->mob_unknown) /* predictive's mobility classifier, scored */
    json_object_set_new(
        o, "adr_mobility",
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:f}", "verdicts", (json_int_t)t->mob_verdicts,
                  "unknown", (json_int_t)t->mob_unknown, "static_truth",
                  (json_int_t)t->mob_truth[0], "static_correct", (json_int_t)t->mob_correct[0],
                  "moving_truth", (json_int_t)t->mob_truth[1], "moving_correct",
                  (json_int_t)t->mob_correct[1], "accuracy",
                  t->mob_verdicts
                      ? (double)(t->mob_correct[0] + t->mob_correct[1]) / (double)t->mob_verdicts
                      : 0.0));
  json_object_set_new(o, "air_time_s", r3(t->airtime_ms / 1e3));
  /* the E-ADR paper's count: every message at the settings of its moment, sent or not */
  json_object_set_new(o, "air_time_needed_s", r3((t->airtime_ms + t->airtime_unsent_ms) / 1e3));
  json_object_set_new(o, "energy_j", r3(t->energy_mj / 1e3));
  json_object_set_new(o, "energy_model",
                      json_pack("{s:f,s:s,s:f,s:f,s:b}", "voltage_v", sc->energy.voltage_v,
                                "tx_current", "SX1272 PA_BOOST table (LoRaSim/FLoRa)", "rx_ma",
                                sc->energy.rx_ma, "idle_ma", sc->energy.idle_ma,
                                "rx_windows_counted", sc->energy.count_rx_windows));
  json_t *groups = json_array();
  size_t first = 0;
  for (size_t gi = 0; gi < sc->n_groups; gi++) {
    const struct lg_sim_group *g = &sc->groups[gi];
    double air = 0, en = 0, entx = 0;
    uint64_t m = 0, md = 0, txc = 0;
    int dr_hist[16] = {0};
    for (size_t k = first; k < first + (size_t)g->count; k++) {
      const struct device *d = &s->dev[k];
      air += d->airtime_ms, en += d->energy_mj, entx += d->energy_tx_mj;
      m += d->msgs, md += d->msgs_delivered, txc += d->tx_count;
      if (d->dr >= 0 && d->dr < 16) dr_hist[d->dr]++;
    }
    double n = g->count ? g->count : 1;
    json_t *drs = json_object();
    for (int k = 0; k < 16; k++)
      if (dr_hist[k]) {
        char key[8];
        snprintf(key, sizeof(key), "DR%d", k);
        json_object_set_new(drs, key, json_integer(dr_hist[k]));
      }
    json_t *go = json_object();
    json_object_set_new(go, "name", json_string(g->name));
    json_object_set_new(go, "devices", json_integer(g->count));
    json_object_set_new(go, "messages", json_integer((json_int_t)m));
    json_object_set_new(go, "messages_delivered", json_integer((json_int_t)md));
    json_object_set_new(go, "delivery_ratio", r3(m ? (double)md / (double)m : 0));
    json_object_set_new(go, "transmissions", json_integer((json_int_t)txc));
    json_object_set_new(go, "air_time_ms_per_device", r3(air / n));
    json_object_set_new(go, "energy_mj_per_device", r3(en / n));
    json_object_set_new(go, "energy_tx_only_mj_per_device", r3(entx / n));
    json_object_set_new(go, "final_dr", drs);
    json_array_append_new(groups, go);
    first += (size_t)g->count;
  }
  json_object_set_new(o, "groups", groups);
  if (sc->geo_methods) {
    json_t *geo = json_object();
    for (int m = 0; m < LG_GEO_METHOD_COUNT; m++)
      if (sc->geo_methods & (1u << m))
        json_object_set_new(geo, lg_geo_method_name((enum lg_geo_method)m),
                            error_stats(&s->geo[m]));
    if (sc->geo_mean) {
      for (size_t k = 0; k < s->n_dev; k++) {
        const struct device *d = &s->dev[k];
        if (d->mean_count == 0) continue;
        geo_stats_add(&s->geo_mean, hypot(d->mean_sum_e / d->mean_count - d->e,
                                          d->mean_sum_n / d->mean_count - d->n));
      }
      json_object_set_new(geo, "device_mean", error_stats(&s->geo_mean));
    }
    json_object_set_new(o, "geolocation", geo);
  }
  char *txt = json_dumps(o, JSON_PRESERVE_ORDER | JSON_INDENT(2) | JSON_REAL_PRECISION(10));
  json_decref(o);
  return txt;
}

/* gnuplot script: error CDF per method, map of gateways and tracks, DR over time. */
static int plots(struct sim *s, const char *dir) {
  char path[1200];
  snprintf(path, sizeof(path), "%s/plots.gp", dir);
  FILE *f = fopen(path, "w");
  if (!f) return LG_EIO;
  fprintf(f, "set terminal pngcairo size 900,650\nset datafile separator ','\nset key outside\n");
  snprintf(path, sizeof(path), "%s/gateways.csv", dir);
  FILE *g = fopen(path, "w");
  if (!g) return fclose(f), LG_EIO;
  fputs("eui,lat,lon\n", g);
  for (size_t i = 0; i < s->sc->n_gateways; i++)
    fprintf(g, "%016llx,%.7f,%.7f\n", (unsigned long long)s->sc->gateways[i].eui,
            s->sc->gateways[i].lat_deg, s->sc->gateways[i].lon_deg);
  fclose(g);
  if (s->f_pos) {
    fprintf(f,
            "set output 'error_cdf.png'\nset title 'Position error (CDF)'\nset xlabel 'error (m)'\n"
            "set ylabel 'fraction of fixes'\nset logscale x\nplot ");
    int k = 0;
    for (int m = 0; m < LG_GEO_METHOD_COUNT; m++) {
      struct geo_stats *gs = &s->geo[m];
      const char *name = lg_geo_method_name((enum lg_geo_method)m);
      if (!(s->sc->geo_methods & (1u << m)) || gs->n == 0) continue;
      snprintf(path, sizeof(path), "%s/cdf_%s.csv", dir, name); /* errors sorted by the summary */
      FILE *c = fopen(path, "w");
      if (!c) return fclose(f), LG_EIO;
      size_t step = gs->n > 2000 ? gs->n / 2000 : 1;
      for (size_t i = 0; i < gs->n; i += step)
        fprintf(c, "%.3f,%.5f\n", gs->err[i], (double)(i + 1) / (double)gs->n);
      fclose(c);
      fprintf(f, "%s'cdf_%s.csv' using 1:2 with lines lw 2 title '%s'", k++ ? ", " : "", name,
              name);
    }
    if (k == 0) fprintf(f, "0 notitle");
    fprintf(f, "\nunset logscale x\n");
    /* The frame is the site (gateways and true positions) with a 15 % margin: a fix
     * kilometres off is an outlier to read in error_cdf.png, not a reason to shrink the
     * site to a dot. Fixes outside the frame are clipped. */
    for (size_t i = 0; i < s->sc->n_gateways; i++)
      site_add(s, s->sc->gateways[i].lat_deg, s->sc->gateways[i].lon_deg);
    double pad_lat = fmax(0.15 * (s->site_lat_deg[1] - s->site_lat_deg[0]), 0.001);
    double pad_lon = fmax(0.15 * (s->site_lon_deg[1] - s->site_lon_deg[0]), 0.001);
    fprintf(f, "set xrange [%.7f:%.7f]\nset yrange [%.7f:%.7f]\n", s->site_lon_deg[0] - pad_lon,
            s->site_lon_deg[1] + pad_lon, s->site_lat_deg[0] - pad_lat,
            s->site_lat_deg[1] + pad_lat);
    fprintf(f, "set output 'map.png'\nset title 'Gateways, true tracks and fixes'\nset xlabel "
               "'longitude'\n"
               "set ylabel 'latitude'\nset size ratio -1\n"
               "plot 'positions.csv' every ::1 using 7:6 with points pt 1 ps 0.4 lc rgb '#bbbbbb' "
               "title 'fixes', "
               "'positions.csv' every ::1 using 5:4 with points pt 7 ps 0.3 lc rgb '#1f77b4' title "
               "'true', "
               "'gateways.csv' every ::1 using 3:2 with points pt 5 ps 1.5 lc rgb '#d62728' title "
               "'gateways'\n"
               "set size noratio\nset autoscale xy\n");
  } else {
    fprintf(f, "set output 'map.png'\nset title 'Gateways'\nset size ratio -1\n"
               "plot 'gateways.csv' every ::1 using 3:2 with points pt 5 ps 1.5 title "
               "'gateways'\nset size noratio\n");
  }
  if (s->f_tx) /* the region's data rates (the Waspmote modes: DR m - 1 is mode m) */
    fprintf(f,
            "set output 'dr.png'\nset title 'Data rate of each transmission%s'\n"
            "set xlabel 'time (s)'\nset ylabel 'DR'\nset yrange [-0.5:%d.5]\nset ytics 1\n"
            "plot 'transmissions.csv' every ::1 using 1:6 with points pt 7 ps %s title 'DR'\n",
            s->sc->waspmote_modes ? " (DR m-1 = Waspmote mode m)" : "", s->sc->region->dr_count - 1,
            s->n_dev <= 10 ? "0.8" : "0.3");
  fclose(f);
  char cmd[1400];
  snprintf(cmd, sizeof(cmd), "cd '%s' && gnuplot plots.gp 2>gnuplot.log", dir);
  return system(cmd) == 0 ? 0 : LG_EIO;
}

int sim_outputs_close(struct sim *s, const char *dir, bool want_plots, const char *summary,
                      char *why, size_t why_len) {
  int rc = 0;
  if (s->f_tx && fclose(s->f_tx)) rc = LG_EIO;
  if (s->f_pos && fclose(s->f_pos)) rc = LG_EIO;
  if (s->f_frames && fclose(s->f_frames)) rc = LG_EIO;
  if (s->f_adr && fclose(s->f_adr)) rc = LG_EIO;
  if (dir == NULL) return rc;
  FILE *f = open_in(dir, "summary.json", why, why_len);
  if (!f) return LG_EIO;
  fprintf(f, "%s\n", summary);
  if (fclose(f)) rc = LG_EIO;
  if (rc) snprintf(why, why_len, "writing the outputs in %s failed", dir);
  if (rc == 0 && want_plots && system("command -v gnuplot >/dev/null 2>&1") == 0 && plots(s, dir))
    fprintf(stderr, "sim: gnuplot failed, see %s/gnuplot.log\n", dir);
  s->f_tx = s->f_pos = s->f_frames = s->f_adr = NULL;
  return rc;
}
