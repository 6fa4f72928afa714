/*
 * Several instances behind one set of gateways share, through one Redis
 * ([cluster] redis = redis://HOST:PORT):
 *
 * Frames. Per frame (its key: frequency, data rate, PHYPayload), for the window plus the
 * late-copy horizon:
 *   lg:w:<key>  the instance that handed in a copy first and owns the frame
 *   lg:r:<key>  every copy any instance received (a list; each tagged with its instance)
 *   lg:u:<key>  once the owner processed the frame: the stored uplink's id (0: refused)
 * and lg:open:<instance>, the frames an instance owns and has not closed. One script
 * (COPY) claims the frame if nobody has, appends the copy and reads lg:u, so each frame has
 * exactly one owner; the copies of one batch of datagrams go in one round trip, before
 * the batch is acknowledged. The owner takes the others' copies
 * at its window's end (LRANGE) and, after committing, publishes lg:u, closes the frame and
 * takes the copies that came meanwhile (they are late) in one MULTI. A copy handed in after
 * lg:u is set is a late one: its instance attaches it to the stored uplink itself.
 *
 * Instances. Each says it is alive every half second (lg:live:<id>, 3 s) and is listed in
 * lg:instances. When one falls silent, a survivor takes its open frames (script TAKE:
 * each frame to exactly one survivor) and processes them from the copies in lg:r — its
 * own copies included, as the dead instance kept them there before acknowledging them.
 *
 * Downlinks. The instance holding a gateway's PULL path says so in lg:gw:<eui>. A downlink
 * decided elsewhere goes to the holder's list lg:dl:<holder>; the holder sends it (its
 * duty cycle decides: one place accounts for each gateway) and returns the gateway's
 * TX_ACK to the deciding instance's lg:ack:<owner>. Both lists are read every tick. A
 * gateway's downlink airtime is mirrored in lg:dc:<eui> for the next holder.
 *
 * If Redis cannot be reached, the instance processes what it receives on its own and says
 * so (the frame counter's compare-and-set in the database still accepts a counter once).
 * The records are this build's structs: run one lorageo version across the cluster.
 */
#include "ns/cluster.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

#define ALIVE_EVERY_NS 500000000LL
#define ALIVE_TTL_MS   3000
#define GATEWAY_TTL_MS 60000
#define KEY_MAX        (8 + 300)

/* A copy as kept in lg:r. */
struct copy {
  uint64_t instance;
  struct ns_rx rx;
};

static const char COPY[] =
    "local owner = redis.call('GET', KEYS[1])\n"
    "if not owner then\n"
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])\n"
    "  redis.call('ZADD', KEYS[4], 0, ARGV[4])\n"
    "  owner = ARGV[1]\n"
    "end\n"
    "redis.call('RPUSH', KEYS[2], ARGV[2])\n"
    "redis.call('PEXPIRE', KEYS[2], ARGV[3])\n"
    "return {owner == ARGV[1] and 1 or 0, redis.call('GET', KEYS[3]) or ''}\n";

static const char TAKE[] = "local ks = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)\n"
                           "if #ks == 0 then redis.call('SREM', KEYS[2], ARGV[1]) return ks end\n"
                           "for i = 1, #ks do redis.call('ZREM', KEYS[1], ks[i]) end\n"
                           "return ks\n";

struct ns_cluster {
  redisContext *r;
  char host[200];
  int port;
  uint64_t self;
  char id[24]; /* self in hex, as written in Redis */
  int64_t alive_ns;
  size_t asked; /* pipelined questions whose answers are still to be read */
};

static bool reconnect(struct ns_cluster *c) {
  /* a call in the middle of a pipeline would read another question's answer */
  if (c->asked) return false;
  if (c->r && !c->r->err) return true;
  if (c->r) redisFree(c->r);
  struct timeval tv = {1, 0};
  c->r = redisConnectWithTimeout(c->host, c->port, tv);
  if (c->r == NULL || c->r->err) return false;
  /* the packet loop waits on these calls: a Redis that hangs costs at most 200 ms a call */
  redisSetTimeout(c->r, (struct timeval){0, 200000});
  return true;
}

