/*
 * `lorageo device add ...` and `lorageo gateway add ...`: provisioning straight into the
 * database. The options become the JSON body POST /api/devices (/api/gateways) takes and
 * go through the same validation, so both paths accept exactly the same devices.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cli/cli.h"
#include "ns/config.h"
#include "store/store.h"
#include "util/util.h"

static int open_db(const char *cfg_path, const char *db, struct lg_store **s, const char *cmd) {
  struct lg_config cfg;
  char why[512];
  if (lg_config_load(&cfg, cfg_path, why, sizeof(why))) return lg_cli_fail(cmd, 2, "%s", why);
  char note[512];
  if (lg_config_open_store(&cfg, db, s, NULL, note, sizeof(note), why, sizeof(why)))
    return lg_cli_fail(cmd, 1, "%s", why);
  if (note[0]) fprintf(stderr, "lorageo %s: %s\n", cmd, note);
  return 0;
}

struct field {
  const char *option, *key;
  enum { F_STRING, F_NUMBER, F_FLAG, F_INT } type;
};

/* Parses options named in `fields` into a JSON object with the API's keys. Returns 0,
 * -1 after --help, or the exit status of a usage error. */
static int options_to_json(const char *cmd, const char *usage, const struct field *fields, size_t n,
                           int argc, char **argv, json_t *body, const char **cfg, const char **db) {
  struct option opts[24];
  size_t k = 0;
  for (size_t i = 0; i < n && k < 20; i++, k++)
    opts[k] = (struct option){fields[i].option,
                              fields[i].type == F_FLAG ? no_argument : required_argument, NULL,
                              (int)(256 + i)};
  opts[k++] = (struct option){"config", required_argument, NULL, 'c'};
  opts[k++] = (struct option){"database", required_argument, NULL, 'D'};
  opts[k++] = (struct option){"help", no_argument, NULL, 'h'};
  opts[k] = (struct option){NULL, 0, NULL, 0};
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":hc:", opts, NULL)) != -1) {
    if (c == 'h') {
      fputs(usage, stdout);
      return -1;
    }
    if (c == 'c')
      *cfg = optarg;
    else if (c == 'D')
      *db = optarg;
    else if (c >= 256 && (size_t)(c - 256) < n) {
      const struct field *f = &fields[c - 256];
      if (f->type == F_FLAG) {
        json_object_set_new(body, f->key, json_true());
      } else if (f->type == F_INT) {
        long v;
        if (lg_cli_parse_long(optarg, 1, INT32_MAX, &v))
          return lg_cli_fail(cmd, 2, "--%s: expected an id (an integer >= 1), got '%s'", f->option,
                             optarg);
        json_object_set_new(body, f->key, json_integer(v));
      } else if (f->type == F_NUMBER) {
        char *end = NULL;
        double v = strtod(optarg, &end);
        if (end == optarg || *end)
          return lg_cli_fail(cmd, 2, "--%s: expected a number, got '%s'", f->option, optarg);
        json_object_set_new(body, f->key, json_real(v));
      } else {
        json_object_set_new(body, f->key, json_string(optarg));
      }
    } else {
      return lg_cli_bad_option(cmd, c, argv);
    }
  }
  if (optind != argc) return lg_cli_fail(cmd, 2, "unexpected argument '%s'", argv[optind]);
  return 0;
}

static const char device_usage[] =
    "usage: lorageo device add --dev-eui EUI [--name N] [--adr off|standard|eadr|predictive]\n"
    "         [--application ID] [--profile ID]  (the default application: 1; a device\n"
    "                          profile gives adr, class and reference unless they are given)\n"
    "         [--class A|C] [--reference]   (its payload carries its own GPS position: Cayenne LPP or\n"
    "                          the TDOA thesis' 11 bytes; the server learns from it)\n"
    "         (--join-eui EUI --app-key KEY | --dev-addr ADDR --nwk-s-key KEY --app-s-key KEY\n"
    "          [--fcnt-resets-allowed]) [-c CONFIG] [--database PATH]\n";

static int device_add(int argc, char **argv) {
  static const struct field fields[] = {{"dev-eui", "dev_eui", F_STRING},
                                        {"name", "name", F_STRING},
                                        {"adr", "adr", F_STRING},
                                        {"join-eui", "join_eui", F_STRING},
                                        {"app-key", "app_key", F_STRING},
                                        {"dev-addr", "dev_addr", F_STRING},
                                        {"nwk-s-key", "nwk_s_key", F_STRING},
                                        {"app-s-key", "app_s_key", F_STRING},
                                        {"fcnt-resets-allowed", "fcnt_resets_allowed", F_FLAG},
                                        {"reference", "reference", F_FLAG},
                                        {"class", "class", F_STRING},
                                        {"application", "application_id", F_INT},
                                        {"profile", "profile_id", F_INT}};
  const char *cfg = NULL, *db = NULL;
  json_t *body = json_object();
  int rc = options_to_json("device add", device_usage, fields, LG_ARRAY_LEN(fields), argc, argv,
                           body, &cfg, &db);
  struct lg_device_rec d, old;
  char why[160];
  if (rc == 0 && lg_api_parse_device(body, &d, why, sizeof(why)))
    rc = lg_cli_fail("device add", 2, "%s", why);
  json_decref(body);
  if (rc) return rc < 0 ? 0 : rc;
  struct lg_store *s = NULL;
  if ((rc = open_db(cfg, db, &s, "device add"))) return rc;
  struct lg_app_rec app;
  struct lg_profile_rec prof;
  if (d.application_id == 0) d.application_id = 1;
  if (lg_store_device_get(s, d.dev_eui, &old) == 0)
    rc = lg_cli_fail("device add", 1, "device %016llx exists", (unsigned long long)d.dev_eui);
  else if (lg_store_app_get(s, d.application_id, &app) != 0)
    rc = lg_cli_fail("device add", 1, "--application: no application %lld",
                     (long long)d.application_id);
  else if (d.profile_id > 0 && lg_store_profile_get(s, d.profile_id, &prof) != 0)
    rc = lg_cli_fail("device add", 1, "--profile: no device profile %lld",
                     (long long)d.profile_id);
  else if (lg_store_device_put(s, &d))
    rc = lg_cli_fail("device add", 1, "storage failed");
  else
    rc = lg_cli_print_json(stdout, lg_store_device_json(s, d.dev_eui)) ? 1 : 0;
  lg_store_close(s);
  return rc;
}

