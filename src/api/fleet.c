/*
 * The fleet's API (issue 19): the inventory's bulk import and export (JSON or CSV), alarms
 * and their acknowledgement, a device's configuration shadow and its history, the fleet
 * summary, every device's health and a device's timeline (the console's fleet dashboard).
 *
 * An import is all or nothing: every row is checked first (the same checks as POST
 * /api/devices, plus duplicates in the file and devices that exist), the refused rows are
 * listed with their reasons, and only a file without any is written, in one transaction.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"
#include "fleet/shadow.h"
#include "fleet/alarms.h"
#include "util/outbuf.h"
#include "util/util.h"

#define IMPORT_MAX_ROWS 100000
#define ROW_ERRORS_LISTED 100

/* ---- CSV ---------------------------------------------------------------------------- */

/* The next field of a CSV line at *p (RFC 4180: quoted fields, "" inside them) into out
 * (cap bytes). Sets *eol at the end of a line. -1 when a field is too long or a quote is
 * not closed. */
static int csv_field(const char **p, const char *end, char *out, size_t cap, bool *eol) {
  const char *s = *p;
  size_t n = 0;
  *eol = false;
  if (s < end && *s == '"') {
    for (s++;; s++) {
      if (s >= end) return LG_EINVAL;
      if (*s == '"') {
        if (s + 1 < end && s[1] == '"') s++;
        else break;
      }
      if (n + 1 >= cap) return LG_EINVAL;
      out[n++] = *s;
    }
    s++; /* the closing quote */
  } else {
    while (s < end && *s != ',' && *s != '\n' && *s != '\r') {
      if (n + 1 >= cap) return LG_EINVAL;
      out[n++] = *s++;
    }
  }
  out[n] = '\0';
  if (s < end && *s == ',') {
    s++;
  } else {
    while (s < end && (*s == '\r' || *s == '\n')) {
      bool nl = *s == '\n';
      s++;
      if (nl) break;
    }
    *eol = true;
  }
  *p = s;
  return 0;
}

static const char *const csv_columns[] = {
    "dev_eui",    "name",           "join_eui",   "app_key",  "dev_addr",  "nwk_s_key",
    "app_s_key",  "application_id", "profile_id", "class",    "adr",       "reference",
    "hardware",   "firmware",       "tags",       "fcnt_resets_allowed"};

