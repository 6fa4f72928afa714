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

#endif
