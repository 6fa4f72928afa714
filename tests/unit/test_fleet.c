/*
 * fleet/alarms and fleet/shadow: every rule raised and cleared with its hysteresis, on a fake
 * clock (the engine has none of its own); thresholds by name; the shadow's diff and its
 * application-parameter frames.
 */
#include <jansson.h>

#include "fleet/alarms.h"
#include "fleet/shadow.h"
#include "lg_test.h"

#define SEC 1000000000LL
#define DEV 0x70b3d5e700000001ULL
#define GW 0x00800000a0000001ULL

static struct lg_alarm_change log_[64];
static int n_log;

static void on_change(void *ctx, const struct lg_alarm_change *c) {
  (void)ctx;
  if (n_log < 64) log_[n_log++] = *c;
}

/* The last change of `kind` seen, or NULL. */
static const struct lg_alarm_change *last(enum lg_alarm_kind kind) {
  for (int i = n_log - 1; i >= 0; i--)
    if (log_[i].kind == kind) return &log_[i];
  return NULL;
}

static void test_silent_and_reboot(void) {
  struct lg_alarm_rules r;
  lg_alarm_rules_default(&r);
  n_log = 0;
  struct lg_alarms *a = lg_alarms_new(&r, on_change, NULL);
  int64_t t = 1000 * SEC;
  lg_alarms_uplink(a, DEV, t, 10, 600, &r); /* every 10 min: silent after 3 missed + 5 min */
  lg_alarms_tick(a, t + 34 * 60 * SEC);
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_SILENT, DEV));
  lg_alarms_tick(a, t + 36 * 60 * SEC);
  LG_CHECK(lg_alarms_open(a, LG_ALARM_SILENT, DEV));
  LG_CHECK(last(LG_ALARM_SILENT) && last(LG_ALARM_SILENT)->raised);
  int before = n_log;
  lg_alarms_tick(a, t + 40 * 60 * SEC); /* raised once, not at every tick */
  LG_EQ_INT(n_log, before);
  lg_alarms_uplink(a, DEV, t + 41 * 60 * SEC, 11, 600, &r);
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_SILENT, DEV));
  LG_CHECK(last(LG_ALARM_SILENT) && !last(LG_ALARM_SILENT)->raised);
  LG_EQ_INT(last(LG_ALARM_SILENT)->t_ns, t + 41 * 60 * SEC);

  lg_alarms_reboot(a, DEV, t + 50 * 60 * SEC, "frame counter reset to 0", &r);
  LG_CHECK(lg_alarms_open(a, LG_ALARM_REBOOT, DEV));
  LG_EQ_STR(last(LG_ALARM_REBOOT)->detail, "frame counter reset to 0");
  lg_alarms_tick(a, t + 50 * 60 * SEC + 3599 * SEC);
  LG_CHECK(lg_alarms_open(a, LG_ALARM_REBOOT, DEV));
  lg_alarms_tick(a, t + 50 * 60 * SEC + 3600 * SEC); /* reboot_hold_s */
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_REBOOT, DEV));

  r.enabled[LG_ALARM_REBOOT] = false; /* a profile that turns it off */
  lg_alarms_reboot(a, DEV, t + 200 * 60 * SEC, "rejoin", &r);
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_REBOOT, DEV));
  lg_alarms_free(a);
}

static void test_frame_loss(void) {
  struct lg_alarm_rules r;
  lg_alarm_rules_default(&r); /* window 40, raise > 20 %, clear < 10 % */
  n_log = 0;
  struct lg_alarms *a = lg_alarms_new(&r, on_change, NULL);
  int64_t t = 0;
  uint32_t f = 0;
  for (int i = 0; i < 40; i++) /* clean */
    lg_alarms_uplink(a, DEV, t += 60 * SEC, f++, 60, &r);
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_FRAME_LOSS, DEV));
  for (int i = 0; i < 40 && !lg_alarms_open(a, LG_ALARM_FRAME_LOSS, DEV); i++) {
    f += 2; /* one frame in three lost: 33 % once the window holds only these */
    lg_alarms_uplink(a, DEV, t += 60 * SEC, f, 60, &r);
  }
  LG_CHECK(lg_alarms_open(a, LG_ALARM_FRAME_LOSS, DEV));
  LG_CHECK(last(LG_ALARM_FRAME_LOSS)->value > 20);
  /* 15 %: between the thresholds, it stays open (hysteresis) */
  for (int i = 0; i < 40; i++) {
    f += (i % 6 == 0) ? 2 : 1;
    lg_alarms_uplink(a, DEV, t += 60 * SEC, f, 60, &r);
  }
  LG_CHECK(lg_alarms_open(a, LG_ALARM_FRAME_LOSS, DEV));
  for (int i = 0; i < 40; i++)
    lg_alarms_uplink(a, DEV, t += 60 * SEC, ++f, 60, &r);
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_FRAME_LOSS, DEV));
  /* a reboot restarts the counter: 0 after 200 is no loss */
  lg_alarms_reboot(a, DEV, t += 60 * SEC, "reset", &r);
  lg_alarms_uplink(a, DEV, t += 60 * SEC, 0, 60, &r);
  lg_alarms_uplink(a, DEV, t += 60 * SEC, 1, 60, &r);
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_FRAME_LOSS, DEV));
  lg_alarms_free(a);
}

