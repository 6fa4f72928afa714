/*
 * db.h over SQLite and over PostgreSQL (libpq). PostgreSQL statements are prepared once per
 * connection (PQprepare) with ?N rewritten to $N; parameters go as text (numbers printed
 * exactly: %lld, %.17g) or binary (blobs); results come back as text, bytea in its hex
 * form, decoded here.
 */
#include "store/db.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

#define STMT_CACHE 160
#define MAX_PARAMS 96 /* an uplink, its event and four receptions in one statement (store_pipe.c) */

struct db_stmt {
  struct db *db;
  const char *sql; /* the cache key */
  sqlite3_stmt *sq;
  /* PostgreSQL */
  char name[16];
  char *pg_text; /* the statement with $N, kept to prepare it again on a new connection */
  bool prepared; /* on the current connection */
  int n_params;
  char *val[MAX_PARAMS];
  int len[MAX_PARAMS], fmt[MAX_PARAMS];
  char num[MAX_PARAMS][32]; /* numbers printed here, val[] points in */
  PGresult *res;
  int row, rows;
  bool ran;
  int64_t changes;
  uint8_t *blob; /* a decoded bytea column */
  size_t blob_cap;
};

/* PostgreSQL's pipeline mode: what was sent, in order, whose answers are still to come. */
enum pipe_kind { PIPE_PREPARE, PIPE_QUERY, PIPE_SYNC };
struct pipe_item {
  enum pipe_kind kind;
  struct db_stmt *st; /* PIPE_PREPARE: the statement prepared */
  int64_t changes;    /* PIPE_QUERY, once read: rows changed, -1 if it failed */
};

/* Answers read while sending: at most this many statements between syncs, and at most two
 * syncs' answers unread, so neither side blocks writing while the other does (the answers
 * of ~750 statements, ~50 KB, fit a socket's buffers). */
#define PIPE_CHUNK 256
#define PIPE_UNREAD_SYNCS 2

struct db {
  sqlite3 *sq;
  PGconn *pg;
  char err[256];
  struct db_stmt cache[STMT_CACHE];
  /* pipeline mode (db_pipeline_begin .. db_pipeline_end) */
  bool pipe, pipe_failed, pipe_broken;
  struct pipe_item *items; /* grown, kept for the next pipeline */
  size_t n_items, cap_items, n_read, since_sync, syncs_unread, last_query;
};

/* PostgreSQL: a dropped connection (server restart, network, an administrator) is
 * re-established before the next statement, and the statements prepared on the old one
 * are prepared again on first use. What was in flight when it dropped failed and said
 * so; what follows goes through. */
static bool pg_alive(struct db *db) {
  if (db->pipe) return PQstatus(db->pg) == CONNECTION_OK; /* no reset with answers in flight */
  /* a pipeline that could not be ended (its connection broke while answers were read) */
  if (PQstatus(db->pg) == CONNECTION_OK && PQpipelineStatus(db->pg) == PQ_PIPELINE_OFF)
    return true;
  PQreset(db->pg);
  if (PQstatus(db->pg) != CONNECTION_OK) {
    snprintf(db->err, sizeof(db->err), "PostgreSQL connection lost: %s", PQerrorMessage(db->pg));
    return false;
  }
  for (int i = 0; i < STMT_CACHE; i++)
    db->cache[i].prepared = false;
  PQclear(PQexec(db->pg, "SET client_min_messages = warning"));
  return true;
}

static bool pg_prepare(struct db_stmt *st) {
  if (st->prepared || st->db->pipe) return true; /* in a pipeline: sent before its first run */
  PGresult *r = PQprepare(st->db->pg, st->name, st->pg_text, st->n_params, NULL);
  st->prepared = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!st->prepared) snprintf(st->db->err, sizeof(st->db->err), "%s", PQresultErrorMessage(r));
  PQclear(r);
  return st->prepared;
}

static bool is_pg_target(const char *t) {
  return strncmp(t, "postgresql://", 13) == 0 || strncmp(t, "postgres://", 11) == 0;
}

bool db_is_pg(const struct db *db) {
  return db->pg != NULL;
}

const char *db_errmsg(const struct db *db) {
  if (db->err[0]) return db->err;
  return db->pg ? PQerrorMessage(db->pg) : db->sq ? sqlite3_errmsg(db->sq) : "no database";
}

/* A SQLite database file made (or kept) readable by its owner only: it holds device keys.
 * SQLite gives its -wal and -shm files the database file's mode. */
