/*
 * cli — the `lorageo` sub-commands. Each takes the argv that follows its name
 * (argv[0] is the command name), writes machine output (JSON) to stdout and a
 * one-line error to stderr, and returns the process exit status:
 * 0 success, 1 the input could not be processed, 2 a usage error.
 */
#ifndef LG_CLI_H
#define LG_CLI_H

#include <stdio.h>

struct json_t;
struct lg_mac_cmd;

int lg_cmd_decode(int argc, char **argv);
int lg_cmd_airtime(int argc, char **argv);
int lg_cmd_solve(int argc, char **argv);
int lg_cmd_calibrate(int argc, char **argv);
int lg_cmd_plan(int argc, char **argv);
int lg_cmd_serve(int argc, char **argv);
int lg_cmd_replay(int argc, char **argv);
int lg_cmd_device(int argc, char **argv);
int lg_cmd_gateway(int argc, char **argv);
int lg_cmd_keys(int argc, char **argv);
int lg_cmd_apikey(int argc, char **argv);
int lg_cmd_fleet(int argc, char **argv);
int lg_cmd_sim(int argc, char **argv);
int lg_cmd_region(int argc, char **argv);
int lg_cmd_codec(int argc, char **argv);

/* Prints "lorageo <cmd>: <message>\n" to stderr and returns `status`. */
int lg_cli_fail(const char *cmd, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reports the option getopt_long() just refused — `c` is its return value, ':' for a
 * missing value (the option string must start with ':') — and returns 2. */
int lg_cli_bad_option(const char *cmd, int c, char **argv);

/* Parses a whole decimal (or 0x-hex) integer in [min, max]; 0 or LG_EINVAL. */
int lg_cli_parse_long(const char *s, long min, long max, long *out);

/* Writes `obj` as one compact JSON line to `out` and drops the caller's reference.
 * Returns 0, or LG_EIO when the object could not be written. */
int lg_cli_print_json(FILE *out, struct json_t *obj);

/* A new JSON object describing one MAC command: {"cid", "name", fields...}. */
struct json_t *lg_cli_mac_json(const struct lg_mac_cmd *cmd);

#endif
