/*
 * The SQLite implementation of store.h. WAL mode, synchronous=NORMAL (a crash loses at
 * most the last transactions, never corrupts), a busy timeout so the server's and the
 * API's connections wait for each other instead of failing. Schema changes are numbered
 * migrations recorded in `schema_version`.
 */
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"
#include "util/util.h"

#define STMT_CACHE 48

struct lg_store {
  sqlite3 *db;
  bool in_tx; /* inside lg_store_begin() */
  /* Prepared statements, keyed by their SQL text's address (each is a literal at one
   * call site): preparing costs more than running most of them. */
  struct {
    const char *sql;
    sqlite3_stmt *st;
  } cache[STMT_CACHE];
};

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
};

static int exec(struct lg_store *s, const char *sql) {
  return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : LG_EIO;
}

static int migrate(struct lg_store *s, char *why, size_t why_len) {
  if (exec(s, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")) goto fail;
  sqlite3_stmt *st = NULL;
  int version = 0;
  if (sqlite3_prepare_v2(s->db, "SELECT MAX(version) FROM schema_version", -1, &st, NULL) !=
      SQLITE_OK)
    goto fail;
  if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  for (int v = version; v < (int)LG_ARRAY_LEN(migrations); v++) {
    char bump[64];
    snprintf(bump, sizeof(bump), "INSERT INTO schema_version VALUES (%d)", v + 1);
    if (exec(s, "BEGIN IMMEDIATE") || exec(s, migrations[v]) || exec(s, bump) ||
        exec(s, "COMMIT")) {
      exec(s, "ROLLBACK");
      goto fail;
    }
  }
  return 0;
fail:
  snprintf(why, why_len, "schema migration failed: %s", sqlite3_errmsg(s->db));
  return LG_EIO;
}

int lg_store_open(struct lg_store **out, const char *path, char *why, size_t why_len) {
  struct lg_store *s = calloc(1, sizeof(*s));
  if (s == NULL) return LG_ENOMEM;
  if (sqlite3_open_v2(path, &s->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    snprintf(why, why_len, "cannot open database %s: %s", path,
             s->db ? sqlite3_errmsg(s->db) : "no memory");
    lg_store_close(s);
    return LG_EIO;
  }
  sqlite3_busy_timeout(s->db, 5000);
  if (exec(s, "PRAGMA journal_mode=WAL") || exec(s, "PRAGMA synchronous=NORMAL") ||
      exec(s, "PRAGMA foreign_keys=ON")) {
    snprintf(why, why_len, "database %s: %s", path, sqlite3_errmsg(s->db));
    lg_store_close(s);
    return LG_EIO;
  }
  int rc = migrate(s, why, why_len);
  if (rc) {
    lg_store_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

void lg_store_close(struct lg_store *s) {
  if (s == NULL) return;
  for (int i = 0; i < STMT_CACHE; i++)
    sqlite3_finalize(s->cache[i].st);
  sqlite3_close(s->db);
  free(s);
}

/* ---- helpers -------------------------------------------------------------------- */

static void eui_hex(uint64_t v, char out[17]) {
  snprintf(out, 17, "%016llx", (unsigned long long)v);
}

static uint64_t eui_from(sqlite3_stmt *st, int col) {
  const char *t = (const char *)sqlite3_column_text(st, col);
  return t ? strtoull(t, NULL, 16) : 0;
}

static void key_hex(const uint8_t k[16], char out[33]) {
  lg_hex_encode(k, 16, out, 33);
}

static void key_from(sqlite3_stmt *st, int col, uint8_t k[16]) {
  const char *t = (const char *)sqlite3_column_text(st, col);
  size_t n = 0;
  memset(k, 0, 16);
  if (t) lg_hex_decode(t, strlen(t), k, 16, &n);
}

static sqlite3_stmt *prep(struct lg_store *s, const char *sql) {
  for (int i = 0; i < STMT_CACHE; i++) {
    if (s->cache[i].sql == sql) return s->cache[i].st;
    if (s->cache[i].sql != NULL) continue;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
      return NULL;
    s->cache[i].sql = sql;
    s->cache[i].st = st;
    return st;
  }
  return NULL; /* more call sites than the cache: raise STMT_CACHE */
}

/* Gives a statement back to the cache: reset, bindings cleared. */
static void release(sqlite3_stmt *st) {
  if (st == NULL) return;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

static int step_done(sqlite3_stmt *st) {
  int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
  release(st);
  return rc == SQLITE_DONE ? 0 : LG_EIO;
}

static void bind_eui(sqlite3_stmt *st, int i, uint64_t eui) {
  char h[17];
  eui_hex(eui, h);
  sqlite3_bind_text(st, i, h, -1, SQLITE_TRANSIENT);
}

static void bind_opt_real(sqlite3_stmt *st, int i, bool has, double v) {
  if (has)
    sqlite3_bind_double(st, i, v);
  else
    sqlite3_bind_null(st, i);
}

int lg_store_begin(struct lg_store *s) {
  if (s->in_tx) return 0;
  if (exec(s, "BEGIN IMMEDIATE")) return LG_EIO;
  s->in_tx = true;
  return 0;
}

int lg_store_commit(struct lg_store *s) {
  if (!s->in_tx) return 0;
  s->in_tx = false;
  if (exec(s, "COMMIT") == 0) return 0;
  exec(s, "ROLLBACK");
  return LG_EIO;
}

/* ---- gateways ------------------------------------------------------------------- */

int lg_store_gateway_put(struct lg_store *s, const struct lg_gateway_rec *g) {
  sqlite3_stmt *st = prep(
      s, "INSERT INTO gateways (gateway_eui, name, latitude, longitude, altitude,"
         " timing_offset_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(gateway_eui) DO UPDATE"
         " SET name = ?2, latitude = ?3, longitude = ?4, altitude = ?5, timing_offset_ns = ?6");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, g->eui);
  sqlite3_bind_text(st, 2, g->name, -1, SQLITE_TRANSIENT);
  bind_opt_real(st, 3, g->has_position, g->lat_deg);
  bind_opt_real(st, 4, g->has_position, g->lon_deg);
  bind_opt_real(st, 5, g->has_position, g->alt_m);
  sqlite3_bind_double(st, 6, g->timing_offset_ns);
  return step_done(st);
}

int lg_store_gateway_get(struct lg_store *s, uint64_t eui, struct lg_gateway_rec *g) {
  sqlite3_stmt *st = prep(s, "SELECT name, latitude, longitude, altitude, stat_latitude,"
                             " stat_longitude, stat_altitude, timing_offset_ns FROM gateways"
                             " WHERE gateway_eui = ?1");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, eui);
  int rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    release(st);
    return rc == SQLITE_DONE ? LG_ENOTFOUND : LG_EIO;
  }
  memset(g, 0, sizeof(*g));
  g->eui = eui;
  snprintf(g->name, sizeof(g->name), "%s", (const char *)sqlite3_column_text(st, 0));
  /* The provisioned position wins; the one from the gateway's GPS (stat) fills in. */
  int col = sqlite3_column_type(st, 1) != SQLITE_NULL   ? 1
            : sqlite3_column_type(st, 4) != SQLITE_NULL ? 4
                                                        : -1;
  if (col > 0) {
    g->has_position = true;
    g->lat_deg = sqlite3_column_double(st, col);
    g->lon_deg = sqlite3_column_double(st, col + 1);
    g->alt_m = sqlite3_column_double(st, col + 2);
  }
  g->timing_offset_ns = sqlite3_column_double(st, 7);
  release(st);
  return 0;
}

int lg_store_gateway_delete(struct lg_store *s, uint64_t eui) {
  sqlite3_stmt *st = prep(s, "DELETE FROM gateways WHERE gateway_eui = ?1");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, eui);
  int rc = step_done(st);
  return rc ? rc : sqlite3_changes(s->db) ? 0 : LG_ENOTFOUND;
}

int lg_store_gateway_seen(struct lg_store *s, uint64_t eui, int64_t now_ns, int rx_packets,
                          bool has_stat_pos, double lat, double lon, double alt) {
  sqlite3_stmt *st = prep(s, "UPDATE gateways SET last_seen_ns = ?2, rx_packets = rx_packets + ?3,"
                             " stat_latitude = COALESCE(?4, stat_latitude),"
                             " stat_longitude = COALESCE(?5, stat_longitude),"
                             " stat_altitude = COALESCE(?6, stat_altitude) WHERE gateway_eui = ?1");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, eui);
  sqlite3_bind_int64(st, 2, now_ns);
  sqlite3_bind_int(st, 3, rx_packets);
  bind_opt_real(st, 4, has_stat_pos, lat);
  bind_opt_real(st, 5, has_stat_pos, lon);
  bind_opt_real(st, 6, has_stat_pos, alt);
  return step_done(st);
}

static json_t *real_or_null(sqlite3_stmt *st, int col) {
  return sqlite3_column_type(st, col) == SQLITE_NULL ? json_null()
                                                     : json_real(sqlite3_column_double(st, col));
}

static json_t *int_or_null(sqlite3_stmt *st, int col) {
  return sqlite3_column_type(st, col) == SQLITE_NULL ? json_null()
                                                     : json_integer(sqlite3_column_int64(st, col));
}

static json_t *gateway_row(sqlite3_stmt *st) {
  json_t *o = json_object();
  json_object_set_new(o, "gateway_eui", json_string((const char *)sqlite3_column_text(st, 0)));
  json_object_set_new(o, "name", json_string((const char *)sqlite3_column_text(st, 1)));
  json_object_set_new(o, "latitude", real_or_null(st, 2));
  json_object_set_new(o, "longitude", real_or_null(st, 3));
  json_object_set_new(o, "altitude", real_or_null(st, 4));
  json_object_set_new(o, "last_seen_ns", int_or_null(st, 5));
  json_object_set_new(o, "rx_packets", json_integer(sqlite3_column_int64(st, 6)));
  json_object_set_new(o, "timing_offset_ns", json_real(sqlite3_column_double(st, 7)));
  return o;
}

#define GATEWAY_COLS                                                                               \
  "gateway_eui, name, COALESCE(latitude, stat_latitude),"                                          \
  " COALESCE(longitude, stat_longitude), COALESCE(altitude, stat_altitude), last_seen_ns, "        \
  "rx_packets, timing_offset_ns"

/* {"items": [row...]} of every row of a prepared statement, or one row (NULL when none),
 * each built by `row`. */
static json_t *rows_json(sqlite3_stmt *st, json_t *(*row)(sqlite3_stmt *)) {
  json_t *items = json_array();
  while (st && sqlite3_step(st) == SQLITE_ROW)
    json_array_append_new(items, row(st));
  release(st);
  json_t *o = json_object();
  json_object_set_new(o, "items", items);
  return o;
}

static json_t *one_row_json(sqlite3_stmt *st, uint64_t eui, json_t *(*row)(sqlite3_stmt *)) {
  if (st == NULL) return NULL;
  bind_eui(st, 1, eui);
  json_t *o = sqlite3_step(st) == SQLITE_ROW ? row(st) : NULL;
  release(st);
  return o;
}

/* {"items": [...]} of a device's rows, newest first: the statement takes the DevEUI as ?1
 * and the limit as ?2; `row` builds each item. */
static json_t *device_rows_json(sqlite3_stmt *st, uint64_t dev_eui, int limit,
                                json_t *(*row)(sqlite3_stmt *)) {
  if (st) {
    bind_eui(st, 1, dev_eui);
    sqlite3_bind_int(st, 2, limit);
  }
  return rows_json(st, row);
}

json_t *lg_store_gateways_json(struct lg_store *s) {
  return rows_json(prep(s, "SELECT " GATEWAY_COLS " FROM gateways ORDER BY gateway_eui"),
                   gateway_row);
}

json_t *lg_store_gateway_json(struct lg_store *s, uint64_t eui) {
  return one_row_json(prep(s, "SELECT " GATEWAY_COLS " FROM gateways WHERE gateway_eui = ?1"), eui,
                      gateway_row);
}

/* ---- devices -------------------------------------------------------------------- */

#define DEVICE_COLS                                                                                \
  "dev_eui, name, adr, otaa, join_eui, app_key, has_session, dev_addr,"                            \
  " nwk_s_key, app_s_key, fcnt_up_next, fcnt_down, join_nonce, fcnt_resets_allowed,"               \
  " battery, margin, last_seen_ns, tx_power_index, nb_trans, adr_pending_dr, adr_pending_txp,"     \
  " adr_pending_nb"

static void device_from(sqlite3_stmt *st, struct lg_device_rec *d) {
  memset(d, 0, sizeof(*d));
  d->dev_eui = eui_from(st, 0);
  snprintf(d->name, sizeof(d->name), "%s", (const char *)sqlite3_column_text(st, 1));
  snprintf(d->adr, sizeof(d->adr), "%s", (const char *)sqlite3_column_text(st, 2));
  d->otaa = sqlite3_column_int(st, 3);
  d->join_eui = eui_from(st, 4);
  key_from(st, 5, d->app_key);
  d->has_session = sqlite3_column_int(st, 6);
  d->dev_addr = (uint32_t)sqlite3_column_int64(st, 7);
  key_from(st, 8, d->nwk_s_key);
  key_from(st, 9, d->app_s_key);
  d->fcnt_up_next = (uint32_t)sqlite3_column_int64(st, 10);
  d->fcnt_down = (uint32_t)sqlite3_column_int64(st, 11);
  d->join_nonce = (uint32_t)sqlite3_column_int64(st, 12);
  d->fcnt_resets_allowed = sqlite3_column_int(st, 13);
  d->tx_power_index = sqlite3_column_int(st, 17);
  d->nb_trans = sqlite3_column_int(st, 18);
  d->has_adr_pending = sqlite3_column_type(st, 19) != SQLITE_NULL;
  d->adr_pending_dr = sqlite3_column_int(st, 19);
  d->adr_pending_tx_power_index = sqlite3_column_int(st, 20);
  d->adr_pending_nb_trans = sqlite3_column_int(st, 21);
}

int lg_store_device_put(struct lg_store *s, const struct lg_device_rec *d) {
  sqlite3_stmt *st =
      prep(s, "INSERT OR REPLACE INTO devices (dev_eui, name, adr, otaa, join_eui,"
              " app_key, has_session, dev_addr, nwk_s_key, app_s_key, fcnt_up_next,"
              " fcnt_down, join_nonce, fcnt_resets_allowed)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
  if (st == NULL) return LG_EIO;
  char k1[33], k2[33], k3[33];
  bind_eui(st, 1, d->dev_eui);
  sqlite3_bind_text(st, 2, d->name, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 3, d->adr[0] ? d->adr : "off", -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 4, d->otaa);
  if (d->otaa) {
    bind_eui(st, 5, d->join_eui);
    key_hex(d->app_key, k1);
    sqlite3_bind_text(st, 6, k1, -1, SQLITE_TRANSIENT);
  }
  sqlite3_bind_int(st, 7, d->has_session);
  if (d->has_session) {
    sqlite3_bind_int64(st, 8, d->dev_addr);
    key_hex(d->nwk_s_key, k2);
    key_hex(d->app_s_key, k3);
    sqlite3_bind_text(st, 9, k2, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 10, k3, -1, SQLITE_TRANSIENT);
  }
  sqlite3_bind_int64(st, 11, d->fcnt_up_next);
  sqlite3_bind_int64(st, 12, d->fcnt_down);
  sqlite3_bind_int64(st, 13, d->join_nonce);
  sqlite3_bind_int(st, 14, d->fcnt_resets_allowed);
  return step_done(st);
}

int lg_store_device_get(struct lg_store *s, uint64_t dev_eui, struct lg_device_rec *d) {
  sqlite3_stmt *st = prep(s, "SELECT " DEVICE_COLS " FROM devices WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, dev_eui);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) device_from(st, d);
  release(st);
  return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? LG_ENOTFOUND : LG_EIO;
}

int lg_store_device_delete(struct lg_store *s, uint64_t dev_eui) {
  sqlite3_stmt *st = prep(s, "DELETE FROM devices WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, dev_eui);
  int rc = step_done(st);
  return rc ? rc : sqlite3_changes(s->db) ? 0 : LG_ENOTFOUND;
}

int lg_store_devices_by_addr(struct lg_store *s, uint32_t dev_addr, struct lg_device_rec *out,
                             size_t cap, size_t *n) {
  sqlite3_stmt *st =
      prep(s, "SELECT " DEVICE_COLS " FROM devices WHERE dev_addr = ?1 AND has_session = 1");
  if (st == NULL) return LG_EIO;
  sqlite3_bind_int64(st, 1, dev_addr);
  *n = 0;
  while (*n < cap && sqlite3_step(st) == SQLITE_ROW)
    device_from(st, &out[(*n)++]);
  release(st);
  return 0;
}

static json_t *device_row(sqlite3_stmt *st) {
  json_t *o = json_object();
  json_object_set_new(o, "dev_eui", json_string((const char *)sqlite3_column_text(st, 0)));
  json_object_set_new(o, "name", json_string((const char *)sqlite3_column_text(st, 1)));
  json_object_set_new(o, "adr", json_string((const char *)sqlite3_column_text(st, 2)));
  json_object_set_new(o, "activation", json_string(sqlite3_column_int(st, 3) ? "otaa" : "abp"));
  if (sqlite3_column_type(st, 4) != SQLITE_NULL)
    json_object_set_new(o, "join_eui", json_string((const char *)sqlite3_column_text(st, 4)));
  if (sqlite3_column_int(st, 6)) {
    char addr[9];
    snprintf(addr, sizeof(addr), "%08llx", (unsigned long long)sqlite3_column_int64(st, 7));
    json_object_set_new(o, "dev_addr", json_string(addr));
    json_object_set_new(o, "f_cnt_up_next", json_integer(sqlite3_column_int64(st, 10)));
    json_object_set_new(o, "f_cnt_down_next", json_integer(sqlite3_column_int64(st, 11)));
  } else {
    json_object_set_new(o, "dev_addr", json_null());
  }
  json_object_set_new(o, "fcnt_resets_allowed", json_boolean(sqlite3_column_int(st, 13)));
  json_object_set_new(o, "battery", int_or_null(st, 14));
  json_object_set_new(o, "margin_db", int_or_null(st, 15));
  json_object_set_new(o, "last_seen_ns", int_or_null(st, 16));
  json_object_set_new(o, "tx_power_index", json_integer(sqlite3_column_int(st, 17)));
  json_object_set_new(o, "nb_trans", json_integer(sqlite3_column_int(st, 18)));
  if (sqlite3_column_type(st, 19) != SQLITE_NULL) {
    json_t *p = json_object();
    json_object_set_new(p, "dr", json_integer(sqlite3_column_int(st, 19)));
    json_object_set_new(p, "tx_power_index", json_integer(sqlite3_column_int(st, 20)));
    json_object_set_new(p, "nb_trans", json_integer(sqlite3_column_int(st, 21)));
    json_object_set_new(o, "adr_pending", p);
  } else {
    json_object_set_new(o, "adr_pending", json_null());
  }
  return o; /* keys never leave the server through the API */
}

json_t *lg_store_devices_json(struct lg_store *s) {
  return rows_json(prep(s, "SELECT " DEVICE_COLS " FROM devices ORDER BY dev_eui"), device_row);
}

json_t *lg_store_device_json(struct lg_store *s, uint64_t dev_eui) {
  return one_row_json(prep(s, "SELECT " DEVICE_COLS " FROM devices WHERE dev_eui = ?1"), dev_eui,
                      device_row);
}

int lg_store_fcnt_up_cas(struct lg_store *s, uint64_t dev_eui, uint32_t expected, uint32_t fcnt) {
  sqlite3_stmt *st = prep(s, "UPDATE devices SET fcnt_up_next = ?3"
                             " WHERE dev_eui = ?1 AND fcnt_up_next = ?2");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, dev_eui);
  sqlite3_bind_int64(st, 2, expected);
  sqlite3_bind_int64(st, 3, (uint32_t)(fcnt + 1));
  int rc = step_done(st);
  return rc ? rc : sqlite3_changes(s->db) == 1 ? 0 : LG_EBUSY;
}

int lg_store_fcnt_down_take(struct lg_store *s, uint64_t dev_eui, uint32_t *fcnt) {
  sqlite3_stmt *st = prep(s, "UPDATE devices SET fcnt_down = fcnt_down + 1 WHERE dev_eui = ?1"
                             " RETURNING fcnt_down - 1");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, dev_eui);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *fcnt = (uint32_t)sqlite3_column_int64(st, 0);
  release(st);
  return rc == SQLITE_ROW ? 0 : LG_ENOTFOUND;
}

int lg_store_devnonce_use(struct lg_store *s, uint64_t dev_eui, uint16_t dev_nonce) {
  sqlite3_stmt *st = prep(s, "INSERT INTO dev_nonces (dev_eui, dev_nonce) VALUES (?1, ?2)");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, dev_eui);
  sqlite3_bind_int(st, 2, dev_nonce);
  int rc = sqlite3_step(st);
  release(st);
  if (rc == SQLITE_DONE) return 0;
  return (rc & 0xff) == SQLITE_CONSTRAINT ? LG_EEXIST : LG_EIO;
}

int lg_store_activation_add(struct lg_store *s, uint64_t dev_eui, uint32_t dev_addr,
                            uint32_t join_nonce, uint16_t dev_nonce, int64_t now_ns) {
  sqlite3_stmt *st =
      prep(s, "INSERT INTO activations (dev_eui, dev_addr, join_nonce, dev_nonce, created_ns)"
              " VALUES (?1, ?2, ?3, ?4, ?5)");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, dev_eui);
  sqlite3_bind_int64(st, 2, dev_addr);
  sqlite3_bind_int64(st, 3, join_nonce);
  sqlite3_bind_int(st, 4, dev_nonce);
  sqlite3_bind_int64(st, 5, now_ns);
  return step_done(st);
}

