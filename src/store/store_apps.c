/*
 * The application side of the store: applications, device profiles and API keys (store.h).
 * Applications and profiles are small tables read by id; a profile is joined into every
 * device read (store.c's DEVICE_COLS), so a profile's change reaches its devices at their
 * next uplink — the caches of devices are told (lgs_devices_touch). An API key is kept
 * as its SHA-256 only, looked up by that hash. An application's webhooks are rows the
 * integration reloads when lg_store_webhooks_generation moves.
 */
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"
#include "util/util.h"

static atomic_uint webhooks_gen; /* process-wide: the API writes, the integration reads */

/* ---- applications --------------------------------------------------------------- */

int lg_store_app_put(struct lg_store *s, struct lg_app_rec *a, int64_t now_ns) {
  if (a->id > 0) {
    struct db_stmt *st =
        db_prep(s->db, "UPDATE applications SET name = ?2, description = ?3 WHERE id = ?1");
    if (st == NULL) return LG_EIO;
    db_bind_int64(st, 1, a->id);
    db_bind_text(st, 2, a->name);
    db_bind_text(st, 3, a->description);
    int rc = lgs_step_done(st);
    return rc ? rc : db_changes(st) ? 0 : LG_ENOTFOUND;
  }
  struct db_stmt *st = db_prep(s->db, "INSERT INTO applications (name, description, created_ns)"
                                      " VALUES (?1, ?2, ?3) RETURNING id");
  if (st == NULL) return LG_EIO;
  db_bind_text(st, 1, a->name);
  db_bind_text(st, 2, a->description);
  db_bind_int64(st, 3, now_ns);
  return lgs_step_id(st, &a->id);
}

int lg_store_app_get(struct lg_store *s, int64_t id, struct lg_app_rec *a) {
  struct db_stmt *st = db_prep(s->db, "SELECT name, description FROM applications WHERE id = ?1");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  int rc = db_step(st);
  if (rc == DB_ROW) {
    memset(a, 0, sizeof(*a));
    a->id = id;
    snprintf(a->name, sizeof(a->name), "%s", db_col_text(st, 0));
    snprintf(a->description, sizeof(a->description), "%s", db_col_text(st, 1));
  }
  db_done(st);
  return rc == DB_ROW ? 0 : rc == DB_DONE ? LG_ENOTFOUND : LG_EIO;
}

/* How many rows `sql` (SELECT COUNT(*) ... WHERE x = ?1) counts for id. */
static int count_of(struct lg_store *s, struct db_stmt *st, int64_t id, int64_t *n) {
  (void)s;
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  int rc = db_step(st);
  *n = rc == DB_ROW ? db_col_int64(st, 0) : 0;
  db_done(st);
  return rc == DB_ROW ? 0 : LG_EIO;
}

int lg_store_app_delete(struct lg_store *s, int64_t id, int64_t now_ns, int64_t *devices) {
  int rc = count_of(s, db_prep(s->db, "SELECT COUNT(*) FROM devices WHERE application_id = ?1"),
                    id, devices);
  if (rc) return rc;
  if (*devices > 0) return LG_EBUSY;
  struct db_stmt *st = db_prep(s->db, "DELETE FROM applications WHERE id = ?1");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  rc = lgs_step_done(st);
  if (rc == 0 && db_changes(st) == 0) return LG_ENOTFOUND;
  /* its webhooks go with it */
  struct db_stmt *hooks = db_prep(s->db, "DELETE FROM webhooks WHERE application_id = ?1");
  if (rc == 0 && hooks == NULL) return LG_EIO;
  if (rc == 0) {
    db_bind_int64(hooks, 1, id);
    if ((rc = lgs_step_done(hooks)) == 0) atomic_fetch_add(&webhooks_gen, 1);
  }
  /* its keys go with it: a key of no application would be an admin key */
  struct db_stmt *keys = db_prep(s->db, "UPDATE api_keys SET revoked_ns = ?2"
                                        " WHERE application_id = ?1 AND revoked_ns IS NULL");
  if (rc == 0 && keys == NULL) return LG_EIO;
  if (rc == 0) {
    db_bind_int64(keys, 1, id);
    db_bind_int64(keys, 2, now_ns);
    rc = lgs_step_done(keys);
  }
  return rc;
}

