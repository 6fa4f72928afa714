/*
 * ns/dutycycle: EU868 sub-band budgets over a sliding hour (RP002 §2.4: 1 % in
 * 868.0-868.6 MHz, 10 % in 869.4-869.65 MHz), with an injected clock; many short
 * transmissions never make it forget one of the hour; the account survives encoding.
 */
#include <stdlib.h>

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
  lg_dc_free(&dc);

  /* 5,000 attempts of 20 ms within 50 s: exactly 36 s / 20 ms = 1,800 fit in the hour
   * (a ring of 1,024 would forget the first ones and let all 5,000 through). */
  int sent = 0;
  int64_t t0 = 2000000000000LL;
  for (int i = 0; i < 5000; i++) {
    int64_t now = t0 + (int64_t)i * 10000000LL;
    if (lg_dc_allows(&dc, eu, 868100000 + (uint32_t)(i % 500) * 1000, 20000000LL, now, &budget)) {
      lg_dc_record(&dc, eu, 868100000 + (uint32_t)(i % 500) * 1000, 20000000LL, now);
      sent++;
    }
  }
  LG_EQ_INT(sent, 1800);
  LG_EQ_INT(lg_dc_used_ns(&dc, 2, t0 + 50000000000LL), 36000000000LL);
  /* Still full just before the first one's hour ends, free again just after. */
  LG_CHECK(!lg_dc_allows(&dc, eu, 868300000, 20000000LL, t0 + LG_DC_WINDOW_NS - 1, &budget));
  LG_CHECK(lg_dc_allows(&dc, eu, 868300000, 20000000LL, t0 + LG_DC_WINDOW_NS, &budget));
  LG_EQ_INT(budget, 20000000LL);
  /* Encoded and decoded (a cluster's next holder): the same account. */
  uint8_t *buf = NULL;
  size_t len = 0;
  static struct lg_dutycycle copy;
  LG_EQ_INT(lg_dc_encode(&dc, &buf, &len), 0);
  LG_EQ_INT(lg_dc_decode(&copy, buf, len), 0);
  LG_EQ_INT(lg_dc_used_ns(&copy, 2, t0 + LG_DC_WINDOW_NS), 36000000000LL - 20000000LL);
  LG_EQ_INT(lg_dc_decode(&copy, buf, len - 1), LG_EINVAL);
  free(buf);
  lg_dc_free(&copy);
  lg_dc_free(&dc);
  return lg_test_report("test_dutycycle");
}