int lg_store_activate(struct lg_store *s, uint64_t dev_eui, uint32_t dev_addr, uint32_t join_nonce,
                      const uint8_t nwk_s_key[16], const uint8_t app_s_key[16]) {
  sqlite3_stmt *st = prep(s, "UPDATE devices SET has_session = 1, dev_addr = ?2, join_nonce = ?3,"
                             " nwk_s_key = ?4, app_s_key = ?5, fcnt_up_next = 0, fcnt_down = 0"
                             " WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  char k1[33], k2[33];
  key_hex(nwk_s_key, k1);
  key_hex(app_s_key, k2);
  bind_eui(st, 1, dev_eui);
  sqlite3_bind_int64(st, 2, dev_addr);
  sqlite3_bind_int64(st, 3, join_nonce);
  sqlite3_bind_text(st, 4, k1, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 5, k2, -1, SQLITE_TRANSIENT);
  return step_done(st);
}

int lg_store_dev_addr_used(struct lg_store *s, uint32_t dev_addr, bool *used) {
  sqlite3_stmt *st =
      prep(s, "SELECT 1 FROM devices WHERE dev_addr = ?1 AND has_session = 1 LIMIT 1");
  if (st == NULL) return LG_EIO;
  sqlite3_bind_int64(st, 1, dev_addr);
  *used = sqlite3_step(st) == SQLITE_ROW;
  release(st);
  return 0;
}

int lg_store_device_status(struct lg_store *s, uint64_t dev_eui, int battery, int margin_db) {
  sqlite3_stmt *st = prep(s, "UPDATE devices SET battery = ?2, margin = ?3 WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, dev_eui);
  sqlite3_bind_int(st, 2, battery);
  sqlite3_bind_int(st, 3, margin_db);
  return step_done(st);
}

/* ---- uplinks -------------------------------------------------------------------- */

static int insert_reception(struct lg_store *s, int64_t uplink_id, const struct lg_reception_rec *r,
                            bool late) {
  sqlite3_stmt *st =
      prep(s, "INSERT INTO receptions (uplink_id, gateway_eui, time_ns, sigma_ns, tmst,"
              " tmms, ftime, rssi, snr, channel, rf_chain, antennas, frequency, latitude,"
              " longitude, altitude, late, received_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
              " ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)");
  if (st == NULL) return LG_EIO;
  sqlite3_bind_int64(st, 1, uplink_id);
  bind_eui(st, 2, r->gateway_eui);
  if (r->has_time) {
    sqlite3_bind_int64(st, 3, r->time_ns);
    sqlite3_bind_double(st, 4, r->sigma_ns);
  }
  if (r->has_tmst) sqlite3_bind_int64(st, 5, r->tmst);
  if (r->has_tmms) sqlite3_bind_int64(st, 6, r->tmms_ms);
  if (r->has_ftime) sqlite3_bind_int64(st, 7, r->ftime_ns);
  sqlite3_bind_double(st, 8, r->rssi_dbm);
  sqlite3_bind_double(st, 9, r->snr_db);
  sqlite3_bind_int(st, 10, r->channel);
  sqlite3_bind_int(st, 11, r->rf_chain);
  sqlite3_bind_int(st, 12, r->antennas);
  sqlite3_bind_int64(st, 13, r->freq_hz);
  bind_opt_real(st, 14, r->has_position, r->lat_deg);
  bind_opt_real(st, 15, r->has_position, r->lon_deg);
  bind_opt_real(st, 16, r->has_position, r->alt_m);
  sqlite3_bind_int(st, 17, late);
  sqlite3_bind_int64(st, 18, r->received_ns);
  int rc = step_done(st);
  if (rc || r->n_ant == 0) return rc;
  int64_t rx_id = sqlite3_last_insert_rowid(s->db);
  sqlite3_stmt *a =
      prep(s, "INSERT INTO reception_antennas (reception_id, antenna, channel, rssi, snr, ftime)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  for (size_t k = 0; a && rc == 0 && k < r->n_ant && k < 8; k++) {
    sqlite3_bind_int64(a, 1, rx_id);
    sqlite3_bind_int(a, 2, r->ant[k].ant);
    sqlite3_bind_int(a, 3, r->ant[k].chan);
    bind_opt_real(a, 4, r->ant[k].has_rssi, r->ant[k].rssi_dbm);
    bind_opt_real(a, 5, r->ant[k].has_snr, r->ant[k].snr_db);
    if (r->ant[k].has_ftime) sqlite3_bind_int64(a, 6, r->ant[k].ftime_ns);
    rc = step_done(a);
  }
  return a ? rc : LG_EIO;
}

int lg_store_uplink_add(struct lg_store *s, const struct lg_uplink_rec *u,
                        const struct lg_reception_rec *rx, size_t n, int64_t *id) {
  /* A savepoint: its own transaction alone, nested inside a batch (lg_store_begin), so a
   * failed uplink is undone without undoing the batch's others. */
  if (exec(s, "SAVEPOINT uplink")) return LG_EIO;
  sqlite3_stmt *st =
      prep(s, "INSERT INTO uplinks (dev_eui, dev_addr, f_cnt, f_port, data, confirmed,"
              " adr, dr, frequency, phy, received_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
              " ?8, ?9, ?10, ?11)");
  int rc = LG_EIO;
  if (st) {
    bind_eui(st, 1, u->dev_eui);
    sqlite3_bind_int64(st, 2, u->dev_addr);
    sqlite3_bind_int64(st, 3, u->f_cnt);
    if (u->f_port >= 0) sqlite3_bind_int(st, 4, u->f_port);
    sqlite3_bind_blob(st, 5, u->data, (int)u->data_len, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 6, u->confirmed);
    sqlite3_bind_int(st, 7, u->adr);
    sqlite3_bind_int(st, 8, u->dr);
    sqlite3_bind_int64(st, 9, u->freq_hz);
    sqlite3_bind_blob(st, 10, u->phy, (int)u->phy_len, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 11, u->received_ns);
    sqlite3_bind_int(st, 12, u->tx_power_index);
    rc = step_done(st);
  }
  if (rc == 0) *id = sqlite3_last_insert_rowid(s->db);
  for (size_t i = 0; rc == 0 && i < n; i++)
    rc = insert_reception(s, *id, &rx[i], false);
  if (rc == 0) {
    sqlite3_stmt *seen = prep(s, "UPDATE devices SET last_seen_ns = ?2 WHERE dev_eui = ?1");
    if (seen) {
      bind_eui(seen, 1, u->dev_eui);
      sqlite3_bind_int64(seen, 2, u->received_ns);
      rc = step_done(seen);
    }
  }
  if (rc == 0 && exec(s, "RELEASE uplink") == 0) return 0;
  exec(s, "ROLLBACK TO uplink");
  exec(s, "RELEASE uplink");
  return LG_EIO;
}

int lg_store_reception_add(struct lg_store *s, int64_t uplink_id, const struct lg_reception_rec *r,
                           bool late) {
  return insert_reception(s, uplink_id, r, late);
}

json_t *lg_store_uplinks_json(struct lg_store *s, uint64_t dev_eui, int limit) {
  sqlite3_stmt *st =
      prep(s, "SELECT id, dev_eui, dev_addr, f_cnt, f_port, data, confirmed, adr, dr,"
              " frequency, received_ns FROM uplinks WHERE dev_eui = ?1"
              " ORDER BY id DESC LIMIT ?2");
  sqlite3_stmt *rs =
      prep(s, "SELECT gateway_eui, time_ns, tmst, rssi, snr, channel, latitude,"
              " longitude, altitude, late, sigma_ns, id FROM receptions WHERE uplink_id = ?1"
              " ORDER BY id");
  sqlite3_stmt *as = prep(s, "SELECT antenna, channel, rssi, snr, ftime FROM reception_antennas"
                             " WHERE reception_id = ?1");
  json_t *items = json_array();
  if (st && rs && as) {
    bind_eui(st, 1, dev_eui);
    sqlite3_bind_int(st, 2, limit);
    while (sqlite3_step(st) == SQLITE_ROW) {
      json_t *o = json_object();
      char addr[9], b64[400];
      snprintf(addr, sizeof(addr), "%08llx", (unsigned long long)sqlite3_column_int64(st, 2));
      EVP_EncodeBlock((unsigned char *)b64, sqlite3_column_blob(st, 5),
                      sqlite3_column_bytes(st, 5));
      json_object_set_new(o, "dev_eui", json_string((const char *)sqlite3_column_text(st, 1)));
      json_object_set_new(o, "dev_addr", json_string(addr));
      json_object_set_new(o, "f_cnt", json_integer(sqlite3_column_int64(st, 3)));
      json_object_set_new(o, "f_port", int_or_null(st, 4));
      json_object_set_new(o, "data", json_string(b64));
      json_object_set_new(o, "confirmed", json_boolean(sqlite3_column_int(st, 6)));
      json_object_set_new(o, "adr", json_boolean(sqlite3_column_int(st, 7)));
      json_object_set_new(o, "dr", json_integer(sqlite3_column_int(st, 8)));
      json_object_set_new(o, "frequency", json_integer(sqlite3_column_int64(st, 9)));
      json_object_set_new(o, "received_ns", json_integer(sqlite3_column_int64(st, 10)));
      json_t *rx = json_array();
      sqlite3_reset(rs);
      sqlite3_bind_int64(rs, 1, sqlite3_column_int64(st, 0));
      while (sqlite3_step(rs) == SQLITE_ROW) {
        json_t *r = json_object();
        json_object_set_new(r, "gateway_eui",
                            json_string((const char *)sqlite3_column_text(rs, 0)));
        if (sqlite3_column_type(rs, 1) != SQLITE_NULL) {
          int64_t t = sqlite3_column_int64(rs, 1);
          char when[48];
          time_t secs = (time_t)(t / 1000000000LL);
          struct tm tm;
          gmtime_r(&secs, &tm);
          size_t k = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
          snprintf(when + k, sizeof(when) - k, ".%09lldZ", (long long)(t % 1000000000LL));
          json_object_set_new(r, "time", json_string(when));
          json_object_set_new(r, "time_ns", json_integer(t));
          json_object_set_new(r, "time_sigma_ns", json_real(sqlite3_column_double(rs, 10)));
        }
        json_object_set_new(r, "tmst", int_or_null(rs, 2));
        json_object_set_new(r, "rssi", json_real(sqlite3_column_double(rs, 3)));
        json_object_set_new(r, "snr", json_real(sqlite3_column_double(rs, 4)));
        json_object_set_new(r, "channel", json_integer(sqlite3_column_int(rs, 5)));
        json_object_set_new(r, "latitude", real_or_null(rs, 6));
        json_object_set_new(r, "longitude", real_or_null(rs, 7));
        json_object_set_new(r, "altitude", real_or_null(rs, 8));
        json_object_set_new(r, "late", json_boolean(sqlite3_column_int(rs, 9)));
        json_t *ants = json_array(); /* each antenna's own measure, when the gateway gave them */
        sqlite3_reset(as);
        sqlite3_bind_int64(as, 1, sqlite3_column_int64(rs, 11));
        while (sqlite3_step(as) == SQLITE_ROW) {
          json_t *a = json_object();
          json_object_set_new(a, "antenna", json_integer(sqlite3_column_int(as, 0)));
          json_object_set_new(a, "channel", json_integer(sqlite3_column_int(as, 1)));
          json_object_set_new(a, "rssi", real_or_null(as, 2));
          json_object_set_new(a, "snr", real_or_null(as, 3));
          json_object_set_new(a, "ftime", int_or_null(as, 4));
          json_array_append_new(ants, a);
        }
        json_object_set_new(r, "antennas", ants);
        json_array_append_new(rx, r);
      }
      json_object_set_new(o, "rx_info", rx);
      json_array_append_new(items, o);
    }
  }
  release(st);
  release(as);
  release(rs);
  json_t *o = json_object();
  json_object_set_new(o, "items", items);
  return o;
}

int lg_store_location_add(struct lg_store *s, const struct lg_location_rec *l) {
  sqlite3_stmt *st =
      prep(s, "INSERT INTO locations (uplink_id, dev_eui, f_cnt, latitude, longitude,"
              " altitude, accuracy_m, gdop, method, gateways, created_ns) VALUES (?1,"
              " ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  if (st == NULL) return LG_EIO;
  sqlite3_bind_int64(st, 1, l->uplink_id);
  bind_eui(st, 2, l->dev_eui);
  sqlite3_bind_int64(st, 3, l->f_cnt);
  sqlite3_bind_double(st, 4, l->lat_deg);
  sqlite3_bind_double(st, 5, l->lon_deg);
  sqlite3_bind_double(st, 6, l->alt_m);
  sqlite3_bind_double(st, 7, l->accuracy_m);
  bind_opt_real(st, 8, l->gdop == l->gdop, l->gdop);
  sqlite3_bind_text(st, 9, l->method, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 10, l->gateways);
  sqlite3_bind_int64(st, 11, l->created_ns);
  return step_done(st);
}

static json_t *locations_row(sqlite3_stmt *st) {
  json_t *o = json_object();
  json_object_set_new(o, "latitude", json_real(sqlite3_column_double(st, 0)));
  json_object_set_new(o, "longitude", json_real(sqlite3_column_double(st, 1)));
  json_object_set_new(o, "altitude", json_real(sqlite3_column_double(st, 2)));
  json_object_set_new(o, "accuracy_m", json_real(sqlite3_column_double(st, 3)));
  json_object_set_new(o, "method", json_string((const char *)sqlite3_column_text(st, 4)));
  json_object_set_new(o, "gateways", json_integer(sqlite3_column_int(st, 5)));
  json_object_set_new(o, "f_cnt", json_integer(sqlite3_column_int64(st, 6)));
  json_object_set_new(o, "gdop", real_or_null(st, 7));
  json_object_set_new(o, "uplink_id", json_integer(sqlite3_column_int64(st, 8)));
  json_object_set_new(o, "created_ns", json_integer(sqlite3_column_int64(st, 9)));
  return o;
}

json_t *lg_store_locations_json(struct lg_store *s, uint64_t dev_eui, int limit) {
  return device_rows_json(
      prep(s, "SELECT latitude, longitude, altitude, accuracy_m, method, gateways, f_cnt,"
              " gdop, uplink_id, created_ns FROM locations WHERE dev_eui = ?1"
              " ORDER BY id DESC LIMIT ?2"),
      dev_eui, limit, locations_row);
}

/* Every located device (with since_id > 0: those located after that location id) with its
 * latest position and its last `per_device` positions as [lat, lon] pairs, newest first,
 * and "last_id" (the web map; compact, as it may carry every device). */
json_t *lg_store_tracks_json(struct lg_store *s, int per_device, int64_t since_id) {
#define TRACKS(filter)                                                                             \
  "SELECT l.dev_eui, COALESCE(d.name, ''), l.latitude, l.longitude, l.accuracy_m, l.method,"       \
  " l.created_ns FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY dev_eui ORDER BY id DESC) AS rn"  \
  " FROM locations " filter ") l LEFT JOIN devices d ON d.dev_eui = l.dev_eui WHERE l.rn <= ?1"    \
  " ORDER BY l.dev_eui, l.id DESC"
  sqlite3_stmt *st =
      since_id > 0
          ? prep(s, TRACKS("WHERE dev_eui IN (SELECT dev_eui FROM locations WHERE id > ?2)"))
          : prep(s, TRACKS(""));
#undef TRACKS
  sqlite3_stmt *last = prep(s, "SELECT COALESCE(MAX(id), 0) FROM locations");
  if (st == NULL || last == NULL) {
    release(st);
    release(last);
    return NULL;
  }
  sqlite3_bind_int(st, 1, per_device);
  if (since_id > 0) sqlite3_bind_int64(st, 2, since_id);
  int64_t last_id = sqlite3_step(last) == SQLITE_ROW ? sqlite3_column_int64(last, 0) : 0;
  release(last);
  json_t *items = json_array(), *dev = NULL;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *eui = (const char *)sqlite3_column_text(st, 0);
    double lat = round(sqlite3_column_double(st, 2) * 1e6) / 1e6; /* 0.1 m */
    double lon = round(sqlite3_column_double(st, 3) * 1e6) / 1e6;
    if (dev == NULL || strcmp(json_string_value(json_object_get(dev, "dev_eui")), eui) != 0) {
      dev = json_pack("{s:s, s:s, s:{s:f, s:f, s:f, s:s, s:I}, s:[]}", "dev_eui", eui, "name",
                      sqlite3_column_text(st, 1), "latest", "latitude", lat, "longitude", lon,
                      "accuracy_m", round(sqlite3_column_double(st, 4) * 10) / 10, "method",
                      sqlite3_column_text(st, 5), "time_ns",
                      (json_int_t)sqlite3_column_int64(st, 6), "track");
      json_array_append_new(items, dev);
    }
    json_array_append_new(json_object_get(dev, "track"), json_pack("[f, f]", lat, lon));
  }
  release(st);
  json_t *o = json_object();
  json_object_set_new(o, "items", items);
  json_object_set_new(o, "last_id", json_integer(last_id));
  return o;
}

/* ---- queue ---------------------------------------------------------------------- */

int lg_store_queue_push(struct lg_store *s, uint64_t dev_eui, int f_port, const uint8_t *data,
                        size_t len, bool confirmed) {
  sqlite3_stmt *st =
      prep(s, "INSERT INTO queue (dev_eui, f_port, data, confirmed) VALUES (?1, ?2, ?3, ?4)");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, dev_eui);
  sqlite3_bind_int(st, 2, f_port);
  sqlite3_bind_blob(st, 3, data, (int)len, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 4, confirmed);
  return step_done(st);
}

int lg_store_queue_pop(struct lg_store *s, uint64_t dev_eui, int *f_port, uint8_t *data, size_t cap,
                       size_t *len, bool *confirmed, bool *more) {
  sqlite3_stmt *st = prep(s, "SELECT id, f_port, data, confirmed FROM queue WHERE dev_eui = ?1"
                             " ORDER BY id LIMIT 2");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, dev_eui);
  if (sqlite3_step(st) != SQLITE_ROW) {
    release(st);
    return LG_ENOTFOUND;
  }
  int64_t id = sqlite3_column_int64(st, 0);
  *f_port = sqlite3_column_int(st, 1);
  size_t n = (size_t)sqlite3_column_bytes(st, 2);
  *len = n < cap ? n : cap;
  if (*len) memcpy(data, sqlite3_column_blob(st, 2), *len);
  *confirmed = sqlite3_column_int(st, 3);
  *more = sqlite3_step(st) == SQLITE_ROW;
  release(st);
  sqlite3_stmt *del = prep(s, "DELETE FROM queue WHERE id = ?1");
  if (del == NULL) return LG_EIO;
  sqlite3_bind_int64(del, 1, id);
  return step_done(del);
}

