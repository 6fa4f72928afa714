/*
 * Codecs by name (codec.h): "cayenne_lpp" built in, "js:NAME" a script from the codec
 * directory. A script is compiled at its first use and kept; a change of the file (its
 * modification time or size) compiles it again at the next use, so an operator edits a
 * codec without a restart. Scripts are never looked up outside the directory: NAME is
 * letters, digits, '_' and '-' only.
 *
 * The results of a script are checked as The Things Stack does: decodeUplink must return
 * an object whose `data` is an object; a non-empty `errors` array is a failure whose
 * reason is those errors; `warnings` ride along. encodeDownlink must return `bytes`, an
 * array of integers 0..255, and may choose `fPort` (1..223).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codec/codec.h"
#include "util/util.h"

#define MAX_SCRIPT (1024 * 1024)

struct script {
  struct script *next;
  char name[65];
  pthread_mutex_t mu; /* one call at a time per script */
  struct lg_js *js;   /* NULL: failed to compile (why_failed) */
  char why_failed[1024];
  struct timespec mtime;
  off_t size;
};

struct lg_codecs {
  char dir[512];
  int timeout_ms;
  size_t mem_cap;
  pthread_mutex_t mu; /* the list and the hook */
  struct script *scripts;
  lg_codec_lookup_fn lookup;
  void *lookup_ctx;
};

struct lg_codecs *lg_codecs_new(const char *dir, int timeout_ms, size_t mem_cap) {
  struct lg_codecs *c = calloc(1, sizeof(*c));
  if (c == NULL) return NULL;
  snprintf(c->dir, sizeof(c->dir), "%s", dir ? dir : "");
  c->timeout_ms = timeout_ms;
  c->mem_cap = mem_cap;
  pthread_mutex_init(&c->mu, NULL);
  return c;
}

void lg_codecs_free(struct lg_codecs *c) {
  if (c == NULL) return;
  for (struct script *s = c->scripts, *next; s; s = next) {
    next = s->next;
    lg_js_free(s->js);
    pthread_mutex_destroy(&s->mu);
    free(s);
  }
  pthread_mutex_destroy(&c->mu);
  free(c);
}

void lg_codecs_set_lookup(struct lg_codecs *c, lg_codec_lookup_fn fn, void *ctx) {
  pthread_mutex_lock(&c->mu);
  c->lookup = fn;
  c->lookup_ctx = ctx;
  pthread_mutex_unlock(&c->mu);
}

void lg_codecs_lookup(struct lg_codecs *c, uint64_t dev_eui, char *spec, size_t spec_len) {
  spec[0] = '\0';
  pthread_mutex_lock(&c->mu);
  lg_codec_lookup_fn fn = c->lookup;
  void *ctx = c->lookup_ctx;
  pthread_mutex_unlock(&c->mu);
  if (fn && fn(ctx, dev_eui, spec, spec_len) != 0) spec[0] = '\0';
  spec[spec_len - 1] = '\0';
}

int lg_codec_downlink(struct lg_codecs *c, uint64_t dev_eui, json_t *object, int *f_port,
                      uint8_t *out, size_t cap, size_t *len, char *why, size_t why_len) {
  char spec[64] = "";
  if (c) lg_codecs_lookup(c, dev_eui, spec, sizeof(spec));
  if (spec[0] == '\0') {
    snprintf(why, why_len, "object: device %016llx has no payload codec (its profile's "
                           "payload_codec); send data instead", (unsigned long long)dev_eui);
    return LG_ENOTFOUND;
  }
  char err[400];
  int rc = lg_codec_encode(c, spec, object, out, cap, len, f_port, err, sizeof(err));
  if (rc) {
    snprintf(why, why_len, "object: %s", err);
    return rc;
  }
  if (*f_port < 1 || *f_port > 223) {
    snprintf(why, why_len, "f_port: expected 1..223 (the codec chose none)");
    return LG_EINVAL;
  }
  return 0;
}

static bool name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 64) return false;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '-'))
      return false;
  return true;
}

