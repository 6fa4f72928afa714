/*
 * Configuration loading: inih reads the file, a table of known keys validates and
 * stores each value, the environment overrides last. Nothing is guessed: an unknown
 * section or key, a key given twice, a path that is not a regular file, a file with NUL
 * bytes, and a LORAGEO_* variable that names no key (LORAGEO_TEST_* excepted: the tests'
 * own) are errors naming the file, line and key (or the variable and the closest valid
 * name), never silently ignored: a typo should not start a server on defaults.
 */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "adr/adr.h"
#include "fleet/alarms.h"
#include "lora/lora.h"
#include "ns/config.h"
#include "util/util.h"

typedef int (*setter)(struct lg_config *c, const char *v);

static int set_str(char *dst, size_t cap, const char *v) {
  if (strlen(v) >= cap) return LG_EINVAL;
  snprintf(dst, cap, "%s", v);
  return 0;
}

static int set_int(int *dst, const char *v, long lo, long hi) {
  char *end = NULL;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi) return LG_EINVAL;
  *dst = (int)x;
  return 0;
}

static int set_double(double *dst, const char *v, double lo, double hi) {
  char *end = NULL;
  double x = strtod(v, &end);
  if (end == v || *end || !(x >= lo && x <= hi)) return LG_EINVAL;
  *dst = x;
  return 0;
}