/* ---- ADR ------------------------------------------------------------------------ */

static void adr_detail(struct lg_store *s, int64_t uplink_id, struct lg_store_adr_uplink *u) {
  sqlite3_stmt *st = prep(s, "SELECT gateway_eui, latitude, longitude, rssi FROM receptions"
                             " WHERE uplink_id = ?1 AND latitude IS NOT NULL AND rssi IS NOT NULL"
                             " ORDER BY rssi DESC LIMIT 8");
  if (st != NULL) {
    sqlite3_bind_int64(st, 1, uplink_id);
    while (u->n_rx < LG_STORE_ADR_RX && sqlite3_step(st) == SQLITE_ROW) {
      u->rx[u->n_rx].gateway_eui = eui_from(st, 0);
      u->rx[u->n_rx].lat_deg = sqlite3_column_double(st, 1);
      u->rx[u->n_rx].lon_deg = sqlite3_column_double(st, 2);
      u->rx[u->n_rx++].rssi_dbm = sqlite3_column_double(st, 3);
    }
    release(st);
  }
  st = prep(s, "SELECT latitude, longitude, accuracy_m FROM locations WHERE uplink_id = ?1"
               " ORDER BY id DESC LIMIT 1");
  if (st != NULL) {
    sqlite3_bind_int64(st, 1, uplink_id);
    if (sqlite3_step(st) == SQLITE_ROW) {
      u->has_fix = true;
      u->fix_lat_deg = sqlite3_column_double(st, 0);
      u->fix_lon_deg = sqlite3_column_double(st, 1);
      u->fix_accuracy_m = sqlite3_column_double(st, 2);
    }
    release(st);
  }
}

