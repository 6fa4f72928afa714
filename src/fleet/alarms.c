/*
 * The alarm rules (alarms.h). Each rule keeps a little state per subject and decides with
 * two thresholds, one to raise and a laxer one to clear (hysteresis), so a value hovering
 * at the threshold does not make an alarm flap:
 *
 *   reboot          raised by the event; clears itself after reboot_hold_s (a reboot has no
 *                   end to watch); another reboot meanwhile keeps it open and is said again
 *   silent          now - last uplink > (silent_intervals + silent_grace_intervals) x the
 *                   expected interval (N uplinks missed, with room for their jitter); clears
 *                   at the next uplink
 *   frame_loss      counter gaps over the last frame_loss_window received frames: raise
 *                   above frame_loss_raise_pct, clear below frame_loss_clear_pct
 *   battery_low     raise at or below battery_raise, clear at or above battery_clear
 *   margin_falling  the mean of the first reports is the baseline; raise at margin_drop_db
 *                   under it, clear within margin_clear_db
 *   mic_burst       mic_burst_count failures of one DevAddr within mic_burst_window_s; clears
 *                   after two windows without one
 *   gateway_silent  nothing heard for gateway_silent_s; clears at its next reception
 *   gateway_clock   share of its located receptions kept out of fixes for their timing, over
 *                   its last clock_window: raise above clock_raise_pct, clear below
 *                   clock_clear_pct
 *   position_jump   a fix further from the device's last tracked position (its Kalman track,
 *                   geo/live.c; else its last fix) than max_speed_mps allows in their time,
 *                   beyond both accuracies; clears after jump_clear_fixes plausible fixes
 */
#include "fleet/alarms.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "util/util.h"

#define SEC 1000000000LL
#define LOSS_RING 64
#define CLOCK_RING 128
#define MIC_RING 32

static const struct {
  const char *name;
  enum lg_alarm_subject subject;
} kinds[LG_ALARM_KIND_COUNT] = {
    [LG_ALARM_REBOOT] = {"reboot", LG_ALARM_DEVICE},
    [LG_ALARM_SILENT] = {"silent", LG_ALARM_DEVICE},
    [LG_ALARM_FRAME_LOSS] = {"frame_loss", LG_ALARM_DEVICE},
    [LG_ALARM_BATTERY_LOW] = {"battery_low", LG_ALARM_DEVICE},
    [LG_ALARM_MARGIN_FALLING] = {"margin_falling", LG_ALARM_DEVICE},
    [LG_ALARM_MIC_BURST] = {"mic_burst", LG_ALARM_DEV_ADDR},
    [LG_ALARM_GATEWAY_SILENT] = {"gateway_silent", LG_ALARM_GATEWAY},
    [LG_ALARM_GATEWAY_CLOCK] = {"gateway_clock", LG_ALARM_GATEWAY},
    [LG_ALARM_POSITION_JUMP] = {"position_jump", LG_ALARM_DEVICE},
};

/* The thresholds by name: the table the defaults, [fleet] and profiles go through. */
enum { T_DOUBLE, T_INT };
static const struct threshold {
  const char *name;
  size_t offset;
  int type;
  double min, max, def;
} thresholds[] = {
#define D(f, lo, hi, d) {#f, offsetof(struct lg_alarm_rules, f), T_DOUBLE, lo, hi, d}
#define I(f, lo, hi, d) {#f, offsetof(struct lg_alarm_rules, f), T_INT, lo, hi, d}
    D(silent_intervals, 1, 1000, 3),
    D(silent_grace_intervals, 0, 100, 0.5),
    D(default_interval_s, 1, 30 * 86400, 3600),
    D(frame_loss_raise_pct, 0, 100, 20),
    D(frame_loss_clear_pct, 0, 100, 10),
    I(frame_loss_window, 4, LOSS_RING, 40),
    I(battery_raise, 1, 254, 50),
    I(battery_clear, 1, 254, 76),
    D(margin_drop_db, 1, 60, 10),
    D(margin_clear_db, 0, 60, 5),
    I(margin_baseline_reports, 1, 100, 3),
    I(mic_burst_count, 2, MIC_RING, 5),
    D(mic_burst_window_s, 1, 86400, 60),
    D(gateway_silent_s, 10, 30 * 86400, 600),
    D(clock_raise_pct, 1, 100, 40),
    D(clock_clear_pct, 0, 100, 15),
    I(clock_window, 5, CLOCK_RING, 40),
    D(max_speed_mps, 0.1, 1e4, 70),
    I(jump_clear_fixes, 1, 100, 3),
    D(reboot_hold_s, 1, 30 * 86400, 3600),
#undef D
#undef I
};