static int s_udp(struct lg_config *c, const char *v) {
  return set_str(c->udp_bind, sizeof(c->udp_bind), v);
}
static int s_http(struct lg_config *c, const char *v) {
  return set_str(c->http_bind, sizeof(c->http_bind), v);
}
static int s_db(struct lg_config *c, const char *v) {
  return *v ? set_str(c->database, sizeof(c->database), v) : -1;
}
static int s_journal(struct lg_config *c, const char *v) {
  c->journal_set = true;
  return set_str(c->journal, sizeof(c->journal), v);
}
static int s_segment(struct lg_config *c, const char *v) {
  return set_int(&c->journal_segment_mb, v, 1, 4096);
}
/* An age ("90s", "30m", "12h", "7d") or a size ("500KB", "64MB", "10GB"); "0": keep all. */
static int s_retention(struct lg_config *c, const char *v) {
  char *end = NULL;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || x < 0 || x > 1000000) return LG_EINVAL;
  static const struct {
    const char *unit;
    int64_t ns, bytes;
  } units[] = {{"s", 1000000000LL, 0}, {"m", 60000000000LL, 0},   {"h", 3600000000000LL, 0},
               {"d", 86400000000000LL, 0}, {"KB", 0, 1LL << 10}, {"MB", 0, 1LL << 20},
               {"GB", 0, 1LL << 30}};
  c->journal_retention_ns = c->journal_retention_bytes = 0;
  if (*end == '\0' && x == 0) return set_str(c->journal_retention, sizeof(c->journal_retention), v);
  for (size_t i = 0; i < LG_ARRAY_LEN(units); i++) {
    if (strcasecmp(end, units[i].unit) != 0) continue;
    c->journal_retention_ns = x * units[i].ns;
    c->journal_retention_bytes = x * units[i].bytes;
    return set_str(c->journal_retention, sizeof(c->journal_retention), v);
  }
  return LG_EINVAL;
}
static int s_open_frames(struct lg_config *c, const char *v) {
  return set_int(&c->max_open_frames, v, 16, 10000000);
}
static int s_unknown_gw(struct lg_config *c, const char *v) {
  return set_int(&c->max_unknown_gateways, v, 1, 10000000);
}
static int s_region(struct lg_config *c, const char *v) {
  const struct lg_region *r = lg_region_find(v); /* stored by its canonical name */
  return r ? set_str(c->region, sizeof(c->region), r->name) : -1;
}
static int s_netid(struct lg_config *c, const char *v) {
  size_t n = 0;
  uint8_t b[3];
  if (strlen(v) != 6 || lg_hex_decode(v, 6, b, 3, &n)) return LG_EINVAL;
  c->net_id = (uint32_t)(b[0] << 16 | b[1] << 8 | b[2]);
  return 0;
}
static int s_dedup(struct lg_config *c, const char *v) {
  return set_int(&c->dedup_window_ms, v, 10, 5000);
}
static int s_late(struct lg_config *c, const char *v) {
  return set_int(&c->late_horizon_ms, v, 0, 60000);
}
static int s_token(struct lg_config *c, const char *v) {
  return set_str(c->api_token, sizeof(c->api_token), v);
}
static int s_read_token(struct lg_config *c, const char *v) {
  return set_str(c->api_read_token, sizeof(c->api_read_token), v);
}
static int s_tls_cert(struct lg_config *c, const char *v) {
  return set_str(c->api_tls_cert_file, sizeof(c->api_tls_cert_file), v);
}
static int s_tls_key(struct lg_config *c, const char *v) {
  return set_str(c->api_tls_key_file, sizeof(c->api_tls_key_file), v);
}
static int s_gw_nets(struct lg_config *c, const char *v) {
  char why[128];
  if (set_str(c->gateway_networks, sizeof(c->gateway_networks), v)) return LG_EINVAL;
  return lg_netlist_parse(v, &c->gateway_nets, why, sizeof(why));
}
/* auto | true | false into -2 (auto, resolved by the region later), 1, 0 */
static int set_auto_bool(int *dst, const char *v) {
  if (strcasecmp(v, "auto") == 0) return *dst = -2, 0;
  if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) return *dst = 1, 0;
  if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0) return *dst = 0, 0;
  return LG_EINVAL;
}
static int s_up_dwell(struct lg_config *c, const char *v) {
  return set_auto_bool(&c->uplink_dwell_time, v);
}
static int s_down_dwell(struct lg_config *c, const char *v) {
  return set_auto_bool(&c->downlink_dwell_time, v);
}
static int s_web(struct lg_config *c, const char *v) {
  return set_str(c->web_root, sizeof(c->web_root), v);
}
static int s_hosts(struct lg_config *c, const char *v) {
  return set_str(c->api_allowed_hosts, sizeof(c->api_allowed_hosts), v);
}
static int s_origins(struct lg_config *c, const char *v) {
  return set_str(c->api_allowed_origins, sizeof(c->api_allowed_origins), v);
}
static int s_maxconn(struct lg_config *c, const char *v) {
  return set_int(&c->api_max_connections, v, 4, 60000);
}
static int s_maxstreams(struct lg_config *c, const char *v) {
  return set_int(&c->api_max_streams, v, 0, 60000);
}
static int s_timeout(struct lg_config *c, const char *v) {
  return set_int(&c->api_timeout_s, v, 1, 3600);
}
static int s_gw_online(struct lg_config *c, const char *v) {
  return set_int(&c->api_gateway_online_s, v, 15, 86400);
}
static int s_mqtt(struct lg_config *c, const char *v) {
  return set_str(c->mqtt_url, sizeof(c->mqtt_url), v);
}
static int s_prefix(struct lg_config *c, const char *v) {
  if (!v[0] || strpbrk(v, "+#")) return LG_EINVAL; /* a topic to publish on: no wildcards */
  return set_str(c->mqtt_topic_prefix, sizeof(c->mqtt_topic_prefix), v);
}
static int s_muser(struct lg_config *c, const char *v) {
  return set_str(c->mqtt_username, sizeof(c->mqtt_username), v);
}
static int s_mpass(struct lg_config *c, const char *v) {
  return set_str(c->mqtt_password, sizeof(c->mqtt_password), v);
}
static int s_mca(struct lg_config *c, const char *v) {
  return set_str(c->mqtt_ca_file, sizeof(c->mqtt_ca_file), v);
}
static int s_mcert(struct lg_config *c, const char *v) {
  return set_str(c->mqtt_cert_file, sizeof(c->mqtt_cert_file), v);
}
static int s_mkey(struct lg_config *c, const char *v) {
  return set_str(c->mqtt_key_file, sizeof(c->mqtt_key_file), v);
}
static int s_mqueue(struct lg_config *c, const char *v) {
  return set_int(&c->mqtt_queue_max, v, 1, 10000000);
}
static int s_mqos(struct lg_config *c, const char *v) {
  return set_int(&c->mqtt_qos, v, 0, 1);
}
static int s_mformat(struct lg_config *c, const char *v) {
  if (strcmp(v, "chirpstack") == 0) return c->mqtt_chirpstack = true, 0;
  if (strcmp(v, "lorageo") == 0) return c->mqtt_chirpstack = false, 0;
  return LG_EINVAL;
}
static int s_mapp(struct lg_config *c, const char *v) {
  if (!v[0] || strpbrk(v, "/+#")) return LG_EINVAL; /* one topic level */
  return set_str(c->mqtt_application_id, sizeof(c->mqtt_application_id), v);
}
static int s_codec_dir(struct lg_config *c, const char *v) {
  return set_str(c->codec_dir, sizeof(c->codec_dir), v);
}
static int s_codec_timeout(struct lg_config *c, const char *v) {
  return set_int(&c->codec_js_timeout_ms, v, 1, 10000);
}
static int s_codec_memory(struct lg_config *c, const char *v) {
  return set_int(&c->codec_js_memory_kb, v, 256, 1048576);
}
static int s_wh_url(struct lg_config *c, const char *v) {
  if (v[0] && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) return LG_EINVAL;
  return set_str(c->webhook_url, sizeof(c->webhook_url), v);
}
static int s_wh_headers(struct lg_config *c, const char *v) {
  /* each "Name: value", separated by '|'; no CR or LF (header injection) */
  if (strpbrk(v, "\r\n")) return LG_EINVAL;
  char copy[1024];
  if (set_str(copy, sizeof(copy), v)) return LG_EINVAL;
  for (char *save = NULL, *h = strtok_r(copy, "|", &save); h; h = strtok_r(NULL, "|", &save)) {
    while (*h == ' ') h++;
    char *colon = strchr(h, ':');
    if (colon == NULL || colon == h) return LG_EINVAL;
    for (char *p = h; p < colon; p++)
      if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') return LG_EINVAL;
  }
  return set_str(c->webhook_headers, sizeof(c->webhook_headers), v);
}
static int s_wh_events(struct lg_config *c, const char *v) {
  return set_str(c->webhook_events, sizeof(c->webhook_events), v);
}
static int s_wh_queue(struct lg_config *c, const char *v) {
  return set_int(&c->webhook_queue_max, v, 1, 10000000);
}
static int s_wh_attempts(struct lg_config *c, const char *v) {
  return set_int(&c->webhook_max_attempts, v, 1, 100);
}
static int s_wh_retry(struct lg_config *c, const char *v) {
  return set_int(&c->webhook_retry_ms, v, 1, 3600000);
}
static int s_wh_retry_max(struct lg_config *c, const char *v) {
  return set_int(&c->webhook_retry_max_ms, v, 1, 86400000);
}
static int s_wh_timeout(struct lg_config *c, const char *v) {
  return set_int(&c->webhook_timeout_ms, v, 100, 600000);
}
static int s_method(struct lg_config *c, const char *v) {
  return lg_geo_method_parse(v, &c->geo_method);
}
static int s_mingw(struct lg_config *c, const char *v) {
  return set_int(&c->geo_min_gateways, v, 2, LG_GEO_MAX_RX);
}
static int s_sigma(struct lg_config *c, const char *v) {
  return set_double(&c->geo_sigma_ns, v, 0.1, 1e6);
}
static int s_alt(struct lg_config *c, const char *v) {
  return set_double(&c->geo_device_alt_m, v, -1000, 20000);
}
static int s_redis(struct lg_config *c, const char *v) {
  if (v[0] && strncmp(v, "redis://", 8) != 0) return LG_EINVAL;
  return set_str(c->cluster_redis, sizeof(c->cluster_redis), v);
}
static int s_reuse(struct lg_config *c, const char *v) {
  if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) return c->udp_reuse_port = true, 0;
  if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0) return c->udp_reuse_port = false, 0;
  return LG_EINVAL;
}
static int s_ack_uplinks(struct lg_config *c, const char *v) {
  return set_int(&c->ack_uplinks, v, 1, 100);
}
static int s_ack_timeout(struct lg_config *c, const char *v) {
  return set_int(&c->ack_timeout_s, v, 0, 30 * 86400);
}
static int s_margin(struct lg_config *c, const char *v) {
  return set_double(&c->adr_installation_margin_db, v, 0, 30);
}
static int s_time_scale(struct lg_config *c, const char *v) {
  return set_double(&c->time_scale, v, 1, 100000);
}
static int s_fleet_port(struct lg_config *c, const char *v) {
  return set_int(&c->fleet_config_port, v, 1, 223);
}
static int s_fleet_status(struct lg_config *c, const char *v) {
  return set_int(&c->fleet_status_interval_s, v, 0, 30 * 86400);
}
static int s_fleet_retries(struct lg_config *c, const char *v) {
  return set_int(&c->fleet_config_retries, v, 1, 100);
}
static int s_fleet_thresholds(struct lg_config *c, const char *v) {
  struct lg_alarm_rules r;
  json_t *o = json_loads(v, 0, NULL);
  char why[200];
  lg_alarm_rules_default(&r);
  int bad = o == NULL || lg_alarm_rules_apply_json(&r, o, why, sizeof(why));
  json_decref(o);
  return bad ? -1 : set_str(c->fleet_alarm_thresholds, sizeof(c->fleet_alarm_thresholds), v);
}

