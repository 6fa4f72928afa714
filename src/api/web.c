/*
 * The web UI's HTTP side: its files (web/: index.html and the console's modules; Leaflet
 * from web/node_modules as /vendor/leaflet/) and the live stream, /api/stream: server-sent
 * events, "update" when uplinks, joins, locations or gateways changed (the console then
 * reads what it shows), "error" for each refused frame or failed downlink (an admin's
 * stream), and an ": idle" comment every second so a dead connection is noticed.
 */
#define _DEFAULT_SOURCE /* usleep */
#include "api/web.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *content_type(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {{".html", "text/html; charset=utf-8"},
               {".js", "text/javascript"},
               {".css", "text/css"},
               {".png", "image/png"},
               {".svg", "image/svg+xml"},
               {".map", "application/json"}};
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
    if (strcmp(dot, types[i].ext) == 0) return types[i].type;
  return "application/octet-stream";
}

static enum MHD_Result not_found(struct MHD_Connection *c) {
  static const char body[] = "{\"error\": \"no such page\"}";
  struct MHD_Response *r =
      MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(r, "Content-Type", "application/json");
  enum MHD_Result ret = MHD_queue_response(c, 404, r);
  MHD_destroy_response(r);
  return ret;
}

enum MHD_Result lg_web_file(struct MHD_Connection *c, const char *web_root, const char *url) {
  char path[1024];
  if (strstr(url, "..")) return not_found(c);
  int n;
  if (strcmp(url, "/") == 0)
    n = snprintf(path, sizeof(path), "%s/index.html", web_root);
  else if (strncmp(url, "/vendor/leaflet/", 16) == 0)
    n = snprintf(path, sizeof(path), "%s/node_modules/leaflet/dist/%s", web_root, url + 16);
  else
    n = snprintf(path, sizeof(path), "%s%s", web_root, url);
  if (n < 0 || (size_t)n >= sizeof(path)) return not_found(c);
  int fd = open(path, O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    return not_found(c);
  }
  struct MHD_Response *r = MHD_create_response_from_fd((size_t)st.st_size, fd); /* closes fd */
  if (r == NULL) {
    close(fd);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", content_type(path));
  enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return ret;
}

struct stream {
  const struct lg_ns_metrics *m;
  const atomic_uint *gateways_changed;
  const atomic_bool *stopping;
  uint64_t seen;
  bool errors; /* an admin's stream: frames refused and downlinks that failed are told */
  uint64_t dropped_seen[LG_DROP_COUNT], dl_seen[LG_DL_COUNT];
};

/* The downlink results that are failures (not sent, ok, or a retry). */
static bool dl_failed(int i) {
  return i != LG_DL_SENT && i != LG_DL_OK && i != LG_DL_RETRIED;
}

/* One "error" event for a counter of refused frames or failed downlinks that grew since the
 * last look (0 when none grew): the console's frame log shows errors as they happen. These
 * frames belong to no device the server knows (or failed its checks), so only an admin's
 * stream tells them. */
static int error_event(struct stream *s, char *buf, size_t max) {
  for (int i = 0; s->errors && i < LG_DROP_COUNT; i++) {
    uint64_t v = atomic_load(&s->m->dropped[i]);
    if (v == s->dropped_seen[i]) continue;
    uint64_t n = v - s->dropped_seen[i];
    s->dropped_seen[i] = v;
    return snprintf(buf, max, "event: error\ndata: {\"kind\": \"uplink_dropped\", \"reason\": \"%s\", "
                              "\"count\": %llu, \"total\": %llu}\n\n",
                    lg_drop_name((enum lg_drop)i), (unsigned long long)n, (unsigned long long)v);
  }
  for (int i = 0; s->errors && i < LG_DL_COUNT; i++) {
    uint64_t v = atomic_load(&s->m->downlinks[i]);
    if (!dl_failed(i) || v == s->dl_seen[i]) continue;
    uint64_t n = v - s->dl_seen[i];
    s->dl_seen[i] = v;
    return snprintf(buf, max, "event: error\ndata: {\"kind\": \"downlink_failed\", \"reason\": \"%s\", "
                              "\"count\": %llu, \"total\": %llu}\n\n",
                    lg_dl_result_name((enum lg_dl_result)i), (unsigned long long)n,
                    (unsigned long long)v);
  }
  return 0;
}

static uint64_t version(const struct stream *s) {
  uint64_t v =
      atomic_load(&s->m->uplinks) + atomic_load(&s->m->late_copies) + atomic_load(&s->m->joins);
  for (int i = 0; i < LG_GEO_METHOD_COUNT; i++)
    v += atomic_load(&s->m->locations[i]);
  return v + (s->gateways_changed ? atomic_load(s->gateways_changed) : 0);
}

/* Runs on the connection's own thread (one thread per connection), so waiting is fine. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  struct stream *s = cls;
  for (int i = 0; i < 5; i++) {
    if (atomic_load(s->stopping)) return MHD_CONTENT_READER_END_OF_STREAM;
    int n = error_event(s, buf, max);
    if (n > 0) return n;
    uint64_t v = version(s);
    if (v != s->seen) {
      s->seen = v;
      return snprintf(buf, max, "event: update\ndata: %llu\n\n", (unsigned long long)v);
    }
    usleep(200000);
  }
  return snprintf(buf, max, ": idle\n\n");
}

enum MHD_Result lg_web_stream(struct MHD_Connection *c, const struct lg_ns_metrics *m,
                              const atomic_uint *gateways_changed, const atomic_bool *stopping,
                              bool errors) {
  struct stream *s = calloc(1, sizeof(*s));
  if (s == NULL) return MHD_NO;
  *s = (struct stream){.m = m, .gateways_changed = gateways_changed, .stopping = stopping,
                       .errors = errors};
  for (int i = 0; i < LG_DROP_COUNT; i++) /* from now on: what came before is in /metrics */
    s->dropped_seen[i] = atomic_load(&m->dropped[i]);
  for (int i = 0; i < LG_DL_COUNT; i++)
    s->dl_seen[i] = atomic_load(&m->downlinks[i]);
  s->seen = version(s) - 1; /* the first read says "update": the page draws at once */
  struct MHD_Response *r =
      MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256, stream_read, s, free);
  if (r == NULL) {
    free(s);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", "text/event-stream");
  MHD_add_response_header(r, "Cache-Control", "no-cache");
  enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return ret;
}