static json_t *app_row(struct db_stmt *st) {
  return json_pack("{s:I, s:s, s:s, s:I, s:I}", "id", (json_int_t)db_col_int64(st, 0), "name",
                   db_col_text(st, 1), "description", db_col_text(st, 2), "devices",
                   (json_int_t)db_col_int64(st, 3), "created_ns", (json_int_t)db_col_int64(st, 4));
}

#define APP_COLS                                                                                   \
  "SELECT a.id, a.name, a.description, (SELECT COUNT(*) FROM devices d WHERE"                      \
  " d.application_id = a.id), a.created_ns FROM applications a"

json_t *lg_store_apps_json(struct lg_store *s, int64_t only_id, int64_t after_id, int limit) {
  struct db_stmt *st = db_prep(s->db, APP_COLS " WHERE a.id > ?1 AND (?2 = 0 OR a.id = ?2)"
                                               " ORDER BY a.id LIMIT ?3");
  if (st) {
    db_bind_int64(st, 1, after_id);
    db_bind_int64(st, 2, only_id);
    db_bind_int64(st, 3, (int64_t)limit + 1);
  }
  return lgs_page_json(st, limit, 0, app_row);
}

json_t *lg_store_app_json(struct lg_store *s, int64_t id) {
  struct db_stmt *st = db_prep(s->db, APP_COLS " WHERE a.id = ?1");
  if (st == NULL) return NULL;
  db_bind_int64(st, 1, id);
  json_t *o = db_step(st) == DB_ROW ? app_row(st) : NULL;
  db_done(st);
  return o;
}

/* ---- device profiles ------------------------------------------------------------ */

#define PROFILE_COLS                                                                               \
  "id, name, region, device_class, mac_version, adr_algorithm, adr_margin_db,"                     \
  " uplink_interval_s, payload_codec, reference, max_uplinks_per_day, max_downlinks_per_day,"      \
  " created_ns, updated_ns, alarm_thresholds, adr_target"

static void bind_opt_int(struct db_stmt *st, int i, int v) {
  if (v > 0)
    db_bind_int64(st, i, v);
  else
    db_bind_null(st, i);
}

/* The profile's fields as parameters ?k .. ?k+10 and ?k+12, and now_ns as ?k+11. */
static void bind_profile(struct db_stmt *st, int k, const struct lg_profile_rec *p, int64_t now_ns) {
  db_bind_text(st, k, p->name);
  db_bind_text(st, k + 1, p->region);
  db_bind_text(st, k + 2, p->class_c ? "C" : "A");
  db_bind_text(st, k + 3, p->mac_version);
  db_bind_text(st, k + 4, p->adr_algorithm);
  lgs_bind_opt_real(st, k + 5, p->has_adr_margin, p->adr_margin_db);
  bind_opt_int(st, k + 6, p->uplink_interval_s);
  db_bind_text(st, k + 7, p->payload_codec);
  db_bind_int64(st, k + 8, p->reference);
  bind_opt_int(st, k + 9, p->max_uplinks_per_day);
  bind_opt_int(st, k + 10, p->max_downlinks_per_day);
  db_bind_int64(st, k + 11, now_ns);
  lgs_bind_opt_real(st, k + 12, p->has_adr_target, p->adr_target);
}

int lg_store_profile_put(struct lg_store *s, struct lg_profile_rec *p, int64_t now_ns) {
  lgs_devices_touch(); /* its devices' settings may change */
  if (p->id == 0) {
    struct db_stmt *st =
        db_prep(s->db, "INSERT INTO device_profiles (name, region, device_class, mac_version,"
                       " adr_algorithm, adr_margin_db, uplink_interval_s, payload_codec,"
                       " reference, max_uplinks_per_day, max_downlinks_per_day, created_ns,"
                       " updated_ns, adr_target) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                       " ?11, ?12, ?12, ?13) RETURNING id");
    if (st == NULL) return LG_EIO;
    bind_profile(st, 1, p, now_ns);
    return lgs_step_id(st, &p->id);
  }
  struct db_stmt *st =
      db_prep(s->db, "UPDATE device_profiles SET name = ?2, region = ?3, device_class = ?4,"
                     " mac_version = ?5, adr_algorithm = ?6, adr_margin_db = ?7,"
                     " uplink_interval_s = ?8, payload_codec = ?9, reference = ?10,"
                     " max_uplinks_per_day = ?11, max_downlinks_per_day = ?12,"
                     " updated_ns = ?13, adr_target = ?14 WHERE id = ?1");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, p->id);
  bind_profile(st, 2, p, now_ns);
  int rc = lgs_step_done(st);
  return rc ? rc : db_changes(st) ? 0 : LG_ENOTFOUND;
}

