/*
 * `lorageo codec decode SPEC HEX [--f-port N] [--dir DIR] [--timeout-ms N] [--memory-kb N]`
 * `lorageo codec encode SPEC JSON [--f-port N] [--dir DIR] ...`
 * Runs a payload codec as the server would (codec.h): an operator tries a JavaScript codec
 * before a device profile names it, and the tests cross-check Cayenne LPP through it.
 * decode prints {"object": .., "warnings": [..]}; encode prints
 * {"data": "<hex>", "f_port": N}.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "codec/codec.h"
#include "util/util.h"

static const char usage[] =
    "usage: lorageo codec decode SPEC HEX [--f-port N] [--dir DIR] [--timeout-ms N] [--memory-kb N]\n"
    "       lorageo codec encode SPEC JSON [--f-port N] [--dir DIR] [...]\n"
    "\n"
    "Runs a payload codec as the server does. SPEC: cayenne_lpp, or js:NAME for the script\n"
    "DIR/NAME.js (The Things Stack / ChirpStack form: decodeUplink, encodeDownlink).\n"
    "  --f-port N       the uplink's FPort (default 1); encode: the port when the codec picks none\n"
    "  --dir DIR        the codec directory (as [codec] dir; default .)\n"
    "  --timeout-ms N   time budget per call (as [codec] js_timeout_ms; default 100)\n"
    "  --memory-kb N    memory cap of a script (as [codec] js_memory_kb; default 16384)\n";

int lg_cmd_codec(int argc, char **argv) {
  static const struct option opts[] = {
      {"f-port", required_argument, NULL, 'p'},  {"dir", required_argument, NULL, 'd'},
      {"timeout-ms", required_argument, NULL, 't'}, {"memory-kb", required_argument, NULL, 'm'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
  };
  long f_port = 1, timeout_ms = 100, memory_kb = 16384;
  const char *dir = ".";
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
    case 'h': fputs(usage, stdout); return 0;
    case 'p':
      if (lg_cli_parse_long(optarg, 0, 255, &f_port))
        return lg_cli_fail("codec", 2, "--f-port: expected 0..255, got '%s'", optarg);
      break;
    case 'd': dir = optarg; break;
    case 't':
      if (lg_cli_parse_long(optarg, 1, 60000, &timeout_ms))
        return lg_cli_fail("codec", 2, "--timeout-ms: expected 1..60000, got '%s'", optarg);
      break;
    case 'm':
      if (lg_cli_parse_long(optarg, 256, 1048576, &memory_kb))
        return lg_cli_fail("codec", 2, "--memory-kb: expected 256..1048576, got '%s'", optarg);
      break;
    default: return lg_cli_bad_option("codec", c, argv);
    }
  }
  if (argc - optind != 3 || (strcmp(argv[optind], "decode") && strcmp(argv[optind], "encode")))
    return lg_cli_fail("codec", 2, "expected: decode SPEC HEX, or encode SPEC JSON (--help)");
  bool decode = strcmp(argv[optind], "decode") == 0;
  const char *spec = argv[optind + 1], *arg = argv[optind + 2];
  struct lg_codecs *codecs = lg_codecs_new(dir, (int)timeout_ms, (size_t)memory_kb * 1024);
  if (codecs == NULL) return lg_cli_fail("codec", 1, "out of memory");
  char why[512];
  int rc;
  if (decode) {
    uint8_t data[256];
    size_t n;
    if (lg_hex_decode(arg, strlen(arg), data, sizeof(data), &n)) {
      lg_codecs_free(codecs);
      return lg_cli_fail("codec", 2, "HEX: expected up to 256 bytes as hex digits");
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct lg_codec_uplink in = {.f_port = (int)f_port, .data = data, .len = n,
                                 .recv_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec};
    json_t *object, *warnings;
    rc = lg_codec_decode(codecs, spec, &in, &object, &warnings, why, sizeof(why));
    if (rc == 0)
      lg_cli_print_json(stdout, json_pack("{s:o, s:o}", "object", object, "warnings",
                                          warnings ? warnings : json_array()));
  } else {
    json_error_t je;
    json_t *obj = json_loads(arg, 0, &je);
    if (obj == NULL) {
      lg_codecs_free(codecs);
      return lg_cli_fail("codec", 2, "JSON: %s", je.text);
    }
    uint8_t out[256];
    size_t len = 0;
    int port = (int)f_port;
    rc = lg_codec_encode(codecs, spec, obj, out, sizeof(out), &len, &port, why, sizeof(why));
    json_decref(obj);
    char hex[513];
    if (rc == 0 && lg_hex_encode(out, len, hex, sizeof(hex)) == 0)
      lg_cli_print_json(stdout, json_pack("{s:s, s:i}", "data", hex, "f_port", port));
  }
  lg_codecs_free(codecs);
  return rc ? lg_cli_fail("codec", 1, "%s", why) : 0;
}