/* One CSV cell as the JSON field POST /api/devices takes. */
static int csv_cell(json_t *row, const char *col, const char *v, char *why, size_t why_len) {
  if (*v == '\0') return 0; /* empty: not given */
  if (strcmp(col, "application_id") == 0 || strcmp(col, "profile_id") == 0) {
    char *e;
    long long x = strtoll(v, &e, 10);
    if (*e) return snprintf(why, why_len, "%s: expected an integer id", col), -1;
    return json_object_set_new(row, col, json_integer(x)), 0;
  }
  if (strcmp(col, "reference") == 0 || strcmp(col, "fcnt_resets_allowed") == 0) {
    if (strcmp(v, "true") && strcmp(v, "false"))
      return snprintf(why, why_len, "%s: expected true or false", col), -1;
    return json_object_set_new(row, col, json_boolean(v[0] == 't')), 0;
  }
  if (strcmp(col, "tags") == 0) { /* key=value;key=value */
    json_t *t = json_object();
    char buf[2048];
    snprintf(buf, sizeof(buf), "%s", v);
    for (char *save = NULL, *kv = strtok_r(buf, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
      char *eq = strchr(kv, '=');
      if (eq == NULL) {
        json_decref(t);
        return snprintf(why, why_len, "tags: expected key=value;key=value"), -1;
      }
      *eq = '\0';
      json_object_set_new(t, kv, json_string(eq + 1));
    }
    return json_object_set_new(row, "tags", t), 0;
  }
  return json_object_set_new(row, col, json_string(v)), 0;
}

/* The CSV text as rows of JSON objects (the header names the columns). A row that cannot
 * be read becomes {"_error": why}, so it is refused with its number like any other. */
static json_t *csv_rows(const char *text, size_t len, char *why, size_t why_len) {
  const char *p = text, *end = text + len;
  char cols[32][32], cell[2048];
  int n_cols = 0;
  bool eol = false;
  while (!eol && p < end) {
    if (n_cols == 32 || csv_field(&p, end, cell, sizeof(cell), &eol))
      return snprintf(why, why_len, "csv: the header line is not CSV (at most 32 columns)"), NULL;
    size_t k = 0;
    while (k < LG_ARRAY_LEN(csv_columns) && strcmp(cell, csv_columns[k]) != 0)
      k++;
    if (k == LG_ARRAY_LEN(csv_columns))
      return snprintf(why, why_len, "csv: unknown column '%.40s' (expected dev_eui, name, "
                                    "join_eui, app_key, dev_addr, nwk_s_key, app_s_key, "
                                    "application_id, profile_id, class, adr, reference, "
                                    "hardware, firmware, tags, fcnt_resets_allowed)", cell),
             NULL;
    snprintf(cols[n_cols++], sizeof(cols[0]), "%s", csv_columns[k]);
  }
  json_t *rows = json_array();
  while (p < end) {
    json_t *row = json_object();
    char err[200] = "";
    int c = 0;
    for (eol = false; !eol && p < end; c++) {
      if (csv_field(&p, end, cell, sizeof(cell), &eol)) {
        snprintf(err, sizeof(err), "not CSV (a field over %zu bytes, or an open quote)",
                 sizeof(cell) - 1);
        while (p < end && *p++ != '\n') {
        }
        break;
      }
      if (c >= n_cols) {
        if (!err[0]) snprintf(err, sizeof(err), "more fields than the header's %d", n_cols);
        continue;
      }
      if (!err[0]) csv_cell(row, cols[c], cell, err, sizeof(err));
    }
    if (c == 1 && json_object_size(row) == 0 && !err[0]) { /* an empty line */
      json_decref(row);
      continue;
    }
    if (err[0]) json_object_set_new(row, "_error", json_string(err));
    json_array_append_new(rows, row);
  }
  return rows;
}

/* ---- import ------------------------------------------------------------------------- */

static int cmp_eui(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Whether id is among the `n` ids checked already; if not, checked and remembered. */
static int id_exists(int64_t *seen, size_t *n, size_t cap, int64_t id, bool app,
                     struct lg_store *s) {
  for (size_t i = 0; i < *n; i++)
    if (seen[i] == id) return 0;
  struct lg_app_rec a;
  struct lg_profile_rec p;
  int rc = app ? lg_store_app_get(s, id, &a) : lg_store_profile_get(s, id, &p);
  if (rc == 0 && *n < cap) seen[(*n)++] = id;
  return rc;
}

struct row_errors {
  json_t *list;
  size_t count;
};

static void row_error(struct row_errors *e, size_t row, json_t *o, const char *why) {
  if (e->count++ >= ROW_ERRORS_LISTED) return;
  json_t *eui = json_object_get(o, "dev_eui");
  json_array_append_new(e->list, json_pack("{s:I, s:O, s:s}", "row", (json_int_t)row, "dev_eui",
                                           json_is_string(eui) ? eui : json_null(), "error", why));
}

/* Checks every row; the parsed devices into d[] (n of them). */
static void check_rows(struct lg_api_req *r, json_t *rows, struct lg_device_rec *d,
                       struct row_errors *e) {
  int64_t apps[64], profiles[64];
  size_t n_apps = 0, n_profiles = 0;
  size_t n = json_array_size(rows);
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_array_get(rows, i);
    char why[300];
    struct lg_inventory inv = {0};
    if (!json_is_object(o)) {
      row_error(e, i + 1, o, "expected an object (a device as POST /api/devices takes it)");
      continue;
    }
    json_t *bad = json_object_get(o, "_error");
    if (bad) {
      row_error(e, i + 1, o, json_string_value(bad));
      continue;
    }
    if (lg_api_parse_device(o, &d[i], why, sizeof(why)) ||
        lg_api_parse_inventory(o, &inv, why, sizeof(why))) {
      row_error(e, i + 1, o, why);
      continue;
    }
    if (d[i].application_id == 0) d[i].application_id = lg_api_admin(r) ? 1 : r->scope.application_id;
    if (!lg_api_admin(r) && d[i].application_id != r->scope.application_id) {
      snprintf(why, sizeof(why), "application_id: this API key is for application %lld only",
               (long long)r->scope.application_id);
      row_error(e, i + 1, o, why);
      continue;
    }
    if (id_exists(apps, &n_apps, 64, d[i].application_id, true, r->store)) {
      snprintf(why, sizeof(why), "application_id: no application %lld", (long long)d[i].application_id);
      row_error(e, i + 1, o, why);
      continue;
    }
    if (d[i].profile_id > 0 && id_exists(profiles, &n_profiles, 64, d[i].profile_id, false, r->store)) {
      snprintf(why, sizeof(why), "profile_id: no device profile %lld", (long long)d[i].profile_id);
      row_error(e, i + 1, o, why);
      continue;
    }
    struct lg_device_rec old;
    int rc = lg_store_device_get(r->store, d[i].dev_eui, &old);
    if (rc == 0 || rc == LG_ECRYPTO) {
      snprintf(why, sizeof(why), "device %016llx exists", (unsigned long long)d[i].dev_eui);
      row_error(e, i + 1, o, why);
    }
  }
  /* the same DevEUI twice in the file */
  uint64_t *euis = malloc((n ? n : 1) * sizeof(*euis));
  if (euis == NULL) return;
  for (size_t i = 0; i < n; i++)
    euis[i] = d[i].dev_eui;
  qsort(euis, n, sizeof(*euis), cmp_eui);
  for (size_t i = 1; i < n; i++) {
    if (euis[i] != euis[i - 1] || euis[i] == 0) continue;
    for (size_t k = 0, seen = 0; k < n; k++)
      if (d[k].dev_eui == euis[i] && seen++ > 0) {
        char why[80];
        snprintf(why, sizeof(why), "dev_eui %016llx: given twice in this import",
                 (unsigned long long)euis[i]);
        row_error(e, k + 1, json_array_get(rows, k), why);
      }
    while (i + 1 < n && euis[i + 1] == euis[i])
      i++;
  }
  free(euis);
}

/* POST /api/devices/import: {"devices": [...]} or {"csv": "..."} (or a text/csv body). */
int lg_api_devices_import(struct lg_api_req *r, json_t **out) {
  static const char *const keys[] = {"devices", "csv"};
  char why[400];
  if (lg_api_known_keys(r->body, keys, 2, why, sizeof(why))) return lg_api_fail(out, 400, "%s", why);
  json_t *csv = json_object_get(r->body, "csv"), *rows = json_object_get(r->body, "devices");
  if ((csv == NULL) == (rows == NULL))
    return lg_api_fail(out, 400, "devices: give either \"devices\" (an array of devices) or "
                                 "\"csv\" (the inventory as CSV text)");
  if (csv) {
    if (!json_is_string(csv)) return lg_api_fail(out, 400, "csv: expected the CSV text");
    rows = csv_rows(json_string_value(csv), json_string_length(csv), why, sizeof(why));
    if (rows == NULL) return lg_api_fail(out, 400, "%s", why);
  } else {
    if (!json_is_array(rows)) return lg_api_fail(out, 400, "devices: expected an array");
    json_incref(rows);
  }
  size_t n = json_array_size(rows);
  if (n == 0 || n > IMPORT_MAX_ROWS) {
    json_decref(rows);
    return lg_api_fail(out, 400, "devices: expected 1..%d devices", IMPORT_MAX_ROWS);
  }
  struct lg_device_rec *d = calloc(n, sizeof(*d));
  struct row_errors e = {json_array(), 0};
  if (d == NULL) {
    json_decref(rows);
    json_decref(e.list);
    return lg_api_fail(out, 500, "out of memory");
  }
  check_rows(r, rows, d, &e);
  int status = 201;
  if (e.count > 0) {
    json_t *first = json_array_get(e.list, 0);
    *out = json_pack("{s:s, s:I, s:I, s:o}", "error", "", "refused", (json_int_t)e.count, "rows",
                     (json_int_t)n, "errors", e.list);
    char msg[512];
    snprintf(msg, sizeof(msg), "%zu of %zu rows refused, nothing imported (row %lld: %s)", e.count,
             n, (long long)json_integer_value(json_object_get(first, "row")),
             json_string_value(json_object_get(first, "error")));
    json_object_set_new(*out, "error", json_string(msg));
    status = 400;
  } else {
    json_decref(e.list);
    bool ok = lg_store_begin(r->store) == 0;
    for (size_t i = 0; ok && i < n; i++) {
      struct lg_inventory inv = {0};
      (void)lg_api_parse_inventory(json_array_get(rows, i), &inv, why, sizeof(why));
      ok = lg_store_device_put(r->store, &d[i]) == 0 &&
           lg_store_inventory_set(r->store, d[i].dev_eui, &inv, r->now_ns) == 0;
    }
    if (ok && lg_store_commit(r->store) == 0) {
      *out = json_pack("{s:I}", "imported", (json_int_t)n);
    } else {
      if (lg_store_rollback(r->store)) { /* the connection's next request starts clean */
      }
      status = lg_api_fail(out, 500, "storage failed: nothing imported (%s)",
                           lg_store_errmsg(r->store));
    }
  }
  free(d);
  json_decref(rows);
  return status;
}

/* ---- export ------------------------------------------------------------------------- */

static void csv_put(struct lg_outbuf *b, const char *v, bool last) {
  if (strpbrk(v, ",\"\n\r;") == NULL) {
    lg_out_printf(b, "%s%s", v, last ? "\n" : ",");
    return;
  }
  lg_out_printf(b, "\"");
  for (const char *p = v; *p; p++)
    lg_out_printf(b, *p == '"' ? "\"\"" : "%c", *p);
  lg_out_printf(b, "\"%s", last ? "\n" : ",");
}

static void csv_int(struct lg_outbuf *b, json_t *v, bool last) {
  char t[32] = "";
  if (json_is_integer(v)) snprintf(t, sizeof(t), "%lld", (long long)json_integer_value(v));
  csv_put(b, t, last);
}

/* One device (its JSON as GET /api/devices gives it) as a CSV line. */
static void csv_device(struct lg_outbuf *b, json_t *o) {
  static const char *const text[] = {"dev_eui", "name", "activation", "join_eui", "dev_addr"};
  for (size_t i = 0; i < LG_ARRAY_LEN(text); i++) {
    const char *v = json_string_value(json_object_get(o, text[i]));
    csv_put(b, v ? v : "", false);
  }
  csv_int(b, json_object_get(o, "application_id"), false);
  csv_int(b, json_object_get(o, "profile_id"), false);
  csv_put(b, json_string_value(json_object_get(o, "class")), false);
  csv_put(b, json_string_value(json_object_get(o, "adr")), false);
  csv_put(b, json_string_value(json_object_get(o, "lifecycle")), false);
  json_t *dates = json_object_get(o, "lifecycle_dates");
  static const char *const dn[] = {"provisioned_ns", "active_ns", "silent_ns", "retired_ns"};
  for (size_t i = 0; i < 4; i++)
    csv_int(b, json_object_get(dates, dn[i]), false);
  csv_int(b, json_object_get(o, "last_seen_ns"), false);
  csv_int(b, json_object_get(o, "battery"), false);
  csv_put(b, json_string_value(json_object_get(o, "hardware")), false);
  csv_put(b, json_string_value(json_object_get(o, "firmware")), false);
  char tags[2048] = "";
  size_t k = 0;
  const char *key;
  json_t *v;
  json_object_foreach(json_object_get(o, "tags"), key, v) {
    k += (size_t)snprintf(tags + k, sizeof(tags) - k, "%s%s=%s", k ? ";" : "", key,
                          json_string_value(v));
    if (k >= sizeof(tags)) break;
  }
  csv_put(b, tags, true);
}

#define EXPORT_CSV_HEADER                                                                          \
  "dev_eui,name,activation,join_eui,dev_addr,application_id,profile_id,class,adr,lifecycle,"       \
  "provisioned_ns,active_ns,silent_ns,retired_ns,last_seen_ns,battery,hardware,firmware,tags\n"

/* GET /api/devices/export?format=json|csv and the list's filters: every device (keys never
 * leave the server). */
int lg_api_devices_export(struct lg_api_req *r, json_t **out) {
  const char *fmt = r->query(r->query_cls, "format");
  bool csv = fmt && strcmp(fmt, "csv") == 0;
  if (fmt && !csv && strcmp(fmt, "json") != 0)
    return lg_api_fail(out, 400, "format: expected json or csv");
  struct lg_device_filter f = {0};
  int bad;
  if ((bad = lg_api_query_id(r, "application_id", &f.application_id, out)) ||
      (bad = lg_api_query_id(r, "profile_id", &f.profile_id, out)))
    return bad;
  const char *lc = r->query(r->query_cls, "lifecycle");
  if (lc && lg_lifecycle_parse(lc) < 0)
    return lg_api_fail(out, 400, "lifecycle: expected provisioned, active, silent or retired");
  if (lc) snprintf(f.lifecycle, sizeof(f.lifecycle), "%s", lc);
  if (!lg_api_admin(r)) f.application_id = r->scope.application_id;
  json_t *all = json_array();
  uint64_t after = 0;
  for (bool first = true;; first = false) {
    json_t *page = lg_store_devices_page_json(r->store, &f, first ? NULL : &after, 1000);
    if (page == NULL) {
      json_decref(all);
      return lg_api_fail(out, 500, "storage failed");
    }
    json_array_extend(all, json_object_get(page, "items"));
    const char *next = json_string_value(json_object_get(page, "next"));
    bool more = next && lg_api_eui(next, &after) == 0;
    json_decref(page);
    if (!more) break;
  }
  if (!csv) {
    *out = json_pack("{s:o}", "devices", all);
    return 200;
  }
  struct lg_outbuf b = {0};
  lg_out_printf(&b, "%s", EXPORT_CSV_HEADER);
  size_t i;
  json_t *o;
  json_array_foreach(all, i, o) csv_device(&b, o);
  json_decref(all);
  if (b.failed || b.p == NULL) {
    lg_out_free(&b);
    return lg_api_fail(out, 500, "out of memory");
  }
  *out = json_string(b.p);
  lg_out_free(&b);
  return *out ? 200 : lg_api_fail(out, 500, "out of memory (or not UTF-8)");
}

/* ---- alarms ------------------------------------------------------------------------- */

static int bool_query(struct lg_api_req *r, const char *name, bool *v, json_t **out) {
  const char *q = r->query(r->query_cls, name);
  if (q == NULL) return 0;
  if (strcmp(q, "true") && strcmp(q, "false"))
    return lg_api_fail(out, 400, "%s: expected true or false", name);
  *v = q[0] == 't';
  return 0;
}

/* GET /api/alarms?open=&unacked=&kind=&subject= */
int lg_api_alarms(struct lg_api_req *r, json_t **out) {
  struct lg_alarm_filter f = {0};
  int limit, bad;
  const char *after;
  int64_t before = 0;
  if ((bad = lg_api_page(r, 100, &limit, &after, out)) ||
      (bad = bool_query(r, "open", &f.open_only, out)) ||
      (bad = bool_query(r, "unacked", &f.unacked_only, out)))
    return bad;
  if (after && lg_api_id(after, &before))
    return lg_api_fail(out, 400, "after: expected the \"next\" of the page before (an id)");
  const char *kind = r->query(r->query_cls, "kind"), *subj = r->query(r->query_cls, "subject");
  if (kind && lg_alarm_kind_parse(kind) < 0)
    return lg_api_fail(out, 400, "kind: expected reboot, silent, frame_loss, battery_low, "
                                 "margin_falling, mic_burst, gateway_silent, gateway_clock or "
                                 "position_jump");
  if (subj && (strlen(subj) != 16 && strlen(subj) != 8))
    return lg_api_fail(out, 400, "subject: expected an EUI (16 hex digits) or a DevAddr (8)");
  if (kind) snprintf(f.kind, sizeof(f.kind), "%s", kind);
  if (subj) {
    snprintf(f.subject, sizeof(f.subject), "%s", subj);
    for (char *p = f.subject; *p; p++)
      if (*p >= 'A' && *p <= 'F') *p = (char)(*p - 'A' + 'a');
  }
  *out = lg_store_alarms_json(r->store, &f, before, limit);
  return *out ? 200 : lg_api_fail(out, 500, "storage failed");
}

/* GET /api/alarms/{id}, POST /api/alarms/{id}/ack {"by", "note"} */
int lg_api_alarm(struct lg_api_req *r, json_t **out) {
  int64_t id;
  if (lg_api_id(r->var[0], &id)) return lg_api_fail(out, 400, "alarm id: expected a positive integer");
  if (lg_api_is(r, "POST")) {
    static const char *const keys[] = {"by", "note"};
    char why[300];
    if (lg_api_known_keys(r->body, keys, 2, why, sizeof(why))) return lg_api_fail(out, 400, "%s", why);
    json_t *by = json_object_get(r->body, "by"), *note = json_object_get(r->body, "note");
    if (!json_is_string(by) || json_string_length(by) == 0 || json_string_length(by) > 64)
      return lg_api_fail(out, 400, "by: expected who acknowledges (1..64 characters)");
    if (note && (!json_is_string(note) || json_string_length(note) > 500))
      return lg_api_fail(out, 400, "note: expected a string of at most 500 characters");
    int rc = lg_store_alarm_ack(r->store, id, r->now_ns, json_string_value(by),
                                note ? json_string_value(note) : "");
    if (rc == LG_ENOTFOUND) return lg_api_fail(out, 404, "no alarm %lld", (long long)id);
    if (rc == LG_EEXIST)
      return lg_api_fail(out, 409, "alarm %lld is acknowledged already", (long long)id);
    if (rc) return lg_api_fail(out, 500, "storage failed");
  }
  *out = lg_store_alarm_json(r->store, id);
  return *out ? 200 : lg_api_fail(out, 404, "no alarm %lld", (long long)id);
}

/* GET /api/fleet/summary?attention_limit= (1..10000, 100 by default) */
int lg_api_fleet_summary(struct lg_api_req *r, json_t **out) {
  const char *v = r->query(r->query_cls, "attention_limit");
  long n = 100;
  if (v) {
    char *end = NULL;
    n = strtol(v, &end, 10);
    if (end == v || *end || n < 1 || n > 10000)
      return lg_api_fail(out, 400, "attention_limit: expected an integer 1..10000");
  }
  *out = lg_store_fleet_summary_json(r->store, (int)n);
  return *out ? 200 : lg_api_fail(out, 500, "storage failed");
}

/* GET /api/fleet/devices?after=&limit=: every device's health (the console's fleet map). */
int lg_api_fleet_devices(struct lg_api_req *r, json_t **out) {
  int limit, bad;
  const char *after;
  uint64_t from = 0;
  if ((bad = lg_api_page(r, 1000, &limit, &after, out))) return bad;
  if (after && lg_api_eui(after, &from))
    return lg_api_fail(out, 400, "after: expected the \"next\" of the page before (a DevEUI)");
  *out = lg_store_fleet_devices_json(r->store, after ? &from : NULL, limit);
  return *out ? 200 : lg_api_fail(out, 500, "storage failed");
}

/* GET /api/devices/{dev_eui}/timeline?after=&limit=: joins, resets, configuration changes,
 * alarms and life-cycle dates, newest first. */
int lg_api_device_timeline(struct lg_api_req *r, json_t **out) {
  uint64_t eui;
  struct lg_device_rec dev;
  if (lg_api_eui(r->var[0], &eui)) return lg_api_fail(out, 400, "DevEUI: expected 16 hex digits");
  int bad = lg_api_device_in_scope(r, eui, &dev, out);
  if (bad) return bad;
  int limit;
  const char *after;
  struct lg_timeline_cursor from;
  if ((bad = lg_api_page(r, 100, &limit, &after, out))) return bad;
  if (limit > 1000) return lg_api_fail(out, 400, "limit: expected an integer 1..1000");
  if (after && lg_store_timeline_cursor_parse(after, &from))
    return lg_api_fail(out, 400,
                       "after: expected the \"next\" of the page before (time.source.id)");
  *out = lg_store_timeline_json(r->store, eui, after ? &from : NULL, limit);
  if (*out == NULL) return lg_api_fail(out, 500, "storage failed");
  if (!lg_api_admin(r)) { /* who acknowledged an alarm, and their note, are the operator's */
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(*out, "items"), i, item) {
      const char *action = json_string_value(json_object_get(item, "action"));
      if (action && strcmp(action, "acknowledged") == 0)
        json_object_set_new(item, "detail", json_string("by an operator"));
    }
  }
  return 200;
}

