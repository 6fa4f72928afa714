/*
 * Internal to store/: what store.c shares with the store's other files (store_apps.c:
 * applications, device profiles, API keys; store_pages.c: paged lists). Nothing outside
 * store/ includes it.
 */
#ifndef LG_STORE_INT_H
#define LG_STORE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "store/db.h"
#include "store/kek.h"

struct json_t;

struct lg_store {
  struct db *db;
  struct lg_kek kek;   /* wraps device keys (kek.c); len 0: keys in clear */
  char key_error[160]; /* why a device's keys could not be read */
  bool in_tx;          /* inside lg_store_begin() */
  char commit_error[256]; /* why the last commit failed (the rollback's message would hide it) */
};

/* Devices' settings changed (a profile's, say): caches of devices are stale. */
void lgs_devices_touch(void);
void lgs_eui_hex(uint64_t v, char out[17]);
/* A keyset cursor's bound: the EUI's hex, or "" (before every EUI, 0000000000000000
 * included) when there is none. */
void lgs_after_hex(const uint64_t *after, char out[17]);
uint64_t lgs_eui_from(struct db_stmt *st, int col);
/* Runs a statement without rows: 0 or LG_EIO (the statement given back either way). */
int lgs_step_done(struct db_stmt *st);
/* Runs an INSERT ... RETURNING id: the new row's id in *id. */
int lgs_step_id(struct db_stmt *st, int64_t *id);
/* An INSERT's new id: its RETURNING row on PostgreSQL, the connection's last rowid on
 * SQLite, where the statement has no RETURNING (lgs_returning_id picks the text). */
int lgs_step_insert(struct db_stmt *st, int64_t *id);
#define lgs_returning_id(db, sql) (db_is_pg(db) ? sql " RETURNING id" : sql)
void lgs_bind_eui(struct db_stmt *st, int i, uint64_t eui);
void lgs_bind_opt_real(struct db_stmt *st, int i, bool has, double v);
struct lg_uplink_rec;
/* An uplink's columns as ?1..?15, in the order of the uplinks table's INSERTs
 * (dev_eui, dev_addr, f_cnt, f_port, data, confirmed, adr, dr, frequency, phy,
 * received_ns, tx_power_index, truth latitude, longitude, altitude). */
void lgs_bind_uplink(struct db_stmt *st, const struct lg_uplink_rec *u);
struct json_t *lgs_real_or_null(struct db_stmt *st, int col);
struct json_t *lgs_int_or_null(struct db_stmt *st, int col);
/* {"items": [row...]} of every row of a prepared statement. */
struct json_t *lgs_rows_json(struct db_stmt *st, struct json_t *(*row)(struct db_stmt *));
/* The rows of a statement run with LIMIT limit + 1, as one page: {"items": [...], "next":
 * cursor or null}. The cursor is the text of column `cursor_col` of the last item given
 * (an id or an EUI: what the list is ordered by). */
struct json_t *lgs_page_json(struct db_stmt *st, int limit, int cursor_col,
                             struct json_t *(*row)(struct db_stmt *));

/* The storage thread's rows, shared by store.c (each statement waited for) and store_pipe.c
 * (PostgreSQL's pipeline): the INSERTs' heads and their values' binding. */
#define RX_INSERT                                                                                  \
  "INSERT INTO receptions (uplink_id, gateway_eui, time_ns, sigma_ns, tmst, tmms, ftime, rssi,"   \
  " snr, channel, rf_chain, antennas, frequency, latitude, longitude, altitude, late,"            \
  " received_ns)"
enum { RX_PARAMS = 18, RX_ROWS = 4 };
#define LOCATION_INSERT                                                                            \
  "INSERT INTO locations (uplink_id, dev_eui, f_cnt, latitude, longitude, altitude, accuracy_m,"  \
  " gdop, method, gateways, created_ns, accuracy_95_m, track_latitude, track_longitude,"          \
  " track_accuracy_m, outlier)"
