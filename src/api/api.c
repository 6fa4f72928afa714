/*
 * HTTP API over libmicrohttpd. Request bodies are bounded (64 KiB), parsed with
 * jansson and validated field by field; a bad body gets 400 with the field named. The
 * bearer token, when configured, guards /api (health and metrics stay open for probes);
 * it is taken from the Authorization header only (a URL lands in logs and histories).
 * Device keys are accepted but never returned.
 *
 * Before any route (guard()): the Host header must be an IP literal, localhost or a name
 * of [api] allowed_hosts (DNS rebinding); a browser's Origin must be the server's own or
 * one of [api] allowed_origins (cross-site requests); a POST must say application/json
 * (a cross-site form or text/plain POST needs no CORS preflight). Connections are capped
 * ([api] max_connections, max_streams) and closed after [api] timeout_s idle, each on its
 * own thread, so slow or streaming clients cannot starve the others.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/api.h"
#include "api/api_int.h"
#include "codec/codec.h"
#include "api/web.h"
#include "lora/lora.h"
#include "store/store.h"
#include "util/outbuf.h"
#include "util/util.h"

#define MAX_BODY 65536
/* POST /api/devices/import: a fleet's inventory in one call (10,000 devices are ~2 MB) */
#define MAX_IMPORT_BODY (32 * 1024 * 1024)
#define IMPORT_URL "/api/devices/import"

struct lg_api {
  struct lg_config cfg;
  _Atomic(struct lg_codecs *) codecs; /* decodes uplinks into `object` (NULL: none) */
  const struct lg_ns_metrics *m;
  atomic_uint *gateways_changed;
  struct lg_store *store;
  pthread_mutex_t mu; /* one connection: one request at a time on it */
  struct MHD_Daemon *daemon;
  atomic_bool stopping; /* ends the live streams */
  atomic_int streams;   /* live streams open */
  char *tls_cert, *tls_key; /* PEM text when [api] tls_cert_file is set (owned) */
};

struct body {
  char *p;
  size_t len;
  bool too_big;
  bool streaming; /* counted in api->streams until on_done */
};

int lg_parse_bind(const char *s, struct sockaddr_storage *out, socklen_t *len) {
  char host[64];
  const char *colon = strrchr(s, ':');
  if (colon == NULL || colon == s) return LG_EINVAL;
  size_t hl = (size_t)(colon - s);
  if (s[0] == '[') {
    if (hl < 2 || s[hl - 1] != ']') return LG_EINVAL;
    s++;
    hl -= 2;
  }
  if (hl >= sizeof(host)) return LG_EINVAL;
  memcpy(host, s, hl);
  host[hl] = '\0';
  char *end = NULL;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535) return LG_EINVAL;
  memset(out, 0, sizeof(*out));
  struct sockaddr_in *v4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *len = sizeof(*v4);
    return 0;
  }
  if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*v6);
    return 0;
  }
  return LG_EINVAL;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
                                 char *text) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(r, "Content-Type", type);
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *o) {
  char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
  json_decref(o);
  if (text == NULL) return MHD_NO;
  return send_text(c, status, "application/json", text);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  json_t *o = json_object();
  json_object_set_new(o, "error", json_string(msg));
  return send_json(c, status, o);
}

static enum MHD_Result metrics(struct lg_api *api, struct MHD_Connection *c) {
  struct lg_outbuf b = {0};
  lg_api_metrics_text(api->m, &b); /* metrics.c */
  if (b.failed || b.p == NULL) {
    lg_out_free(&b);
    return send_error(c, 500, "out of memory");
  }
  return send_text(c, MHD_HTTP_OK, "text/plain; version=0.0.4", b.p); /* MHD frees it */
}

/* GET /api/geo/accuracy: how good locating really is, measured on reference devices. */
static json_t *geo_accuracy_json(const struct lg_ns_metrics *m) {
  json_t *methods = json_object();
  for (size_t i = 0; m->live && i < LG_API_REFERENCE_METHODS; i++) {
    size_t n;
    double med, p90;
    if (lg_geo_live_accuracy(m->live, lg_api_reference_methods[i], &n, &med, &p90) != 0) continue;
    json_object_set_new(methods, lg_geo_method_name(lg_api_reference_methods[i]),
                        json_pack("{s:I, s:f, s:f}", "frames", (json_int_t)n, "median_m",
                                  round(med * 10) / 10, "p90_m", round(p90 * 10) / 10));
  }
  double share = 0, delay_ns = 0;
  if (m->live) lg_geo_live_nlos(m->live, &share, &delay_ns);
  return json_pack("{s:I, s:I, s:o, s:f, s:f, s:f}", "reference_frames",
                   (json_int_t)(m->live ? lg_geo_live_references(m->live) : 0),
                   "payload_errors", (json_int_t)atomic_load(&m->reference_payload_errors),
                   "methods", methods, "timing_noise_factor",
                   m->live ? lg_geo_live_noise_factor(m->live) : 1.0, "nlos_share",
                   round(share * 1e4) / 1e4, "nlos_delay_ns", round(delay_ns * 10) / 10);
}

