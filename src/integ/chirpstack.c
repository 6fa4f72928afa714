/*
 * lorageo events as ChirpStack v4's integration events (integ.h), so an application
 * written against ChirpStack's MQTT integration (json = true) runs unchanged.
 *
 * Field names and types: chirpstack_api 4.x, integration.proto (UplinkEvent, JoinEvent,
 * AckEvent, LogEvent, StatusEvent, LocationEvent, DeviceInfo) and gw.proto (UplinkRxInfo,
 * UplinkTxInfo, LoraModulationInfo), in protobuf's JSON mapping: lowerCamelCase names,
 * bytes as base64, enums as their names, Timestamp as RFC 3339, Duration as "<s>s".
 *
 * What lorageo knows differently, stated rather than invented:
 *  - deduplicationId is a UUID derived from (DevEUI, FCnt, time received), so the copies of
 *    one uplink an at-least-once delivery repeats carry the same one;
 *  - rxInfo.context is the gateway's 32-bit tmst, big-endian, as ChirpStack's own Semtech
 *    UDP bridge sets it; uplinkId is the reception's index;
 *  - events with no ChirpStack counterpart (adr, reset, queue_discarded) become log events
 *    (level and code as close as the enum allows), with lorageo's payload as context;
 *  - txack: the gateway's TX_ACK (or a station's dntxed) of a downlink to the device, with
 *    its gatewayId and fCntDown (null for a join-accept); downlinkId and txInfo are not kept.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "integ/integ.h"
#include "util/util.h"

static json_t *time_json(int64_t t_ns) {
  char s[48];
  lg_rfc3339(t_ns, 9, s, sizeof(s));
  return json_string(s);
}

static uint64_t mix(uint64_t x) { /* splitmix64's finaliser */
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static json_t *dedup_id(uint64_t dev_eui, int64_t f_cnt, int64_t t_ns) {
  uint64_t a = mix(dev_eui ^ mix((uint64_t)f_cnt)), b = mix(a ^ (uint64_t)t_ns);
  char s[40];
  snprintf(s, sizeof(s), "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
           a >> 32, (a >> 16) & 0xffff, a & 0xfff, 0x8000 | (b >> 48 & 0x3fff),
           b & (uint64_t)0xffffffffffff);
  return json_string(s);
}

static json_t *device_info(uint64_t dev_eui, const struct lg_integ_device *d) {
  char eui[17];
  snprintf(eui, sizeof(eui), "%016" PRIx64, dev_eui);
  json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "tenantId",
                        d->tenant_id, "tenantName", d->tenant_name, "applicationId",
                        d->application_id, "applicationName", d->application_name,
                        "deviceProfileId", d->device_profile_id, "deviceProfileName",
                        d->device_profile_name, "deviceName", d->device_name, "devEui", eui,
                        "deviceClassEnabled", d->class_c ? "CLASS_C" : "CLASS_A");
  json_object_set_new(o, "tags", d->tags ? json_deep_copy(d->tags) : json_object());
  return o;
}

static int64_t int_of(json_t *p, const char *key) {
  return (int64_t)json_integer_value(json_object_get(p, key));
}

static void copy(json_t *to, const char *to_key, json_t *from, const char *from_key) {
  json_t *v = json_object_get(from, from_key);
  if (v && !json_is_null(v)) json_object_set(to, to_key, v);
}