const char *lg_alarm_kind_name(enum lg_alarm_kind k) {
  return (unsigned)k < LG_ALARM_KIND_COUNT ? kinds[k].name : "unknown";
}

int lg_alarm_kind_parse(const char *name) {
  for (int k = 0; name && k < LG_ALARM_KIND_COUNT; k++)
    if (strcmp(name, kinds[k].name) == 0) return k;
  return -1;
}

enum lg_alarm_subject lg_alarm_kind_subject(enum lg_alarm_kind k) {
  return kinds[(unsigned)k % LG_ALARM_KIND_COUNT].subject;
}

const char *lg_alarm_subject_name(enum lg_alarm_subject s) {
  return s == LG_ALARM_GATEWAY ? "gateway" : s == LG_ALARM_DEV_ADDR ? "dev_addr" : "device";
}

void lg_alarm_rules_default(struct lg_alarm_rules *r) {
  memset(r, 0, sizeof(*r));
  for (size_t i = 0; i < LG_ARRAY_LEN(thresholds); i++) {
    char *p = (char *)r + thresholds[i].offset;
    if (thresholds[i].type == T_INT)
      *(int *)(void *)p = (int)thresholds[i].def;
    else
      *(double *)(void *)p = thresholds[i].def;
  }
  for (int k = 0; k < LG_ALARM_KIND_COUNT; k++)
    r->enabled[k] = true;
}

#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), LG_EINVAL)

int lg_alarm_rules_apply_json(struct lg_alarm_rules *r, const json_t *o, char *why,
                              size_t why_len) {
  if (!json_is_object(o)) return WHY("alarm_thresholds: expected an object");
  struct lg_alarm_rules t = *r; /* all or nothing */
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)o, key, v) {
    if (strcmp(key, "enabled") == 0) {
      const char *k2;
      json_t *b;
      if (!json_is_object(v)) return WHY("alarm_thresholds.enabled: expected {\"kind\": bool}");
      json_object_foreach(v, k2, b) {
        int k = lg_alarm_kind_parse(k2);
        if (k < 0) return WHY("alarm_thresholds.enabled.%.40s: no such alarm kind", k2);
        if (!json_is_boolean(b)) return WHY("alarm_thresholds.enabled.%s: expected true or false", k2);
        t.enabled[k] = json_is_true(b);
      }
      continue;
    }
    size_t i = 0;
    while (i < LG_ARRAY_LEN(thresholds) && strcmp(thresholds[i].name, key) != 0)
      i++;
    if (i == LG_ARRAY_LEN(thresholds))
      return WHY("alarm_thresholds.%.40s: unknown threshold (docs/fleet.md lists them)", key);
    const struct threshold *th = &thresholds[i];
    bool whole = th->type == T_INT;
    if (!json_is_number(v) || (whole && !json_is_integer(v)) || json_number_value(v) < th->min ||
        json_number_value(v) > th->max)
      return WHY("alarm_thresholds.%s: expected %s in [%g, %g]", key,
                 whole ? "an integer" : "a number", th->min, th->max);
    char *p = (char *)&t + th->offset;
    if (whole)
      *(int *)(void *)p = (int)json_integer_value(v);
    else
      *(double *)(void *)p = json_number_value(v);
  }
  if (t.frame_loss_clear_pct > t.frame_loss_raise_pct || t.battery_clear < t.battery_raise ||
      t.clock_clear_pct > t.clock_raise_pct || t.margin_clear_db > t.margin_drop_db)
    return WHY("alarm_thresholds: a clear threshold must be on the safe side of its raise "
               "threshold (frame_loss_clear_pct <= frame_loss_raise_pct, battery_clear >= "
               "battery_raise, clock_clear_pct <= clock_raise_pct, margin_clear_db <= "
               "margin_drop_db)");
  *r = t;
  return 0;
}

