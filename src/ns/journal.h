/*
 * The raw journal: every PUSH_DATA the server accepts, as received (bytes, gateway EUI,
 * source address, receive time), appended to segment files in one directory before its
 * PUSH_ACK goes out. It is what makes an acknowledgement a promise: whatever happens to
 * the process after the ACK (SIGKILL, a full disk, a store that fails), the datagram can
 * be run through the pipeline again, and de-duplication plus the frame counter's
 * compare-and-set make that exactly-once.
 *
 * Layout of the directory:
 *   <first seq, 20 digits>.lgj  segments, records in sequence order (seq starts at 1)
 *   checkpoint                  text: the last seq whose frames are all stored
 *   lock                        flock()ed by the one process writing the directory
 *
 * A record: a 68-byte header (magic "LGJ1", body length, CRC-32 of the rest, seq, receive
 * time ns, gateway EUI, source address length and bytes) then the datagram. Integers are
 * little-endian. A record cut short or whose CRC does not match ends its segment: that is
 * where a process died in the middle of a write, and the writer truncates it on open.
 *
 * Group commit: lg_journal_append() copies into a buffer; lg_journal_sync() writes the
 * buffer and calls fdatasync() once, for every record appended since. The caller syncs once
 * per batch of datagrams and only then sends their PUSH_ACKs.
 *
 * One writer per directory (the lock); readers (recovery, `lorageo replay`) may read while
 * it writes: a record is readable once lg_journal_flush() or lg_journal_sync() wrote it.
 */
#ifndef LG_NS_JOURNAL_H
#define LG_NS_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define LG_JOURNAL_ADDR_MAX 28 /* a struct sockaddr_in6 */
#define LG_JOURNAL_DATA_MAX 65536

struct lg_journal_rec {
  uint64_t seq;        /* assigned by lg_journal_append */
  int64_t received_ns; /* server clock, ns since the Unix epoch */
  uint64_t gateway_eui;
  socklen_t from_len; /* 0..LG_JOURNAL_ADDR_MAX */
  uint8_t from[LG_JOURNAL_ADDR_MAX];
  const uint8_t *data; /* reading: valid until the next lg_journal_next() */
  size_t len;          /* 1..LG_JOURNAL_DATA_MAX */
};

struct lg_journal_opts {
  const char *dir;
  int64_t segment_bytes;   /* a segment is closed once it holds this much (> 0) */
  int64_t retention_ns;    /* stored segments older than this are removed (0: by size only) */
  int64_t retention_bytes; /* stored segments beyond this total are removed (0: by age only) */
};

struct lg_journal;

/* Opens (creating) the directory, takes its lock, truncates a torn last record and
 * continues the sequence. LG_EIO / LG_EBUSY (another process holds it) with a reason. */
int lg_journal_open(struct lg_journal **out, const struct lg_journal_opts *o, char *why,
                    size_t why_len);
/* Syncs what is buffered, persists the checkpoint and releases the lock. NULL is fine. */
void lg_journal_close(struct lg_journal *j);

/* Appends a record (r->seq is set). No I/O unless the buffer is full. LG_EINVAL for a
 * record out of range, LG_EIO when a write failed (the journal then refuses until a sync
 * succeeds). */
int lg_journal_append(struct lg_journal *j, struct lg_journal_rec *r);
/* Writes the buffer without syncing (makes the records readable). LG_EIO. */
int lg_journal_flush(struct lg_journal *j);
/* Writes the buffer and fdatasync()s once; rotates a full segment. 0 or LG_EIO (then the
 * records appended since the last good sync must not be acknowledged). */
int lg_journal_sync(struct lg_journal *j);

/* Syncing on a thread of its own, so the caller's loop never waits for the disk: after
 * lg_journal_syncer_start(), lg_journal_sync_request() writes the buffer (no sync) and asks
 * the thread to fdatasync() everything written; the thread calls `notify(ctx)` (from its
 * own thread) after each sync, good or failed. lg_journal_synced() is how far records are
 * on disk; lg_journal_sync_failed() the records (from, to] of the last sync that failed
 * (they must not be acknowledged, even once a later sync covers their numbers). lg_journal_sync() still works
 * (and waits). LG_EIO / LG_ENOMEM. */
int lg_journal_syncer_start(struct lg_journal *j, void (*notify)(void *ctx), void *ctx);
/* Stops the thread (after the sync it is doing); syncing waits again. */
void lg_journal_syncer_stop(struct lg_journal *j);
int lg_journal_sync_request(struct lg_journal *j);
uint64_t lg_journal_synced(struct lg_journal *j);
void lg_journal_sync_failed(struct lg_journal *j, uint64_t *from, uint64_t *to);

uint64_t lg_journal_last_seq(const struct lg_journal *j); /* 0: nothing journalled yet */
uint64_t lg_journal_checkpoint(const struct lg_journal *j);
/* Everything up to `seq` is stored. Persisted (rename of a small file) at most every 100 ms
 * unless `force`; retention runs at most every 10 s and never removes a segment holding a
 * record after the checkpoint. 0 or LG_EIO. */
int lg_journal_checkpoint_set(struct lg_journal *j, uint64_t seq, int64_t now_ns, bool force);
/* Bytes in the journal's segments now. */
int64_t lg_journal_bytes(const struct lg_journal *j);
const char *lg_journal_dir(const struct lg_journal *j);

/* ---- reading ------------------------------------------------------------------------ */

struct lg_journal_reader;

/* Reads `dir` from the first record after `after_seq`. LG_EIO / LG_ENOTFOUND (no such
 * directory) with a reason. */
int lg_journal_reader_open(struct lg_journal_reader **out, const char *dir, uint64_t after_seq,
                           char *why, size_t why_len);
/* The next record: 1 (in *r), 0 at the end for now (more may be appended later: call
 * again), LG_EIO. */
int lg_journal_next(struct lg_journal_reader *rd, struct lg_journal_rec *r);
/* Records skipped as damaged (a bad CRC in the middle of a segment). */
uint64_t lg_journal_reader_damaged(const struct lg_journal_reader *rd);
void lg_journal_reader_close(struct lg_journal_reader *rd);

/* Reads the checkpoint of `dir` without opening it for writing (0 when none). */
uint64_t lg_journal_read_checkpoint(const char *dir);

#endif
