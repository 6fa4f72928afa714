/*
 * The fleet on the packet path (issue 19): what the pipeline sees, handed to the alarm
 * engine (fleet/alarms.h), whose raises and clears are stored, published (MQTT
 * event/alarm, the hook webhooks will take) and counted; a device's life cycle (active at
 * its first uplink, silent with its silent alarm, active again when heard); and the
 * configuration shadow (fleet/shadow.h) carried out: what the device's desired state holds
 * and its reported state lacks goes out as it becomes reachable — MAC commands in the Class
 * A answer's FOpts, application settings as one queued downlink on [fleet] config_port (a
 * Class C device takes it at once through the queue) — and comes back reported by its MAC
 * answers and its uplink on that port. An attempt without an answer by the device's next
 * uplinks is tried again, up to [fleet] config_retries, then recorded failed (and tried
 * afresh a day later). Every step is in the device's configuration history.
 *
 * State: one record per device seen (its life cycle, its shadow as last read, what is in
 * flight), read from the store at its first uplink and again when the API changed it (the
 * store's generations say when). The few writes (alarms, life-cycle moves, shadow changes)
 * go through the packet thread's connection; none happens for an ordinary uplink.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "fleet/shadow.h"
#include "ns/ns_int.h"
#include "util/util.h"

#define SEC 1000000000LL
#define TICK_NS (10 * SEC)
#define RETRY_AFTER_FAILED_NS (86400 * SEC)
#define PROFILE_CACHE 64

struct fdev {
  uint64_t dev_eui;
  UT_hash_handle hh;
  int lifecycle;
  unsigned lifecycle_gen, shadow_gen;
  bool loaded;
  struct lg_shadow_cfg desired, reported;
  int64_t pending_since_ns;
  unsigned mac_inflight; /* LG_SHADOW_MAC bits sent, no answer yet */
  unsigned app_inflight; /* LG_SHADOW_APP bits queued, no report yet */
  int mac_uplinks, app_uplinks; /* uplinks since they went out */
  int tries[2];                 /* attempts of the pending MAC / application change */
  int64_t failed_ns[2];         /* when it was recorded failed (0: not) */
  int64_t status_asked_ns;
  bool rx_refused; /* RX2 settings refused to this Class C device (recorded once) */
};

struct profile_rules {
  int64_t id;
  unsigned gen;
  int interval_s;
  struct lg_alarm_rules rules;
};

struct ns_fleet {
  struct lg_alarms *alarms;
  struct lg_alarm_rules rules; /* [fleet] alarm_thresholds over the defaults */
  struct fdev *devs;
  struct profile_rules profiles[PROFILE_CACHE];
  size_t n_profiles;
  int64_t last_tick_ns;
};

/* When what is observed happened: the frame being processed was received then (processing
 * may lag behind reception under load; an alarm's time is its evidence's). */
static int64_t obs_ns(struct lg_ns *ns) {
  return ns->frame_ns ? ns->frame_ns : ns_now(ns);
}

/* ---- alarms: stored, published, counted --------------------------------------------- */

