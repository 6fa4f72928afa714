/*
 * The raw journal (journal.h has the format and the promise). Design notes:
 *
 * - One buffer of JOURNAL_BUF bytes: appends are memcpy's, the packet path allocates
 *   nothing; a sync is one write() and one fdatasync() for the whole batch.
 * - Segments are named by their first sequence number, so finding where a sequence
 *   number lives is a directory listing, and retention is removing whole files.
 * - The checkpoint is a text file replaced by rename(): a stale checkpoint only means more
 *   records are run again on recovery, which the pipeline makes harmless; a checkpoint
 *   ahead of the truth cannot happen, since it is written after the store's commit.
 * - CRC-32 (the IEEE polynomial, reflected; zlib's) over each record detects the torn tail
 *   a killed process leaves.
 */
#define _GNU_SOURCE
#include "ns/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "util/util.h"

#define MAGIC       0x314a474cu /* "LGJ1" little-endian */
#define HEADER      68
#define JOURNAL_BUF (1 << 20)
#define SEG_MAX     4096 /* segments listed at once */
/* The syncer's shortest gap between two fdatasync()s. Back to back, a sync every ~150 µs at
 * full load cost ~10 % of the server's CPU in the kernel and its wake-ups; 1 ms holds a
 * PUSH_ACK at most that much longer (a forwarder waits 100 ms or more) and gathers the
 * records of several packet batches into one sync (bench/RESULTS.md, issue 15). */
#define SYNC_GAP_NS 1000000

/* CRC-32 (IEEE, reflected: zlib's, which computes it several bytes a step). */
static uint32_t crc32_of(const uint8_t *p, size_t n) {
  return (uint32_t)crc32(0L, p, (uInt)n);
}

struct lg_journal {
  char dir[256];
  int lock_fd, fd;
  uint64_t seg_first;  /* first seq of the segment being written */
  int64_t seg_bytes;   /* its size, buffered bytes included */
  int64_t other_bytes; /* the other segments' sizes */
  uint64_t last_seq, written_seq; /* appended, in the file */
  _Atomic uint64_t synced_seq;     /* on disk */
  uint64_t failed_from, failed_to; /* under mu: the last failed sync covered (from, to] */
  /* the syncer thread (lg_journal_syncer_start): state under mu */
  pthread_t thread;
  bool thread_on, quit, busy; /* busy: fdatasync in progress (the fd must stay open) */
  uint64_t want_seq;          /* sync requested up to */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  void (*notify)(void *ctx);
  void *notify_ctx;
  uint64_t checkpoint, checkpoint_written;
  int64_t checkpoint_at_ns, retention_at_ns;
  struct lg_journal_opts o;
  bool failed; /* a write failed: refuse appends until a sync succeeds */
  size_t n_buf;
  uint8_t buf[JOURNAL_BUF];
};

struct lg_journal_reader {
  char dir[256];
  int fd;
  uint64_t seg_first, next_seq, after_seq, damaged;
  size_t off, len; /* unparsed bytes: buf[off, len) */
  uint8_t buf[2 * (HEADER + LG_JOURNAL_DATA_MAX)];
};

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* The segments of `dir`, by first seq (ascending). Returns their count (< 0: LG_EIO). */
static int list_segments(const char *dir, uint64_t *out, int cap) {
  DIR *d = opendir(dir);
  if (d == NULL) return LG_EIO;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < cap) {
    char *end = NULL;
    unsigned long long v = strtoull(e->d_name, &end, 10);
    if (end == e->d_name + 20 && strcmp(end, ".lgj") == 0) out[n++] = v;
  }
  closedir(d);
  qsort(out, (size_t)n, sizeof(*out), cmp_u64);
  return n;
}

static void seg_path(char *p, size_t cap, const char *dir, uint64_t first) {
  snprintf(p, cap, "%s/%020llu.lgj", dir, (unsigned long long)first);
}

