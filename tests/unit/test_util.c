/* util: hex conversion bounds, little-endian helpers, CIDR allow-lists. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "lg_test.h"
#include "util/netlist.h"
#include "util/util.h"

static void test_hex(void) {
  uint8_t out[4];
  size_t n = 99;
  LG_EQ_INT(lg_hex_decode("0aFf", 4, out, sizeof(out), &n), 0);
  LG_EQ_INT(n, 2);
  LG_EQ_INT(out[0], 0x0a);
  LG_EQ_INT(out[1], 0xff);
  LG_EQ_INT(lg_hex_decode("abc", 3, out, sizeof(out), &n), LG_EBADHEX);
  LG_EQ_INT(lg_hex_decode("zz", 2, out, sizeof(out), &n), LG_EBADHEX);
  LG_EQ_INT(lg_hex_decode("0g", 2, out, sizeof(out), &n), LG_EBADHEX);
  LG_EQ_INT(lg_hex_decode("0011223344", 10, out, sizeof(out), &n), LG_ETOOLONG);
  LG_EQ_INT(lg_hex_decode("", 0, out, sizeof(out), &n), 0);
  LG_EQ_INT(n, 0);

  char s[5];
  uint8_t in[2] = {0xde, 0x01};
  LG_EQ_INT(lg_hex_encode(in, 2, s, sizeof(s)), 0);
  LG_EQ_STR(s, "de01");
  LG_EQ_INT(lg_hex_encode(in, 2, s, 4), LG_ENOSPC);
}

static void test_le(void) {
  uint8_t b[8];
  lg_put_le64(b, 0x0102030405060708ull);
  LG_EQ_HEX(b, "0807060504030201", 8);
  LG_EQ_INT(lg_get_le64(b), 0x0102030405060708ll);
  LG_EQ_INT(lg_get_le24(b), 0x060708);
  LG_EQ_INT(lg_get_le16(b), 0x0708);
}

static void test_strerror(void) {
  LG_EQ_STR(lg_strerror(LG_EMIC), "MIC mismatch");
  LG_EQ_STR(lg_strerror(12345), "unknown error");
}

/* Whether `addr` (IPv4 or IPv6 text) is in the list. */
static bool in_list(const struct lg_netlist *l, const char *addr) {
  struct sockaddr_in v4 = {.sin_family = AF_INET};
  struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
  if (inet_pton(AF_INET, addr, &v4.sin_addr) == 1)
    return lg_netlist_has(l, (const struct sockaddr *)&v4);
  if (inet_pton(AF_INET6, addr, &v6.sin6_addr) == 1)
    return lg_netlist_has(l, (const struct sockaddr *)&v6);
  return false;
}

static void test_netlist(void) {
  struct lg_netlist l;
  char why[128];
  LG_EQ_INT(lg_netlist_parse("10.0.0.0/8, 192.168.1.0/24,::1/128 , 2001:db8::/33", &l, why,
                             sizeof(why)),
            0);
  LG_EQ_INT(l.n, 4);
  LG_CHECK(in_list(&l, "10.255.3.4"));
  LG_CHECK(!in_list(&l, "11.0.0.1"));
  LG_CHECK(in_list(&l, "192.168.1.200"));
  LG_CHECK(!in_list(&l, "192.168.2.1"));
  LG_CHECK(in_list(&l, "::1"));
  LG_CHECK(!in_list(&l, "::2"));
  LG_CHECK(in_list(&l, "2001:db8:7fff::1"));  /* bit 33 is 0 */
  LG_CHECK(!in_list(&l, "2001:db8:8000::1")); /* bit 33 is 1 */
  LG_CHECK(in_list(&l, "::ffff:10.1.2.3"));   /* an IPv4 peer on a dual-stack socket */
  LG_CHECK(!in_list(&l, "::ffff:11.1.2.3"));
  LG_EQ_INT(lg_netlist_parse("127.0.0.1", &l, why, sizeof(why)), 0); /* a bare host: /32 */
  LG_CHECK(in_list(&l, "127.0.0.1") && !in_list(&l, "127.0.0.2"));
  LG_EQ_INT(lg_netlist_parse("0.0.0.0/0", &l, why, sizeof(why)), 0);
  LG_CHECK(in_list(&l, "8.8.8.8") && !in_list(&l, "::1"));
  LG_EQ_INT(lg_netlist_parse("", &l, why, sizeof(why)), 0);
  LG_EQ_INT(l.n, 0);
  static const char *const bad[] = {"10.0.0.1/8", "10.0.0/8", "10.0.0.0/33", "::1/129",
                                    "10.0.0.0/", "10.0.0.0/8,,", "host.example", "10.0.0.0/-1"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    why[0] = '\0';
    LG_EQ_INT(lg_netlist_parse(bad[i], &l, why, sizeof(why)), LG_EINVAL);
    LG_CHECK(strstr(why, "is no network") != NULL);
  }
}

/* RFC 3339 from ns since the epoch: the digits asked for, before 1970, a buffer too small */
static void test_rfc3339(void) {
  char b[48];
  LG_EQ_INT((int)lg_rfc3339(0, 9, b, sizeof(b)), 30);
  LG_EQ_STR(b, "1970-01-01T00:00:00.000000000Z");
  lg_rfc3339(1796624720718123456LL, 3, b, sizeof(b));
  LG_EQ_STR(b, "2026-12-07T06:25:20.718Z");
  lg_rfc3339(1796624720718123456LL, 6, b, sizeof(b));
  LG_EQ_STR(b, "2026-12-07T06:25:20.718123Z");
  lg_rfc3339(1796624720718123456LL, 9, b, sizeof(b));
  LG_EQ_STR(b, "2026-12-07T06:25:20.718123456Z");
  lg_rfc3339(-1, 9, b, sizeof(b)); /* one ns before the epoch */
  LG_EQ_STR(b, "1969-12-31T23:59:59.999999999Z");
  LG_EQ_INT((int)lg_rfc3339(0, 9, b, 20), 0); /* does not fit: an empty string */
  LG_EQ_STR(b, "");
  strcpy(b, "x");
  LG_EQ_INT((int)lg_rfc3339(INT64_MAX, 9, b, sizeof(b)), 30); /* year 2262, still fine */
  LG_EQ_STR(b, "2262-04-11T23:47:16.854775807Z");
}

int main(void) {
  test_rfc3339();
  test_netlist();
  test_hex();
  test_le();
  test_strerror();
  return lg_test_report("test_util");
}