static void on_alarm(void *ctx, const struct lg_alarm_change *c) {
  struct lg_ns *ns = ctx;
  struct lg_alarm_rec a = {.t_ns = c->t_ns, .value = c->value, .threshold = c->threshold};
  snprintf(a.kind, sizeof(a.kind), "%s", lg_alarm_kind_name(c->kind));
  snprintf(a.subject_type, sizeof(a.subject_type), "%s", lg_alarm_subject_name(c->subject_type));
  if (c->subject_type == LG_ALARM_DEV_ADDR)
    snprintf(a.subject, sizeof(a.subject), "%08x", (uint32_t)c->subject);
  else
    snprintf(a.subject, sizeof(a.subject), "%016llx", (unsigned long long)c->subject);
  snprintf(a.detail, sizeof(a.detail), "%s", c->detail);
  int64_t id = 0;
  int rc = c->raised ? lg_store_alarm_raise(ns->store, &a, &id) : lg_store_alarm_clear(ns->store, &a);
  if (rc && rc != LG_ENOTFOUND) ns_store_error(ns, "recording an alarm");
  unsigned k = (unsigned)c->kind % LG_ALARM_KIND_COUNT;
  if (c->raised) {
    atomic_fetch_add(&ns->m.alarms_raised[k], 1);
    if (!c->again) atomic_fetch_add(&ns->m.alarms_open[k], 1);
  } else {
    atomic_fetch_add(&ns->m.alarms_cleared[k], 1);
    if (atomic_load(&ns->m.alarms_open[k]) > 0) atomic_fetch_sub(&ns->m.alarms_open[k], 1);
  }
  ns_log(ns, "alarm %s %s %s: %s", a.kind, a.subject, c->raised ? "raised" : "cleared", c->detail);
  json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:I, s:f, s:f, s:s}", "kind", a.kind, "state",
                         c->raised ? "raised" : "cleared", "subject_type", a.subject_type,
                         "subject", a.subject, "time_ns", (json_int_t)c->t_ns, "value", c->value,
                         "threshold", c->threshold, "detail", c->detail);
  if (ev && id) json_object_set_new(ev, "alarm_id", json_integer(id));
  if (c->subject_type == LG_ALARM_DEVICE) {
    ns_device_event(ns, c->subject, "alarm", ev); /* its timeline, and MQTT event/alarm */
  } else if (ev && ns->io.on_event) {
    /* gateways and DevAddrs: {prefix}/gateway/{eui}/event/alarm, .../dev_addr/{addr}/... */
    ns_event(ns, c->subject, c->subject_type == LG_ALARM_GATEWAY ? "gateway/alarm" : "dev_addr/alarm",
             ev);
  } else {
    json_decref(ev);
  }
  /* the life cycle follows the silent alarm */
  if (c->kind == LG_ALARM_SILENT && ns->fleet) {
    struct fdev *d = NULL;
    HASH_FIND(hh, ns->fleet->devs, &c->subject, sizeof(c->subject), d);
    int to = c->raised ? LG_LC_SILENT : LG_LC_ACTIVE;
    if (d && d->lifecycle != LG_LC_RETIRED && d->lifecycle != to) {
      if (lg_store_lifecycle_set(ns->store, c->subject, to, c->t_ns) != 0)
        ns_store_error(ns, "recording a life-cycle state");
      d->lifecycle = to;
    }
  }
}

int ns_fleet_open(struct lg_ns *ns, char *why, size_t why_len) {
  struct ns_fleet *f = calloc(1, sizeof(*f));
  if (f == NULL) return snprintf(why, why_len, "out of memory"), LG_ENOMEM;
  lg_alarm_rules_default(&f->rules);
  if (ns->cfg.fleet_alarm_thresholds[0]) {
    json_t *o = json_loads(ns->cfg.fleet_alarm_thresholds, 0, NULL);
    int rc = lg_alarm_rules_apply_json(&f->rules, o, why, why_len);
    json_decref(o);
    if (rc) {
      free(f);
      return rc;
    }
  }
  if ((f->alarms = lg_alarms_new(&f->rules, on_alarm, ns)) == NULL) {
    free(f);
    return snprintf(why, why_len, "out of memory"), LG_ENOMEM;
  }
  ns->fleet = f;
  /* what was open when the server stopped is evaluated afresh from now */
  int64_t n = 0;
  if (lg_store_alarms_close_all(ns->store, ns_now(ns), "the server restarted: evaluated afresh", &n))
    ns_store_error(ns, "closing the alarms of the last run");
  f->last_tick_ns = ns_now(ns);
  return 0;
}

void ns_fleet_close(struct lg_ns *ns) {
  struct ns_fleet *f = ns->fleet;
  if (f == NULL) return;
  ns->fleet = NULL;
  lg_alarms_free(f->alarms);
  struct fdev *d, *tmp;
  HASH_ITER(hh, f->devs, d, tmp) {
    HASH_DEL(f->devs, d);
    free(d);
  }
  free(f);
}

