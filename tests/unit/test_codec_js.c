/*
 * Payload codecs (codec.h): Cayenne LPP to JSON against the LPP reference's examples and
 * every type's size and scale; encoding back; random payloads never crash and round-trip;
 * the JavaScript sandbox (a script that throws, loops, over-allocates, recurses, has a
 * syntax error, looks for I/O — each an error, never a crash, and the codec works again
 * after); the registry (scripts by name, reloaded when the file changes, names that would
 * leave the directory refused); the device hook filling `object` into an uplink.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec/codec.h"
#include "lg_test.h"

static json_t *lpp(const char *hex) {
  uint8_t b[256];
  size_t n;
  char why[200] = "";
  json_t *o = NULL;
  if (lg_hex_decode(hex, strlen(hex), b, sizeof(b), &n) ||
      lg_codec_lpp_decode(b, n, &o, why, sizeof(why))) {
    LG_FAIL_AT("LPP %s: %s", hex, why);
    return json_object();
  }
  return o;
}

static double num(json_t *o, const char *type, const char *ch) {
  json_t *v = json_object_get(json_object_get(o, type), ch);
  if (!json_is_number(v)) {
    LG_FAIL_AT("no number %s.%s", type, ch);
    return NAN;
  }
  return json_number_value(v);
}

static double sub(json_t *o, const char *type, const char *ch, const char *k) {
  return json_number_value(json_object_get(json_object_get(json_object_get(o, type), ch), k));
}

static void test_lpp_reference(void) {
  /* the Cayenne LPP reference's examples */
  json_t *o = lpp("03670110056700ff"); /* two temperatures: 27.2 and 25.5 C */
  LG_NEAR(num(o, "temperatureSensor", "3"), 27.2, 1e-12);
  LG_NEAR(num(o, "temperatureSensor", "5"), 25.5, 1e-12);
  json_decref(o);
  o = lpp("0167ffd7"); /* -4.1 C */
  LG_NEAR(num(o, "temperatureSensor", "1"), -4.1, 1e-12);
  json_decref(o);
  o = lpp("067104d2fb2e0000"); /* accelerometer 1.234, -1.234, 0 G */
  LG_NEAR(sub(o, "accelerometer", "6", "x"), 1.234, 1e-12);
  LG_NEAR(sub(o, "accelerometer", "6", "y"), -1.234, 1e-12);
  LG_NEAR(sub(o, "accelerometer", "6", "z"), 0, 1e-12);
  json_decref(o);
  o = lpp("018806765ff2960a0003e8"); /* GPS 42.3519 N, 87.9094 W, 10 m */
  LG_NEAR(sub(o, "gpsLocation", "1", "latitude"), 42.3519, 1e-9);
  LG_NEAR(sub(o, "gpsLocation", "1", "longitude"), -87.9094, 1e-9);
  LG_NEAR(sub(o, "gpsLocation", "1", "altitude"), 10, 1e-9);
  json_decref(o);
  /* every other type once: value = integer on air / scale (lpp.c's table) */
  o = lpp("0100ff"          /* digital in 255 */
          "020180"          /* digital out 128 */
          "0302ff38"        /* analog in -2.00 */
          "04030190"        /* analog out 4.00 */
          "0564ffffffff"    /* generic 4294967295 */
          "06650190"        /* illuminance 400 lux */
          "076601"          /* presence 1 */
          "086861"          /* humidity 48.5 % */
          "09720001ffff0002" /* magnetometer 0.001, -0.001, 0.002 */
          "0a7327e9"        /* barometer 1021.7 hPa */
          "0b740159"        /* voltage 3.45 V */
          "0c7504d2"        /* current 1.234 A */
          "0d76000003e8"    /* frequency 1000 Hz */
          "0e7864"          /* percentage 100 */
          "0f79fff6"        /* altitude -10 m */
          "107d01f4"        /* concentration 500 ppm */
          "118003e8"        /* power 1000 W */
          "128200003039"    /* distance 12.345 m */
          "13830001e240"    /* energy 123.456 kWh */
          "14840168"        /* direction 360 deg */
          "15855f5e1000"    /* unix time 1600000000 */
          "1686fc180064ffff" /* gyrometer -10.00, 1.00, -0.01 deg/s */
          "1787ff8000"      /* colour 255, 128, 0 */
          "188e01"          /* switch 1 */
          "198f0064"        /* concentration (143) 100 ppm */
          "1a90010203");    /* colour (144) */
  LG_EQ_INT(json_integer_value(json_object_get(json_object_get(o, "digitalInput"), "1")), 255);
  LG_NEAR(num(o, "digitalOutput", "2"), 128, 0);
  LG_NEAR(num(o, "analogInput", "3"), -2.0, 1e-12);
  LG_NEAR(num(o, "analogOutput", "4"), 4.0, 1e-12);
  LG_NEAR(num(o, "genericSensor", "5"), 4294967295.0, 0);
  LG_NEAR(num(o, "illuminanceSensor", "6"), 400, 0);
  LG_NEAR(num(o, "presenceSensor", "7"), 1, 0);
  LG_NEAR(num(o, "humiditySensor", "8"), 48.5, 1e-12);
  LG_NEAR(sub(o, "magnetometer", "9", "y"), -0.001, 1e-12);
  LG_NEAR(num(o, "barometer", "10"), 1021.7, 1e-9);
  LG_NEAR(num(o, "voltage", "11"), 3.45, 1e-12);
  LG_NEAR(num(o, "current", "12"), 1.234, 1e-12);
  LG_NEAR(num(o, "frequency", "13"), 1000, 0);
  LG_NEAR(num(o, "percentage", "14"), 100, 0);
  LG_NEAR(num(o, "altitude", "15"), -10, 0);
  LG_NEAR(num(o, "concentration", "16"), 500, 0);
  LG_NEAR(num(o, "power", "17"), 1000, 0);
  LG_NEAR(num(o, "distance", "18"), 12.345, 1e-12);
  LG_NEAR(num(o, "energy", "19"), 123.456, 1e-12);
  LG_NEAR(num(o, "direction", "20"), 360, 0);
  LG_NEAR(num(o, "unixTime", "21"), 1600000000, 0);
  LG_NEAR(sub(o, "gyrometer", "22", "x"), -10.0, 1e-12);
  LG_NEAR(sub(o, "gyrometer", "22", "z"), -0.01, 1e-12);
  LG_NEAR(sub(o, "colour", "23", "g"), 128, 0);
  LG_NEAR(num(o, "switch", "24"), 1, 0);
  LG_NEAR(num(o, "concentration", "25"), 100, 0);
  LG_NEAR(sub(o, "colour", "26", "b"), 3, 0);
  LG_EQ_INT(json_object_size(o), 24); /* concentration and colour twice, under one name */
  json_decref(o);
  /* refused with the reason */
  const char *bad[][2] = {{"03", "lone byte"},
                          {"03f001", "unknown type 240"},
                          {"036701", "needs 2 bytes, 1 left"},
                          {"0188067650", "needs 9 bytes"}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    uint8_t b[16];
    size_t n;
    char why[200] = "";
    json_t *out = NULL;
    lg_hex_decode(bad[i][0], strlen(bad[i][0]), b, sizeof(b), &n);
    LG_EQ_INT(lg_codec_lpp_decode(b, n, &out, why, sizeof(why)), LG_EINVAL);
    LG_CHECK(out == NULL);
    if (strstr(why, bad[i][1]) == NULL) LG_FAIL_AT("'%s' lacks '%s'", why, bad[i][1]);
  }
}