/* Parses one record at p[0, n): its total length, or 0 when incomplete, < 0 when damaged. */
static long parse_record(const uint8_t *p, size_t n, struct lg_journal_rec *r) {
  if (n < HEADER) return 0;
  uint32_t body = lg_get_le32(p + 4);
  if (lg_get_le32(p) != MAGIC || body == 0 || body > LG_JOURNAL_DATA_MAX) return -1;
  if (n < HEADER + (size_t)body) return 0;
  if (crc32_of(p + 12, HEADER - 12 + body) != lg_get_le32(p + 8)) return -1;
  r->seq = lg_get_le64(p + 12);
  r->received_ns = (int64_t)lg_get_le64(p + 20);
  r->gateway_eui = lg_get_le64(p + 28);
  r->from_len = lg_get_le16(p + 36);
  if (r->from_len > LG_JOURNAL_ADDR_MAX) return -1;
  memcpy(r->from, p + 38, LG_JOURNAL_ADDR_MAX);
  r->data = p + HEADER;
  r->len = body;
  return HEADER + (long)body;
}

uint64_t lg_journal_read_checkpoint(const char *dir) {
  char p[300];
  snprintf(p, sizeof(p), "%s/checkpoint", dir);
  FILE *f = fopen(p, "r");
  unsigned long long v = 0;
  if (f == NULL) return 0;
  if (fscanf(f, "%llu", &v) != 1) v = 0;
  fclose(f);
  return v;
}

/* The last segment: its valid records' end (the rest, a torn write, is cut) and last seq. */
static int repair_tail(struct lg_journal *j, char *why, size_t why_len) {
  char p[300];
  seg_path(p, sizeof(p), j->dir, j->seg_first);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return snprintf(why, why_len, "journal %s: %s", p, strerror(errno)), LG_EIO;
  static uint8_t b[2 * (HEADER + LG_JOURNAL_DATA_MAX)];
  size_t len = 0;
  off_t good = 0;
  uint64_t last = j->seg_first - 1;
  for (;;) {
    ssize_t got = read(fd, b + len, sizeof(b) - len);
    if (got < 0) {
      close(fd);
      return snprintf(why, why_len, "journal %s: %s", p, strerror(errno)), LG_EIO;
    }
    len += (size_t)got;
    size_t off = 0;
    struct lg_journal_rec r;
    long k;
    while ((k = parse_record(b + off, len - off, &r)) > 0)
      off += (size_t)k, good += k, last = r.seq;
    memmove(b, b + off, len - off);
    len -= off;
    if (k < 0 || got == 0) break;
  }
  close(fd);
  struct stat st;
  if (stat(p, &st) == 0 && st.st_size > good) {
    if (truncate(p, good) != 0)
      return snprintf(why, why_len, "journal %s: %s", p, strerror(errno)), LG_EIO;
    fprintf(stderr, "lorageo: journal %s: cut %lld bytes of a record written when the process "
                    "stopped\n", p, (long long)(st.st_size - good));
  }
  j->seg_bytes = good;
  j->last_seq = last;
  return 0;
}

static int open_segment(struct lg_journal *j, char *why, size_t why_len) {
  char p[300];
  seg_path(p, sizeof(p), j->dir, j->seg_first);
  j->fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (j->fd < 0) {
    if (why) snprintf(why, why_len, "journal %s: %s", p, strerror(errno));
    return LG_EIO;
  }
  return 0;
}

