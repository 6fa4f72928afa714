/*
 * codec — positions that devices report about themselves in their payloads.
 *
 * A reference device (issue 14) carries its own GPS fix, so the server can hold every
 * network-computed position against the truth and keep learning from it. Two formats:
 *  - Cayenne LPP (myDevices): a sequence of {channel, type, value} items; the GPS item
 *    (type 136) is latitude and longitude in 0.0001 degree and altitude in 0.01 m, each a
 *    signed 24-bit big-endian integer;
 *  - the TDOA thesis' 11 bytes (002_*.txt §3.1.1, figure 3.8): 22 BCD digits — latitude
 *    as NMEA 0DDMM.MMMMM, a hemisphere digit (1 north, 2 south), longitude as
 *    DDDMM.MMMMM, a hemisphere digit (1 east, 2 west).
 * Both parsers are bounded by the length given and refuse anything malformed with a
 * reason; neither allocates.
 */
#ifndef LG_CODEC_H
#define LG_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "geo/geo.h"

enum lg_position_format {
  LG_POS_NONE = 0,
  LG_POS_LPP,    /* Cayenne LPP with a GPS item */
  LG_POS_THESIS, /* the thesis' 11-byte BCD */
};

/* The GPS item of a Cayenne LPP payload (the first one). Errors: LG_EINVAL (a malformed
 * item, an unknown type, a position out of range), LG_ENOTFOUND (no GPS item). */
int lg_codec_lpp_gps(const uint8_t *p, size_t n, struct lg_geodetic *out, char *why,
                     size_t why_len);

/* The thesis' 11-byte position. LG_EINVAL (not 11 bytes, a non-decimal digit, a bad
 * hemisphere, minutes >= 60, out of range). alt_m is 0 (the format has none). */
int lg_codec_thesis_gps(const uint8_t *p, size_t n, struct lg_geodetic *out, char *why,
                        size_t why_len);

/* Either format: the thesis' when the payload is exactly 11 bytes of decimal digits
 * with hemisphere digits, else Cayenne LPP. Writes which to *format (may be NULL). */
int lg_codec_position(const uint8_t *p, size_t n, struct lg_geodetic *out,
                      enum lg_position_format *format, char *why, size_t why_len);

/* ---- Cayenne LPP as JSON (lpp.c) -------------------------------------------------------
 * ChirpStack's object shape: one member per type, holding one member per channel, e.g.
 * {"temperatureSensor": {"3": 27.2}, "gpsLocation": {"1": {"latitude": 42.3519,
 * "longitude": -87.9094, "altitude": 10}}}; lpp.c lists every type, its size and scale. */

/* The whole payload into *out (a new object, caller decrefs). LG_EINVAL with a reason
 * (a lone byte, an unknown type, a short value); an empty payload is an empty object. */
int lg_codec_lpp_decode(const uint8_t *p, size_t n, json_t **out, char *why, size_t why_len);

/* The same shape back into bytes (at most cap): LG_EINVAL (an unknown type name, a channel
 * outside 0..255, a value out of the type's range), LG_ENOSPC. */
int lg_codec_lpp_encode(json_t *obj, uint8_t *out, size_t cap, size_t *len, char *why,
                        size_t why_len);

/* ---- JavaScript codecs (js.c) --------------------------------------------------------
 * A script of The Things Stack's / ChirpStack's form on MuJS, sandboxed: no I/O (only the
 * ECMAScript built-ins and console.log into a captured log), a memory cap, a time budget
 * per call. A struct lg_js is used by one thread at a time; distinct ones run on distinct
 * threads concurrently. */
struct lg_js;

/* Compiles `source` (len bytes) and runs its top level once, under the budget.
 * timeout_ms >= 1, mem_cap >= 256 KiB. NULL with the reason (syntax error, a throw, the
 * budget or the cap exceeded). Free with lg_js_free. */
struct lg_js *lg_js_new(const char *source, size_t len, int timeout_ms, size_t mem_cap,
                        char *why, size_t why_len);
void lg_js_free(struct lg_js *js);

