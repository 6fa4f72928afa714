/*
 * util — the small pieces every lorageo module shares: the project-wide error codes,
 * bounded hex conversion and little-endian byte access.
 *
 * Error convention (as libuv): fallible functions return 0 on success or a negative
 * LG_E* code; lg_strerror() names it. Human detail belongs in the caller's message,
 * the codes only classify.
 */
#ifndef LG_UTIL_H
#define LG_UTIL_H

#include <stddef.h>
#include <stdint.h>

enum lg_err {
  LG_OK = 0,
  LG_EINVAL = -1,     /* argument or field out of its valid range */
  LG_ETRUNC = -2,     /* input shorter than its structure needs */
  LG_ETOOLONG = -3,   /* input longer than its structure allows */
  LG_EBADHEX = -4,    /* not a hex string (odd length or non-hex digit) */
  LG_EMTYPE = -5,     /* unknown or unsupported LoRaWAN message type / version */
  LG_EMIC = -6,       /* message integrity code does not match */
  LG_ECRYPTO = -7,    /* the crypto library failed */
  LG_ENOMEM = -8,     /* allocation failed */
  LG_EUNKNOWN = -9,   /* unknown identifier (e.g. MAC command CID), not guessed */
  LG_ENOSPC = -10,    /* output buffer too small */
  LG_ENOTFOUND = -11, /* no such object */
  LG_EIO = -12,       /* storage or network failure */
  LG_EBUSY = -13,     /* lost a compare-and-set to another writer */
  LG_EEXIST = -14,    /* already exists / already used */
};

/* Name of an LG_E* code; never NULL (unknown codes give "unknown error"). */
const char *lg_strerror(int err);

/*
 * Decodes the hex string `hex` of `hex_len` characters (either case, no separators)
 * into `out` (capacity `cap` bytes). On success stores the byte count in *out_len.
 * Errors: LG_EBADHEX (odd length or a non-hex character), LG_ETOOLONG (more than
 * `cap` bytes). `out` is untouched past the decoded bytes.
 */
int lg_hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t cap, size_t *out_len);

/*
 * Writes `len` bytes as lower-case hex plus a NUL into `out` (capacity `cap`, at
 * least 2*len+1). Returns 0 or LG_ENOSPC.
 */
int lg_hex_encode(const uint8_t *in, size_t len, char *out, size_t cap);

/* Decodes padded base64 (RFC 4648) of `len` characters into `out` (capacity `cap`); the
 * byte count in *n. Errors: LG_EINVAL (not base64), LG_ETOOLONG (more than `cap` bytes). */
int lg_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n);

/* Little-endian access, as LoRaWAN puts multi-octet fields on air (spec 1.0.4 §4). */
static inline uint16_t lg_get_le16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t lg_get_le24(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
}
static inline uint32_t lg_get_le32(const uint8_t *p) {
  return lg_get_le24(p) | ((uint32_t)p[3] << 24);
}
static inline uint64_t lg_get_le64(const uint8_t *p) {
  return (uint64_t)lg_get_le32(p) | ((uint64_t)lg_get_le32(p + 4) << 32);
}
static inline void lg_put_le16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void lg_put_le24(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
}
static inline void lg_put_le32(uint8_t *p, uint32_t v) {
  lg_put_le24(p, v);
  p[3] = (uint8_t)(v >> 24);
}
static inline void lg_put_le64(uint8_t *p, uint64_t v) {
  lg_put_le32(p, (uint32_t)v);
  lg_put_le32(p + 4, (uint32_t)(v >> 32));
}

#define LG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* qsort's comparator for doubles, ascending (util/sort.c). */
int lg_cmp_double(const void *a, const void *b);
/* The median of v[0..n) (0 when empty); sorts v. */
double lg_median(double *v, size_t n);

/* unix_ns as RFC 3339 UTC ("2026-12-07T06:05:20.718Z") with `digits` (3, 6 or 9)
 * fractional digits, into out; the length written, or 0 (out empty) when it does not
 * fit. Every int64 of ns is a year gmtime_r can say (1677-2262). */
size_t lg_rfc3339(int64_t unix_ns, int digits, char *out, size_t cap);

#endif