/* A profile's rules and expected interval, cached (re-read when profiles change). */
static const struct profile_rules *profile_of(struct lg_ns *ns, int64_t id) {
  struct ns_fleet *f = ns->fleet;
  unsigned gen = lg_store_devices_generation();
  struct profile_rules *p = NULL;
  for (size_t i = 0; i < f->n_profiles && !p; i++)
    if (f->profiles[i].id == id) p = &f->profiles[i];
  if (p && p->gen == gen) return p;
  if (p == NULL) {
    if (f->n_profiles == PROFILE_CACHE) f->n_profiles = 0; /* a small cache: start over */
    p = &f->profiles[f->n_profiles++];
  }
  p->id = id, p->gen = gen, p->rules = f->rules, p->interval_s = 0;
  struct lg_profile_rec rec;
  json_t *th = NULL;
  if (lg_store_profile_get(ns->store, id, &rec) == 0) p->interval_s = rec.uplink_interval_s;
  if (lg_store_profile_thresholds_get(ns->store, id, &th) == 0 && th) {
    char why[200];
    if (lg_alarm_rules_apply_json(&p->rules, th, why, sizeof(why)))
      ns_log(ns, "device profile %lld: alarm_thresholds ignored: %s", (long long)id, why);
  }
  json_decref(th);
  return p;
}

/* ---- devices ------------------------------------------------------------------------ */

static void shadow_load(struct lg_ns *ns, struct fdev *d) {
  json_t *dj, *rj;
  int64_t updated;
  char why[200];
  d->shadow_gen = lg_store_shadow_generation();
  if (lg_store_shadow_get(ns->store, d->dev_eui, &dj, &rj, &d->pending_since_ns, &updated)) {
    ns_store_error(ns, "reading a configuration shadow");
    return;
  }
  struct lg_shadow_cfg before = d->desired;
  if (lg_shadow_parse(dj, &d->desired, why, sizeof(why))) memset(&d->desired, 0, sizeof(d->desired));
  if (lg_shadow_parse(rj, &d->reported, why, sizeof(why))) memset(&d->reported, 0, sizeof(d->reported));
  json_decref(dj);
  json_decref(rj);
  if (lg_shadow_diff(&d->desired, &before) || lg_shadow_diff(&before, &d->desired)) {
    d->mac_inflight = d->app_inflight = 0; /* a new desired state: a new attempt */
    d->tries[0] = d->tries[1] = 0, d->failed_ns[0] = d->failed_ns[1] = 0;
    d->rx_refused = false;
  }
}

static struct fdev *dev_of(struct lg_ns *ns, uint64_t dev_eui) {
  struct ns_fleet *f = ns->fleet;
  struct fdev *d = NULL;
  HASH_FIND(hh, f->devs, &dev_eui, sizeof(dev_eui), d);
  if (d == NULL) {
    if ((d = calloc(1, sizeof(*d))) == NULL) return NULL;
    d->dev_eui = dev_eui;
    d->lifecycle_gen = lg_store_lifecycle_generation() - 1;
    d->status_asked_ns = ns_now(ns) - (int64_t)ns->cfg.fleet_status_interval_s * SEC / 2;
    HASH_ADD(hh, f->devs, dev_eui, sizeof(d->dev_eui), d);
  }
  if (d->lifecycle_gen != lg_store_lifecycle_generation()) {
    d->lifecycle_gen = lg_store_lifecycle_generation();
    int was = d->lifecycle;
    if (lg_store_lifecycle_get(ns->store, dev_eui, &d->lifecycle) != 0) d->lifecycle = LG_LC_PROVISIONED;
    if (d->lifecycle == LG_LC_RETIRED && was != LG_LC_RETIRED)
      lg_alarms_forget(f->alarms, dev_eui, ns_now(ns));
  }
  if (!d->loaded || d->shadow_gen != lg_store_shadow_generation()) {
    d->loaded = true;
    shadow_load(ns, d);
  }
  return d;
}

