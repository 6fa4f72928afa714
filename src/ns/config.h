/*
 * The server's configuration: one INI file (design.md "Configuration") with every key
 * overridable from the environment as LORAGEO_<SECTION>_<KEY>, which wins over the file.
 * With no file at all the defaults below serve.
 */
#ifndef LG_NS_CONFIG_H
#define LG_NS_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "geo/geo.h"
#include "util/netlist.h"

struct lg_config {
  char udp_bind[64];   /* [server] udp_bind = 0.0.0.0:1700 */
  bool udp_reuse_port; /* [server] reuse_port = false: share udp_bind with other instances */
  char http_bind[64];  /* [server] http_bind = 127.0.0.1:8080 */
  char database[256];  /* [server] database = ./lorageo.db */
  /* [server] journal: the raw journal's directory (ns/journal.h); empty: off. Default: the
   * SQLite database's path with .journal for .db (./lorageo.journal), or for PostgreSQL
   * ./lorageo-<database name>-<HTTP port>.journal (instances on one machine each need their
   * own, and a journal belongs to one database). */
  char journal[256];
  bool journal_set;             /* given in the file or the environment */
  int journal_segment_mb;       /* [server] journal_segment_mb = 64: a segment's size */
  char journal_retention[32];   /* [server] journal_retention = 7d: age (s, m, h, d) or size */
  int64_t journal_retention_ns; /*   (KB, MB, GB) of stored segments kept */
  int64_t journal_retention_bytes;
  int max_open_frames;      /* [server] max_open_frames = 20000: frames held for de-duplication */
  int max_unknown_gateways; /* [server] max_unknown_gateways = 4096: unprovisioned EUIs held */
  char region[16];     /* [network] region = EU868 */
  uint32_t net_id;     /* [network] net_id = 000000 */
  int dedup_window_ms; /* [network] dedup_window_ms = 200 */
  int late_horizon_ms; /* [network] late_horizon_ms = 2000: late copies still attached */
  /* [network] uplink_dwell_time, downlink_dwell_time = auto | true | false: the 400 ms
   * dwell-time limit (RP002-1.0.4 TxParamSetupReq) the server has devices use, in regions
   * where it is a setting (AS923, AU915); auto: the region's default (on, as ChirpStack's
   * region files). US915's is the FCC's and always on; other regions have none. Resolved by
   * lg_config_load: -1 (the region has no such setting), 0 off, 1 on. */
  int uplink_dwell_time, downlink_dwell_time;
  /* A confirmed downlink not acknowledged by the device's next ack_uplinks uplinks
   * (ChirpStack and The Things Stack: the next one), or within ack_timeout_s, is nacked:
   * [network] ack_uplinks = 1, ack_timeout_s = 3600 (0: no time limit). */
  int ack_uplinks;
  int ack_timeout_s;
  char api_token[128]; /* [api] token = (empty: no auth): read-write */
  char api_read_token[128]; /* [api] read_token = (empty: none): GET only; needs token */
  /* [api] tls_cert_file, tls_key_file: PEM files; both given: the API speaks HTTPS only */
  char api_tls_cert_file[256];
  char api_tls_key_file[256];
  char web_root[256];  /* [api] web_root: the web UI's files (default: the source tree's web/) */
  /* [api] allowed_hosts: Host names served besides IP literals, localhost and http_bind's
   * host (comma-separated; "*": any); allowed_origins: Origins (scheme://host[:port]) let
   * in besides the server's own (comma-separated; "*": any). */
  char api_allowed_hosts[512];
  char api_allowed_origins[512];
  int api_max_connections; /* [api] max_connections = 2048 */
  int api_max_streams;     /* [api] max_streams = 64: live streams (/api/stream) at once */
  int api_timeout_s;       /* [api] timeout_s = 15: an idle connection is closed after it */
  /* [api] gateway_online_s = 60: a gateway seen (stat, PULL_DATA, uplink) within it is
   * `online` in the API and the console (twice the packet forwarder's 30-s stat interval,
   * as ChirpStack judges; the last-seen time is written at most every 10 s) */
  int api_gateway_online_s;
  char mqtt_url[256];  /* [mqtt] url = (empty: off) */
  char mqtt_topic_prefix[64];
  char mqtt_username[128];  /* [mqtt] username = (empty: none) */
  char mqtt_password[128];  /* [mqtt] password */
  char mqtt_ca_file[256];   /* [mqtt] ca_file: the broker's CA (mqtts://; empty: system CAs) */
  char mqtt_cert_file[256]; /* [mqtt] cert_file, key_file: a client certificate (optional) */
  char mqtt_key_file[256];
  int mqtt_queue_max; /* [mqtt] queue_max = 100000: events held while the broker is away */
  int mqtt_qos;       /* [mqtt] qos = 0 | 1: at most once (ChirpStack's default) or at least once */
  /* [mqtt] format = lorageo | chirpstack: ChirpStack v4's integration JSON on its topics
   * (application/{application_id}/device/{dev_eui}/event/{type}); application_id names the
   * application until applications exist (issue 18) */
  bool mqtt_chirpstack;
  char mqtt_application_id[64]; /* [mqtt] application_id = 00000000-0000-0000-0000-000000000000 */
  /* [codec] dir: JavaScript codecs (NAME.js for the spec js:NAME); js_timeout_ms = 100 and
   * js_memory_kb = 16384: each script's time budget per call and memory cap */
  char codec_dir[256];
  int codec_js_timeout_ms;
  int codec_js_memory_kb;
  /* [webhook] url (empty: off): events POSTed as JSON; headers: "Name: value" pairs
   * separated by '|' ; events: which types (comma-separated; empty: all); queue_max = 10000
   * events waiting; max_attempts = 8 tries each, back-off from retry_ms = 500 doubling to
   * retry_max_ms = 60000; timeout_ms = 5000 per request */
  char webhook_url[512];
  char webhook_headers[1024];
  char webhook_events[256];
  int webhook_queue_max;
  int webhook_max_attempts;
  int webhook_retry_ms;
  int webhook_retry_max_ms;
  int webhook_timeout_ms;
  enum lg_geo_method geo_method;     /* [geo] method = auto */
  int geo_min_gateways;              /* [geo] min_gateways = 3 */
  double geo_sigma_ns;               /* [geo] sigma_ns = 50: timing noise of a fine timestamp */
  double geo_device_alt_m;           /* [geo] device_alt_m = 0 */
  char geo_calibration[256];         /* [geo] calibration = (file from `lorageo calibrate`) */
  /* [geo] learned = what locating learns (noise, reference devices' offsets and radio map),
   * kept across restarts; default beside the database as the journal is (./lorageo.geo.json);
   * empty: not kept */
  char geo_learned[256];
  bool geo_learned_set; /* given (possibly empty); otherwise the default applies */
  /* [security] kek_file = the key-encryption key that wraps device keys in the database (a
   * file of 32 or 64 hex digits); for SQLite it defaults to one beside the database
   * (./lorageo.kek), created on first use; PostgreSQL needs it given (several instances
   * must share one) */
  char kek_file[256];
  bool kek_file_set;
  bool allow_plaintext_keys; /* [security] allow_plaintext_keys = false */
  /* [security] gateway_move_after_s = 60: a gateway's datagrams from a new source address
   * are refused until that address has kept coming for this long with nothing from the
   * pinned one (a re-addressed gateway moves; a spoofer racing the real one does not);
   * 0: a pinned address never moves (until the server restarts) */
  int gateway_move_after_s;
  /* [security] gateway_networks = CIDR networks gateways may send from (comma-separated;
   * empty: any); datagrams from elsewhere are dropped and counted */
  char gateway_networks[512];
  struct lg_netlist gateway_nets;
  double adr_installation_margin_db; /* [adr] installation_margin_db = 10 (standard) */
  double adr_target_delivery; /* [adr] target_delivery (predictive); 0: 0.985 moving, 0.995 static */
  char adr_learned[256];      /* [adr] learned: the link map's file (empty: not kept) */
  bool adr_learned_set;       /* given (possibly empty); otherwise the default applies */
  char cluster_redis[256];           /* [cluster] redis = (empty: one instance) redis://HOST:PORT */
  /* [basicstation] bind = HOST:PORT of the LoRa Basics Station LNS (empty: off); with
   * cert_file + key_file it is TLS (wss://), with client_ca_file stations must present a
   * certificate that CA signed; max_connections caps the stations connected at once. */
  char bs_bind[64];
  char bs_cert_file[256];
  char bs_key_file[256];
  char bs_client_ca_file[256];
  int bs_max_connections; /* = 1000 */
  /* [server] time_scale = 1: the server's clock runs this many times faster than the wall
   * clock from its start (simulations only: with `lorageo sim --speed` the same, a week of a
   * fleet's life passes in minutes; docs/fleet.md). clock_origin_ns: the wall-clock moment
   * it counts from (set by serve at its start). */
  double time_scale;
  int64_t clock_origin_ns;
  /* [fleet] (issue 19): the application port configuration frames go on and devices report
   * theirs on (config_port = 222), how often a device is asked its battery and margin
   * (status_interval_s = 21600; 0: never), attempts of one configuration change before it
   * is recorded failed (config_retries = 5), and the alarm thresholds over the defaults
   * (alarm_thresholds = a JSON object, as a profile's) */
  int fleet_config_port;
  int fleet_status_interval_s;
  int fleet_config_retries;
  char fleet_alarm_thresholds[1024];
};