int64_t lg_config_now_ns(const struct lg_config *c) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t wall = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
  if (c->time_scale <= 1 || c->clock_origin_ns == 0) return wall;
  return c->clock_origin_ns + (int64_t)((double)(wall - c->clock_origin_ns) * c->time_scale);
}

static int s_target(struct lg_config *c, const char *v) {
  return set_double(&c->adr_target_delivery, v, 0.5, 0.9999);
}
static int s_cal(struct lg_config *c, const char *v) {
  return set_str(c->geo_calibration, sizeof(c->geo_calibration), v);
}
static int s_kek(struct lg_config *c, const char *v) {
  c->kek_file_set = true;
  return set_str(c->kek_file, sizeof(c->kek_file), v);
}
static int s_plain(struct lg_config *c, const char *v) {
  if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) return c->allow_plaintext_keys = true, 0;
  if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0) return c->allow_plaintext_keys = false, 0;
  return LG_EINVAL;
}
static int s_move(struct lg_config *c, const char *v) {
  return set_int(&c->gateway_move_after_s, v, 0, 86400);
}
static int s_learned(struct lg_config *c, const char *v) {
  c->geo_learned_set = true;
  return set_str(c->geo_learned, sizeof(c->geo_learned), v);
}
static int s_adr_learned(struct lg_config *c, const char *v) {
  c->adr_learned_set = true;
  return set_str(c->adr_learned, sizeof(c->adr_learned), v);
}

