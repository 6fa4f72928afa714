/*
 * Paged lists of devices and gateways (keyset pagination: the next page starts after the
 * last EUI given, so a page is as cheap at the end of a large fleet as at its start and
 * rows added meanwhile never shift it), a device's PATCH, its queue, its daily counts and
 * the end of confirmed downlinks that are never acknowledged (nacked).
 *
 * The filters are bound as parameters of one statement each (0: no filter), CAST so
 * PostgreSQL knows them as 64-bit integers however they are used.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "store/store_int.h"
#include "util/util.h"

/* A LIKE pattern matching `search` anywhere, lower-cased, its own %, _ and \ escaped; "" for
 * none. */
static void like_pattern(const char *search, char *out, size_t len) {
  size_t n = 0;
  out[0] = '\0';
  if (search == NULL || search[0] == '\0' || len < 4) return;
  out[n++] = '%';
  for (const char *p = search; *p && n + 4 < len; p++) {
    if (*p == '%' || *p == '_' || *p == '\\') out[n++] = '\\';
    out[n++] = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
  }
  out[n++] = '%';
  out[n] = '\0';
}

#define SEARCH(eui, name, param)                                                                   \
  " AND (CAST(" param " AS TEXT) = '' OR " eui " LIKE CAST(" param " AS TEXT) ESCAPE '\\' OR"     \
  " LOWER(" name ") LIKE CAST(" param " AS TEXT) ESCAPE '\\')"

json_t *lg_store_devices_page_json(struct lg_store *s, const struct lg_device_filter *f,
                                   const uint64_t *after, int limit) {
  struct db_stmt *st = db_prep(
      s->db, "SELECT " DEVICE_COLS DEVICE_FROM " WHERE d.dev_eui > ?1"
             " AND (CAST(?2 AS BIGINT) = 0 OR d.application_id = CAST(?2 AS BIGINT))"
             " AND (CAST(?3 AS BIGINT) = 0 OR d.profile_id = CAST(?3 AS BIGINT))"
             " AND (CAST(?4 AS BIGINT) = 0 OR d.last_seen_ns >= CAST(?4 AS BIGINT))"
             " AND (CAST(?5 AS BIGINT) = 0 OR d.last_seen_ns < CAST(?5 AS BIGINT))"
             " AND (CAST(?7 AS TEXT) = '' OR d.lifecycle = CAST(?7 AS TEXT))"
             " AND (CAST(?8 AS TEXT) = '' OR EXISTS (SELECT 1 FROM device_tags t WHERE"
             " t.dev_eui = d.dev_eui AND t.tag_key = CAST(?8 AS TEXT)"
             " AND t.tag_value = CAST(?9 AS TEXT)))"
             SEARCH("d.dev_eui", "d.name", "?10") " ORDER BY d.dev_eui LIMIT ?6");
  if (st) {
    char h[17], like[160];
    like_pattern(f->search, like, sizeof(like));
    db_bind_text(st, 10, like);
    lgs_after_hex(after, h);
    db_bind_text(st, 1, h);
    db_bind_int64(st, 2, f->application_id);
    db_bind_int64(st, 3, f->profile_id);
    db_bind_int64(st, 4, f->seen_after_ns);
    db_bind_int64(st, 5, f->seen_before_ns);
    db_bind_int64(st, 6, (int64_t)limit + 1);
    db_bind_text(st, 7, f->lifecycle);
    db_bind_text(st, 8, f->tag_key);
    db_bind_text(st, 9, f->tag_value);
  }
  return lgs_page_json(st, limit, 0, lgs_device_row);
}

json_t *lg_store_gateways_page_json(struct lg_store *s, const uint64_t *after, int limit,
                                    const char *search) {
  struct db_stmt *st = db_prep(s->db, "SELECT " GATEWAY_COLS " FROM gateways WHERE gateway_eui > ?1"
                                      SEARCH("gateway_eui", "name", "?3") " ORDER BY gateway_eui LIMIT ?2");
  if (st) {
    char h[17], like[160];
    like_pattern(search, like, sizeof(like));
    db_bind_text(st, 3, like);
    lgs_after_hex(after, h);
    db_bind_text(st, 1, h);
    db_bind_int64(st, 2, (int64_t)limit + 1);
  }
  return lgs_page_json(st, limit, 0, lgs_gateway_row);
}