int lg_journal_open(struct lg_journal **out, const struct lg_journal_opts *o, char *why,
                    size_t why_len) {
  *out = NULL;
  if (mkdir(o->dir, 0755) != 0 && errno != EEXIST)
    return snprintf(why, why_len, "journal %s: %s", o->dir, strerror(errno)), LG_EIO;
  struct lg_journal *j = calloc(1, sizeof(*j));
  if (j == NULL) return snprintf(why, why_len, "journal: out of memory"), LG_ENOMEM;
  snprintf(j->dir, sizeof(j->dir), "%s", o->dir);
  j->o = *o;
  j->o.dir = j->dir;
  j->fd = -1;
  pthread_mutex_init(&j->mu, NULL);
  pthread_cond_init(&j->cv, NULL);
  char p[300];
  snprintf(p, sizeof(p), "%s/lock", j->dir);
  j->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (j->lock_fd < 0 || flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int busy = j->lock_fd >= 0 && errno == EWOULDBLOCK;
    snprintf(why, why_len, "journal %s: %s", j->dir,
             busy ? "in use by another lorageo process (each instance needs its own journal)"
                  : strerror(errno));
    if (j->lock_fd >= 0) close(j->lock_fd);
    free(j);
    return busy ? LG_EBUSY : LG_EIO;
  }
  static uint64_t segs[SEG_MAX];
  int n = list_segments(j->dir, segs, SEG_MAX);
  j->checkpoint = j->checkpoint_written = lg_journal_read_checkpoint(j->dir);
  int rc = 0;
  if (n > 0) {
    j->seg_first = segs[n - 1];
    rc = repair_tail(j, why, why_len);
    for (int i = 0; i < n - 1 && rc == 0; i++) {
      struct stat st;
      seg_path(p, sizeof(p), j->dir, segs[i]);
      if (stat(p, &st) == 0) j->other_bytes += st.st_size;
    }
  } else {
    j->seg_first = j->checkpoint + 1; /* a checkpoint without segments: continue after it */
    j->last_seq = j->checkpoint;
  }
  if (rc == 0) rc = open_segment(j, why, why_len);
  if (rc) {
    lg_journal_close(j);
    return rc;
  }
  atomic_store(&j->synced_seq, j->last_seq);
  j->written_seq = j->last_seq;
  if (j->checkpoint > j->last_seq) j->checkpoint = j->last_seq; /* never past the records */
  *out = j;
  return 0;
}

static void set_failed(struct lg_journal *j, uint64_t from, uint64_t to) {
  pthread_mutex_lock(&j->mu);
  j->failed_from = from;
  j->failed_to = to;
  pthread_mutex_unlock(&j->mu);
}

int lg_journal_flush(struct lg_journal *j) {
  size_t done = 0;
  while (done < j->n_buf) {
    ssize_t w = write(j->fd, j->buf + done, j->n_buf - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      /* The buffer's records are dropped (never acknowledged: failed_seq says up to where)
       * and the file cut back to whole records; their numbers are not given again, so an
       * answer waiting for one of them can never be sent for another record. */
      int64_t before = j->seg_bytes - (int64_t)j->n_buf;
      if (ftruncate(j->fd, (off_t)before) != 0) j->failed = true;
      j->seg_bytes = before;
      j->n_buf = 0;
      set_failed(j, j->written_seq, j->last_seq);
      j->failed = true;
      return LG_EIO;
    }
    done += (size_t)w;
  }
  j->n_buf = 0;
  j->written_seq = j->last_seq;
  return 0;
}

int lg_journal_append(struct lg_journal *j, struct lg_journal_rec *r) {
  if (r->len == 0 || r->len > LG_JOURNAL_DATA_MAX || r->from_len > LG_JOURNAL_ADDR_MAX)
    return LG_EINVAL;
  if (j->failed) return LG_EIO;
  size_t need = HEADER + r->len;
  if (j->n_buf + need > sizeof(j->buf) && lg_journal_flush(j) != 0) return LG_EIO;
  uint8_t *p = j->buf + j->n_buf;
  r->seq = j->last_seq + 1;
  lg_put_le32(p, MAGIC);
  lg_put_le32(p + 4, (uint32_t)r->len);
  lg_put_le64(p + 12, r->seq);
  lg_put_le64(p + 20, (uint64_t)r->received_ns);
  lg_put_le64(p + 28, r->gateway_eui);
  lg_put_le16(p + 36, (uint16_t)r->from_len);
  memset(p + 38, 0, HEADER - 38);
  memcpy(p + 38, r->from, r->from_len);
  memcpy(p + HEADER, r->data, r->len);
  lg_put_le32(p + 8, crc32_of(p + 12, HEADER - 12 + r->len));
  j->n_buf += need;
  j->seg_bytes += (int64_t)need;
  j->last_seq = r->seq;
  return 0;
}

/* After everything written is on disk: a full segment is closed and the next one started
 * (never while the syncer may be flushing the old one). Loop thread only. */
static void synced_to(struct lg_journal *j, uint64_t seq);

