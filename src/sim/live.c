#include "sim/sim_int.h"
#include "util/util.h"
#include <stdio.h>
int lg_sim_run_live(const struct lg_sim_scenario *sc, const struct lg_sim_live_options *o,
                    char **summary_json, char *why, size_t why_len) {
  (void)sc, (void)o;
  *summary_json = NULL;
  snprintf(why, why_len, "live mode: work in progress");
  return LG_EINVAL;
}