static void test_lpp_encode(void) {
  json_error_t je;
  json_t *o = json_loads("{\"temperatureSensor\": {\"3\": 27.2, \"5\": -4.1},"
                         " \"gpsLocation\": {\"1\": {\"latitude\": 42.3519, \"longitude\": "
                         "-87.9094, \"altitude\": 10}}, \"digitalOutput\": {\"2\": 1}}",
                         JSON_PRESERVE_ORDER, &je);
  uint8_t out[64];
  size_t n = 0;
  char why[200] = "";
  LG_EQ_INT(lg_codec_lpp_encode(o, out, sizeof(out), &n, why, sizeof(why)), 0);
  LG_EQ_INT(n, 4 + 4 + 11 + 3);
  LG_EQ_HEX(out, "036701100567ffd7018806765ff2960a0003e8020101", n);
  json_decref(o);
  const char *bad[][2] = {{"{\"temperatureSensor\": {\"3\": 4000}}", "range"},
                          {"{\"humiditySensor\": {\"3\": -1}}", "range"},
                          {"{\"nope\": {\"3\": 1}}", "unknown type name 'nope'"},
                          {"{\"switch\": {\"256\": 1}}", "channel '256'"},
                          {"{\"accelerometer\": {\"1\": {\"x\": 1}}}", "{x, y, z}"},
                          {"{\"switch\": 1}", "an object of channels"}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    o = json_loads(bad[i][0], 0, &je);
    LG_EQ_INT(lg_codec_lpp_encode(o, out, sizeof(out), &n, why, sizeof(why)), LG_EINVAL);
    if (strstr(why, bad[i][1]) == NULL) LG_FAIL_AT("'%s' lacks '%s'", why, bad[i][1]);
    json_decref(o);
  }
  o = json_loads("{\"gpsLocation\": {\"1\": {\"latitude\": 1, \"longitude\": 1, \"altitude\": 1},"
                 " \"2\": {\"latitude\": 1, \"longitude\": 1, \"altitude\": 1}}}", 0, &je);
  LG_EQ_INT(lg_codec_lpp_encode(o, out, 15, &n, why, sizeof(why)), LG_ENOSPC);
  json_decref(o);
}