static int s_bs_bind(struct lg_config *c, const char *v) {
  if (v[0] && !strrchr(v, ':')) return LG_EINVAL;
  return set_str(c->bs_bind, sizeof(c->bs_bind), v);
}
static int s_bs_cert(struct lg_config *c, const char *v) {
  return set_str(c->bs_cert_file, sizeof(c->bs_cert_file), v);
}
static int s_bs_key(struct lg_config *c, const char *v) {
  return set_str(c->bs_key_file, sizeof(c->bs_key_file), v);
}
static int s_bs_ca(struct lg_config *c, const char *v) {
  return set_str(c->bs_client_ca_file, sizeof(c->bs_client_ca_file), v);
}
static int s_bs_max(struct lg_config *c, const char *v) {
  return set_int(&c->bs_max_connections, v, 1, 100000);
}

static const struct {
  const char *section, *key, *expect;
  setter set;
} keys[] = {
    {"server", "udp_bind", "HOST:PORT", s_udp},
    {"server", "reuse_port", "true or false", s_reuse},
    {"server", "http_bind", "HOST:PORT", s_http},
    {"server", "database", "a SQLite path or postgresql://...", s_db},
    {"server", "journal", "a directory (empty: no journal)", s_journal},
    {"server", "journal_segment_mb", "1..4096", s_segment},
    {"server", "journal_retention", "an age (7d, 12h, 30m, 90s), a size (500KB, 64MB, 10GB) or 0",
     s_retention},
    {"server", "max_open_frames", "16..10000000", s_open_frames},
    {"server", "max_unknown_gateways", "1..10000000", s_unknown_gw},
    {"network", "region",
     "EU868, US915, AU915, AS923-1, AS923-2, AS923-3, AS923-4, KR920, IN865, RU864, EU433 or "
     "CN470",
     s_region},
    {"network", "net_id", "6 hex digits", s_netid},
    {"network", "dedup_window_ms", "10..5000", s_dedup},
    {"network", "late_horizon_ms", "0..60000", s_late},
    {"network", "ack_uplinks", "1..100", s_ack_uplinks},
    {"network", "ack_timeout_s", "0..2592000", s_ack_timeout},
    {"network", "uplink_dwell_time", "auto, true or false", s_up_dwell},
    {"network", "downlink_dwell_time", "auto, true or false", s_down_dwell},
    {"api", "token", "a string", s_token},
    {"api", "read_token", "a string", s_read_token},
    {"api", "tls_cert_file", "a PEM certificate file", s_tls_cert},
    {"api", "tls_key_file", "a PEM private key file", s_tls_key},
    {"api", "web_root", "a directory", s_web},
    {"api", "allowed_hosts", "host names, comma-separated", s_hosts},
    {"api", "allowed_origins", "origins (https://host[:port]), comma-separated", s_origins},
    {"api", "max_connections", "4..60000", s_maxconn},
    {"api", "max_streams", "0..60000", s_maxstreams},
    {"api", "timeout_s", "1..3600", s_timeout},
    {"api", "gateway_online_s", "15..86400", s_gw_online},
    {"mqtt", "url", "mqtt://HOST:PORT or mqtts://HOST:PORT", s_mqtt},
    {"mqtt", "topic_prefix", "a topic prefix (no + or #)", s_prefix},
    {"mqtt", "username", "a string", s_muser},
    {"mqtt", "password", "a string", s_mpass},
    {"mqtt", "queue_max", "1..10000000", s_mqueue},
    {"mqtt", "qos", "0 or 1", s_mqos},
    {"mqtt", "ca_file", "a PEM file", s_mca},
    {"mqtt", "cert_file", "a PEM file", s_mcert},
    {"mqtt", "key_file", "a PEM file", s_mkey},
    {"mqtt", "format", "lorageo or chirpstack", s_mformat},
    {"mqtt", "application_id", "one topic level (no /, +, #)", s_mapp},
    {"codec", "dir", "a directory of JavaScript codecs (NAME.js)", s_codec_dir},
    {"codec", "js_timeout_ms", "1..10000", s_codec_timeout},
    {"codec", "js_memory_kb", "256..1048576", s_codec_memory},
    {"webhook", "url", "http://... or https://... (empty: off)", s_wh_url},
    {"webhook", "headers", "Name: value pairs separated by |", s_wh_headers},
    {"webhook", "events", "event types, comma-separated (empty: all)", s_wh_events},
    {"webhook", "queue_max", "1..10000000", s_wh_queue},
    {"webhook", "max_attempts", "1..100", s_wh_attempts},
    {"webhook", "retry_ms", "1..3600000", s_wh_retry},
    {"webhook", "retry_max_ms", "1..86400000", s_wh_retry_max},
    {"webhook", "timeout_ms", "100..600000", s_wh_timeout},
    {"geo", "method", "auto, nls, lls, grid, rssi or hybrid", s_method},
    {"geo", "min_gateways", "2..64", s_mingw},
    {"geo", "sigma_ns", "0.1..1e6", s_sigma},
    {"geo", "device_alt_m", "-1000..20000", s_alt},
    {"geo", "calibration", "a file path", s_cal},
    {"geo", "learned", "a file path (empty: not kept)", s_learned},
    {"security", "kek_file", "a file of 32 or 64 hex digits", s_kek},
    {"security", "allow_plaintext_keys", "true or false", s_plain},
    {"security", "gateway_move_after_s", "0..86400 (seconds)", s_move},
    {"security", "gateway_networks", "CIDR networks (10.0.0.0/8, ::1/128), comma-separated",
     s_gw_nets},
    {"adr", "installation_margin_db", "0..30", s_margin},
    {"adr", "target_delivery", "0.5..0.9999", s_target},
    {"adr", "learned", "a file path (empty: not kept)", s_adr_learned},
    {"cluster", "redis", "redis://HOST[:PORT]", s_redis},
    {"basicstation", "bind", "HOST:PORT (empty: off)", s_bs_bind},
    {"basicstation", "cert_file", "a PEM file", s_bs_cert},
    {"basicstation", "key_file", "a PEM file", s_bs_key},
    {"basicstation", "client_ca_file", "a PEM file", s_bs_ca},
    {"basicstation", "max_connections", "1..100000", s_bs_max},
    {"server", "time_scale", "1..100000 (simulations only)", s_time_scale},
    {"fleet", "config_port", "1..223", s_fleet_port},
    {"fleet", "status_interval_s", "0..2592000", s_fleet_status},
    {"fleet", "config_retries", "1..100", s_fleet_retries},
    {"fleet", "alarm_thresholds", "a JSON object of alarm thresholds (docs/fleet.md)", s_fleet_thresholds},
};

