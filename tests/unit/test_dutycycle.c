/*
 * ns/dutycycle: EU868 sub-band budgets over a rolling hour (RP002 §2.4: 1 % in
 * 868.0-868.6 MHz, 10 % in 869.4-869.65 MHz), with an injected clock.
 */
#include "lg_test.h"
#include "ns/dutycycle.h"

int main(void) {
  static struct lg_dutycycle dc;
  const struct lg_region *eu = lg_region_find("EU868"), *us = lg_region_find("US915");
  int64_t budget = 0, t = 1000000000000LL;
  /* 1 % of an hour is 36 s: 36 one-second downlinks fit in 868.1 MHz, the 37th does not. */
  for (int i = 0; i < 36; i++) {
    LG_CHECK(lg_dc_allows(&dc, eu, 868100000, 1000000000LL, t, &budget));
    lg_dc_record(&dc, eu, 868100000, 1000000000LL, t);
    t += 10000000000LL; /* every 10 s */
  }
  LG_CHECK(!lg_dc_allows(&dc, eu, 868100000, 1000000000LL, t, &budget));
  LG_EQ_INT(budget, 0);
  /* The same sub-band on another channel shares the budget; RX2's 10 % band does not. */
  LG_CHECK(!lg_dc_allows(&dc, eu, 868500000, 1000000000LL, t, &budget));
  LG_CHECK(lg_dc_allows(&dc, eu, 869525000, 1000000000LL, t, &budget));
  LG_EQ_INT(budget, 360000000000LL);
  /* An hour after the first downlink its second comes back. */
  LG_EQ_INT(lg_dc_used_ns(&dc, 2, t), 36000000000LL);
  t = 1000000000000LL + 3600000000000LL;
  LG_CHECK(lg_dc_allows(&dc, eu, 868100000, 1000000000LL, t, &budget));
  LG_EQ_INT(budget, 1000000000LL);
  /* Outside every EU868 sub-band: refused. US915 has no duty-cycle rule. */
  LG_CHECK(!lg_dc_allows(&dc, eu, 869300000, 1000000, t, &budget));
  LG_CHECK(lg_dc_allows(&dc, us, 923300000, 1000000000000LL, t, &budget));
  return lg_test_report("test_dutycycle");
}