/* Random payloads: decoding never crashes; whatever decodes encodes back to a payload that
 * decodes to the same object. */
static void test_lpp_random(void) {
  static const uint8_t ids[] = {0,   1,   2,   3,   100, 101, 102, 103, 104, 113, 114, 115,
                                116, 117, 118, 120, 121, 125, 128, 130, 131, 132, 133, 134,
                                135, 136, 142, 143, 144};
  unsigned seed = 18;
  int decoded = 0;
  for (int round = 0; round < 3000; round++) {
    uint8_t p[64];
    size_t n = 0;
    if (round % 2) { /* pure noise */
      n = (size_t)(rand_r(&seed) % 40);
      for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rand_r(&seed);
    } else { /* well-formed items, distinct channels */
      int items = 1 + rand_r(&seed) % 4;
      for (int k = 0; k < items; k++) {
        uint8_t id = ids[(size_t)rand_r(&seed) % sizeof(ids)];
        p[n++] = (uint8_t)(k * 50 + rand_r(&seed) % 50);
        p[n++] = id;
        for (int b = 0; b < 9; b++)
          p[n + (size_t)b] = (uint8_t)rand_r(&seed);
        json_t *probe = NULL;
        char w[100];
        uint8_t one[11] = {0, id};
        memcpy(one + 2, p + n, 9);
        for (size_t sz = 1; sz <= 9; sz++) /* the item's size: the shortest that decodes */
          if (lg_codec_lpp_decode(one, 2 + sz, &probe, w, sizeof(w)) == 0) {
            n += sz;
            json_decref(probe);
            break;
          }
      }
    }
    json_t *o = NULL;
    char why[200];
    if (lg_codec_lpp_decode(p, n, &o, why, sizeof(why)) != 0) continue;
    decoded++;
    uint8_t back[128];
    size_t m = 0;
    json_t *again = NULL;
    if (lg_codec_lpp_encode(o, back, sizeof(back), &m, why, sizeof(why)) != 0 ||
        lg_codec_lpp_decode(back, m, &again, why, sizeof(why)) != 0 || !json_equal(o, again)) {
      char *t = json_dumps(o, JSON_COMPACT);
      LG_FAIL_AT("round %d: %s does not round-trip (%s)", round, t, why);
      free(t);
    }
    json_decref(o);
    json_decref(again);
  }
  LG_CHECK(decoded > 1500);
}

/* ---- JavaScript ----------------------------------------------------------------------- */