static const struct lg_alarm_rules *rules_of(struct lg_ns *ns, const struct lg_device_rec *dev,
                                             int *interval_s) {
  if (dev->profile_id <= 0) return *interval_s = 0, &ns->fleet->rules;
  const struct profile_rules *p = profile_of(ns, dev->profile_id);
  *interval_s = p->interval_s;
  return &p->rules;
}

/* The shadow's reported state and pending-since written; one history row per field. */
static void shadow_save(struct lg_ns *ns, struct fdev *d, unsigned fields, const char *action,
                        const char *detail) {
  json_t *rj = lg_shadow_json(&d->reported), *dj = lg_shadow_json(&d->desired);
  unsigned diff = lg_shadow_diff(&d->desired, &d->reported);
  int64_t now = ns_now(ns);
  int64_t since = diff ? (d->pending_since_ns ? d->pending_since_ns : now) : 0;
  d->pending_since_ns = since;
  if (lg_store_shadow_put(ns->store, d->dev_eui, NULL, rj, since, now) != 0)
    ns_store_error(ns, "writing a configuration shadow");
  json_t *pending = json_array(), *changed = json_array();
  for (unsigned bit = 1; bit <= LG_SHADOW_APP_PARAMS; bit <<= 1) {
    const char *name = lg_shadow_field_name(bit);
    if (diff & bit) json_array_append_new(pending, json_string(name));
    if (!(fields & bit)) continue;
    json_array_append_new(changed, json_string(name));
    json_t *v = json_object_get(strcmp(action, "applied") == 0 ? rj : dj, name);
    char *vt = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    if (lg_store_shadow_history_add(ns->store, d->dev_eui, name, vt, action, detail, now) != 0)
      ns_store_error(ns, "recording a configuration change");
    free(vt);
  }
  json_decref(rj);
  json_decref(dj);
  ns_device_event(ns, d->dev_eui, "config",
                  json_pack("{s:s, s:o, s:s, s:b, s:o, s:o}", "action", action, "fields", changed,
                            "detail", detail, "in_sync", diff == 0, "pending", pending,
                            "pending_since_ns", since ? json_integer(since) : json_null()));
}

void ns_fleet_uplink(struct lg_ns *ns, const struct lg_device_rec *dev, uint32_t f_cnt,
                     int f_port, const uint8_t *data, size_t len) {
  if (ns->fleet == NULL) return;
  struct fdev *d = dev_of(ns, dev->dev_eui);
  if (d == NULL || d->lifecycle == LG_LC_RETIRED) return;
  int64_t now = ns_now(ns);
  if (d->lifecycle == LG_LC_PROVISIONED) {
    if (lg_store_lifecycle_set(ns->store, dev->dev_eui, LG_LC_ACTIVE, now) != 0)
      ns_store_error(ns, "recording a life-cycle state");
    d->lifecycle = LG_LC_ACTIVE;
  }
  int interval_s;
  const struct lg_alarm_rules *r = rules_of(ns, dev, &interval_s);
  if (d->reported.has & LG_SHADOW_UPLINK_INTERVAL) /* what the device itself said it does */
    interval_s = (int)d->reported.uplink_interval_s;
  lg_alarms_uplink(ns->fleet->alarms, dev->dev_eui, obs_ns(ns), f_cnt, interval_s, r);
  if (f_port == ns->cfg.fleet_config_port && len > 0) { /* the device reports its settings */
    struct lg_shadow_cfg rep = d->reported;
    if (lg_shadow_app_report(data, len, &rep) != 0) {
      ns_log(ns, "%016llx: a configuration report on port %d that is not one",
             (unsigned long long)dev->dev_eui, f_port);
      return;
    }
    unsigned before = lg_shadow_diff(&d->desired, &d->reported);
    unsigned now_diff = lg_shadow_diff(&d->desired, &rep);
    unsigned reported = LG_SHADOW_APP & (lg_shadow_diff(&rep, &d->reported) | (before & ~now_diff));
    d->reported = rep;
    d->app_inflight &= now_diff;
    if (!(now_diff & LG_SHADOW_APP)) d->app_uplinks = 0, d->tries[1] = 0;
    if (reported) shadow_save(ns, d, reported, "applied", "reported by the device");
  }
}