int lg_store_adr_history(struct lg_store *s, uint64_t dev_eui, struct lg_store_adr_uplink *out,
                         size_t cap, size_t *n, bool detail) {
  sqlite3_stmt *st = prep(s, "SELECT u.f_cnt, u.dr, COALESCE(u.tx_power_index, 0), MAX(r.snr),"
                             " MAX(r.rssi), COUNT(DISTINCT r.gateway_eui), u.id, u.received_ns, length(u.phy)"
                             " FROM uplinks u JOIN receptions r ON r.uplink_id = u.id"
                             " WHERE u.dev_eui = ?1 GROUP BY u.id ORDER BY u.id DESC LIMIT ?2");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, dev_eui);
  sqlite3_bind_int(st, 2, (int)cap);
  size_t k = 0;
  int64_t ids[64];
  while (k < cap && sqlite3_step(st) == SQLITE_ROW) {
    memset(&out[k], 0, sizeof(out[k]));
    out[k].f_cnt = (uint32_t)sqlite3_column_int64(st, 0);
    out[k].dr = sqlite3_column_int(st, 1);
    out[k].tx_power_index = sqlite3_column_int(st, 2);
    out[k].max_snr_db = sqlite3_column_double(st, 3);
    out[k].max_rssi_dbm = sqlite3_column_double(st, 4);
    out[k].gateways = sqlite3_column_int(st, 5);
    out[k].received_ns = sqlite3_column_int64(st, 7);
    out[k].size = sqlite3_column_int(st, 8);
    if (k < 64) ids[k] = sqlite3_column_int64(st, 6);
    k++;
  }
  release(st);
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
  sqlite3_stmt *st = prep(s, "UPDATE devices SET adr_pending_dr = ?2, adr_pending_txp = ?3,"
                             " adr_pending_nb = ?4 WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, dev_eui);
  if (set) {
    sqlite3_bind_int(st, 2, dr);
    sqlite3_bind_int(st, 3, txp);
    sqlite3_bind_int(st, 4, nb);
  }
  return step_done(st);
}