/* ---- the configuration shadow ------------------------------------------------------ */

/* The shadow as the API shows it. */
json_t *lg_api_config_view(uint64_t dev_eui, json_t *desired, json_t *reported,
                           int64_t pending_since_ns, int64_t updated_ns) {
  struct lg_shadow_cfg d, rep;
  char why[200];
  if (lg_shadow_parse(desired, &d, why, sizeof(why))) memset(&d, 0, sizeof(d));
  if (lg_shadow_parse(reported, &rep, why, sizeof(why))) memset(&rep, 0, sizeof(rep));
  unsigned diff = lg_shadow_diff(&d, &rep);
  json_t *pending = json_array();
  for (unsigned bit = 1; bit <= LG_SHADOW_APP_PARAMS; bit <<= 1)
    if (diff & bit) json_array_append_new(pending, json_string(lg_shadow_field_name(bit)));
  char eui[17];
  snprintf(eui, sizeof(eui), "%016llx", (unsigned long long)dev_eui);
  return json_pack("{s:s, s:O, s:O, s:b, s:o, s:o, s:o}", "dev_eui", eui, "desired", desired,
                   "reported", reported, "in_sync", diff == 0, "pending", pending,
                   "pending_since_ns", diff && pending_since_ns ? json_integer(pending_since_ns) : json_null(),
                   "updated_ns", updated_ns ? json_integer(updated_ns) : json_null());
}