static void private_file(const char *path) {
  if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0) return;
  /* An existing file is never opened here: another connection of this process (the packet
   * thread's, the storage thread's, the API's) may hold SQLite's locks on it, and closing
   * any descriptor of a file drops every POSIX lock the process holds on it — SQLite's
   * included, which let two connections write at once ("database disk image is malformed"
   * after a restart under load). chmod by name instead; only a new file is created. */
  struct stat st;
  if (stat(path, &st) == 0) {
    if (S_ISREG(st.st_mode) && (st.st_mode & 077)) (void)chmod(path, st.st_mode & 0700);
    return;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) close(fd);
}

int db_open(struct db **out, const char *target, char *why, size_t why_len) {
  struct db *db = calloc(1, sizeof(*db));
  if (db == NULL) return LG_ENOMEM;
  if (is_pg_target(target)) {
    db->pg = PQconnectdb(target);
    if (PQstatus(db->pg) != CONNECTION_OK) {
      snprintf(why, why_len, "cannot connect to PostgreSQL: %s", PQerrorMessage(db->pg));
      for (char *c = why; *c; c++) /* libpq's messages end in (and may hold) newlines */
        if (*c == '\n') *c = c[1] ? ' ' : 0;
      db_close(db);
      return LG_EIO;
    }
    PQclear(PQexec(db->pg, "SET client_min_messages = warning"));
  } else if (private_file(target), sqlite3_open_v2(target, &db->sq,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL) != SQLITE_OK) {
    snprintf(why, why_len, "cannot open database %s: %s", target,
             db->sq ? sqlite3_errmsg(db->sq) : "no memory");
    db_close(db);
    return LG_EIO;
  }
  *out = db;
  return 0;
}

static void clear_params(struct db_stmt *st) {
  for (int i = 0; i < st->n_params; i++) {
    if (st->val[i] && st->val[i] != st->num[i]) free(st->val[i]);
    st->val[i] = NULL, st->len[i] = 0, st->fmt[i] = 0;
  }
}

void db_close(struct db *db) {
  if (db == NULL) return;
  for (int i = 0; i < STMT_CACHE; i++) {
    struct db_stmt *st = &db->cache[i];
    if (st->sq) sqlite3_finalize(st->sq);
    if (st->res) PQclear(st->res);
    clear_params(st);
    free(st->blob);
    free(st->pg_text);
  }
  free(db->items);
  if (db->sq) sqlite3_close(db->sq);
  if (db->pg) PQfinish(db->pg);
  free(db);
}

