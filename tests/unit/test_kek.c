/*
 * store/kek: AES key wrap against RFC 3394's own test vectors (4.1: 128 bits of key data
 * under a 128-bit KEK; 4.3: the same under a 256-bit KEK);
 * a wrapped key read back under another KEK fails its integrity check; and the store:
 * keys put in clear, then wrapped by lg_store_wrap_keys, and keys put wrapped all read back
 * as themselves, each in its own column.
 */
#include <stdlib.h>
#include <unistd.h>

#include "lg_test.h"
#include "store/kek.h"
#include "store/store.h"

static void test_rfc3394(void) {
  struct lg_kek k = {.len = 16};
  for (int i = 0; i < 16; i++)
    k.key[i] = (uint8_t)i; /* 000102...0F */
  static const uint8_t data[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                                   0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
  char w[LG_KEK_WRAPPED_LEN];
  LG_EQ_INT(lg_kek_wrap(&k, data, w), 0);
  LG_EQ_STR(w, "w1:1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5"); /* RFC 3394 4.1 */
  struct lg_kek k256 = {.len = 32};
  for (int i = 0; i < 32; i++)
    k256.key[i] = (uint8_t)i;
  LG_EQ_INT(lg_kek_wrap(&k256, data, w), 0);
  LG_EQ_STR(w, "w1:64e8c3f9ce0f5ba263e9777905818a2a93c8191e7d6e8ae7"); /* RFC 3394 4.3 */
  uint8_t back[16];
  LG_EQ_INT(lg_kek_unwrap(&k256, w, back), 0);
  LG_CHECK(memcmp(back, data, 16) == 0);
  LG_EQ_INT(lg_kek_unwrap(&k, w, back), LG_ECRYPTO); /* another KEK: the check fails */
  LG_EQ_INT(lg_kek_unwrap(NULL, w, back), LG_ENOTFOUND);
  LG_EQ_INT(lg_kek_unwrap(&k, "0011", back), LG_EINVAL);
}

static void test_store(void) {
  char dir[] = "/tmp/test_kek_XXXXXX", path[64];
  LG_CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof(path), "%s/k.db", dir);
  struct lg_store *s = NULL;
  char why[256];
  LG_EQ_INT(lg_store_open(&s, path, why, sizeof(why)), 0);
  struct lg_device_rec abp = {.dev_eui = 1, .has_session = true, .dev_addr = 0x26011f00,
                              .nb_trans = 1};
  for (int i = 0; i < 16; i++) {
    abp.nwk_s_key[i] = (uint8_t)(0x10 + i);
    abp.app_s_key[i] = (uint8_t)(0x80 + i);
  }
  LG_EQ_INT(lg_store_device_put(s, &abp), 0); /* in clear: no KEK yet */
  LG_EQ_INT(lg_store_kek_required(s), 0);
  struct lg_kek k = {.len = 32};
  for (int i = 0; i < 32; i++)
    k.key[i] = (uint8_t)(7 * i + 1);
  LG_EQ_INT(lg_store_use_kek(s, &k, why, sizeof(why)), 0);
  size_t n = 0;
  LG_EQ_INT(lg_store_wrap_keys(s, &n), 0);
  LG_EQ_INT(n, 1);
  struct lg_device_rec otaa = {.dev_eui = 2, .otaa = true, .join_eui = 3, .nb_trans = 1};
  for (int i = 0; i < 16; i++)
    otaa.app_key[i] = (uint8_t)(0xc0 + i);
  LG_EQ_INT(lg_store_device_put(s, &otaa), 0); /* wrapped on the way in */
  struct lg_device_rec got;
  LG_EQ_INT(lg_store_device_get(s, 1, &got), 0);
  LG_CHECK(memcmp(got.nwk_s_key, abp.nwk_s_key, 16) == 0);
  LG_CHECK(memcmp(got.app_s_key, abp.app_s_key, 16) == 0);
  LG_EQ_INT(lg_store_device_get(s, 2, &got), 0);
  LG_CHECK(memcmp(got.app_key, otaa.app_key, 16) == 0);
  LG_EQ_INT(lg_store_kek_required(s), 1);
  lg_store_close(s);
  /* reopened with another KEK: refused; without one: the keys do not read */
  LG_EQ_INT(lg_store_open(&s, path, why, sizeof(why)), 0);
  struct lg_kek other = k;
  other.key[0] ^= 1;
  LG_EQ_INT(lg_store_use_kek(s, &other, why, sizeof(why)), LG_ECRYPTO);
  LG_EQ_INT(lg_store_device_get(s, 1, &got), LG_ECRYPTO);
  LG_CHECK(strstr(lg_store_errmsg(s), "no key-encryption key") != NULL);
  lg_store_close(s);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  LG_EQ_INT(system(cmd), 0);
}

int main(void) {
  test_rfc3394();
  test_store();
  return lg_test_report("test_kek");
}