json_t *lg_alarm_rules_json(const struct lg_alarm_rules *r) {
  json_t *o = json_object(), *en = json_object();
  for (size_t i = 0; i < LG_ARRAY_LEN(thresholds); i++) {
    const char *p = (const char *)r + thresholds[i].offset;
    json_object_set_new(o, thresholds[i].name,
                        thresholds[i].type == T_INT ? json_integer(*(const int *)(const void *)p)
                                                    : json_real(*(const double *)(const void *)p));
  }
  for (int k = 0; k < LG_ALARM_KIND_COUNT; k++)
    json_object_set_new(en, kinds[k].name, json_boolean(r->enabled[k]));
  json_object_set_new(o, "enabled", en);
  return o;
}

/* ---- state -------------------------------------------------------------------------- */

struct subj {
  uint64_t id;
  UT_hash_handle hh;
  uint32_t open; /* a bit per lg_alarm_kind */
  /* devices */
  int64_t last_ns, silent_after_ns, reboot_until_ns;
  bool has_fcnt;
  uint32_t last_fcnt;
  uint16_t lost[LOSS_RING]; /* frames missing before each received one */
  int n_loss, pos_loss, loss_window;
  double loss_raise, loss_clear;
  int margin_n;
  double margin_sum;
  bool has_fix;
  double lat, lon, acc;
  int64_t fix_ns;
  int plausible;
  /* gateways: last receptions located (bit 0) and flagged (bit 1) */
  uint8_t clk[CLOCK_RING];
  int n_clk, pos_clk;
  /* DevAddrs: times of the last failures */
  int64_t mic[MIC_RING];
  int n_mic, pos_mic;
};

struct lg_alarms {
  struct lg_alarm_rules rules;
  lg_alarm_fn fn;
  void *ctx;
  struct subj *tab[3]; /* by lg_alarm_subject */
};

struct lg_alarms *lg_alarms_new(const struct lg_alarm_rules *rules, lg_alarm_fn fn, void *ctx) {
  struct lg_alarms *a = calloc(1, sizeof(*a));
  if (a == NULL) return NULL;
  if (rules)
    a->rules = *rules;
  else
    lg_alarm_rules_default(&a->rules);
  a->fn = fn, a->ctx = ctx;
  return a;
}

void lg_alarms_free(struct lg_alarms *a) {
  if (a == NULL) return;
  for (int t = 0; t < 3; t++) {
    struct subj *s, *tmp;
    HASH_ITER(hh, a->tab[t], s, tmp) {
      HASH_DEL(a->tab[t], s);
      free(s);
    }
  }
  free(a);
}

size_t lg_alarms_subjects(const struct lg_alarms *a) {
  return HASH_COUNT(a->tab[0]) + HASH_COUNT(a->tab[1]) + HASH_COUNT(a->tab[2]);
}

static struct subj *find(const struct lg_alarms *a, enum lg_alarm_subject t, uint64_t id) {
  struct subj *s = NULL;
  HASH_FIND(hh, a->tab[t], &id, sizeof(id), s);
  return s;
}

static struct subj *get(struct lg_alarms *a, enum lg_alarm_subject t, uint64_t id) {
  struct subj *s = find(a, t, id);
  if (s) return s;
  if ((s = calloc(1, sizeof(*s))) == NULL) return NULL;
  s->id = id;
  HASH_ADD(hh, a->tab[t], id, sizeof(s->id), s);
  return s;
}