/* The server's clock (ns since the Unix epoch): the wall clock, or with [server] time_scale
 * its scaled run from clock_origin_ns. */
int64_t lg_config_now_ns(const struct lg_config *c);

/* Defaults, then the file `path` (NULL: none), then the environment. On error returns
 * LG_EINVAL with a one-line reason naming the file, line and key. */
int lg_config_load(struct lg_config *c, const char *path, char *why, size_t why_len);

/* Defaults, then the INI `text` (`len` bytes) as if read from a file called `name`; the
 * environment is not read (the fuzzer's entry: the same rules as a file). LG_EINVAL with
 * the reason as lg_config_load gives it. */
int lg_config_parse_text(struct lg_config *c, const char *name, const char *text, size_t len,
                         char *why, size_t why_len);

/* Every configuration key by section, with what it takes (serve --help). */
void lg_config_help(FILE *out);

struct lg_store;
/*
 * Opens the configured database (or `database` when not NULL) with the keys-at-rest rules:
 * the key-encryption key from [security] kek_file (SQLite: beside the database, created
 * when missing), checked against the database and used to wrap any key still in clear;
 * without one, refused unless [security] allow_plaintext_keys (and always refused when
 * the database's keys are wrapped). What it did worth saying (a KEK created, keys
 * wrapped) goes to `note` (empty otherwise), the devices whose keys it wrapped to
 * *wrapped (may be NULL). Returns 0, or LG_E* with the reason.
 */
int lg_config_open_store(const struct lg_config *c, const char *database, struct lg_store **s,
                         size_t *wrapped, char *note, size_t note_len, char *why, size_t why_len);

#endif
