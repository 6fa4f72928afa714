/*
 * The raw journal (ns/journal.h) on a real directory: records read back as written and in
 * order, a torn last record cut on reopen and the sequence continued, a reader started
 * after a record number, segments rotated by size, the checkpoint persisted, retention
 * never removing a record after the checkpoint, one writer per directory.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lg_test.h"
#include "ns/journal.h"

static char dir[64];

static int count_segments(void) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)) != NULL)
    n += strstr(e->d_name, ".lgj") != NULL;
  if (d) closedir(d);
  return n;
}

static struct lg_journal *open_journal(int64_t segment_bytes, int64_t retention_bytes) {
  struct lg_journal_opts o = {
      .dir = dir, .segment_bytes = segment_bytes, .retention_bytes = retention_bytes};
  struct lg_journal *j = NULL;
  char why[256];
  int rc = lg_journal_open(&j, &o, why, sizeof(why));
  if (rc) fprintf(stderr, "open: %s\n", why);
  return j;
}

static int append(struct lg_journal *j, int i) {
  uint8_t data[300];
  for (size_t k = 0; k < sizeof(data); k++)
    data[k] = (uint8_t)(i + (int)k);
  struct lg_journal_rec r = {.received_ns = 1000 + i,
                             .gateway_eui = 0xaa00 + (uint64_t)i,
                             .from_len = 16,
                             .data = data,
                             .len = 100 + (size_t)(i % 200)};
  memset(r.from, i, 16);
  return lg_journal_append(j, &r);
}

/* Reads every record after `after`: checks each against what append() wrote; the count. */
static int read_all(uint64_t after, uint64_t *first, uint64_t *last) {
  struct lg_journal_reader *rd;
  char why[256];
  if (lg_journal_reader_open(&rd, dir, after, why, sizeof(why)) != 0) return -1;
  struct lg_journal_rec r;
  int n = 0;
  while (lg_journal_next(rd, &r) == 1) {
    int i = (int)r.seq - 1;
    if (n == 0) *first = r.seq;
    *last = r.seq;
    LG_EQ_INT(r.received_ns, 1000 + i);
    LG_EQ_INT(r.gateway_eui, 0xaa00 + (uint64_t)i);
    LG_EQ_INT(r.len, 100 + (size_t)(i % 200));
    LG_EQ_INT(r.from_len, 16);
    LG_EQ_INT(r.data[7], (uint8_t)(i + 7));
    n++;
  }
  lg_journal_reader_close(rd);
  return n;
}

int main(void) {
  snprintf(dir, sizeof(dir), "/tmp/lg_test_journal.XXXXXX");
  if (mkdtemp(dir) == NULL) return 1;

  /* 1,000 records, synced: read back in order, all of them and after record 600 */
  struct lg_journal *j = open_journal(1 << 30, 0);
  LG_CHECK(j != NULL);
  if (j == NULL) return lg_test_report("test_journal");
  for (int i = 0; i < 1000; i++)
    LG_EQ_INT(append(j, i), 0);
  LG_EQ_INT(lg_journal_sync(j), 0);
  LG_EQ_INT(lg_journal_last_seq(j), 1000);
  uint64_t first = 0, last = 0;
  LG_EQ_INT(read_all(0, &first, &last), 1000);
  LG_EQ_INT(first, 1);
  LG_EQ_INT(last, 1000);
  LG_EQ_INT(read_all(600, &first, &last), 400);
  LG_EQ_INT(first, 601);

  /* one writer per directory */
  LG_CHECK(open_journal(1 << 30, 0) == NULL);

  /* the checkpoint persists; a process killed in the middle of a record leaves it torn */
  LG_EQ_INT(lg_journal_checkpoint_set(j, 700, 1, true), 0);
  LG_EQ_INT(append(j, 1000), 0);
  LG_EQ_INT(lg_journal_sync(j), 0);
  lg_journal_close(j);
  char seg[128];
  snprintf(seg, sizeof(seg), "%s/%020d.lgj", dir, 1);
  struct stat st;
  LG_EQ_INT(stat(seg, &st), 0);
  LG_EQ_INT(truncate(seg, st.st_size - 50), 0); /* record 1001 cut short */
  LG_EQ_INT(lg_journal_read_checkpoint(dir), 700);
  j = open_journal(1 << 30, 0);
  LG_CHECK(j != NULL);
  if (j == NULL) return lg_test_report("test_journal");
  LG_EQ_INT(lg_journal_last_seq(j), 1000);   /* the torn record is gone */
  LG_EQ_INT(lg_journal_checkpoint(j), 700);
  LG_EQ_INT(append(j, 1000), 0);               /* and its number is given again */
  LG_EQ_INT(lg_journal_sync(j), 0);
  LG_EQ_INT(read_all(0, &first, &last), 1001);
  LG_EQ_INT(last, 1001);

  /* segments rotate by size; retention by size removes only segments before the checkpoint */
  lg_journal_close(j);
  j = open_journal(20000, 1); /* 20 KB segments, keep as little as allowed */
  LG_CHECK(j != NULL);
  if (j == NULL) return lg_test_report("test_journal");
  for (int i = 1001; i < 3000; i++) {
    LG_EQ_INT(append(j, i), 0);
    if (i % 50 == 0) LG_EQ_INT(lg_journal_sync(j), 0);
  }
  LG_EQ_INT(lg_journal_sync(j), 0);
  int segments = count_segments();
  LG_CHECK(segments > 10);
  LG_EQ_INT(lg_journal_checkpoint_set(j, 2000, 2, true), 0); /* retention runs */
  int kept = count_segments();
  LG_CHECK(kept < segments);
  uint64_t after = 0;
  int n = read_all(0, &first, &last);
  LG_CHECK(first <= 2001);   /* every record after the checkpoint is still there */
  LG_EQ_INT(last, 3000);
  LG_EQ_INT(n, (int)(last - first + 1));
  (void)after;
  lg_journal_close(j);

  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0) return 1;
  return lg_test_report("test_journal");
}