/* Reads n pipelined replies; the last one is kept in *last (the caller frees it). */
static bool replies(struct ns_cluster *c, int n, redisReply **last) {
  *last = NULL;
  for (int i = 0; i < n; i++) {
    redisReply *rep = NULL;
    if (redisGetReply(c->r, (void **)&rep) != REDIS_OK) {
      if (*last) freeReplyObject(*last);
      *last = NULL;
      return false;
    }
    if (*last) freeReplyObject(*last);
    *last = rep;
  }
  return true;
}

static void command(struct ns_cluster *c, const char *fmt, ...) {
  if (!reconnect(c)) return;
  va_list ap;
  va_start(ap, fmt);
  redisReply *rep = redisvCommand(c->r, fmt, ap);
  va_end(ap);
  if (rep) freeReplyObject(rep);
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
  c->self = instance ? instance : 1;
  snprintf(c->id, sizeof(c->id), "%016llx", (unsigned long long)c->self);
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
  if (c->r) { /* leaving in order: nothing of ours is open any more */
    command(c, "DEL lg:live:%s", c->id);
    command(c, "SREM lg:instances %s", c->id);
    redisFree(c->r);
  }
  free(c);
}

uint64_t ns_cluster_self(const struct ns_cluster *c) {
  return c->self;
}

/* "lg:X:" + the frame's key, binary */
static size_t rkey(char *out, char kind, const uint8_t *key, size_t key_len) {
  memcpy(out, "lg:", 3);
  out[3] = kind, out[4] = ':';
  memcpy(out + 5, key, key_len);
  return 5 + key_len;
}

bool ns_cluster_copies(struct ns_cluster *c, struct ns_cluster_copy *copies, size_t n, int ttl_ms) {
  char ko[48];
  snprintf(ko, sizeof(ko), "lg:open:%s", c->id);
  for (size_t i = 0; i < n; i++)
    copies[i].mine = true, copies[i].uplink_id = 0;
  if (!reconnect(c)) return false;
  for (size_t i = 0; i < n; i++) {
    char kw[KEY_MAX], kr[KEY_MAX], ku[KEY_MAX];
    const struct ns_cluster_copy *q = &copies[i];
    size_t lw = rkey(kw, 'w', q->key, q->key_len), lr = rkey(kr, 'r', q->key, q->key_len),
           lu = rkey(ku, 'u', q->key, q->key_len);
    struct copy cp = {.instance = c->self, .rx = *q->rx};
    redisAppendCommand(c->r, "EVAL %s 4 %b %b %b %s %s %b %d %b", COPY, kw, lw, kr, lr, ku, lu, ko,
                       c->id, (const char *)&cp, sizeof(cp), ttl_ms, q->key, q->key_len);
  }
  bool ok = true;
  for (size_t i = 0; i < n; i++) {
    redisReply *rep = NULL;
    if (redisGetReply(c->r, (void **)&rep) != REDIS_OK) return false;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
      copies[i].mine = rep->element[0]->integer == 1;
      if (rep->element[1]->type == REDIS_REPLY_STRING && rep->element[1]->len > 0) {
        long long id = atoll(rep->element[1]->str);
        copies[i].uplink_id = id > 0 ? id : -1;
      }
    } else {
      ok = false;
    }
    freeReplyObject(rep);
  }
  return ok;
}

/* The copies in a reply's list, into out[] (up to cap), skipping this instance's own
 * unless `all`; the list's length in *n_list. */
static size_t take(const struct ns_cluster *c, redisReply *list, bool all, struct ns_rx *out,
                   size_t cap, size_t *n_list) {
  size_t k = 0;
  *n_list = list && list->type == REDIS_REPLY_ARRAY ? list->elements : 0;
  for (size_t i = 0; i < *n_list && k < cap; i++) {
    redisReply *e = list->element[i];
    struct copy cp;
    if (e->type != REDIS_REPLY_STRING || e->len != sizeof(cp)) continue;
    memcpy(&cp, e->str, sizeof(cp));
    if (all || cp.instance != c->self) out[k++] = cp.rx;
  }
  return k;
}

bool ns_cluster_ready(struct ns_cluster *c) {
  if (c->asked && c->r) { /* answers never read: the connection is out of step */
    redisFree(c->r);
    c->r = NULL;
  }
  c->asked = 0;
  return reconnect(c);
}