int lg_store_device_update(struct lg_store *s, const struct lg_device_rec *d) {
  lgs_devices_touch();
  struct db_stmt *st =
      /* an inherited setting's own column is left as it is (the read overlays the
       * profile's): it is the device's again when its profile goes */
      db_prep(s->db, "UPDATE devices SET name = ?2,"
                     " adr = CASE WHEN (CAST(?9 AS BIGINT) & 1) <> 0 THEN adr ELSE ?3 END,"
                     " device_class = CASE WHEN (CAST(?9 AS BIGINT) & 2) <> 0 THEN device_class"
                     " ELSE ?4 END,"
                     " reference = CASE WHEN (CAST(?9 AS BIGINT) & 4) <> 0 THEN reference"
                     " ELSE ?5 END,"
                     " fcnt_resets_allowed = ?6, application_id = ?7, profile_id = ?8,"
                     " inherit = ?9 WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, d->dev_eui);
  db_bind_text(st, 2, d->name);
  db_bind_text(st, 3, d->adr[0] ? d->adr : "off");
  db_bind_text(st, 4, d->class_c ? "C" : "A");
  db_bind_int64(st, 5, d->reference);
  db_bind_int64(st, 6, d->fcnt_resets_allowed);
  db_bind_int64(st, 7, d->application_id > 0 ? d->application_id : 1);
  if (d->profile_id > 0)
    db_bind_int64(st, 8, d->profile_id);
  else
    db_bind_null(st, 8);
  db_bind_int64(st, 9, d->inherit);
  int rc = lgs_step_done(st);
  return rc ? rc : db_changes(st) ? 0 : LG_ENOTFOUND;
}

/* ---- the queue ------------------------------------------------------------------ */

static json_t *queue_row(struct db_stmt *st) {
  size_t n = 0;
  const void *data = db_col_blob(st, 2, &n);
  char b64[400];
  EVP_EncodeBlock((unsigned char *)b64, data, (int)(n < 290 ? n : 290));
  return json_pack("{s:I, s:i, s:s, s:b, s:o}", "id", (json_int_t)db_col_int64(st, 0), "f_port",
                   db_col_int(st, 1), "data", b64, "confirmed", db_col_int(st, 3) != 0,
                   "created_ns", lgs_int_or_null(st, 4));
}

json_t *lg_store_queue_json(struct lg_store *s, uint64_t dev_eui, int64_t after_id, int limit) {
  struct db_stmt *st =
      db_prep(s->db, "SELECT id, f_port, data, confirmed, created_ns FROM queue"
                     " WHERE dev_eui = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
  if (st) {
    lgs_bind_eui(st, 1, dev_eui);
    db_bind_int64(st, 2, after_id);
    db_bind_int64(st, 3, (int64_t)limit + 1);
  }
  return lgs_page_json(st, limit, 0, queue_row);
}

int lg_store_queue_flush(struct lg_store *s, uint64_t dev_eui, int64_t *n) {
  struct db_stmt *st = db_prep(s->db, "DELETE FROM queue WHERE dev_eui = ?1");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  int rc = lgs_step_done(st);
  *n = rc ? 0 : db_changes(st);
  return rc;
}

static int count_since(struct db_stmt *st, uint64_t dev_eui, int64_t since_ns, int64_t *n) {
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_int64(st, 2, since_ns);
  int rc = db_step(st);
  *n = rc == DB_ROW ? db_col_int64(st, 0) : 0;
  db_done(st);
  return rc == DB_ROW ? 0 : LG_EIO;
}

int lg_store_downlinks_count(struct lg_store *s, uint64_t dev_eui, int64_t since_ns, int64_t *n) {
  return count_since(
      db_prep(s->db, "SELECT (SELECT COUNT(*) FROM downlinks WHERE dev_eui = ?1 AND"
                     " f_port IS NOT NULL AND f_port > 0 AND created_ns >= ?2) +"
                     " (SELECT COUNT(*) FROM queue WHERE dev_eui = ?1)"),
      dev_eui, since_ns, n);
}

int lg_store_uplinks_count(struct lg_store *s, uint64_t dev_eui, int64_t since_ns, int64_t *n) {
  return count_since(db_prep(s->db, "SELECT COUNT(*) FROM uplinks WHERE dev_eui = ?1 AND"
                                    " received_ns >= ?2"),
                     dev_eui, since_ns, n);
}

/* ---- confirmed downlinks never acknowledged ------------------------------------- */

static int nacked_rows(struct db_stmt *st, struct lg_store_nack *out, size_t cap, size_t *n) {
  int rc;
  *n = 0;
  while ((rc = db_step(st)) == DB_ROW)
    if (*n < cap)
      out[(*n)++] = (struct lg_store_nack){lgs_eui_from(st, 0), (uint32_t)db_col_int64(st, 1)};
  db_done(st);
  return rc == DB_DONE ? 0 : LG_EIO;
}

int lg_store_downlink_unacked_uplink(struct lg_store *s, uint64_t dev_eui, int max_uplinks,
                                     int64_t now_ns, struct lg_store_nack *out, size_t cap,
                                     size_t *n) {
  *n = 0;
  struct db_stmt *st = db_prep(s->db, "UPDATE downlinks SET uplinks_since = uplinks_since + 1"
                                      " WHERE dev_eui = ?1 AND state = 'awaiting_ack'");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  int rc = lgs_step_done(st);
  if (rc || db_changes(st) == 0) return rc;
  st = db_prep(s->db, "UPDATE downlinks SET state = 'nacked', acked_ns = ?3 WHERE dev_eui = ?1"
                      " AND state = 'awaiting_ack' AND uplinks_since >= ?2 RETURNING dev_eui, f_cnt");
  if (st == NULL) return LG_EIO;
  lgs_bind_eui(st, 1, dev_eui);
  db_bind_int64(st, 2, max_uplinks);
  db_bind_int64(st, 3, now_ns);
  return nacked_rows(st, out, cap, n);
}

int lg_store_downlinks_expire(struct lg_store *s, int64_t sent_before_ns, int64_t now_ns,
                              struct lg_store_nack *out, size_t cap, size_t *n) {
  *n = 0;
  struct db_stmt *any = db_prep(s->db, "SELECT 1 FROM downlinks WHERE state = 'awaiting_ack'"
                                       " AND created_ns < ?1 LIMIT 1");
  if (any == NULL) return LG_EIO;
  db_bind_int64(any, 1, sent_before_ns);
  int rc = db_step(any);
  db_done(any);
  if (rc != DB_ROW) return rc == DB_DONE ? 0 : LG_EIO; /* none due: no write */
  struct db_stmt *st =
      db_prep(s->db, "UPDATE downlinks SET state = 'nacked', acked_ns = ?2 WHERE"
                     " state = 'awaiting_ack' AND created_ns < ?1 RETURNING dev_eui, f_cnt");
  if (st == NULL) return LG_EIO;
  db_bind_int64(st, 1, sent_before_ns);
  db_bind_int64(st, 2, now_ns);
  return nacked_rows(st, out, cap, n);
}