static struct lg_js *compile(const char *src, int timeout_ms, size_t cap, char *why,
                             size_t why_len) {
  return lg_js_new(src, strlen(src), timeout_ms, cap, why, why_len);
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void expect_call(struct lg_js *js, const char *fn, int rc, const char *want) {
  char *out = NULL, why[300] = "";
  int got = lg_js_call(js, fn, "{\"bytes\":[1,2],\"fPort\":2,\"recvTime\":0}", 1, &out, why,
                       sizeof(why));
  LG_EQ_INT(got, rc);
  const char *text = rc == 0 ? out : why;
  if (text == NULL || strstr(text, want) == NULL)
    LG_FAIL_AT("%s: '%s' lacks '%s'", fn, text ? text : "(null)", want);
  free(out);
}

static void test_js_sandbox(void) {
  LG_CHECK(lg_js_interruptible());
  char why[300] = "";
  const size_t cap = 4u << 20;
  struct lg_js *js = compile(
      "var calls = 0;\n"
      "function decodeUplink(input) {\n"
      "  calls++; console.log('bytes', input.bytes.length, 'port', input.fPort);\n"
      "  return {data: {sum: input.bytes[0] + input.bytes[1], calls: calls,\n"
      "                 year: input.recvTime.getUTCFullYear()}};\n"
      "}\n"
      "function throws(i) { throw new Error('bad payload'); }\n"
      "function loops(i) { for (;;) {} }\n"
      "function dates(i) { var s = 0; for (;;) s += new Date().getHours(); }\n"
      "function hogs(i) { var s = 'x', a = []; for (;;) { s = s + s; a.push(s); } }\n"
      "function recurses(i) { function f(n) { return f(n + 1) + 1; } return f(0); }\n"
      "function io(i) { return {p: typeof print, l: typeof load, r: typeof require,\n"
      "                         q: typeof quit, rd: typeof read}; }\n"
      "function nothing(i) {}\n",
      100, cap, why, sizeof(why));
  LG_CHECK(js != NULL);
  if (js == NULL) {
    LG_FAIL_AT("compile: %s", why);
    return;
  }
  expect_call(js, "decodeUplink", 0, "\"sum\":3");
  expect_call(js, "decodeUplink", 0, "\"calls\":2"); /* compiled once, called many */
  expect_call(js, "decodeUplink", 0, "\"year\":1970");
  LG_CHECK(strstr(lg_js_log(js), "bytes 2 port 2") != NULL);
  expect_call(js, "throws", LG_EINVAL, "bad payload");
  expect_call(js, "nothing", LG_EINVAL, "returned nothing");
  expect_call(js, "missing", LG_ENOTFOUND, "no function missing");
  expect_call(js, "recurses", LG_EINVAL, "stack overflow");
  expect_call(js, "io", 0, "\"l\":\"undefined\",\"p\":\"undefined\",\"q\":\"undefined\","
                           "\"r\":\"undefined\",\"rd\":\"undefined\""); /* MuJS sorts keys */
  int64_t t0 = now_ms();
  expect_call(js, "loops", LG_EBUSY, "time budget of 100 ms");
  int64_t took = now_ms() - t0;
  if (took < 100 || took > 1000) LG_FAIL_AT("a loop stopped after %lld ms", (long long)took);
  /* compiled anew after the interrupt: the script's state starts over */
  expect_call(js, "decodeUplink", 0, "\"calls\":1");
  expect_call(js, "dates", LG_EBUSY, "time budget"); /* inside libc's time functions */
  expect_call(js, "decodeUplink", 0, "\"calls\":1");
  expect_call(js, "hogs", LG_EINVAL, "out of memory"); /* the cap, not the budget */
  expect_call(js, "decodeUplink", 0, "\"calls\":2");
  lg_js_free(js);

  /* a script that fails at its top level never compiles */
  LG_CHECK(compile("for (;;) {}", 50, cap, why, sizeof(why)) == NULL);
  LG_CHECK(strstr(why, "time budget") != NULL);
  LG_CHECK(compile("function decodeUplink(i) {", 50, cap, why, sizeof(why)) == NULL);
  LG_CHECK(strstr(why, "SyntaxError") != NULL);
  LG_CHECK(compile("throw 'nope';", 50, cap, why, sizeof(why)) == NULL);
  LG_CHECK(strstr(why, "nope") != NULL);
  LG_CHECK(compile("var s = 'x'; for (;;) s = s + s;", 5000, 300 * 1024, why,
                   sizeof(why)) == NULL);
  LG_CHECK(strstr(why, "out of memory") != NULL);
  LG_CHECK(compile("var a;", 0, cap, why, sizeof(why)) == NULL);
  char nul[] = "var a;\0var b;";
  LG_CHECK(lg_js_new(nul, sizeof(nul) - 1, 50, cap, why, sizeof(why)) == NULL);
}

/* Two threads run their own scripts at once; one loops and is cut, the other is not. */
static void *spin_thread(void *arg) {
  int *ok = arg;
  char why[200];
  struct lg_js *js = compile("function f(i) { var s = 0; for (var k = 0; k < 20000; k++) s += k;"
                             " return {s: s}; }\nfunction g(i) { for (;;) {} }",
                             200, 4u << 20, why, sizeof(why));
  *ok = js != NULL;
  for (int i = 0; js && i < 20; i++) {
    char *out = NULL;
    int rc = lg_js_call(js, i % 5 == 4 ? "g" : "f", "{}", 0, &out, why, sizeof(why));
    if (i % 5 == 4 ? rc != LG_EBUSY : (rc != 0 || strstr(out, "199990000") == NULL)) *ok = 0;
    free(out);
  }
  lg_js_free(js);
  return NULL;
}

static void test_js_threads(void) {
  pthread_t t[2];
  int ok[2] = {0, 0};
  for (int i = 0; i < 2; i++)
    pthread_create(&t[i], NULL, spin_thread, &ok[i]);
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  LG_CHECK(ok[0] && ok[1]);
}

/* ---- the registry and the hook -------------------------------------------------------- */

static char dir[64];

static void write_file(const char *name, const char *text) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
}

