/*
 * Several instances behind one set of gateways share each frame's copies through Redis
 * ([cluster] redis = redis://HOST:PORT). Per frame (its key: frequency, data rate,
 * PHYPayload), three Redis keys live for the window plus the late-copy horizon:
 *   lg:w:<key>  the instance that saw a copy first and owns the frame (SET NX)
 *   lg:r:<key>  the copies the other instances received, handed to the owner (a list)
 *   lg:u:<key>  once the owner processed the frame: the stored uplink's id (0: refused)
 * An instance that does not own a frame hands over every copy it gets, in one MULTI with a
 * GET of lg:u: if the frame was already processed, the copy is a late one and the instance
 * attaches it to the stored uplink itself; if not, the owner takes it — at its window's end
 * (LRANGE) or, for copies that came while it was processing, in the MULTI that publishes
 * lg:u. Each copy is taken exactly once, and no frame is processed twice.
 * If Redis cannot be reached, the instance processes what it receives on its own and says
 * so (the frame counter's compare-and-set in the database still accepts a counter once).
 */
#include "ns/cluster.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

struct ns_cluster {
  redisContext *r;
  char host[200];
  int port;
  char id[24]; /* this instance, for lg:w */
};

static bool reconnect(struct ns_cluster *c) {
  if (c->r && !c->r->err) return true;
  if (c->r) redisFree(c->r);
  struct timeval tv = {1, 0};
  c->r = redisConnectWithTimeout(c->host, c->port, tv);
  if (c->r == NULL || c->r->err) return false;
  /* the packet loop waits on these calls: a Redis that hangs costs at most 200 ms a call */
  redisSetTimeout(c->r, (struct timeval){0, 200000});
  return true;
}

int ns_cluster_open(struct ns_cluster **out, const char *url, uint64_t instance, char *why,
                    size_t why_len) {
  struct ns_cluster *c = calloc(1, sizeof(*c));
  if (c == NULL) return LG_ENOMEM;
  const char *h = url + strlen("redis://");
  const char *colon = strrchr(h, ':');
  size_t n = colon ? (size_t)(colon - h) : strlen(h);
  if (strncmp(url, "redis://", 8) != 0 || n == 0 || n >= sizeof(c->host)) {
    snprintf(why, why_len, "[cluster] redis '%s': expected redis://HOST[:PORT]", url);
    free(c);
    return LG_EINVAL;
  }
  memcpy(c->host, h, n);
  c->port = colon ? atoi(colon + 1) : 6379;
  snprintf(c->id, sizeof(c->id), "%016llx", (unsigned long long)instance);
  if (!reconnect(c)) {
    snprintf(why, why_len, "[cluster] redis %s: %s", url, c->r ? c->r->errstr : "no memory");
    ns_cluster_close(c);
    return LG_EIO;
  }
  *out = c;
  return 0;
}

void ns_cluster_close(struct ns_cluster *c) {
  if (c == NULL) return;
  if (c->r) redisFree(c->r);
  free(c);
}

/* "lg:X:" + the frame's key, binary */
static size_t rkey(char *out, char kind, const uint8_t *key, size_t key_len) {
  memcpy(out, "lg:", 3);
  out[3] = kind, out[4] = ':';
  memcpy(out + 5, key, key_len);
  return 5 + key_len;
}

bool ns_cluster_claim(struct ns_cluster *c, const uint8_t *key, size_t key_len, int ttl_ms,
                      bool *ok) {
  char k[8 + 300];
  size_t kl = rkey(k, 'w', key, key_len);
  *ok = reconnect(c);
  if (!*ok) return true;
  redisReply *rep = redisCommand(c->r, "SET %b %s NX PX %d", k, kl, c->id, ttl_ms);
  *ok = rep != NULL && rep->type != REDIS_REPLY_ERROR;
  bool mine = !*ok || rep->type == REDIS_REPLY_STATUS; /* "OK"; nil: another owns it */
  if (rep) freeReplyObject(rep);
  return mine;
}

int64_t ns_cluster_hand_over(struct ns_cluster *c, const uint8_t *key, size_t key_len,
                             const struct ns_rx *rx, int ttl_ms, bool *ok) {
  char kr[8 + 300], ku[8 + 300];
  size_t lr = rkey(kr, 'r', key, key_len), lu = rkey(ku, 'u', key, key_len);
  *ok = reconnect(c);
  if (!*ok) return 0;
  redisAppendCommand(c->r, "MULTI");
  redisAppendCommand(c->r, "RPUSH %b %b", kr, lr, (const char *)rx, sizeof(*rx));
  redisAppendCommand(c->r, "PEXPIRE %b %d", kr, lr, ttl_ms);
  redisAppendCommand(c->r, "GET %b", ku, lu);
  redisAppendCommand(c->r, "EXEC");
  redisReply *rep = NULL;
  int64_t id = 0;
  *ok = true;
  for (int i = 0; i < 5; i++) {
    if (redisGetReply(c->r, (void **)&rep) != REDIS_OK) {
      *ok = false;
      return 0;
    }
    if (i == 4 && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
        rep->element[2]->type == REDIS_REPLY_STRING)
      id = atoll(rep->element[2]->str) > 0 ? atoll(rep->element[2]->str) : -1;
    if (i == 4 && rep->type != REDIS_REPLY_ARRAY) *ok = false;
    freeReplyObject(rep);
  }
  return id;
}

/* The copies in a reply's list, into out[] (up to cap); the list's length in *n_list. */
static size_t take(redisReply *list, struct ns_rx *out, size_t cap, size_t *n_list) {
  size_t k = 0;
  *n_list = list && list->type == REDIS_REPLY_ARRAY ? list->elements : 0;
  for (size_t i = 0; i < *n_list && k < cap; i++) {
    redisReply *e = list->element[i];
    if (e->type == REDIS_REPLY_STRING && e->len == sizeof(struct ns_rx))
      memcpy(&out[k++], e->str, e->len);
  }
  return k;
}

size_t ns_cluster_collect(struct ns_cluster *c, const uint8_t *key, size_t key_len,
                          struct ns_rx *out, size_t cap, size_t *taken) {
  char kr[8 + 300];
  size_t lr = rkey(kr, 'r', key, key_len);
  *taken = 0;
  if (!reconnect(c)) return 0;
  redisReply *rep = redisCommand(c->r, "LRANGE %b 0 -1", kr, lr);
  size_t k = take(rep, out, cap, taken);
  if (rep) freeReplyObject(rep);
  return k;
}

size_t ns_cluster_done(struct ns_cluster *c, const uint8_t *key, size_t key_len, int64_t uplink_id,
                       size_t taken, int ttl_ms, struct ns_rx *out, size_t cap) {
  char kr[8 + 300], ku[8 + 300];
  size_t lr = rkey(kr, 'r', key, key_len), lu = rkey(ku, 'u', key, key_len);
  if (!reconnect(c)) return 0;
  char id[24];
  snprintf(id, sizeof(id), "%lld", (long long)uplink_id);
  redisAppendCommand(c->r, "MULTI");
  redisAppendCommand(c->r, "SET %b %s PX %d", ku, lu, id, ttl_ms);
  redisAppendCommand(c->r, "LRANGE %b %lld -1", kr, lr, (long long)taken);
  redisAppendCommand(c->r, "EXEC");
  size_t k = 0, n = 0;
  redisReply *rep = NULL;
  for (int i = 0; i < 4; i++) {
    if (redisGetReply(c->r, (void **)&rep) != REDIS_OK) return k;
    if (i == 3 && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2)
      k = take(rep->element[1], out, cap, &n);
    freeReplyObject(rep);
  }
  return k;
}