/* Whether a pipelined question can go out (the connection is up; ready() reconnects). */
static bool can_ask(struct ns_cluster *c) {
  return c->r && !c->r->err;
}

void ns_cluster_collect_ask(struct ns_cluster *c, const uint8_t *key, size_t key_len) {
  char kr[KEY_MAX];
  size_t lr = rkey(kr, 'r', key, key_len);
  if (can_ask(c) && redisAppendCommand(c->r, "LRANGE %b 0 -1", kr, lr) == REDIS_OK) c->asked++;
}

size_t ns_cluster_collect_read(struct ns_cluster *c, bool all, struct ns_rx *out, size_t cap,
                               size_t *taken) {
  *taken = 0;
  if (c->asked == 0) return 0;
  c->asked--;
  redisReply *rep;
  if (!replies(c, 1, &rep)) return 0;
  size_t k = take(c, rep, all, out, cap, taken);
  freeReplyObject(rep);
  return k;
}

void ns_cluster_done_ask(struct ns_cluster *c, const uint8_t *key, size_t key_len,
                         int64_t uplink_id, size_t taken, int ttl_ms) {
  char kr[KEY_MAX], ku[KEY_MAX];
  size_t lr = rkey(kr, 'r', key, key_len), lu = rkey(ku, 'u', key, key_len);
  if (!can_ask(c)) return;
  char id[24];
  snprintf(id, sizeof(id), "%lld", (long long)uplink_id);
  redisAppendCommand(c->r, "MULTI");
  redisAppendCommand(c->r, "SET %b %s PX %d", ku, lu, id, ttl_ms);
  redisAppendCommand(c->r, "ZREM lg:open:%s %b", c->id, key, key_len);
  redisAppendCommand(c->r, "LRANGE %b %lld -1", kr, lr, (long long)taken);
  redisAppendCommand(c->r, "EXEC");
  c->asked++;
}

size_t ns_cluster_done_read(struct ns_cluster *c, struct ns_rx *out, size_t cap) {
  if (c->asked == 0) return 0;
  c->asked--;
  size_t k = 0, n = 0;
  redisReply *rep;
  if (!replies(c, 5, &rep)) return 0;
  if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3)
    k = take(c, rep->element[2], false, out, cap, &n);
  freeReplyObject(rep);
  return k;
}

size_t ns_cluster_orphans(struct ns_cluster *c, uint8_t *keys, size_t key_cap, size_t *key_len,
                          size_t cap) {
  if (!reconnect(c)) return 0;
  redisReply *members = redisCommand(c->r, "SMEMBERS lg:instances");
  size_t n = 0;
  for (size_t i = 0;
       members && members->type == REDIS_REPLY_ARRAY && i < members->elements && n == 0; i++) {
    const char *other = members->element[i]->str;
    if (members->element[i]->type != REDIS_REPLY_STRING || strcmp(other, c->id) == 0) continue;
    redisReply *alive = redisCommand(c->r, "EXISTS lg:live:%s", other);
    bool dead = alive && alive->type == REDIS_REPLY_INTEGER && alive->integer == 0;
    if (alive) freeReplyObject(alive);
    if (!dead) continue;
    char ko[48];
    snprintf(ko, sizeof(ko), "lg:open:%s", other);
    redisReply *ks =
        redisCommand(c->r, "EVAL %s 2 %s lg:instances %s %d", TAKE, ko, other, (int)cap);
    for (size_t j = 0; ks && ks->type == REDIS_REPLY_ARRAY && j < ks->elements && n < cap; j++) {
      redisReply *e = ks->element[j];
      if (e->type != REDIS_REPLY_STRING || e->len > key_cap) continue;
      memcpy(keys + n * key_cap, e->str, e->len);
      key_len[n++] = e->len;
    }
    if (ks) freeReplyObject(ks);
  }
  if (members) freeReplyObject(members);
  return n;
}

void ns_cluster_gateway(struct ns_cluster *c, uint64_t eui) {
  command(c, "SET lg:gw:%016llx %s PX %d", (unsigned long long)eui, c->id, GATEWAY_TTL_MS);
}