static int hook(void *ctx, uint64_t dev_eui, char *spec, size_t spec_len) {
  (void)ctx;
  if (dev_eui == 0x0102030405060708ULL) snprintf(spec, spec_len, "cayenne_lpp");
  if (dev_eui == 0x0102030405060709ULL) snprintf(spec, spec_len, "js:sensor");
  if (dev_eui == 0x010203040506070aULL) snprintf(spec, spec_len, "js:missing");
  return 0;
}

static void test_registry(void) {
  snprintf(dir, sizeof(dir), "/tmp/lg_codecs_%d", (int)getpid());
  mkdir(dir, 0700);
  write_file("sensor.js",
             "function decodeUplink(input) { return {data: {v: input.bytes[0]}, warnings: "
             "['first']}; }\n"
             "function encodeDownlink(input) { return {bytes: [input.data.v, 255], fPort: 9}; }\n");
  write_file("bad.js", "function decodeUplink(input) { return {data: 5}; }\n"
                       "function encodeDownlink(input) { return {bytes: [256]}; }\n");
  struct lg_codecs *c = lg_codecs_new(dir, 100, 4u << 20);
  char why[300] = "";
  uint8_t data[] = {42};
  struct lg_codec_uplink in = {.dev_eui = 1, .f_port = 1, .data = data, .len = 1};
  json_t *obj = NULL, *warn = NULL;
  LG_EQ_INT(lg_codec_decode(c, "js:sensor", &in, &obj, &warn, why, sizeof(why)), 0);
  LG_EQ_INT(json_integer_value(json_object_get(obj, "v")), 42);
  LG_EQ_STR(json_string_value(json_array_get(warn, 0)), "first");
  json_decref(obj);
  json_decref(warn);
  LG_EQ_INT(lg_codec_decode(c, "js:bad", &in, &obj, &warn, why, sizeof(why)), LG_EINVAL);
  LG_CHECK(strstr(why, "{data: an object}") != NULL);
  LG_EQ_INT(lg_codec_decode(c, "js:../sensor", &in, &obj, &warn, why, sizeof(why)), LG_ENOTFOUND);
  LG_EQ_INT(lg_codec_decode(c, "js:none", &in, &obj, &warn, why, sizeof(why)), LG_ENOTFOUND);
  LG_EQ_INT(lg_codec_decode(c, "protobuf", &in, &obj, &warn, why, sizeof(why)), LG_ENOTFOUND);
  uint8_t out[16];
  size_t len = 0;
  int port = 1;
  json_t *v = json_pack("{s:i}", "v", 7);
  LG_EQ_INT(lg_codec_encode(c, "js:sensor", v, out, sizeof(out), &len, &port, why, sizeof(why)), 0);
  LG_EQ_INT(len, 2);
  LG_EQ_HEX(out, "07ff", 2);
  LG_EQ_INT(port, 9);
  LG_EQ_INT(lg_codec_encode(c, "js:bad", v, out, sizeof(out), &len, &port, why, sizeof(why)),
            LG_EINVAL);
  LG_CHECK(strstr(why, "integers 0..255") != NULL);
  json_decref(v);
  /* the file changes: compiled again at the next use (a new size, so no clock granularity) */
  write_file("sensor.js", "function decodeUplink(input) { return {data: {v: -1, again: true}}; }\n");
  LG_EQ_INT(lg_codec_decode(c, "js:sensor", &in, &obj, &warn, why, sizeof(why)), 0);
  LG_EQ_INT(json_integer_value(json_object_get(obj, "v")), -1);
  json_decref(obj);
  /* a file that stops compiling fails with the reason, and recovers when fixed */
  write_file("sensor.js", "function decodeUplink(input) {\n");
  LG_EQ_INT(lg_codec_decode(c, "js:sensor", &in, &obj, &warn, why, sizeof(why)), LG_ENOTFOUND);
  LG_CHECK(strstr(why, "does not compile") != NULL);

  /* the hook: an uplink gets "object" only when its device has a codec */
  write_file("sensor.js", "function decodeUplink(i) { return {data: {first: i.bytes[0], port: "
                          "i.fPort}}; }\n");
  json_t *up = json_pack("{s:s, s:i, s:s, s:I}", "dev_eui", "0102030405060708", "f_port", 3,
                         "data", "A2cBEA==", "received_ns", (json_int_t)0); /* 03670110 */
  LG_EQ_INT(lg_codecs_uplink_object(c, up, why, sizeof(why)), 0);
  LG_CHECK(json_object_get(up, "object") == NULL); /* no hook yet */
  lg_codecs_set_lookup(c, hook, NULL);
  LG_EQ_INT(lg_codecs_uplink_object(c, up, why, sizeof(why)), 0);
  LG_NEAR(num(json_object_get(up, "object"), "temperatureSensor", "3"), 27.2, 1e-12);
  json_object_set_new(up, "dev_eui", json_string("0102030405060709"));
  LG_EQ_INT(lg_codecs_uplink_object(c, up, why, sizeof(why)), 0);
  LG_EQ_INT(json_integer_value(json_object_get(json_object_get(up, "object"), "port")), 3);
  json_object_set_new(up, "dev_eui", json_string("010203040506070a"));
  LG_EQ_INT(lg_codecs_uplink_object(c, up, why, sizeof(why)), LG_ENOTFOUND);
  json_object_set_new(up, "dev_eui", json_string("0102030405060708"));
  json_object_set_new(up, "data", json_string("Aw==")); /* a lone byte */
  LG_EQ_INT(lg_codecs_uplink_object(c, up, why, sizeof(why)), LG_EINVAL);
  LG_CHECK(strstr(why, "lone byte") != NULL);
  json_decref(up);
  lg_codecs_free(c);
  char cmd[160];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  LG_CHECK(system(cmd) == 0);
}

int main(void) {
  test_lpp_reference();
  test_lpp_encode();
  test_lpp_random();
  test_js_sandbox();
  test_js_threads();
  test_registry();
  return lg_test_report("test_codec_js");
}