void lg_config_help(FILE *out) {
  const char *section = "";
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    if (strcmp(section, keys[i].section) != 0) {
      section = keys[i].section;
      fprintf(out, "  [%s]\n", section);
    }
    fprintf(out, "    %-22s %s\n", keys[i].key, keys[i].expect);
  }
}

/* The journal beside its database: each database its own, so two servers never share one
 * and a journal is never replayed into another database. Empty for an in-memory one. */
static void journal_name(const char *database, const char *http_bind, char *out, size_t len) {
  if (strncmp(database, "postgres", 8) == 0) { /* ./lorageo-<database>-<HTTP port>.journal */
    const char *port = strrchr(http_bind, ':'), *name = strrchr(database, '/');
    name = name && name[1] && name > strstr(database, "//") + 1 ? name + 1 : "lorageo";
    size_t n = strcspn(name, "?");
    char safe[64];
    size_t k = 0;
    for (size_t i = 0; i < n && k < sizeof(safe) - 1; i++)
      safe[k++] = isalnum((unsigned char)name[i]) || name[i] == '_' ? name[i] : '_';
    safe[k] = '\0';
    snprintf(out, len, "./lorageo-%s-%s.journal", safe, port ? port + 1 : "0");
    return;
  }
  size_t n = strlen(database);
  if (n > 3 && strcmp(database + n - 3, ".db") == 0) n -= 3;
  if (strcmp(database, ":memory:") == 0) {
    out[0] = '\0'; /* a database that does not outlive the process: nothing to replay */
    return;
  }
  snprintf(out, len, "%.*s.journal", (int)(n < 240 ? n : 240), database);
}

