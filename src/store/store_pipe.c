/*
 * The storage thread's batches on PostgreSQL, sent in libpq's pipeline mode (db.h,
 * db_pipeline_begin): a batch's statements go out without waiting for each answer, so a
 * batch costs a handful of round trips (BEGIN, its uplinks' ids, the pipeline, COMMIT)
 * instead of ~6 per uplink. SQLite answers in-process and keeps store.c's calls.
 *
 * What the storage thread used to learn from an answer before the next statement is known
 * beforehand or decided inside PostgreSQL:
 * - an uplink's id is taken before its INSERT (lg_store_uplink_ids: a block from the
 *   uplinks' sequence, one query per batch), so the rows hanging on it name it without a
 *   RETURNING;
 * - the counter's compare-and-set and the uplink's INSERT are one statement (a
 *   data-modifying WITH: the row is inserted only if the UPDATE changed the device), and
 *   every row hanging on an uplink (receptions, events, location) is inserted only if the
 *   uplink's row exists, so a refused uplink leaves nothing behind, as when the storage
 *   thread read the refusal and skipped its writes. The refusal itself is read after the
 *   batch's answers (lg_store_pipe_stored), counted as a replay as before.
 * Exactly-once holds as with the separate statements: the UPDATE takes the device's row
 * lock until the commit; another writer's UPDATE of that row waits for it, then re-checks
 * its condition against the committed counter (READ COMMITTED) and changes nothing.
 *
 * A failed statement makes PostgreSQL skip the rest of the pipeline; lg_store_pipe_end says
 * so and the caller rolls the whole transaction back, as after a failed statement before.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/db.h"
#include "store/store.h"
#include "store/store_int.h"
#include "util/util.h"

#define IF_UPLINK(p) " WHERE EXISTS (SELECT 1 FROM uplinks WHERE id = " p ")"

/* A VALUES list of k receptions, parameters from b + 1 on, the first row's values cast to
 * the columns' types: PostgreSQL types a VALUES list in a sub-select from its own rows, not
 * from the INSERT's columns. */
#define F8 "DOUBLE PRECISION"
static const char *const rx_types[RX_PARAMS] = /* RX_INSERT's columns */
    {"BIGINT", "TEXT",   "BIGINT", F8,       "BIGINT", "BIGINT", "BIGINT", F8,       F8,
     "BIGINT", "BIGINT", "BIGINT", "BIGINT", F8,       F8,       F8,       "BIGINT", "BIGINT"};
static size_t rx_values(char *p, size_t cap, int k, int b) {
  size_t n = (size_t)snprintf(p, cap, "SELECT * FROM (VALUES ");
  for (int row = 0; row < k; row++)
    for (int c = 1; c <= RX_PARAMS; c++) {
      const char *open = c == 1 ? (row ? ", (" : "(") : ", ";
      const char *close = c == RX_PARAMS ? ")" : "";
      int i = b + row * RX_PARAMS + c;
      if (row == 0)
        n += (size_t)snprintf(p + n, cap - n, "%sCAST(?%d AS %s)%s", open, i, rx_types[c - 1],
                              close);
      else
        n += (size_t)snprintf(p + n, cap - n, "%s?%d%s", open, i, close);
    }
  return n + (size_t)snprintf(p + n, cap - n, ") AS v");
}

/* The uplink's statement: the counter's compare-and-set, and only if it held the uplink,
 * its `up` event and its k receptions (data-modifying WITHs, each run once; the rows after
 * the uplink's follow its RETURNING). It answers one row if the uplink was stored, none if
 * not. Parameters: ?1..?15 the uplink's values (as store.c's INSERT), ?16 its id, ?17 the
 * next counter, ?18 last-seen, ?19 the counter compared with (a reset: the one expected;
 * else the uplink's own: nothing at or above it accepted yet), ?20 the event's payload,
 * ?21 its time, from ?22 the receptions. */