static int maybe_rotate(struct lg_journal *j) {
  if (j->seg_bytes < j->o.segment_bytes || j->n_buf != 0) return 0;
  if (atomic_load(&j->synced_seq) < j->written_seq) { /* once a segment: wait for the disk */
    if (fdatasync(j->fd) != 0) return 0; /* the syncer reports it */
    synced_to(j, j->written_seq);
  }
  pthread_mutex_lock(&j->mu);
  while (j->busy) { /* the syncer is flushing the old file: let it finish (rare, short) */
    pthread_mutex_unlock(&j->mu);
    usleep(100);
    pthread_mutex_lock(&j->mu);
  }
  close(j->fd);
  j->other_bytes += j->seg_bytes;
  j->seg_first = j->last_seq + 1;
  j->seg_bytes = 0;
  int rc = open_segment(j, NULL, 0);
  pthread_mutex_unlock(&j->mu);
  if (rc != 0) {
    j->failed = true;
    return LG_EIO;
  }
  return 0;
}

static void synced_to(struct lg_journal *j, uint64_t seq) {
  uint64_t cur = atomic_load(&j->synced_seq);
  while (seq > cur && !atomic_compare_exchange_weak(&j->synced_seq, &cur, seq)) {
  }
}

int lg_journal_sync(struct lg_journal *j) {
  if (atomic_load(&j->synced_seq) >= j->written_seq && j->n_buf == 0) {
    j->failed = false; /* nothing waits (a dropped buffer's records were never acknowledged) */
    return maybe_rotate(j);
  }
  uint64_t target = j->last_seq;
  if (lg_journal_flush(j) != 0 || fdatasync(j->fd) != 0) {
    j->failed = true;
    set_failed(j, atomic_load(&j->synced_seq), target);
    return LG_EIO;
  }
  synced_to(j, j->written_seq);
  j->failed = false;
  return maybe_rotate(j);
}

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *syncer(void *arg) {
  struct lg_journal *j = arg;
  int64_t last_ns = 0; /* when the last fdatasync started */
  pthread_mutex_lock(&j->mu);
  for (;;) {
    while (!j->quit && j->want_seq <= atomic_load(&j->synced_seq))
      pthread_cond_wait(&j->cv, &j->mu);
    if (j->want_seq <= atomic_load(&j->synced_seq)) break; /* quit, nothing left */
    /* Group commit: at most one sync per SYNC_GAP_NS; what arrives meanwhile joins it. */
    int64_t wait_ns = last_ns + SYNC_GAP_NS - mono_ns();
    if (wait_ns > 0 && !j->quit) {
      pthread_mutex_unlock(&j->mu);
      struct timespec ts = {0, (long)wait_ns};
      nanosleep(&ts, NULL);
      pthread_mutex_lock(&j->mu);
    }
    last_ns = mono_ns();
    uint64_t target = j->want_seq;
    int fd = j->fd;
    j->busy = true;
    pthread_mutex_unlock(&j->mu);
    int rc = fdatasync(fd);
    pthread_mutex_lock(&j->mu);
    j->busy = false;
    if (rc == 0)
      synced_to(j, target);
    else
      j->failed_from = atomic_load(&j->synced_seq), j->failed_to = target,
      j->want_seq = atomic_load(&j->synced_seq);
    pthread_mutex_unlock(&j->mu);
    j->notify(j->notify_ctx);
    pthread_mutex_lock(&j->mu);
    if (rc != 0 && j->quit) break;
  }
  pthread_mutex_unlock(&j->mu);
  return NULL;
}

int lg_journal_syncer_start(struct lg_journal *j, void (*notify)(void *ctx), void *ctx) {
  if (j->thread_on) return 0;
  j->notify = notify;
  j->notify_ctx = ctx;
  if (pthread_create(&j->thread, NULL, syncer, j) != 0) return LG_ENOMEM;
  j->thread_on = true;
  return 0;
}

void lg_journal_syncer_stop(struct lg_journal *j) {
  if (!j->thread_on) return;
  pthread_mutex_lock(&j->mu); /* it finishes the sync it is doing */
  j->quit = true;
  pthread_cond_signal(&j->cv);
  pthread_mutex_unlock(&j->mu);
  pthread_join(j->thread, NULL);
  j->thread_on = false;
  j->quit = false;
}