static json_t *rx_info(json_t *r, size_t index) {
  json_t *o = json_object();
  copy(o, "gatewayId", r, "gateway_eui");
  json_object_set_new(o, "uplinkId", json_integer((json_int_t)index));
  json_t *t = json_object_get(r, "time_ns");
  if (json_is_integer(t)) {
    int64_t ns = json_integer_value(t);
    json_object_set_new(o, "time", time_json(ns));
    /* GPS time: since 1980-01-06, ahead of UTC by the 18 leap seconds since then */
    int64_t gps_ns = ns - 315964800LL * 1000000000LL + 18LL * 1000000000LL;
    char d[48];
    snprintf(d, sizeof(d), "%lld.%09llds", (long long)(gps_ns / 1000000000LL),
             (long long)(gps_ns % 1000000000LL));
    json_object_set_new(o, "timeSinceGpsEpoch", json_string(d));
  }
  json_object_set_new(o, "rssi", json_integer((json_int_t)lround(
                                     json_number_value(json_object_get(r, "rssi")))));
  copy(o, "snr", r, "snr");
  copy(o, "channel", r, "channel");
  if (json_is_number(json_object_get(r, "latitude")))
    json_object_set_new(o, "location",
                        json_pack("{s:f, s:f, s:f}", "latitude",
                                  json_number_value(json_object_get(r, "latitude")), "longitude",
                                  json_number_value(json_object_get(r, "longitude")), "altitude",
                                  json_number_value(json_object_get(r, "altitude"))));
  json_t *tmst = json_object_get(r, "tmst");
  if (json_is_integer(tmst)) {
    uint32_t v = (uint32_t)json_integer_value(tmst);
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    char s[9] = {b64[b[0] >> 2], b64[(b[0] & 3) << 4 | b[1] >> 4], b64[(b[1] & 15) << 2 | b[2] >> 6],
                 b64[b[2] & 63], b64[b[3] >> 2], b64[(b[3] & 3) << 4], '=', '=', '\0'};
    json_object_set_new(o, "context", json_string(s));
  }
  json_object_set_new(o, "crcStatus", json_string("CRC_OK"));
  return o;
}

static json_t *up_event(uint64_t dev_eui, json_t *p, const struct lg_integ_device *dev,
                        const struct lg_region *region) {
  int64_t t_ns = int_of(p, "received_ns");
  json_t *o = json_object();
  json_object_set_new(o, "deduplicationId", dedup_id(dev_eui, int_of(p, "f_cnt"), t_ns));
  json_object_set_new(o, "time", time_json(t_ns));
  json_object_set_new(o, "deviceInfo", device_info(dev_eui, dev));
  copy(o, "devAddr", p, "dev_addr");
  copy(o, "adr", p, "adr");
  copy(o, "dr", p, "dr");
  copy(o, "fCnt", p, "f_cnt");
  copy(o, "fPort", p, "f_port");
  copy(o, "confirmed", p, "confirmed");
  copy(o, "data", p, "data");
  copy(o, "object", p, "object");
  json_t *rx = json_array(), *list = json_object_get(p, "rx_info");
  size_t i;
  json_t *r;
  json_array_foreach(list, i, r) json_array_append_new(rx, rx_info(r, i));
  json_object_set_new(o, "rxInfo", rx);
  json_t *lora = json_object();
  const struct lg_datarate *d =
      region && json_is_integer(json_object_get(p, "dr"))
          ? lg_region_dr(region, (int)int_of(p, "dr"))
          : NULL;
  if (d && d->mod == LG_MOD_LORA) {
    json_object_set_new(lora, "bandwidth", json_integer(d->bw_hz));
    json_object_set_new(lora, "spreadingFactor", json_integer(d->sf));
  }
  json_object_set_new(lora, "codeRate", json_string("CR_4_5")); /* LoRaWAN uplinks: 4/5 */
  json_object_set_new(o, "txInfo",
                      json_pack("{s:O, s:{s:o}}", "frequency", json_object_get(p, "frequency"),
                                "modulation", "lora", lora));
  return o;
}

/* A log event: level INFO/WARNING/ERROR, code one of LogCode's names. */
static json_t *log_event(uint64_t dev_eui, const struct lg_integ_device *dev, int64_t t_ns,
                         const char *level, const char *code, const char *description,
                         json_t *context) {
  json_t *ctx = json_object();
  const char *k;
  json_t *v;
  json_object_foreach(context, k, v) { /* map<string, string> */
    if (json_is_string(v)) {
      json_object_set(ctx, k, v);
    } else {
      char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
      json_object_set_new(ctx, k, json_string(text ? text : ""));
      free(text);
    }
  }
  return json_pack("{s:o, s:o, s:s, s:s, s:s, s:o}", "time", time_json(t_ns), "deviceInfo",
                   device_info(dev_eui, dev), "level", level, "code", code, "description",
                   description, "context", ctx);
}

