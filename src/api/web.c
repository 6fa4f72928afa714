/* The web UI's HTTP side; the page itself is web/index.html and web/app.js. */
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
};

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
                              const atomic_uint *gateways_changed, const atomic_bool *stopping) {
  struct stream *s = calloc(1, sizeof(*s));
  if (s == NULL) return MHD_NO;
  *s = (struct stream){.m = m, .gateways_changed = gateways_changed, .stopping = stopping};
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