int lg_store_adr_applied(struct lg_store *s, uint64_t dev_eui) {
  sqlite3_stmt *st =
      prep(s, "UPDATE devices SET tx_power_index = adr_pending_txp, nb_trans = adr_pending_nb,"
              " adr_pending_dr = NULL, adr_pending_txp = NULL, adr_pending_nb = NULL"
              " WHERE dev_eui = ?1 AND adr_pending_dr IS NOT NULL");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, dev_eui);
  int rc = step_done(st);
  if (rc) return rc;
  sqlite3_stmt *d =
      prep(s, "UPDATE adr_decisions SET state = 'applied' WHERE id ="
              " (SELECT MAX(id) FROM adr_decisions WHERE dev_eui = ?1 AND state = 'sent')");
  if (d == NULL) return LG_EIO;
  bind_eui(d, 1, dev_eui);
  return step_done(d);
}

int lg_store_adr_decision_add(struct lg_store *s, const struct lg_store_adr_decision *r) {
  sqlite3_stmt *st =
      prep(s, "INSERT INTO adr_decisions (dev_eui, f_cnt, algorithm, change, dr_from, dr_to,"
              " tx_power_from, tx_power_to, nb_trans_from, nb_trans_to, snr_margin_db,"
              " reason, state, created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
              " ?11, ?12, ?13, ?14)");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, r->dev_eui);
  sqlite3_bind_int64(st, 2, r->f_cnt);
  sqlite3_bind_text(st, 3, r->algorithm, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 4, r->change);
  sqlite3_bind_int(st, 5, r->dr_from);
  sqlite3_bind_int(st, 6, r->dr_to);
  sqlite3_bind_int(st, 7, r->tx_power_from);
  sqlite3_bind_int(st, 8, r->tx_power_to);
  sqlite3_bind_int(st, 9, r->nb_trans_from);
  sqlite3_bind_int(st, 10, r->nb_trans_to);
  sqlite3_bind_double(st, 11, r->snr_margin_db);
  sqlite3_bind_text(st, 12, r->reason, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 13, r->change ? "sent" : "none", -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 14, r->created_ns);
  return step_done(st);
}