static const char gateway_usage[] =
    "usage: lorageo gateway add --gateway-eui EUI [--name N] [--lat DEG --lon DEG [--alt M]]\n"
    "         [--timing-offset-ns NS]\n"
    "         [--position-from-gateway]  (its own GPS, in its stat messages, gives its position\n"
    "                                     over --lat/--lon; otherwise a stat never moves it)\n"
    "         [-c CONFIG] [--database PATH]\n";

static int gateway_add(int argc, char **argv) {
  static const struct field fields[] = {{"gateway-eui", "gateway_eui", F_STRING},
                                        {"name", "name", F_STRING},
                                        {"lat", "latitude", F_NUMBER},
                                        {"lon", "longitude", F_NUMBER},
                                        {"alt", "altitude", F_NUMBER},
                                        {"timing-offset-ns", "timing_offset_ns", F_NUMBER},
                                        {"position-from-gateway", "position_from_gateway", F_FLAG}};
  const char *cfg = NULL, *db = NULL;
  json_t *body = json_object();
  int rc = options_to_json("gateway add", gateway_usage, fields, LG_ARRAY_LEN(fields), argc, argv,
                           body, &cfg, &db);
  struct lg_gateway_rec g;
  char why[160];
  if (rc == 0 && lg_api_parse_gateway(body, &g, why, sizeof(why)))
    rc = lg_cli_fail("gateway add", 2, "%s", why);
  json_decref(body);
  if (rc) return rc < 0 ? 0 : rc;
  struct lg_store *s = NULL;
  if ((rc = open_db(cfg, db, &s, "gateway add"))) return rc;
  if (lg_store_gateway_put(s, &g))
    rc = lg_cli_fail("gateway add", 1, "storage failed");
  else
    rc = lg_cli_print_json(stdout, lg_store_gateway_json(s, g.eui)) ? 1 : 0;
  lg_store_close(s);
  return rc;
}

int lg_cmd_device(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "add") == 0) return device_add(argc - 1, argv + 1);
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(device_usage, stdout);
    return 0;
  }
  return lg_cli_fail("device", 2, "expected 'device add' (see lorageo device --help)");
}

int lg_cmd_gateway(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "add") == 0) return gateway_add(argc - 1, argv + 1);
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(gateway_usage, stdout);
    return 0;
  }
  return lg_cli_fail("gateway", 2, "expected 'gateway add' (see lorageo gateway --help)");
}

static const char keys_usage[] =
    "usage: lorageo keys wrap [-c CONFIG] [--database PATH]\n"
    "\n"
    "Wraps every device key the database still holds in clear with the key-encryption key of\n"
    "[security] kek_file (SQLite: beside the database, created when missing). Prints\n"
    "{\"wrapped\": N}. The server does the same when it starts.\n";

/* `lorageo keys wrap`: opening the store wraps what is in clear (ns/keys.c). */
int lg_cmd_keys(int argc, char **argv) {
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    fputs(keys_usage, stdout);
    return 0;
  }
  if (argc < 2 || strcmp(argv[1], "wrap") != 0)
    return lg_cli_fail("keys", 2, "expected 'keys wrap' (see lorageo keys --help)");
  const char *cfg_path = NULL, *db = NULL;
  for (int i = 2; i < argc; i++) {
    if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc)
      cfg_path = argv[++i];
    else if (strcmp(argv[i], "--database") == 0 && i + 1 < argc)
      db = argv[++i];
    else
      return lg_cli_fail("keys", 2, "unexpected argument '%s'", argv[i]);
  }
  struct lg_config cfg;
  char why[512], note[512];
  if (lg_config_load(&cfg, cfg_path, why, sizeof(why))) return lg_cli_fail("keys", 2, "%s", why);
  if (!cfg.kek_file_set && strncmp(db ? db : cfg.database, "postgres", 8) == 0)
    return lg_cli_fail("keys", 2, "PostgreSQL: give [security] kek_file");
  cfg.allow_plaintext_keys = false; /* wrapping is the point */
  struct lg_store *s = NULL;
  size_t n = 0;
  if (lg_config_open_store(&cfg, db, &s, &n, note, sizeof(note), why, sizeof(why)))
    return lg_cli_fail("keys", 1, "%s", why);
  lg_store_close(s);
  return lg_cli_print_json(stdout, json_pack("{s:I}", "wrapped", (json_int_t)n)) ? 1 : 0;
}
