/*
 * fleet/alarms — the fleet's alarm rules: what the packet path observes (uplinks and their
 * frame counters, reboots, DevStatusAns, MIC failures, gateways' receptions and their
 * timing, positions) turned into alarms that are raised and cleared with hysteresis.
 *
 * The engine is pure: no storage, no clock of its own, no I/O. Every observation carries
 * its time (ns since the Unix epoch, the server's clock) and lg_alarms_tick() is given the
 * time too, so tests drive it with a fake clock. A raise or a clear is handed to the
 * caller's callback (the server stores it, publishes it and counts it). The rules are data:
 * one table (alarms.c) names each rule, its subject and its thresholds, which the defaults,
 * the server's configuration and a device profile's "alarm_thresholds" set by name.
 *
 * Memory: one small record per device, gateway and DevAddr observed (a hash table each),
 * freed with the engine.
 */
#ifndef LG_FLEET_ALARMS_H
#define LG_FLEET_ALARMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t;

enum lg_alarm_kind {
  LG_ALARM_REBOOT,          /* frame-counter reset or a rejoin of a device whose session ran */
  LG_ALARM_SILENT,          /* no uplink for N expected intervals */
  LG_ALARM_FRAME_LOSS,      /* frame-counter gaps above X % of the last frames */
  LG_ALARM_BATTERY_LOW,     /* DevStatusAns battery below Y */
  LG_ALARM_MARGIN_FALLING,  /* DevStatusAns margin D dB under the device's own baseline */
  LG_ALARM_MIC_BURST,       /* MIC failures in a burst for one DevAddr */
  LG_ALARM_GATEWAY_SILENT,  /* a gateway heard nothing for T */
  LG_ALARM_GATEWAY_CLOCK,   /* a gateway's receive times disagree with the others' */
  LG_ALARM_POSITION_JUMP,   /* consecutive fixes further apart than physical speed allows */
  LG_ALARM_KIND_COUNT
};

enum lg_alarm_subject { LG_ALARM_DEVICE, LG_ALARM_GATEWAY, LG_ALARM_DEV_ADDR };

/* The thresholds, by rule. Times in seconds, shares in percent. */
struct lg_alarm_rules {
  bool enabled[LG_ALARM_KIND_COUNT];
  double silent_intervals;        /* raise after this many expected uplinks missed ... */
  double silent_grace_intervals;  /* ... and this much more of an interval (their jitter) */
  double default_interval_s;      /* a device whose profile says no interval: this one */
  double frame_loss_raise_pct;    /* raise above, over the last frame_loss_window frames */
  double frame_loss_clear_pct;    /* clear below */
  int frame_loss_window;          /* frames (received) looked at; half of them at least */
  int battery_raise;              /* DevStatusAns battery (1..254) at or below: raise */
  int battery_clear;              /* at or above: clear */
  double margin_drop_db;          /* raise when the margin is this far under the baseline */
  double margin_clear_db;         /* clear when back within this of it */
  int margin_baseline_reports;    /* the first reports that make the baseline (their mean) */
  int mic_burst_count;            /* this many MIC failures ... */
  double mic_burst_window_s;      /* ... within this time: raise; none for 2 windows: clear */
  double gateway_silent_s;        /* a gateway heard nothing for this long: raise */
  double clock_raise_pct;         /* of its last clock_window located receptions flagged */
  double clock_clear_pct;         /* as timing outliers: raise above, clear below */
  int clock_window;
  double max_speed_mps;           /* faster than this between fixes (beyond their accuracy) */
  int jump_clear_fixes;           /* plausible fixes in a row that clear a position jump */
  double reboot_hold_s;           /* a reboot alarm clears itself after this long */
};

/* The defaults (docs/fleet.md lists them). */
void lg_alarm_rules_default(struct lg_alarm_rules *r);
/* Sets the thresholds `o` names over r: {"silent_intervals": 3, "battery_raise": 50, ...,
 * "enabled": {"reboot": false}}. LG_EINVAL with the field named in why when a name is
 * unknown or a value out of its range. */
