/*
 * lorageo — one binary, sub-commands. main() only dispatches; every command lives in
 * its own file and all logic in the lorageo_core library.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
};

static const struct command commands[] = {
    {"serve", lg_cmd_serve, "run the network server (UDP gateways, HTTP API, SQLite)"},
    {"replay", lg_cmd_replay, "run a journal's datagrams again into the database"},
    {"device", lg_cmd_device, "device add: provision a device (OTAA or ABP)"},
    {"gateway", lg_cmd_gateway, "gateway add: provision a gateway and its position"},
    {"keys", lg_cmd_keys, "keys wrap: wrap device keys stored in clear with the key-encryption key"},
    {"apikey", lg_cmd_apikey, "apikey add|list|revoke: API keys (admin or one application's)"},
    {"fleet", lg_cmd_fleet, "fleet report: the fleet's state, alarms and configuration (JSON or CSV)"},
    {"decode", lg_cmd_decode, "decode a LoRaWAN PHYPayload (hex) to JSON, check MIC, decrypt"},
    {"airtime", lg_cmd_airtime, "time on air of a LoRa packet"},
    {"region", lg_cmd_region, "LoRaWAN regional parameters (RP002-1.0.4): list, or one as JSON"},
    {"codec", lg_cmd_codec, "run a payload codec (cayenne_lpp, js:NAME) on a payload or an object"},
    {"sim", lg_cmd_sim, "simulate devices, gateways and the air, offline or against a server"},
    {"solve", lg_cmd_solve, "locate frames from gateway timestamps / RSSI (JSON lines)"},
    {"calibrate", lg_cmd_calibrate,
     "learn gateway timing offsets and path loss from known positions"},
    {"plan", lg_cmd_plan, "frames and time a static device needs for a target accuracy"},
};

static void print_usage(FILE *out) {
  fputs("usage: lorageo <command> [options]   (lorageo <command> --help for details)\n\n"
        "lorageo is a LoRaWAN network server that locates devices from gateway timestamps.\n\n"
        "commands:\n",
        out);
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fputs("\noptions:\n  -h, --help     this text\n  --version      print the version\n", out);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs("lorageo: no command given (see lorageo --help)\n", stderr);
    return 2;
  }
  const char *name = argv[1];
  if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
    print_usage(stdout);
    return 0;
  }
  if (strcmp(name, "--version") == 0) {
    puts("lorageo " LG_VERSION);
    return 0;
  }
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (strcmp(name, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "lorageo: unknown command '%s' (see lorageo --help)\n", name);
  return 2;
}