/* What locating and ADR learn, beside the database as the default journal is: that name
 * with .geo.json (./lorageo.geo.json) and .adr.json; none for an in-memory database. */
static void default_learned(struct lg_config *c) {
  char j[256];
  journal_name(c->database, c->http_bind, j, sizeof(j));
  size_t n = strlen(j);
  if (n > 8 && strcmp(j + n - 8, ".journal") == 0) n -= 8;
  if (!c->geo_learned_set)
    snprintf(c->geo_learned, sizeof(c->geo_learned), "%.*s%s", (int)n, j, n ? ".geo.json" : "");
  if (!c->adr_learned_set)
    snprintf(c->adr_learned, sizeof(c->adr_learned), "%.*s%s", (int)n, j, n ? ".adr.json" : "");
}

struct parse_ctx {
  struct lg_config *c;
  char *why;
  size_t why_len;
  const char *path;
  const char *buf; /* the file's text, read line by line by read_line */
  size_t len, pos;
  int line;                          /* the line being parsed (1-based) */
  int seen_line[LG_ARRAY_LEN(keys)]; /* where each key was given (0: not yet) */
};

static int apply(struct lg_config *c, const char *section, const char *key, const char *value,
                 const char *where, char *why, size_t why_len) {
  for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++) {
    if (strcasecmp(section, keys[i].section) || strcasecmp(key, keys[i].key)) continue;
    if (keys[i].set(c, value) == 0) return 0;
    snprintf(why, why_len, "%s: [%s] %s = '%s': expected %s", where, keys[i].section, keys[i].key,
             value, keys[i].expect);
    return LG_EINVAL;
  }
  snprintf(why, why_len, "%s: unknown key [%s] %s", where, section, key);
  return LG_EINVAL;
}

static int on_entry(void *user, const char *section, const char *name, const char *value) {
  struct parse_ctx *p = user;
  if (p->why[0]) return 0; /* keep the first error */
  char where[300];
  snprintf(where, sizeof(where), "%s:%d", p->path, p->line);
  for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++) {
    if (strcasecmp(section, keys[i].section) || strcasecmp(name, keys[i].key)) continue;
    if (p->seen_line[i]) {
      snprintf(p->why, p->why_len, "%s: [%s] %s given twice (first on line %d)", where,
               keys[i].section, keys[i].key, p->seen_line[i]);
      return 0;
    }
    p->seen_line[i] = p->line;
  }
  return apply(p->c, section, name, value, where, p->why, p->why_len) == 0;
}

/* inih's reader (fgets-like) over the file's text; counts the lines it hands out, so the
 * handler knows the line of the entry it gets (inih calls it before reading the next). */
static char *read_line(char *str, int num, void *stream) {
  struct parse_ctx *p = stream;
  if (p->pos >= p->len || num < 2) return NULL;
  size_t n = 0;
  while (p->pos < p->len && n < (size_t)num - 1) {
    char ch = p->buf[p->pos++];
    str[n++] = ch;
    if (ch == '\n') break;
  }
  str[n] = '\0';
  p->line++;
  return str;
}