int lg_store_profile_get(struct lg_store *s, int64_t id, struct lg_profile_rec *p) {
  struct db_stmt *st =
      db_prep(s->db, "SELECT " PROFILE_COLS " FROM device_profiles WHERE id = ?1");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  int rc = db_step(st);
  if (rc == DB_ROW) {
    memset(p, 0, sizeof(*p));
    p->id = id;
    snprintf(p->name, sizeof(p->name), "%s", db_col_text(st, 1));
    snprintf(p->region, sizeof(p->region), "%s", db_col_text(st, 2));
    p->class_c = db_col_text(st, 3)[0] == 'C';
    snprintf(p->mac_version, sizeof(p->mac_version), "%s", db_col_text(st, 4));
    snprintf(p->adr_algorithm, sizeof(p->adr_algorithm), "%s", db_col_text(st, 5));
    p->has_adr_margin = !db_col_null(st, 6);
    p->adr_margin_db = p->has_adr_margin ? db_col_double(st, 6) : 0;
    p->uplink_interval_s = db_col_int(st, 7);
    snprintf(p->payload_codec, sizeof(p->payload_codec), "%s", db_col_text(st, 8));
    p->reference = db_col_int(st, 9) != 0;
    p->max_uplinks_per_day = db_col_int(st, 10);
    p->max_downlinks_per_day = db_col_int(st, 11);
    p->has_adr_target = !db_col_null(st, 15);
    p->adr_target = p->has_adr_target ? db_col_double(st, 15) : 0;
  }
  db_done(st);
  return rc == DB_ROW ? 0 : rc == DB_DONE ? LG_ENOTFOUND : LG_EIO;
}

int lg_store_profile_delete(struct lg_store *s, int64_t id, int64_t *devices) {
  int rc = count_of(s, db_prep(s->db, "SELECT COUNT(*) FROM devices WHERE profile_id = ?1"), id,
                    devices);
  if (rc) return rc;
  if (*devices > 0) return LG_EBUSY;
  struct db_stmt *st = db_prep(s->db, "DELETE FROM device_profiles WHERE id = ?1");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  rc = lgs_step_done(st);
  return rc ? rc : db_changes(st) ? 0 : LG_ENOTFOUND;
}

static json_t *profile_row(struct db_stmt *st) {
  json_t *o = json_pack(
      "{s:I, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:b, s:o, s:o, s:I, s:I}", "id",
      (json_int_t)db_col_int64(st, 0), "name", db_col_text(st, 1), "region", db_col_text(st, 2),
      "class", db_col_text(st, 3), "mac_version", db_col_text(st, 4), "adr_algorithm",
      db_col_text(st, 5), "adr_margin_db", lgs_real_or_null(st, 6), "uplink_interval_s",
      lgs_int_or_null(st, 7), "payload_codec", db_col_text(st, 8), "reference",
      db_col_int(st, 9) != 0, "max_uplinks_per_day", lgs_int_or_null(st, 10),
      "max_downlinks_per_day", lgs_int_or_null(st, 11), "created_ns",
      (json_int_t)db_col_int64(st, 12), "updated_ns", (json_int_t)db_col_int64(st, 13));
  const char *th = db_col_text(st, 14); /* the alarm thresholds it sets (issue 19) */
  json_t *t = th ? json_loads(th, 0, NULL) : NULL;
  json_object_set_new(o, "alarm_thresholds", t ? t : json_object());
  json_object_set_new(o, "adr_target", lgs_real_or_null(st, 15));
  return o;
}

json_t *lg_store_profiles_json(struct lg_store *s, int64_t after_id, int limit) {
  struct db_stmt *st = db_prep(s->db, "SELECT " PROFILE_COLS " FROM device_profiles WHERE id > ?1"
                                      " ORDER BY id LIMIT ?2");
  if (st) {
    db_bind_int64(st, 1, after_id);
    db_bind_int64(st, 2, (int64_t)limit + 1);
  }
  return lgs_page_json(st, limit, 0, profile_row);
}

json_t *lg_store_profile_json(struct lg_store *s, int64_t id) {
  struct db_stmt *st =
      db_prep(s->db, "SELECT " PROFILE_COLS " FROM device_profiles WHERE id = ?1");
  if (st == NULL) return NULL;
  db_bind_int64(st, 1, id);
  json_t *o = db_step(st) == DB_ROW ? profile_row(st) : NULL;
  db_done(st);
  return o;
}