static json_t *adr_row(sqlite3_stmt *st) {
  json_t *o = json_object();
  static const char *const keys[] = {"dr_from",           "dr_to",         "tx_power_index_from",
                                     "tx_power_index_to", "nb_trans_from", "nb_trans_to"};
  json_object_set_new(o, "f_cnt", json_integer(sqlite3_column_int64(st, 0)));
  json_object_set_new(o, "algorithm", json_string((const char *)sqlite3_column_text(st, 1)));
  json_object_set_new(o, "change", json_boolean(sqlite3_column_int(st, 2)));
  for (int k = 0; k < 6; k++)
    json_object_set_new(o, keys[k], json_integer(sqlite3_column_int(st, 3 + k)));
  json_object_set_new(o, "snr_margin_db", json_real(sqlite3_column_double(st, 9)));
  json_object_set_new(o, "reason", json_string((const char *)sqlite3_column_text(st, 10)));
  json_object_set_new(o, "state", json_string((const char *)sqlite3_column_text(st, 11)));
  json_object_set_new(o, "created_ns", json_integer(sqlite3_column_int64(st, 12)));
  return o;
}

json_t *lg_store_adr_json(struct lg_store *s, uint64_t dev_eui, int limit) {
  return device_rows_json(
      prep(s, "SELECT f_cnt, algorithm, change, dr_from, dr_to, tx_power_from, tx_power_to,"
              " nb_trans_from, nb_trans_to, snr_margin_db, reason, state, created_ns"
              " FROM adr_decisions WHERE dev_eui = ?1 ORDER BY id DESC LIMIT ?2"),
      dev_eui, limit, adr_row);
}