/* Whether `item` (len bytes) is in the comma-separated `list` (case-insensitive; "*": all). */
static bool listed(const char *list, const char *item, size_t len) {
  for (const char *p = list; *p;) {
    while (*p == ' ' || *p == ',') p++;
    size_t n = strcspn(p, ",");
    size_t m = n;
    while (m > 0 && p[m - 1] == ' ') m--;
    if ((m == 1 && *p == '*') || (m == len && m > 0 && strncasecmp(p, item, len) == 0)) return true;
    p += n;
  }
  return false;
}

/* Host: an IP literal (no name to rebind), localhost, or a configured name. */
static bool host_allowed(const struct lg_api *api, const char *host) {
  if (host == NULL || *host == '\0' || strlen(host) > 255) return false;
  if (host[0] == '[') return strchr(host, ']') != NULL; /* [IPv6]:port */
  char name[256];
  size_t n = strcspn(host, ":");
  snprintf(name, sizeof(name), "%.*s", (int)n, host);
  struct in_addr a4;
  return inet_pton(AF_INET, name, &a4) == 1 || strcasecmp(name, "localhost") == 0 ||
         listed(api->cfg.api_allowed_hosts, name, n);
}

/* Origin: none (not a browser's cross-site request), the server's own (scheme://Host), or
 * a configured one. */
static bool origin_allowed(const struct lg_api *api, const char *origin, const char *host) {
  if (origin == NULL) return true;
  if (listed(api->cfg.api_allowed_origins, origin, strlen(origin))) return true;
  const char *rest = strncasecmp(origin, "http://", 7) == 0    ? origin + 7
                     : strncasecmp(origin, "https://", 8) == 0 ? origin + 8
                                                               : NULL;
  return rest && host && strcasecmp(rest, host) == 0;
}

/* The request's Host, Origin and (POST) Content-Type checked before any route; an answer
 * queued when refused (*refused set). */
static enum MHD_Result guard(const struct lg_api *api, struct MHD_Connection *c,
                             const char *method, const char *url, bool *refused) {
  const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
  const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
  *refused = true;
  if (!host_allowed(api, host))
    return send_error(c, 421, "Host '%.100s' is not served here ([api] allowed_hosts)",
                      host ? host : "");
  if (!origin_allowed(api, origin, host))
    return send_error(c, 403, "Origin '%.100s' is not allowed ([api] allowed_origins)", origin);
  if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    size_t n = strlen("application/json");
    bool import = strcmp(url, IMPORT_URL) == 0;
    if (type && strncasecmp(type, "text/csv", 8) == 0 && import)
      return *refused = false, MHD_YES; /* the inventory as CSV (POST /api/devices/import) */
    if (type == NULL || strncasecmp(type, "application/json", n) != 0 ||
        (type[n] != '\0' && type[n] != ';' && type[n] != ' '))
      return send_error(c, 415, "a body must be sent as Content-Type: application/json%s",
                        import ? " (or text/csv)" : "");
  }
  *refused = false;
  return MHD_YES;
}

static const char *query_arg(void *cls, const char *name) {
  return MHD_lookup_connection_value(cls, MHD_GET_ARGUMENT_KIND, name);
}

/* The bearer token (NULL: no Authorization header). Taken from the header only: a URL
 * lands in logs and histories. */
static const char *bearer_of(struct MHD_Connection *c) {
  const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
  if (auth == NULL) return NULL;
  return strncmp(auth, "Bearer ", 7) == 0 ? auth + 7 : "";
}

/* The answers api.c gives itself (not JSON from a handler, or from the metrics). */
static enum MHD_Result raw_route(struct lg_api *api, struct MHD_Connection *c, const char *url) {
  if (strcmp(url, "/metrics") == 0) return metrics(api, c);
  if (strcmp(url, "/api/geo/accuracy") == 0) return send_json(c, 200, geo_accuracy_json(api->m));
  const char *down = atomic_load(&api->m->store_reason); /* /api/health */
  if (atomic_load(&api->m->store_down) && down) return send_error(c, 503, "%s", down);
  return send_json(c, 200, json_pack("{s:s, s:I}", "status", "ok", "time_ns",
                                     (json_int_t)lg_config_now_ns(&api->cfg))); /* its clock */
}