/* ---- API keys ------------------------------------------------------------------- */

int lg_store_apikey_add(struct lg_store *s, struct lg_apikey_rec *k, int64_t now_ns) {
  struct db_stmt *st =
      db_prep(s->db, "INSERT INTO api_keys (name, key_hash, application_id, read_only, created_ns)"
                     " VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id");
  if (st == NULL) return LG_EIO;
  db_bind_text(st, 1, k->name);
  db_bind_text(st, 2, k->key_hash);
  if (k->application_id > 0)
    db_bind_int64(st, 3, k->application_id);
  else
    db_bind_null(st, 3);
  db_bind_int64(st, 4, k->read_only);
  db_bind_int64(st, 5, now_ns);
  k->created_ns = now_ns;
  return lgs_step_id(st, &k->id);
}

int lg_store_apikey_find(struct lg_store *s, const char *key_hash, struct lg_apikey_rec *k) {
  struct db_stmt *st =
      db_prep(s->db, "SELECT id, name, application_id, read_only, created_ns FROM api_keys"
                     " WHERE key_hash = ?1 AND revoked_ns IS NULL");
  if (st == NULL) return LG_EIO;
  db_bind_text(st, 1, key_hash);
  int rc = db_step(st);
  if (rc == DB_ROW) {
    memset(k, 0, sizeof(*k));
    k->id = db_col_int64(st, 0);
    snprintf(k->name, sizeof(k->name), "%s", db_col_text(st, 1));
    k->application_id = db_col_null(st, 2) ? 0 : db_col_int64(st, 2);
    k->read_only = db_col_int(st, 3) != 0;
    k->created_ns = db_col_int64(st, 4);
    snprintf(k->key_hash, sizeof(k->key_hash), "%s", key_hash);
  }
  db_done(st);
  return rc == DB_ROW ? 0 : rc == DB_DONE ? LG_ENOTFOUND : LG_EIO;
}

int lg_store_apikey_revoke(struct lg_store *s, int64_t id, int64_t now_ns) {
  struct db_stmt *st = db_prep(s->db, "UPDATE api_keys SET revoked_ns = ?2 WHERE id = ?1"
                                      " AND revoked_ns IS NULL");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  db_bind_int64(st, 2, now_ns);
  int rc = lgs_step_done(st);
  return rc ? rc : db_changes(st) ? 0 : LG_ENOTFOUND;
}

static json_t *apikey_row(struct db_stmt *st) {
  return json_pack("{s:I, s:s, s:o, s:b, s:I, s:o}", "id", (json_int_t)db_col_int64(st, 0),
                   "name", db_col_text(st, 1), "application_id", lgs_int_or_null(st, 2),
                   "read_only", db_col_int(st, 3) != 0, "created_ns",
                   (json_int_t)db_col_int64(st, 4), "revoked_ns", lgs_int_or_null(st, 5));
}

json_t *lg_store_apikeys_json(struct lg_store *s, int64_t after_id, int limit) {
  struct db_stmt *st =
      db_prep(s->db, "SELECT id, name, application_id, read_only, created_ns, revoked_ns"
                     " FROM api_keys WHERE id > ?1 ORDER BY id LIMIT ?2");
  if (st) {
    db_bind_int64(st, 1, after_id);
    db_bind_int64(st, 2, (int64_t)limit + 1);
  }
  return lgs_page_json(st, limit, 0, apikey_row);
}

json_t *lg_store_apikey_json(struct lg_store *s, int64_t id) {
  struct db_stmt *st =
      db_prep(s->db, "SELECT id, name, application_id, read_only, created_ns, revoked_ns"
                     " FROM api_keys WHERE id = ?1");
  if (st == NULL) return NULL;
  db_bind_int64(st, 1, id);
  json_t *o = db_step(st) == DB_ROW ? apikey_row(st) : NULL;
  db_done(st);
  return o;
}

/* ---- an application's webhooks ----------------------------------------------------- */

unsigned lg_store_webhooks_generation(void) {
  return atomic_load(&webhooks_gen);
}