bool lg_alarms_open(const struct lg_alarms *a, enum lg_alarm_kind kind, uint64_t subject) {
  const struct subj *s = find(a, lg_alarm_kind_subject(kind), subject);
  return s && (s->open >> kind & 1u);
}

/* Raises or clears `kind` on s when that changes its state (`again`: a raise said again
 * while open). */
__attribute__((format(printf, 8, 9))) static void set(struct lg_alarms *a, struct subj *s,
                                                      enum lg_alarm_kind kind, bool on, bool again,
                                                      int64_t t_ns, double value_threshold[2],
                                                      const char *fmt, ...) {
  bool is_open = s->open >> kind & 1u;
  if (on == is_open && !(on && again)) return;
  if (on)
    s->open |= 1u << kind;
  else
    s->open &= ~(1u << kind);
  struct lg_alarm_change c = {.kind = kind,
                              .subject_type = kinds[kind].subject,
                              .subject = s->id,
                              .raised = on,
                              .again = on && is_open,
                              .t_ns = t_ns,
                              .value = value_threshold ? value_threshold[0] : 0,
                              .threshold = value_threshold ? value_threshold[1] : 0};
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c.detail, sizeof(c.detail), fmt, ap);
  va_end(ap);
  if (a->fn) a->fn(a->ctx, &c);
}

static const struct lg_alarm_rules *rules_of(const struct lg_alarms *a,
                                             const struct lg_alarm_rules *r) {
  return r ? r : &a->rules;
}

/* ---- devices ---------------------------------------------------------------------- */

static void loss_reset(struct subj *s) {
  s->has_fcnt = false;
  s->n_loss = s->pos_loss = 0;
}

void lg_alarms_uplink(struct lg_alarms *a, uint64_t dev_eui, int64_t t_ns, uint32_t f_cnt,
                      double interval_s, const struct lg_alarm_rules *r) {
  struct subj *s = get(a, LG_ALARM_DEVICE, dev_eui);
  if (s == NULL) return;
  r = rules_of(a, r);
  double iv = interval_s > 0 ? interval_s : r->default_interval_s;
  s->last_ns = t_ns;
  s->silent_after_ns = r->enabled[LG_ALARM_SILENT]
                           ? (int64_t)(iv * (r->silent_intervals + r->silent_grace_intervals) * 1e9)
                           : 0;
  double vt[2] = {0, r->silent_intervals};
  set(a, s, LG_ALARM_SILENT, false, false, t_ns, vt, "heard again (FCnt %u)", f_cnt);
  /* frame loss: the frames missing between this counter and the last */
  uint32_t gap = s->has_fcnt && f_cnt > s->last_fcnt ? f_cnt - s->last_fcnt - 1 : 0;
  if (gap > 60000) gap = 60000; /* a counter far ahead is a gap, not a number to trust */
  if (!s->has_fcnt || f_cnt > s->last_fcnt) s->last_fcnt = f_cnt;
  s->has_fcnt = true;
  int w = r->frame_loss_window;
  s->lost[s->pos_loss] = (uint16_t)gap;
  s->pos_loss = (s->pos_loss + 1) % LOSS_RING;
  if (s->n_loss < LOSS_RING) s->n_loss++;
  int n = s->n_loss < w ? s->n_loss : w;
  double lost = 0;
  for (int i = 1; i <= n; i++)
    lost += s->lost[(s->pos_loss - i + LOSS_RING) % LOSS_RING];
  double pct = n ? 100 * lost / (lost + n) : 0;
  double lt[2] = {pct, r->frame_loss_raise_pct};
  if (r->enabled[LG_ALARM_FRAME_LOSS] && n >= (w + 1) / 2 && pct > r->frame_loss_raise_pct)
    set(a, s, LG_ALARM_FRAME_LOSS, true, false, t_ns, lt,
        "%.0f frames missing of the last %.0f (%.1f %% > %.1f %%)", lost, lost + n, pct,
        r->frame_loss_raise_pct);
  else if (pct < r->frame_loss_clear_pct || !r->enabled[LG_ALARM_FRAME_LOSS])
    set(a, s, LG_ALARM_FRAME_LOSS, false, false, t_ns, lt,
        "%.1f %% of the last %.0f frames missing (< %.1f %%)", pct, lost + n,
        r->frame_loss_clear_pct);
}