/* ---- downlinks ------------------------------------------------------------------ */

int lg_store_downlink_add(struct lg_store *s, uint64_t dev_eui, uint32_t f_cnt, int f_port,
                          bool confirmed, bool ack, size_t mac_bytes, int64_t now_ns) {
  sqlite3_stmt *st =
      prep(s, "INSERT INTO downlinks (dev_eui, f_cnt, f_port, confirmed, ack, mac_bytes, state,"
              " created_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, dev_eui);
  sqlite3_bind_int64(st, 2, f_cnt);
  if (f_port >= 0) sqlite3_bind_int(st, 3, f_port);
  sqlite3_bind_int(st, 4, confirmed);
  sqlite3_bind_int(st, 5, ack);
  sqlite3_bind_int64(st, 6, (int64_t)mac_bytes);
  sqlite3_bind_text(st, 7, confirmed ? "awaiting_ack" : "sent", -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 8, now_ns);
  return step_done(st);
}

int lg_store_downlink_acked(struct lg_store *s, uint64_t dev_eui, int64_t now_ns, uint32_t *f_cnt) {
  sqlite3_stmt *st =
      prep(s, "UPDATE downlinks SET state = 'acknowledged', acked_ns = ?2 WHERE id ="
              " (SELECT MAX(id) FROM downlinks WHERE dev_eui = ?1 AND state = 'awaiting_ack')"
              " RETURNING f_cnt");
  if (st == NULL) return LG_EIO;
  bind_eui(st, 1, dev_eui);
  sqlite3_bind_int64(st, 2, now_ns);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW && f_cnt) *f_cnt = (uint32_t)sqlite3_column_int64(st, 0);
  release(st);
  return rc == SQLITE_ROW ? 0 : LG_ENOTFOUND;
}

