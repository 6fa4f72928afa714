/*
 * The fleet's side of the store (store.h, issue 19): a device's inventory (tags kept both
 * as a JSON object on the device, for reading, and as rows of device_tags, for finding
 * devices by tag through an index), its life cycle with the date of each state, alarms
 * (one row per raise-to-clear episode; a raise while open counts on the open row), the
 * configuration shadow (desired and reported as JSON objects) and its history, the fleet
 * summary that `lorageo fleet report` and GET /api/fleet/summary give, every device's health
 * (the console's fleet map) and a device's timeline (its joins, resets, configuration
 * changes, alarms and life-cycle dates merged, newest first).
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"
#include "util/util.h"

static atomic_uint shadow_gen, lifecycle_gen;

unsigned lg_store_lifecycle_generation(void) {
  return atomic_load(&lifecycle_gen);
}

unsigned lg_store_shadow_generation(void) {
  return atomic_load(&shadow_gen);
}

/* ---- inventory and life cycle ------------------------------------------------------ */

static const char *const lifecycle_names[LG_LC_COUNT] = {"provisioned", "active", "silent",
                                                         "retired"};

const char *lg_lifecycle_name(int state) {
  return state >= 0 && state < LG_LC_COUNT ? lifecycle_names[state] : "provisioned";
}

int lg_lifecycle_parse(const char *name) {
  for (int i = 0; name && i < LG_LC_COUNT; i++)
    if (strcmp(name, lifecycle_names[i]) == 0) return i;
  return -1;
}