/* The file's text (a regular file of at most 1 MiB without NUL bytes); *buf malloc'ed. */
static int read_file(const char *path, char **buf, size_t *len, char *why, size_t why_len) {
  FILE *f = fopen(path, "rb");
  struct stat st;
  if (f == NULL || fstat(fileno(f), &st) != 0) {
    snprintf(why, why_len, "%s: cannot read the file: %s", path, strerror(errno));
    if (f) fclose(f);
    return LG_EINVAL;
  }
  if (!S_ISREG(st.st_mode) || st.st_size > (1 << 20)) {
    snprintf(why, why_len, "%s: not a configuration file (%s)", path,
             S_ISDIR(st.st_mode) ? "a directory" : !S_ISREG(st.st_mode) ? "not a regular file"
                                                                       : "larger than 1 MiB");
    fclose(f);
    return LG_EINVAL;
  }
  *buf = malloc((size_t)st.st_size + 1);
  *len = *buf ? fread(*buf, 1, (size_t)st.st_size, f) : 0;
  fclose(f);
  if (*buf == NULL) return snprintf(why, why_len, "%s: out of memory", path), LG_ENOMEM;
  const char *nul = memchr(*buf, '\0', *len);
  if (nul) {
    int line = 1;
    for (const char *q = *buf; q < nul; q++)
      line += *q == '\n';
    snprintf(why, why_len, "%s:%d: not a configuration file (binary: a NUL byte)", path, line);
    free(*buf);
    return LG_EINVAL;
  }
  return 0;
}

/* Edit distance (Levenshtein) of two short strings, for "did you mean". */
static size_t distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), row[128];
  if (la > 120 || lb > 120) return SIZE_MAX;
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j], best = diag + (toupper((unsigned char)a[i - 1]) !=
                                         toupper((unsigned char)b[j - 1]));
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

static void env_name(size_t i, char *var, size_t cap) {
  snprintf(var, cap, "LORAGEO_%s_%s", keys[i].section, keys[i].key);
  for (char *q = var; *q; q++)
    *q = (char)toupper((unsigned char)*q);
}

extern char **environ;

/* Every LORAGEO_* variable must name a key (LORAGEO_TEST_*: the test suite's own). */
static int check_environment(char *why, size_t why_len) {
  for (char **e = environ; e && *e; e++) {
    if (strncmp(*e, "LORAGEO_", 8) != 0 || strncmp(*e, "LORAGEO_TEST_", 13) == 0) continue;
    char name[128];
    size_t n = strcspn(*e, "=");
    snprintf(name, sizeof(name), "%.*s", (int)(n < 127 ? n : 127), *e);
    size_t best = SIZE_MAX, best_i = 0;
    bool known = false;
    for (size_t i = 0; i < LG_ARRAY_LEN(keys) && !known; i++) {
      char var[96];
      env_name(i, var, sizeof(var));
      known = strcmp(var, name) == 0;
      size_t d = distance(var, name);
      if (d < best) best = d, best_i = i;
    }
    if (known) continue;
    char var[96];
    env_name(best_i, var, sizeof(var));
    snprintf(why, why_len, "environment: %s names no configuration key (did you mean %s?)", name,
             var);
    return LG_EINVAL;
  }
  return 0;
}

static void defaults(struct lg_config *c) {
  memset(c, 0, sizeof(*c));
  snprintf(c->udp_bind, sizeof(c->udp_bind), "0.0.0.0:1700");
  snprintf(c->http_bind, sizeof(c->http_bind), "127.0.0.1:8080");
  snprintf(c->database, sizeof(c->database), "./lorageo.db");
  snprintf(c->region, sizeof(c->region), "EU868");
  c->journal_segment_mb = 64;
  s_retention(c, "7d");
  c->max_open_frames = 20000;
  c->max_unknown_gateways = 4096;
  c->dedup_window_ms = 200;
  c->late_horizon_ms = 2000;
  c->uplink_dwell_time = c->downlink_dwell_time = -2; /* auto */
  snprintf(c->mqtt_topic_prefix, sizeof(c->mqtt_topic_prefix), "lorageo");
  c->mqtt_queue_max = 100000;
  c->mqtt_qos = 0;
  snprintf(c->mqtt_application_id, sizeof(c->mqtt_application_id),
           "00000000-0000-0000-0000-000000000000");
  c->codec_js_timeout_ms = 100;
  c->codec_js_memory_kb = 16384;
  c->webhook_queue_max = 10000;
  c->webhook_max_attempts = 8;
  c->webhook_retry_ms = 500;
  c->webhook_retry_max_ms = 60000;
  c->webhook_timeout_ms = 5000;
  c->api_max_connections = 2048;
  c->bs_max_connections = 1000;
  c->api_max_streams = 64;
  c->api_timeout_s = 15;
  c->api_gateway_online_s = 60;
  snprintf(c->web_root, sizeof(c->web_root), "%s", LG_WEB_DIR);
  c->geo_method = LG_GEO_AUTO;
  c->geo_min_gateways = 3;
  c->geo_sigma_ns = 50;
  c->gateway_move_after_s = 60;
  c->adr_installation_margin_db = 10;
  c->ack_uplinks = 1;
  c->ack_timeout_s = 3600;
  c->adr_target_delivery = 0; /* by the device's mobility: LG_ADR_TARGET, LG_ADR_TARGET_STATIC */
  c->time_scale = 1;
  c->fleet_config_port = 222;
  c->fleet_status_interval_s = 21600;
  c->fleet_config_retries = 5;
}