void ns_fleet_reboot(struct lg_ns *ns, const struct lg_device_rec *dev, const char *why) {
  if (ns->fleet == NULL) return;
  struct fdev *d = dev_of(ns, dev->dev_eui);
  if (d == NULL || d->lifecycle == LG_LC_RETIRED) return;
  int interval_s;
  const struct lg_alarm_rules *r = rules_of(ns, dev, &interval_s);
  lg_alarms_reboot(ns->fleet->alarms, dev->dev_eui, obs_ns(ns), why, r);
  /* a rebooted device may have lost what it was told: MAC settings are its session's */
  unsigned lost = d->reported.has & LG_SHADOW_MAC;
  if (lost && strstr(why, "rejoin")) {
    d->reported.has &= ~lost;
    d->mac_inflight = 0;
    shadow_save(ns, d, lost, "lost", "a new session starts from the region's defaults");
  }
}

void ns_fleet_mac_answer(struct lg_ns *ns, const struct lg_device_rec *dev,
                         const struct lg_mac_cmd *c) {
  if (ns->fleet == NULL) return;
  struct fdev *d = dev_of(ns, dev->dev_eui);
  if (d == NULL) return;
  if (c->cid == LG_MAC_DEV_STATUS) {
    int interval_s;
    const struct lg_alarm_rules *r = rules_of(ns, dev, &interval_s);
    lg_alarms_status(ns->fleet->alarms, dev->dev_eui, obs_ns(ns), c->u.dev_status_ans.battery,
                     c->u.dev_status_ans.margin_db, r);
    return;
  }
  unsigned bit = c->cid == LG_MAC_LINK_ADR ? LG_SHADOW_CHANNEL_MASK
                 : c->cid == LG_MAC_RX_PARAM_SETUP ? LG_SHADOW_RX_PARAMS : 0;
  if (!(d->mac_inflight & bit)) return;
  d->mac_inflight &= ~bit;
  bool ok = bit == LG_SHADOW_CHANNEL_MASK
                ? c->u.link_adr_ans.ch_mask_ack
                : c->u.rx_param_setup_ans.rx1_dr_offset_ack && c->u.rx_param_setup_ans.rx2_dr_ack &&
                      c->u.rx_param_setup_ans.channel_ack;
  if (!ok) {
    shadow_save(ns, d, bit, "refused", bit == LG_SHADOW_CHANNEL_MASK
                                           ? "LinkADRAns: channel mask not acknowledged"
                                           : "RXParamSetupAns: not every bit acknowledged");
    return;
  }
  struct lg_shadow_cfg got = d->desired;
  got.has &= bit;
  lg_shadow_merge(&d->reported, &got);
  if (!(lg_shadow_diff(&d->desired, &d->reported) & LG_SHADOW_MAC)) d->tries[0] = 0;
  shadow_save(ns, d, bit, "applied",
              bit == LG_SHADOW_CHANNEL_MASK ? "LinkADRAns acknowledged the channel mask"
                                            : "RXParamSetupAns acknowledged");
}

/* Whether a pending change (k: 0 MAC, 1 application) may be (re)sent now: its attempts not
 * used up, or a day after they were. */
static bool may_try(struct lg_ns *ns, struct fdev *d, int k, unsigned fields) {
  if (d->failed_ns[k] && ns_now(ns) - d->failed_ns[k] < RETRY_AFTER_FAILED_NS) return false;
  if (d->failed_ns[k]) d->failed_ns[k] = 0, d->tries[k] = 0;
  if (d->tries[k] >= ns->cfg.fleet_config_retries) {
    d->failed_ns[k] = ns_now(ns);
    shadow_save(ns, d, fields, "failed", "no answer after [fleet] config_retries attempts");
    return false;
  }
  return true;
}