static void test_battery_margin(void) {
  struct lg_alarm_rules r;
  lg_alarm_rules_default(&r); /* battery raise <= 50, clear >= 76; margin: 3 reports */
  n_log = 0;
  struct lg_alarms *a = lg_alarms_new(&r, on_change, NULL);
  int64_t t = 0;
  lg_alarms_status(a, DEV, t += SEC, 200, 20, &r);
  lg_alarms_status(a, DEV, t += SEC, 120, 22, &r);
  lg_alarms_status(a, DEV, t += SEC, 60, 18, &r); /* baseline 20 dB */
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_BATTERY_LOW, DEV));
  lg_alarms_status(a, DEV, t += SEC, 50, 11, &r);
  LG_CHECK(lg_alarms_open(a, LG_ALARM_BATTERY_LOW, DEV));
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_MARGIN_FALLING, DEV)); /* 9 dB under: not yet */
  lg_alarms_status(a, DEV, t += SEC, 70, 10, &r); /* 70: between, stays */
  LG_CHECK(lg_alarms_open(a, LG_ALARM_BATTERY_LOW, DEV));
  LG_CHECK(lg_alarms_open(a, LG_ALARM_MARGIN_FALLING, DEV));
  lg_alarms_status(a, DEV, t += SEC, 0, 13, &r); /* external power: no level; 7 dB under */
  LG_CHECK(lg_alarms_open(a, LG_ALARM_BATTERY_LOW, DEV));
  LG_CHECK(lg_alarms_open(a, LG_ALARM_MARGIN_FALLING, DEV));
  lg_alarms_status(a, DEV, t += SEC, 254, 16, &r); /* new battery; within 5 dB */
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_BATTERY_LOW, DEV));
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_MARGIN_FALLING, DEV));
  lg_alarms_free(a);
}

static void test_gateways_mic_position(void) {
  struct lg_alarm_rules r;
  lg_alarm_rules_default(&r);
  n_log = 0;
  struct lg_alarms *a = lg_alarms_new(&r, on_change, NULL);
  int64_t t = 0;
  for (int i = 0; i < 40; i++)
    lg_alarms_gateway_rx(a, GW, t += SEC, true, i % 10 == 0); /* 10 %: fine */
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_GATEWAY_CLOCK, GW));
  for (int i = 0; i < 40; i++)
    lg_alarms_gateway_rx(a, GW, t += SEC, true, i % 2 == 0);
  LG_CHECK(lg_alarms_open(a, LG_ALARM_GATEWAY_CLOCK, GW));
  for (int i = 0; i < 40; i++)
    lg_alarms_gateway_rx(a, GW, t += SEC, false, false); /* unlocated ones do not count */
  LG_CHECK(lg_alarms_open(a, LG_ALARM_GATEWAY_CLOCK, GW));
  for (int i = 0; i < 40; i++) /* 25 %: between the thresholds, stays open */
    lg_alarms_gateway_rx(a, GW, t += SEC, true, i % 4 == 0);
  LG_CHECK(lg_alarms_open(a, LG_ALARM_GATEWAY_CLOCK, GW));
  for (int i = 0; i < 40; i++)
    lg_alarms_gateway_rx(a, GW, t += SEC, true, false);
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_GATEWAY_CLOCK, GW));
  lg_alarms_tick(a, t + 601 * SEC);
  LG_CHECK(lg_alarms_open(a, LG_ALARM_GATEWAY_SILENT, GW));
  lg_alarms_gateway_rx(a, GW, t + 700 * SEC, false, false);
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_GATEWAY_SILENT, GW));

  t = 10000 * SEC;
  for (int i = 0; i < 4; i++)
    lg_alarms_mic_failure(a, 0x01020304, t += 10 * SEC);
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_MIC_BURST, 0x01020304));
  lg_alarms_mic_failure(a, 0x01020304, t += 10 * SEC); /* the 5th within 60 s */
  LG_CHECK(lg_alarms_open(a, LG_ALARM_MIC_BURST, 0x01020304));
  lg_alarms_tick(a, t + 121 * SEC);
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_MIC_BURST, 0x01020304));

  t = 20000 * SEC; /* 1 km in 10 s with 20 m fixes: 96 m/s beyond them, > 70 */
  lg_alarms_position(a, DEV, t, 55.0, 12.0, 20, &r);
  lg_alarms_position(a, DEV, t += 10 * SEC, 55.009, 12.0, 20, &r);
  LG_CHECK(lg_alarms_open(a, LG_ALARM_POSITION_JUMP, DEV));
  lg_alarms_position(a, DEV, t += 60 * SEC, 55.0091, 12.0, 20, &r);
  lg_alarms_position(a, DEV, t += 60 * SEC, 55.0092, 12.0, 20, &r);
  LG_CHECK(lg_alarms_open(a, LG_ALARM_POSITION_JUMP, DEV));
  lg_alarms_position(a, DEV, t += 60 * SEC, 55.0093, 12.0, 20, &r); /* 3 plausible */
  LG_CHECK(!lg_alarms_open(a, LG_ALARM_POSITION_JUMP, DEV));
  /* against the track: a fix 300 m from a track point (10 m accuracy) 2 s later is a
   * jump, though only 150 m from the last raw fix */
  lg_alarms_position(a, DEV, t += 60 * SEC, 55.0200, 12.0, 10, &r);
  lg_alarms_track(a, DEV, 55.0213, 12.0, 10); /* the filtered position */
  lg_alarms_position(a, DEV, t += 2 * SEC, 55.0186, 12.0, 10, &r);
  LG_CHECK(lg_alarms_open(a, LG_ALARM_POSITION_JUMP, DEV));
  lg_alarms_forget(a, DEV, t);
  LG_EQ_INT(lg_alarms_subjects(a), 2); /* the gateway and the DevAddr */
  lg_alarms_free(a);
}