int lg_journal_sync_request(struct lg_journal *j) {
  if (!j->thread_on) return lg_journal_sync(j);
  if (lg_journal_flush(j) != 0) return LG_EIO;
  j->failed = false;
  if (j->written_seq > atomic_load(&j->synced_seq)) {
    pthread_mutex_lock(&j->mu);
    if (j->written_seq > j->want_seq) j->want_seq = j->written_seq;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
  }
  return maybe_rotate(j);
}

uint64_t lg_journal_synced(struct lg_journal *j) {
  return atomic_load(&j->synced_seq);
}

void lg_journal_sync_failed(struct lg_journal *j, uint64_t *from, uint64_t *to) {
  pthread_mutex_lock(&j->mu);
  *from = j->failed_from;
  *to = j->failed_to;
  pthread_mutex_unlock(&j->mu);
}

uint64_t lg_journal_last_seq(const struct lg_journal *j) {
  return j->last_seq;
}

uint64_t lg_journal_checkpoint(const struct lg_journal *j) {
  return j->checkpoint;
}

int64_t lg_journal_bytes(const struct lg_journal *j) {
  return j->other_bytes + j->seg_bytes;
}

const char *lg_journal_dir(const struct lg_journal *j) {
  return j->dir;
}

static int write_checkpoint(struct lg_journal *j) {
  char tmp[300], p[300];
  snprintf(tmp, sizeof(tmp), "%s/checkpoint.tmp", j->dir);
  snprintf(p, sizeof(p), "%s/checkpoint", j->dir);
  FILE *f = fopen(tmp, "w");
  if (f == NULL) return LG_EIO;
  int ok = fprintf(f, "%llu\n", (unsigned long long)j->checkpoint) > 0;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, p) != 0) return LG_EIO;
  j->checkpoint_written = j->checkpoint;
  return 0;
}

/* Removes whole segments that hold only stored records, oldest first, while they are older
 * than the retention age or the journal is larger than the retention size. */
static void retention(struct lg_journal *j, int64_t now_ns) {
  if (j->o.retention_ns <= 0 && j->o.retention_bytes <= 0) return;
  static uint64_t segs[SEG_MAX];
  int n = list_segments(j->dir, segs, SEG_MAX);
  for (int i = 0; i + 1 < n; i++) { /* never the one being written (the last) */
    if (segs[i + 1] - 1 > j->checkpoint) break;
    char p[300];
    struct stat st;
    seg_path(p, sizeof(p), j->dir, segs[i]);
    if (stat(p, &st) != 0) continue;
    int64_t mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    bool old = j->o.retention_ns > 0 && now_ns - mtime_ns > j->o.retention_ns;
    bool big = j->o.retention_bytes > 0 && lg_journal_bytes(j) > j->o.retention_bytes;
    if (!old && !big) break;
    if (unlink(p) == 0) j->other_bytes -= st.st_size;
  }
}

int lg_journal_checkpoint_set(struct lg_journal *j, uint64_t seq, int64_t now_ns, bool force) {
  if (seq > j->last_seq) seq = j->last_seq;
  if (seq > j->checkpoint) j->checkpoint = seq;
  int rc = 0;
  if (j->checkpoint != j->checkpoint_written &&
      (force || now_ns - j->checkpoint_at_ns >= 100000000LL)) {
    rc = write_checkpoint(j);
    j->checkpoint_at_ns = now_ns;
  }
  if (force || now_ns - j->retention_at_ns >= 10000000000LL) {
    retention(j, now_ns);
    j->retention_at_ns = now_ns;
  }
  return rc;
}

void lg_journal_close(struct lg_journal *j) {
  if (j == NULL) return;
  lg_journal_syncer_stop(j);
  if (j->fd >= 0) {
    lg_journal_sync(j);
    close(j->fd);
  }
  if (j->checkpoint != j->checkpoint_written) write_checkpoint(j);
  if (j->lock_fd >= 0) close(j->lock_fd); /* releases the lock */
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->cv);
  free(j);
}

/* ---- reading ------------------------------------------------------------------------ */

/* Opens the segment holding next_seq (the last one starting at or before it), or with
 * `after` the first segment after the one being read. 0, or 1 when there is none (yet). */