static const char *str_or(json_t *p, const char *key, const char *dflt) {
  const char *s = json_string_value(json_object_get(p, key));
  return s ? s : dflt;
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

json_t *lg_chirpstack_event(const char *type, uint64_t dev_eui, json_t *p,
                            const struct lg_integ_device *dev, const struct lg_region *region,
                            const char **cs_type) {
  int64_t t = now_ns();
  *cs_type = type;
  if (strcmp(type, "up") == 0) return up_event(dev_eui, p, dev, region);
  if (strcmp(type, "join") == 0) {
    json_t *o = json_pack("{s:o, s:o, s:o}", "deduplicationId", dedup_id(dev_eui, -1, t), "time",
                          time_json(t), "deviceInfo", device_info(dev_eui, dev));
    copy(o, "devAddr", p, "dev_addr");
    return o;
  }
  if (strcmp(type, "ack") == 0) {
    json_t *o = json_pack("{s:o, s:o, s:b}", "time", time_json(t), "deviceInfo",
                          device_info(dev_eui, dev), "acknowledged", 1);
    copy(o, "fCntDown", p, "f_cnt_down");
    return o;
  }
  if (strcmp(type, "txack") == 0) {
    json_t *o = json_pack("{s:o, s:o}", "time", time_json(t), "deviceInfo", device_info(dev_eui, dev));
    copy(o, "fCntDown", p, "f_cnt_down");
    copy(o, "gatewayId", p, "gateway_eui");
    return o;
  }
  if (strcmp(type, "status") == 0) {
    json_t *batt = json_object_get(p, "battery");
    int64_t b = json_integer_value(batt);
    /* DevStatusAns battery: 0 external power, 1..254 level, 255 unknown (LoRaWAN 1.0.4 §5.5) */
    json_t *o = json_pack("{s:o, s:o, s:o, s:b, s:b, s:f}", "deduplicationId",
                          dedup_id(dev_eui, -2, t), "time", time_json(t), "deviceInfo",
                          device_info(dev_eui, dev), "externalPowerSource", b == 0,
                          "batteryLevelUnavailable", b == 255,
                          "batteryLevel", b >= 1 && b <= 254 ? (double)b / 254.0 * 100.0 : 0.0);
    copy(o, "margin", p, "margin");
    return o;
  }
  if (strcmp(type, "location") == 0) {
    const char *m = json_string_value(json_object_get(p, "method"));
    const char *source = m && strstr(m, "rssi") ? "GEO_RESOLVER_RSSI" : "GEO_RESOLVER_TDOA";
    json_t *loc = json_pack("{s:O, s:O, s:O, s:s, s:O}", "latitude", json_object_get(p, "latitude"),
                            "longitude", json_object_get(p, "longitude"), "altitude",
                            json_object_get(p, "altitude"), "source", source, "accuracy",
                            json_object_get(p, "accuracy_m"));
    return json_pack("{s:o, s:o, s:o, s:o}", "deduplicationId",
                     dedup_id(dev_eui, int_of(p, "f_cnt"), t), "time", time_json(t),
                     "deviceInfo", device_info(dev_eui, dev), "location", loc);
  }
  *cs_type = "log";
  if (strcmp(type, "log") == 0) /* our own log events carry ChirpStack's level and code */
    return log_event(dev_eui, dev, t, str_or(p, "level", "ERROR"), str_or(p, "code", "UNKNOWN"),
                     str_or(p, "description", ""), p);
  if (strcmp(type, "reset") == 0)
    return log_event(dev_eui, dev, t, "WARNING", "UPLINK_F_CNT_RESET", "frame counter reset", p);
  if (strcmp(type, "queue_discarded") == 0)
    return log_event(dev_eui, dev, t, "WARNING", "DOWNLINK_PAYLOAD_SIZE",
                     "queued downlink discarded", p);
  if (strcmp(type, "adr") == 0)
    return log_event(dev_eui, dev, t, "INFO", "UNKNOWN", "ADR: new data rate and power", p);
  *cs_type = NULL;
  return NULL;
}

json_t *lg_chirpstack_command(json_t *body) {
  if (!json_is_object(body)) return NULL;
  json_t *o = json_object();
  copy(o, "f_port", body, "fPort");
  copy(o, "data", body, "data");
  copy(o, "confirmed", body, "confirmed");
  copy(o, "object", body, "object");
  return o;
}
