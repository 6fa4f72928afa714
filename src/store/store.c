/*
 * store.h on SQLite (the default: a file, WAL mode, synchronous=NORMAL — a crash loses at
 * most the last transactions, never corrupts — and a busy timeout so the server's and the
 * API's connections wait for each other) or on PostgreSQL (`database =
 * postgresql://...`), through db.h: one set of queries for both. Schema changes are
 * numbered migrations recorded in `schema_version`, written in SQLite's dialect and
 * translated for PostgreSQL (pg_ddl).
 */
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/db.h"
#include "store/kek.h"
#include "store/store.h"
#include "store/store_int.h"
#include "util/json_text.h"
#include "util/util.h"


static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE gateways (gateway_eui TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '',"
    " latitude REAL, longitude REAL, altitude REAL, last_seen_ns INTEGER,"
    " rx_packets INTEGER NOT NULL DEFAULT 0, stat_latitude REAL, stat_longitude REAL,"
    " stat_altitude REAL);"
    "CREATE TABLE devices (dev_eui TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '',"
    " adr TEXT NOT NULL DEFAULT 'off', otaa INTEGER NOT NULL, join_eui TEXT, app_key TEXT,"
    " has_session INTEGER NOT NULL DEFAULT 0, dev_addr INTEGER, nwk_s_key TEXT, app_s_key TEXT,"
    " fcnt_up_next INTEGER NOT NULL DEFAULT 0, fcnt_down INTEGER NOT NULL DEFAULT 0,"
    " join_nonce INTEGER NOT NULL DEFAULT 0, fcnt_resets_allowed INTEGER NOT NULL DEFAULT 0,"
    " battery INTEGER, margin INTEGER, last_seen_ns INTEGER);"
    "CREATE INDEX devices_dev_addr ON devices(dev_addr);"
    "CREATE TABLE dev_nonces (dev_eui TEXT NOT NULL, dev_nonce INTEGER NOT NULL,"
    " PRIMARY KEY (dev_eui, dev_nonce));"
    "CREATE TABLE uplinks (id INTEGER PRIMARY KEY, dev_eui TEXT NOT NULL, dev_addr INTEGER,"
    " f_cnt INTEGER, f_port INTEGER, data BLOB, confirmed INTEGER, adr INTEGER, dr INTEGER,"
    " frequency INTEGER, phy BLOB NOT NULL, received_ns INTEGER NOT NULL);"
    "CREATE INDEX uplinks_dev ON uplinks(dev_eui, id);"
    "CREATE TABLE receptions (id INTEGER PRIMARY KEY, uplink_id INTEGER NOT NULL,"
    " gateway_eui TEXT NOT NULL, time_ns INTEGER, sigma_ns REAL, tmst INTEGER, tmms INTEGER,"
    " ftime INTEGER, rssi REAL, snr REAL, channel INTEGER, rf_chain INTEGER, antennas INTEGER,"
    " frequency INTEGER, latitude REAL, longitude REAL, altitude REAL,"
    " late INTEGER NOT NULL DEFAULT 0, received_ns INTEGER NOT NULL);"
    "CREATE INDEX receptions_uplink ON receptions(uplink_id);"
    "CREATE TABLE locations (id INTEGER PRIMARY KEY, uplink_id INTEGER, dev_eui TEXT NOT NULL,"
    " f_cnt INTEGER, latitude REAL, longitude REAL, altitude REAL, accuracy_m REAL, gdop REAL,"
    " method TEXT, gateways INTEGER, created_ns INTEGER);"
    "CREATE INDEX locations_dev ON locations(dev_eui, id);"
    "CREATE TABLE queue (id INTEGER PRIMARY KEY, dev_eui TEXT NOT NULL, f_port INTEGER NOT NULL,"
    " data BLOB, confirmed INTEGER NOT NULL, created_ns INTEGER);"
    "CREATE INDEX queue_dev ON queue(dev_eui, id);",
    /* 2: ADR — the device's power and NbTrans, a pending LinkADRReq, the decisions */
    "ALTER TABLE devices ADD COLUMN tx_power_index INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE devices ADD COLUMN nb_trans INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE devices ADD COLUMN adr_pending_dr INTEGER;"
    "ALTER TABLE devices ADD COLUMN adr_pending_txp INTEGER;"
    "ALTER TABLE devices ADD COLUMN adr_pending_nb INTEGER;"
    "ALTER TABLE uplinks ADD COLUMN tx_power_index INTEGER;"
    "CREATE TABLE adr_decisions (id INTEGER PRIMARY KEY, dev_eui TEXT NOT NULL, f_cnt INTEGER,"
    " algorithm TEXT NOT NULL, change INTEGER NOT NULL, dr_from INTEGER, dr_to INTEGER,"
    " tx_power_from INTEGER, tx_power_to INTEGER, nb_trans_from INTEGER, nb_trans_to INTEGER,"
    " snr_margin_db REAL, reason TEXT, state TEXT NOT NULL, created_ns INTEGER);"
    "CREATE INDEX adr_decisions_dev ON adr_decisions(dev_eui, id);",
    /* 3: downlinks sent, and whether a confirmed one was acknowledged */
    "CREATE TABLE downlinks (id INTEGER PRIMARY KEY, dev_eui TEXT NOT NULL, f_cnt INTEGER NOT NULL,"
    " f_port INTEGER, confirmed INTEGER NOT NULL, ack INTEGER NOT NULL, mac_bytes INTEGER NOT NULL,"
    " state TEXT NOT NULL, created_ns INTEGER, acked_ns INTEGER);"
    "CREATE INDEX downlinks_dev ON downlinks(dev_eui, id);",
    /* 4: every OTAA activation, kept (the device row holds only the current session) */
    "CREATE TABLE activations (id INTEGER PRIMARY KEY, dev_eui TEXT NOT NULL, dev_addr INTEGER NOT "
    "NULL,"
    " join_nonce INTEGER NOT NULL, dev_nonce INTEGER NOT NULL, created_ns INTEGER);"
    "CREATE INDEX activations_dev ON activations(dev_eui, id);",
    /* 5: each antenna's measure of a reception (rsig[]), raw */
    "CREATE TABLE reception_antennas (reception_id INTEGER NOT NULL, antenna INTEGER, channel "
    "INTEGER,"
    " rssi REAL, snr REAL, ftime INTEGER);"
    "CREATE INDEX reception_antennas_rx ON reception_antennas(reception_id);",
    /* 6: a gateway's fixed receive-time delay (cable, LNA, GPS antenna), set by operators */
    "ALTER TABLE gateways ADD COLUMN timing_offset_ns REAL NOT NULL DEFAULT 0;",
    /* 7: what happened to each device, in order (up, join, location, ack, adr, downlink) */
    "CREATE TABLE events (id INTEGER PRIMARY KEY, dev_eui TEXT NOT NULL, type TEXT NOT NULL,"
    " payload TEXT NOT NULL, created_ns INTEGER NOT NULL);"
    "CREATE INDEX events_dev ON events(dev_eui, id);",
    /* 8: reference devices (their payload carries their GPS position: the uplink's truth)
     * and each location's 95 % radius and the device's filtered track as of that fix */
    "ALTER TABLE devices ADD COLUMN reference INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE uplinks ADD COLUMN truth_latitude REAL;"
    "ALTER TABLE uplinks ADD COLUMN truth_longitude REAL;"
    "ALTER TABLE uplinks ADD COLUMN truth_altitude REAL;"
    "ALTER TABLE locations ADD COLUMN accuracy_95_m REAL;"
    "ALTER TABLE locations ADD COLUMN track_latitude REAL;"
    "ALTER TABLE locations ADD COLUMN track_longitude REAL;"
    "ALTER TABLE locations ADD COLUMN track_accuracy_m REAL;"
    "ALTER TABLE locations ADD COLUMN outlier INTEGER NOT NULL DEFAULT 0;",
    /* 9: settings of the database itself (the key-encryption key's check value) */
    "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);",
    /* 10: a gateway whose own GPS (stat) gives its position, over a surveyed one; each
     * reception whose timing disagreed with the frame's others (kept out of its fix) */
    "ALTER TABLE gateways ADD COLUMN position_from_gateway INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE receptions ADD COLUMN timing_outlier INTEGER NOT NULL DEFAULT 0;",
    /* 11: a Basics Station's token (its SHA-256, hex: the token itself is never kept) */
    "ALTER TABLE gateways ADD COLUMN station_token TEXT;",
    /* 12: Class C devices, multicast groups (keys stored as device keys are), their members
     * and their queue */
    "ALTER TABLE devices ADD COLUMN device_class TEXT NOT NULL DEFAULT 'A';"
    "ALTER TABLE devices ADD COLUMN s_nwk_s_int_key TEXT;"
    "ALTER TABLE devices ADD COLUMN nwk_s_enc_key TEXT;"
    "CREATE TABLE multicast_groups (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '',"
    " mc_addr INTEGER NOT NULL, mc_nwk_s_key TEXT NOT NULL, mc_app_s_key TEXT NOT NULL,"
    " f_cnt INTEGER NOT NULL DEFAULT 0, frequency INTEGER, dr INTEGER, created_ns INTEGER);"
    "CREATE TABLE multicast_members (group_id INTEGER NOT NULL, dev_eui TEXT NOT NULL,"
    " PRIMARY KEY (group_id, dev_eui));"
    "CREATE TABLE multicast_queue (id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL,"
    " f_port INTEGER NOT NULL, data BLOB, created_ns INTEGER);",
    /* 13: applications (every device in one; the default, id 1, holds the devices from
     * before), device profiles (a device's settings given by its profile: `inherit`),
     * scoped API keys (their SHA-256 only), and a confirmed downlink's uplinks without ACK */
    "CREATE TABLE applications (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " description TEXT NOT NULL DEFAULT '', created_ns INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO applications (name, description) VALUES ('default',"
    " 'devices provisioned without an application');"
    "CREATE TABLE device_profiles (id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " region TEXT NOT NULL, device_class TEXT NOT NULL DEFAULT 'A',"
    " mac_version TEXT NOT NULL DEFAULT '1.0.3', adr_algorithm TEXT NOT NULL DEFAULT 'standard',"
    " adr_margin_db REAL, uplink_interval_s INTEGER, payload_codec TEXT NOT NULL DEFAULT '',"
    " reference INTEGER NOT NULL DEFAULT 0, max_uplinks_per_day INTEGER,"
    " max_downlinks_per_day INTEGER, created_ns INTEGER NOT NULL DEFAULT 0,"
    " updated_ns INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE api_keys (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '',"
    " key_hash TEXT NOT NULL UNIQUE, application_id INTEGER, read_only INTEGER NOT NULL DEFAULT 0,"
    " created_ns INTEGER NOT NULL DEFAULT 0, revoked_ns INTEGER);"
    "ALTER TABLE devices ADD COLUMN application_id INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE devices ADD COLUMN profile_id INTEGER;"
    "ALTER TABLE devices ADD COLUMN inherit INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX devices_application ON devices(application_id, dev_eui);"
    "ALTER TABLE downlinks ADD COLUMN uplinks_since INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX downlinks_state ON downlinks(state, created_ns);",
    /* 14: an application's webhooks (its events POSTed to its own HTTP endpoints) */
    "CREATE TABLE webhooks (id INTEGER PRIMARY KEY, application_id INTEGER NOT NULL,"
    " url TEXT NOT NULL, headers TEXT NOT NULL DEFAULT '', events TEXT NOT NULL DEFAULT '',"
    " format TEXT NOT NULL DEFAULT 'lorageo', created_ns INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX webhooks_application ON webhooks(application_id, id);",
    /* 15: the fleet (issue 19) — a device's inventory (tags, hardware, firmware), its life
     * cycle with dates, alarms, the configuration shadow and its history, a profile's alarm
     * thresholds */
    "ALTER TABLE devices ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';"
    "ALTER TABLE devices ADD COLUMN hardware TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE devices ADD COLUMN firmware TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE devices ADD COLUMN lifecycle TEXT NOT NULL DEFAULT 'provisioned';"
    "ALTER TABLE devices ADD COLUMN provisioned_ns INTEGER;"
    "ALTER TABLE devices ADD COLUMN active_ns INTEGER;"
    "ALTER TABLE devices ADD COLUMN silent_ns INTEGER;"
    "ALTER TABLE devices ADD COLUMN retired_ns INTEGER;"
    "CREATE INDEX devices_lifecycle ON devices(lifecycle, dev_eui);"
    "CREATE TABLE device_tags (dev_eui TEXT NOT NULL, tag_key TEXT NOT NULL,"
    " tag_value TEXT NOT NULL, PRIMARY KEY (dev_eui, tag_key));"
    "CREATE INDEX device_tags_kv ON device_tags(tag_key, tag_value, dev_eui);"
    "ALTER TABLE device_profiles ADD COLUMN alarm_thresholds TEXT NOT NULL DEFAULT '{}';"
    "CREATE TABLE alarms (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, subject_type TEXT NOT NULL,"
    " subject TEXT NOT NULL, raised_ns INTEGER NOT NULL, cleared_ns INTEGER, value REAL,"
    " threshold REAL, detail TEXT NOT NULL DEFAULT '', clear_detail TEXT, raises INTEGER NOT NULL"
    " DEFAULT 1, acked_ns INTEGER, acked_by TEXT, ack_note TEXT);"
    "CREATE INDEX alarms_open ON alarms(cleared_ns, id);"
    "CREATE INDEX alarms_subject ON alarms(subject, kind, id);"
    "CREATE TABLE shadows (dev_eui TEXT PRIMARY KEY, desired TEXT NOT NULL DEFAULT '{}',"
    " reported TEXT NOT NULL DEFAULT '{}', pending_since_ns INTEGER, updated_ns INTEGER);"
    "CREATE TABLE shadow_history (id INTEGER PRIMARY KEY, dev_eui TEXT NOT NULL,"
    " field TEXT NOT NULL, value TEXT, action TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',"
    " created_ns INTEGER NOT NULL);"
    "CREATE INDEX shadow_history_dev ON shadow_history(dev_eui, id);",
    /* 16: a device's timeline reads its joins and resets newest first; partial, so the
     * two events of every uplink do not pay for it */
    "CREATE INDEX events_dev_lifeline ON events(dev_eui, created_ns, id)"
    " WHERE type IN ('join', 'reset');",
    /* 17: a profile's ADR delivery target (predictive; NULL: the server's) */
    "ALTER TABLE device_profiles ADD COLUMN adr_target REAL;",
};

/* A migration in PostgreSQL's types: 64-bit integers, doubles, bytea, identity keys. */
static char *pg_ddl(const char *sql) {
  static const char *const from[] = {"INTEGER PRIMARY KEY", "INTEGER", "REAL", "BLOB"};
  static const char *const to[] = {"BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "BIGINT",
                                   "DOUBLE PRECISION", "BYTEA"};
  size_t n = strlen(sql), cap = n * 4 + 1, o = 0;
  char *out = malloc(cap);
  if (out == NULL) return NULL;
  for (size_t i = 0; i < n;) {
    size_t k = 0;
    while (k < LG_ARRAY_LEN(from) && strncmp(sql + i, from[k], strlen(from[k])) != 0)
      k++;
    if (k < LG_ARRAY_LEN(from)) {
      size_t l = strlen(to[k]);
      memcpy(out + o, to[k], l);
      o += l, i += strlen(from[k]);
    } else {
      out[o++] = sql[i++];
    }
  }
  out[o] = 0;
  return out;
}

static int migrate(struct lg_store *s, char *why, size_t why_len) {
  struct db *db = s->db;
  if (db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"))
    goto fail;
  /* two instances starting together: one migrates, the other waits (PostgreSQL) */
  if (db_is_pg(db) && db_exec(db, "SELECT pg_advisory_lock(7411)")) goto fail;
  struct db_stmt *st = db_prep(db, "SELECT MAX(version) FROM schema_version");
  int version = 0;
  if (st == NULL) goto fail;
  if (db_step(st) == DB_ROW) version = db_col_int(st, 0);
  db_done(st);
  for (int v = version; v < (int)LG_ARRAY_LEN(migrations); v++) {
    char bump[64];
    snprintf(bump, sizeof(bump), "INSERT INTO schema_version VALUES (%d)", v + 1);
    char *ddl = db_is_pg(db) ? pg_ddl(migrations[v]) : NULL;
    int rc = db_exec(db, "BEGIN IMMEDIATE") || db_exec(db, ddl ? ddl : migrations[v]) ||
             db_exec(db, bump) || db_exec(db, "COMMIT");
    free(ddl);
    if (rc) {
      db_exec(db, "ROLLBACK");
      goto fail;
    }
  }
  if (db_is_pg(db)) db_exec(db, "SELECT pg_advisory_unlock(7411)");
  return 0;
fail:
  snprintf(why, why_len, "schema migration failed: %s", db_errmsg(db));
  if (db_is_pg(db)) db_exec(db, "SELECT pg_advisory_unlock(7411)");
  return LG_EIO;
}

int lg_store_open(struct lg_store **out, const char *path, char *why, size_t why_len) {
  struct lg_store *s = calloc(1, sizeof(*s));
  if (s == NULL) return LG_ENOMEM;
  int rc = db_open(&s->db, path, why, why_len);
  if (rc) {
    free(s);
    return rc;
  }
  if (!db_is_pg(s->db) &&
      (db_exec(s->db, "PRAGMA busy_timeout=5000") || db_exec(s->db, "PRAGMA journal_mode=WAL") ||
       db_exec(s->db, "PRAGMA synchronous=NORMAL") || db_exec(s->db, "PRAGMA foreign_keys=ON") ||
       /* a key overwritten by its wrapped form leaves no copy in a freed page */
       db_exec(s->db, "PRAGMA secure_delete=ON"))) {
    snprintf(why, why_len, "database %s: %s", path, db_errmsg(s->db));
    lg_store_close(s);
    return LG_EIO;
  }
  rc = migrate(s, why, why_len);
  if (rc) {
    lg_store_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

void lg_store_close(struct lg_store *s) {
  if (s == NULL) return;
  db_close(s->db);
  free(s);
}

/* ---- helpers -------------------------------------------------------------------- */

/* Process-wide: the API's connection writes devices and queues, the packet path caches
 * them (lg_store_devices_generation, lg_store_queue_generation). */
static atomic_uint devices_gen, queue_gen;

void lgs_devices_touch(void) {
  atomic_fetch_add(&devices_gen, 1);
}

unsigned lg_store_devices_generation(void) {
  return atomic_load(&devices_gen);
}

unsigned lg_store_queue_generation(void) {
  return atomic_load(&queue_gen);
}

void lgs_eui_hex(uint64_t v, char out[17]) {
  snprintf(out, 17, "%016llx", (unsigned long long)v);
}

void lgs_after_hex(const uint64_t *after, char out[17]) {
  if (after)
    lgs_eui_hex(*after, out);
  else
    out[0] = '\0';
}

uint64_t lgs_eui_from(struct db_stmt *st, int col) {
  const char *t = db_col_text(st, col);
  return t ? strtoull(t, NULL, 16) : 0;
}

/* A device key as stored: wrapped with the KEK when the store has one (kek.c), else hex. */
static int key_text(const struct lg_store *s, const uint8_t k[16], char out[LG_KEK_WRAPPED_LEN]) {
  if (s->kek.len) return lg_kek_wrap(&s->kek, k, out);
  lg_hex_encode(k, 16, out, LG_KEK_WRAPPED_LEN);
  return 0;
}

/* A stored key back: unwrapped, or hex as stored before keys were wrapped. */
static int key_from(struct lg_store *s, struct db_stmt *st, int col, uint8_t k[16]) {
  const char *t = db_col_text(st, col);
  size_t n = 0;
  memset(k, 0, 16);
  if (t == NULL) return 0;
  if (!lg_kek_is_wrapped(t)) return lg_hex_decode(t, strlen(t), k, 16, &n) == 0 ? 0 : LG_EINVAL;
  int rc = lg_kek_unwrap(&s->kek, t, k);
  if (rc)
    snprintf(s->key_error, sizeof(s->key_error), "%s",
             rc == LG_ENOTFOUND ? "device keys are wrapped and no key-encryption key was given"
                                : "a device key does not unwrap with this key-encryption key");
  return rc;
}

int lgs_step_done(struct db_stmt *st) {
  int rc = db_step(st);
  db_done(st);
  return rc == DB_DONE ? 0 : LG_EIO;
}

/* Runs an INSERT ... RETURNING id: the new row's id in *id. */
int lgs_step_id(struct db_stmt *st, int64_t *id) {
  int rc = db_step(st);
  if (rc == DB_ROW) *id = db_col_int64(st, 0);
  db_done(st);
  return rc == DB_ROW ? 0 : LG_EIO;
}

int lgs_step_insert(struct db_stmt *st, int64_t *id) {
  int rc = db_step(st);
  if (rc == DB_ROW) *id = db_col_int64(st, 0);
  bool inserted = rc == DB_DONE && db_changes(st) == 1; /* not an INSERT that took no row */
  if (inserted) *id = db_last_insert_id(st);
  db_done(st);
  return rc == DB_ROW || (inserted && *id > 0) ? 0 : LG_EIO;
}

void lgs_bind_eui(struct db_stmt *st, int i, uint64_t eui) {
  char h[17];
  lgs_eui_hex(eui, h);
  db_bind_text(st, i, h);
}

void lgs_bind_opt_real(struct db_stmt *st, int i, bool has, double v) {
  if (has)
    db_bind_double(st, i, v);
  else
    db_bind_null(st, i);
}

void lgs_bind_uplink(struct db_stmt *st, const struct lg_uplink_rec *u) {
  lgs_bind_eui(st, 1, u->dev_eui);
  db_bind_int64(st, 2, u->dev_addr);
  db_bind_int64(st, 3, u->f_cnt);
  if (u->f_port >= 0) db_bind_int64(st, 4, u->f_port);
  db_bind_blob(st, 5, u->data, u->data_len);
  db_bind_int64(st, 6, u->confirmed);
  db_bind_int64(st, 7, u->adr);
  db_bind_int64(st, 8, u->dr);
  db_bind_int64(st, 9, u->freq_hz);
  db_bind_blob(st, 10, u->phy, u->phy_len);
  db_bind_int64(st, 11, u->received_ns);
  db_bind_int64(st, 12, u->tx_power_index);
  lgs_bind_opt_real(st, 13, u->has_truth, u->truth_lat_deg);
  lgs_bind_opt_real(st, 14, u->has_truth, u->truth_lon_deg);
  lgs_bind_opt_real(st, 15, u->has_truth, u->truth_alt_m);
}

int lg_store_begin(struct lg_store *s) {
  if (s->in_tx) return 0;
  s->commit_error[0] = '\0';
  if (db_exec(s->db, "BEGIN IMMEDIATE")) return LG_EIO;
  s->in_tx = true;
  return 0;
}

int lg_store_commit(struct lg_store *s) {
  if (!s->in_tx) return 0;
  s->in_tx = false;
  if (db_exec(s->db, "COMMIT") == 0) return 0;
  snprintf(s->commit_error, sizeof(s->commit_error), "%s", db_errmsg(s->db));
  db_exec(s->db, "ROLLBACK");
  return LG_EIO;
}

const char *lg_store_errmsg(struct lg_store *s) {
  if (s->commit_error[0]) return s->commit_error;
  if (s->key_error[0]) return s->key_error;
  const char *m = db_errmsg(s->db);
  return m && *m ? m : "unknown error";
}

int lg_store_rollback(struct lg_store *s) {
  if (!s->in_tx) return 0;
  s->in_tx = false;
  return db_exec(s->db, "ROLLBACK") ? LG_EIO : 0;
}

int lg_store_probe_write(struct lg_store *s, int64_t now_ns) {
  struct db_stmt *st = db_prep(s->db, "INSERT INTO meta (name, value) VALUES ('store_probe', ?1)"
                                      " ON CONFLICT (name) DO UPDATE SET value = excluded.value");
  if (st == NULL) return LG_EIO;
  char v[24];
  snprintf(v, sizeof(v), "%lld", (long long)now_ns);
  db_bind_text(st, 1, v);
  return lgs_step_done(st);
}

/* ---- gateways ------------------------------------------------------------------- */

int lg_store_gateway_put(struct lg_store *s, const struct lg_gateway_rec *g) {
  struct db_stmt *st = db_prep(
      s->db, "INSERT INTO gateways (gateway_eui, name, latitude, longitude, altitude,"
             " timing_offset_ns, position_from_gateway, station_token) VALUES (?1, ?2, ?3, ?4, ?5,"
             " ?6, ?7, ?8) ON CONFLICT(gateway_eui) DO UPDATE SET name = ?2, latitude = ?3,"
             " longitude = ?4, altitude = ?5, timing_offset_ns = ?6, position_from_gateway = ?7,"
             " station_token = CASE WHEN ?9 = 1 THEN ?8 ELSE gateways.station_token END");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, g->eui);
  db_bind_text(st, 2, g->name);
  lgs_bind_opt_real(st, 3, g->has_position, g->lat_deg);
  lgs_bind_opt_real(st, 4, g->has_position, g->lon_deg);
  lgs_bind_opt_real(st, 5, g->has_position, g->alt_m);
  db_bind_double(st, 6, g->timing_offset_ns);
  db_bind_int64(st, 7, g->position_from_gateway);
  if (g->set_station_token && g->station_token_hash[0])
    db_bind_text(st, 8, g->station_token_hash);
  else
    db_bind_null(st, 8);
  db_bind_int64(st, 9, g->set_station_token ? 1 : 0);
  return lgs_step_done(st);
}

int lg_store_gateway_get(struct lg_store *s, uint64_t eui, struct lg_gateway_rec *g) {
  struct db_stmt *st =
      db_prep(s->db, "SELECT name, latitude, longitude, altitude, stat_latitude,"
                     " stat_longitude, stat_altitude, timing_offset_ns, position_from_gateway,"
                     " station_token FROM gateways WHERE gateway_eui = ?1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, eui);
  int rc = db_step(st);
  if (rc != DB_ROW) {
    db_done(st);
    return rc == DB_DONE ? LG_ENOTFOUND : LG_EIO;
  }
  memset(g, 0, sizeof(*g));
  g->eui = eui;
  snprintf(g->name, sizeof(g->name), "%s", db_col_text(st, 0));
  /* The provisioned (surveyed) position wins, unless the gateway is marked
   * position_from_gateway; the one from the gateway's GPS (stat) fills in. */
  g->position_from_gateway = db_col_int64(st, 8) != 0;
  int col = g->position_from_gateway && !db_col_null(st, 4) ? 4
            : !db_col_null(st, 1)                           ? 1
            : !db_col_null(st, 4)                           ? 4
                                                            : -1;
  if (col > 0) {
    g->has_position = true;
    g->lat_deg = db_col_double(st, col);
    g->lon_deg = db_col_double(st, col + 1);
    g->alt_m = db_col_double(st, col + 2);
  }
  g->timing_offset_ns = db_col_double(st, 7);
  const char *tok = db_col_text(st, 9);
  snprintf(g->station_token_hash, sizeof(g->station_token_hash), "%s", tok ? tok : "");
  db_done(st);
  return 0;
}

int lg_store_gateway_delete(struct lg_store *s, uint64_t eui) {
  struct db_stmt *st = db_prep(s->db, "DELETE FROM gateways WHERE gateway_eui = ?1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, eui);
  int rc = lgs_step_done(st);
  return rc ? rc : db_changes(st) ? 0 : LG_ENOTFOUND;
}

int lg_store_gateway_seen(struct lg_store *s, uint64_t eui, int64_t now_ns, int rx_packets,
                          bool has_stat_pos, double lat, double lon, double alt) {
  struct db_stmt *st =
      db_prep(s->db, "UPDATE gateways SET last_seen_ns = ?2, rx_packets = rx_packets + ?3,"
                     " stat_latitude = COALESCE(?4, stat_latitude),"
                     " stat_longitude = COALESCE(?5, stat_longitude),"
                     " stat_altitude = COALESCE(?6, stat_altitude) WHERE gateway_eui = ?1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, eui);
  db_bind_int64(st, 2, now_ns);
  db_bind_int64(st, 3, rx_packets);
  lgs_bind_opt_real(st, 4, has_stat_pos, lat);
  lgs_bind_opt_real(st, 5, has_stat_pos, lon);
  lgs_bind_opt_real(st, 6, has_stat_pos, alt);
  return lgs_step_done(st);
}

json_t *lgs_real_or_null(struct db_stmt *st, int col) {
  return db_col_null(st, col) ? json_null() : json_real(db_col_double(st, col));
}

json_t *lgs_int_or_null(struct db_stmt *st, int col) {
  return db_col_null(st, col) ? json_null() : json_integer(db_col_int64(st, col));
}

json_t *lgs_gateway_row(struct db_stmt *st) {
  json_t *o = json_object();
  json_object_set_new(o, "gateway_eui", json_string(db_col_text(st, 0)));
  json_object_set_new(o, "name", json_string(db_col_text(st, 1)));
  json_object_set_new(o, "latitude", lgs_real_or_null(st, 2));
  json_object_set_new(o, "longitude", lgs_real_or_null(st, 3));
  json_object_set_new(o, "altitude", lgs_real_or_null(st, 4));
  json_object_set_new(o, "last_seen_ns", lgs_int_or_null(st, 5));
  json_object_set_new(o, "rx_packets", json_integer(db_col_int64(st, 6)));
  json_object_set_new(o, "timing_offset_ns", json_real(db_col_double(st, 7)));
  json_object_set_new(o, "position_from_gateway", json_boolean(db_col_int64(st, 8) != 0));
  json_object_set_new(o, "has_station_token", json_boolean(db_col_int(st, 9) != 0));
  return o;
}

/* {"items": [row...]} of every row of a prepared statement, or one row (NULL when none),
 * each built by `row`. */
json_t *lgs_rows_json(struct db_stmt *st, json_t *(*row)(struct db_stmt *)) {
  json_t *items = json_array();
  while (st && db_step(st) == DB_ROW)
    json_array_append_new(items, row(st));
  db_done(st);
  json_t *o = json_object();
  json_object_set_new(o, "items", items);
  return o;
}

json_t *lgs_page_json(struct db_stmt *st, int limit, int cursor_col,
                      json_t *(*row)(struct db_stmt *)) {
  json_t *items = json_array(), *next = NULL;
  char last[64] = ""; /* the cursor of the last item given */
  int n = 0;
  while (st && db_step(st) == DB_ROW) {
    if (n++ == limit) { /* one more row than asked for: there is a next page */
      next = json_string(last);
      break;
    }
    json_array_append_new(items, row(st));
    const char *c = db_col_text(st, cursor_col);
    snprintf(last, sizeof(last), "%s", c ? c : "");
  }
  db_done(st);
  return json_pack("{s:o, s:o}", "items", items, "next", next ? next : json_null());
}

static json_t *lgs_one_row_json(struct db_stmt *st, uint64_t eui, json_t *(*row)(struct db_stmt *)) {
  if (st == NULL) return NULL;
  lgs_bind_eui(st, 1, eui);
  json_t *o = db_step(st) == DB_ROW ? row(st) : NULL;
  db_done(st);
  return o;
}

/* One page of a device's rows, newest first: the statement takes the DevEUI as ?1, the
 * limit as ?2 and the id to start below as ?3, and gives the row's id in column id_col;
 * `row` builds each item. */
static json_t *device_rows_json(struct db_stmt *st, uint64_t dev_eui, int64_t before_id, int limit,
                                int id_col, json_t *(*row)(struct db_stmt *)) {
  if (st) {
    lgs_bind_eui(st, 1, dev_eui);
    db_bind_int64(st, 2, (int64_t)limit + 1);
    db_bind_int64(st, 3, before_id > 0 ? before_id : INT64_MAX);
  }
  return lgs_page_json(st, limit, id_col, row);
}

json_t *lg_store_gateways_json(struct lg_store *s) {
  return lgs_rows_json(db_prep(s->db, "SELECT " GATEWAY_COLS " FROM gateways ORDER BY gateway_eui"),
                   lgs_gateway_row);
}

json_t *lg_store_gateway_json(struct lg_store *s, uint64_t eui) {
  return lgs_one_row_json(
      db_prep(s->db, "SELECT " GATEWAY_COLS " FROM gateways WHERE gateway_eui = ?1"), eui,
      lgs_gateway_row);
}

/* ---- devices -------------------------------------------------------------------- */

static int device_from(struct lg_store *s, struct db_stmt *st, struct lg_device_rec *d) {
  memset(d, 0, sizeof(*d));
  d->dev_eui = lgs_eui_from(st, 0);
  snprintf(d->name, sizeof(d->name), "%s", db_col_text(st, 1));
  snprintf(d->adr, sizeof(d->adr), "%s", db_col_text(st, 2));
  d->otaa = db_col_int(st, 3);
  d->join_eui = lgs_eui_from(st, 4);
  int rc = key_from(s, st, 5, d->app_key);
  d->has_session = db_col_int(st, 6);
  d->dev_addr = (uint32_t)db_col_int64(st, 7);
  if (rc == 0) rc = key_from(s, st, 8, d->nwk_s_key);
  if (rc == 0) rc = key_from(s, st, 9, d->app_s_key);
  d->fcnt_up_next = (uint32_t)db_col_int64(st, 10);
  d->fcnt_down = (uint32_t)db_col_int64(st, 11);
  d->join_nonce = (uint32_t)db_col_int64(st, 12);
  d->fcnt_resets_allowed = db_col_int(st, 13);
  d->tx_power_index = db_col_int(st, 17);
  d->nb_trans = db_col_int(st, 18);
  d->has_adr_pending = !db_col_null(st, 19);
  d->adr_pending_dr = db_col_int(st, 19);
  d->adr_pending_tx_power_index = db_col_int(st, 20);
  d->adr_pending_nb_trans = db_col_int(st, 21);
  d->reference = db_col_int(st, 22);
  const char *cls = db_col_text(st, 23);
  d->class_c = cls && cls[0] == 'C';
  d->has_11_keys = !db_col_null(st, 24);
  if (rc == 0 && d->has_11_keys) rc = key_from(s, st, 24, d->s_nwk_s_int_key);
  if (rc == 0 && d->has_11_keys) rc = key_from(s, st, 25, d->nwk_s_enc_key);
  d->application_id = db_col_int64(st, 26);
  d->profile_id = db_col_null(st, 27) ? 0 : db_col_int64(st, 27);
  d->inherit = (unsigned)db_col_int(st, 28);
  d->has_adr_margin = !db_col_null(st, 29);
  d->adr_margin_db = d->has_adr_margin ? db_col_double(st, 29) : 0;
  d->has_adr_target = !db_col_null(st, 38);
  d->adr_target = d->has_adr_target ? db_col_double(st, 38) : 0;
  return rc;
}

int lg_store_device_put(struct lg_store *s, const struct lg_device_rec *d) {
  atomic_fetch_add(&devices_gen, 1);
  struct db_stmt *st =
      db_prep(s->db,
              /* the whole row replaced, as a new device: what the old one had learnt (power,
               * pending ADR, status) goes back to the defaults */
              "INSERT INTO devices (dev_eui, name, adr, otaa, join_eui, app_key, has_session,"
              " dev_addr, nwk_s_key, app_s_key, fcnt_up_next, fcnt_down, join_nonce,"
              " fcnt_resets_allowed, reference, device_class, s_nwk_s_int_key, nwk_s_enc_key,"
              " application_id, profile_id, inherit) VALUES"
              " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
              " ?19, ?20, ?21)"
              " ON CONFLICT(dev_eui) DO UPDATE SET name = ?2, adr = ?3,"
              " otaa = ?4, join_eui = ?5, app_key = ?6, has_session = ?7, dev_addr = ?8,"
              " nwk_s_key = ?9, app_s_key = ?10, fcnt_up_next = ?11, fcnt_down = ?12,"
              " join_nonce = ?13, fcnt_resets_allowed = ?14, reference = ?15, device_class = ?16, s_nwk_s_int_key = ?17, nwk_s_enc_key = ?18,"
              " application_id = ?19, profile_id = ?20, inherit = ?21,"
              " battery = NULL, margin = NULL, last_seen_ns = NULL,"
              " tx_power_index = 0, nb_trans = 1, adr_pending_dr = NULL, adr_pending_txp = NULL,"
              " adr_pending_nb = NULL");
  if (st == NULL) return LG_EIO;
  char k1[LG_KEK_WRAPPED_LEN], k2[LG_KEK_WRAPPED_LEN], k3[LG_KEK_WRAPPED_LEN];
  lgs_bind_eui(st, 1, d->dev_eui);
  db_bind_text(st, 2, d->name);
  db_bind_text(st, 3, d->adr[0] ? d->adr : "off");
  db_bind_int64(st, 4, d->otaa);
  if (d->otaa) {
    lgs_bind_eui(st, 5, d->join_eui);
    if (key_text(s, d->app_key, k1)) return db_done(st), LG_ECRYPTO;
    db_bind_text(st, 6, k1);
  }
  db_bind_int64(st, 7, d->has_session);
  if (d->has_session) {
    db_bind_int64(st, 8, d->dev_addr);
    if (key_text(s, d->nwk_s_key, k2) || key_text(s, d->app_s_key, k3))
      return db_done(st), LG_ECRYPTO;
    db_bind_text(st, 9, k2);
    db_bind_text(st, 10, k3);
  }
  db_bind_int64(st, 11, d->fcnt_up_next);
  db_bind_int64(st, 12, d->fcnt_down);
  db_bind_int64(st, 13, d->join_nonce);
  db_bind_int64(st, 14, d->fcnt_resets_allowed);
  db_bind_int64(st, 15, d->reference);
  db_bind_text(st, 16, d->class_c ? "C" : "A");
  char k4[LG_KEK_WRAPPED_LEN], k5[LG_KEK_WRAPPED_LEN];
  if (d->has_session && d->has_11_keys) {
    if (key_text(s, d->s_nwk_s_int_key, k4) || key_text(s, d->nwk_s_enc_key, k5))
      return db_done(st), LG_ECRYPTO;
    db_bind_text(st, 17, k4);
    db_bind_text(st, 18, k5);
  } else {
    db_bind_null(st, 17);
    db_bind_null(st, 18);
  }
  db_bind_int64(st, 19, d->application_id > 0 ? d->application_id : 1);
  if (d->profile_id > 0)
    db_bind_int64(st, 20, d->profile_id);
  else
    db_bind_null(st, 20);
  db_bind_int64(st, 21, d->inherit); /* what it takes from a profile, now or later */
  return lgs_step_done(st);
}

int lg_store_device_get(struct lg_store *s, uint64_t dev_eui, struct lg_device_rec *d) {
  struct db_stmt *st = db_prep(s->db, "SELECT " DEVICE_COLS DEVICE_FROM " WHERE d.dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  int rc = db_step(st), keys = 0;
  if (rc == DB_ROW) keys = device_from(s, st, d);
  db_done(st);
  return rc == DB_ROW ? (keys ? LG_ECRYPTO : 0) : rc == DB_DONE ? LG_ENOTFOUND : LG_EIO;
}

int lg_store_device_delete(struct lg_store *s, uint64_t dev_eui) {
  atomic_fetch_add(&devices_gen, 1);
  struct db_stmt *st = db_prep(s->db, "DELETE FROM devices WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  int rc = lgs_step_done(st);
  return rc ? rc : db_changes(st) ? 0 : LG_ENOTFOUND;
}

int lg_store_devices_by_addr(struct lg_store *s, uint32_t dev_addr, struct lg_device_rec *out,
                             size_t cap, size_t *n) {
  struct db_stmt *st =
      db_prep(s->db, "SELECT " DEVICE_COLS DEVICE_FROM
                     " WHERE d.dev_addr = ?1 AND d.has_session = 1");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, dev_addr);
  *n = 0;
  int rc = 0;
  while (*n < cap && db_step(st) == DB_ROW)
    if (device_from(s, st, &out[*n]) == 0)
      (*n)++;
    else
      rc = LG_ECRYPTO; /* a device whose keys cannot be read is no candidate */
  db_done(st);
  return rc && *n == 0 ? rc : 0;
}

/* A device's inventory and life cycle, read with INVENTORY_COLS (the fleet's side of the
 * store, store_fleet.c, writes them). */
void lgs_inventory_json(struct db_stmt *st, int col, json_t *o) {
  const char *tags = db_col_text(st, col);
  json_t *t = tags ? json_loads(tags, 0, NULL) : NULL;
  json_object_set_new(o, "tags", json_is_object(t) ? t : (json_decref(t), json_object()));
  json_object_set_new(o, "hardware",
                      json_string(db_col_text(st, col + 1) ? db_col_text(st, col + 1) : ""));
  json_object_set_new(o, "firmware",
                      json_string(db_col_text(st, col + 2) ? db_col_text(st, col + 2) : ""));
  json_object_set_new(
      o, "lifecycle",
      json_string(db_col_text(st, col + 3) ? db_col_text(st, col + 3) : "provisioned"));
  json_object_set_new(
      o, "lifecycle_dates",
      json_pack("{s:o, s:o, s:o, s:o}", "provisioned_ns", lgs_int_or_null(st, col + 4), "active_ns",
                lgs_int_or_null(st, col + 5), "silent_ns", lgs_int_or_null(st, col + 6),
                "retired_ns", lgs_int_or_null(st, col + 7)));
}

json_t *lgs_device_row(struct db_stmt *st) {
  json_t *o = json_object();
  json_object_set_new(o, "dev_eui", json_string(db_col_text(st, 0)));
  json_object_set_new(o, "name", json_string(db_col_text(st, 1)));
  json_object_set_new(o, "adr", json_string(db_col_text(st, 2)));
  json_object_set_new(o, "activation", json_string(db_col_int(st, 3) ? "otaa" : "abp"));
  if (!db_col_null(st, 4)) json_object_set_new(o, "join_eui", json_string(db_col_text(st, 4)));
  if (db_col_int(st, 6)) {
    char addr[9];
    snprintf(addr, sizeof(addr), "%08llx", (unsigned long long)db_col_int64(st, 7));
    json_object_set_new(o, "dev_addr", json_string(addr));
    json_object_set_new(o, "f_cnt_up_next", json_integer(db_col_int64(st, 10)));
    json_object_set_new(o, "f_cnt_down_next", json_integer(db_col_int64(st, 11)));
  } else {
    json_object_set_new(o, "dev_addr", json_null());
  }
  json_object_set_new(o, "fcnt_resets_allowed", json_boolean(db_col_int(st, 13)));
  json_object_set_new(o, "reference", json_boolean(db_col_int(st, 22)));
  json_object_set_new(o, "class", json_string(db_col_text(st, 23) ? db_col_text(st, 23) : "A"));
  json_object_set_new(o, "application_id", json_integer(db_col_int64(st, 26)));
  json_object_set_new(o, "profile_id", lgs_int_or_null(st, 27));
  json_t *inh = json_array(); /* the settings its profile gives it */
  int bits = db_col_null(st, 27) ? 0 : db_col_int(st, 28);
  if (bits & LG_INHERIT_ADR) json_array_append_new(inh, json_string("adr"));
  if (bits & LG_INHERIT_CLASS) json_array_append_new(inh, json_string("class"));
  if (bits & LG_INHERIT_REFERENCE) json_array_append_new(inh, json_string("reference"));
  json_object_set_new(o, "inherited", inh);
  json_object_set_new(o, "battery", lgs_int_or_null(st, 14));
  json_object_set_new(o, "margin_db", lgs_int_or_null(st, 15));
  json_object_set_new(o, "last_seen_ns", lgs_int_or_null(st, 16));
  json_object_set_new(o, "tx_power_index", json_integer(db_col_int(st, 17)));
  json_object_set_new(o, "nb_trans", json_integer(db_col_int(st, 18)));
  if (!db_col_null(st, 19)) {
    json_t *p = json_object();
    json_object_set_new(p, "dr", json_integer(db_col_int(st, 19)));
    json_object_set_new(p, "tx_power_index", json_integer(db_col_int(st, 20)));
    json_object_set_new(p, "nb_trans", json_integer(db_col_int(st, 21)));
    json_object_set_new(o, "adr_pending", p);
  } else {
    json_object_set_new(o, "adr_pending", json_null());
  }
  lgs_inventory_json(st, 30, o);
  return o; /* keys never leave the server through the API */
}

json_t *lg_store_devices_json(struct lg_store *s) {
  return lgs_rows_json(db_prep(s->db, "SELECT " DEVICE_COLS DEVICE_FROM " ORDER BY d.dev_eui"),
                       lgs_device_row);
}

json_t *lg_store_device_json(struct lg_store *s, uint64_t dev_eui) {
  return lgs_one_row_json(db_prep(s->db, "SELECT " DEVICE_COLS DEVICE_FROM " WHERE d.dev_eui = ?1"),
                      dev_eui, lgs_device_row);
}

int lg_store_fcnt_up_cas(struct lg_store *s, uint64_t dev_eui, uint32_t expected, uint32_t fcnt,
                         int64_t seen_ns) {
  struct db_stmt *st = db_prep(
      s->db, "UPDATE devices SET fcnt_up_next = ?3, last_seen_ns = COALESCE(?4, last_seen_ns)"
             " WHERE dev_eui = ?1 AND fcnt_up_next = ?2");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_int64(st, 2, expected);
  db_bind_int64(st, 3, (uint32_t)(fcnt + 1));
  if (seen_ns >= 0) db_bind_int64(st, 4, seen_ns);
  int rc = lgs_step_done(st);
  return rc ? rc : db_changes(st) == 1 ? 0 : LG_EBUSY;
}

int lg_store_fcnt_up_advance(struct lg_store *s, uint64_t dev_eui, uint32_t fcnt,
                             int64_t seen_ns) {
  struct db_stmt *st = db_prep(s->db, "UPDATE devices SET fcnt_up_next = ?2, last_seen_ns = ?3"
                                      " WHERE dev_eui = ?1 AND fcnt_up_next <= ?4");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_int64(st, 2, (int64_t)fcnt + 1);
  db_bind_int64(st, 3, seen_ns);
  db_bind_int64(st, 4, fcnt);
  int rc = lgs_step_done(st);
  return rc ? rc : db_changes(st) == 1 ? 0 : LG_EBUSY;
}

int lg_store_fcnt_down_take(struct lg_store *s, uint64_t dev_eui, uint32_t *fcnt) {
  struct db_stmt *st =
      db_prep(s->db, "UPDATE devices SET fcnt_down = fcnt_down + 1 WHERE dev_eui = ?1"
                     " RETURNING fcnt_down - 1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  int rc = db_step(st);
  if (rc == DB_ROW) *fcnt = (uint32_t)db_col_int64(st, 0);
  db_done(st);
  return rc == DB_ROW ? 0 : LG_ENOTFOUND;
}

int lg_store_devnonce_use(struct lg_store *s, uint64_t dev_eui, uint16_t dev_nonce) {
  /* DO NOTHING rather than a constraint error: in PostgreSQL an error would abort the
   * batch's transaction */
  struct db_stmt *st = db_prep(s->db, "INSERT INTO dev_nonces (dev_eui, dev_nonce) VALUES (?1, ?2)"
                                      " ON CONFLICT DO NOTHING");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_int64(st, 2, dev_nonce);
  int rc = lgs_step_done(st);
  return rc ? rc : db_changes(st) == 1 ? 0 : LG_EEXIST;
}

int lg_store_activation_add(struct lg_store *s, uint64_t dev_eui, uint32_t dev_addr,
                            uint32_t join_nonce, uint16_t dev_nonce, int64_t now_ns) {
  struct db_stmt *st = db_prep(
      s->db, "INSERT INTO activations (dev_eui, dev_addr, join_nonce, dev_nonce, created_ns)"
             " VALUES (?1, ?2, ?3, ?4, ?5)");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_int64(st, 2, dev_addr);
  db_bind_int64(st, 3, join_nonce);
  db_bind_int64(st, 4, dev_nonce);
  db_bind_int64(st, 5, now_ns);
  return lgs_step_done(st);
}

int lg_store_activate(struct lg_store *s, uint64_t dev_eui, uint32_t dev_addr, uint32_t join_nonce,
                      const uint8_t nwk_s_key[16], const uint8_t app_s_key[16]) {
  atomic_fetch_add(&devices_gen, 1);
  struct db_stmt *st =
      db_prep(s->db, "UPDATE devices SET has_session = 1, dev_addr = ?2, join_nonce = ?3,"
                     " nwk_s_key = ?4, app_s_key = ?5, fcnt_up_next = 0, fcnt_down = 0"
                     " WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  char k1[LG_KEK_WRAPPED_LEN], k2[LG_KEK_WRAPPED_LEN];
  if (key_text(s, nwk_s_key, k1) || key_text(s, app_s_key, k2)) return db_done(st), LG_ECRYPTO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_int64(st, 2, dev_addr);
  db_bind_int64(st, 3, join_nonce);
  db_bind_text(st, 4, k1);
  db_bind_text(st, 5, k2);
  return lgs_step_done(st);
}

int lg_store_dev_addr_used(struct lg_store *s, uint32_t dev_addr, bool *used) {
  struct db_stmt *st =
      db_prep(s->db, "SELECT 1 FROM devices WHERE dev_addr = ?1 AND has_session = 1 LIMIT 1");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, dev_addr);
  *used = db_step(st) == DB_ROW;
  db_done(st);
  return 0;
}

int lg_store_device_status(struct lg_store *s, uint64_t dev_eui, int battery, int margin_db) {
  struct db_stmt *st =
      db_prep(s->db, "UPDATE devices SET battery = ?2, margin = ?3 WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_int64(st, 2, battery);
  db_bind_int64(st, 3, margin_db);
  return lgs_step_done(st);
}

/* ---- uplinks -------------------------------------------------------------------- */

#define RX_COLS RX_INSERT " VALUES "

/* One reception's 18 values from parameter b + 1 on. */
void lgs_bind_reception(struct db_stmt *st, int b, int64_t uplink_id,
                        const struct lg_reception_rec *r, bool late) {
  db_bind_int64(st, b + 1, uplink_id);
  lgs_bind_eui(st, b + 2, r->gateway_eui);
  if (r->has_time) {
    db_bind_int64(st, b + 3, r->time_ns);
    db_bind_double(st, b + 4, r->sigma_ns);
  }
  if (r->has_tmst) db_bind_int64(st, b + 5, r->tmst);
  if (r->has_tmms) db_bind_int64(st, b + 6, r->tmms_ms);
  if (r->has_ftime) db_bind_int64(st, b + 7, r->ftime_ns);
  db_bind_double(st, b + 8, r->rssi_dbm);
  db_bind_double(st, b + 9, r->snr_db);
  db_bind_int64(st, b + 10, r->channel);
  db_bind_int64(st, b + 11, r->rf_chain);
  db_bind_int64(st, b + 12, r->antennas);
  db_bind_int64(st, b + 13, r->freq_hz);
  lgs_bind_opt_real(st, b + 14, r->has_position, r->lat_deg);
  lgs_bind_opt_real(st, b + 15, r->has_position, r->lon_deg);
  lgs_bind_opt_real(st, b + 16, r->has_position, r->alt_m);
  db_bind_int64(st, b + 17, late);
  db_bind_int64(st, b + 18, r->received_ns);
}

/* "INSERT ... VALUES (?1..?18), (?19..?36), ..." for k rows (statements are cached by the
 * text's address: one static text per k, made once). */
static char rx_rows_sql[RX_ROWS + 1][RX_ROWS * RX_PARAMS * 5 + 512];
static pthread_once_t rx_rows_once = PTHREAD_ONCE_INIT;
static void rx_rows_make(void) {
  for (int k = 2; k <= RX_ROWS; k++) {
    char *p = rx_rows_sql[k];
    size_t cap = sizeof(rx_rows_sql[k]);
    size_t n = (size_t)snprintf(p, cap, "%s", RX_COLS);
    for (int row = 0; row < k; row++)
      for (int c = 1; c <= RX_PARAMS; c++)
        n += (size_t)snprintf(p + n, cap - n, "%s?%d%s", c == 1 ? (row ? ", (" : "(") : ", ",
                              row * RX_PARAMS + c, c == RX_PARAMS ? ")" : "");
  }
}

static int insert_reception(struct lg_store *s, int64_t uplink_id, const struct lg_reception_rec *r,
                            bool late);

/* Receptions without per-antenna rows (whose ids nothing needs) in one multi-row INSERT
 * of up to RX_ROWS: one statement (on PostgreSQL one round trip) instead of one each. The
 * rows get their ids in the VALUES order, the order the API lists them in. */
static int insert_receptions_plain(struct lg_store *s, int64_t uplink_id,
                                   const struct lg_reception_rec *rx, size_t n) {
  pthread_once(&rx_rows_once, rx_rows_make);
  for (size_t i = 0; i < n;) {
    size_t k = n - i < RX_ROWS ? n - i : RX_ROWS;
    if (k == 1) return insert_reception(s, uplink_id, &rx[i], false);
    struct db_stmt *st = db_prep(s->db, rx_rows_sql[k]);
    if (st == NULL) return LG_EIO;
    for (size_t j = 0; j < k; j++)
      lgs_bind_reception(st, (int)j * RX_PARAMS, uplink_id, &rx[i + j], false);
    int rc = lgs_step_done(st);
    if (rc) return rc;
    i += k;
  }
  return 0;
}

static int insert_reception(struct lg_store *s, int64_t uplink_id, const struct lg_reception_rec *r,
                            bool late) {
  struct db_stmt *st = db_prep(
      s->db, lgs_returning_id(s->db, RX_COLS "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                                             " ?12, ?13, ?14, ?15, ?16, ?17, ?18)"));
  if (st == NULL) return LG_EIO;
  lgs_bind_reception(st, 0, uplink_id, r, late);
  int64_t rx_id = 0;
  int rc = lgs_step_insert(st, &rx_id);
  if (rc || r->n_ant == 0) return rc;
  struct db_stmt *a = db_prep(
      s->db, "INSERT INTO reception_antennas (reception_id, antenna, channel, rssi, snr, ftime)"
             " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  for (size_t k = 0; a && rc == 0 && k < r->n_ant && k < 8; k++) {
    db_bind_int64(a, 1, rx_id);
    db_bind_int64(a, 2, r->ant[k].ant);
    db_bind_int64(a, 3, r->ant[k].chan);
    lgs_bind_opt_real(a, 4, r->ant[k].has_rssi, r->ant[k].rssi_dbm);
    lgs_bind_opt_real(a, 5, r->ant[k].has_snr, r->ant[k].snr_db);
    if (r->ant[k].has_ftime) db_bind_int64(a, 6, r->ant[k].ftime_ns);
    rc = lgs_step_done(a);
  }
  return a ? rc : LG_EIO;
}

static int uplink_insert(struct lg_store *s, const struct lg_uplink_rec *u,
                         const struct lg_reception_rec *rx, size_t n, int64_t *id, bool alone) {
  /* A savepoint: its own transaction alone, nested inside a batch (lg_store_begin), so a
   * failed uplink is undone without undoing the batch's others. */
  if (alone && db_exec(s->db, "SAVEPOINT uplink")) return LG_EIO;
  struct db_stmt *st = db_prep(
      s->db, lgs_returning_id(s->db, "INSERT INTO uplinks (dev_eui, dev_addr, f_cnt, f_port, data,"
                                     " confirmed, adr, dr, frequency, phy, received_ns,"
                                     " tx_power_index, truth_latitude, truth_longitude,"
                                     " truth_altitude) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                                     " ?10, ?11, ?12, ?13, ?14, ?15)"));
  int rc = LG_EIO;
  if (st) {
    lgs_bind_uplink(st, u);
    rc = lgs_step_insert(st, id);
  }
  bool plain = true; /* no antenna rows: the receptions' ids are not needed */
  for (size_t i = 0; i < n; i++)
    plain = plain && rx[i].n_ant == 0;
  if (rc == 0 && plain)
    rc = insert_receptions_plain(s, *id, rx, n);
  for (size_t i = 0; rc == 0 && !plain && i < n; i++)
    rc = insert_reception(s, *id, &rx[i], false);
  if (!alone) return rc ? LG_EIO : 0;
  if (rc == 0) {
    struct db_stmt *seen =
        db_prep(s->db, "UPDATE devices SET last_seen_ns = ?2 WHERE dev_eui = ?1");
    if (seen) {
      lgs_bind_eui(seen, 1, u->dev_eui);
      db_bind_int64(seen, 2, u->received_ns);
      rc = lgs_step_done(seen);
    }
  }
  if (rc == 0 && db_exec(s->db, "RELEASE uplink") == 0) return 0;
  db_exec(s->db, "ROLLBACK TO uplink");
  db_exec(s->db, "RELEASE uplink");
  return LG_EIO;
}

int lg_store_uplink_add(struct lg_store *s, const struct lg_uplink_rec *u,
                        const struct lg_reception_rec *rx, size_t n, int64_t *id) {
  return uplink_insert(s, u, rx, n, id, true);
}

int lg_store_uplink_add_in_batch(struct lg_store *s, const struct lg_uplink_rec *u,
                                 const struct lg_reception_rec *rx, size_t n, int64_t *id) {
  return uplink_insert(s, u, rx, n, id, false);
}

int lg_store_reception_add(struct lg_store *s, int64_t uplink_id, const struct lg_reception_rec *r,
                           bool late) {
  return insert_reception(s, uplink_id, r, late);
}

json_t *lg_store_uplinks_json(struct lg_store *s, uint64_t dev_eui, int64_t before_id, int limit) {
  struct db_stmt *st =
      db_prep(s->db, "SELECT id, dev_eui, dev_addr, f_cnt, f_port, data, confirmed, adr, dr,"
                     " frequency, received_ns, truth_latitude, truth_longitude, truth_altitude"
                     " FROM uplinks WHERE dev_eui = ?1 AND id < ?3 ORDER BY id DESC LIMIT ?2");
  struct db_stmt *rs =
      db_prep(s->db, "SELECT gateway_eui, time_ns, tmst, rssi, snr, channel, latitude,"
                     " longitude, altitude, late, sigma_ns, id, timing_outlier FROM receptions"
                     " WHERE uplink_id = ?1 ORDER BY id");
  struct db_stmt *as =
      db_prep(s->db, "SELECT antenna, channel, rssi, snr, ftime FROM reception_antennas"
                     " WHERE reception_id = ?1");
  json_t *items = json_array(), *next = NULL;
  if (st && rs && as) {
    lgs_bind_eui(st, 1, dev_eui);
    db_bind_int64(st, 2, (int64_t)limit + 1);
    db_bind_int64(st, 3, before_id > 0 ? before_id : INT64_MAX);
    int64_t last_id = 0;
    for (int rows = 0; db_step(st) == DB_ROW; rows++) {
      if (rows == limit) { /* one more than asked for: the next page starts below last_id */
        char c[24];
        snprintf(c, sizeof(c), "%lld", (long long)last_id);
        next = json_string(c);
        break;
      }
      last_id = db_col_int64(st, 0);
      json_t *o = json_object();
      char addr[9], b64[400];
      snprintf(addr, sizeof(addr), "%08llx", (unsigned long long)db_col_int64(st, 2));
      size_t data_len = 0;
      const void *data = db_col_blob(st, 5, &data_len);
      EVP_EncodeBlock((unsigned char *)b64, data, (int)(data_len < 290 ? data_len : 290));
      json_object_set_new(o, "dev_eui", json_string(db_col_text(st, 1)));
      json_object_set_new(o, "dev_addr", json_string(addr));
      json_object_set_new(o, "f_cnt", json_integer(db_col_int64(st, 3)));
      json_object_set_new(o, "f_port", lgs_int_or_null(st, 4));
      json_object_set_new(o, "data", json_string(b64));
      json_object_set_new(o, "confirmed", json_boolean(db_col_int(st, 6)));
      json_object_set_new(o, "adr", json_boolean(db_col_int(st, 7)));
      json_object_set_new(o, "dr", json_integer(db_col_int(st, 8)));
      json_object_set_new(o, "frequency", json_integer(db_col_int64(st, 9)));
      json_object_set_new(o, "received_ns", json_integer(db_col_int64(st, 10)));
      if (!db_col_null(st, 11)) /* a reference device's own GPS position */
        json_object_set_new(o, "truth",
                            json_pack("{s:f, s:f, s:o}", "latitude", db_col_double(st, 11),
                                      "longitude", db_col_double(st, 12), "altitude",
                                      lgs_real_or_null(st, 13)));
      json_t *rx = json_array();
      db_done(rs);
      db_bind_int64(rs, 1, db_col_int64(st, 0));
      while (db_step(rs) == DB_ROW) {
        json_t *r = json_object();
        json_object_set_new(r, "gateway_eui", json_string(db_col_text(rs, 0)));
        if (!db_col_null(rs, 1)) {
          int64_t t = db_col_int64(rs, 1);
          char when[48];
          lg_rfc3339(t, 9, when, sizeof(when));
          json_object_set_new(r, "time", json_string(when));
          json_object_set_new(r, "time_ns", json_integer(t));
          json_object_set_new(r, "time_ns_str", json_string(db_col_text(rs, 1)));
          json_object_set_new(r, "time_sigma_ns", json_real(db_col_double(rs, 10)));
        }
        json_object_set_new(r, "tmst", lgs_int_or_null(rs, 2));
        json_object_set_new(r, "rssi", json_real(db_col_double(rs, 3)));
        json_object_set_new(r, "snr", json_real(db_col_double(rs, 4)));
        json_object_set_new(r, "channel", json_integer(db_col_int(rs, 5)));
        json_object_set_new(r, "latitude", lgs_real_or_null(rs, 6));
        json_object_set_new(r, "longitude", lgs_real_or_null(rs, 7));
        json_object_set_new(r, "altitude", lgs_real_or_null(rs, 8));
        json_object_set_new(r, "late", json_boolean(db_col_int(rs, 9)));
        json_object_set_new(r, "timing_outlier", json_boolean(db_col_int(rs, 12)));
        json_t *ants = json_array(); /* each antenna's own measure, when the gateway gave them */
        db_done(as);
        db_bind_int64(as, 1, db_col_int64(rs, 11));
        while (db_step(as) == DB_ROW) {
          json_t *a = json_object();
          json_object_set_new(a, "antenna", json_integer(db_col_int(as, 0)));
          json_object_set_new(a, "channel", json_integer(db_col_int(as, 1)));
          json_object_set_new(a, "rssi", lgs_real_or_null(as, 2));
          json_object_set_new(a, "snr", lgs_real_or_null(as, 3));
          json_object_set_new(a, "ftime", lgs_int_or_null(as, 4));
          json_array_append_new(ants, a);
        }
        json_object_set_new(r, "antennas", ants);
        json_array_append_new(rx, r);
      }
      json_object_set_new(o, "rx_info", rx);
      json_array_append_new(items, o);
    }
  }
  db_done(st);
  db_done(as);
  db_done(rs);
  json_t *o = json_object();
  json_object_set_new(o, "items", items);
  json_object_set_new(o, "next", next ? next : json_null());
  return o;
}

json_t *lg_store_uplink_json_of(const struct lg_uplink_rec *u,
                                const struct lg_reception_rec *rx, size_t n) {
  /* The keys, order and types of lg_store_uplinks_json's items (tests/unit/test_store.c
   * compares the two for one stored uplink). */
  json_t *o = json_object();
  char eui[17], addr[9], b64[400];
  lgs_eui_hex(u->dev_eui, eui);
  snprintf(addr, sizeof(addr), "%08llx", (unsigned long long)u->dev_addr);
  EVP_EncodeBlock((unsigned char *)b64, u->data, (int)(u->data_len < 290 ? u->data_len : 290));
  json_object_set_new(o, "dev_eui", json_string(eui));
  json_object_set_new(o, "dev_addr", json_string(addr));
  json_object_set_new(o, "f_cnt", json_integer(u->f_cnt));
  json_object_set_new(o, "f_port", u->f_port >= 0 ? json_integer(u->f_port) : json_null());
  json_object_set_new(o, "data", json_string(b64));
  json_object_set_new(o, "confirmed", json_boolean(u->confirmed));
  json_object_set_new(o, "adr", json_boolean(u->adr));
  json_object_set_new(o, "dr", json_integer(u->dr));
  json_object_set_new(o, "frequency", json_integer(u->freq_hz));
  json_object_set_new(o, "received_ns", json_integer(u->received_ns));
  if (u->has_truth)
    json_object_set_new(o, "truth",
                        json_pack("{s:f, s:f, s:f}", "latitude", u->truth_lat_deg, "longitude",
                                  u->truth_lon_deg, "altitude", u->truth_alt_m));
  json_t *list = json_array();
  for (size_t i = 0; i < n; i++) {
    const struct lg_reception_rec *x = &rx[i];
    json_t *r = json_object();
    lgs_eui_hex(x->gateway_eui, eui);
    json_object_set_new(r, "gateway_eui", json_string(eui));
    if (x->has_time) {
      char when[48];
      lg_rfc3339(x->time_ns, 9, when, sizeof(when));
      json_object_set_new(r, "time", json_string(when));
      json_object_set_new(r, "time_ns", json_integer(x->time_ns));
      char digits[24]; /* the same as a string: JavaScript and jq round 19-digit numbers */
      snprintf(digits, sizeof(digits), "%lld", (long long)x->time_ns);
      json_object_set_new(r, "time_ns_str", json_string(digits));
      json_object_set_new(r, "time_sigma_ns", json_real(x->sigma_ns));
    }
    json_object_set_new(r, "tmst", x->has_tmst ? json_integer(x->tmst) : json_null());
    json_object_set_new(r, "rssi", json_real(x->rssi_dbm));
    json_object_set_new(r, "snr", json_real(x->snr_db));
    json_object_set_new(r, "channel", json_integer(x->channel));
    json_object_set_new(r, "latitude", x->has_position ? json_real(x->lat_deg) : json_null());
    json_object_set_new(r, "longitude", x->has_position ? json_real(x->lon_deg) : json_null());
    json_object_set_new(r, "altitude", x->has_position ? json_real(x->alt_m) : json_null());
    json_object_set_new(r, "late", json_false());
    json_object_set_new(r, "timing_outlier", json_false()); /* judged when it is located */
    json_t *ants = json_array();
    for (size_t k = 0; k < x->n_ant && k < 8; k++) {
      json_t *a = json_object();
      json_object_set_new(a, "antenna", json_integer(x->ant[k].ant));
      json_object_set_new(a, "channel", json_integer(x->ant[k].chan));
      json_object_set_new(a, "rssi", x->ant[k].has_rssi ? json_real(x->ant[k].rssi_dbm) : json_null());
      json_object_set_new(a, "snr", x->ant[k].has_snr ? json_real(x->ant[k].snr_db) : json_null());
      json_object_set_new(a, "ftime",
                          x->ant[k].has_ftime ? json_integer(x->ant[k].ftime_ns) : json_null());
      json_array_append_new(ants, a);
    }
    json_object_set_new(r, "antennas", ants);
    json_array_append_new(list, r);
  }
  json_object_set_new(o, "rx_info", list);
  return o;
}

void lgs_bind_location(struct db_stmt *st, const struct lg_location_rec *l) {
  db_bind_int64(st, 1, l->uplink_id);
  lgs_bind_eui(st, 2, l->dev_eui);
  db_bind_int64(st, 3, l->f_cnt);
  db_bind_double(st, 4, l->lat_deg);
  db_bind_double(st, 5, l->lon_deg);
  db_bind_double(st, 6, l->alt_m);
  db_bind_double(st, 7, l->accuracy_m);
  lgs_bind_opt_real(st, 8, l->gdop == l->gdop, l->gdop);
  db_bind_text(st, 9, l->method);
  db_bind_int64(st, 10, l->gateways);
  db_bind_int64(st, 11, l->created_ns);
  lgs_bind_opt_real(st, 12, l->accuracy_95_m > 0, l->accuracy_95_m);
  lgs_bind_opt_real(st, 13, l->has_track, l->track_lat_deg);
  lgs_bind_opt_real(st, 14, l->has_track, l->track_lon_deg);
  lgs_bind_opt_real(st, 15, l->has_track, l->track_accuracy_m);
  db_bind_int64(st, 16, l->outlier);
}

int lgs_location_outliers(struct lg_store *s, const struct lg_location_rec *l) {
  int rc = 0;
  for (int i = 0; rc == 0 && i < l->n_timing_outliers && i < LG_STORE_MAX_OUTLIERS; i++) {
    struct db_stmt *st = db_prep(s->db, "UPDATE receptions SET timing_outlier = 1"
                                        " WHERE uplink_id = ?1 AND gateway_eui = ?2");
    if (st == NULL) return LG_EIO;
    db_bind_int64(st, 1, l->uplink_id);
    lgs_bind_eui(st, 2, l->timing_outliers[i]);
    rc = lgs_step_done(st);
  }
  return rc;
}

int lg_store_location_add(struct lg_store *s, const struct lg_location_rec *l) {
  struct db_stmt *st = db_prep(s->db, LOCATION_INSERT " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8,"
                                                      " ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
  if (st == NULL) return LG_EIO;
  lgs_bind_location(st, l);
  int rc = lgs_step_done(st);
  return rc ? rc : lgs_location_outliers(s, l);
}

static json_t *locations_row(struct db_stmt *st) {
  json_t *o = json_object();
  json_object_set_new(o, "latitude", json_real(db_col_double(st, 0)));
  json_object_set_new(o, "longitude", json_real(db_col_double(st, 1)));
  json_object_set_new(o, "altitude", json_real(db_col_double(st, 2)));
  json_object_set_new(o, "accuracy_m", json_real(db_col_double(st, 3)));
  json_object_set_new(o, "method", json_string(db_col_text(st, 4)));
  json_object_set_new(o, "gateways", json_integer(db_col_int(st, 5)));
  json_object_set_new(o, "f_cnt", json_integer(db_col_int64(st, 6)));
  json_object_set_new(o, "gdop", lgs_real_or_null(st, 7));
  json_object_set_new(o, "uplink_id", json_integer(db_col_int64(st, 8)));
  json_object_set_new(o, "created_ns", json_integer(db_col_int64(st, 9)));
  json_object_set_new(o, "accuracy_95_m", lgs_real_or_null(st, 10));
  if (!db_col_null(st, 11)) /* the filtered track as of this fix */
    json_object_set_new(o, "track",
                        json_pack("{s:f, s:f, s:f}", "latitude", db_col_double(st, 11), "longitude",
                                  db_col_double(st, 12), "accuracy_m", db_col_double(st, 13)));
  json_object_set_new(o, "outlier", json_boolean(db_col_int(st, 14)));
  return o;
}

json_t *lg_store_locations_json(struct lg_store *s, uint64_t dev_eui, int64_t before_id,
                                int limit) {
  return device_rows_json(
      db_prep(s->db, "SELECT latitude, longitude, altitude, accuracy_m, method, gateways, f_cnt,"
                     " gdop, uplink_id, created_ns, accuracy_95_m, track_latitude,"
                     " track_longitude, track_accuracy_m, outlier, id FROM locations"
                     " WHERE dev_eui = ?1 AND id < ?3 ORDER BY id DESC LIMIT ?2"),
      dev_eui, before_id, limit, 15, locations_row);
}

/* Every located device (with since_id > 0: those located after that location id) with its
 * latest position and its last `per_device` positions as [lat, lon] pairs, newest first,
 * and "last_id" (the web map; compact, as it may carry every device). Where the server
 * filtered a track, "track" holds its positions and "latest" its position and radius
 * ("raw" the fix); "raw" always holds the fixes as located. */
json_t *lg_store_tracks_json(struct lg_store *s, int per_device, int64_t since_id) {
#define TRACKS(filter)                                                                             \
  "SELECT l.dev_eui, COALESCE(d.name, ''), l.latitude, l.longitude, l.accuracy_m, l.method,"       \
  " l.created_ns, l.track_latitude, l.track_longitude, l.track_accuracy_m FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY dev_eui ORDER BY id DESC) AS rn"  \
  " FROM locations " filter ") l LEFT JOIN devices d ON d.dev_eui = l.dev_eui WHERE l.rn <= ?1"    \
  " ORDER BY l.dev_eui, l.id DESC"
  struct db_stmt *st =
      since_id > 0
          ? db_prep(s->db, TRACKS("WHERE dev_eui IN (SELECT dev_eui FROM locations WHERE id > ?2)"))
          : db_prep(s->db, TRACKS(""));
#undef TRACKS
  struct db_stmt *last = db_prep(s->db, "SELECT COALESCE(MAX(id), 0) FROM locations");
  if (st == NULL || last == NULL) {
    db_done(st);
    db_done(last);
    return NULL;
  }
  db_bind_int64(st, 1, per_device);
  if (since_id > 0) db_bind_int64(st, 2, since_id);
  int64_t last_id = db_step(last) == DB_ROW ? db_col_int64(last, 0) : 0;
  db_done(last);
  json_t *items = json_array(), *dev = NULL;
  while (db_step(st) == DB_ROW) {
    const char *eui = db_col_text(st, 0);
    double lat = round(db_col_double(st, 2) * 1e6) / 1e6; /* 0.1 m */
    double lon = round(db_col_double(st, 3) * 1e6) / 1e6;
    bool filtered = !db_col_null(st, 7);
    double tlat = filtered ? round(db_col_double(st, 7) * 1e6) / 1e6 : lat;
    double tlon = filtered ? round(db_col_double(st, 8) * 1e6) / 1e6 : lon;
    if (dev == NULL || strcmp(json_string_value(json_object_get(dev, "dev_eui")), eui) != 0) {
      double acc = filtered ? db_col_double(st, 9) : db_col_double(st, 4);
      dev = json_pack("{s:s, s:s, s:{s:f, s:f, s:f, s:s, s:I, s:b, s:{s:f, s:f, s:f}}, s:[], s:[]}",
                      "dev_eui", eui, "name", db_col_text(st, 1), "latest", "latitude", tlat,
                      "longitude", tlon, "accuracy_m", round(acc * 10) / 10, "method",
                      db_col_text(st, 5), "time_ns", (json_int_t)db_col_int64(st, 6), "filtered",
                      filtered, "raw", "latitude", lat, "longitude", lon, "accuracy_m",
                      round(db_col_double(st, 4) * 10) / 10, "track", "raw");
      json_array_append_new(items, dev);
    }
    json_array_append_new(json_object_get(dev, "track"), json_pack("[f, f]", tlat, tlon));
    json_array_append_new(json_object_get(dev, "raw"), json_pack("[f, f]", lat, lon));
  }
  db_done(st);
  json_t *o = json_object();
  json_object_set_new(o, "items", items);
  json_object_set_new(o, "last_id", json_integer(last_id));
  return o;
}

/* ---- queue ---------------------------------------------------------------------- */

int lg_store_queue_push(struct lg_store *s, uint64_t dev_eui, int f_port, const uint8_t *data,
                        size_t len, bool confirmed) {
  atomic_fetch_add(&queue_gen, 1);
  struct db_stmt *st = db_prep(
      s->db, "INSERT INTO queue (dev_eui, f_port, data, confirmed, created_ns) VALUES (?1, ?2, ?3,"
             " ?4, ?5)");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_int64(st, 2, f_port);
  db_bind_blob(st, 3, data, len);
  db_bind_int64(st, 4, confirmed);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  db_bind_int64(st, 5, (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec);
  return lgs_step_done(st);
}

int lg_store_queue_pop(struct lg_store *s, uint64_t dev_eui, int *f_port, uint8_t *data, size_t cap,
                       size_t *len, bool *confirmed, bool *more) {
  struct db_stmt *st =
      db_prep(s->db, "SELECT id, f_port, data, confirmed FROM queue WHERE dev_eui = ?1"
                     " ORDER BY id LIMIT 2");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  if (db_step(st) != DB_ROW) {
    db_done(st);
    return LG_ENOTFOUND;
  }
  int64_t id = db_col_int64(st, 0);
  *f_port = db_col_int(st, 1);
  size_t n = 0;
  const void *blob = db_col_blob(st, 2, &n);
  *len = n;
  bool fits = n <= cap;
  if (fits && n) memcpy(data, blob, n);
  *confirmed = db_col_int(st, 3);
  *more = db_step(st) == DB_ROW;
  db_done(st);
  struct db_stmt *del = db_prep(s->db, "DELETE FROM queue WHERE id = ?1");
  if (del == NULL) return LG_EIO;
  db_bind_int64(del, 1, id);
  int rc = lgs_step_done(del);
  return rc ? rc : fits ? 0 : LG_ETOOLONG;
}

/* ---- ADR ------------------------------------------------------------------------ */

static void adr_detail(struct lg_store *s, int64_t uplink_id, struct lg_store_adr_uplink *u) {
  struct db_stmt *st =
      db_prep(s->db, "SELECT gateway_eui, latitude, longitude, rssi FROM receptions"
                     " WHERE uplink_id = ?1 AND latitude IS NOT NULL AND rssi IS NOT NULL"
                     " ORDER BY rssi DESC LIMIT 8");
  if (st != NULL) {
    db_bind_int64(st, 1, uplink_id);
    while (u->n_rx < LG_STORE_ADR_RX && db_step(st) == DB_ROW) {
      u->rx[u->n_rx].gateway_eui = lgs_eui_from(st, 0);
      u->rx[u->n_rx].lat_deg = db_col_double(st, 1);
      u->rx[u->n_rx].lon_deg = db_col_double(st, 2);
      u->rx[u->n_rx++].rssi_dbm = db_col_double(st, 3);
    }
    db_done(st);
  }
  st = db_prep(s->db, "SELECT latitude, longitude, accuracy_m FROM locations WHERE uplink_id = ?1"
                      " ORDER BY id DESC LIMIT 1");
  if (st != NULL) {
    db_bind_int64(st, 1, uplink_id);
    if (db_step(st) == DB_ROW) {
      u->has_fix = true;
      u->fix_lat_deg = db_col_double(st, 0);
      u->fix_lon_deg = db_col_double(st, 1);
      u->fix_accuracy_m = db_col_double(st, 2);
    }
    db_done(st);
  }
}

int lg_store_adr_history(struct lg_store *s, uint64_t dev_eui, struct lg_store_adr_uplink *out,
                         size_t cap, size_t *n, bool detail) {
  struct db_stmt *st = db_prep(
      s->db, "SELECT u.f_cnt, u.dr, COALESCE(u.tx_power_index, 0), MAX(r.snr),"
             " MAX(r.rssi), COUNT(DISTINCT r.gateway_eui), u.id, u.received_ns, length(u.phy)"
             " FROM uplinks u JOIN receptions r ON r.uplink_id = u.id"
             " WHERE u.dev_eui = ?1 GROUP BY u.id ORDER BY u.id DESC LIMIT ?2");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_int64(st, 2, (int)cap);
  size_t k = 0;
  int64_t ids[64];
  while (k < cap && db_step(st) == DB_ROW) {
    memset(&out[k], 0, sizeof(out[k]));
    out[k].f_cnt = (uint32_t)db_col_int64(st, 0);
    out[k].dr = db_col_int(st, 1);
    out[k].tx_power_index = db_col_int(st, 2);
    out[k].max_snr_db = db_col_double(st, 3);
    out[k].max_rssi_dbm = db_col_double(st, 4);
    out[k].gateways = db_col_int(st, 5);
    out[k].received_ns = db_col_int64(st, 7);
    out[k].size = db_col_int(st, 8);
    if (k < 64) ids[k] = db_col_int64(st, 6);
    k++;
  }
  db_done(st);
  for (size_t i = 0; detail && i < k && i < 64; i++)
    adr_detail(s, ids[i], &out[i]);
  for (size_t i = 0; i < k / 2; i++) { /* oldest first */
    struct lg_store_adr_uplink t = out[i];
    out[i] = out[k - 1 - i];
    out[k - 1 - i] = t;
  }
  *n = k;
  return 0;
}

int lg_store_adr_pending(struct lg_store *s, uint64_t dev_eui, bool set, int dr, int txp, int nb) {
  atomic_fetch_add(&devices_gen, 1);
  struct db_stmt *st =
      db_prep(s->db, "UPDATE devices SET adr_pending_dr = ?2, adr_pending_txp = ?3,"
                     " adr_pending_nb = ?4 WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  if (set) {
    db_bind_int64(st, 2, dr);
    db_bind_int64(st, 3, txp);
    db_bind_int64(st, 4, nb);
  }
  return lgs_step_done(st);
}

int lg_store_adr_applied(struct lg_store *s, uint64_t dev_eui) {
  atomic_fetch_add(&devices_gen, 1);
  struct db_stmt *st = db_prep(
      s->db, "UPDATE devices SET tx_power_index = adr_pending_txp, nb_trans = adr_pending_nb,"
             " adr_pending_dr = NULL, adr_pending_txp = NULL, adr_pending_nb = NULL"
             " WHERE dev_eui = ?1 AND adr_pending_dr IS NOT NULL");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  int rc = lgs_step_done(st);
  if (rc) return rc;
  struct db_stmt *d =
      db_prep(s->db, "UPDATE adr_decisions SET state = 'applied' WHERE id ="
                     " (SELECT MAX(id) FROM adr_decisions WHERE dev_eui = ?1 AND state = 'sent')");
  if (d == NULL) return LG_EIO;
  lgs_bind_eui(d, 1, dev_eui);
  return lgs_step_done(d);
}

int lg_store_adr_decision_add(struct lg_store *s, const struct lg_store_adr_decision *r) {
  struct db_stmt *st =
      db_prep(s->db, "INSERT INTO adr_decisions (dev_eui, f_cnt, algorithm, change, dr_from, dr_to,"
                     " tx_power_from, tx_power_to, nb_trans_from, nb_trans_to, snr_margin_db,"
                     " reason, state, created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
                     " ?11, ?12, ?13, ?14)");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, r->dev_eui);
  db_bind_int64(st, 2, r->f_cnt);
  db_bind_text(st, 3, r->algorithm);
  db_bind_int64(st, 4, r->change);
  db_bind_int64(st, 5, r->dr_from);
  db_bind_int64(st, 6, r->dr_to);
  db_bind_int64(st, 7, r->tx_power_from);
  db_bind_int64(st, 8, r->tx_power_to);
  db_bind_int64(st, 9, r->nb_trans_from);
  db_bind_int64(st, 10, r->nb_trans_to);
  db_bind_double(st, 11, r->snr_margin_db);
  db_bind_text(st, 12, r->reason);
  db_bind_text(st, 13, r->change ? "sent" : "none");
  db_bind_int64(st, 14, r->created_ns);
  return lgs_step_done(st);
}

static json_t *adr_row(struct db_stmt *st) {
  json_t *o = json_object();
  static const char *const keys[] = {"dr_from",           "dr_to",         "tx_power_index_from",
                                     "tx_power_index_to", "nb_trans_from", "nb_trans_to"};
  json_object_set_new(o, "f_cnt", json_integer(db_col_int64(st, 0)));
  json_object_set_new(o, "algorithm", json_string(db_col_text(st, 1)));
  json_object_set_new(o, "change", json_boolean(db_col_int(st, 2)));
  for (int k = 0; k < 6; k++)
    json_object_set_new(o, keys[k], json_integer(db_col_int(st, 3 + k)));
  json_object_set_new(o, "snr_margin_db", json_real(db_col_double(st, 9)));
  json_object_set_new(o, "reason", json_string(db_col_text(st, 10)));
  json_object_set_new(o, "state", json_string(db_col_text(st, 11)));
  json_object_set_new(o, "created_ns", json_integer(db_col_int64(st, 12)));
  return o;
}

json_t *lg_store_adr_json(struct lg_store *s, uint64_t dev_eui, int64_t before_id, int limit) {
  return device_rows_json(
      db_prep(s->db, "SELECT f_cnt, algorithm, change, dr_from, dr_to, tx_power_from, tx_power_to,"
                     " nb_trans_from, nb_trans_to, snr_margin_db, reason, state, created_ns, id"
                     " FROM adr_decisions WHERE dev_eui = ?1 AND id < ?3 ORDER BY id DESC"
                     " LIMIT ?2"),
      dev_eui, before_id, limit, 13, adr_row);
}

/* ---- downlinks ------------------------------------------------------------------ */

int lg_store_downlink_add(struct lg_store *s, uint64_t dev_eui, uint32_t f_cnt, int f_port,
                          bool confirmed, bool ack, size_t mac_bytes, int64_t now_ns) {
  struct db_stmt *st = db_prep(
      s->db, "INSERT INTO downlinks (dev_eui, f_cnt, f_port, confirmed, ack, mac_bytes, state,"
             " created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_int64(st, 2, f_cnt);
  if (f_port >= 0) db_bind_int64(st, 3, f_port);
  db_bind_int64(st, 4, confirmed);
  db_bind_int64(st, 5, ack);
  db_bind_int64(st, 6, (int64_t)mac_bytes);
  db_bind_text(st, 7, confirmed ? "awaiting_ack" : "sent");
  db_bind_int64(st, 8, now_ns);
  return lgs_step_done(st);
}

int lg_store_uplink_has(struct lg_store *s, uint64_t dev_eui, uint32_t f_cnt, int64_t since_ns) {
  struct db_stmt *st = db_prep(s->db, "SELECT 1 FROM uplinks WHERE dev_eui = ?1 AND f_cnt = ?2"
                                      " AND received_ns >= ?3 LIMIT 1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_int64(st, 2, f_cnt);
  db_bind_int64(st, 3, since_ns);
  int rc = db_step(st);
  db_done(st);
  return rc == DB_ROW ? 1 : rc == DB_DONE ? 0 : LG_EIO;
}

int lg_store_downlink_acked(struct lg_store *s, uint64_t dev_eui, int64_t now_ns, uint32_t *f_cnt) {
  struct db_stmt *st = db_prep(
      s->db, "UPDATE downlinks SET state = 'acknowledged', acked_ns = ?2 WHERE id ="
             " (SELECT MAX(id) FROM downlinks WHERE dev_eui = ?1 AND state = 'awaiting_ack')"
             " RETURNING f_cnt");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_int64(st, 2, now_ns);
  int rc = db_step(st);
  if (rc == DB_ROW && f_cnt) *f_cnt = (uint32_t)db_col_int64(st, 0);
  db_done(st);
  return rc == DB_ROW ? 0 : LG_ENOTFOUND;
}

static json_t *downlinks_row(struct db_stmt *st) {
  json_t *o = json_object();
  json_object_set_new(o, "f_cnt", json_integer(db_col_int64(st, 0)));
  json_object_set_new(o, "f_port", lgs_int_or_null(st, 1));
  json_object_set_new(o, "confirmed", json_boolean(db_col_int(st, 2)));
  json_object_set_new(o, "ack", json_boolean(db_col_int(st, 3)));
  json_object_set_new(o, "mac_bytes", json_integer(db_col_int(st, 4)));
  json_object_set_new(o, "state", json_string(db_col_text(st, 5)));
  json_object_set_new(o, "created_ns", lgs_int_or_null(st, 6));
  json_object_set_new(o, "acked_ns", lgs_int_or_null(st, 7));
  return o;
}

json_t *lg_store_downlinks_json(struct lg_store *s, uint64_t dev_eui, int64_t before_id,
                                int limit) {
  return device_rows_json(
      db_prep(s->db, "SELECT f_cnt, f_port, confirmed, ack, mac_bytes, state, created_ns, acked_ns,"
                     " id FROM downlinks WHERE dev_eui = ?1 AND id < ?3 ORDER BY id DESC LIMIT ?2"),
      dev_eui, before_id, limit, 8, downlinks_row);
}

/* ---- events --------------------------------------------------------------------- */

char *lgs_event_text(json_t *payload) {
  char *text = lg_json_text(payload, NULL); /* json_dumps' bytes, in a quarter of its time */
  json_decref(payload);
  return text;
}

int lgs_event_insert(struct lg_store *s, const char *sql, uint64_t dev_eui, const char *type,
                     json_t *payload, int64_t now_ns, int64_t if_uplink) {
  char *text = lgs_event_text(payload);
  if (text == NULL) return LG_ENOMEM;
  struct db_stmt *st = db_prep(s->db, sql);
  int rc = LG_EIO;
  if (st) {
    lgs_bind_eui(st, 1, dev_eui);
    db_bind_text(st, 2, type);
    db_bind_text(st, 3, text);
    db_bind_int64(st, 4, now_ns);
    if (if_uplink > 0) db_bind_int64(st, 5, if_uplink);
    rc = lgs_step_done(st);
  }
  free(text);
  return rc;
}

int lg_store_event_add(struct lg_store *s, uint64_t dev_eui, const char *type, json_t *payload,
                       int64_t now_ns) {
  return lgs_event_insert(s, EVENT_INSERT " VALUES (?1, ?2, ?3, ?4)", dev_eui, type, payload,
                          now_ns, 0);
}

static json_t *events_row(struct db_stmt *st) {
  json_error_t e;
  json_t *o = json_object();
  json_t *p = json_loads(db_col_text(st, 1), 0, &e);
  json_object_set_new(o, "type", json_string(db_col_text(st, 0)));
  json_object_set_new(o, "time_ns", json_integer(db_col_int64(st, 2)));
  json_object_set_new(o, "time_ns_str", json_string(db_col_text(st, 2)));
  json_object_set_new(o, "payload", p ? p : json_null());
  return o;
}

json_t *lg_store_events_json(struct lg_store *s, uint64_t dev_eui, int64_t before_id, int limit) {
  return device_rows_json(db_prep(s->db, "SELECT type, payload, created_ns, id FROM events"
                                         " WHERE dev_eui = ?1 AND id < ?3 ORDER BY id DESC LIMIT ?2"),
                          dev_eui, before_id, limit, 3, events_row);
}

/* An event of every device's feed: events_row's fields and its id, DevEUI, device name. */
static json_t *events_all_row(struct db_stmt *st) {
  json_t *o = json_object();
  json_object_set_new(o, "id", json_integer(db_col_int64(st, 3)));
  json_object_set_new(o, "dev_eui", json_string(db_col_text(st, 4)));
  json_object_set_new(o, "name", db_col_null(st, 5) ? json_null() : json_string(db_col_text(st, 5)));
  json_object_update_missing_new(o, events_row(st));
  return o;
}

json_t *lg_store_events_all_json(struct lg_store *s, int64_t application_id, int64_t since_id,
                                 int64_t before_id, int limit) {
#define EVENTS_ALL(where, order)                                                                   \
  "SELECT e.type, e.payload, e.created_ns, e.id, e.dev_eui, d.name FROM events e"                 \
  " LEFT JOIN devices d ON d.dev_eui = e.dev_eui WHERE " where                                     \
  " AND (CAST(?1 AS BIGINT) = 0 OR d.application_id = CAST(?1 AS BIGINT))"                         \
  " ORDER BY e.id " order " LIMIT ?3"
  struct db_stmt *st = db_prep(s->db, since_id >= 0 ? EVENTS_ALL("e.id > ?2", "ASC")
                                                   : EVENTS_ALL("e.id < ?2", "DESC"));
#undef EVENTS_ALL
  if (st) {
    db_bind_int64(st, 1, application_id);
    db_bind_int64(st, 2, since_id >= 0 ? since_id : before_id > 0 ? before_id : INT64_MAX);
    db_bind_int64(st, 3, (int64_t)limit + 1);
  }
  json_t *page = lgs_page_json(st, limit, 3, events_all_row);
  struct db_stmt *last = page ? db_prep(s->db, "SELECT COALESCE(MAX(id), 0) FROM events") : NULL;
  if (last == NULL || db_step(last) != DB_ROW) {
    if (last) db_done(last);
    json_decref(page);
    return NULL;
  }
  json_object_set_new(page, "last_id", json_integer(db_col_int64(last, 0)));
  db_done(last);
  return page;
}

/* ---- keys at rest (kek.c) ---------------------------------------------------------- */

static int meta_get(struct lg_store *s, const char *name, char *out, size_t len) {
  struct db_stmt *st = db_prep(s->db, "SELECT value FROM meta WHERE name = ?1");
  if (st == NULL) return LG_EIO;
  db_bind_text(st, 1, name);
  int rc = db_step(st);
  if (rc == DB_ROW) snprintf(out, len, "%s", db_col_text(st, 0));
  db_done(st);
  return rc == DB_ROW ? 0 : rc == DB_DONE ? LG_ENOTFOUND : LG_EIO;
}

int lg_store_kek_required(struct lg_store *s) {
  char v[LG_KEK_WRAPPED_LEN];
  int rc = meta_get(s, "kek_check", v, sizeof(v));
  return rc == 0 ? 1 : rc == LG_ENOTFOUND ? 0 : rc;
}

int lg_store_use_kek(struct lg_store *s, const struct lg_kek *k, char *why, size_t why_len) {
  static const uint8_t zero[16] = {0};
  char check[LG_KEK_WRAPPED_LEN], have[LG_KEK_WRAPPED_LEN];
  if (lg_kek_wrap(k, zero, check) != 0) {
    snprintf(why, why_len, "the key-encryption key does not work with OpenSSL's AES key wrap");
    return LG_ECRYPTO;
  }
  int rc = meta_get(s, "kek_check", have, sizeof(have));
  if (rc == 0 && strcmp(have, check) != 0) {
    snprintf(why, why_len, "the key-encryption key is not the one this database's keys were "
                           "wrapped with");
    return LG_ECRYPTO;
  }
  if (rc == LG_ENOTFOUND) {
    struct db_stmt *st = db_prep(s->db, "INSERT INTO meta (name, value) VALUES ('kek_check', ?1)");
    if (st == NULL) return LG_EIO;
    db_bind_text(st, 1, check);
    if ((rc = lgs_step_done(st)) != 0) {
      snprintf(why, why_len, "storing the key check: %s", lg_store_errmsg(s));
      return rc;
    }
  } else if (rc) {
    snprintf(why, why_len, "reading the key check: %s", lg_store_errmsg(s));
    return rc;
  }
  s->kek = *k;
  return 0;
}

int lg_store_wrap_keys(struct lg_store *s, size_t *n) {
  *n = 0;
  if (s->kek.len == 0) return LG_EINVAL;
  struct db_stmt *st = db_prep(s->db, "SELECT dev_eui, app_key, nwk_s_key, app_s_key FROM devices");
  if (st == NULL) return LG_EIO;
  /* constant strings: db_prep() caches statements by the SQL text's address */
  static const char *const updates[] = {"UPDATE devices SET app_key = ?2 WHERE dev_eui = ?1",
                                        "UPDATE devices SET nwk_s_key = ?2 WHERE dev_eui = ?1",
                                        "UPDATE devices SET app_s_key = ?2 WHERE dev_eui = ?1"};
  struct row {
    char eui[17];
    char key[3][LG_KEK_WRAPPED_LEN];
  } *rows = NULL;
  size_t count = 0, cap = 0;
  int rc = 0;
  while (rc == 0 && db_step(st) == DB_ROW) { /* collected first: no update under a cursor */
    if (count == cap) {
      size_t c = cap ? 2 * cap : 64;
      struct row *r = realloc(rows, c * sizeof(*r));
      if (r == NULL) {
        rc = LG_ENOMEM;
        break;
      }
      rows = r, cap = c;
    }
    struct row *r = &rows[count];
    snprintf(r->eui, sizeof(r->eui), "%s", db_col_text(st, 0));
    bool plain = false;
    for (int k = 0; k < 3; k++) {
      const char *t = db_col_text(st, 1 + k);
      uint8_t key[16];
      size_t got = 0;
      r->key[k][0] = '\0';
      if (t == NULL || lg_kek_is_wrapped(t)) continue;
      if (lg_hex_decode(t, strlen(t), key, 16, &got) != 0 || got != 16 ||
          lg_kek_wrap(&s->kek, key, r->key[k]) != 0) {
        rc = LG_ECRYPTO;
        break;
      }
      plain = true;
    }
    if (plain) count++;
  }
  db_done(st);
  for (size_t i = 0; rc == 0 && i < count; i++)
    for (int k = 0; rc == 0 && k < 3; k++) {
      if (rows[i].key[k][0] == '\0') continue;
      struct db_stmt *u = db_prep(s->db, updates[k]);
      if (u == NULL) {
        rc = LG_EIO;
        break;
      }
      db_bind_text(u, 1, rows[i].eui);
      db_bind_text(u, 2, rows[i].key[k]);
      rc = lgs_step_done(u);
    }
  if (rc == 0) *n = count;
  free(rows);
  /* the old pages, keys in clear, leave the write-ahead log too */
  if (rc == 0 && count > 0 && !db_is_pg(s->db)) (void)db_exec(s->db, "PRAGMA wal_checkpoint(TRUNCATE)");
  return rc;
}

void lg_store_share_kek(struct lg_store *dst, const struct lg_store *src) {
  dst->kek = src->kek;
}

/* ---- Class C and multicast -------------------------------------------------------- */

int lg_store_device_class_set(struct lg_store *s, uint64_t dev_eui, bool class_c) {
  atomic_fetch_add(&devices_gen, 1);
  /* the device says so: its own class from now on, over its profile's */
  struct db_stmt *st = db_prep(s->db, "UPDATE devices SET device_class = ?2, inherit = inherit & ~2"
                                      " WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_text(st, 2, class_c ? "C" : "A");
  return lgs_step_done(st);
}

int lg_store_queue_class_c(struct lg_store *s, uint64_t *out, size_t cap, size_t *n) {
  struct db_stmt *st = db_prep(
      s->db, "SELECT DISTINCT q.dev_eui FROM queue q JOIN devices d ON d.dev_eui = q.dev_eui"
             " LEFT JOIN device_profiles p ON p.id = d.profile_id WHERE (CASE WHEN p.id IS NOT NULL"
             " AND (d.inherit & 2) <> 0 THEN p.device_class ELSE d.device_class END) = 'C'"
             " AND d.has_session = 1 ORDER BY q.dev_eui LIMIT ?1");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, (int64_t)cap);
  *n = 0;
  int rc;
  while ((rc = db_step(st)) == DB_ROW && *n < cap)
    out[(*n)++] = lgs_eui_from(st, 0);
  db_done(st);
  return rc == DB_ROW || rc == DB_DONE ? 0 : LG_EIO;
}

int lg_store_last_heard(struct lg_store *s, uint64_t dev_eui, struct lg_store_heard *out,
                        size_t cap, size_t *n, int64_t *received_ns) {
  struct db_stmt *u = db_prep(
      s->db, "SELECT id, received_ns FROM uplinks WHERE dev_eui = ?1 ORDER BY id DESC LIMIT 1");
  if (u == NULL) return LG_EIO;
  lgs_bind_eui(u, 1, dev_eui);
  *n = 0;
  int rc = db_step(u);
  if (rc != DB_ROW) {
    db_done(u);
    return rc == DB_DONE ? LG_ENOTFOUND : LG_EIO;
  }
  int64_t id = db_col_int64(u, 0);
  *received_ns = db_col_int64(u, 1);
  db_done(u);
  struct db_stmt *st = db_prep(s->db, "SELECT gateway_eui, snr FROM receptions WHERE uplink_id = ?1"
                                      " AND late = 0 ORDER BY snr DESC");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  while ((rc = db_step(st)) == DB_ROW && *n < cap)
    out[(*n)++] = (struct lg_store_heard){lgs_eui_from(st, 0), db_col_double(st, 1)};
  db_done(st);
  return rc == DB_ROW || rc == DB_DONE ? 0 : LG_EIO;
}

#define MCAST_COLS "id, name, mc_addr, mc_nwk_s_key, mc_app_s_key, f_cnt, frequency, dr"

int lg_store_mcast_put(struct lg_store *s, struct lg_mcast_group *g, int64_t now_ns) {
  struct db_stmt *st = db_prep(
      s->db, "INSERT INTO multicast_groups (name, mc_addr, mc_nwk_s_key, mc_app_s_key, f_cnt,"
             " frequency, dr, created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id");
  if (st == NULL) return LG_EIO;
  char k1[LG_KEK_WRAPPED_LEN], k2[LG_KEK_WRAPPED_LEN];
  if (key_text(s, g->nwk_s_key, k1) || key_text(s, g->app_s_key, k2))
    return db_done(st), LG_ECRYPTO;
  db_bind_text(st, 1, g->name);
  db_bind_int64(st, 2, g->mc_addr);
  db_bind_text(st, 3, k1);
  db_bind_text(st, 4, k2);
  db_bind_int64(st, 5, g->f_cnt);
  if (g->freq_hz)
    db_bind_int64(st, 6, g->freq_hz);
  else
    db_bind_null(st, 6);
  if (g->dr >= 0)
    db_bind_int64(st, 7, g->dr);
  else
    db_bind_null(st, 7);
  db_bind_int64(st, 8, now_ns);
  return lgs_step_id(st, &g->id);
}

int lg_store_mcast_get(struct lg_store *s, int64_t id, struct lg_mcast_group *g) {
  struct db_stmt *st = db_prep(s->db, "SELECT " MCAST_COLS " FROM multicast_groups WHERE id = ?1");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  int rc = db_step(st), keys = 0;
  if (rc == DB_ROW) {
    memset(g, 0, sizeof(*g));
    g->id = db_col_int64(st, 0);
    snprintf(g->name, sizeof(g->name), "%s", db_col_text(st, 1));
    g->mc_addr = (uint32_t)db_col_int64(st, 2);
    keys = key_from(s, st, 3, g->nwk_s_key);
    if (keys == 0) keys = key_from(s, st, 4, g->app_s_key);
    g->f_cnt = (uint32_t)db_col_int64(st, 5);
    g->freq_hz = db_col_null(st, 6) ? 0 : (uint32_t)db_col_int64(st, 6);
    g->dr = db_col_null(st, 7) ? -1 : db_col_int(st, 7);
  }
  db_done(st);
  return rc == DB_ROW ? (keys ? LG_ECRYPTO : 0) : rc == DB_DONE ? LG_ENOTFOUND : LG_EIO;
}

int lg_store_mcast_delete(struct lg_store *s, int64_t id) {
  static const char *const sql[] = {"DELETE FROM multicast_members WHERE group_id = ?1",
                                     "DELETE FROM multicast_queue WHERE group_id = ?1"};
  struct db_stmt *st = db_prep(s->db, "DELETE FROM multicast_groups WHERE id = ?1");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  int rc = lgs_step_done(st);
  if (rc) return rc;
  if (db_changes(st) == 0) return LG_ENOTFOUND;
  for (int i = 0; i < 2; i++) {
    struct db_stmt *d = db_prep(s->db, sql[i]);
    if (d == NULL) return LG_EIO;
    db_bind_int64(d, 1, id);
    if ((rc = lgs_step_done(d))) return rc;
  }
  return 0;
}

int lg_store_mcast_member(struct lg_store *s, int64_t id, uint64_t dev_eui, bool add) {
  struct db_stmt *st =
      db_prep(s->db, add ? "INSERT INTO multicast_members (group_id, dev_eui) VALUES (?1, ?2)"
                           " ON CONFLICT DO NOTHING"
                         : "DELETE FROM multicast_members WHERE group_id = ?1 AND dev_eui = ?2");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  lgs_bind_eui(st, 2, dev_eui);
  int rc = lgs_step_done(st);
  return rc ? rc : !add && db_changes(st) == 0 ? LG_ENOTFOUND : 0;
}

int lg_store_mcast_members(struct lg_store *s, int64_t id, uint64_t *out, size_t cap, size_t *n) {
  struct db_stmt *st = db_prep(
      s->db, "SELECT dev_eui FROM multicast_members WHERE group_id = ?1 ORDER BY dev_eui");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  *n = 0;
  int rc;
  while ((rc = db_step(st)) == DB_ROW && *n < cap)
    out[(*n)++] = lgs_eui_from(st, 0);
  db_done(st);
  return rc == DB_ROW || rc == DB_DONE ? 0 : LG_EIO;
}

int lg_store_mcast_fcnt_take(struct lg_store *s, int64_t id, uint32_t *fcnt) {
  struct db_stmt *st = db_prep(
      s->db, "UPDATE multicast_groups SET f_cnt = f_cnt + 1 WHERE id = ?1 RETURNING f_cnt - 1");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  int rc = db_step(st);
  if (rc == DB_ROW) *fcnt = (uint32_t)db_col_int64(st, 0);
  db_done(st);
  return rc == DB_ROW ? 0 : rc == DB_DONE ? LG_ENOTFOUND : LG_EIO;
}

int lg_store_mcast_queue_push(struct lg_store *s, int64_t id, int f_port, const uint8_t *data,
                              size_t len, int64_t now_ns) {
  atomic_fetch_add(&queue_gen, 1);
  struct db_stmt *st = db_prep(s->db, "INSERT INTO multicast_queue (group_id, f_port, data,"
                                      " created_ns) VALUES (?1, ?2, ?3, ?4)");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, id);
  db_bind_int64(st, 2, f_port);
  db_bind_blob(st, 3, data, len);
  db_bind_int64(st, 4, now_ns);
  return lgs_step_done(st);
}

int lg_store_mcast_queue_pop(struct lg_store *s, int64_t *id, int *f_port, uint8_t *data,
                             size_t cap, size_t *len) {
  struct db_stmt *st = db_prep(
      s->db, "SELECT id, group_id, f_port, data FROM multicast_queue ORDER BY id LIMIT 1");
  if (st == NULL) return LG_EIO;
  int rc = db_step(st);
  if (rc != DB_ROW) {
    db_done(st);
    return rc == DB_DONE ? LG_ENOTFOUND : LG_EIO;
  }
  int64_t row = db_col_int64(st, 0);
  *id = db_col_int64(st, 1);
  *f_port = db_col_int(st, 2);
  size_t n = 0;
  const void *blob = db_col_blob(st, 3, &n);
  *len = n < cap ? n : cap;
  if (*len) memcpy(data, blob, *len);
  db_done(st);
  struct db_stmt *del = db_prep(s->db, "DELETE FROM multicast_queue WHERE id = ?1");
  if (del == NULL) return LG_EIO;
  db_bind_int64(del, 1, row);
  return lgs_step_done(del);
}

static json_t *mcast_row(struct db_stmt *st) {
  char addr[9];
  snprintf(addr, sizeof(addr), "%08llx", (unsigned long long)db_col_int64(st, 2));
  json_t *o = json_object();
  json_object_set_new(o, "id", json_integer(db_col_int64(st, 0)));
  json_object_set_new(o, "name", json_string(db_col_text(st, 1)));
  json_object_set_new(o, "mc_addr", json_string(addr));
  json_object_set_new(o, "f_cnt", json_integer(db_col_int64(st, 5)));
  json_object_set_new(o, "frequency", lgs_int_or_null(st, 6));
  json_object_set_new(o, "dr", lgs_int_or_null(st, 7));
  return o; /* keys never leave the server through the API */
}

json_t *lg_store_mcasts_json(struct lg_store *s, int64_t after_id, int limit) {
  struct db_stmt *st = db_prep(s->db, "SELECT " MCAST_COLS " FROM multicast_groups WHERE id > ?1"
                                      " ORDER BY id LIMIT ?2");
  if (st) {
    db_bind_int64(st, 1, after_id);
    db_bind_int64(st, 2, (int64_t)limit + 1);
  }
  return lgs_page_json(st, limit, 0, mcast_row);
}

json_t *lg_store_mcast_json(struct lg_store *s, int64_t id) {
  struct db_stmt *st = db_prep(s->db, "SELECT " MCAST_COLS " FROM multicast_groups WHERE id = ?1");
  if (st == NULL) return NULL;
  db_bind_int64(st, 1, id);
  json_t *o = db_step(st) == DB_ROW ? mcast_row(st) : NULL;
  db_done(st);
  if (o == NULL) return NULL;
  uint64_t devs[1024];
  size_t n = 0;
  json_t *m = json_array();
  if (lg_store_mcast_members(s, id, devs, LG_ARRAY_LEN(devs), &n) == 0)
    for (size_t i = 0; i < n; i++) {
      char h[17];
      lgs_eui_hex(devs[i], h);
      json_array_append_new(m, json_string(h));
    }
  json_object_set_new(o, "devices", m);
  return o;
}
