/*
 * Opening the store with the keys-at-rest rules of [security] (config.h,
 * lg_config_open_store; the wrapping itself is store/kek.c). Shared by `serve`, `replay`
 * and the provisioning commands, so every path into the database wraps the same way.
 *
 * Why SQLite gets a KEK by itself: the quick start (`lorageo serve` with no file) must
 * serve, and device keys must never sit in the database in clear, so a first start
 * creates ./lorageo.kek (0600) beside ./lorageo.db and says so. That protects copies of
 * the database (backups, dumps, a stolen file); keeping the KEK on other storage is the
 * operator's step, in docs/security.md. PostgreSQL instances share one database, so one
 * instance inventing a key would lock the others out: there the KEK must be given.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ns/config.h"
#include "store/kek.h"
#include "store/store.h"
#include "util/util.h"

/* SQLite's default KEK path: the database's path with .kek for .db. */
static void default_kek(const char *database, char *out, size_t len) {
  out[0] = '\0';
  if (strncmp(database, "postgres", 8) == 0 || strcmp(database, ":memory:") == 0) return;
  size_t n = strlen(database);
  if (n > 3 && strcmp(database + n - 3, ".db") == 0) n -= 3;
  snprintf(out, len, "%.*s.kek", (int)(n < 240 ? n : 240), database);
}

int lg_config_open_store(const struct lg_config *c, const char *database, struct lg_store **s,
                         size_t *wrapped_out, char *note, size_t note_len, char *why,
                         size_t why_len) {
  const char *db = database ? database : c->database;
  note[0] = '\0';
  if (wrapped_out) *wrapped_out = 0;
  int rc = lg_store_open(s, db, why, why_len);
  if (rc) return rc;
  char path[256];
  bool made = false;
  if (c->kek_file_set)
    snprintf(path, sizeof(path), "%s", c->kek_file);
  else
    default_kek(db, path, sizeof(path));
  if (path[0] && !c->kek_file_set && access(path, F_OK) != 0) {
    if ((rc = lg_kek_create(path, why, why_len)) != 0) goto fail;
    made = true;
  }
  if (path[0] == '\0') {
    int required = lg_store_kek_required(*s);
    if (required == 1) {
      snprintf(why, why_len, "%s: device keys are wrapped: give [security] kek_file", db);
      rc = LG_EINVAL;
      goto fail;
    }
    if (!c->allow_plaintext_keys) {
      snprintf(why, why_len,
               "device keys would be stored in clear: set [security] kek_file (a file of 64 hex "
               "digits: od -An -tx1 -N32 /dev/urandom | tr -d ' \\n' > lorageo.kek; chmod 600 "
               "lorageo.kek) or allow_plaintext_keys = true");
      rc = LG_EINVAL;
      goto fail;
    }
    return 0;
  }
  struct lg_kek k;
  char sub[300];
  if ((rc = lg_kek_load(path, &k, sub, sizeof(sub))) != 0) {
    snprintf(why, why_len, "[security] kek_file %s", sub);
    goto fail;
  }
  if ((rc = lg_store_use_kek(*s, &k, sub, sizeof(sub))) != 0) {
    snprintf(why, why_len, "%s: %s", path, sub);
    goto fail;
  }
  size_t wrapped = 0;
  if ((rc = lg_store_wrap_keys(*s, &wrapped)) != 0) {
    snprintf(why, why_len, "wrapping the keys stored in clear: %s", lg_store_errmsg(*s));
    goto fail;
  }
  if (wrapped_out) *wrapped_out = wrapped;
  if (made)
    snprintf(note, note_len, "created the key-encryption key %s (device keys are wrapped with it; "
                             "keep a copy apart from the database)", path);
  if (wrapped)
    snprintf(note + strlen(note), note_len - strlen(note), "%swrapped the keys of %zu devices",
             note[0] ? "; " : "", wrapped);
  return 0;
fail:
  lg_store_close(*s);
  *s = NULL;
  return rc;
}