void lg_alarms_reboot(struct lg_alarms *a, uint64_t dev_eui, int64_t t_ns, const char *why,
                      const struct lg_alarm_rules *r) {
  struct subj *s = get(a, LG_ALARM_DEVICE, dev_eui);
  if (s == NULL) return;
  r = rules_of(a, r);
  loss_reset(s); /* its counters start again */
  if (!r->enabled[LG_ALARM_REBOOT]) return;
  s->reboot_until_ns = t_ns + (int64_t)(r->reboot_hold_s * 1e9);
  set(a, s, LG_ALARM_REBOOT, true, true, t_ns, NULL, "%s", why);
}

void lg_alarms_status(struct lg_alarms *a, uint64_t dev_eui, int64_t t_ns, int battery,
                      int margin_db, const struct lg_alarm_rules *r) {
  struct subj *s = get(a, LG_ALARM_DEVICE, dev_eui);
  if (s == NULL) return;
  r = rules_of(a, r);
  if (battery >= 1 && battery <= 254) {
    double vt[2] = {battery, r->battery_raise};
    if (r->enabled[LG_ALARM_BATTERY_LOW] && battery <= r->battery_raise)
      set(a, s, LG_ALARM_BATTERY_LOW, true, false, t_ns, vt, "battery %d/254 (<= %d)", battery,
          r->battery_raise);
    else if (battery >= r->battery_clear || !r->enabled[LG_ALARM_BATTERY_LOW])
      set(a, s, LG_ALARM_BATTERY_LOW, false, false, t_ns, vt, "battery %d/254 (>= %d)", battery,
          r->battery_clear);
  }
  if (s->margin_n < r->margin_baseline_reports) { /* still learning its baseline */
    s->margin_sum += margin_db;
    s->margin_n++;
    return;
  }
  double base = s->margin_sum / s->margin_n, drop = base - margin_db;
  double vt[2] = {margin_db, base - r->margin_drop_db};
  if (r->enabled[LG_ALARM_MARGIN_FALLING] && drop >= r->margin_drop_db)
    set(a, s, LG_ALARM_MARGIN_FALLING, true, false, t_ns, vt,
        "link margin %d dB, %.1f dB under its baseline %.1f dB", margin_db, drop, base);
  else if (drop <= r->margin_clear_db || !r->enabled[LG_ALARM_MARGIN_FALLING])
    set(a, s, LG_ALARM_MARGIN_FALLING, false, false, t_ns, vt,
        "link margin %d dB, within %.1f dB of its baseline %.1f dB", margin_db, r->margin_clear_db,
        base);
}

/* Great-circle distance (m), haversine on a 6371 km sphere: enough to compare with a
 * speed limit. */
static double distance_m(double lat1, double lon1, double lat2, double lon2) {
  double rad = 3.14159265358979323846 / 180, dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
  double h = sin(dlat / 2) * sin(dlat / 2) +
             cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
  return 2 * 6371000.0 * asin(fmin(1, sqrt(h)));
}