/* The route table's entry for this method and path; NULL with the status to answer (404:
 * no such path, 405: not with this method, `allow` listing the methods that are). */
static const struct lg_api_route *find_route(const char *url, const char *method, const char **var,
                                             size_t *n_var, char *buf, size_t len, char *allow,
                                             size_t allow_len, unsigned *status) {
  const struct lg_api_route *found = NULL;
  size_t k = 0;
  *status = 404;
  for (size_t i = 0; i < lg_api_n_routes; i++) {
    const struct lg_api_route *rt = &lg_api_routes[i];
    const char *v[LG_API_MAX_VARS];
    size_t n = 0;
    char tmp[256];
    if (!lg_api_match(rt->pattern, url, v, &n, tmp, sizeof(tmp))) continue;
    *status = 405;
    if (k < allow_len) k += (size_t)snprintf(allow + k, allow_len - k, "%s%s", k ? ", " : "", rt->method);
    if (found || strcmp(rt->method, method) != 0) continue;
    found = rt;
    lg_api_match(rt->pattern, url, var, n_var, buf, len); /* into the caller's buffer */
  }
  return found;
}

/* Routes one request (the store lock held): the route table, the caller's scope, the
 * body, then the route's handler. */
static enum MHD_Result route(struct lg_api *api, struct MHD_Connection *c, const char *url,
                             const char *method, struct body *body) {
  struct lg_api_req req = {.store = api->store, .cfg = &api->cfg,
                           .region = lg_region_find(api->cfg.region),
                           .gateways_changed = api->gateways_changed, .method = method,
                           .url = url, .query = query_arg, .query_cls = c,
                           .now_ns = lg_config_now_ns(&api->cfg),
                           .codecs = atomic_load(&api->codecs),
                           .links = api->m ? api->m->links : NULL};
  char vars[256], allow[64] = "", why[160];
  size_t n_var = 0;
  unsigned status;
  const struct lg_api_route *rt = find_route(url, method, req.var, &n_var, vars, sizeof(vars),
                                             allow, sizeof(allow), &status);
  if (rt == NULL)
    return status == 405 ? send_error(c, 405, "%s %s: use %s", method, url, allow)
                         : send_error(c, 404, "no such resource: %s", url);
  if ((rt->flags & LG_ROUTE_RAW) && (rt->flags & LG_ROUTE_OPEN)) return raw_route(api, c, url);
  if (!(rt->flags & LG_ROUTE_OPEN)) {
    if (lg_api_scope_of(api->store, &api->cfg, bearer_of(c), &req.scope, why, sizeof(why)))
      return send_error(c, 401, "%s", why);
    bool get = strcmp(method, "GET") == 0, admin = req.scope.application_id == 0;
    if (!get && !req.scope.write)
      return send_error(c, 403, "%s needs a read-write token ([api] token or a read-write API "
                                "key); this one reads only", method);
    if ((rt->flags & LG_ROUTE_ADMIN) && !admin)
      return send_error(c, 403, "%s needs an admin token; this API key is application %lld's",
                        url, (long long)req.scope.application_id);
    if ((rt->flags & LG_ROUTE_ADMIN_WRITE) && !get && !admin)
      return send_error(c, 403, "%s %s needs an admin token: an application's key only reads it",
                        method, url);
  }
  if (strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0) {
    if (body->too_big)
      return send_error(c, 413, "body larger than %d bytes",
                        strcmp(url, IMPORT_URL) == 0 ? MAX_IMPORT_BODY : MAX_BODY);
    json_error_t e;
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (type && strncasecmp(type, "text/csv", 8) == 0) /* handed over as {"csv": text} */
      req.body = json_pack("{s:s%}", "csv", body->p ? body->p : "", body->len);
    else
      req.body = json_loadb(body->p ? body->p : "", body->len, 0, &e);
    if (req.body == NULL) snprintf(e.text, sizeof(e.text), "not UTF-8 text");
    if (!json_is_object(req.body)) {
      json_decref(req.body);
      return send_error(c, 400, "body: expected a JSON object (%s)", e.text);
    }
  }
  json_t *out = NULL;
  status = (unsigned)rt->fn(&req, &out);
  json_decref(req.body);
  if (out == NULL) return send_error(c, 500, "out of memory");
  if (json_is_string(out)) { /* a handler's text answer: CSV (the inventory's export) */
    char *text = strdup(json_string_value(out));
    json_decref(out);
    return text ? send_text(c, status, "text/csv; charset=utf-8", text) : MHD_NO;
  }
  return send_json(c, status, out);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
  (void)version;
  struct lg_api *api = cls;
  struct body *body = *con_cls;
  if (body == NULL) {
    if ((body = calloc(1, sizeof(*body))) == NULL) return MHD_NO;
    *con_cls = body;
    return MHD_YES;
  }
  if (*upload_size) {
    size_t max = strcmp(url, IMPORT_URL) == 0 ? MAX_IMPORT_BODY : MAX_BODY;
    if (body->len + *upload_size > max) {
      body->too_big = true;
    } else {
      char *p = realloc(body->p, body->len + *upload_size + 1);
      if (p == NULL) return MHD_NO;
      memcpy(p + body->len, upload, *upload_size);
      body->p = p;
      body->len += *upload_size;
      p[body->len] = '\0';
    }
    *upload_size = 0;
    return MHD_YES;
  }
  bool refused = false;
  enum MHD_Result g = guard(api, c, method, url, &refused);
  if (refused) return g;
  /* The web UI's files and the live stream need no database (nor its lock). */
  if (strcmp(method, "GET") == 0 && strncmp(url, "/api/", 5) != 0 && strcmp(url, "/metrics") != 0)
    return lg_web_file(c, api->cfg.web_root, url);
  if (strcmp(method, "GET") == 0 && strcmp(url, "/api/stream") == 0) {
    struct lg_api_scope scope; /* any scope: the stream says only "something changed" */
    char why[160];
    pthread_mutex_lock(&api->mu);
    int denied = lg_api_scope_of(api->store, &api->cfg, bearer_of(c), &scope, why, sizeof(why));
    pthread_mutex_unlock(&api->mu);
    if (denied) return send_error(c, 401, "%s", why);
    if (atomic_fetch_add(&api->streams, 1) >= api->cfg.api_max_streams) {
      atomic_fetch_sub(&api->streams, 1);
      return send_error(c, 503, "too many live streams (%d, [api] max_streams)",
                        api->cfg.api_max_streams);
    }
    body->streaming = true;
    return lg_web_stream(c, api->m, api->gateways_changed, &api->stopping,
                         scope.application_id == 0);
  }
  pthread_mutex_lock(&api->mu);
  enum MHD_Result r = route(api, c, url, method, body);
  pthread_mutex_unlock(&api->mu);
  return r;
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode t) {
  (void)c;
  (void)t;
  struct body *b = *con_cls;
  if (b && b->streaming) atomic_fetch_sub(&((struct lg_api *)cls)->streams, 1);
  if (b) {
    free(b->p);
    free(b);
  }
  *con_cls = NULL;
}