int lg_store_webhook_add(struct lg_store *s, struct lg_webhook_rec *w, int64_t now_ns) {
  struct db_stmt *st = db_prep(s->db, "INSERT INTO webhooks (application_id, url, headers, events,"
                                      " format, created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                                      " RETURNING id");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, w->application_id);
  db_bind_text(st, 2, w->url);
  db_bind_text(st, 3, w->headers);
  db_bind_text(st, 4, w->events);
  db_bind_text(st, 5, w->chirpstack ? "chirpstack" : "lorageo");
  db_bind_int64(st, 6, now_ns);
  int rc = lgs_step_id(st, &w->id);
  if (rc == 0) atomic_fetch_add(&webhooks_gen, 1);
  return rc;
}

int lg_store_webhook_delete(struct lg_store *s, int64_t application_id, int64_t id) {
  struct db_stmt *st =
      db_prep(s->db, "DELETE FROM webhooks WHERE id = ?1 AND application_id = ?2");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  db_bind_int64(st, 2, application_id);
  int rc = lgs_step_done(st);
  if (rc == 0 && db_changes(st) == 0) return LG_ENOTFOUND;
  if (rc == 0) atomic_fetch_add(&webhooks_gen, 1);
  return rc;
}

#define WEBHOOK_COLS "id, application_id, url, headers, events, format, created_ns"

static void webhook_from(struct db_stmt *st, struct lg_webhook_rec *w) {
  memset(w, 0, sizeof(*w));
  w->id = db_col_int64(st, 0);
  w->application_id = db_col_int64(st, 1);
  snprintf(w->url, sizeof(w->url), "%s", db_col_text(st, 2));
  snprintf(w->headers, sizeof(w->headers), "%s", db_col_text(st, 3));
  snprintf(w->events, sizeof(w->events), "%s", db_col_text(st, 4));
  w->chirpstack = strcmp(db_col_text(st, 5), "chirpstack") == 0;
}

int lg_store_webhooks_all(struct lg_store *s, struct lg_webhook_rec *out, size_t cap, size_t *n) {
  struct db_stmt *st = db_prep(s->db, "SELECT " WEBHOOK_COLS " FROM webhooks ORDER BY id");
  if (st == NULL) return LG_EIO;
  *n = 0;
  int rc;
  while ((rc = db_step(st)) == DB_ROW && *n < cap)
    webhook_from(st, &out[(*n)++]);
  db_done(st);
  return rc == DB_ROW || rc == DB_DONE ? 0 : LG_EIO;
}

/* The headers as stored ("Name: value|...") back into an object; no secrets are kept out:
 * the application's own keys read them, as they wrote them. */
static json_t *webhook_row(struct db_stmt *st) {
  struct lg_webhook_rec w;
  webhook_from(st, &w);
  json_t *h = json_object(), *ev = json_array();
  for (char *save = NULL, *p = strtok_r(w.headers, "|", &save); p; p = strtok_r(NULL, "|", &save)) {
    char *colon = strchr(p, ':');
    if (colon == NULL) continue;
    *colon = '\0';
    json_object_set_new(h, p, json_string(colon + 1 + (colon[1] == ' ')));
  }
  for (char *save = NULL, *p = strtok_r(w.events, ",", &save); p; p = strtok_r(NULL, ",", &save))
    json_array_append_new(ev, json_string(p));
  return json_pack("{s:I, s:I, s:s, s:o, s:o, s:s, s:I}", "id", (json_int_t)w.id,
                   "application_id", (json_int_t)w.application_id, "url", w.url, "headers", h,
                   "events", ev, "format", w.chirpstack ? "chirpstack" : "lorageo", "created_ns",
                   (json_int_t)db_col_int64(st, 6));
}

json_t *lg_store_webhooks_json(struct lg_store *s, int64_t application_id) {
  struct db_stmt *st = db_prep(s->db, "SELECT " WEBHOOK_COLS " FROM webhooks"
                                      " WHERE application_id = ?1 ORDER BY id");
  if (st == NULL) return NULL;
  db_bind_int64(st, 1, application_id);
  return lgs_rows_json(st, webhook_row);
}

json_t *lg_store_webhook_json(struct lg_store *s, int64_t id) {
  struct db_stmt *st = db_prep(s->db, "SELECT " WEBHOOK_COLS " FROM webhooks WHERE id = ?1");
  if (st == NULL) return NULL;
  db_bind_int64(st, 1, id);
  json_t *o = db_step(st) == DB_ROW ? webhook_row(st) : NULL;
  db_done(st);
  return o;
}
