/*
 * `lorageo apikey add|list|revoke`: API keys straight in the database, as POST, GET and
 * DELETE /api/api-keys make them (the first admin key of a server whose API is closed
 * comes from here). The key is printed once; the database keeps its SHA-256 only.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "cli/cli.h"
#include "ns/config.h"
#include "store/store.h"
#include "util/util.h"

static const char usage[] =
    "usage: lorageo apikey add --name NAME [--application ID] [--read-only]\n"
    "       lorageo apikey list\n"
    "       lorageo apikey revoke ID\n"
    "       (each with [-c CONFIG] [--database PATH])\n"
    "\n"
    "add: a key for every application (admin) or for one, read-write or read-only; prints\n"
    "{\"id\", \"name\", \"application_id\", \"read_only\", \"created_ns\", \"revoked_ns\", \"key\"}.\n"
    "The key is shown this once: the database keeps its SHA-256. Send it as\n"
    "Authorization: Bearer KEY. list: {\"items\": [...]} without keys. revoke: refused from\n"
    "then on; its record stays.\n";

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int add(struct lg_store *s, const char *name, long app, bool read_only) {
  struct lg_apikey_rec k = {.application_id = app, .read_only = read_only};
  struct lg_app_rec a;
  if (name == NULL || !*name || strlen(name) >= sizeof(k.name))
    return lg_cli_fail("apikey add", 2, "--name: expected 1..%zu characters", sizeof(k.name) - 1);
  snprintf(k.name, sizeof(k.name), "%s", name);
  if (app > 0 && lg_store_app_get(s, app, &a) != 0)
    return lg_cli_fail("apikey add", 1, "--application: no application %ld", app);
  char key[80];
  if (lg_api_key_make(key, sizeof(key))) return lg_cli_fail("apikey add", 1, "no random bytes");
  lg_store_token_hash(key, strlen(key), k.key_hash);
  if (lg_store_apikey_add(s, &k, now_ns()))
    return lg_cli_fail("apikey add", 1, "storage failed: %s", lg_store_errmsg(s));
  json_t *o = lg_store_apikey_json(s, k.id);
  if (o) json_object_set_new(o, "key", json_string(key));
  return lg_cli_print_json(stdout, o) ? 1 : 0;
}

int lg_cmd_apikey(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *verb = argv[1], *cfg_path = NULL, *db = NULL, *name = NULL;
  long app = 0, id = 0;
  bool read_only = false;
  static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                       {"application", required_argument, NULL, 'a'},
                                       {"read-only", no_argument, NULL, 'r'},
                                       {"config", required_argument, NULL, 'c'},
                                       {"database", required_argument, NULL, 'D'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  opterr = 0;
  argc--, argv++;
  while ((c = getopt_long(argc, argv, ":hc:", opts, NULL)) != -1) {
    if (c == 'h') return fputs(usage, stdout), 0;
    if (c == 'n') name = optarg;
    else if (c == 'a') {
      if (lg_cli_parse_long(optarg, 1, INT32_MAX, &app))
        return lg_cli_fail("apikey", 2, "--application: expected an application id, got '%s'",
                           optarg);
    } else if (c == 'r') read_only = true;
    else if (c == 'c') cfg_path = optarg;
    else if (c == 'D') db = optarg;
    else return lg_cli_bad_option("apikey", c, argv);
  }
  bool is_add = strcmp(verb, "add") == 0, is_list = strcmp(verb, "list") == 0,
       is_revoke = strcmp(verb, "revoke") == 0;
  if (!is_add && !is_list && !is_revoke)
    return lg_cli_fail("apikey", 2, "expected add, list or revoke (see lorageo apikey --help)");
  if (is_revoke && (optind + 1 != argc || lg_cli_parse_long(argv[optind], 1, INT32_MAX, &id)))
    return lg_cli_fail("apikey revoke", 2, "expected one API key id");
  if (!is_revoke && optind != argc)
    return lg_cli_fail("apikey", 2, "unexpected argument '%s'", argv[optind]);
  struct lg_config cfg;
  char why[512], note[512];
  struct lg_store *s = NULL;
  if (lg_config_load(&cfg, cfg_path, why, sizeof(why))) return lg_cli_fail("apikey", 2, "%s", why);
  if (lg_config_open_store(&cfg, db, &s, NULL, note, sizeof(note), why, sizeof(why)))
    return lg_cli_fail("apikey", 1, "%s", why);
  int rc;
  if (is_add) {
    rc = add(s, name, app, read_only);
  } else if (is_list) {
    rc = lg_cli_print_json(stdout, lg_store_apikeys_json(s, 0, 100000)) ? 1 : 0;
  } else {
    int r = lg_store_apikey_revoke(s, id, now_ns());
    rc = r == LG_ENOTFOUND ? lg_cli_fail("apikey revoke", 1, "no API key %ld in force", id)
         : r              ? lg_cli_fail("apikey revoke", 1, "storage failed")
                          : lg_cli_print_json(stdout, lg_store_apikey_json(s, id)) ? 1 : 0;
  }
  lg_store_close(s);
  return rc;
}