void ns_fleet_answer(struct lg_ns *ns, const struct lg_device_rec *dev, int up_dr,
                     uint8_t *answers, size_t *ans_len) {
  if (ns->fleet == NULL) return;
  struct fdev *d = dev_of(ns, dev->dev_eui);
  if (d == NULL || d->lifecycle == LG_LC_RETIRED) return;
  int64_t now = ns_now(ns);
  /* server-side settings set before this server started, or by another instance */
  struct lg_shadow_cfg server = d->desired;
  server.has &= LG_SHADOW_SERVER;
  unsigned srv = lg_shadow_diff(&server, &d->reported);
  if (srv) {
    lg_shadow_merge(&d->reported, &server);
    shadow_save(ns, d, srv, "applied", "a server-side setting");
  }
  unsigned diff = lg_shadow_diff(&d->desired, &d->reported);
  /* MAC: an answer is due in the uplink after it went out */
  if (d->mac_inflight && ++d->mac_uplinks >= 2) {
    shadow_save(ns, d, d->mac_inflight, "retried", "no answer in the device's next uplink");
    d->mac_inflight = 0;
  }
  unsigned mac = diff & LG_SHADOW_MAC & ~d->mac_inflight;
  if (mac && may_try(ns, d, 0, mac)) {
    uint8_t buf[LG_FOPTS_MAX];
    size_t n = *ans_len;
    memcpy(buf, answers, n);
    bool adr_in = false; /* a LinkADRReq of ADR in this answer already: the mask waits */
    struct lg_mac_cmd cmds[16];
    size_t nc = 0, bad = 0;
    if (n && lg_mac_parse(answers, n, false, cmds, 16, &nc, &bad) == 0)
      for (size_t i = 0; i < nc; i++)
        adr_in |= cmds[i].cid == LG_MAC_LINK_ADR;
    unsigned sent = 0;
    if ((mac & LG_SHADOW_CHANNEL_MASK) && !adr_in && !dev->has_adr_pending && up_dr >= 0) {
      struct lg_mac_cmd req = {.cid = LG_MAC_LINK_ADR, .uplink = false};
      req.u.link_adr_req.dr = (uint8_t)up_dr;
      req.u.link_adr_req.tx_power = (uint8_t)dev->tx_power_index;
      req.u.link_adr_req.ch_mask = d->desired.channel_mask;
      req.u.link_adr_req.ch_mask_cntl = 0;
      req.u.link_adr_req.nb_trans = (uint8_t)(dev->nb_trans > 0 ? dev->nb_trans : 1);
      if (lg_mac_encode(&req, buf, LG_FOPTS_MAX, &n) == 0) sent |= LG_SHADOW_CHANNEL_MASK;
    }
    if ((mac & LG_SHADOW_RX_PARAMS) && dev->class_c && !d->rx_refused) {
      d->rx_refused = true; /* said once: it stays pending until the desired state changes */
      shadow_save(ns, d, LG_SHADOW_RX_PARAMS, "refused",
                  "not sent: a Class C device listens on its RX2, which stays the region's");
    }
    if ((mac & LG_SHADOW_RX_PARAMS) && !dev->class_c) {
      struct lg_mac_cmd req = {.cid = LG_MAC_RX_PARAM_SETUP, .uplink = false};
      req.u.rx_param_setup_req.rx1_dr_offset = (uint8_t)d->desired.rx1_dr_offset;
      req.u.rx_param_setup_req.rx2_dr = (uint8_t)d->desired.rx2_dr;
      req.u.rx_param_setup_req.freq_hz = d->desired.rx2_freq_hz;
      if (lg_mac_encode(&req, buf, LG_FOPTS_MAX, &n) == 0) sent |= LG_SHADOW_RX_PARAMS;
    }
    if (sent) {
      memcpy(answers, buf, n);
      *ans_len = n;
      d->mac_inflight |= sent;
      d->mac_uplinks = 0;
      d->tries[0]++;
      shadow_save(ns, d, sent, "sent", "MAC command in the Class A answer");
    }
  }
  /* the application's settings: one queued downlink on the configuration port */
  if (d->app_inflight && ++d->app_uplinks > 2) {
    shadow_save(ns, d, d->app_inflight, "retried", "no report from the device in 2 uplinks");
    d->app_inflight = 0;
  }
  unsigned app = diff & LG_SHADOW_APP & ~d->app_inflight;
  if (app && may_try(ns, d, 1, app)) {
    uint8_t frame[64];
    size_t n = lg_shadow_app_frame(&d->desired, app, frame, sizeof(frame));
    if (n && lg_store_queue_push(ns->store, dev->dev_eui, ns->cfg.fleet_config_port, frame, n,
                                 false) == 0) {
      d->app_inflight |= app;
      d->app_uplinks = 0;
      d->tries[1]++;
      shadow_save(ns, d, app, "sent", "queued on the configuration port");
    } else {
      ns_store_error(ns, "queueing a configuration downlink");
    }
  }
  /* battery and margin, now and then */
  if (ns->cfg.fleet_status_interval_s > 0 &&
      now - d->status_asked_ns >= (int64_t)ns->cfg.fleet_status_interval_s * SEC &&
      *ans_len + 1 <= LG_FOPTS_MAX) {
    answers[(*ans_len)++] = LG_MAC_DEV_STATUS;
    d->status_asked_ns = now;
  }
}

