/*
 * CIDR allow-lists: parsed once from the configuration into a fixed array (no allocation),
 * checked per datagram by a prefix compare over at most LG_NETLIST_MAX entries.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/netlist.h"
#include "util/util.h"

/* Whether the first `bits` bits of a and b agree. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, int bits) {
  int whole = bits / 8, rest = bits % 8;
  if (memcmp(a, b, (size_t)whole) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

/* One entry "ADDR[/BITS]" of `len` characters. */
static int parse_entry(const char *p, size_t len, struct lg_net *n) {
  char text[64];
  if (len == 0 || len >= sizeof(text)) return LG_EINVAL;
  memcpy(text, p, len);
  text[len] = '\0';
  char *slash = strchr(text, '/');
  if (slash) *slash = '\0';
  memset(n, 0, sizeof(*n));
  int max_bits;
  if (inet_pton(AF_INET, text, n->addr) == 1)
    n->family = AF_INET, max_bits = 32;
  else if (inet_pton(AF_INET6, text, n->addr) == 1)
    n->family = AF_INET6, max_bits = 128;
  else
    return LG_EINVAL;
  n->prefix_bits = max_bits;
  if (slash) {
    char *end = NULL;
    long bits = strtol(slash + 1, &end, 10);
    if (end == slash + 1 || *end || bits < 0 || bits > max_bits) return LG_EINVAL;
    n->prefix_bits = (int)bits;
  }
  uint8_t cleared[16];
  memcpy(cleared, n->addr, 16);
  for (int b = n->prefix_bits; b < max_bits; b++) /* host bits must be zero */
    cleared[b / 8] &= (uint8_t) ~(0x80 >> (b % 8));
  return memcmp(cleared, n->addr, 16) == 0 ? 0 : LG_EINVAL;
}

int lg_netlist_parse(const char *s, struct lg_netlist *out, char *why, size_t why_len) {
  memset(out, 0, sizeof(*out));
  for (const char *p = s; *p;) {
    while (*p == ' ' || *p == '\t') p++;
    size_t n = strcspn(p, ",");
    size_t m = n;
    while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t')) m--;
    if (m == 0 && p[n] == '\0' && out->n > 0) break; /* a trailing comma */
    if (out->n == LG_NETLIST_MAX) {
      snprintf(why, why_len, "more than %d networks", LG_NETLIST_MAX);
      return LG_EINVAL;
    }
    if (parse_entry(p, m, &out->net[out->n]) != 0) {
      snprintf(why, why_len, "'%.*s' is no network (ADDRESS/BITS, host bits zero)",
               (int)(m < 60 ? m : 60), p);
      return LG_EINVAL;
    }
    out->n++;
    p += n;
    if (*p == ',') p++;
  }
  return 0;
}

bool lg_netlist_has(const struct lg_netlist *l, const struct sockaddr *sa) {
  uint8_t addr[16];
  int family = sa->sa_family;
  if (family == AF_INET) {
    memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
  } else if (family == AF_INET6) {
    const uint8_t *a6 = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a6, mapped, 12) == 0) {
      family = AF_INET;
      memcpy(addr, a6 + 12, 4);
    } else {
      memcpy(addr, a6, 16);
    }
  } else {
    return false;
  }
  for (size_t i = 0; i < l->n; i++)
    if (l->net[i].family == family && prefix_equal(addr, l->net[i].addr, l->net[i].prefix_bits))
      return true;
  return false;
}