int db_exec(struct db *db, const char *sql) {
  db->err[0] = 0;
  if (db->sq) return sqlite3_exec(db->sq, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : LG_EIO;
  if (strcmp(sql, "BEGIN IMMEDIATE") == 0) sql = "BEGIN"; /* SQLite's write lock up front */
  if (db->pipe) {
    snprintf(db->err, sizeof(db->err), "db_exec inside a pipeline");
    return LG_EIO;
  }
  if (!pg_alive(db)) return LG_EIO;
  PGresult *r = PQexec(db->pg, sql);
  ExecStatusType t = PQresultStatus(r);
  int rc = t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK ? 0 : LG_EIO;
  if (rc) snprintf(db->err, sizeof(db->err), "%s", PQresultErrorMessage(r));
  PQclear(r);
  return rc;
}

/* ?N -> $N for PostgreSQL; the largest N. */
static char *pg_sql(const char *sql, int *n_params) {
  size_t n = strlen(sql);
  char *out = malloc(n + 1);
  if (out == NULL) return NULL;
  int max = 0;
  for (size_t i = 0; i <= n; i++) {
    out[i] = sql[i] == '?' ? '$' : sql[i];
    if (sql[i] == '?') {
      int v = atoi(sql + i + 1);
      if (v > max) max = v;
    }
  }
  *n_params = max;
  return out;
}

struct db_stmt *db_prep(struct db *db, const char *sql) {
  for (int i = 0; i < STMT_CACHE; i++) {
    struct db_stmt *st = &db->cache[i];
    if (st->sql == sql) return st;
    if (st->sql != NULL) continue;
    st->db = db;
    if (db->sq) {
      if (sqlite3_prepare_v3(db->sq, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->sq, NULL) !=
          SQLITE_OK)
        return NULL;
    } else {
      int n = 0;
      char *text = pg_sql(sql, &n);
      if (text == NULL || n > MAX_PARAMS) {
        free(text);
        return NULL;
      }
      snprintf(st->name, sizeof(st->name), "lg%d", i);
      st->pg_text = text, st->n_params = n, st->prepared = false;
      if (!pg_alive(db) || !pg_prepare(st)) {
        free(st->pg_text);
        st->pg_text = NULL;
        return NULL;
      }
    }
    st->sql = sql;
    return st;
  }
  return NULL; /* more call sites than the cache: raise STMT_CACHE */
}

/* PostgreSQL: parameter i (1-based) set from a copy of v (n bytes; fmt 1 = binary). */
static void pg_set(struct db_stmt *st, int i, const char *v, size_t n, int fmt) {
  if (i < 1 || i > st->n_params) return; /* as SQLite: out of range is ignored */
  int k = i - 1;
  if (st->val[k] && st->val[k] != st->num[k]) free(st->val[k]);
  st->val[k] = NULL;
  if (v == NULL) return;
  if (n < sizeof(st->num[k])) {
    st->val[k] = st->num[k];
  } else if ((st->val[k] = malloc(n + 1)) == NULL) {
    return;
  }
  memcpy(st->val[k], v, n);
  st->val[k][n] = 0;
  st->len[k] = (int)n, st->fmt[k] = fmt;
}

void db_bind_int64(struct db_stmt *st, int i, int64_t v) {
  if (st->sq) {
    sqlite3_bind_int64(st->sq, i, v);
    return;
  }
  char b[32];
  pg_set(st, i, b, (size_t)snprintf(b, sizeof(b), "%lld", (long long)v), 0);
}

void db_bind_double(struct db_stmt *st, int i, double v) {
  if (st->sq) {
    sqlite3_bind_double(st->sq, i, v);
    return;
  }
  char b[32];
  pg_set(st, i, b, (size_t)snprintf(b, sizeof(b), "%.17g", v), 0);
}

void db_bind_text(struct db_stmt *st, int i, const char *v) {
  if (st->sq)
    sqlite3_bind_text(st->sq, i, v, -1, SQLITE_TRANSIENT);
  else
    pg_set(st, i, v, v ? strlen(v) : 0, 0); /* NULL text is SQL NULL, as in SQLite */
}

void db_bind_blob(struct db_stmt *st, int i, const void *v, size_t n) {
  if (st->sq)
    sqlite3_bind_blob(st->sq, i, v, (int)n, SQLITE_TRANSIENT);
  else
    pg_set(st, i, n ? v : "", n, 1);
}

void db_bind_null(struct db_stmt *st, int i) {
  if (st->sq)
    sqlite3_bind_null(st->sq, i);
  else
    pg_set(st, i, NULL, 0, 0);
}

/* ---- PostgreSQL's pipeline mode ------------------------------------------------------ */

static void pipe_fail(struct db *db, const char *why) {
  if (!db->pipe_failed) { /* the first failure is the one to tell */
    snprintf(db->err, sizeof(db->err), "%s", why && *why ? why : "PostgreSQL pipeline failed");
    for (char *c = db->err; *c; c++)
      if (*c == '\n') *c = c[1] ? ' ' : 0;
  }
  db->pipe_failed = true;
}

/* Room for one more item (before it is sent: the items mirror the connection exactly). */
static bool pipe_room(struct db *db) {
  if (db->n_items < db->cap_items) return true;
  size_t cap = db->cap_items ? db->cap_items * 2 : 1024;
  struct pipe_item *it = realloc(db->items, cap * sizeof(*it));
  if (it == NULL) return pipe_fail(db, "out of memory"), false;
  db->items = it, db->cap_items = cap;
  return true;
}

static void pipe_push(struct db *db, enum pipe_kind kind, struct db_stmt *st) {
  db->items[db->n_items++] = (struct pipe_item){kind, st, -1};
}

/* Reads the answer to the oldest item not read yet; false once nothing more can come (the
 * connection broke). A prepare's answer says whether its statement exists on the server; a
 * statement's, how many rows it changed; after a failure every statement up to the next
 * sync is answered "aborted". */
static bool pipe_read_one(struct db *db) {
  if (db->pipe_broken) return false;
  struct pipe_item *it = &db->items[db->n_read++];
  PGresult *r = PQgetResult(db->pg);
  if (r == NULL) {
    db->pipe_broken = true;
    pipe_fail(db, PQerrorMessage(db->pg));
    return false;
  }
  ExecStatusType t = PQresultStatus(r);
  if (it->kind == PIPE_SYNC) {
    db->syncs_unread--;
    if (t != PGRES_PIPELINE_SYNC) pipe_fail(db, PQresultErrorMessage(r));
    PQclear(r);
    return true; /* a sync's answer is not followed by NULL */
  }
  bool good = t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK;
  if (it->kind == PIPE_PREPARE) it->st->prepared = good;
  else it->changes = good ? atoll(PQcmdTuples(r)) : -1;
  if (!good) pipe_fail(db, t == PGRES_PIPELINE_ABORTED ? "" : PQresultErrorMessage(r));
  PQclear(r);
  while ((r = PQgetResult(db->pg)) != NULL) /* the NULL that ends a statement's answer */
    PQclear(r);
  return true;
}

static int pipe_sync(struct db *db) {
  if (!pipe_room(db)) return LG_ENOMEM;
  if (!PQpipelineSync(db->pg)) {
    pipe_fail(db, PQerrorMessage(db->pg));
    return LG_EIO;
  }
  pipe_push(db, PIPE_SYNC, NULL);
  db->since_sync = 0;
  db->syncs_unread++;
  while (db->syncs_unread > PIPE_UNREAD_SYNCS && pipe_read_one(db)) {
  }
  return 0;
}

/* db_step inside a pipeline: sent (prepared first if this connection has not got it), not
 * waited for. */
static int pipe_send(struct db_stmt *st) {
  struct db *db = st->db;
  if (db->pipe_failed) return DB_ERROR; /* the rest would be aborted anyway */
  if (!st->prepared) {
    if (!pipe_room(db)) return DB_ERROR;
    if (!PQsendPrepare(db->pg, st->name, st->pg_text, st->n_params, NULL)) {
      pipe_fail(db, PQerrorMessage(db->pg));
      return DB_ERROR;
    }
    pipe_push(db, PIPE_PREPARE, st);
    st->prepared = true; /* until its answer says otherwise */
  }
  if (!pipe_room(db)) return DB_ERROR;
  if (!PQsendQueryPrepared(db->pg, st->name, st->n_params, (const char *const *)st->val, st->len,
                           st->fmt, 0)) {
    pipe_fail(db, PQerrorMessage(db->pg));
    return DB_ERROR;
  }
  db->last_query = db->n_items;
  pipe_push(db, PIPE_QUERY, NULL);
  st->ran = true, st->rows = 0, st->row = -1, st->changes = -1;
  if (++db->since_sync >= PIPE_CHUNK && pipe_sync(db) != 0) return DB_ERROR;
  return DB_DONE;
}

int db_pipeline_begin(struct db *db) {
  if (db->pg == NULL || db->pipe) return LG_EINVAL;
  if (!pg_alive(db)) return LG_EIO;
  if (!PQenterPipelineMode(db->pg)) {
    snprintf(db->err, sizeof(db->err), "%s", PQerrorMessage(db->pg));
    return LG_EIO;
  }
  db->pipe = true, db->pipe_failed = false, db->pipe_broken = false;
  db->n_items = db->n_read = db->since_sync = db->syncs_unread = 0;
  db->err[0] = 0;
  return 0;
}

size_t db_pipeline_last(const struct db *db) {
  return db->last_query;
}

int db_pipeline_end(struct db *db) {
  if (!db->pipe) return LG_EINVAL;
  if (db->n_items > 0 && db->items[db->n_items - 1].kind != PIPE_SYNC) (void)pipe_sync(db);
  while (db->n_read < db->n_items && pipe_read_one(db)) {
  }
  for (size_t i = db->n_read; i < db->n_items; i++) /* never answered: the connection broke */
    if (db->items[i].kind == PIPE_PREPARE) db->items[i].st->prepared = false;
  if (!PQexitPipelineMode(db->pg)) pipe_fail(db, PQerrorMessage(db->pg));
  db->pipe = false; /* a connection left in pipeline mode is reset by the next pg_alive */
  return db->pipe_failed ? LG_EIO : 0;
}

int64_t db_pipeline_changes(const struct db *db, size_t mark) {
  if (mark >= db->n_read || db->items[mark].kind != PIPE_QUERY) return -1;
  return db->items[mark].changes;
}

int db_step(struct db_stmt *st) {
  if (st == NULL) return DB_ERROR;
  if (st->sq) {
    int rc = sqlite3_step(st->sq);
    if (rc == SQLITE_DONE) st->changes = sqlite3_changes(sqlite3_db_handle(st->sq));
    return rc == SQLITE_ROW ? DB_ROW : rc == SQLITE_DONE ? DB_DONE : DB_ERROR;
  }
  if (st->db->pipe) return pipe_send(st);
  if (!st->ran) {
    st->ran = true;
    if (!pg_alive(st->db) || !pg_prepare(st)) return DB_ERROR;
    st->res = PQexecPrepared(st->db->pg, st->name, st->n_params, (const char *const *)st->val,
                             st->len, st->fmt, 0);
    ExecStatusType t = PQresultStatus(st->res);
    /* a read that found the connection gone is asked again on a new one (a write is not:
     * it may have been applied before the answer was lost) */
    if (t != PGRES_TUPLES_OK && PQstatus(st->db->pg) == CONNECTION_BAD &&
        strncmp(st->sql, "SELECT", 6) == 0 && pg_alive(st->db) && pg_prepare(st)) {
      PQclear(st->res);
      st->res = PQexecPrepared(st->db->pg, st->name, st->n_params, (const char *const *)st->val,
                               st->len, st->fmt, 0);
      t = PQresultStatus(st->res);
    }
    if (t != PGRES_TUPLES_OK && t != PGRES_COMMAND_OK) {
      snprintf(st->db->err, sizeof(st->db->err), "%s", PQresultErrorMessage(st->res));
      return DB_ERROR;
    }
    st->db->err[0] = 0;
    st->rows = t == PGRES_TUPLES_OK ? PQntuples(st->res) : 0;
    st->row = -1;
    st->changes = atoll(PQcmdTuples(st->res));
  }
  if (PQresultStatus(st->res) != PGRES_TUPLES_OK && PQresultStatus(st->res) != PGRES_COMMAND_OK)
    return DB_ERROR;
  return ++st->row < st->rows ? DB_ROW : DB_DONE;
}

static const char *pg_val(struct db_stmt *st, int col) {
  if (!st->res || st->row < 0 || st->row >= st->rows || col >= PQnfields(st->res) ||
      PQgetisnull(st->res, st->row, col))
    return NULL;
  return PQgetvalue(st->res, st->row, col);
}

bool db_col_null(struct db_stmt *st, int col) {
  if (st->sq) return sqlite3_column_type(st->sq, col) == SQLITE_NULL;
  return pg_val(st, col) == NULL;
}

int64_t db_col_int64(struct db_stmt *st, int col) {
  if (st->sq) return sqlite3_column_int64(st->sq, col);
  const char *v = pg_val(st, col);
  return v ? strtoll(v, NULL, 10) : 0;
}

int db_col_int(struct db_stmt *st, int col) {
  return (int)db_col_int64(st, col);
}

double db_col_double(struct db_stmt *st, int col) {
  if (st->sq) return sqlite3_column_double(st->sq, col);
  const char *v = pg_val(st, col);
  return v ? strtod(v, NULL) : 0.0;
}

const char *db_col_text(struct db_stmt *st, int col) {
  if (st->sq) return (const char *)sqlite3_column_text(st->sq, col);
  return pg_val(st, col);
}

const void *db_col_blob(struct db_stmt *st, int col, size_t *n) {
  if (st->sq) {
    *n = (size_t)sqlite3_column_bytes(st->sq, col);
    return sqlite3_column_blob(st->sq, col);
  }
  const char *v = pg_val(st, col);
  *n = 0;
  if (v == NULL || strncmp(v, "\\x", 2) != 0) return NULL; /* bytea comes as hex: \x... */
  size_t hex = strlen(v + 2), len = hex / 2;
  if (len + 1 > st->blob_cap) {
    uint8_t *b = realloc(st->blob, len + 1);
    if (b == NULL) return NULL;
    st->blob = b, st->blob_cap = len + 1;
  }
  if (lg_hex_decode(v + 2, hex, st->blob, st->blob_cap, n)) return NULL;
  return st->blob;
}

int64_t db_changes(struct db_stmt *st) {
  return st ? st->changes : 0;
}

int64_t db_last_insert_id(struct db_stmt *st) {
  return st && st->sq ? sqlite3_last_insert_rowid(st->db->sq) : 0;
}

void db_done(struct db_stmt *st) {
  if (st == NULL) return;
  if (st->sq) {
    sqlite3_reset(st->sq);
    sqlite3_clear_bindings(st->sq);
    return;
  }
  if (st->res) PQclear(st->res);
  st->res = NULL, st->ran = false, st->rows = 0, st->row = -1;
  clear_params(st);
}