static void test_thresholds_json(void) {
  struct lg_alarm_rules r;
  char why[200];
  lg_alarm_rules_default(&r);
  json_t *o = json_loads("{\"battery_raise\": 30, \"battery_clear\": 40, \"enabled\": "
                         "{\"reboot\": false}}", 0, NULL);
  LG_EQ_INT(lg_alarm_rules_apply_json(&r, o, why, sizeof(why)), 0);
  LG_EQ_INT(r.battery_raise, 30);
  LG_CHECK(!r.enabled[LG_ALARM_REBOOT]);
  json_decref(o);
  o = json_loads("{\"battery_rase\": 30}", 0, NULL);
  LG_EQ_INT(lg_alarm_rules_apply_json(&r, o, why, sizeof(why)), LG_EINVAL);
  LG_CHECK(strstr(why, "battery_rase") != NULL);
  json_decref(o);
  o = json_loads("{\"battery_clear\": 10}", 0, NULL); /* under its raise threshold */
  LG_EQ_INT(lg_alarm_rules_apply_json(&r, o, why, sizeof(why)), LG_EINVAL);
  LG_EQ_INT(r.battery_clear, 40); /* unchanged: all or nothing */
  json_decref(o);
  o = json_loads("{\"silent_intervals\": 0}", 0, NULL);
  LG_EQ_INT(lg_alarm_rules_apply_json(&r, o, why, sizeof(why)), LG_EINVAL);
  LG_CHECK(strstr(why, "silent_intervals") != NULL);
  json_decref(o);
  json_t *j = lg_alarm_rules_json(&r);
  LG_EQ_INT(json_integer_value(json_object_get(j, "battery_raise")), 30);
  json_decref(j);
  LG_EQ_INT(lg_alarm_kind_parse("gateway_clock"), LG_ALARM_GATEWAY_CLOCK);
  LG_EQ_INT(lg_alarm_kind_parse("nope"), -1);
}

static void test_shadow(void) {
  char why[200];
  struct lg_shadow_cfg want, have;
  json_t *o = json_loads("{\"channel_mask\": \"0007\", \"uplink_interval_s\": 900, "
                         "\"app_params\": \"0a0b\", \"max_dr\": 4}",
                         0, NULL);
  LG_EQ_INT(lg_shadow_parse(o, &want, why, sizeof(why)), 0);
  json_decref(o);
  memset(&have, 0, sizeof(have));
  unsigned diff = lg_shadow_diff(&want, &have);
  LG_CHECK(diff & LG_SHADOW_CHANNEL_MASK);
  LG_CHECK(diff & LG_SHADOW_UPLINK_INTERVAL);
  LG_CHECK(diff & LG_SHADOW_APP_PARAMS);
  uint8_t frame[64];
  size_t n = lg_shadow_app_frame(&want, diff, frame, sizeof(frame));
  LG_EQ_INT(n, 5 + 4);
  LG_EQ_HEX(frame, "01000003840202" "0a0b", n);
  struct lg_shadow_cfg rep;
  memset(&rep, 0, sizeof(rep));
  LG_EQ_INT(lg_shadow_app_report(frame, n, &rep), 0);
  LG_EQ_INT(rep.uplink_interval_s, 900);
  lg_shadow_merge(&have, &rep);
  have.channel_mask = 7, have.has |= LG_SHADOW_CHANNEL_MASK;
  have.max_dr = 4, have.has |= LG_SHADOW_MAX_DR;
  LG_EQ_INT(lg_shadow_diff(&want, &have), 0);
  o = json_loads("{\"rx2_dr\": 99}", 0, NULL);
  LG_EQ_INT(lg_shadow_parse(o, &want, why, sizeof(why)), LG_EINVAL);
  LG_CHECK(strstr(why, "rx2_dr") != NULL);
  json_decref(o);
  LG_EQ_INT(lg_shadow_app_report((const uint8_t *)"\x01\x00", 2, &rep), LG_ETRUNC);
}

int main(void) {
  test_silent_and_reboot();
  test_frame_loss();
  test_battery_margin();
  test_gateways_mic_position();
  test_thresholds_json();
  test_shadow();
  return lg_test_report("test_fleet");
}
