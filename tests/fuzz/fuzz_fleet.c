/*
 * libFuzzer harness for the fleet's parsers of untrusted input: a device's configuration
 * report (its uplink on the configuration port), a desired configuration and alarm
 * thresholds (API bodies, JSON). The first byte picks which. Properties: a report that
 * parses re-encodes to a frame that parses back to the same fields; a desired state that
 * parses survives JSON and back; a refused input leaves the target unchanged.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/alarms.h"
#include "fleet/shadow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const uint8_t *p = data + 1;
  size_t n = size - 1;
  char why[300];
  if (data[0] % 3 == 0) { /* a device's report */
    struct lg_shadow_cfg c, again;
    memset(&c, 0, sizeof(c));
    if (lg_shadow_app_report(p, n, &c) != 0) return 0;
    uint8_t frame[64];
    size_t len = lg_shadow_app_frame(&c, LG_SHADOW_APP, frame, sizeof(frame));
    memset(&again, 0, sizeof(again));
    if (c.has && (len == 0 || lg_shadow_app_report(frame, len, &again) != 0)) abort();
    if (c.has && (lg_shadow_diff(&c, &again) || lg_shadow_diff(&again, &c))) abort();
    return 0;
  }
  json_t *o = json_loadb((const char *)p, n, 0, NULL);
  if (o == NULL) return 0;
  if (data[0] % 3 == 1) { /* a desired configuration */
    struct lg_shadow_cfg c, back;
    if (lg_shadow_parse(o, &c, why, sizeof(why)) == 0) {
      json_t *j = lg_shadow_json(&c);
      if (lg_shadow_parse(j, &back, why, sizeof(why)) != 0 || lg_shadow_diff(&c, &back) ||
          lg_shadow_diff(&back, &c))
        abort();
      json_decref(j);
    }
  } else { /* alarm thresholds */
    struct lg_alarm_rules r, before;
    lg_alarm_rules_default(&r);
    before = r;
    if (lg_alarm_rules_apply_json(&r, o, why, sizeof(why)) != 0 && memcmp(&r, &before, sizeof(r)))
      abort();
  }
  json_decref(o);
  return 0;
}
