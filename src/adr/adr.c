/*
 * lg_adr_decide(): the entry of adr/, which hands a device's uplinks to its algorithm
 * (standard.c, eadr.c, predictive.c) and says in the decision's reason how the device
 * was taken. The algorithms call the shared helpers (link.c, linkmap.c, mobility.c),
 * never this file.
 */
#include <stdio.h>
#include <string.h>

#include "adr/adr_int.h"
#include "util/util.h"

static const char *const names[] = {"off", "standard", "eadr", "predictive"};

int lg_adr_algo_parse(const char *name, enum lg_adr_algo *a) {
  for (size_t i = 0; i < LG_ARRAY_LEN(names); i++)
    if (name && strcmp(name, names[i]) == 0) {
      *a = (enum lg_adr_algo)i;
      return 0;
    }
  return LG_EINVAL;
}

const char *lg_adr_algo_name(enum lg_adr_algo a) {
  return (unsigned)a < LG_ARRAY_LEN(names) ? names[a] : "unknown";
}

int lg_adr_decide(enum lg_adr_algo algo, const struct lg_adr_input *in,
                  struct lg_adr_decision *out) {
  memset(out, 0, sizeof(*out));
  if (in->region == NULL) return LG_EINVAL;
  out->next = in->current;
  switch (algo) {
  case LG_ADR_OFF: snprintf(out->reason, sizeof(out->reason), "ADR off for this device"); return 0;
  case LG_ADR_STANDARD:
    if (!in->adr_bit) {
      snprintf(out->reason, sizeof(out->reason), "the device did not set the ADR bit");
      return 0;
    }
    adr_standard(in, out);
    return 0;
  case LG_ADR_EADR:
  case LG_ADR_PREDICTIVE:
    if (!in->adr_bit) {
      snprintf(out->reason, sizeof(out->reason), "the device did not set the ADR bit");
      return 0;
    }
    if (in->n == 0) {
      snprintf(out->reason, sizeof(out->reason), "no uplink yet");
      return 0;
    }
    if (algo == LG_ADR_EADR)
      adr_eadr(in, out);
    else
      adr_predictive(in, out);
    if (out->mobility.classified) { /* the ADR log says how the device was taken, and why */
      size_t l = strlen(out->reason);
      snprintf(out->reason + l, sizeof(out->reason) - l, "; mobility %s: %s",
               lg_adr_mobility_name(out->mobility.cls), out->mobility.why);
    }
    return 0;
  default: snprintf(out->reason, sizeof(out->reason), "unknown algorithm: no change"); return 0;
  }
}
