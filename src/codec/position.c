/*
 * Self-reported positions in payloads (codec.h): Cayenne LPP's GPS item and the TDOA
 * thesis' 11-byte BCD form. Item sizes of LPP are those of the Cayenne LPP reference
 * (IPSO object types); an unknown type stops the walk, since its size is unknown.
 */
#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "util/util.h"

#define LPP_GPS 136

/* Value bytes of each LPP type (0: not a type). */
static size_t lpp_size(uint8_t type) {
  switch (type) {
  case 0:   /* digital input */
  case 1:   /* digital output */
  case 102: /* presence */
  case 104: /* relative humidity */
  case 120: /* percentage */
  case 142: /* switch */
    return 1;
  case 2:   /* analog input */
  case 3:   /* analog output */
  case 101: /* illuminance */
  case 103: /* temperature */
  case 115: /* barometer */
  case 116: /* voltage */
  case 117: /* current */
  case 121: /* altitude */
  case 125: /* concentration */
  case 128: /* power */
  case 132: /* direction */
    return 2;
  case 135: /* colour */
    return 3;
  case 100: /* generic sensor */
  case 118: /* frequency */
  case 130: /* distance */
  case 131: /* energy */
  case 133: /* unix time */
    return 4;
  case 113: /* accelerometer */
  case 134: /* gyrometer */
    return 6;
  case LPP_GPS:
    return 9;
  default: return 0;
  }
}

static int32_t s24(const uint8_t *b) {
  uint32_t v = (uint32_t)b[0] << 16 | (uint32_t)b[1] << 8 | b[2];
  return (int32_t)(v ^ 0x800000u) - 0x800000;
}

int lg_codec_lpp_gps(const uint8_t *p, size_t n, struct lg_geodetic *out, char *why,
                     size_t why_len) {
  size_t i = 0;
  while (i < n) {
    if (n - i < 2) {
      snprintf(why, why_len, "LPP: a lone byte at offset %zu", i);
      return LG_EINVAL;
    }
    uint8_t type = p[i + 1];
    size_t size = lpp_size(type);
    if (size == 0) {
      snprintf(why, why_len, "LPP: unknown type %u at offset %zu", type, i);
      return LG_EINVAL;
    }
    if (n - i - 2 < size) {
      snprintf(why, why_len, "LPP: type %u at offset %zu needs %zu bytes, %zu left", type, i,
               size, n - i - 2);
      return LG_EINVAL;
    }
    if (type == LPP_GPS) {
      const uint8_t *v = p + i + 2;
      out->lat_deg = s24(v) * 1e-4;
      out->lon_deg = s24(v + 3) * 1e-4;
      out->alt_m = s24(v + 6) * 1e-2;
      if (!(out->lat_deg >= -90 && out->lat_deg <= 90 && out->lon_deg >= -180 &&
            out->lon_deg <= 180)) {
        snprintf(why, why_len, "LPP: GPS position out of range (%.4f, %.4f)", out->lat_deg,
                 out->lon_deg);
        return LG_EINVAL;
      }
      return 0;
    }
    i += 2 + size;
  }
  snprintf(why, why_len, "LPP: no GPS item");
  return LG_ENOTFOUND;
}

/* digit k (0 = the high nibble of byte 0) of a BCD string; -1 when not 0-9 */
static int digit(const uint8_t *p, size_t k) {
  int d = k % 2 ? p[k / 2] & 0x0f : p[k / 2] >> 4;
  return d <= 9 ? d : -1;
}

/* `count` BCD digits from k as an integer; -1 on a non-decimal digit. */
static long digits(const uint8_t *p, size_t k, size_t count) {
  long v = 0;
  for (size_t i = 0; i < count; i++) {
    int d = digit(p, k + i);
    if (d < 0) return -1;
    v = v * 10 + d;
  }
  return v;
}

/* DDDMM.MMMMM in 10 digits from k: degrees (3 digits) and minutes (2 + 5 decimals). */
static int nmea_angle(const uint8_t *p, size_t k, double *deg) {
  long d = digits(p, k, 3), m = digits(p, k + 3, 7);
  if (d < 0 || m < 0 || m >= 6000000) return LG_EINVAL;
  *deg = (double)d + (double)m / 1e5 / 60.0;
  return 0;
}

int lg_codec_thesis_gps(const uint8_t *p, size_t n, struct lg_geodetic *out, char *why,
                        size_t why_len) {
  if (n != 11) {
    snprintf(why, why_len, "thesis position: 11 bytes expected, got %zu", n);
    return LG_EINVAL;
  }
  double lat, lon;
  int ns = digit(p, 10), ew = digit(p, 21);
  if (nmea_angle(p, 0, &lat) || nmea_angle(p, 11, &lon)) {
    snprintf(why, why_len, "thesis position: not NMEA degrees and minutes in BCD");
    return LG_EINVAL;
  }
  if ((ns != 1 && ns != 2) || (ew != 1 && ew != 2)) {
    snprintf(why, why_len, "thesis position: hemisphere digits must be 1 or 2, got %d and %d",
             ns, ew);
    return LG_EINVAL;
  }
  if (lat > 90 || lon > 180) {
    snprintf(why, why_len, "thesis position out of range (%.5f, %.5f)", lat, lon);
    return LG_EINVAL;
  }
  out->lat_deg = ns == 2 ? -lat : lat;
  out->lon_deg = ew == 2 ? -lon : lon;
  out->alt_m = 0;
  return 0;
}

int lg_codec_position(const uint8_t *p, size_t n, struct lg_geodetic *out,
                      enum lg_position_format *format, char *why, size_t why_len) {
  char ignored[8];
  if (format) *format = LG_POS_NONE;
  if (n == 11 && lg_codec_thesis_gps(p, n, out, ignored, sizeof(ignored)) == 0) {
    if (format) *format = LG_POS_THESIS;
    return 0;
  }
  int rc = lg_codec_lpp_gps(p, n, out, why, why_len);
  if (rc == 0 && format) *format = LG_POS_LPP;
  return rc;
}