/* Calls the global function fn(input) with input parsed from input_json (for an uplink,
 * is_uplink: input.recvTime, milliseconds in the JSON, becomes a Date) and returns what it
 * returned as JSON text in *out (caller frees). Errors, with the reason in why: LG_EINVAL
 * (the script threw, ran out of memory, returned nothing), LG_ENOTFOUND (no such
 * function), LG_EIO (the time budget cannot be armed: nothing runs), LG_EBUSY (the time
 * budget ran out: the interpreter was discarded and the
 * script is compiled again at the next call). fn NULL: compiles only. */
int lg_js_call(struct lg_js *js, const char *fn, const char *input_json, int is_uplink,
               char **out, char *why, size_t why_len);

/* What console.log printed during the last call (at most 4 KiB). */
const char *lg_js_log(const struct lg_js *js);

/* False where the time budget cannot be enforced (MuJS linked statically, an unknown
 * CPU): lg_codecs then refuses JavaScript codecs rather than run them unbounded. */
bool lg_js_interruptible(void);

/* ---- codecs by name (codecs.c) -------------------------------------------------------
 * A codec spec names how a device's payloads are decoded: "cayenne_lpp", or "js:NAME" for
 * the script NAME.js in the codec directory ([codec] dir), loaded at first use and again
 * when the file changes. The registry is shared by threads: each script has its own lock. */
struct lg_codecs;

struct lg_codec_uplink {
  uint64_t dev_eui;
  int f_port; /* -1: none */
  const uint8_t *data;
  size_t len;
  int64_t recv_ns; /* input.recvTime */
};

/* dir may be "" (no JavaScript codecs). */
struct lg_codecs *lg_codecs_new(const char *dir, int timeout_ms, size_t mem_cap);
void lg_codecs_free(struct lg_codecs *c);

/* The integration hook: which codec a device uses. Fills spec ("" or leaves it empty: no
 * codec) and returns 0; the device-profile code sets it (see docs/integrations.md).
 * Called from the integration thread and the API's threads: it must be thread-safe. */
typedef int (*lg_codec_lookup_fn)(void *ctx, uint64_t dev_eui, char *spec, size_t spec_len);
void lg_codecs_set_lookup(struct lg_codecs *c, lg_codec_lookup_fn fn, void *ctx);
/* The spec the hook gives for dev_eui, in spec ("" when none or no hook). */
void lg_codecs_lookup(struct lg_codecs *c, uint64_t dev_eui, char *spec, size_t spec_len);

/* Decodes an uplink with the codec `spec`: *object the decoded object (new reference),
 * *warnings an array of strings or NULL. LG_EINVAL (a malformed payload, the script threw
 * or returned errors or no object), LG_EBUSY (time budget), LG_ENOTFOUND (no such codec),
 * each with the reason in why. */
int lg_codec_decode(struct lg_codecs *c, const char *spec, const struct lg_codec_uplink *in,
                    json_t **object, json_t **warnings, char *why, size_t why_len);

/* Encodes a downlink object: bytes into out (at most cap), *f_port the port the script
 * chose (unchanged when it chose none). The same errors. */
int lg_codec_encode(struct lg_codecs *c, const char *spec, json_t *object, uint8_t *out,
                    size_t cap, size_t *len, int *f_port, char *why, size_t why_len);

/* A downlink given as an object, for device dev_eui: encoded by the device's codec (the
 * lookup hook's spec). *f_port: the one given (-1: none), replaced by the codec's when it
 * names one; 1..223 in the end. 0, or an error with a reason naming `object` or `f_port`
 * (LG_ENOTFOUND: the device has no codec). */
int lg_codec_downlink(struct lg_codecs *c, uint64_t dev_eui, json_t *object, int *f_port,
                      uint8_t *out, size_t cap, size_t *len, char *why, size_t why_len);

/* Adds "object" (and "object_warnings") to an `up` event / uplink JSON (the keys of GET
 * /api/devices/{dev_eui}/uplinks) when the hook names a codec for its device. 0: nothing
 * to do or done; otherwise the codec's error, with the reason in why. */
int lg_codecs_uplink_object(struct lg_codecs *c, json_t *up, char *why, size_t why_len);

#endif