void lg_alarms_position(struct lg_alarms *a, uint64_t dev_eui, int64_t t_ns, double lat_deg,
                        double lon_deg, double accuracy_m, const struct lg_alarm_rules *r) {
  struct subj *s = get(a, LG_ALARM_DEVICE, dev_eui);
  if (s == NULL || !isfinite(lat_deg) || !isfinite(lon_deg)) return;
  r = rules_of(a, r);
  if (s->has_fix && t_ns > s->fix_ns && r->enabled[LG_ALARM_POSITION_JUMP]) {
    double dt = (double)(t_ns - s->fix_ns) / 1e9;
    double d = distance_m(s->lat, s->lon, lat_deg, lon_deg);
    double beyond = d - 2 * (s->acc + (isfinite(accuracy_m) ? accuracy_m : 0)); /* ~95 % each */
    double vt[2] = {beyond > 0 ? beyond / dt : 0, r->max_speed_mps};
    if (beyond > r->max_speed_mps * dt) {
      s->plausible = 0;
      set(a, s, LG_ALARM_POSITION_JUMP, true, false, t_ns, vt,
          "moved %.0f m in %.0f s: %.1f m/s beyond the fixes' accuracy (> %.1f m/s)", d, dt,
          beyond / dt, r->max_speed_mps);
    } else if (++s->plausible >= r->jump_clear_fixes) {
      set(a, s, LG_ALARM_POSITION_JUMP, false, false, t_ns, vt,
          "%d plausible fixes in a row", s->plausible);
    }
  }
  s->has_fix = true;
  s->lat = lat_deg, s->lon = lon_deg;
  s->acc = isfinite(accuracy_m) ? accuracy_m : 0;
  s->fix_ns = t_ns;
}

void lg_alarms_track(struct lg_alarms *a, uint64_t dev_eui, double lat_deg, double lon_deg,
                     double accuracy_m) {
  struct subj *s = find(a, LG_ALARM_DEVICE, dev_eui);
  if (s == NULL || !s->has_fix || !isfinite(lat_deg) || !isfinite(lon_deg)) return;
  s->lat = lat_deg, s->lon = lon_deg;
  s->acc = isfinite(accuracy_m) ? accuracy_m : s->acc;
}

void lg_alarms_forget(struct lg_alarms *a, uint64_t dev_eui, int64_t t_ns) {
  struct subj *s = find(a, LG_ALARM_DEVICE, dev_eui);
  if (s == NULL) return;
  for (int k = 0; k < LG_ALARM_KIND_COUNT; k++)
    if (kinds[k].subject == LG_ALARM_DEVICE)
      set(a, s, (enum lg_alarm_kind)k, false, false, t_ns, NULL, "device retired or deleted");
  HASH_DEL(a->tab[LG_ALARM_DEVICE], s);
  free(s);
}

/* ---- DevAddrs and gateways ---------------------------------------------------------- */

void lg_alarms_mic_failure(struct lg_alarms *a, uint32_t dev_addr, int64_t t_ns) {
  struct subj *s = get(a, LG_ALARM_DEV_ADDR, dev_addr);
  const struct lg_alarm_rules *r = &a->rules;
  if (s == NULL || !r->enabled[LG_ALARM_MIC_BURST]) return;
  s->mic[s->pos_mic] = t_ns;
  s->pos_mic = (s->pos_mic + 1) % MIC_RING;
  if (s->n_mic < MIC_RING) s->n_mic++;
  s->last_ns = t_ns;
  int64_t window = (int64_t)(r->mic_burst_window_s * 1e9), in = 0;
  for (int i = 1; i <= s->n_mic; i++)
    in += t_ns - s->mic[(s->pos_mic - i + MIC_RING) % MIC_RING] <= window;
  double vt[2] = {(double)in, r->mic_burst_count};
  if (in >= r->mic_burst_count)
    set(a, s, LG_ALARM_MIC_BURST, true, false, t_ns, vt,
        "%lld frames of DevAddr %08x failed their MIC within %.0f s", (long long)in, dev_addr,
        r->mic_burst_window_s);
}