int lg_alarm_rules_apply_json(struct lg_alarm_rules *r, const struct json_t *o, char *why,
                              size_t why_len);
/* The rules as JSON (every threshold, and "enabled" per kind); new reference. */
struct json_t *lg_alarm_rules_json(const struct lg_alarm_rules *r);

const char *lg_alarm_kind_name(enum lg_alarm_kind k);
/* -1 when unknown. */
int lg_alarm_kind_parse(const char *name);
enum lg_alarm_subject lg_alarm_kind_subject(enum lg_alarm_kind k);
const char *lg_alarm_subject_name(enum lg_alarm_subject s);

/* A raise or a clear. */
struct lg_alarm_change {
  enum lg_alarm_kind kind;
  enum lg_alarm_subject subject_type;
  uint64_t subject; /* DevEUI, gateway EUI, or DevAddr */
  bool raised;      /* else cleared */
  bool again;       /* raised while open already (a second reboot): the same alarm */
  int64_t t_ns;
  double value, threshold; /* what crossed what (units of the rule) */
  char detail[200];
};

typedef void (*lg_alarm_fn)(void *ctx, const struct lg_alarm_change *c);

struct lg_alarms;
/* `rules`: those of gateways, DevAddrs and devices observed without their own (copied). */
struct lg_alarms *lg_alarms_new(const struct lg_alarm_rules *rules, lg_alarm_fn fn, void *ctx);
void lg_alarms_free(struct lg_alarms *a);

/* A new uplink of a device (not a retransmission): its 32-bit frame counter, the expected
 * interval between uplinks (s, 0: the rules' default), its rules (NULL: the engine's). */
void lg_alarms_uplink(struct lg_alarms *a, uint64_t dev_eui, int64_t t_ns, uint32_t f_cnt,
                      double interval_s, const struct lg_alarm_rules *r);
/* The device rebooted (a counter reset, or a rejoin after its session ran): counters
 * restart. */
void lg_alarms_reboot(struct lg_alarms *a, uint64_t dev_eui, int64_t t_ns, const char *why,
                      const struct lg_alarm_rules *r);
/* A DevStatusAns: battery 0 (external power) and 255 (unknown) are not levels. */
void lg_alarms_status(struct lg_alarms *a, uint64_t dev_eui, int64_t t_ns, int battery,
                      int margin_db, const struct lg_alarm_rules *r);
/* A data frame of a DevAddr with sessions here whose MIC no session verifies. */
void lg_alarms_mic_failure(struct lg_alarms *a, uint32_t dev_addr, int64_t t_ns);
/* A gateway's reception; `located`: it took part in a fix, `timing_outlier`: its time was
 * kept out of it. */
void lg_alarms_gateway_rx(struct lg_alarms *a, uint64_t gateway_eui, int64_t t_ns, bool located,
                          bool timing_outlier);
/* A device's fix (degrees, 68 % radius in m). */
void lg_alarms_position(struct lg_alarms *a, uint64_t dev_eui, int64_t t_ns, double lat_deg,
                        double lon_deg, double accuracy_m, const struct lg_alarm_rules *r);
/* The device's filtered track after that fix (geo/live.c's Kalman tracker; call it only
 * when the tracker took the fix): the reference the next fix is judged against, in place
 * of the raw fix. */
void lg_alarms_track(struct lg_alarms *a, uint64_t dev_eui, double lat_deg, double lon_deg,
                     double accuracy_m);
/* The device is gone (deleted, retired): its open alarms clear, its record goes. */
void lg_alarms_forget(struct lg_alarms *a, uint64_t dev_eui, int64_t t_ns);
/* Time-driven rules (silence, a reboot's hold, the end of a MIC burst): call often enough
 * (the server: every 10 s of its clock). */
void lg_alarms_tick(struct lg_alarms *a, int64_t now_ns);
/* Whether an alarm of `kind` is open for the subject. */
bool lg_alarms_open(const struct lg_alarms *a, enum lg_alarm_kind kind, uint64_t subject);
/* The engine's records (devices + gateways + DevAddrs). */
size_t lg_alarms_subjects(const struct lg_alarms *a);

#endif
