/* Base64 (RFC 4648, padded) through OpenSSL's EVP block codec. */
#include <openssl/evp.h>
#include <string.h>

#include "util/util.h"

int lg_base64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *n) {
  if (len % 4 != 0) return LG_EINVAL;
  uint8_t tmp[4 * 86 + 4];
  if (len / 4 * 3 > sizeof(tmp)) return LG_ETOOLONG;
  int m = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)len);
  if (m < 0) return LG_EINVAL;
  size_t pad = (size_t)(len > 0 && s[len - 1] == '=') + (size_t)(len > 1 && s[len - 2] == '=');
  if ((size_t)m < pad) return LG_EINVAL;
  size_t bytes = (size_t)m - pad;
  if (bytes > cap) return LG_ETOOLONG;
  memcpy(out, tmp, bytes);
  *n = bytes;
  return 0;
}
