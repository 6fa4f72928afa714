/*
 * Internal to store/: one small SQL interface over SQLite and PostgreSQL (libpq), so the
 * store's queries are written once. Statements use SQLite's numbered parameters (?1, ?2);
 * for PostgreSQL they become $1, $2 when prepared. Statements are cached by the address of
 * their SQL text (each is a literal at one call site); db_done() gives one back.
 */
#ifndef LG_STORE_DB_H
#define LG_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct db_stmt;

enum { DB_ROW = 1, DB_DONE = 0, DB_ERROR = -1 };

/* `target`: a SQLite file path, or a postgresql:// (postgres://) connection URI. */
int db_open(struct db **out, const char *target, char *why, size_t why_len);
void db_close(struct db *db);
bool db_is_pg(const struct db *db);
const char *db_errmsg(const struct db *db);

/* Runs statements without parameters or results (DDL, BEGIN, SAVEPOINT ...). */
int db_exec(struct db *db, const char *sql);

/* The prepared statement for `sql` (cached by address), NULL on error. */
struct db_stmt *db_prep(struct db *db, const char *sql);
void db_bind_int64(struct db_stmt *st, int i, int64_t v);
void db_bind_double(struct db_stmt *st, int i, double v);
void db_bind_text(struct db_stmt *st, int i, const char *v);
void db_bind_blob(struct db_stmt *st, int i, const void *v, size_t n);
void db_bind_null(struct db_stmt *st, int i);
/* Runs the statement (first call) and moves to the next row: DB_ROW, DB_DONE or DB_ERROR. */
int db_step(struct db_stmt *st);
bool db_col_null(struct db_stmt *st, int col);
int64_t db_col_int64(struct db_stmt *st, int col);
int db_col_int(struct db_stmt *st, int col);
double db_col_double(struct db_stmt *st, int col);
const char *db_col_text(struct db_stmt *st, int col); /* NULL for NULL */
const void *db_col_blob(struct db_stmt *st, int col, size_t *n);
/* Rows changed by the last statement run. */
int64_t db_changes(struct db_stmt *st);
/* SQLite: the rowid of the last row the statement's connection inserted (an INSERT without
 * RETURNING, whose result SQLite would first copy into a temporary table). 0 on PostgreSQL. */
int64_t db_last_insert_id(struct db_stmt *st);
/* Gives the statement back: results freed, bindings cleared. NULL is fine. */
void db_done(struct db_stmt *st);

/* PostgreSQL's pipeline mode: between db_pipeline_begin and db_pipeline_end, db_step sends
 * its statement and returns DB_DONE without waiting for the answer (no rows, db_changes
 * unknown; statements not prepared on this connection yet are prepared in the same stream);
 * db_exec is refused. Use it inside a transaction (BEGIN before, COMMIT or ROLLBACK after):
 * after a failed statement the server skips the rest, and the transaction is to be rolled
 * back. LG_EINVAL on SQLite (nothing to wait for) or when already in one. */
int db_pipeline_begin(struct db *db);
/* The mark of the statement the last db_step sent, for db_pipeline_changes. */
size_t db_pipeline_last(const struct db *db);
/* Sends what is left, reads every answer and leaves pipeline mode: 0, or LG_EIO when any
 * statement failed (the first failure in db_errmsg). */
int db_pipeline_end(struct db *db);
/* After db_pipeline_end: the rows changed by the statement with this mark, -1 if it failed
 * or was not run. */
int64_t db_pipeline_changes(const struct db *db, size_t mark);

#endif