/* A PEM file's text (at most 1 MiB), malloc'ed into *out; -1 with the reason. */
static int read_pem(const char *path, const char *key, char **out, char *why, size_t why_len) {
  FILE *f = fopen(path, "rb");
  char *buf = f ? malloc((1 << 20) + 1) : NULL;
  size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
  bool too_big = buf && n == (1 << 20) && fgetc(f) != EOF;
  int err = errno;
  if (f) fclose(f);
  if (buf == NULL || n == 0 || too_big || memchr(buf, '\0', n) ||
      strstr((buf[n] = '\0', buf), "-----BEGIN ") == NULL) {
    snprintf(why, why_len, "[api] %s '%s': %s", key, path,
             f == NULL ? strerror(err) : too_big ? "larger than 1 MiB" : "not a PEM file");
    free(buf);
    return LG_EIO;
  }
  *out = buf;
  return 0;
}

static void api_free(struct lg_api *api) {
  if (api->store) lg_store_close(api->store);
  pthread_mutex_destroy(&api->mu);
  free(api->tls_cert);
  free(api->tls_key);
  free(api);
}

void lg_api_set_codecs(struct lg_api *api, struct lg_codecs *codecs) {
  atomic_store(&api->codecs, codecs);
}

struct lg_api *lg_api_start(const struct lg_config *cfg, const struct lg_ns_metrics *metrics,
                            atomic_uint *gateways_changed, char *why, size_t why_len) {
  struct sockaddr_storage addr;
  socklen_t len;
  if (lg_parse_bind(cfg->http_bind, &addr, &len)) {
    snprintf(why, why_len, "http_bind '%s': expected HOST:PORT", cfg->http_bind);
    return NULL;
  }
  struct lg_api *api = calloc(1, sizeof(*api));
  if (api == NULL) return NULL;
  api->cfg = *cfg;
  api->m = metrics;
  api->gateways_changed = gateways_changed;
  pthread_mutex_init(&api->mu, NULL);
  bool tls = cfg->api_tls_cert_file[0] != '\0';
  if (tls && (read_pem(cfg->api_tls_cert_file, "tls_cert_file", &api->tls_cert, why, why_len) ||
              read_pem(cfg->api_tls_key_file, "tls_key_file", &api->tls_key, why, why_len))) {
    api_free(api);
    return NULL;
  }
  char note[512]; /* the server's own store said it already */
  if (lg_config_open_store(cfg, NULL, &api->store, NULL, note, sizeof(note), why, why_len)) {
    api->store = NULL;
    api_free(api);
    return NULL;
  }
  /* The socket is made here, so a failure says the OS's reason (libmicrohttpd's own says
   * "Failed to bind to port 0"). */
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, (const struct sockaddr *)&addr, len) != 0 || listen(fd, 512) != 0) {
    snprintf(why, why_len, "cannot listen for HTTP on %s: %s", cfg->http_bind, strerror(errno));
    if (fd >= 0) close(fd);
    api_free(api);
    return NULL;
  }
  /* A thread per connection: a live stream waits on its own thread, never blocking the API;
   * capped, each idle one closed after timeout_s, with a 1 MiB stack (not 8). With TLS
   * (libmicrohttpd's HTTPS through GnuTLS) the port speaks HTTPS only. */
  unsigned flags =
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
      MHD_USE_ERROR_LOG; /* poll(), not select(): no FD_SETSIZE (1,024) ceiling on connections */
  if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  if (tls) flags |= MHD_USE_TLS;
  struct MHD_OptionItem tls_opts[] = {
      {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, api->tls_cert},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, api->tls_key},
      {MHD_OPTION_END, 0, NULL}};
  api->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, api, MHD_OPTION_LISTEN_SOCKET, fd,
      MHD_OPTION_NOTIFY_COMPLETED, on_done, api, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)cfg->api_max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)cfg->api_timeout_s, MHD_OPTION_THREAD_STACK_SIZE, (size_t)1 << 20,
      MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
  if (api->daemon == NULL) {
    if (tls)
      snprintf(why, why_len,
               "cannot serve HTTPS on %s: libmicrohttpd refused [api] tls_cert_file '%s' or "
               "tls_key_file '%s' (PEM, the key matching the certificate)",
               cfg->http_bind, cfg->api_tls_cert_file, cfg->api_tls_key_file);
    else
      snprintf(why, why_len, "cannot serve HTTP on %s (libmicrohttpd)", cfg->http_bind);
    close(fd);
    api_free(api);
    return NULL;
  }
  return api;
}