uint64_t ns_cluster_holder(struct ns_cluster *c, uint64_t eui) {
  if (!reconnect(c)) return 0;
  redisReply *rep = redisCommand(c->r, "GET lg:gw:%016llx", (unsigned long long)eui);
  uint64_t holder = 0;
  if (rep && rep->type == REDIS_REPLY_STRING) holder = strtoull(rep->str, NULL, 16);
  if (rep) freeReplyObject(rep);
  return holder;
}

static bool push(struct ns_cluster *c, const char *list, uint64_t to, const void *rec, size_t len) {
  if (!reconnect(c)) return false;
  redisReply *rep = redisCommand(c->r, "RPUSH lg:%s:%016llx %b", list, (unsigned long long)to,
                                 (const char *)rec, len);
  bool ok = rep && rep->type == REDIS_REPLY_INTEGER;
  if (rep) freeReplyObject(rep);
  command(c, "PEXPIRE lg:%s:%016llx %d", list, (unsigned long long)to, ALIVE_TTL_MS * 6);
  return ok;
}

bool ns_cluster_send_dl(struct ns_cluster *c, uint64_t holder, const struct ns_cluster_dl *dl) {
  return push(c, "dl", holder, dl, sizeof(*dl));
}

bool ns_cluster_send_ack(struct ns_cluster *c, uint64_t owner, const struct ns_cluster_ack *ack) {
  return push(c, "ack", owner, ack, sizeof(*ack));
}

/* A popped list's records of `size` bytes into out (up to cap). */
static size_t records(redisReply *list, void *out, size_t size, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; list && list->type == REDIS_REPLY_ARRAY && i < list->elements && k < cap; i++)
    if (list->element[i]->type == REDIS_REPLY_STRING && list->element[i]->len == size)
      memcpy((char *)out + size * k++, list->element[i]->str, size);
  return k;
}

void ns_cluster_poll(struct ns_cluster *c, int64_t now_ns, struct ns_cluster_dl *dl, size_t dl_cap,
                     size_t *n_dl, struct ns_cluster_ack *ack, size_t ack_cap, size_t *n_ack) {
  *n_dl = *n_ack = 0;
  if (!reconnect(c)) return;
  int n = 2;
  redisAppendCommand(c->r, "LPOP lg:dl:%s %d", c->id, (int)dl_cap);
  redisAppendCommand(c->r, "LPOP lg:ack:%s %d", c->id, (int)ack_cap);
  if (now_ns - c->alive_ns >= ALIVE_EVERY_NS) {
    c->alive_ns = now_ns;
    redisAppendCommand(c->r, "SET lg:live:%s 1 PX %d", c->id, ALIVE_TTL_MS);
    redisAppendCommand(c->r, "SADD lg:instances %s", c->id);
    n += 2;
  }
  for (int i = 0; i < n; i++) {
    redisReply *rep = NULL;
    if (redisGetReply(c->r, (void **)&rep) != REDIS_OK) return;
    if (i == 0) *n_dl = records(rep, dl, sizeof(*dl), dl_cap);
    if (i == 1) *n_ack = records(rep, ack, sizeof(*ack), ack_cap);
    freeReplyObject(rep);
  }
}

bool ns_cluster_dc_load(struct ns_cluster *c, uint64_t eui, struct lg_dutycycle *dc) {
  if (!reconnect(c)) return false;
  redisReply *rep = redisCommand(c->r, "GET lg:dc:%016llx", (unsigned long long)eui);
  bool ok = rep && rep->type == REDIS_REPLY_STRING &&
            lg_dc_decode(dc, (const uint8_t *)rep->str, rep->len) == 0;
  if (rep) freeReplyObject(rep);
  return ok;
}

void ns_cluster_dc_save(struct ns_cluster *c, uint64_t eui, const struct lg_dutycycle *dc) {
  uint8_t *buf = NULL;
  size_t len = 0;
  if (lg_dc_encode(dc, &buf, &len) != 0) return;
  command(c, "SET lg:dc:%016llx %b PX %lld", (unsigned long long)eui, (const char *)buf, len,
          (long long)(LG_DC_WINDOW_NS / 1000000));
  free(buf);
}