static int config_patch(struct lg_api_req *r, struct lg_device_rec *dev, json_t *desired,
                        json_t *reported, int64_t *pending_since, json_t **out) {
  struct lg_shadow_cfg d, old, rep;
  char why[300];
  if (lg_shadow_parse(desired, &d, why, sizeof(why))) memset(&d, 0, sizeof(d));
  old = d;
  if (lg_shadow_patch(r->body, &d, why, sizeof(why))) {
    json_decref(desired); /* (taken, as on every path) */
    json_decref(reported);
    return lg_api_fail(out, 400, "%s", why);
  }
  if (lg_shadow_parse(reported, &rep, why, sizeof(why))) memset(&rep, 0, sizeof(rep));
  /* the server's own settings apply at once */
  struct lg_shadow_cfg server = d;
  server.has &= LG_SHADOW_SERVER;
  unsigned applied = lg_shadow_diff(&server, &rep);
  lg_shadow_merge(&rep, &server);
  rep.has &= ~(LG_SHADOW_SERVER & ~d.has); /* a server setting removed: no longer reported */
  if ((applied & LG_SHADOW_ADR_ALGORITHM)) {
    snprintf(dev->adr, sizeof(dev->adr), "%s", d.adr_algorithm);
    dev->inherit &= ~(unsigned)LG_INHERIT_ADR;
    if (lg_store_device_update(r->store, dev)) {
      json_decref(desired);
      json_decref(reported);
      return lg_api_fail(out, 500, "storage failed");
    }
  }
  unsigned changed = lg_shadow_diff(&d, &old) | (old.has & ~d.has);
  json_t *dj = lg_shadow_json(&d), *rj = lg_shadow_json(&rep);
  unsigned diff = lg_shadow_diff(&d, &rep);
  int64_t since = diff ? (*pending_since > 0 ? *pending_since : r->now_ns) : 0;
  int rc = lg_store_shadow_put(r->store, dev->dev_eui, dj, rj, since, r->now_ns);
  for (unsigned bit = 1; rc == 0 && bit <= LG_SHADOW_APP_PARAMS; bit <<= 1) {
    const char *name = lg_shadow_field_name(bit);
    if (!(changed & bit) && !(applied & bit)) continue;
    json_t *v = json_object_get(dj, name);
    char *vt = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    if (changed & bit)
      rc = lg_store_shadow_history_add(r->store, dev->dev_eui, name, vt, v ? "desired" : "removed",
                                       "set through the API", r->now_ns);
    if (rc == 0 && (applied & bit))
      rc = lg_store_shadow_history_add(r->store, dev->dev_eui, name, vt, "applied",
                                       "a server-side setting: in force from the next uplink",
                                       r->now_ns);
    free(vt);
  }
  *pending_since = since;
  json_decref(desired);
  json_decref(reported);
  if (rc) {
    json_decref(dj);
    json_decref(rj);
    return lg_api_fail(out, 500, "storage failed");
  }
  *out = lg_api_config_view(dev->dev_eui, dj, rj, since, r->now_ns);
  json_decref(dj);
  json_decref(rj);
  return 200;
}