struct lg_api *lg_api_start_unthreaded(const struct lg_config *cfg,
                                       const struct lg_ns_metrics *metrics, char *why,
                                       size_t why_len) {
  struct lg_api *api = calloc(1, sizeof(*api));
  if (api == NULL) return NULL;
  api->cfg = *cfg;
  api->m = metrics;
  pthread_mutex_init(&api->mu, NULL);
  char note[512];
  if (lg_config_open_store(cfg, NULL, &api->store, NULL, note, sizeof(note), why, why_len)) {
    api->store = NULL;
    api_free(api);
    return NULL;
  }
  api->daemon = MHD_start_daemon(MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, on_request, api,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_done, api,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)1, MHD_OPTION_END);
  if (api->daemon == NULL) {
    snprintf(why, why_len, "libmicrohttpd refused to start");
    api_free(api);
    return NULL;
  }
  return api;
}

int lg_api_serve_fd(struct lg_api *api, int fd) {
  struct sockaddr_in peer = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  return MHD_add_connection(api->daemon, fd, (const struct sockaddr *)&peer, sizeof(peer)) ==
                 MHD_YES
             ? 0
             : -1;
}

void lg_api_run(struct lg_api *api) {
  MHD_run(api->daemon);
}

void lg_api_stop(struct lg_api *api) {
  if (api == NULL) return;
  atomic_store(&api->stopping, true);
  MHD_stop_daemon(api->daemon);
  api_free(api);
}