void ns_fleet_adr_limits(struct lg_ns *ns, uint64_t dev_eui, struct ns_fleet_limits *l) {
  memset(l, 0, sizeof(*l));
  if (ns->fleet == NULL) return;
  struct fdev *d = NULL;
  HASH_FIND(hh, ns->fleet->devs, &dev_eui, sizeof(dev_eui), d);
  if (d == NULL) return;
  const struct lg_shadow_cfg *r = &d->reported;
  l->has_max_dr = r->has & LG_SHADOW_MAX_DR, l->max_dr = r->max_dr;
  l->has_min_txp = r->has & LG_SHADOW_MIN_TX_POWER, l->min_tx_power_index = r->min_tx_power_index;
  l->has_margin = r->has & LG_SHADOW_ADR_MARGIN, l->margin_db = r->adr_margin_db;
  l->has_ch_mask = r->has & LG_SHADOW_CHANNEL_MASK, l->ch_mask = r->channel_mask;
  l->has_rx = r->has & LG_SHADOW_RX_PARAMS;
  l->rx1_dr_offset = r->rx1_dr_offset, l->rx2_dr = r->rx2_dr, l->rx2_freq_hz = r->rx2_freq_hz;
}

void ns_fleet_mic_failure(struct lg_ns *ns, uint32_t dev_addr) {
  if (ns->fleet) lg_alarms_mic_failure(ns->fleet->alarms, dev_addr, obs_ns(ns));
}

void ns_fleet_gateway_rx(struct lg_ns *ns, uint64_t gateway_eui, bool located, bool outlier) {
  if (ns->fleet) lg_alarms_gateway_rx(ns->fleet->alarms, gateway_eui, ns_now(ns), located, outlier);
}

void ns_fleet_position(struct lg_ns *ns, uint64_t dev_eui, double lat_deg, double lon_deg,
                       double accuracy_m, const struct lg_geo_track_point *track) {
  if (ns->fleet == NULL) return;
  /* the server's rules: a fix is judged without reading the device again */
  lg_alarms_position(ns->fleet->alarms, dev_eui, obs_ns(ns), lat_deg, lon_deg, accuracy_m, NULL);
  if (track && !track->outlier) /* the tracker took it: its track is the next reference */
    lg_alarms_track(ns->fleet->alarms, dev_eui, track->lat_deg, track->lon_deg, track->accuracy_m);
}

void ns_fleet_tick(struct lg_ns *ns, int64_t now_ns) {
  if (ns->fleet == NULL || now_ns - ns->fleet->last_tick_ns < TICK_NS) return;
  ns->fleet->last_tick_ns = now_ns;
  /* Silence is judged only up to what has been processed: a frame received and not yet
   * processed (a backlog) is not silence. */
  int64_t upto = now_ns;
  if (ns->next_due && ns->next_due->first_ns - 1 < upto) upto = ns->next_due->first_ns - 1;
  lg_alarms_tick(ns->fleet->alarms, upto);
}