#define EVENT_INSERT "INSERT INTO events (dev_eui, type, payload, created_ns)"
struct lg_reception_rec;
struct lg_location_rec;
/* A reception's 18 values as parameters b + 1 .. b + 18 (the uplink's id first). */
void lgs_bind_reception(struct db_stmt *st, int b, int64_t uplink_id,
                        const struct lg_reception_rec *r, bool late);
/* A location's 16 values as parameters 1 .. 16 (the uplink's id first). */
void lgs_bind_location(struct db_stmt *st, const struct lg_location_rec *l);
/* Marks the receptions of l's uplink whose timing disagreed (l->timing_outliers). */
int lgs_location_outliers(struct lg_store *s, const struct lg_location_rec *l);
/* An event's payload as stored (compact JSON; the reference is taken), malloc'd; NULL: no
 * memory. */
char *lgs_event_text(struct json_t *payload);
/* An event row written with `sql` (EVENT_INSERT and its values ?1-?4: DevEUI, type, payload
 * text, time; ?5 bound to if_uplink when it is > 0, for a statement that writes only if
 * that uplink's row exists). */
int lgs_event_insert(struct lg_store *s, const char *sql, uint64_t dev_eui, const char *type,
                     struct json_t *payload, int64_t now_ns, int64_t if_uplink);

/* The position lg_store_gateway_get gives (stat over surveyed only with the flag). */
#define GATEWAY_POS(c)                                                                             \
  " CASE WHEN position_from_gateway <> 0 AND stat_latitude IS NOT NULL THEN stat_" c               \
  " ELSE COALESCE(" c ", stat_" c ") END"
#define GATEWAY_COLS                                                                               \
  "gateway_eui, name," GATEWAY_POS("latitude") "," GATEWAY_POS("longitude") ","                     \
  GATEWAY_POS("altitude") ", last_seen_ns, rx_packets, timing_offset_ns, position_from_gateway,"    \
  " CASE WHEN station_token IS NULL THEN 0 ELSE 1 END"

/* A device's inventory and life cycle (written by store_fleet.c), columns from 30 of DEVICE_COLS.
 */
#define INVENTORY_COLS                                                                             \
  " d.tags, d.hardware, d.firmware, d.lifecycle, d.provisioned_ns, d.active_ns, d.silent_ns,"      \
  " d.retired_ns"
/* Adds "tags", "hardware", "firmware", "lifecycle", "lifecycle_dates" from column `col` on. */
void lgs_inventory_json(struct db_stmt *st, int col, struct json_t *o);

/* A device's settings as they apply: the profile's where the device inherits them. */
#define DEVICE_COLS                                                                                \
  "d.dev_eui, d.name,"                                                                             \
  " CASE WHEN p.id IS NOT NULL AND (d.inherit & 1) <> 0 THEN p.adr_algorithm ELSE d.adr END,"      \
  " d.otaa, d.join_eui, d.app_key, d.has_session, d.dev_addr,"                                     \
  " d.nwk_s_key, d.app_s_key, d.fcnt_up_next, d.fcnt_down, d.join_nonce, d.fcnt_resets_allowed,"   \
  " d.battery, d.margin, d.last_seen_ns, d.tx_power_index, d.nb_trans, d.adr_pending_dr,"          \
  " d.adr_pending_txp, d.adr_pending_nb,"                                                          \
  " CASE WHEN p.id IS NOT NULL AND (d.inherit & 4) <> 0 THEN p.reference ELSE d.reference END,"    \
  " CASE WHEN p.id IS NOT NULL AND (d.inherit & 2) <> 0 THEN p.device_class"                       \
  " ELSE d.device_class END, d.s_nwk_s_int_key, d.nwk_s_enc_key, d.application_id,"               \
  " d.profile_id, d.inherit, p.adr_margin_db," INVENTORY_COLS ", p.adr_target"
#define DEVICE_FROM " FROM devices d LEFT JOIN device_profiles p ON p.id = d.profile_id"

struct json_t *lgs_gateway_row(struct db_stmt *st);  /* of GATEWAY_COLS */
struct json_t *lgs_device_row(struct db_stmt *st);   /* of DEVICE_COLS */

#endif