/* The INI text (`len` bytes, no NUL inside) of the file called `name` into c. */
static int parse_text(struct lg_config *c, const char *name, const char *text, size_t len,
                      char *why, size_t why_len) {
  struct parse_ctx p = (struct parse_ctx){
      .c = c, .why = why, .why_len = why_len, .path = name, .buf = text, .len = len};
  int line = ini_parse_stream(read_line, &p, on_entry, &p);
  if (why[0] || line != 0) {
    if (!why[0]) snprintf(why, why_len, "%s:%d: not INI syntax", name, line);
    return LG_EINVAL;
  }
  return 0;
}

/* Rules between keys, once every source is read; derived values. */
static int finish(struct lg_config *c, char *why, size_t why_len) {
  if (c->api_read_token[0] && c->api_token[0] == '\0')
    return snprintf(why, why_len,
                    "[api] read_token needs [api] token (without it every request may write)"),
           LG_EINVAL;
  if (c->api_read_token[0] && strcmp(c->api_read_token, c->api_token) == 0)
    return snprintf(why, why_len, "[api] read_token must differ from [api] token"), LG_EINVAL;
  if ((c->api_tls_cert_file[0] == '\0') != (c->api_tls_key_file[0] == '\0'))
    return snprintf(why, why_len, "[api] tls_cert_file and tls_key_file go together"), LG_EINVAL;
  if (!c->bs_cert_file[0] != !c->bs_key_file[0] || (c->bs_client_ca_file[0] && !c->bs_cert_file[0]))
    return snprintf(why, why_len, "[basicstation] cert_file and key_file go together (TLS), and "
                                  "client_ca_file needs them"),
           LG_EINVAL;
  const struct lg_region *r = lg_region_find(c->region);
  int *dwell[2] = {&c->uplink_dwell_time, &c->downlink_dwell_time};
  static const char *const names[2] = {"uplink_dwell_time", "downlink_dwell_time"};
  for (int i = 0; i < 2; i++) {
    bool settable = r && r->dwell_table; /* AS923, AU915: TxParamSetupReq */
    if (*dwell[i] != -2 && !settable)
      return snprintf(why, why_len,
                      "[network] %s: only AS923 and AU915 let it be set (TxParamSetupReq); %s %s",
                      names[i], c->region,
                      r && r->uses_dwell_time ? "always has the FCC's 400 ms" : "has none"),
             LG_EINVAL;
    if (*dwell[i] == -2) *dwell[i] = settable ? 1 : -1;
  }
  if (!c->journal_set) journal_name(c->database, c->http_bind, c->journal, sizeof(c->journal));
  default_learned(c);
  return 0;
}

int lg_config_parse_text(struct lg_config *c, const char *name, const char *text, size_t len,
                         char *why, size_t why_len) {
  defaults(c);
  why[0] = '\0';
  if (memchr(text, '\0', len))
    return snprintf(why, why_len, "%s: not a configuration file (binary: a NUL byte)", name),
           LG_EINVAL;
  int rc = parse_text(c, name, text, len, why, why_len);
  return rc ? rc : finish(c, why, why_len);
}

int lg_config_load(struct lg_config *c, const char *path, char *why, size_t why_len) {
  defaults(c);
  why[0] = '\0';
  if (check_environment(why, why_len)) return LG_EINVAL;
  if (path) {
    char *text = NULL;
    size_t len = 0;
    int rc = read_file(path, &text, &len, why, why_len);
    if (rc) return rc;
    rc = parse_text(c, path, text, len, why, why_len);
    free(text);
    if (rc) return rc;
  }
  for (size_t i = 0; i < LG_ARRAY_LEN(keys); i++) {
    char var[96];
    env_name(i, var, sizeof(var));
    const char *v = getenv(var);
    if (v && apply(c, keys[i].section, keys[i].key, v, var, why, why_len)) return LG_EINVAL;
  }
  return finish(c, why, why_len);
}