static int reader_seek(struct lg_journal_reader *rd, bool after) {
  static uint64_t segs[SEG_MAX];
  int n = list_segments(rd->dir, segs, SEG_MAX);
  if (n < 0) return LG_EIO;
  int pick = -1;
  for (int i = 0; i < n; i++)
    if (after ? segs[i] > rd->seg_first && pick < 0 : segs[i] <= rd->next_seq) pick = i;
  if (pick < 0 && n > 0 && !after) pick = 0; /* older ones removed: the oldest kept */
  if (pick < 0) return 1;
  if (rd->fd >= 0 && rd->seg_first == segs[pick]) return 0;
  char p[300];
  seg_path(p, sizeof(p), rd->dir, segs[pick]);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return LG_EIO;
  if (rd->fd >= 0) close(rd->fd);
  rd->fd = fd;
  rd->seg_first = segs[pick];
  rd->off = rd->len = 0;
  return 0;
}

int lg_journal_reader_open(struct lg_journal_reader **out, const char *dir, uint64_t after_seq,
                           char *why, size_t why_len) {
  *out = NULL;
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
    return snprintf(why, why_len, "journal %s: not a directory", dir), LG_ENOTFOUND;
  struct lg_journal_reader *rd = calloc(1, sizeof(*rd));
  if (rd == NULL) return snprintf(why, why_len, "journal: out of memory"), LG_ENOMEM;
  snprintf(rd->dir, sizeof(rd->dir), "%s", dir);
  rd->fd = -1;
  rd->after_seq = after_seq;
  rd->next_seq = after_seq + 1;
  if (reader_seek(rd, false) < 0) {
    snprintf(why, why_len, "journal %s: %s", dir, strerror(errno));
    free(rd);
    return LG_EIO;
  }
  *out = rd;
  return 0;
}

int lg_journal_next(struct lg_journal_reader *rd, struct lg_journal_rec *r) {
  for (;;) {
    if (rd->fd < 0) {
      int rc = reader_seek(rd, false);
      if (rc != 0) return rc < 0 ? rc : 0;
    }
    long k = parse_record(rd->buf + rd->off, rd->len - rd->off, r);
    if (k > 0) {
      rd->off += (size_t)k;
      if (r->seq <= rd->after_seq || r->seq < rd->next_seq) continue; /* before the start */
      rd->next_seq = r->seq + 1;
      return 1;
    }
    if (k < 0) { /* damaged: look for the next record's magic */
      rd->damaged++;
      rd->off++;
      while (rd->off + 4 <= rd->len && lg_get_le32(rd->buf + rd->off) != MAGIC)
        rd->off++;
      continue;
    }
    memmove(rd->buf, rd->buf + rd->off, rd->len - rd->off);
    rd->len -= rd->off;
    rd->off = 0;
    ssize_t got = read(rd->fd, rd->buf + rd->len, sizeof(rd->buf) - rd->len);
    if (got < 0) return LG_EIO;
    if (got > 0) {
      rd->len += (size_t)got;
      continue;
    }
    /* End of this segment for now. Once a next one exists this one is complete; read it
     * once more (what was written between that read and the listing), then move on. */
    static uint64_t segs[SEG_MAX];
    int n = list_segments(rd->dir, segs, SEG_MAX);
    if (n < 0) return LG_EIO;
    if (n == 0 || segs[n - 1] <= rd->seg_first) return 0;
    got = read(rd->fd, rd->buf + rd->len, sizeof(rd->buf) - rd->len);
    if (got < 0) return LG_EIO;
    if (got > 0) {
      rd->len += (size_t)got;
      continue;
    }
    if (rd->len > 0) rd->damaged++; /* a part record where the segment ends: cut */
    int rc = reader_seek(rd, true);
    if (rc < 0) return rc;
    if (rc == 1) return 0;
  }
}

uint64_t lg_journal_reader_damaged(const struct lg_journal_reader *rd) {
  return rd->damaged;
}

void lg_journal_reader_close(struct lg_journal_reader *rd) {
  if (rd == NULL) return;
  if (rd->fd >= 0) close(rd->fd);
  free(rd);
}