void lg_alarms_gateway_rx(struct lg_alarms *a, uint64_t gateway_eui, int64_t t_ns, bool located,
                          bool timing_outlier) {
  struct subj *s = get(a, LG_ALARM_GATEWAY, gateway_eui);
  const struct lg_alarm_rules *r = &a->rules;
  if (s == NULL) return;
  if (t_ns > s->last_ns) s->last_ns = t_ns;
  set(a, s, LG_ALARM_GATEWAY_SILENT, false, false, t_ns, NULL, "heard again");
  if (!located) return;
  s->clk[s->pos_clk] = timing_outlier;
  s->pos_clk = (s->pos_clk + 1) % CLOCK_RING;
  if (s->n_clk < CLOCK_RING) s->n_clk++;
  int w = r->clock_window, n = s->n_clk < w ? s->n_clk : w, bad = 0;
  for (int i = 1; i <= n; i++)
    bad += s->clk[(s->pos_clk - i + CLOCK_RING) % CLOCK_RING];
  double pct = n ? 100.0 * bad / n : 0, vt[2] = {pct, r->clock_raise_pct};
  if (r->enabled[LG_ALARM_GATEWAY_CLOCK] && n >= w && pct > r->clock_raise_pct)
    set(a, s, LG_ALARM_GATEWAY_CLOCK, true, false, t_ns, vt,
        "%d of its last %d located receptions disagreed with the others' timing (%.0f %% > "
        "%.0f %%): its clock drifts or jumps",
        bad, n, pct, r->clock_raise_pct);
  else if (pct < r->clock_clear_pct || !r->enabled[LG_ALARM_GATEWAY_CLOCK])
    set(a, s, LG_ALARM_GATEWAY_CLOCK, false, false, t_ns, vt,
        "%d of its last %d located receptions disagreed (%.0f %% < %.0f %%)", bad, n, pct,
        r->clock_clear_pct);
}

void lg_alarms_tick(struct lg_alarms *a, int64_t now_ns) {
  struct subj *s, *tmp;
  HASH_ITER(hh, a->tab[LG_ALARM_DEVICE], s, tmp) {
    if (s->silent_after_ns > 0 && now_ns - s->last_ns > s->silent_after_ns &&
        !(s->open >> LG_ALARM_SILENT & 1u)) {
      double vt[2] = {(double)(now_ns - s->last_ns) / 1e9, (double)s->silent_after_ns / 1e9};
      set(a, s, LG_ALARM_SILENT, true, false, now_ns, vt,
          "no uplink for %.0f s (> %.0f s: its expected intervals)", vt[0], vt[1]);
    }
    if ((s->open >> LG_ALARM_REBOOT & 1u) && now_ns >= s->reboot_until_ns)
      set(a, s, LG_ALARM_REBOOT, false, false, now_ns, NULL, "no reboot since");
  }
  const struct lg_alarm_rules *r = &a->rules;
  HASH_ITER(hh, a->tab[LG_ALARM_DEV_ADDR], s, tmp) {
    if ((s->open >> LG_ALARM_MIC_BURST & 1u) &&
        now_ns - s->last_ns > (int64_t)(2 * r->mic_burst_window_s * 1e9))
      set(a, s, LG_ALARM_MIC_BURST, false, false, now_ns, NULL, "no MIC failure for %.0f s",
          2 * r->mic_burst_window_s);
    if (!s->open && now_ns - s->last_ns > (int64_t)(4 * r->mic_burst_window_s * 1e9)) {
      HASH_DEL(a->tab[LG_ALARM_DEV_ADDR], s); /* forgotten: DevAddrs come and go */
      free(s);
    }
  }
  HASH_ITER(hh, a->tab[LG_ALARM_GATEWAY], s, tmp) {
    double quiet_s = (double)(now_ns - s->last_ns) / 1e9, vt[2] = {quiet_s, r->gateway_silent_s};
    if (r->enabled[LG_ALARM_GATEWAY_SILENT] && quiet_s > r->gateway_silent_s)
      set(a, s, LG_ALARM_GATEWAY_SILENT, true, false, now_ns, vt,
          "nothing heard for %.0f s (> %.0f s)", quiet_s, r->gateway_silent_s);
  }
}