/* The script's file read whole (caller frees); NULL with a reason. */
static char *read_script(const char *path, size_t *len, char *why, size_t why_len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    snprintf(why, why_len, "cannot read %s", path);
    return NULL;
  }
  char *buf = malloc(MAX_SCRIPT + 1);
  size_t n = buf ? fread(buf, 1, MAX_SCRIPT + 1, f) : 0;
  fclose(f);
  if (buf == NULL || n > MAX_SCRIPT) {
    snprintf(why, why_len, "%s: %s", path, buf ? "larger than 1 MiB" : "out of memory");
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

/* The script NAME, compiled (again) when its file changed; returned locked. */
static struct script *script_get(struct lg_codecs *c, const char *name, char *why,
                                 size_t why_len) {
  if (!c->dir[0]) {
    snprintf(why, why_len, "codec js:%s: no codec directory ([codec] dir)", name);
    return NULL;
  }
  if (!name_ok(name)) {
    snprintf(why, why_len, "codec js:%s: a name is 1-64 letters, digits, '_' or '-'", name);
    return NULL;
  }
  if (!lg_js_interruptible()) {
    snprintf(why, why_len, "JavaScript codecs are off: the time budget cannot be enforced here");
    return NULL;
  }
  char path[640];
  snprintf(path, sizeof(path), "%s/%s.js", c->dir, name);
  struct stat st;
  if (stat(path, &st) != 0) {
    snprintf(why, why_len, "codec js:%s: no file %s", name, path);
    return NULL;
  }
  pthread_mutex_lock(&c->mu);
  struct script *s = c->scripts;
  while (s && strcmp(s->name, name) != 0)
    s = s->next;
  if (s == NULL && (s = calloc(1, sizeof(*s))) != NULL) {
    snprintf(s->name, sizeof(s->name), "%s", name);
    pthread_mutex_init(&s->mu, NULL);
    s->size = -1;
    s->next = c->scripts;
    c->scripts = s;
  }
  pthread_mutex_unlock(&c->mu);
  if (s == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  pthread_mutex_lock(&s->mu);
  if (s->size != st.st_size || s->mtime.tv_sec != st.st_mtim.tv_sec ||
      s->mtime.tv_nsec != st.st_mtim.tv_nsec) {
    lg_js_free(s->js);
    s->js = NULL;
    s->mtime = st.st_mtim;
    s->size = st.st_size;
    size_t len;
    char *src = read_script(path, &len, s->why_failed, sizeof(s->why_failed));
    char reason[200];
    if (src && (s->js = lg_js_new(src, len, c->timeout_ms, c->mem_cap, reason,
                                  sizeof(reason))) == NULL)
      snprintf(s->why_failed, sizeof(s->why_failed), "codec js:%s does not compile: %s", name,
               reason);
    free(src);
  }
  if (s->js == NULL) {
    snprintf(why, why_len, "%s", s->why_failed);
    pthread_mutex_unlock(&s->mu);
    return NULL;
  }
  return s;
}

/* `errors` of a script's answer joined into why; true when there were any. */
static bool script_errors(json_t *r, const char *spec, char *why, size_t why_len) {
  json_t *errs = json_object_get(r, "errors");
  if (!json_is_array(errs) || json_array_size(errs) == 0) return false;
  size_t k = (size_t)snprintf(why, why_len, "codec %s: ", spec);
  size_t i;
  json_t *e;
  json_array_foreach(errs, i, e) {
    if (k >= why_len) break;
    k += (size_t)snprintf(why + k, why_len - k, "%s%s", i ? "; " : "",
                          json_is_string(e) ? json_string_value(e) : "(not a string)");
  }
  return true;
}

/* Runs fn of the script named by spec ("js:NAME") on input; the parsed answer. */
static int run_script(struct lg_codecs *c, const char *spec, const char *fn, json_t *input,
                      int is_uplink, json_t **answer, char *why, size_t why_len) {
  struct script *s = script_get(c, spec + 3, why, why_len);
  if (s == NULL) return LG_ENOTFOUND;
  char *in_text = json_dumps(input, JSON_COMPACT);
  char *out = NULL, reason[400];
  int rc = in_text ? lg_js_call(s->js, fn, in_text, is_uplink, &out, reason, sizeof(reason))
                   : LG_ENOMEM;
  pthread_mutex_unlock(&s->mu);
  free(in_text);
  if (rc) {
    snprintf(why, why_len, "codec %s: %s: %s", spec, fn, rc == LG_ENOMEM ? "out of memory" : reason);
    return rc == LG_ENOTFOUND ? LG_EINVAL : rc;
  }
  json_error_t je;
  *answer = json_loads(out, JSON_DECODE_ANY, &je);
  free(out);
  if (!json_is_object(*answer)) {
    snprintf(why, why_len, "codec %s: %s must return an object", spec, fn);
    json_decref(*answer);
    *answer = NULL;
    return LG_EINVAL;
  }
  if (script_errors(*answer, spec, why, why_len)) {
    json_decref(*answer);
    *answer = NULL;
    return LG_EINVAL;
  }
  return 0;
}

static bool is_lpp(const char *spec) {
  return strcmp(spec, "cayenne_lpp") == 0;
}

int lg_codec_decode(struct lg_codecs *c, const char *spec, const struct lg_codec_uplink *in,
                    json_t **object, json_t **warnings, char *why, size_t why_len) {
  *object = NULL;
  if (warnings) *warnings = NULL;
  if (is_lpp(spec)) {
    char reason[200];
    int rc = lg_codec_lpp_decode(in->data, in->len, object, reason, sizeof(reason));
    if (rc) snprintf(why, why_len, "codec cayenne_lpp: %s", reason);
    return rc;
  }
  if (strncmp(spec, "js:", 3) != 0) {
    snprintf(why, why_len, "unknown codec '%s' (cayenne_lpp or js:NAME)", spec);
    return LG_ENOTFOUND;
  }
  json_t *bytes = json_array();
  for (size_t i = 0; i < in->len; i++)
    json_array_append_new(bytes, json_integer(in->data[i]));
  json_t *input = json_pack("{s:o, s:o, s:I}", "bytes", bytes, "fPort",
                            in->f_port >= 0 ? json_integer(in->f_port) : json_null(), "recvTime",
                            (json_int_t)(in->recv_ns / 1000000));
  json_t *answer = NULL;
  int rc = input ? run_script(c, spec, "decodeUplink", input, 1, &answer, why, why_len) : LG_ENOMEM;
  json_decref(input);
  if (rc) return rc;
  json_t *data = json_object_get(answer, "data");
  if (!json_is_object(data)) {
    snprintf(why, why_len, "codec %s: decodeUplink must return {data: an object}", spec);
    json_decref(answer);
    return LG_EINVAL;
  }
  *object = json_incref(data);
  json_t *w = json_object_get(answer, "warnings");
  if (warnings && json_is_array(w) && json_array_size(w)) *warnings = json_incref(w);
  json_decref(answer);
  return 0;
}

int lg_codec_encode(struct lg_codecs *c, const char *spec, json_t *object, uint8_t *out,
                    size_t cap, size_t *len, int *f_port, char *why, size_t why_len) {
  if (is_lpp(spec)) {
    char reason[200];
    int rc = lg_codec_lpp_encode(object, out, cap, len, reason, sizeof(reason));
    if (rc) snprintf(why, why_len, "codec cayenne_lpp: %s", reason);
    return rc;
  }
  if (strncmp(spec, "js:", 3) != 0) {
    snprintf(why, why_len, "unknown codec '%s' (cayenne_lpp or js:NAME)", spec);
    return LG_ENOTFOUND;
  }
  json_t *input = json_pack("{s:O}", "data", object);
  json_t *answer = NULL;
  int rc = input ? run_script(c, spec, "encodeDownlink", input, 0, &answer, why, why_len)
                 : LG_ENOMEM;
  json_decref(input);
  if (rc) return rc;
  json_t *bytes = json_object_get(answer, "bytes"), *port = json_object_get(answer, "fPort");
  size_t i, n = json_array_size(bytes);
  json_t *b;
  rc = json_is_array(bytes) && n <= cap ? 0 : LG_EINVAL;
  json_array_foreach(bytes, i, b) {
    if (rc || !json_is_integer(b) || json_integer_value(b) < 0 || json_integer_value(b) > 255) {
      rc = LG_EINVAL;
      break;
    }
    out[i] = (uint8_t)json_integer_value(b);
  }
  if (rc == 0 && port && !json_is_null(port)) {
    if (!json_is_integer(port) || json_integer_value(port) < 1 || json_integer_value(port) > 223)
      rc = LG_EINVAL;
    else
      *f_port = (int)json_integer_value(port);
  }
  if (rc)
    snprintf(why, why_len,
             "codec %s: encodeDownlink must return {bytes: at most %zu integers 0..255, fPort: "
             "1..223 or none}",
             spec, cap);
  else
    *len = n;
  json_decref(answer);
  return rc;
}

int lg_codecs_uplink_object(struct lg_codecs *c, json_t *up, char *why, size_t why_len) {
  const char *eui = json_string_value(json_object_get(up, "dev_eui"));
  const char *b64 = json_string_value(json_object_get(up, "data"));
  if (c == NULL || eui == NULL || b64 == NULL) return 0;
  char spec[80];
  lg_codecs_lookup(c, strtoull(eui, NULL, 16), spec, sizeof(spec));
  if (!spec[0]) return 0;
  uint8_t data[256];
  struct lg_codec_uplink in = {.dev_eui = strtoull(eui, NULL, 16), .data = data};
  if (lg_base64_decode(b64, strlen(b64), data, sizeof(data), &in.len) != 0) {
    snprintf(why, why_len, "the uplink's data is not base64");
    return LG_EINVAL;
  }
  json_t *port = json_object_get(up, "f_port");
  in.f_port = json_is_integer(port) ? (int)json_integer_value(port) : -1;
  if (in.f_port <= 0) return 0; /* no application payload (MAC commands at most) */
  in.recv_ns = json_integer_value(json_object_get(up, "received_ns"));
  json_t *object, *warnings;
  int rc = lg_codec_decode(c, spec, &in, &object, &warnings, why, why_len);
  if (rc) return rc;
  json_object_set_new(up, "object", object);
  if (warnings) json_object_set_new(up, "object_warnings", warnings);
  return 0;
}