int lg_store_inventory_set(struct lg_store *s, uint64_t dev_eui, const struct lg_inventory *inv,
                           int64_t provisioned_ns) {
  json_t *tags = json_object();
  for (int i = 0; i < inv->n_tags; i++)
    json_object_set_new(tags, inv->tags[i].key, json_string(inv->tags[i].value));
  char *text = json_dumps(tags, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(tags);
  if (text == NULL) return LG_ENOMEM;
  struct db_stmt *st = db_prep(
      s->db, "UPDATE devices SET tags = ?2, hardware = ?3, firmware = ?4,"
             " provisioned_ns = CASE WHEN CAST(?5 AS BIGINT) > 0 THEN CAST(?5 AS BIGINT)"
             " ELSE provisioned_ns END WHERE dev_eui = ?1");
  int rc = LG_EIO;
  if (st) {
    lgs_bind_eui(st, 1, dev_eui);
    db_bind_text(st, 2, text);
    db_bind_text(st, 3, inv->hardware);
    db_bind_text(st, 4, inv->firmware);
    db_bind_int64(st, 5, provisioned_ns);
    rc = lgs_step_done(st);
    if (rc == 0 && db_changes(st) == 0) rc = LG_ENOTFOUND;
  }
  free(text);
  if (rc) return rc;
  struct db_stmt *del = db_prep(s->db, "DELETE FROM device_tags WHERE dev_eui = ?1");
  if (del == NULL) return LG_EIO;
  lgs_bind_eui(del, 1, dev_eui);
  if ((rc = lgs_step_done(del))) return rc;
  for (int i = 0; i < inv->n_tags && rc == 0; i++) {
    struct db_stmt *ins = db_prep(
        s->db, "INSERT INTO device_tags (dev_eui, tag_key, tag_value) VALUES (?1, ?2, ?3)");
    if (ins == NULL) return LG_EIO;
    lgs_bind_eui(ins, 1, dev_eui);
    db_bind_text(ins, 2, inv->tags[i].key);
    db_bind_text(ins, 3, inv->tags[i].value);
    rc = lgs_step_done(ins);
  }
  return rc;
}

int lg_store_lifecycle_set(struct lg_store *s, uint64_t dev_eui, int state, int64_t t_ns) {
  atomic_fetch_add(&lifecycle_gen, 1);
  struct db_stmt *st = db_prep(
      s->db, "UPDATE devices SET lifecycle = ?2,"
             " active_ns = CASE WHEN ?2 = 'active' THEN ?3 ELSE active_ns END,"
             " silent_ns = CASE WHEN ?2 = 'silent' THEN ?3 ELSE silent_ns END,"
             " retired_ns = CASE WHEN ?2 = 'retired' THEN ?3 ELSE retired_ns END,"
             " provisioned_ns = CASE WHEN ?2 = 'provisioned' THEN ?3 ELSE provisioned_ns END"
             " WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_text(st, 2, lg_lifecycle_name(state));
  db_bind_int64(st, 3, t_ns);
  int rc = lgs_step_done(st);
  return rc ? rc : db_changes(st) ? 0 : LG_ENOTFOUND;
}

int lg_store_lifecycle_get(struct lg_store *s, uint64_t dev_eui, int *state) {
  struct db_stmt *st = db_prep(s->db, "SELECT lifecycle FROM devices WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  int rc = db_step(st);
  if (rc == DB_ROW) *state = lg_lifecycle_parse(db_col_text(st, 0));
  if (rc == DB_ROW && *state < 0) *state = LG_LC_PROVISIONED;
  db_done(st);
  return rc == DB_ROW ? 0 : rc == DB_DONE ? LG_ENOTFOUND : LG_EIO;
}

int lg_store_profile_thresholds_get(struct lg_store *s, int64_t profile_id, json_t **out) {
  struct db_stmt *st =
      db_prep(s->db, "SELECT alarm_thresholds FROM device_profiles WHERE id = ?1");
  *out = NULL;
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, profile_id);
  int rc = db_step(st);
  if (rc == DB_ROW) *out = json_loads(db_col_text(st, 0) ? db_col_text(st, 0) : "{}", 0, NULL);
  db_done(st);
  if (rc == DB_ROW && *out == NULL) *out = json_object();
  return rc == DB_ROW ? 0 : rc == DB_DONE ? LG_ENOTFOUND : LG_EIO;
}

int lg_store_profile_thresholds_set(struct lg_store *s, int64_t profile_id, const json_t *t) {
  char *text = json_dumps(t, JSON_COMPACT | JSON_SORT_KEYS);
  if (text == NULL) return LG_ENOMEM;
  struct db_stmt *st =
      db_prep(s->db, "UPDATE device_profiles SET alarm_thresholds = ?2 WHERE id = ?1");
  int rc = LG_EIO;
  if (st) {
    db_bind_int64(st, 1, profile_id);
    db_bind_text(st, 2, text);
    rc = lgs_step_done(st);
    if (rc == 0 && db_changes(st) == 0) rc = LG_ENOTFOUND;
  }
  free(text);
  lgs_devices_touch();
  return rc;
}

/* ---- alarms ------------------------------------------------------------------------ */

int lg_store_alarm_raise(struct lg_store *s, const struct lg_alarm_rec *a, int64_t *id) {
  struct db_stmt *st = db_prep(
      s->db, "UPDATE alarms SET raises = raises + 1, detail = ?3, value = ?4"
             " WHERE kind = ?1 AND subject = ?2 AND cleared_ns IS NULL RETURNING id");
  if (st == NULL) return LG_EIO;
  db_bind_text(st, 1, a->kind);
  db_bind_text(st, 2, a->subject);
  db_bind_text(st, 3, a->detail);
  db_bind_double(st, 4, a->value);
  int rc = db_step(st);
  if (rc == DB_ROW) *id = db_col_int64(st, 0);
  db_done(st);
  if (rc == DB_ROW) return 0;
  if (rc != DB_DONE) return LG_EIO;
  st = db_prep(s->db, "INSERT INTO alarms (kind, subject_type, subject, raised_ns, value,"
                      " threshold, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id");
  if (st == NULL) return LG_EIO;
  db_bind_text(st, 1, a->kind);
  db_bind_text(st, 2, a->subject_type);
  db_bind_text(st, 3, a->subject);
  db_bind_int64(st, 4, a->t_ns);
  db_bind_double(st, 5, a->value);
  db_bind_double(st, 6, a->threshold);
  db_bind_text(st, 7, a->detail);
  return lgs_step_id(st, id);
}

int lg_store_alarm_clear(struct lg_store *s, const struct lg_alarm_rec *a) {
  struct db_stmt *st =
      db_prep(s->db, "UPDATE alarms SET cleared_ns = ?3, clear_detail = ?4"
                     " WHERE kind = ?1 AND subject = ?2 AND cleared_ns IS NULL");
  if (st == NULL) return LG_EIO;
  db_bind_text(st, 1, a->kind);
  db_bind_text(st, 2, a->subject);
  db_bind_int64(st, 3, a->t_ns);
  db_bind_text(st, 4, a->detail);
  int rc = lgs_step_done(st);
  return rc ? rc : db_changes(st) ? 0 : LG_ENOTFOUND;
}

int lg_store_alarms_close_all(struct lg_store *s, int64_t t_ns, const char *why, int64_t *n) {
  struct db_stmt *st = db_prep(s->db, "UPDATE alarms SET cleared_ns = ?1, clear_detail = ?2"
                                      " WHERE cleared_ns IS NULL");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, t_ns);
  db_bind_text(st, 2, why);
  int rc = lgs_step_done(st);
  *n = rc ? 0 : db_changes(st);
  return rc;
}

#define ALARM_COLS                                                                                 \
  "id, kind, subject_type, subject, raised_ns, cleared_ns, value, threshold, detail,"              \
  " clear_detail, raises, acked_ns, acked_by, ack_note"

static json_t *text_or_null(struct db_stmt *st, int col) {
  return db_col_null(st, col) ? json_null() : json_string(db_col_text(st, col));
}

static json_t *alarm_row(struct db_stmt *st) {
  json_t *o = json_object();
  json_object_set_new(o, "id", json_integer(db_col_int64(st, 0)));
  json_object_set_new(o, "kind", json_string(db_col_text(st, 1)));
  json_object_set_new(o, "subject_type", json_string(db_col_text(st, 2)));
  json_object_set_new(o, "subject", json_string(db_col_text(st, 3)));
  json_object_set_new(o, "raised_ns", json_integer(db_col_int64(st, 4)));
  json_object_set_new(o, "cleared_ns", lgs_int_or_null(st, 5));
  json_object_set_new(o, "open", json_boolean(db_col_null(st, 5)));
  json_object_set_new(o, "value", lgs_real_or_null(st, 6));
  json_object_set_new(o, "threshold", lgs_real_or_null(st, 7));
  json_object_set_new(o, "detail", json_string(db_col_text(st, 8) ? db_col_text(st, 8) : ""));
  json_object_set_new(o, "clear_detail", text_or_null(st, 9));
  json_object_set_new(o, "raises", json_integer(db_col_int64(st, 10)));
  json_object_set_new(o, "acknowledged", json_boolean(!db_col_null(st, 11)));
  json_object_set_new(o, "acked_ns", lgs_int_or_null(st, 11));
  json_object_set_new(o, "acked_by", text_or_null(st, 12));
  json_object_set_new(o, "ack_note", text_or_null(st, 13));
  return o;
}

json_t *lg_store_alarms_json(struct lg_store *s, const struct lg_alarm_filter *f, int64_t before_id,
                             int limit) {
  struct db_stmt *st = db_prep(
      s->db, "SELECT " ALARM_COLS " FROM alarms WHERE id < ?1"
             " AND (CAST(?2 AS BIGINT) = 0 OR cleared_ns IS NULL)"
             " AND (CAST(?3 AS BIGINT) = 0 OR acked_ns IS NULL)"
             " AND (CAST(?4 AS TEXT) = '' OR kind = CAST(?4 AS TEXT))"
             " AND (CAST(?5 AS TEXT) = '' OR subject = CAST(?5 AS TEXT))"
             " ORDER BY id DESC LIMIT ?6");
  if (st) {
    db_bind_int64(st, 1, before_id > 0 ? before_id : INT64_MAX);
    db_bind_int64(st, 2, f->open_only);
    db_bind_int64(st, 3, f->unacked_only);
    db_bind_text(st, 4, f->kind);
    db_bind_text(st, 5, f->subject);
    db_bind_int64(st, 6, (int64_t)limit + 1);
  }
  return lgs_page_json(st, limit, 0, alarm_row);
}

json_t *lg_store_alarm_json(struct lg_store *s, int64_t id) {
  struct db_stmt *st = db_prep(s->db, "SELECT " ALARM_COLS " FROM alarms WHERE id = ?1");
  if (st == NULL) return NULL;
  db_bind_int64(st, 1, id);
  json_t *o = db_step(st) == DB_ROW ? alarm_row(st) : NULL;
  db_done(st);
  return o;
}

int lg_store_alarm_ack(struct lg_store *s, int64_t id, int64_t t_ns, const char *by,
                       const char *note) {
  struct db_stmt *st = db_prep(s->db, "SELECT acked_ns FROM alarms WHERE id = ?1");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  int rc = db_step(st);
  bool acked = rc == DB_ROW && !db_col_null(st, 0);
  db_done(st);
  if (rc == DB_DONE) return LG_ENOTFOUND;
  if (rc != DB_ROW) return LG_EIO;
  if (acked) return LG_EEXIST;
  st = db_prep(s->db, "UPDATE alarms SET acked_ns = ?2, acked_by = ?3, ack_note = ?4 WHERE id = ?1");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  db_bind_int64(st, 2, t_ns);
  db_bind_text(st, 3, by);
  db_bind_text(st, 4, note);
  return lgs_step_done(st);
}

/* ---- the configuration shadow ------------------------------------------------------ */

int lg_store_shadow_get(struct lg_store *s, uint64_t dev_eui, json_t **desired, json_t **reported,
                        int64_t *pending_since_ns, int64_t *updated_ns) {
  struct db_stmt *st = db_prep(s->db, "SELECT desired, reported, pending_since_ns, updated_ns"
                                      " FROM shadows WHERE dev_eui = ?1");
  *desired = *reported = NULL;
  *pending_since_ns = *updated_ns = 0;
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  int rc = db_step(st);
  if (rc == DB_ROW) {
    *desired = json_loads(db_col_text(st, 0), 0, NULL);
    *reported = json_loads(db_col_text(st, 1), 0, NULL);
    *pending_since_ns = db_col_null(st, 2) ? 0 : db_col_int64(st, 2);
    *updated_ns = db_col_null(st, 3) ? 0 : db_col_int64(st, 3);
  }
  db_done(st);
  if (*desired == NULL) *desired = json_object();
  if (*reported == NULL) *reported = json_object();
  return rc == DB_ROW || rc == DB_DONE ? 0 : LG_EIO;
}

int lg_store_shadow_put(struct lg_store *s, uint64_t dev_eui, const json_t *desired,
                        const json_t *reported, int64_t pending_since_ns, int64_t now_ns) {
  char *d = desired ? json_dumps(desired, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  char *r = reported ? json_dumps(reported, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  struct db_stmt *st = db_prep(
      s->db, "INSERT INTO shadows (dev_eui, desired, reported, pending_since_ns, updated_ns)"
             " VALUES (?1, COALESCE(?2, '{}'), COALESCE(?3, '{}'),"
             " CASE WHEN CAST(?4 AS BIGINT) > 0 THEN CAST(?4 AS BIGINT) ELSE NULL END, ?5)"
             " ON CONFLICT(dev_eui) DO UPDATE SET desired = COALESCE(?2, shadows.desired),"
             " reported = COALESCE(?3, shadows.reported),"
             " pending_since_ns = CASE WHEN CAST(?4 AS BIGINT) < 0 THEN shadows.pending_since_ns"
             " WHEN CAST(?4 AS BIGINT) = 0 THEN NULL ELSE CAST(?4 AS BIGINT) END,"
             " updated_ns = ?5");
  int rc = LG_EIO;
  if (st) {
    lgs_bind_eui(st, 1, dev_eui);
    if (d)
      db_bind_text(st, 2, d);
    else
      db_bind_null(st, 2);
    if (r)
      db_bind_text(st, 3, r);
    else
      db_bind_null(st, 3);
    db_bind_int64(st, 4, pending_since_ns);
    db_bind_int64(st, 5, now_ns);
    rc = lgs_step_done(st);
  }
  free(d);
  free(r);
  if (desired) atomic_fetch_add(&shadow_gen, 1);
  return rc;
}

int lg_store_shadow_history_add(struct lg_store *s, uint64_t dev_eui, const char *field,
                                const char *value, const char *action, const char *detail,
                                int64_t t_ns) {
  struct db_stmt *st = db_prep(
      s->db, "INSERT INTO shadow_history (dev_eui, field, value, action, detail, created_ns)"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_text(st, 2, field);
  if (value)
    db_bind_text(st, 3, value);
  else
    db_bind_null(st, 3);
  db_bind_text(st, 4, action);
  db_bind_text(st, 5, detail ? detail : "");
  db_bind_int64(st, 6, t_ns);
  return lgs_step_done(st);
}

static json_t *history_row(struct db_stmt *st) {
  const char *v = db_col_text(st, 2);
  json_t *val = v ? json_loads(v, JSON_DECODE_ANY, NULL) : NULL;
  return json_pack("{s:I, s:s, s:o, s:s, s:s, s:I}", "id", (json_int_t)db_col_int64(st, 0),
                   "field", db_col_text(st, 1), "value",
                   val ? val : v ? json_string(v) : json_null(), "action", db_col_text(st, 3),
                   "detail", db_col_text(st, 4) ? db_col_text(st, 4) : "", "time_ns",
                   (json_int_t)db_col_int64(st, 5));
}

json_t *lg_store_shadow_history_json(struct lg_store *s, uint64_t dev_eui, int64_t before_id,
                                     int limit) {
  struct db_stmt *st = db_prep(s->db, "SELECT id, field, value, action, detail, created_ns"
                                      " FROM shadow_history WHERE dev_eui = ?1 AND id < ?3"
                                      " ORDER BY id DESC LIMIT ?2");
  if (st) {
    lgs_bind_eui(st, 1, dev_eui);
    db_bind_int64(st, 2, (int64_t)limit + 1);
    db_bind_int64(st, 3, before_id > 0 ? before_id : INT64_MAX);
  }
  return lgs_page_json(st, limit, 0, history_row);
}

/* ---- the fleet at a glance --------------------------------------------------------- */

/* A device's health, one word for the dashboard's colours: retired (nothing expected of it),
 * alarm (an open alarm, or silent), pending (a desired configuration not yet reported),
 * provisioned (never heard), ok. The first that holds, in that order. */
static const char *health_of(const char *lifecycle, bool alarm, bool pending) {
  if (strcmp(lifecycle, "retired") == 0) return "retired";
  if (alarm || strcmp(lifecycle, "silent") == 0) return "alarm";
  if (pending) return "pending";
  if (strcmp(lifecycle, "provisioned") == 0) return "provisioned";
  return "ok";
}

/* The open alarms of the devices whose DevEUIs lie in [lo, hi]: {dev_eui: [kind, ...]}. */
static json_t *open_device_alarms(struct lg_store *s, const char *lo, const char *hi) {
  struct db_stmt *st = db_prep(
      s->db, "SELECT subject, kind FROM alarms WHERE cleared_ns IS NULL AND subject_type = 'device'"
             " AND subject >= ?1 AND subject <= ?2 ORDER BY subject, kind");
  if (st == NULL) return NULL;
  db_bind_text(st, 1, lo);
  db_bind_text(st, 2, hi);
  json_t *by = json_object();
  int rc;
  while ((rc = db_step(st)) == DB_ROW) {
    const char *eui = db_col_text(st, 0);
    json_t *list = json_object_get(by, eui);
    if (list == NULL) json_object_set_new(by, eui, list = json_array());
    json_array_append_new(list, json_string(db_col_text(st, 1)));
  }
  db_done(st);
  if (rc != DB_DONE) {
    json_decref(by);
    return NULL;
  }
  return by;
}

/* Columns of FLEET_DEVICE_SQL: the device, its shadow's pending time, whether an alarm is
 * open. ?1 the DevEUI to start after ("" from the first), ?2 the limit, ?3 non-zero: only
 * the devices that need attention (not retired, and silent, pending or with an alarm). */
#define FLEET_OPEN_ALARM                                                                           \
  "EXISTS (SELECT 1 FROM alarms a WHERE a.subject = d.dev_eui AND a.subject_type = 'device'"    \
  " AND a.cleared_ns IS NULL)"
#define FLEET_ATTENTION                                                                            \
  "(d.lifecycle <> 'retired' AND (d.lifecycle = 'silent' OR sh.pending_since_ns IS NOT NULL"      \
  " OR " FLEET_OPEN_ALARM "))"
#define FLEET_DEVICE_SQL                                                                           \
  "SELECT d.dev_eui, d.name, d.lifecycle, d.last_seen_ns, d.battery, sh.pending_since_ns,"        \
  " CASE WHEN " FLEET_OPEN_ALARM " THEN 1 ELSE 0 END"                                              \
  " FROM devices d LEFT JOIN shadows sh ON sh.dev_eui = d.dev_eui"                                 \
  " WHERE d.dev_eui > ?1 AND (CAST(?3 AS BIGINT) = 0 OR " FLEET_ATTENTION ")"                      \
  " ORDER BY d.dev_eui LIMIT ?2"

/* One row of FLEET_DEVICE_SQL; its "alarms" and "health" are filled by fleet_devices_page. */
static json_t *fleet_device_row(struct db_stmt *st) {
  const char *lc = db_col_text(st, 2) ? db_col_text(st, 2) : "provisioned";
  bool pending = !db_col_null(st, 5), alarm = db_col_int(st, 6) != 0;
  return json_pack("{s:s, s:s, s:s, s:o, s:o, s:[], s:o, s:s}", "dev_eui", db_col_text(st, 0),
                   "name", db_col_text(st, 1) ? db_col_text(st, 1) : "", "lifecycle", lc,
                   "last_seen_ns", lgs_int_or_null(st, 3), "battery", lgs_int_or_null(st, 4),
                   "alarms", "config_pending_since_ns", lgs_int_or_null(st, 5), "health",
                   health_of(lc, alarm, pending));
}

/* A page of FLEET_DEVICE_SQL (after: "" from the first) as {"items", "next"}, each device
 * with its open alarms' kinds. */
static json_t *fleet_devices_page(struct lg_store *s, const char *after, int limit,
                                  bool attention) {
  struct db_stmt *st = db_prep(s->db, FLEET_DEVICE_SQL);
  if (st == NULL) return NULL;
  db_bind_text(st, 1, after);
  db_bind_int64(st, 2, (int64_t)limit + 1);
  db_bind_int64(st, 3, attention);
  json_t *items = json_array(), *next = json_null();
  int rc, n = 0;
  while ((rc = db_step(st)) == DB_ROW) {
    if (n++ == limit) { /* one more than asked for: a next page, after the last given */
      json_decref(next);
      next = json_incref(json_object_get(json_array_get(items, (size_t)limit - 1), "dev_eui"));
      rc = DB_DONE;
      break;
    }
    json_array_append_new(items, fleet_device_row(st));
  }
  db_done(st);
  size_t k = json_array_size(items);
  const char *lo = json_string_value(json_object_get(json_array_get(items, 0), "dev_eui"));
  const char *hi = json_string_value(json_object_get(json_array_get(items, k - 1), "dev_eui"));
  json_t *alarms = rc != DB_DONE ? NULL : k == 0 ? json_object() : open_device_alarms(s, lo, hi);
  if (alarms == NULL) {
    json_decref(items);
    json_decref(next);
    return NULL;
  }
  size_t i;
  json_t *d;
  json_array_foreach(items, i, d) {
    json_t *kinds = json_object_get(alarms, json_string_value(json_object_get(d, "dev_eui")));
    if (kinds) json_object_set(d, "alarms", kinds);
  }
  json_decref(alarms);
  return json_pack("{s:o, s:o}", "items", items, "next", next);
}

json_t *lg_store_fleet_devices_json(struct lg_store *s, const uint64_t *after, int limit) {
  char h[17];
  lgs_after_hex(after, h);
  return fleet_devices_page(s, h, limit, false);
}

json_t *lg_store_fleet_summary_json(struct lg_store *s, int attention) {
  json_t *o = json_object(), *lc = json_object(), *al = json_object();
  int64_t total = 0, pending = 0, shadows = 0, needing = 0;
  for (int i = 0; i < LG_LC_COUNT; i++)
    json_object_set_new(lc, lg_lifecycle_name(i), json_integer(0));
  struct db_stmt *st = db_prep(s->db, "SELECT lifecycle, COUNT(*) FROM devices GROUP BY lifecycle");
  while (st && db_step(st) == DB_ROW) {
    json_object_set_new(lc, db_col_text(st, 0), json_integer(db_col_int64(st, 1)));
    total += db_col_int64(st, 1);
  }
  db_done(st);
  st = db_prep(s->db, "SELECT kind, COUNT(*) FROM alarms WHERE cleared_ns IS NULL GROUP BY kind");
  while (st && db_step(st) == DB_ROW)
    json_object_set_new(al, db_col_text(st, 0), json_integer(db_col_int64(st, 1)));
  db_done(st);
  st = db_prep(s->db, "SELECT COUNT(*), COUNT(pending_since_ns) FROM shadows WHERE desired <> '{}'");
  if (st && db_step(st) == DB_ROW) shadows = db_col_int64(st, 0), pending = db_col_int64(st, 1);
  db_done(st);
  st = db_prep(s->db, "SELECT COUNT(*) FROM devices d"
                      " LEFT JOIN shadows sh ON sh.dev_eui = d.dev_eui WHERE " FLEET_ATTENTION);
  if (st && db_step(st) == DB_ROW) needing = db_col_int64(st, 0);
  db_done(st);
  json_t *att = fleet_devices_page(s, "", attention, true);
  if (att == NULL) {
    json_decref(o);
    json_decref(lc);
    json_decref(al);
    return NULL;
  }
  json_object_set_new(o, "devices", json_integer(total));
  json_object_set_new(o, "lifecycle", lc);
  json_object_set_new(o, "alarms_open", al);
  json_object_set_new(o, "config", json_pack("{s:I, s:I}", "in_sync", (json_int_t)(shadows - pending),
                                             "pending", (json_int_t)pending));
  json_object_set_new(o, "attention", json_incref(json_object_get(att, "items")));
  json_object_set_new(o, "attention_total", json_integer(needing));
  json_decref(att);
  return o;
}

/* ---- a device's timeline ----------------------------------------------------------- */

/* The timeline merges sources that each keep their own order; an entry's place is (time,
 * source, id), newest first, and the cursor "time.source.id" says where a page ended. Each
 * source is read below the cursor ((t, id) < (T, ID), with ID adjusted by the source's rank
 * against the cursor's), limit + 1 rows at most, then all are merged here. */
enum { TL_EVENT, TL_CONFIG, TL_RAISED, TL_CLEARED, TL_ACKED, TL_LIFECYCLE, TL_SOURCES };

struct tl_entry {
  int64_t t_ns, id;
  int src;
  json_t *o;
};

struct tl_list {
  struct tl_entry *e;
  size_t n, cap;
};

static const char *text_or_empty(struct db_stmt *st, int col) {
  return db_col_text(st, col) ? db_col_text(st, col) : "";
}

static int tl_add(struct tl_list *l, int64_t t_ns, int src, int64_t id, json_t *o) {
  if (o == NULL) return LG_ENOMEM;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    struct tl_entry *e = realloc(l->e, cap * sizeof(*e));
    if (e == NULL) return json_decref(o), LG_ENOMEM;
    l->e = e;
    l->cap = cap;
  }
  json_object_set_new(o, "time_ns", json_integer(t_ns));
  l->e[l->n++] = (struct tl_entry){t_ns, id, src, o};
  return 0;
}

static int tl_cmp(const void *a, const void *b) { /* newest first */
  const struct tl_entry *x = a, *y = b;
  if (x->t_ns != y->t_ns) return x->t_ns < y->t_ns ? 1 : -1;
  if (x->src != y->src) return x->src < y->src ? 1 : -1;
  return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;
}

/* The id bound for source `src` below cursor (t, src0, id0): every id at t when the source
 * ranks below the cursor's, those below id0 in the cursor's own, none in a higher one. */
static int64_t tl_id_bound(const struct lg_timeline_cursor *c, int src) {
  return src < c->src ? INT64_MAX : src == c->src ? c->id : 0;
}

/* Reads one source: the statement takes the DevEUI ?1, the time bound ?2, the id bound ?3
 * and the limit ?4, and gives time, id, then what `row` makes the entry of. */
static int tl_read(struct lg_store *s, const char *sql, uint64_t dev_eui,
                   const struct lg_timeline_cursor *c, int src, int limit, struct tl_list *l,
                   json_t *(*row)(struct db_stmt *, int src)) {
  struct db_stmt *st = db_prep(s->db, sql);
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_int64(st, 2, c->t_ns);
  db_bind_int64(st, 3, tl_id_bound(c, src));
  db_bind_int64(st, 4, (int64_t)limit + 1);
  int rc;
  while ((rc = db_step(st)) == DB_ROW)
    if (tl_add(l, db_col_int64(st, 0), src, db_col_int64(st, 1), row(st, src))) break;
  db_done(st);
  return rc == DB_DONE ? 0 : LG_EIO;
}

#define TL_BELOW(t, id) " AND (" t " < ?2 OR (" t " = ?2 AND " id " < ?3))"

static json_t *tl_event_row(struct db_stmt *st, int src) {
  (void)src;
  const char *type = db_col_text(st, 2), *p = db_col_text(st, 3);
  json_t *data = p ? json_loads(p, 0, NULL) : NULL;
  char detail[160] = "";
  const char *addr = json_string_value(json_object_get(data, "dev_addr"));
  if (strcmp(type, "join") == 0)
    snprintf(detail, sizeof(detail), "joined: DevAddr %s", addr ? addr : "?");
  else
    snprintf(detail, sizeof(detail), "frame counter reset to %lld (expected %lld)",
             (long long)json_integer_value(json_object_get(data, "f_cnt")),
             (long long)json_integer_value(json_object_get(data, "f_cnt_expected")));
  return json_pack("{s:s, s:s, s:s, s:o}", "kind", type, "action", type, "detail", detail, "data",
                   data ? data : json_null());
}

static json_t *tl_config_row(struct db_stmt *st, int src) {
  (void)src;
  const char *v = db_col_text(st, 3);
  json_t *val = v ? json_loads(v, JSON_DECODE_ANY, NULL) : NULL;
  return json_pack("{s:s, s:s, s:s, s:o, s:s}", "kind", "config", "action", db_col_text(st, 4),
                   "field", db_col_text(st, 2), "value",
                   val ? val : v ? json_string(v) : json_null(),
                   "detail", text_or_empty(st, 5));
}

/* Columns: time, id, kind, detail, clear_detail, raises, acked_by, ack_note, open, acked. */
static json_t *tl_alarm_row(struct db_stmt *st, int src) {
  static const char *const action[] = {[TL_RAISED] = "raised", [TL_CLEARED] = "cleared",
                                       [TL_ACKED] = "acknowledged"};
  char detail[800];
  if (src == TL_ACKED)
    snprintf(detail, sizeof(detail), "by %s%s%s", text_or_empty(st, 6),
             *text_or_empty(st, 7) ? ": " : "", text_or_empty(st, 7));
  else
    snprintf(detail, sizeof(detail), "%s", text_or_empty(st, src == TL_CLEARED ? 4 : 3));
  return json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:b, s:b}", "kind", "alarm", "action",
                   action[src], "alarm_kind", db_col_text(st, 2), "alarm_id",
                   (json_int_t)db_col_int64(st, 1), "detail", detail, "raises",
                   (json_int_t)db_col_int64(st, 5), "open", db_col_int(st, 8) != 0,
                   "acknowledged", db_col_int(st, 9) != 0);
}

/* The life-cycle dates (each state's latest entry) below the cursor. */
static int tl_lifecycle(struct lg_store *s, uint64_t dev_eui, const struct lg_timeline_cursor *c,
                        struct tl_list *l) {
  struct db_stmt *st = db_prep(s->db, "SELECT provisioned_ns, active_ns, silent_ns, retired_ns"
                                      " FROM devices WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  int rc = db_step(st);
  for (int i = 0; rc == DB_ROW && i < LG_LC_COUNT; i++) {
    int64_t t = db_col_null(st, i) ? 0 : db_col_int64(st, i), bound = tl_id_bound(c, TL_LIFECYCLE);
    if (t <= 0 || !(t < c->t_ns || (t == c->t_ns && i + 1 < bound))) continue;
    if (tl_add(l, t, TL_LIFECYCLE, i + 1,
               json_pack("{s:s, s:s, s:s}", "kind", "lifecycle", "action", lg_lifecycle_name(i),
                         "detail", "entered (its latest entry into this state)")))
      break;
  }
  db_done(st);
  return rc == DB_ROW || rc == DB_DONE ? 0 : LG_EIO;
}

#define TL_ALARM_COLS(t)                                                                           \
  "SELECT " t ", id, kind, detail, clear_detail, raises, acked_by, ack_note,"                      \
  " CASE WHEN cleared_ns IS NULL THEN 1 ELSE 0 END, CASE WHEN acked_ns IS NULL THEN 0 ELSE 1 END"  \
  " FROM alarms WHERE subject = ?1 AND subject_type = 'device' AND " t " IS NOT NULL"             \
  TL_BELOW(t, "id") " ORDER BY " t " DESC, id DESC LIMIT ?4"

json_t *lg_store_timeline_json(struct lg_store *s, uint64_t dev_eui,
                               const struct lg_timeline_cursor *from, int limit) {
  static const char *const sql[TL_SOURCES] = {
      [TL_EVENT] = "SELECT created_ns, id, type, payload FROM events WHERE dev_eui = ?1"
                   " AND type IN ('join', 'reset')" TL_BELOW("created_ns", "id")
                   " ORDER BY created_ns DESC, id DESC LIMIT ?4",
      [TL_CONFIG] = "SELECT created_ns, id, field, value, action, detail FROM shadow_history"
                    " WHERE dev_eui = ?1" TL_BELOW("created_ns", "id")
                    " ORDER BY created_ns DESC, id DESC LIMIT ?4",
      [TL_RAISED] = TL_ALARM_COLS("raised_ns"),
      [TL_CLEARED] = TL_ALARM_COLS("cleared_ns"),
      [TL_ACKED] = TL_ALARM_COLS("acked_ns"),
  };
  struct lg_timeline_cursor first = {INT64_MAX, TL_SOURCES, 0};
  const struct lg_timeline_cursor *c = from && from->t_ns > 0 ? from : &first;
  struct tl_list l = {0};
  int rc = 0;
  for (int src = 0; rc == 0 && src < TL_LIFECYCLE; src++)
    rc = tl_read(s, sql[src], dev_eui, c, src, limit, &l,
                 src == TL_EVENT ? tl_event_row : src == TL_CONFIG ? tl_config_row : tl_alarm_row);
  if (rc == 0) rc = tl_lifecycle(s, dev_eui, c, &l);
  json_t *items = rc ? NULL : json_array(), *next = json_null();
  if (l.n) qsort(l.e, l.n, sizeof(*l.e), tl_cmp);
  for (size_t i = 0; i < l.n; i++) {
    if (items && i < (size_t)limit) {
      json_array_append_new(items, l.e[i].o);
      continue;
    }
    json_decref(l.e[i].o);
    if (items && i == (size_t)limit) {
      const struct tl_entry *last = &l.e[limit - 1];
      json_decref(next);
      next = json_sprintf("%lld.%d.%lld", (long long)last->t_ns, last->src, (long long)last->id);
    }
  }
  free(l.e);
  if (items == NULL) {
    json_decref(next);
    return NULL;
  }
  return json_pack("{s:o, s:o}", "items", items, "next", next);
}

/* One decimal field of a cursor ending at `stop`: digits only, no overflow. */
static bool cursor_field(const char **p, char stop, long long *v) {
  char *end;
  if (!isdigit((unsigned char)**p)) return false;
  errno = 0;
  *v = strtoll(*p, &end, 10);
  if (errno == ERANGE || *end != stop) return false;
  *p = end + (stop != '\0');
  return true;
}

int lg_store_timeline_cursor_parse(const char *text, struct lg_timeline_cursor *c) {
  long long t, src, id;
  const char *p = text;
  if (p == NULL || !cursor_field(&p, '.', &t) || !cursor_field(&p, '.', &src) ||
      !cursor_field(&p, '\0', &id) || t <= 0 || src >= TL_SOURCES)
    return LG_EINVAL;
  *c = (struct lg_timeline_cursor){t, (int)src, id};
  return 0;
}