/* GET, PATCH /api/devices/{dev_eui}/config; GET .../config/history */
int lg_api_device_config(struct lg_api_req *r, json_t **out) {
  uint64_t eui;
  struct lg_device_rec dev;
  if (lg_api_eui(r->var[0], &eui)) return lg_api_fail(out, 400, "DevEUI: expected 16 hex digits");
  int bad = lg_api_device_in_scope(r, eui, &dev, out);
  if (bad) return bad;
  if (strstr(r->url, "/config/history")) {
    int limit;
    const char *after;
    int64_t before = 0;
    if ((bad = lg_api_page(r, 100, &limit, &after, out))) return bad;
    if (after && lg_api_id(after, &before))
      return lg_api_fail(out, 400, "after: expected the \"next\" of the page before (an id)");
    *out = lg_store_shadow_history_json(r->store, eui, before, limit);
    return *out ? 200 : lg_api_fail(out, 500, "storage failed");
  }
  json_t *desired, *reported;
  int64_t since, updated;
  if (lg_store_shadow_get(r->store, eui, &desired, &reported, &since, &updated))
    return lg_api_fail(out, 500, "storage failed");
  if (lg_api_is(r, "PATCH")) return config_patch(r, &dev, desired, reported, &since, out);
  *out = lg_api_config_view(eui, desired, reported, since, updated);
  json_decref(desired);
  json_decref(reported);
  return 200;
}
