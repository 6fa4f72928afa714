/*
 * `lorageo fleet report`: the fleet at a glance, from the database, as the console's
 * dashboard shows it (issue 19 item 4, web/fleet.js): devices by life-cycle state, alarms open by
 * kind, configuration in sync or pending, the devices that need attention, and every
 * open alarm (JSON); or one line per device with its state, battery, open alarms and
 * configuration (CSV).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "ns/config.h"
#include "store/store.h"
#include "util/util.h"

static const char usage[] =
    "usage: lorageo fleet report [--format json|csv] [-o FILE] [-c CONFIG] [--database PATH]\n"
    "\n"
    "json (default): {\"generated_ns\", \"devices\", \"lifecycle\": {state: n}, \"alarms_open\":\n"
    "{kind: n}, \"config\": {\"in_sync\", \"pending\"}, \"attention\": [devices silent, with open\n"
    "alarms or a configuration pending, each with its health], \"attention_total\",\n"
    "\"open_alarms\": [...]}. csv: dev_eui,name,lifecycle,last_seen_ns,battery,open_alarms,\n"
    "config_in_sync,config_pending_since_ns — one line per device. Written to FILE or stdout.\n";

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Every open alarm (newest first). */
static json_t *open_alarms(struct lg_store *s) {
  struct lg_alarm_filter f = {.open_only = true};
  json_t *all = json_array();
  int64_t before = 0;
  for (;;) {
    json_t *page = lg_store_alarms_json(s, &f, before, 5000);
    if (page == NULL) break;
    json_array_extend(all, json_object_get(page, "items"));
    const char *next = json_string_value(json_object_get(page, "next"));
    before = next ? strtoll(next, NULL, 10) : 0;
    json_decref(page);
    if (before <= 0) break;
  }
  return all;
}

static void csv_text(FILE *f, const char *v, const char *sep) {
  if (strpbrk(v, ",\"\n\r") == NULL) {
    fprintf(f, "%s%s", v, sep);
    return;
  }
  fputc('"', f);
  for (const char *p = v; *p; p++)
    fputs(*p == '"' ? "\"\"" : (char[]){*p, 0}, f);
  fprintf(f, "\"%s", sep);
}

static int report_csv(struct lg_store *s, FILE *out) {
  json_t *alarms = open_alarms(s), *by_dev = json_object(), *a;
  size_t i;
  json_array_foreach(alarms, i, a) {
    const char *subj = json_string_value(json_object_get(a, "subject"));
    json_t *list = json_object_get(by_dev, subj);
    if (list == NULL) json_object_set_new(by_dev, subj, list = json_array());
    json_array_append(list, json_object_get(a, "kind"));
  }
  fputs("dev_eui,name,lifecycle,last_seen_ns,battery,open_alarms,config_in_sync,"
        "config_pending_since_ns\n",
        out);
  struct lg_device_filter f = {0};
  uint64_t after = 0;
  int rc = 0;
  for (bool more = true, first = true; more; first = false) {
    json_t *page = lg_store_devices_page_json(s, &f, first ? NULL : &after, 1000), *d;
    if (page == NULL) {
      rc = 1;
      break;
    }
    json_array_foreach(json_object_get(page, "items"), i, d) {
      const char *eui = json_string_value(json_object_get(d, "dev_eui"));
      csv_text(out, eui, ",");
      csv_text(out, json_string_value(json_object_get(d, "name")), ",");
      fprintf(out, "%s,", json_string_value(json_object_get(d, "lifecycle")));
      json_t *seen = json_object_get(d, "last_seen_ns"), *bat = json_object_get(d, "battery");
      if (json_is_integer(seen)) fprintf(out, "%lld", (long long)json_integer_value(seen));
      fputc(',', out);
      if (json_is_integer(bat)) fprintf(out, "%lld", (long long)json_integer_value(bat));
      fputc(',', out);
      json_t *list = json_object_get(by_dev, eui), *k;
      size_t j;
      json_array_foreach(list, j, k) fprintf(out, "%s%s", j ? ";" : "", json_string_value(k));
      json_t *desired, *reported;
      int64_t since = 0, updated = 0;
      uint64_t e = strtoull(eui, NULL, 16);
      if (lg_store_shadow_get(s, e, &desired, &reported, &since, &updated) != 0) rc = 1;
      bool none = json_object_size(desired) == 0;
      json_decref(desired);
      json_decref(reported);
      fprintf(out, ",%s,", none ? "" : since ? "false" : "true");
      if (since) fprintf(out, "%lld", (long long)since);
      fputc('\n', out);
      after = e;
    }
    more = json_is_string(json_object_get(page, "next"));
    json_decref(page);
  }
  json_decref(alarms);
  json_decref(by_dev);
  return rc;
}

int lg_cmd_fleet(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "report") != 0)
    return lg_cli_fail("fleet", 2, "expected report (see lorageo fleet --help)");
  const char *cfg_path = NULL, *db = NULL, *format = "json", *path = NULL;
  static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                       {"output", required_argument, NULL, 'o'},
                                       {"config", required_argument, NULL, 'c'},
                                       {"database", required_argument, NULL, 'D'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  int c;
  optind = 1;
  opterr = 0;
  argc--, argv++;
  while ((c = getopt_long(argc, argv, ":hc:o:", opts, NULL)) != -1) {
    if (c == 'h') return fputs(usage, stdout), 0;
    if (c == 'f') format = optarg;
    else if (c == 'o') path = optarg;
    else if (c == 'c') cfg_path = optarg;
    else if (c == 'D') db = optarg;
    else return lg_cli_bad_option("fleet report", c, argv);
  }
  if (optind != argc) return lg_cli_fail("fleet report", 2, "unexpected argument '%s'", argv[optind]);
  bool csv = strcmp(format, "csv") == 0;
  if (!csv && strcmp(format, "json") != 0)
    return lg_cli_fail("fleet report", 2, "--format: expected json or csv, got '%s'", format);
  struct lg_config cfg;
  char why[512], note[512];
  struct lg_store *s = NULL;
  if (lg_config_load(&cfg, cfg_path, why, sizeof(why))) return lg_cli_fail("fleet report", 2, "%s", why);
  if (lg_config_open_store(&cfg, db, &s, NULL, note, sizeof(note), why, sizeof(why)))
    return lg_cli_fail("fleet report", 1, "%s", why);
  FILE *out = path ? fopen(path, "w") : stdout;
  if (out == NULL) {
    lg_store_close(s);
    return lg_cli_fail("fleet report", 1, "cannot write %s", path);
  }
  int rc;
  if (csv) {
    rc = report_csv(s, out) ? lg_cli_fail("fleet report", 1, "storage failed: %s", lg_store_errmsg(s)) : 0;
  } else {
    json_t *o = lg_store_fleet_summary_json(s, 100000);
    if (o) {
      json_object_set_new(o, "generated_ns", json_integer(now_ns()));
      json_object_set_new(o, "open_alarms", open_alarms(s));
    }
    rc = o ? (lg_cli_print_json(out, o) ? 1 : 0)
           : lg_cli_fail("fleet report", 1, "storage failed: %s", lg_store_errmsg(s));
  }
  if (path && fclose(out) != 0) rc = lg_cli_fail("fleet report", 1, "cannot write %s", path);
  lg_store_close(s);
  return rc;
}
