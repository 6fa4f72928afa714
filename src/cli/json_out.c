/* Shared helpers of the sub-commands: errors, number parsing, JSON output. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/util.h"

int lg_cli_fail(const char *cmd, int status, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "lorageo %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return status;
}

int lg_cli_bad_option(const char *cmd, int c, char **argv) {
  const char *opt = argv[optind - 1];
  if (c == ':') return lg_cli_fail(cmd, 2, "option '%s' needs a value", opt);
  return lg_cli_fail(cmd, 2, "unknown option '%s' (see lorageo %s --help)", opt, cmd);
}

int lg_cli_parse_long(const char *s, long min, long max, long *out) {
  char *end = NULL;
  if (s == NULL || *s == '\0') return LG_EINVAL;
  errno = 0;
  long v = strtol(s, &end, 0);
  if (errno != 0 || end == s || *end != '\0' || v < min || v > max) return LG_EINVAL;
  *out = v;
  return 0;
}

int lg_cli_print_json(FILE *out, json_t *obj) {
  if (obj == NULL) return LG_EIO;
  int rc = json_dumpf(obj, out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
  json_decref(obj);
  if (rc != 0 || fputc('\n', out) == EOF || fflush(out) != 0) return LG_EIO;
  return 0;
}
