/* util: hex conversion bounds and little-endian helpers. */
#include "lg_test.h"
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

int main(void) {
  test_hex();
  test_le();
  test_strerror();
  return lg_test_report("test_util");
}
