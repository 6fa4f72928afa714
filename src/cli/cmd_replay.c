/*
 * `lorageo replay JOURNAL [-c FILE] [--after SEQ]`: runs the datagrams of a journal
 * directory (what `lorageo serve` keeps in [server] journal) through the server's pipeline
 * into the configured database, at their journalled receive times: the raw data kept, the
 * results recomputed. Frames the database holds already are recognised by de-duplication
 * and the frame counter and not stored again, so a replay into the live database is safe.
 * Nothing is sent to gateways. Prints one JSON object with the counts.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "ns/config.h"
#include "ns/ns.h"
#include "store/store.h"

static const char usage[] =
    "usage: lorageo replay JOURNAL [-c FILE] [--after SEQ]\n"
    "\n"
    "Runs the journalled PUSH_DATA datagrams in the directory JOURNAL (from [server] journal)\n"
    "through the network server's pipeline into [server] database, oldest first, from the\n"
    "record after SEQ (default: all). Frames already stored are not stored again. Prints\n"
    "{\"records\", \"damaged\", \"uplinks\", \"already_stored\", \"dropped\"}.\n";

static int64_t wall_ns(void *ctx) {
  (void)ctx;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void send_nothing(void *ctx, const struct sockaddr *to, socklen_t len, const uint8_t *buf,
                         size_t n) {
  (void)ctx, (void)to, (void)len, (void)buf, (void)n;
}

int lg_cmd_replay(int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"after", required_argument, NULL, 'a'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *path = NULL;
  long after = 0;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":hc:", opts, NULL)) != -1) {
    switch (c) {
    case 'h': fputs(usage, stdout); return 0;
    case 'c': path = optarg; break;
    case 'a':
      if (lg_cli_parse_long(optarg, 0, 0x7fffffffffffffffL, &after))
        return lg_cli_fail("replay", 2, "--after '%s': expected a record number", optarg);
      break;
    default: return lg_cli_bad_option("replay", c, argv);
    }
  }
  if (optind + 1 != argc)
    return lg_cli_fail("replay", 2, optind == argc ? "missing JOURNAL (a journal directory)"
                                                   : "unexpected argument '%s'",
                       argv[optind + (optind < argc)]);
  const char *dir = argv[optind];
  struct lg_config cfg;
  char why[512];
  if (lg_config_load(&cfg, path, why, sizeof(why))) return lg_cli_fail("replay", 2, "%s", why);
  cfg.journal[0] = '\0'; /* read, never written: the server's journal stays its own */
  cfg.cluster_redis[0] = '\0';
  struct lg_store *store = NULL;
  char note[512];
  if (lg_config_open_store(&cfg, NULL, &store, NULL, note, sizeof(note), why, sizeof(why)))
    return lg_cli_fail("replay", 1, "%s", why);
  if (note[0]) fprintf(stderr, "lorageo replay: %s\n", note);
  struct lg_ns_io io = {.now_ns = wall_ns, .send = send_nothing};
  struct lg_ns *ns = lg_ns_new(&cfg, store, &io, why, sizeof(why));
  if (ns == NULL) {
    lg_store_close(store);
    return lg_cli_fail("replay", 1, "%s", why);
  }
  struct lg_ns_replay_stats st;
  int rc = lg_ns_replay(ns, dir, (uint64_t)after, &st, why, sizeof(why));
  struct lg_ns_metrics *m = lg_ns_metrics(ns);
  uint64_t dropped = 0;
  for (int i = 0; i < LG_DROP_COUNT; i++)
    dropped += atomic_load(&m->dropped[i]);
  json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I}", "records", (json_int_t)st.records, "damaged",
                        (json_int_t)st.damaged, "uplinks", (json_int_t)atomic_load(&m->uplinks),
                        "already_stored", (json_int_t)atomic_load(&m->journal_skipped),
                        "dropped", (json_int_t)dropped);
  lg_ns_free(ns);
  lg_store_close(store);
  if (rc) {
    json_decref(o);
    return lg_cli_fail("replay", 1, "%s", why);
  }
  return lg_cli_print_json(stdout, o) == 0 ? 0 : 1;
}