static json_t *downlinks_row(sqlite3_stmt *st) {
  json_t *o = json_object();
  json_object_set_new(o, "f_cnt", json_integer(sqlite3_column_int64(st, 0)));
  json_object_set_new(o, "f_port", int_or_null(st, 1));
  json_object_set_new(o, "confirmed", json_boolean(sqlite3_column_int(st, 2)));
  json_object_set_new(o, "ack", json_boolean(sqlite3_column_int(st, 3)));
  json_object_set_new(o, "mac_bytes", json_integer(sqlite3_column_int(st, 4)));
  json_object_set_new(o, "state", json_string((const char *)sqlite3_column_text(st, 5)));
  json_object_set_new(o, "created_ns", int_or_null(st, 6));
  json_object_set_new(o, "acked_ns", int_or_null(st, 7));
  return o;
}

json_t *lg_store_downlinks_json(struct lg_store *s, uint64_t dev_eui, int limit) {
  return device_rows_json(
      prep(s, "SELECT f_cnt, f_port, confirmed, ack, mac_bytes, state, created_ns, acked_ns"
              " FROM downlinks WHERE dev_eui = ?1 ORDER BY id DESC LIMIT ?2"),
      dev_eui, limit, downlinks_row);
}

/* ---- events --------------------------------------------------------------------- */

int lg_store_event_add(struct lg_store *s, uint64_t dev_eui, const char *type, json_t *payload,
                       int64_t now_ns) {
  char *text = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
  json_decref(payload);
  if (text == NULL) return LG_ENOMEM;
  sqlite3_stmt *st =
      prep(s, "INSERT INTO events (dev_eui, type, payload, created_ns) VALUES (?1, ?2, ?3, ?4)");
  int rc = LG_EIO;
  if (st) {
    bind_eui(st, 1, dev_eui);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 4, now_ns);
    rc = step_done(st);
  }
  free(text);
  return rc;
}

static json_t *events_row(sqlite3_stmt *st) {
  json_error_t e;
  json_t *o = json_object();
  json_t *p = json_loads((const char *)sqlite3_column_text(st, 1), 0, &e);
  json_object_set_new(o, "type", json_string((const char *)sqlite3_column_text(st, 0)));
  json_object_set_new(o, "time_ns", json_integer(sqlite3_column_int64(st, 2)));
  json_object_set_new(o, "payload", p ? p : json_null());
  return o;
}

json_t *lg_store_events_json(struct lg_store *s, uint64_t dev_eui, int limit) {
  return device_rows_json(prep(s, "SELECT type, payload, created_ns FROM events WHERE dev_eui = ?1"
                                  " ORDER BY id DESC LIMIT ?2"),
                          dev_eui, limit, events_row);
}