enum { UP_RX_BASE = 21 };
#define UPLINK_CAS(cond)                                                                           \
  "WITH cas AS (UPDATE devices SET fcnt_up_next = ?17, last_seen_ns = ?18 WHERE dev_eui = ?1"      \
  " AND " cond " RETURNING 1), up AS (INSERT INTO uplinks (id, dev_eui, dev_addr, f_cnt, f_port,"  \
  " data, confirmed, adr, dr, frequency, phy, received_ns, tx_power_index, truth_latitude,"        \
  " truth_longitude, truth_altitude) SELECT ?16, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"    \
  " ?12, ?13, ?14, ?15 FROM cas RETURNING id), ev AS (" EVENT_INSERT " SELECT ?1, 'up', ?20, ?21"  \
  " FROM up)"
static char uplink_sql[2][RX_ROWS + 1][RX_ROWS * RX_PARAMS * 12 + 2048];
static char rx_if_sql[RX_ROWS * RX_PARAMS * 12 + 1024]; /* one reception, if its uplink is */
static pthread_once_t sql_once = PTHREAD_ONCE_INIT;
static void sql_make(void) {
  for (int exact = 0; exact < 2; exact++)
    for (int k = 0; k <= RX_ROWS; k++) {
      char *p = uplink_sql[exact][k];
      size_t cap = sizeof(uplink_sql[exact][k]), n = 0;
      const char *head =
          exact ? UPLINK_CAS("fcnt_up_next = ?19") : UPLINK_CAS("fcnt_up_next <= ?19");
      n += (size_t)snprintf(p + n, cap - n, "%s", head);
      if (k > 0) {
        n += (size_t)snprintf(p + n, cap - n, ", rx AS (%s ", RX_INSERT);
        n += rx_values(p + n, cap - n, k, UP_RX_BASE);
        n += (size_t)snprintf(p + n, cap - n, " WHERE EXISTS (SELECT 1 FROM up))");
      }
      snprintf(p + n, cap - n, " SELECT 1 FROM up");
    }
  size_t n = (size_t)snprintf(rx_if_sql, sizeof(rx_if_sql), "%s ", RX_INSERT);
  n += rx_values(rx_if_sql + n, sizeof(rx_if_sql) - n, 1, 0);
  snprintf(rx_if_sql + n, sizeof(rx_if_sql) - n, IF_UPLINK("?1"));
}

bool lg_store_pipelined(const struct lg_store *s) {
  return db_is_pg(s->db);
}

static int cmp_id(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

int lg_store_uplink_ids(struct lg_store *s, size_t n, int64_t *ids) {
  if (n == 0) return 0;
  /* the sequence's name looked up once, not per row (OFFSET 0 keeps the sub-select apart) */
  struct db_stmt *st = db_prep(s->db, "SELECT nextval(q.seq) FROM (SELECT CAST("
                                      "pg_get_serial_sequence('uplinks', 'id') AS regclass) AS seq"
                                      " OFFSET 0) AS q, generate_series(1, ?1)");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, (int64_t)n);
  size_t k = 0;
  int rc;
  while (k < n && (rc = db_step(st)) == DB_ROW)
    ids[k++] = db_col_int64(st, 0);
  db_done(st);
  if (k < n) return LG_EIO;
  qsort(ids, n, sizeof(*ids), cmp_id); /* the batch's order: a device's uplinks by counter */
  return 0;
}

int lg_store_pipe_begin(struct lg_store *s) {
  pthread_once(&sql_once, sql_make);
  return db_pipeline_begin(s->db) ? LG_EIO : 0;
}

int lg_store_pipe_end(struct lg_store *s) {
  if (db_pipeline_end(s->db) == 0) return 0;
  /* kept for lg_store_errmsg: the rollback that follows clears the connection's message */
  snprintf(s->commit_error, sizeof(s->commit_error), "%s", db_errmsg(s->db));
  return LG_EIO;
}

bool lg_store_pipe_stored(const struct lg_store *s, size_t mark) {
  return db_pipeline_changes(s->db, mark) == 1;
}

/* Receptions with per-antenna rows, one at a time: the antennas name their reception by
 * the id the INSERT just took from its sequence in this session (currval). */
