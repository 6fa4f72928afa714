/*
 * `lorageo serve [-c FILE]`: the network server. One libuv loop runs the Semtech UDP
 * transport (ns/udp.h: the socket, the 10 ms tick, answers held until the journal holds
 * what they answer); the HTTP API runs in libmicrohttpd's threads, MQTT in libmosquitto's.
 * SIGINT/SIGTERM stop it cleanly: the socket is no longer read, open de-duplication
 * windows are closed and stored, the journal's checkpoint written.
 */
#define _GNU_SOURCE /* sendmmsg */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "api/api.h"
#include "cli/cli.h"
#include "integ/integ.h"
#include "ns/config.h"
#include "ns/ns.h"
#include "ns/station.h"
#include "ns/udp.h"
#include "store/store.h"

static const char usage[] =
    "usage: lorageo serve [-c FILE]\n"
    "\n"
    "Runs the network server: Semtech UDP packet-forwarder protocol on [server] udp_bind\n"
    "(and LoRa Basics Station on [basicstation] bind when set: docs/gateways.md),\n"
    "HTTP API, /metrics on [server] http_bind, storage in [server] database (SQLite).\n"
    "Without -c the defaults serve (udp 0.0.0.0:1700, http 127.0.0.1:8080, ./lorageo.db);\n"
    "every key can be set from the environment as LORAGEO_<SECTION>_<KEY>.\n"
    "\n"
    "Storage: [server] database (a SQLite path, or postgresql://... for PostgreSQL),\n"
    "[server] journal / journal_segment_mb / journal_retention (the raw journal), [security]\n"
    "kek_file / allow_plaintext_keys (device keys at rest), [geo] learned (what locating\n"
    "learns); docs/server.md says what each does. Every key:\n";

struct server {
  uv_loop_t *loop;
  uv_signal_t sigint, sigterm;
  struct lg_udp *udp;
  struct lg_station *station; /* NULL: [basicstation] bind not set */
  struct lg_integ *integ; /* codecs, MQTT, webhooks */
  struct lg_ns *ns;
  const struct lg_config *cfg; /* its clock ([server] time_scale) */
};

static void on_event(void *ctx, uint64_t dev_eui, const char *type, json_t *payload) {
  struct server *s = ctx;
  if (s->integ)
    lg_integ_event(s->integ, dev_eui, type, payload);
  else
    json_decref(payload);
}

static struct server s;

/* The server's clock: the wall clock, or its scaled run ([server] time_scale, simulations). */
static int64_t wall_ns(void *ctx) {
  (void)ctx;
  return lg_config_now_ns(s.cfg);
}

static void on_signal(uv_signal_t *sig, int signum) {
  (void)signum;
  uv_stop(sig->loop);
}

