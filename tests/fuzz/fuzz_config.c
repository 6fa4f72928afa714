/*
 * libFuzzer harness for the configuration parser (inih under lorageo's rules: sections,
 * known keys, values, duplicates, the rules between keys). Properties: no crash or
 * sanitizer report; a refusal always says why; an accepted file leaves every string
 * terminated and the values in their ranges.
 */
#include <stdlib.h>
#include <string.h>

#include "ns/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static struct lg_config c;
  char why[512];
  if (size > 65536) return 0;
  int rc = lg_config_parse_text(&c, "fuzz.ini", (const char *)data, size, why, sizeof(why));
  if (rc != 0) {
    if (why[0] == '\0' || memchr(why, '\0', sizeof(why)) == NULL) abort();
    return 0;
  }
  if (memchr(c.udp_bind, '\0', sizeof(c.udp_bind)) == NULL ||
      memchr(c.api_token, '\0', sizeof(c.api_token)) == NULL ||
      memchr(c.gateway_networks, '\0', sizeof(c.gateway_networks)) == NULL)
    abort();
  if (c.dedup_window_ms < 10 || c.dedup_window_ms > 5000 || c.geo_min_gateways < 2 ||
      c.api_max_connections < 4 || c.gateway_nets.n > LG_NETLIST_MAX ||
      (c.api_read_token[0] && !c.api_token[0]))
    abort();
  return 0;
}