static int reception_if(struct lg_store *s, int64_t uplink_id, const struct lg_reception_rec *r,
                        bool late) {
  struct db_stmt *st = db_prep(s->db, rx_if_sql);
  if (st == NULL) return LG_EIO;
  lgs_bind_reception(st, 0, uplink_id, r, late);
  int rc = lgs_step_done(st);
  for (size_t k = 0; rc == 0 && k < r->n_ant && k < 8; k++) {
    struct db_stmt *a = db_prep(
        s->db, "INSERT INTO reception_antennas (reception_id, antenna, channel, rssi, snr, ftime)"
               " SELECT currval(pg_get_serial_sequence('receptions', 'id')), ?2, ?3, ?4, ?5, ?6"
               " FROM uplinks WHERE id = ?1");
    if (a == NULL) return LG_EIO;
    db_bind_int64(a, 1, uplink_id);
    db_bind_int64(a, 2, r->ant[k].ant);
    db_bind_int64(a, 3, r->ant[k].chan);
    lgs_bind_opt_real(a, 4, r->ant[k].has_rssi, r->ant[k].rssi_dbm);
    lgs_bind_opt_real(a, 5, r->ant[k].has_snr, r->ant[k].snr_db);
    if (r->ant[k].has_ftime) db_bind_int64(a, 6, r->ant[k].ftime_ns);
    rc = lgs_step_done(a);
  }
  return rc;
}

int lg_store_pipe_uplink(struct lg_store *s, const struct lg_uplink_rec *u,
                         const struct lg_reception_rec *rx, size_t n, int64_t id, bool exact,
                         uint32_t expected, int64_t seen_ns, struct json_t *up_event,
                         int64_t event_ns, size_t *mark) {
  char *event = lgs_event_text(up_event);
  if (event == NULL) return LG_ENOMEM;
  /* Receptions without antenna rows (nearly all) go in the uplink's statement, up to
   * RX_ROWS of them, ids in their order; the others follow it, each if the uplink is. */
  bool plain = n <= RX_ROWS;
  for (size_t i = 0; i < n; i++)
    plain = plain && rx[i].n_ant == 0;
  size_t k = plain ? n : 0;
  struct db_stmt *st = db_prep(s->db, uplink_sql[exact][k]);
  if (st == NULL) return free(event), LG_EIO;
  lgs_bind_uplink(st, u);
  db_bind_int64(st, 16, id);
  db_bind_int64(st, 17, (int64_t)u->f_cnt + 1);
  db_bind_int64(st, 18, seen_ns);
  db_bind_int64(st, 19, exact ? expected : u->f_cnt);
  db_bind_text(st, 20, event);
  db_bind_int64(st, 21, event_ns);
  for (size_t j = 0; j < k; j++)
    lgs_bind_reception(st, UP_RX_BASE + (int)j * RX_PARAMS, id, &rx[j], false);
  free(event);
  int rc = lgs_step_done(st);
  *mark = db_pipeline_last(s->db);
  for (size_t i = 0; rc == 0 && k == 0 && i < n; i++)
    rc = reception_if(s, id, &rx[i], false);
  return rc;
}

int lg_store_pipe_reception(struct lg_store *s, int64_t uplink_id, const struct lg_reception_rec *r,
                            bool late) {
  return reception_if(s, uplink_id, r, late);
}

int lg_store_pipe_location(struct lg_store *s, const struct lg_location_rec *l) {
  if (l->uplink_id <= 0) return lg_store_location_add(s, l);
  struct db_stmt *st =
      db_prep(s->db, LOCATION_INSERT " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
                                     " ?13, ?14, ?15, ?16" IF_UPLINK("?1"));
  if (st == NULL) return LG_EIO;
  lgs_bind_location(st, l);
  int rc = lgs_step_done(st);
  return rc ? rc : lgs_location_outliers(s, l);
}

int lg_store_pipe_event(struct lg_store *s, uint64_t dev_eui, const char *type,
                        struct json_t *payload, int64_t now_ns, int64_t if_uplink) {
  if (if_uplink <= 0) return lg_store_event_add(s, dev_eui, type, payload, now_ns);
  return lgs_event_insert(s, EVENT_INSERT " SELECT ?1, ?2, ?3, ?4" IF_UPLINK("?5"), dev_eui, type,
                          payload, now_ns, if_uplink);
}