int lg_cmd_serve(int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *path = NULL;
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":hc:", opts, NULL)) != -1) {
    switch (c) {
    case 'h': fputs(usage, stdout); lg_config_help(stdout); return 0;
    case 'c': path = optarg; break;
    default: return lg_cli_bad_option("serve", c, argv);
    }
  }
  if (optind != argc) return lg_cli_fail("serve", 2, "unexpected argument '%s'", argv[optind]);
  struct lg_config cfg;
  char why[512];
  if (lg_config_load(&cfg, path, why, sizeof(why))) return lg_cli_fail("serve", 2, "%s", why);

  struct lg_store *store = NULL;
  cfg.clock_origin_ns = lg_config_now_ns(&cfg); /* before time_scale applies: the wall clock */
  s.cfg = &cfg;
  struct lg_api *api = NULL;
  struct lg_codec_lookup *lookup = NULL;
  struct sockaddr_storage addr;
  socklen_t addr_len;
  int rc = 1;
  if (lg_parse_bind(cfg.udp_bind, &addr, &addr_len))
    return lg_cli_fail("serve", 2, "udp_bind '%s': expected HOST:PORT", cfg.udp_bind);
  char note[512];
  if (lg_config_open_store(&cfg, NULL, &store, NULL, note, sizeof(note), why, sizeof(why)))
    return lg_cli_fail("serve", 1, "%s", why);
  s.loop = uv_default_loop();
  uv_signal_init(s.loop, &s.sigint); /* all handles set up first, so `out` may close them all */
  uv_signal_init(s.loop, &s.sigterm);
  if ((s.udp = lg_udp_new(s.loop)) == NULL) {
    lg_cli_fail("serve", 1, "out of memory");
    goto out;
  }
  static atomic_uint gateways_changed;
  struct lg_ns_io io = {.ctx = NULL,
                        .now_ns = wall_ns,
                        .gateways_changed = &gateways_changed,
                        /* events go to the integration even without MQTT or [webhook]:
                         * applications' webhooks can be added at any time */
                        .on_event = on_event,
                        .event_ctx = &s};
  lg_udp_io(s.udp, &io);
  if (cfg.bs_bind[0]) {
    if ((s.station = lg_station_new(s.loop)) == NULL) {
      lg_cli_fail("serve", 1, "out of memory");
      goto out;
    }
    lg_station_io(s.station, &io);
  }
  s.ns = lg_ns_new(&cfg, store, &io, why, sizeof(why));
  if (s.ns == NULL) {
    lg_cli_fail("serve", 1, "%s", why);
    goto out;
  }
  uint64_t behind = lg_ns_recover(s.ns); /* journalled, not known to be stored */
  if (behind) fprintf(stderr, "lorageo: catching up %llu journal records\n", (unsigned long long)behind);
  int err = lg_udp_start(s.udp, s.ns, &addr, addr_len, cfg.udp_reuse_port);
  if (err) {
    lg_cli_fail("serve", 1, "cannot listen for UDP on %s: %s", cfg.udp_bind, uv_strerror(err));
    goto out;
  }
  if (s.station && lg_station_start(s.station, &cfg, s.ns, why, sizeof(why))) {
    lg_cli_fail("serve", 1, "%s", why);
    goto out;
  }
  api = lg_api_start(&cfg, lg_ns_metrics(s.ns), &gateways_changed, why, sizeof(why));
  if (api == NULL) {
    lg_cli_fail("serve", 1, "%s", why);
    goto out;
  }
  uv_signal_start(&s.sigint, on_signal, SIGINT);
  uv_signal_start(&s.sigterm, on_signal, SIGTERM);
  if ((s.integ = lg_integ_start(&cfg, lg_ns_metrics(s.ns), why, sizeof(why))) == NULL) {
    rc = lg_cli_fail("serve", 2, "%s", why);
    goto out;
  }
  /* devices' codecs come from their profiles */
  if ((lookup = lg_codec_lookup_open(&cfg, why, sizeof(why))) == NULL) {
    rc = lg_cli_fail("serve", 1, "%s", why);
    goto out;
  }
  lg_codecs_set_lookup(lg_integ_codecs(s.integ), lg_codec_lookup_profile, lookup);
  lg_integ_set_device_info(s.integ, lg_device_lookup_info, lookup); /* ChirpStack's deviceInfo */
  lg_integ_set_uplink_limit(s.integ, lg_device_lookup_uplink_limit, lookup);
  lg_api_set_codecs(api, lg_integ_codecs(s.integ));
  if (note[0]) fprintf(stderr, "lorageo: %s\n", note); /* once serving: a failure is one line */
  fprintf(stderr, "lorageo: serving %s: UDP %s, HTTP http://%s, database %s%s%s%s\n", cfg.region,
          cfg.udp_bind, cfg.http_bind, cfg.database, s.station ? ", Basics Station " : "",
          s.station ? (cfg.bs_cert_file[0] ? "wss://" : "ws://") : "", s.station ? cfg.bs_bind : "");
  uv_run(s.loop, UV_RUN_DEFAULT);
  /* A clean stop: nothing more is read; what was read is answered (journal synced first),
   * then every open window is closed and stored. */
  lg_udp_stop(s.udp);
  lg_station_free(s.station); /* its connections closed: no more receptions */
  s.station = NULL;
  struct lg_ns_metrics *m = lg_ns_metrics(s.ns);
  uint64_t uplinks_before = atomic_load(&m->uplinks);
  size_t drained = lg_ns_drain(s.ns);
  fprintf(stderr, "lorageo: stopping: %zu open de-duplication windows drained (%llu uplinks "
                  "stored), %s\n",
          drained, (unsigned long long)(atomic_load(&m->uplinks) - uplinks_before),
          lg_ns_catching_up(s.ns) ? "journal not yet caught up (continued on the next start)"
          : cfg.journal[0] ? "journal checkpoint written" : "no journal");
  rc = 0;
out:
  lg_api_stop(api);
  uv_close((uv_handle_t *)&s.sigint, NULL);
  uv_close((uv_handle_t *)&s.sigterm, NULL);
  lg_station_free(s.station);
  lg_udp_free(s.udp); /* runs the loop once: the closes above complete too */
  lg_integ_stop(s.integ); /* first: its threads write the server's metrics until they stop */
  lg_codec_lookup_close(lookup); /* (after the API and the integration: their hook) */
  lg_ns_free(s.ns);
  lg_store_close(store);
  return rc;
}
